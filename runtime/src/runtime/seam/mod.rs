//! The seam: the small crate-internal API that everything outside `runtime/` is built on.
//!
//! A blocking primitive needs four things from the scheduler, and gets them here:
//! - [`CurrentTask`], the task being polled, obtained only from the poll's `Context` (which
//!   proves that the scoro runtime is polling it): is it cancelled, park it, yield, and
//! - [`TaskRef`], a copyable O(1) handle that makes a parked task runnable again from the
//!   runtime's own thread (a waker for foreign code is [`CurrentTask::remote_waker`]; other
//!   threads use [`RemoteUnparker`], through `lowlevel::Wakeup` or directly).
//!
//! Nothing here allocates or uses atomics on the path of a wait. The generic wait that
//! implements Trio's checkpoint shape on top of this is `crate::wait`.

pub(crate) mod io;
pub(crate) mod scopes;
pub(crate) mod signals;
pub(crate) mod spawn;

use self::scopes::{NodeSettings, ScopeExit, StatusId};
use super::context;
use super::core::{try_with_core, with_core};
use super::ids::NO_TASK;
use super::shared::Shared;
use super::task;
use crate::cancellation::CancelRequested;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

/// The mock clock, public as `scoro::testing::MockClock`.
pub use super::clock::MockClock;
pub(crate) use super::context::leave_task;
use super::ids::TaskInfo;
pub(crate) use super::ids::TaskRef;
use super::metrics::Metrics;
#[cfg(feature = "tracing")]
pub(crate) use super::trace::{nursery_error, nursery_panic};
use super::tree::TaskTree;
pub(crate) use super::waiting::Waiting;

/// The time of the runtime's clock (the mock clock's under `MockClock`), for the runtime
/// running on this thread.
///
/// # Panics
/// Outside a running scoro runtime.
pub(crate) fn now() -> Instant {
    with_core(|core| core.now())
}

/// Like [`now`], or `None` outside a running scoro runtime.
pub(crate) fn try_now() -> Option<Instant> {
    try_with_core(|core| core.now())
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
        (index != NO_TASK).then_some(CurrentTask { index })
    }

    /// The cancellation this task should see at a checkpoint now, if any.
    #[inline]
    pub(crate) fn cancelled(self) -> Option<CancelRequested> {
        with_core(|core| core.check_cancel(self.index))
    }

    /// A checkpoint's first half in one step: the cancellation this task should see now, or
    /// else a request to be polled again in the next batch (the poll must then return
    /// `Pending`).
    #[inline]
    pub(crate) fn cancelled_or_yield(self) -> Option<CancelRequested> {
        with_core(|core| {
            let cancel = core.check_cancel(self.index);
            if cancel.is_none() {
                core.yield_now(self.index);
            }
            cancel
        })
    }

    /// Parks the task where cancellation reaches it: the poll must return `Pending` next, and
    /// the task is polled again when its [`TaskRef`] is unparked or a scope it is in is cancelled.
    /// `waiting` names the scoro call it parks in, for the task tree.
    #[inline]
    pub(crate) fn park(self, waiting: Waiting) {
        with_core(|core| core.block_cancellable(self.index, waiting));
    }

    /// Names the scoro call the task is about to wait in where cancellation does not reach it
    /// (a wait that is not a [`park`](Self::park)), for the task tree.
    #[inline]
    pub(crate) fn note_waiting(self, waiting: Waiting) {
        with_core(|core| core.note_waiting(self.index, waiting));
    }

    /// Asks to be polled again in the runtime's next batch (the poll must return `Pending`).
    #[inline]
    pub(crate) fn yield_now(self) {
        with_core(|core| core.yield_now(self.index));
    }

    /// The earliest deadline that applies to this task: `None` if none does, a time at or
    /// before now if the task is already cancelled.
    pub(crate) fn effective_deadline(self) -> Option<Instant> {
        with_core(|core| core.effective_deadline(self.index))
    }

    /// The innermost cancel scope this task is in.
    #[inline]
    pub(crate) fn cancel_scope(self) -> StatusId {
        with_core(|core| core.task_cancel_status(self.index))
    }

    /// The task's id, name, parent and start location.
    pub(crate) fn info(self) -> TaskInfo {
        with_core(|core| core.task_info(self.index))
    }

    /// Enters a new innermost cancel scope of this task with `settings`, and a deadline
    /// `timeout` from now if given (see `Core::enter_scope`).
    #[inline]
    pub(crate) fn enter_scope(self, settings: NodeSettings, timeout: Option<Duration>) -> StatusId {
        with_core(|core| core.enter_scope(self.index, settings, timeout))
    }

    /// Leaves the scope `id` this task entered, saying whether the scope was cancelled and
    /// whether it catches that cancellation (no enclosing one is visible).
    #[inline]
    pub(crate) fn exit_scope(self, id: StatusId) -> ScopeExit {
        with_core(|core| core.exit_scope(self.index, id))
    }

    /// Leaves the scope `id` of a call that was dropped before it finished (nothing to leave
    /// when the run is over).
    #[inline]
    pub(crate) fn abandon_scope(self, id: StatusId) {
        try_with_core(|core| core.abandon_scope(self.index, id));
    }

    /// Puts this task on the list of tasks that the run loop wakes once every other task is
    /// blocked (`testing::wait_all_tasks_blocked`).
    pub(crate) fn wait_until_all_blocked(self) {
        with_core(|core| core.add_idle_waiter(self.index));
    }

    /// Takes this task off that list; returns `false` if the run loop already took it off
    /// (everything else was blocked).
    pub(crate) fn stop_waiting_until_all_blocked(self) -> bool {
        try_with_core(|core| core.remove_idle_waiter(self.index)) == Some(true)
    }

    /// The handle that unparks this task.
    #[inline]
    pub(crate) fn task_ref(self) -> TaskRef {
        with_core(|core| core.task_ref(self.index))
    }

    /// A waker for this task that foreign code may keep, clone and use from any thread.
    pub(crate) fn remote_waker(self) -> Waker {
        with_core(|core| core.remote_waker(self.index))
    }
}

