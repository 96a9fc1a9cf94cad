//! The seam: the small crate-internal API that everything outside `runtime/` is built on.
//!
//! A blocking primitive needs four things from the scheduler, and gets them here:
//! - [`CurrentTask`], the task being polled, obtained only from the poll's `Context` (which
//!   proves that the scoro runtime is polling it): is it cancelled, park it, yield, and
//! - [`Unparker`], a copyable O(1) handle that makes a parked task runnable again from the
//!   runtime's own thread (a waker for foreign code is [`CurrentTask::remote_waker`]; other
//!   threads use [`RemoteUnparker`], through `lowlevel::Wakeup` or directly).
//!
//! Nothing here allocates or uses atomics on the path of a wait. The generic wait that
//! implements Trio's checkpoint shape on top of this is `crate::wait`.

use super::context;
use super::core::{ScopeExit, TaskRef};
use super::shared::{self, Shared};
use super::task;
use crate::cancel::CancelRequested;
use crate::cancel::status::{NodeSettings, StatusId};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

/// The time of the runtime's clock (the mock clock's under `MockClock`), for the runtime
/// running on this thread.
///
/// # Panics
/// Outside a running scoro runtime.
pub(crate) fn now() -> Instant {
    context::with_core(|core| core.now())
}

/// The task being polled right now, proven by the poll's `Context`. `Copy`, and meaningful only
/// for the length of that poll.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CurrentTask {
    index: u32,
}

impl CurrentTask {
    /// The task polled with `cx`.
    ///
    /// # Panics
    /// When `cx` is not the context the scoro runtime polls its current task with (the future
    /// was polled by hand or by another executor), with a message that says what to do.
    #[inline]
    pub(crate) fn of(cx: &Context<'_>) -> CurrentTask {
        CurrentTask {
            index: task::verify(cx),
        }
    }

    /// The task being polled on this thread, if any, for the few calls that have no `Context`
    /// (`current_task()`, deadlines queried from a synchronous function).
    #[inline]
    pub(crate) fn running() -> Option<CurrentTask> {
        let index = context::current_task_index();
        (index != context::NO_TASK).then_some(CurrentTask { index })
    }

    /// The cancellation this task should see at a checkpoint now, if any.
    #[inline]
    pub(crate) fn cancelled(self) -> Option<CancelRequested> {
        context::with_core(|core| core.check_cancel(self.index))
    }

    /// Parks the task where cancellation reaches it: the poll must return `Pending` next, and
    /// the task is polled again when an [`Unparker`] is used or a scope it is in is cancelled.
    #[inline]
    pub(crate) fn park(self) {
        context::with_core(|core| core.block_cancellable(self.index));
    }

    /// Asks to be polled again in the runtime's next batch (the poll must return `Pending`).
    #[inline]
    pub(crate) fn yield_now(self) {
        context::with_core(|core| core.yield_now(self.index));
    }

    /// The earliest deadline that applies to this task: `None` if none does, a time at or
    /// before now if the task is already cancelled.
    pub(crate) fn effective_deadline(self) -> Option<Instant> {
        context::with_core(|core| core.effective_deadline(self.index))
    }

    /// Enters a new innermost cancel scope of this task with `settings`, and a deadline
    /// `timeout` from now if given (see `Core::enter_scope`).
    pub(crate) fn enter_scope(self, settings: NodeSettings, timeout: Option<Duration>) -> StatusId {
        context::with_core(|core| core.enter_scope(self.index, settings, timeout))
    }

    /// Leaves the scope `id` this task entered, saying whether the scope was cancelled and
    /// whether it catches that cancellation (no enclosing one is visible).
    pub(crate) fn exit_scope(self, id: StatusId) -> ScopeExit {
        context::with_core(|core| core.exit_scope(self.index, id))
    }

    /// Leaves the scope `id` of a call that was dropped before it finished (nothing to leave
    /// when the run is over).
    pub(crate) fn abandon_scope(self, id: StatusId) {
        context::try_with_core(|core| core.abandon_scope(self.index, id));
    }

    /// The handle that unparks this task.
    #[inline]
    pub(crate) fn unparker(self) -> Unparker {
        Unparker(context::with_core(|core| core.task_ref(self.index)))
    }

    /// A waker for this task that foreign code may keep, clone and use from any thread.
    pub(crate) fn remote_waker(self) -> Waker {
        context::with_core(|core| core.remote_waker(self.index))
    }
}

/// Makes one parked task runnable again. `Copy`; unparking a task that already runs, has
/// finished, or belongs to another run does nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Unparker(pub(super) TaskRef);

impl Unparker {
    /// Makes the task runnable, if this thread is running its runtime (a parked task can only
    /// exist inside one; from a destructor after the run, there is nothing to wake).
    #[inline]
    pub(crate) fn unpark(self) {
        context::try_with_core(|core| core.wake(self.0));
    }

    /// The handle that unparks the same task from any thread.
    ///
    /// # Panics
    /// Outside a running scoro runtime.
    pub(crate) fn remote(self) -> RemoteUnparker {
        RemoteUnparker {
            shared: context::with_core(|core| core.shared.clone()),
            task: self.0,
        }
    }

    /// A handle to task `index` of no run, for unit tests of queues.
    #[cfg(test)]
    pub(crate) fn fake(index: u32) -> Unparker {
        Unparker(TaskRef {
            index,
            generation: 0,
            run: 0,
        })
    }
}

/// Makes one parked task runnable again from any thread: directly on the runtime's own thread,
/// through the runtime's injection queue from elsewhere (a finished run ignores it). Costs an
/// `Arc` clone to make; use [`Unparker`] on the runtime's thread.
#[derive(Clone)]
pub(crate) struct RemoteUnparker {
    shared: Arc<Shared>,
    task: TaskRef,
}

impl RemoteUnparker {
    /// Makes the task runnable.
    pub(crate) fn unpark(&self) {
        shared::wake_task(&self.shared, self.task);
    }
}
