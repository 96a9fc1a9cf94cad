//! The spawning part of the seam: what nurseries and `start` need to add tasks whose lifetime
//! is erased, own them, and tear them down, and the placement checks that make the erasure
//! sound (the argument is in `runtime::task`).

use super::super::context;
use super::super::core::{try_with_core, with_core};
use super::scopes::StatusId;
use super::{CurrentTask, TaskRef};
use crate::coroutine::TaskName;
use std::any::Any;

pub(crate) use super::super::context::{check_placement, register_box};
pub(crate) use super::super::task::{ErasedFuture, TaskFuture, closure_body_poll, erase};

/// Identifies an owner of tasks (a nursery, a pending `start`) within its run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owner(u64);

/// A fresh owner id.
///
/// # Panics
/// Outside a running scoro runtime.
pub(crate) fn new_owner() -> Owner {
    Owner(with_core(|core| core.new_owner_id()))
}

/// Adds a task owned by `owner`, runnable at once, in cancel scope `status`; `parent` is the
/// task that runs its owner.
///
/// # Panics
/// Outside a running scoro runtime.
#[inline]
pub(crate) fn spawn(
    future: ErasedFuture,
    status: StatusId,
    name: TaskName,
    location: &'static std::panic::Location<'static>,
    parent: TaskRef,
    owner: Owner,
) -> TaskRef {
    with_core(|core| core.spawn_owned(future, status, name, Some(location), parent.index, owner.0))
}

/// Hands task `t` to `owner`, whose task is `parent` (a started task joining its nursery).
pub(crate) fn set_owner(t: TaskRef, owner: Owner, parent: TaskRef) {
    try_with_core(|core| core.set_task_owner(t, owner.0, parent.index));
}

/// Adds a task outside any nursery, in the run's root scope, for unit tests that tear tasks
/// down by hand (what the runtime does when a panic unwinds through a nursery).
#[cfg(test)]
pub(crate) fn spawn_detached(future: ErasedFuture, name: TaskName) -> TaskRef {
    with_core(|core| core.spawn(future, core.root_status, name, super::super::ids::NO_TASK))
}

/// Drops task `t` at once (its future's destructors run).
#[cfg(test)]
pub(crate) fn drop_task(t: TaskRef) {
    with_core(|core| core.drop_task(t));
}

/// Runs `tear_down` (made of the calls below) for a guard whose tasks borrow what its caller
/// owns, in the run that `task` belongs to. Where that run cannot be reached, skipping the
/// teardown would let the tasks outlive what they borrow, so the process aborts, with a
/// message naming `what`.
pub(crate) fn in_own_run<R>(task: TaskRef, what: &str, tear_down: impl FnOnce() -> R) -> R {
    if task.is_in_this_run() {
        tear_down()
    } else {
        eprintln!(
            "scoro: {what} was dropped outside the run its tasks belong to; its tasks borrow \
             data that may be gone, so the process aborts"
        );
        std::process::abort()
    }
}

/// Drops every task of `owner` at once (the owner goes away before they finished). Returns
/// the first panic of a destructor, for the caller to resume once it has finished its own
/// cleanup.
#[must_use = "a destructor's panic must be resumed"]
pub(crate) fn drop_owned(owner: Owner) -> Option<Box<dyn Any + Send>> {
    with_core(|core| core.drop_owned_tasks(owner.0))
}

/// Leaves the scope `status` that `task` entered, whose call was dropped before it finished.
pub(crate) fn abandon_scope(task: TaskRef, status: StatusId) {
    try_with_core(|core| core.abandon_scope(task.index, status));
}

impl CurrentTask {
    /// Polls a nursery body with a restricted waker (see `runtime::context`), so that the
    /// `ClosureBody` inside it can recognise the poll.
    pub(crate) fn poll_nursery_body<T>(
        self,
        poll: impl FnOnce(&mut std::task::Context<'_>) -> std::task::Poll<T>,
    ) -> std::task::Poll<T> {
        let waker = self.remote_waker();
        let mut body_cx = std::task::Context::from_waker(&waker);
        context::poll_nursery_body(&mut body_cx, poll)
    }
}