impl TaskRef {
    /// Makes the task runnable, if this thread is running its runtime (a parked task can only
    /// exist inside one; from a destructor after the run there is nothing to wake). Unparking
    /// a task that already runs, has finished, or belongs to another run does nothing.
    #[inline]
    pub(crate) fn unpark(self) {
        try_with_core(|core| core.wake(self));
    }

    /// Does the task belong to the run going on on this thread? (It may have finished.)
    pub(crate) fn is_in_this_run(self) -> bool {
        try_with_core(|core| core.owns(self)) == Some(true)
    }

    /// The handle that unparks the same task from any thread.
    ///
    /// # Panics
    /// Outside a running scoro runtime.
    pub(crate) fn remote(self) -> RemoteUnparker {
        RemoteUnparker {
            shared: with_core(|core| core.shared.clone()),
            task: self,
        }
    }

    /// A handle to task `index` of no run, for unit tests of queues.
    #[cfg(test)]
    pub(crate) fn fake(index: u32) -> TaskRef {
        TaskRef {
            index,
            generation: 0,
            run: 0,
        }
    }
}

/// Makes one parked task runnable again from any thread: directly on the runtime's own thread,
/// through the runtime's injection queue from elsewhere (a finished run ignores it). Costs an
/// `Arc` clone to make; use [`TaskRef`] on the runtime's thread.
#[derive(Clone)]
pub(crate) struct RemoteUnparker {
    shared: Arc<Shared>,
    task: TaskRef,
}

impl RemoteUnparker {
    /// Makes the task runnable.
    pub(crate) fn unpark(&self) {
        super::core::wake_task(&self.shared, self.task);
    }
}

/// Tells the runtime running on this thread that work it waits for has started on another
/// thread (a worker-thread job): until the matching [`outside_work_finished`], the runtime
/// does not count as idle, so a mock clock with autojump does not jump and
/// `testing::wait_all_tasks_blocked` does not return; the run loop waits for I/O and injected
/// work instead. Call [`outside_work_finished`] exactly once for each call of this, on the
/// runtime's thread (from the injected work that reports the completion).
///
/// # Panics
/// Outside a running scoro runtime.
/// `task` is the task waiting for the work, if one does (the task tree shows how long its
/// worker has been running).
#[inline]
pub(crate) fn outside_work_started(task: Option<TaskRef>) {
    with_core(|core| core.outside_work_started(task));
}

/// The work announced with [`outside_work_started`] is over. Does nothing outside a runtime
/// (the run has ended; nothing waits for idleness any more).
#[inline]
pub(crate) fn outside_work_finished(task: Option<TaskRef>) {
    try_with_core(|core| core.outside_work_finished(task));
}

/// A snapshot of the task tree of the runtime running on this thread.
///
/// # Panics
/// Outside a running scoro runtime.
pub(crate) fn task_tree() -> TaskTree {
    with_core(|core| core.task_tree())
}

/// The counters of the runtime running on this thread (worker-thread numbers left at 0).
///
/// # Panics
/// Outside a running scoro runtime.
pub(crate) fn metrics() -> Metrics {
    with_core(|core| core.metrics())
}

/// The object of type `T` that the runtime running on this thread keeps for this crate (made
/// with `T::default()` on first use), such as the worker-thread limiter.
///
/// # Panics
/// Outside a running scoro runtime.
pub(crate) fn runtime_local<T: Default + 'static>() -> Rc<T> {
    with_core(|core| core.local::<T>())
}

/// Like [`runtime_local`], or `None` outside a running scoro runtime.
pub(crate) fn try_runtime_local<T: Default + 'static>() -> Option<Rc<T>> {
    try_with_core(|core| core.local::<T>())
}

/// Is the runtime dropping a task right now? (Then no task is being polled although a runtime
/// is running on this thread: user code only runs inside a task's poll.)
pub(crate) fn tearing_down() -> bool {
    try_with_core(|_| ()).is_some() && CurrentTask::running().is_none()
}

/// The thread-safe part of the runtime running on this thread, for handles used from other
/// threads (`RuntimeHandle`, `from_thread`, workers), or `None` outside a runtime.
pub(crate) fn try_remote() -> Option<Arc<Shared>> {
    try_with_core(|core| core.shared.clone())
}

/// Like [`try_remote`].
///
/// # Panics
/// Outside a running scoro runtime.
pub(crate) fn remote() -> Arc<Shared> {
    with_core(|core| core.shared.clone())
}

pub(crate) use super::shared::{Handle, Injected, Shared as Remote};
