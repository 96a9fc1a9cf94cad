//! Checkpoints, sleeping and the runtime clock.
//!
//! Invariants:
//! - `checkpoint` is a cancel point and a schedule point: it returns the cancellation if the
//!   task's scope is cancelled (deadlines included), otherwise it yields once and looks again,
//!   so a deadline that passed while the task was runnable is seen.
//! - `sleep_until(t)` is a cancel scope with deadline `t` around a wait that only cancellation
//!   ends: it returns `Ok(())` when its own deadline ended it, and the enclosing cancellation
//!   otherwise. Like every blocking call it checks for cancellation first and yields at least
//!   once.

pub(crate) mod clock;

use crate::CoroutineCall;
use crate::cancel::CancelRequested;
use crate::cancel::status::{NodeSettings, StatusId};
use crate::runtime::context;
use crate::runtime::task;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Gives other tasks a turn, and returns `Err(CancelRequested)` if this task's scope has been
/// cancelled.
///
/// Long computations that do not otherwise block should call it now and then, so that they
/// share the thread and notice cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn count() -> Result<u64, scoro::CancelRequested> {
///     let mut sum = 0;
///     for i in 0..1000 {
///         sum += i;
///         if i % 100 == 0 {
///             scoro::checkpoint().await?;
///         }
///     }
///     Ok(sum)
/// }
/// assert_eq!(scoro::run(count()).unwrap(), 499_500);
/// ```
pub fn checkpoint() -> CoroutineCall<impl Future<Output = Result<(), CancelRequested>>> {
    CoroutineCall::internal(Checkpoint { yielded: false }, "scoro", "checkpoint")
}

struct Checkpoint {
    yielded: bool,
}

impl Future for Checkpoint {
    type Output = Result<(), CancelRequested>;
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = task::verify(cx);
        context::with_core(|core| {
            if let Some(c) = core.check_cancel(task) {
                return Poll::Ready(Err(c));
            }
            if self.yielded {
                Poll::Ready(Ok(()))
            } else {
                self.yielded = true;
                core.yield_now(task);
                Poll::Pending
            }
        })
    }
}

/// Returns `Err(CancelRequested)` if this task's scope has been cancelled; otherwise returns at
/// once without yielding.
pub fn checkpoint_if_cancelled() -> CoroutineCall<impl Future<Output = Result<(), CancelRequested>>>
{
    CoroutineCall::internal(CheckpointIfCancelled, "scoro", "checkpoint_if_cancelled")
}

struct CheckpointIfCancelled;

impl Future for CheckpointIfCancelled {
    type Output = Result<(), CancelRequested>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = task::verify(cx);
        Poll::Ready(match context::with_core(|core| core.check_cancel(task)) {
            Some(c) => Err(c),
            None => Ok(()),
        })
    }
}

/// Sleeps for `d` (measured on the runtime clock). `sleep(Duration::ZERO)` is a checkpoint.
///
/// Returns `Err(CancelRequested)` if the task is cancelled first.
pub fn sleep(d: Duration) -> CoroutineCall<impl Future<Output = Result<(), CancelRequested>>> {
    CoroutineCall::internal(
        Sleep {
            target: Target::After(d),
            state: SleepState::Init,
        },
        "scoro",
        "sleep",
    )
}

/// Sleeps until `deadline` (a time of the runtime clock, see [`current_time`]). A deadline in
/// the past makes it a checkpoint.
pub fn sleep_until(
    deadline: Instant,
) -> CoroutineCall<impl Future<Output = Result<(), CancelRequested>>> {
    CoroutineCall::internal(
        Sleep {
            target: Target::At(deadline),
            state: SleepState::Init,
        },
        "scoro",
        "sleep_until",
    )
}

/// Sleeps until the task is cancelled; the only way out is `Err(CancelRequested)`.
pub fn sleep_forever() -> CoroutineCall<impl Future<Output = Result<Infallible, CancelRequested>>> {
    CoroutineCall::internal(SleepForever, "scoro", "sleep_forever")
}

#[derive(Clone, Copy)]
enum Target {
    After(Duration),
    At(Instant),
}

enum SleepState {
    Init,
    Yielded,
    Sleeping { task: u32, status: StatusId },
    Done,
}

struct Sleep {
    target: Target,
    state: SleepState,
}

impl Future for Sleep {
    type Output = Result<(), CancelRequested>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = task::verify(cx);
        context::with_core(|core| match self.state {
            SleepState::Init => {
                if let Some(c) = core.check_cancel(task) {
                    self.state = SleepState::Done;
                    return Poll::Ready(Err(c));
                }
                let (deadline, timeout) = match self.target {
                    Target::At(t) => (Some(t), None),
                    Target::After(d) => (None, Some(d)),
                };
                let due = match (deadline, timeout) {
                    (Some(t), _) => t <= core.now(),
                    (None, Some(d)) => d.is_zero(),
                    (None, None) => false,
                };
                if due {
                    self.state = SleepState::Yielded;
                    core.yield_now(task);
                } else {
                    let status = core.enter_scope(
                        task,
                        NodeSettings {
                            deadline,
                            ..NodeSettings::default()
                        },
                        timeout,
                    );
                    core.block_cancellable(task);
                    self.state = SleepState::Sleeping { task, status };
                }
                Poll::Pending
            }
            SleepState::Yielded => {
                self.state = SleepState::Done;
                Poll::Ready(match core.check_cancel(task) {
                    Some(c) => Err(c),
                    None => Ok(()),
                })
            }
            SleepState::Sleeping { task, status } => {
                if core.check_cancel(task).is_none() {
                    core.block_cancellable(task);
                    return Poll::Pending;
                }
                self.state = SleepState::Done;
                let exit = core.exit_scope(task, status);
                if exit.catches {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(core
                        .check_cancel(task)
                        .expect("an enclosing scope is cancelled")))
                }
            }
            SleepState::Done => panic!("`sleep` polled after it finished"),
        })
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let SleepState::Sleeping { task, status } = self.state {
            context::try_with_core(|core| core.abandon_scope(task, status));
        }
    }
}

struct SleepForever;

impl Future for SleepForever {
    type Output = Result<Infallible, CancelRequested>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = task::verify(cx);
        context::with_core(|core| {
            if let Some(c) = core.check_cancel(task) {
                return Poll::Ready(Err(c));
            }
            core.block_cancellable(task);
            Poll::Pending
        })
    }
}

/// The current time of the runtime's clock (the mock clock under [`testing::MockClock`](crate::testing::MockClock)).
///
/// # Panics
/// Outside a running scoro runtime.
pub fn current_time() -> Instant {
    context::with_core(|core| core.now())
}

/// The earliest deadline that applies to the current task: `None` if none does, and a time
/// at or before now if the task is already cancelled.
///
/// # Panics
/// Outside a task of a running scoro runtime.
pub fn current_effective_deadline() -> Option<Instant> {
    let task = context::current_task_index();
    if task == context::NO_TASK {
        panic!("`current_effective_deadline` must be called from a scoro task");
    }
    context::with_core(|core| core.effective_deadline(task))
}
