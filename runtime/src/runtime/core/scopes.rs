//! The cancel-scope half of the scheduler: entering, leaving, cancelling and querying scopes,
//! deadlines, and the lists of blocked tasks that cancellation wakes (kept by the status tree).

use super::{Core, SPIN_WARNING, Sched};
use crate::cancellation::{CancelReason, CancelRequested};
use crate::runtime::clock::Clock;
use crate::runtime::status::{Check, NO_STATUS, NodeSettings, StatusId};
use std::time::{Duration, Instant};

impl Core {
    // ----- cancellation -----------------------------------------------------------------

    /// The cancellation the task `index` should see at a checkpoint, if any. A deadline that
    /// passed but was not processed yet is processed now.
    #[inline]
    pub(crate) fn check_cancel(&self, index: u32) -> Option<CancelRequested> {
        let now = self.check_now();
        let mut s = self.sched.borrow_mut();
        let status = s.tasks[index].status;
        let cancel = s.check_status(status, now);
        if cancel.is_some() {
            #[cfg(feature = "tracing")]
            if let Some(c) = &cancel {
                let task = super::TaskRef {
                    index,
                    generation: s.tasks[index].generation,
                    run: s.run,
                };
                crate::runtime::trace::cancel_delivered(&s.statuses, status, task, c.reason());
            }
            drop(s);
            #[cfg(feature = "tracing")]
            crate::runtime::trace::flush_events();
            self.cancel_delivered(index);
        }
        cancel
    }

    /// Counts the cancellations handed to the task being polled in this step. A task that
    /// is handed [`SPIN_WARNING`] of them without yielding is almost certainly discarding the
    /// cancellation in a loop (`let _ = call().await;`) and will spin forever: say so, once
    /// per step, naming its function.
    #[cold]
    fn cancel_delivered(&self, index: u32) {
        let streak = self.cancel_streak.get() + 1;
        self.cancel_streak.set(streak);
        if streak == SPIN_WARNING {
            eprintln!(
                "scoro: the task running `{}` was handed `Err(CancelRequested)` {SPIN_WARNING} \
                 times in a row without yielding; it is probably discarding the cancellation in \
                 a loop (`let _ = call().await;`, `.ok()`, `if let Ok(..)`) and will spin \
                 forever. Propagate it with `?` so that the task can finish.",
                self.task_name(index)
            );
        }
    }

    /// The task's innermost cancel status.
    pub(crate) fn task_cancel_status(&self, index: u32) -> StatusId {
        let s = self.sched.borrow();
        let i = s.tasks[index].status;
        s.statuses.id(i, s.statuses.node(i).generation)
    }

    /// Cancels the scope of status `id` (no-op if it has exited).
    #[inline]
    pub(crate) fn cancel_status(&self, id: StatusId, reason: CancelReason) {
        let mut s = self.sched.borrow_mut();
        if s.statuses.is_live(id) {
            s.cancel_node(id.index, reason);
        }
    }

    pub(crate) fn set_shield(&self, id: StatusId, shield: bool) {
        let mut s = self.sched.borrow_mut();
        if s.statuses.is_live(id) {
            let mut newly = std::mem::take(&mut s.newly);
            s.statuses.set_shield(id.index, shield, &mut newly);
            s.wake_cancelled(&mut newly);
            s.newly = newly;
            s.register_blocked_deadlines(id.index);
        }
    }

    pub(crate) fn set_deadline(&self, id: StatusId, deadline: Option<Instant>) {
        let mut s = self.sched.borrow_mut();
        if s.statuses.is_live(id) {
            let mut newly = std::mem::take(&mut s.newly);
            s.statuses.set_deadline(id.index, deadline, &mut newly);
            s.wake_cancelled(&mut newly);
            s.newly = newly;
            if let Some(d) = deadline {
                // Tasks may already be blocked under this scope: register it now.
                s.register_deadline(id.index, d);
            }
            s.register_blocked_deadlines(id.index);
        }
    }

    /// Moves status `id` under `new_parent` (used when a started task joins its nursery).
    pub(crate) fn reparent_status(&self, id: StatusId, new_parent: StatusId) {
        let mut s = self.sched.borrow_mut();
        if s.statuses.is_live(id) && s.statuses.is_live(new_parent) {
            let mut newly = std::mem::take(&mut s.newly);
            s.statuses.reparent(id.index, new_parent.index, &mut newly);
            s.wake_cancelled(&mut newly);
            s.newly = newly;
            // Blocked tasks under `id` may now be under an earlier deadline.
            let n = s.statuses.node(id.index);
            if let (Some(d), owner) = (n.eff_deadline, n.eff_deadline_node) {
                s.register_deadline(owner, d);
            }
        }
    }

    /// Is the parent of status `id` effectively cancelled?
    pub(crate) fn status_parent_cancelled(&self, id: StatusId) -> bool {
        let now = self.check_now();
        let mut s = self.sched.borrow_mut();
        if !s.statuses.is_live(id) {
            return false;
        }
        let parent = s.statuses.node(id.index).parent;
        parent != NO_STATUS && s.check_status(parent, now).is_some()
    }

