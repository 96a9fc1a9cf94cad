//! Tools for testing concurrent code: a mock clock and a way to wait until everything else is
//! blocked.
//!
//! Run a test on a mock clock with `#[scoro::test(autojump)]`, or build a runtime with
//! [`Builder::clock`](crate::Builder::clock).

use crate::CoroutineCall;
use crate::cancel::CancelRequested;
use crate::runtime::context;
use crate::runtime::task;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use crate::time::clock::MockClock;

/// Waits until every other task of the runtime is blocked (none is runnable and no I/O is
/// ready), then returns. Lets a test run "everything that can happen now" before it looks.
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
        WaitAllBlocked { registered: false },
        "scoro::testing",
        "wait_all_tasks_blocked",
    )
}

struct WaitAllBlocked {
    registered: bool,
}

impl Future for WaitAllBlocked {
    type Output = Result<(), CancelRequested>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = task::verify(cx);
        context::with_core(|core| {
            if !self.registered {
                if let Some(c) = core.check_cancel(task) {
                    return Poll::Ready(Err(c));
                }
                core.add_idle_waiter(task);
                core.block_cancellable(task);
                self.registered = true;
                return Poll::Pending;
            }
            if !core.remove_idle_waiter(task) {
                // The run loop took us off the list: everything else is blocked.
                self.registered = false;
                return Poll::Ready(Ok(()));
            }
            if let Some(c) = core.check_cancel(task) {
                self.registered = false;
                return Poll::Ready(Err(c));
            }
            core.add_idle_waiter(task);
            core.block_cancellable(task);
            Poll::Pending
        })
    }
}

impl Drop for WaitAllBlocked {
    fn drop(&mut self) {
        if self.registered {
            let index = context::current_task_index();
            if index != context::NO_TASK {
                context::try_with_core(|core| core.remove_idle_waiter(index));
            }
        }
    }
}
