//! Tools for testing concurrent code: a mock clock and a way to wait until everything else is
//! blocked.
//!
//! Run a test on a mock clock with `#[scoro::test(autojump)]`, or build a runtime with
//! [`Builder::clock`](crate::Builder::clock).

use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::{CurrentTask, Waiting};
use crate::wait::{Aborted, Step, Wait, WaitCall};
use std::future::Future;
use std::pin::Pin;

pub use crate::runtime::seam::MockClock;

/// Waits until every other task of the runtime is blocked (none is runnable, no I/O is
/// ready, and no function that the runtime started on a worker thread is still running),
/// then returns. Lets a test run "everything that can happen now" before it looks.
///
/// A task waiting for a [`to_thread`](crate::to_thread) call does not count as blocked: its
/// worker will wake it. That includes an abandoned
/// [`run_sync_abandon`](crate::to_thread::run_sync_abandon) call until its function returns.
///
/// With several waiters, all wake together. Under a mock clock with autojump, this wakes
/// before the clock jumps. Cancellable: returns `Err(CancelRequested)` if cancelled.
///
/// ```
/// use std::cell::Cell;
/// use scoro::{structured, nursery, testing::wait_all_tasks_blocked, CancelRequested};
///
/// #[structured]
/// async fn bump(c: &Cell<u32>) {
///     c.set(c.get() + 1);
/// }
///
/// #[structured]
/// async fn main_task() -> Result<u32, scoro::ErrorGroup<CancelRequested>> {
///     let c = Cell::new(0);
///     nursery(async |n| -> Result<u32, CancelRequested> {
///         n.start_soon(bump(&c));
///         n.start_soon(bump(&c));
///         wait_all_tasks_blocked().await?;
///         Ok(c.get())
///     })
///     .await
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), 2);
/// ```
pub fn wait_all_tasks_blocked() -> CoroutineCall<impl Future<Output = Result<(), CancelRequested>>>
{
    CoroutineCall::internal(
        WaitCall::new(WaitAllBlocked),
        "scoro::testing",
        "wait_all_tasks_blocked",
    )
}

/// A [`wait_all_tasks_blocked`] call.
struct WaitAllBlocked;

impl Wait for WaitAllBlocked {
    type Output = Result<(), CancelRequested>;
    type Parked = CurrentTask;

    fn waiting(&self) -> Waiting {
        Waiting::WaitAllTasksBlocked
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, CurrentTask> {
        task.wait_until_all_blocked();
        Step::Park(task)
    }

    fn woken(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, CurrentTask> {
        if !task.stop_waiting_until_all_blocked() {
            // The run loop took us off the list: everything else is blocked.
            return Step::Done(Ok(()));
        }
        task.wait_until_all_blocked();
        Step::Park(task)
    }

    fn abort(
        self: Pin<&mut Self>,
        task: CurrentTask,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, CurrentTask> {
        task.stop_waiting_until_all_blocked();
        Aborted::Left(Err(cancel))
    }

    fn abandon(self: Pin<&mut Self>, task: CurrentTask) {
        task.stop_waiting_until_all_blocked();
    }
}