    /// Has cancellation been requested of the scope of `id` itself (by `cancel()` or by its own
    /// deadline passing)? `None` if the scope has exited.
    #[inline]
    pub(crate) fn scope_cancel_called(&self, id: StatusId) -> Option<bool> {
        let now = self.check_now();
        let mut s = self.sched.borrow_mut();
        if !s.statuses.is_live(id) {
            return None;
        }
        let n = s.statuses.node(id.index);
        if !n.cancel_called && n.deadline.is_some_and(|d| d <= now) {
            s.cancel_node(id.index, CancelReason::Deadline);
        }
        Some(s.statuses.node(id.index).cancel_called)
    }

    /// The deadline of scope `id`, if it is live.
    pub(crate) fn scope_deadline(&self, id: StatusId) -> Option<Option<Instant>> {
        self.resolve_pending();
        let s = self.sched.borrow();
        s.statuses
            .is_live(id)
            .then(|| s.statuses.node(id.index).deadline)
    }

    /// Enters a new scope in task `index`; returns its status.
    ///
    /// A relative deadline (`timeout`) costs no clock read on the real clock: the scope starts
    /// without a deadline and gets `now + timeout` at the next scheduling step, with a `now`
    /// read then (so never earlier than entry + timeout), or at once if something asks for it.
    /// Until then no checkpoint could see it expire anyway.
    #[inline]
    pub(crate) fn enter_scope(
        &self,
        index: u32,
        mut settings: NodeSettings,
        timeout: Option<Duration>,
    ) -> StatusId {
        if let Some(d) = timeout {
            match &self.clock {
                Clock::Mock(m) => settings.deadline = m.now().checked_add(d),
                Clock::Real if d.is_zero() => settings.deadline = Some(self.cached_now.get()),
                Clock::Real => settings.pending = Some(d),
            }
        }
        let mut s = self.sched.borrow_mut();
        let parent = s.tasks[index].status;
        let id = s.statuses.create_for(parent, settings, index);
        s.tasks[index].status = id.index;
        if settings.pending.is_some() {
            s.pending.push(id);
        }
        id
    }

    /// Turns the relative deadlines of scopes entered since the last call into instants.
    pub(crate) fn resolve_pending(&self) {
        if self.sched.borrow().pending.is_empty() {
            return;
        }
        let now = self.now();
        let mut s = self.sched.borrow_mut();
        let mut pending = std::mem::take(&mut s.pending);
        let mut newly = std::mem::take(&mut s.newly);
        for id in pending.drain(..) {
            if !s.statuses.is_live(id) {
                continue;
            }
            let Some(d) = s.statuses.node(id.index).pending else {
                continue;
            };
            let deadline = now.checked_add(d);
            s.statuses.set_deadline(id.index, deadline, &mut newly);
            s.wake_cancelled(&mut newly);
            if let Some(d) = deadline {
                s.register_deadline(id.index, d);
            }
        }
        s.pending = pending;
        s.newly = newly;
    }

    /// Creates a status under `parent` without entering it in any task.
    pub(crate) fn create_status(&self, parent: StatusId) -> StatusId {
        let mut s = self.sched.borrow_mut();
        let settings = NodeSettings {
            kind: crate::runtime::status::ScopeKind::Start,
            ..NodeSettings::default()
        };
        s.statuses.create(parent.index, settings)
    }

    /// Frees a status that no task is in any more.
    pub(crate) fn free_status(&self, id: StatusId) {
        let mut s = self.sched.borrow_mut();
        if s.statuses.is_live(id) {
            s.free_node(id.index);
        }
    }

    /// Leaves the scope `id` of task `index`. Returns `(cancel_called, caught)`, where `caught`
    /// says whether this scope catches a body value that is a cancellation: it was cancelled
    /// itself and no enclosing cancellation is visible to it.
    #[inline]
    pub(crate) fn exit_scope(&self, index: u32, id: StatusId) -> ScopeExit {
        let now = self.check_now();
        let mut s = self.sched.borrow_mut();
        if !s.statuses.is_live(id) {
            return ScopeExit {
                cancel_called: false,
                catches: false,
            };
        }
        // Process deadlines that passed but were not seen yet, here and above.
        let parent = s.statuses.node(id.index).parent;
        let _ = s.check_status(id.index, now);
        if parent != NO_STATUS {
            let _ = s.check_status(parent, now);
        }
        let n = s.statuses.node(id.index);
        let mut cancel_called = n.cancel_called;
        if !cancel_called && n.deadline.is_some_and(|d| d <= now) {
            s.cancel_node(id.index, CancelReason::Deadline);
            cancel_called = true;
        }
        let n = s.statuses.node(id.index);
        let parent_visible = parent != NO_STATUS && s.statuses.node(parent).cancelled && !n.shield;
        if s.tasks.get(index).is_some_and(|t| t.status == id.index) {
            s.tasks[index].status = parent;
        }
        s.free_node(id.index);
        ScopeExit {
            cancel_called,
            catches: cancel_called && !parent_visible,
        }
    }

