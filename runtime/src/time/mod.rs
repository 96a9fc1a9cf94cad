//! Checkpoints, sleeping and the runtime clock.
//!
//! Invariants:
//! - `checkpoint` is a cancel point and a schedule point: it returns the cancellation if the
//!   task's scope is cancelled (deadlines included), otherwise it yields once and looks again,
//!   so a deadline that passed while the task was runnable is seen. It is the one call that
//!   looks at cancellation after its yield: it has no operation whose result could be lost
//!   (every other call follows the rule of `crate::wait`).
//! - `sleep_until(t)` is a cancel scope with deadline `t` around a wait that only cancellation
//!   ends: it returns `Ok(())` when its own deadline ended it, and the enclosing cancellation
//!   otherwise. Like every blocking call it checks for cancellation first and yields at least
//!   once.

use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::scopes::{NodeSettings, ScopeKind, StatusId};
use crate::runtime::seam::{self, CurrentTask, Waiting};
use crate::wait::{Aborted, Step, Wait, WaitCall};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

mod interval;

pub use interval::{Interval, IntervalError, MissedTicks, interval, interval_at};

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
        let task = CurrentTask::of(cx);
        if self.yielded {
            return Poll::Ready(match task.cancelled() {
                Some(c) => Err(c),
                None => Ok(()),
            });
        }
        match task.cancelled_or_yield() {
            Some(c) => Poll::Ready(Err(c)),
            None => {
                self.yielded = true;
                Poll::Pending
            }
        }
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
        Poll::Ready(match CurrentTask::of(cx).cancelled() {
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
        WaitCall::new(Sleep {
            target: Target::After(d),
            waiting: Waiting::Sleep,
        }),
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
        WaitCall::new(Sleep {
            target: Target::At(deadline),
            waiting: Waiting::SleepUntil,
        }),
        "scoro",
        "sleep_until",
    )
}

/// Sleeps until the task is cancelled; the only way out is `Err(CancelRequested)`.
pub fn sleep_forever() -> CoroutineCall<impl Future<Output = Result<Infallible, CancelRequested>>> {
    CoroutineCall::internal(WaitCall::new(SleepForever), "scoro", "sleep_forever")
}

/// A sleep until `deadline` that the task tree names `waiting` (for the calls built on
/// [`sleep_until`] that name themselves); `None` waits for cancellation only.
fn sleep_as(
    deadline: Option<Instant>,
    waiting: Waiting,
) -> impl Future<Output = Result<(), CancelRequested>> {
    WaitCall::new(Sleep {
        target: deadline.map_or(Target::Never, Target::At),
        waiting,
    })
}

#[derive(Clone, Copy)]
enum Target {
    After(Duration),
    At(Instant),
    /// No deadline: only an enclosing cancellation ends the sleep.
    Never,
}

/// A sleep: a cancel scope with the sleep's deadline around a wait that only cancellation ends.
struct Sleep {
    target: Target,
    /// The public call, for the task tree.
    waiting: Waiting,
}

impl Wait for Sleep {
    type Output = Result<(), CancelRequested>;
    type Parked = (CurrentTask, StatusId);

    fn waiting(&self) -> Waiting {
        self.waiting
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, Self::Parked> {
        let (deadline, timeout) = match self.target {
            Target::At(t) if t <= seam::now() => return Step::Done(Ok(())),
            Target::After(d) if d.is_zero() => return Step::Done(Ok(())),
            Target::At(t) => (Some(t), None),
            Target::After(d) => (None, Some(d)),
            Target::Never => (None, None),
        };
        let settings = NodeSettings {
            deadline,
            kind: ScopeKind::Sleep,
            ..NodeSettings::default()
        };
        Step::Park((task, task.enter_scope(settings, timeout)))
    }

    fn woken(self: Pin<&mut Self>, parked: Self::Parked) -> Step<Self::Output, Self::Parked> {
        // Nothing is ever handed to a sleep: only a cancellation ends it.
        Step::Park(parked)
    }

    fn abort(
        self: Pin<&mut Self>,
        (task, status): Self::Parked,
        _: CancelRequested,
    ) -> Aborted<Self::Output, Self::Parked> {
        if task.exit_scope(status).catches {
            Aborted::Left(Ok(()))
        } else {
            Aborted::Left(Err(task
                .cancelled()
                .expect("an enclosing scope is cancelled")))
        }
    }

    fn abandon(self: Pin<&mut Self>, (task, status): Self::Parked) {
        task.abandon_scope(status);
    }
}

/// [`sleep_forever`]: a wait that only cancellation ends.
struct SleepForever;

impl Wait for SleepForever {
    type Output = Result<Infallible, CancelRequested>;
    type Parked = ();

    fn waiting(&self) -> Waiting {
        Waiting::SleepForever
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(self: Pin<&mut Self>, _: CurrentTask) -> Step<Self::Output, ()> {
        Step::Park(())
    }

    fn woken(self: Pin<&mut Self>, (): ()) -> Step<Self::Output, ()> {
        Step::Park(())
    }

    fn abort(self: Pin<&mut Self>, (): (), cancel: CancelRequested) -> Aborted<Self::Output, ()> {
        Aborted::Left(Err(cancel))
    }

    fn abandon(self: Pin<&mut Self>, (): ()) {}
}

/// The current time of the runtime's clock (the mock clock under [`testing::MockClock`](crate::testing::MockClock)).
///
/// # Panics
/// Outside a running scoro runtime.
pub fn current_time() -> Instant {
    seam::now()
}

/// The earliest deadline that applies to the current task: `None` if none does, and a time
/// at or before now if the task is already cancelled.
///
/// # Panics
/// Outside a task of a running scoro runtime.
pub fn current_effective_deadline() -> Option<Instant> {
    match CurrentTask::running() {
        Some(task) => task.effective_deadline(),
        None => panic!("`current_effective_deadline` must be called from a scoro task"),
    }
}