    /// Leaves scope `id` of task `index` without computing anything (the scope's future was
    /// dropped before it finished).
    #[inline]
    pub(crate) fn abandon_scope(&self, index: u32, id: StatusId) {
        let mut s = self.sched.borrow_mut();
        if !s.statuses.is_live(id) {
            return;
        }
        let parent = s.statuses.node(id.index).parent;
        if s.tasks.get(index).is_some_and(|t| t.status == id.index) {
            s.tasks[index].status = parent;
        }
        s.free_node(id.index);
    }

    /// The effective deadline of task `index`: `None` if there is none, a time at or before
    /// now if the task is already cancelled.
    pub(crate) fn effective_deadline(&self, index: u32) -> Option<Instant> {
        self.resolve_pending();
        let now = self.check_now();
        let mut s = self.sched.borrow_mut();
        let status = s.tasks[index].status;
        if s.check_status(status, now).is_some() {
            let d = s.statuses.node(status).eff_deadline;
            return Some(d.map_or(now, |d| d.min(now)));
        }
        s.statuses.node(status).eff_deadline
    }

    /// Cancels every scope whose registered deadline has passed.
    pub(crate) fn fire_deadlines(&self) {
        let now = self.now();
        let mut s = self.sched.borrow_mut();
        let s = &mut *s;
        while let Some(due) = s.deadlines.pop_due(&mut s.statuses, now) {
            if let Some(index) = due {
                s.cancel_node(index, CancelReason::Deadline);
            }
        }
    }

    /// Cancels the root scope (Ctrl-C, shutdown).
    pub(crate) fn cancel_everything(&self, reason: CancelReason) {
        self.cancel_status(self.root_status, reason);
    }
}

/// What leaving a scope found.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScopeExit {
    pub(crate) cancel_called: bool,
    pub(crate) catches: bool,
}

impl Sched {
    pub(super) fn block(&mut self, index: u32) {
        let slot = &self.tasks[index];
        if slot.woken {
            return;
        }
        let status = slot.status;
        if !self.statuses.block(index, status) {
            return;
        }
        let n = self.statuses.node(status);
        if let Some(d) = n.eff_deadline {
            let owner = n.eff_deadline_node;
            self.register_deadline(owner, d);
        }
    }

    /// Registers the effective deadline of every node under `index` that has blocked tasks:
    /// a shield or deadline change can make a deadline apply that no blocked task registered.
    pub(super) fn register_blocked_deadlines(&mut self, index: u32) {
        let mut nodes = std::mem::take(&mut self.newly);
        nodes.clear();
        self.statuses.subtree(index, &mut nodes);
        for &i in &nodes {
            let n = self.statuses.node(i);
            if self.statuses.has_blocked(i)
                && let Some(d) = n.eff_deadline
            {
                let owner = n.eff_deadline_node;
                self.register_deadline(owner, d);
            }
        }
        nodes.clear();
        self.newly = nodes;
    }

    pub(super) fn register_deadline(&mut self, owner: u32, d: Instant) {
        self.deadlines.add(&mut self.statuses, owner, d);
    }

    pub(super) fn next_deadline(&mut self) -> Option<Instant> {
        self.deadlines.next(&self.statuses)
    }

    pub(super) fn cancel_node(&mut self, index: u32, reason: CancelReason) {
        #[cfg(feature = "tracing")]
        if reason == CancelReason::Deadline {
            let (tasks, run) = (&self.tasks, self.run);
            crate::runtime::trace::deadline_fired(&self.statuses, index, |t| super::TaskRef {
                index: t,
                generation: tasks[t].generation,
                run,
            });
        }
        let mut newly = std::mem::take(&mut self.newly);
        self.statuses.cancel(index, reason, &mut newly);
        self.wake_cancelled(&mut newly);
        self.newly = newly;
    }

    /// Wakes every task blocked on the statuses in `newly` (and empties it).
    pub(super) fn wake_cancelled(&mut self, newly: &mut Vec<u32>) {
        for status in newly.drain(..) {
            while let Some(task) = self.statuses.pop_blocked(status) {
                self.wake_index(task);
            }
        }
    }

    pub(super) fn free_node(&mut self, index: u32) {
        // Tasks still linked here (only possible when scopes are torn down out of order)
        // are woken so that they re-evaluate where they are.
        while let Some(task) = self.statuses.pop_blocked(index) {
            self.wake_index(task);
        }
        if self.statuses.node(index).registered.is_some() {
            self.deadlines.node_freed();
        }
        self.statuses.free(index);
    }

    #[inline]
    pub(super) fn check_status(&mut self, status: u32, now: Instant) -> Option<CancelRequested> {
        loop {
            match self.statuses.check(status, now) {
                Check::NotCancelled => return None,
                Check::Cancelled(reason) => return Some(CancelRequested::new(reason)),
                Check::DeadlinePassed(owner) => self.cancel_node(owner, CancelReason::Deadline),
            }
        }
    }
}
