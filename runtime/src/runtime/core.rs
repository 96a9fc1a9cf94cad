//! The single-threaded scheduler: task slots, the run queue, the cancel status tree, the timer
//! heap and the run loop.
//!
//! Invariants:
//! - All scheduler state lives in one `RefCell<Sched>`, borrowed only for short stretches that
//!   never call user code: a task's future is taken out of its slot before it is polled, and
//!   futures are dropped only after the borrow ends.
//! - A task is in exactly one of the states `Queued` (exactly one entry in the run queue),
//!   `Running` (being polled; a wake sets `woken` and requeues it afterwards) or `Idle`
//!   (waiting for a wake). An `Idle` task may also be linked into the blocked list of its
//!   cancel status, which is how cancellation finds and wakes it: a cancelled wait is aborted
//!   by waking the task, and the waiting future sees the cancellation when it is polled again.
//! - Run-queue entries and wakers carry the slot's generation, so waking a task that has
//!   finished (and whose slot was reused) does nothing.
//! - Deadlines are registered in the timer heap lazily: only when a task blocks under a scope
//!   with an effective deadline (or a blocked scope's deadline is changed). Stale heap entries
//!   (scope exited, deadline moved) are skipped when popped and pruned when they pile up.
//! - The loop runs the queued tasks in batches; tasks woken during a batch run in the next one.
//!   I/O is polled, the clock read and deadlines fired between batches: at once when nothing is
//!   runnable, else after every 64 task polls.

use super::context::NO_TASK;
use super::context::{self, EnterGuard};
use super::deadlines::Deadlines;
use super::io::IoDriver;
use super::shared::{Injected, RemoteWaker, Shared};
use super::signal::SignalState;
use super::task::{self, ErasedFuture};
use crate::cancel::{CancelReason, CancelRequested};
use crate::coroutine::TaskName;
use crate::runtime::status::{Check, NO_STATUS, NodeSettings, StatusId, StatusTree};
use crate::slab::PagedVec;
use crate::time::clock::Clock;
use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

/// A task: the run it belongs to, slab index and generation. A `TaskRef` of another run (kept
/// by some object across runs) never names a task of this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TaskRef {
    pub(super) index: u32,
    pub(super) generation: u32,
    pub(super) run: u32,
}

/// A run-queue entry: a task of this run (slab index and generation). Kept to 8 bytes, without
/// the run id a `TaskRef` carries: the queue only ever holds this run's tasks, and at 100,000
/// queued tasks its size shows in the spawn benchmarks.
#[derive(Clone, Copy, Debug)]
struct Queued {
    index: u32,
    generation: u32,
}

impl Queued {
    #[inline]
    fn of(t: TaskRef) -> Queued {
        Queued {
            index: t.index,
            generation: t.generation,
        }
    }
}

/// Gives each run (each `Core`) an id of its own, so that ids of tasks and cancel statuses are
/// never confused between runs. Ids are never reused: when they run out, no runtime can be
/// created any more.
static NEXT_RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

fn new_run_id() -> std::io::Result<u32> {
    use std::sync::atomic::Ordering;
    NEXT_RUN
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |id| id.checked_add(1))
        .map_err(|_| {
            std::io::Error::other(
                "scoro: this process has created 4,294,967,295 runtimes, the most it can tell apart",
            )
        })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskState {
    Free,
    Queued,
    Running,
    Idle,
}

struct TaskSlot {
    generation: u32,
    state: TaskState,
    woken: bool,
    future: Option<ErasedFuture>,
    /// Innermost cancel status the task is in.
    status: u32,
    name: TaskName,
    parent: u32,
    /// Status whose blocked list this task is linked into, or `NO_STATUS`.
    blocked_on: u32,
    blk_prev: u32,
    blk_next: u32,
    /// A `RemoteWaker` was made for this task (see `Sched::remote_wakers`).
    has_remote_waker: bool,
    /// The nursery (or pending `start`) that owns this task; 0 for the root.
    owner: u64,
}

/// How many task polls may pass between two looks at I/O, the clock and deadlines.
const MAINTENANCE_INTERVAL: u32 = 64;

pub(crate) struct Sched {
    run: u32,
    tasks: PagedVec<TaskSlot>,
    free_tasks: Vec<u32>,
    live_tasks: usize,
    queue: VecDeque<Queued>,
    pub(crate) statuses: StatusTree,
    deadlines: Deadlines,
    idle_waiters: Vec<TaskRef>,
    newly: Vec<u32>,
    /// Scopes entered with a relative deadline not resolved to an instant yet.
    pending: Vec<StatusId>,
    /// Wakers for foreign code, cached per task (few tasks need one, so not in the slot).
    remote_wakers: HashMap<u32, Waker>,
}

pub(crate) struct Core {
    pub(crate) sched: RefCell<Sched>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) clock: Clock,
    cached_now: Cell<Instant>,
    pub(crate) io: RefCell<IoDriver>,
    pub(crate) root_status: StatusId,
    polled: Cell<u32>,
    injected: RefCell<Vec<Injected>>,
    pub(crate) signals: SignalState,
    next_owner: Cell<u64>,
    locals: RefCell<HashMap<TypeId, Rc<dyn Any>>>,
    injected_panic: RefCell<Option<Box<dyn Any + Send>>>,
}

impl Core {
    pub(crate) fn new(clock: Clock) -> std::io::Result<Core> {
        let io = IoDriver::new()?;
        let shared = Arc::new(Shared::new(io.registry())?);
        let signals = SignalState::new(io.registry())?;
        let run = new_run_id()?;
        let mut statuses = StatusTree::default();
        statuses.run = run;
        let root_status = statuses.create(NO_STATUS, NodeSettings::default());
        let now = clock.now();
        Ok(Core {
            sched: RefCell::new(Sched {
                run,
                tasks: PagedVec::default(),
                free_tasks: Vec::new(),
                live_tasks: 0,
                queue: VecDeque::new(),
                statuses,
                deadlines: Deadlines::default(),
                idle_waiters: Vec::new(),
                newly: Vec::new(),
                pending: Vec::new(),
                remote_wakers: HashMap::new(),
            }),
            shared,
            clock,
            cached_now: Cell::new(now),
            io: RefCell::new(io),
            root_status,
            polled: Cell::new(0),
            injected: RefCell::new(Vec::new()),
            signals,
            next_owner: Cell::new(1),
            locals: RefCell::new(HashMap::new()),
            injected_panic: RefCell::new(None),
        })
    }

    /// Per-runtime state of another module (the worker-thread limiter, signal receivers, ...),
    /// created on first use and dropped with the runtime.
    pub(crate) fn local<T: Default + 'static>(&self) -> Rc<T> {
        let mut locals = self.locals.borrow_mut();
        let any = locals
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Rc::new(T::default()) as Rc<dyn Any>)
            .clone();
        drop(locals);
        any.downcast::<T>()
            .unwrap_or_else(|_| unreachable!("runtime locals are keyed by type"))
    }

    // ----- time -------------------------------------------------------------------------

    /// The current time, read from the clock.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        let now = self.clock.now();
        if now > self.cached_now.get() {
            self.cached_now.set(now);
        }
        self.cached_now.get()
    }

    /// The time checkpoints compare deadlines against: the mock clock's time, or the real time
    /// read at the last scheduling step (cheaper than reading the clock on every checkpoint).
    #[inline]
    fn check_now(&self) -> Instant {
        match &self.clock {
            Clock::Real => self.cached_now.get(),
            Clock::Mock(m) => m.now(),
        }
    }

    // ----- tasks ------------------------------------------------------------------------

    /// Adds a task, runnable at once, in cancel status `status`.
    pub(crate) fn spawn(
        &self,
        future: ErasedFuture,
        status: StatusId,
        name: TaskName,
        parent: u32,
    ) -> TaskRef {
        self.spawn_owned(future, status, name, parent, 0)
    }

    /// Does task `t` belong to this run? (It may have finished.)
    #[inline]
    pub(crate) fn owns(&self, t: TaskRef) -> bool {
        t.run == self.sched.borrow().run
    }

    /// A fresh id for an owner of tasks (a nursery or a pending `start`).
    pub(crate) fn new_owner_id(&self) -> u64 {
        let id = self.next_owner.get();
        self.next_owner.set(id + 1);
        id
    }

    /// Changes the owner of task `t`, and the task that runs its new owner.
    pub(crate) fn set_task_owner(&self, t: TaskRef, owner: u64, parent: u32) {
        let mut s = self.sched.borrow_mut();
        if s.is_live(t) {
            s.tasks[t.index].owner = owner;
            s.tasks[t.index].parent = parent;
        }
    }

    /// Drops every task of `owner` at once (their owner is going away before they finished).
    /// Panics in their destructors are collected; the first is returned, for the caller to
    /// resume once it has finished its own cleanup (see `drop_tasks_where`).
    #[must_use = "a destructor's panic must be resumed"]
    pub(crate) fn drop_owned_tasks(&self, owner: u64) -> Option<Box<dyn Any + Send>> {
        self.drop_tasks_where(|t| t.owner == owner)
    }

    /// Drops every live task that `select` picks, repeating until none is left: a destructor
    /// may start another such task (a child holding the `&Nursery`), and none may outlive its
    /// owner. A task already dropped by an earlier one's destructor (a nursery's guard) is
    /// skipped: its generation no longer matches. Returns the first destructor panic, unless
    /// the thread is already unwinding (resuming it then would abort).
    fn drop_tasks_where(&self, select: impl Fn(&TaskSlot) -> bool) -> Option<Box<dyn Any + Send>> {
        let mut first_panic = None;
        loop {
            let picked: Vec<TaskRef> = {
                let s = self.sched.borrow();
                s.tasks
                    .iter()
                    .filter(|(_, t)| t.state != TaskState::Free && select(t))
                    .map(|(index, t)| TaskRef {
                        index,
                        generation: t.generation,
                        run: s.run,
                    })
                    .collect()
            };
            if picked.is_empty() {
                break;
            }
            for t in picked.into_iter().rev() {
                if let Err(p) =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.drop_task(t)))
                {
                    first_panic.get_or_insert(p);
                }
            }
        }
        first_panic.filter(|_| !std::thread::panicking())
    }

    /// Adds a task owned by `owner`, runnable at once, in cancel status `status`.
    #[inline]
    pub(crate) fn spawn_owned(
        &self,
        future: ErasedFuture,
        status: StatusId,
        name: TaskName,
        parent: u32,
        owner: u64,
    ) -> TaskRef {
        let mut s = self.sched.borrow_mut();
        let slot = TaskSlot {
            generation: 0,
            state: TaskState::Queued,
            woken: false,
            future: Some(future),
            status: status.index,
            name,
            parent,
            blocked_on: NO_STATUS,
            blk_prev: NO_TASK,
            blk_next: NO_TASK,
            has_remote_waker: false,
            owner,
        };
        let index = match s.free_tasks.pop() {
            Some(i) => {
                let generation = s.tasks[i].generation;
                s.tasks[i] = TaskSlot { generation, ..slot };
                i
            }
            None => {
                let i = u32::try_from(s.tasks.len()).expect("too many tasks");
                s.tasks.push(slot);
                i
            }
        };
        s.live_tasks += 1;
        let t = TaskRef {
            index,
            generation: s.tasks[index].generation,
            run: s.run,
        };
        s.queue.push_back(Queued::of(t));
        t
    }

    /// The `TaskRef` of the task with slab index `index` (which must be live).
    pub(crate) fn task_ref(&self, index: u32) -> TaskRef {
        let s = self.sched.borrow();
        TaskRef {
            index,
            generation: s.tasks[index].generation,
            run: s.run,
        }
    }

    pub(crate) fn task_name(&self, index: u32) -> TaskName {
        self.sched.borrow().tasks[index].name
    }

    pub(crate) fn task_parent(&self, index: u32) -> u32 {
        self.sched.borrow().tasks[index].parent
    }

    /// Makes `t` runnable (no-op if it already is, or if it has finished).
    pub(crate) fn wake(&self, t: TaskRef) {
        let mut s = self.sched.borrow_mut();
        s.wake(t);
    }

    /// Marks the running task `index` to be polled again in the next batch.
    #[inline]
    pub(crate) fn yield_now(&self, index: u32) {
        let mut s = self.sched.borrow_mut();
        s.tasks[index].woken = true;
    }

    /// Records that the running task `index` is about to wait in a way that cancellation must
    /// interrupt: links it into its cancel status and registers the effective deadline.
    pub(crate) fn block_cancellable(&self, index: u32) {
        let mut s = self.sched.borrow_mut();
        s.block(index);
    }

    /// A waker for task `index` that is safe to give to foreign code (cached per task).
    pub(crate) fn remote_waker(&self, index: u32) -> Waker {
        let mut s = self.sched.borrow_mut();
        let generation = s.tasks[index].generation;
        let run = s.run;
        s.tasks[index].has_remote_waker = true;
        s.remote_wakers
            .entry(index)
            .or_insert_with(|| {
                Waker::from(Arc::new(RemoteWaker {
                    shared: self.shared.clone(),
                    task: TaskRef {
                        index,
                        generation,
                        run,
                    },
                }))
            })
            .clone()
    }

    /// Drops task `t` at once (its future's destructors run). Used when the owner of a task
    /// goes away before the task finished.
    pub(crate) fn drop_task(&self, t: TaskRef) {
        let fut = {
            let mut s = self.sched.borrow_mut();
            if !s.is_live(t) {
                return;
            }
            let fut = s.tasks[t.index].future.take();
            s.free_task(t.index);
            fut
        };
        if let Some(fut) = fut {
            let _outside = context::leave_task();
            drop(fut);
        }
    }

    /// Polls task `t` once if it is queued.
    fn poll_task(&self, q: Queued) {
        let mut fut = {
            let mut s = self.sched.borrow_mut();
            let t = TaskRef {
                index: q.index,
                generation: q.generation,
                run: s.run,
            };
            if !s.is_live(t) {
                return;
            }
            let slot = &mut s.tasks[t.index];
            if slot.state != TaskState::Queued {
                return;
            }
            slot.state = TaskState::Running;
            match slot.future.take() {
                Some(f) => f,
                None => return,
            }
        };
        let waker = task::task_waker(q.index);
        let mut cx = Context::from_waker(&waker);
        let ready = fut.as_mut().poll_task(q.index, &mut cx).is_ready();
        let mut s = self.sched.borrow_mut();
        let t = TaskRef {
            index: q.index,
            generation: q.generation,
            run: s.run,
        };
        if !s.is_live(t) {
            drop(s);
            drop(fut);
            return;
        }
        if ready {
            s.free_task(t.index);
            drop(s);
            drop(fut);
        } else {
            let slot = &mut s.tasks[t.index];
            slot.future = Some(fut);
            if slot.woken {
                slot.woken = false;
                slot.state = TaskState::Queued;
                s.queue.push_back(q);
            } else {
                slot.state = TaskState::Idle;
            }
        }
    }

    // ----- cancellation -----------------------------------------------------------------

    /// The cancellation the task `index` should see at a checkpoint, if any. A deadline that
    /// passed but was not processed yet is processed now.
    #[inline]
    pub(crate) fn check_cancel(&self, index: u32) -> Option<CancelRequested> {
        let now = self.check_now();
        let mut s = self.sched.borrow_mut();
        let status = s.tasks[index].status;
        s.check_status(status, now)
    }

    /// The task's innermost cancel status.
    pub(crate) fn task_cancel_status(&self, index: u32) -> StatusId {
        let s = self.sched.borrow();
        let i = s.tasks[index].status;
        s.statuses.id(i, s.statuses.node(i).generation)
    }

    /// Cancels the scope of status `id` (no-op if it has exited).
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
        let id = s.statuses.create(parent, settings);
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
        s.statuses.create(parent.index, NodeSettings::default())
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

    // ----- idle waiters (wait_all_tasks_blocked) ----------------------------------------

    pub(crate) fn add_idle_waiter(&self, index: u32) {
        let mut s = self.sched.borrow_mut();
        let t = TaskRef {
            index,
            generation: s.tasks[index].generation,
            run: s.run,
        };
        if !s.idle_waiters.contains(&t) {
            s.idle_waiters.push(t);
        }
    }

    /// Removes task `index` from the idle waiters; returns whether it was there.
    pub(crate) fn remove_idle_waiter(&self, index: u32) -> bool {
        let mut s = self.sched.borrow_mut();
        let generation = s.tasks[index].generation;
        let before = s.idle_waiters.len();
        s.idle_waiters
            .retain(|t| !(t.index == index && t.generation == generation));
        s.idle_waiters.len() != before
    }

    // ----- the run loop -----------------------------------------------------------------

    /// Runs tasks until `done()` is true after a batch.
    pub(crate) fn run_until(&self, done: &dyn Fn() -> bool) {
        let mut batch: VecDeque<Queued> = VecDeque::new();
        loop {
            if batch.capacity() > 4096 && self.sched.borrow().queue.is_empty() {
                batch.shrink_to(1024);
            }
            {
                let mut s = self.sched.borrow_mut();
                std::mem::swap(&mut s.queue, &mut batch);
            }
            let n = batch.len() as u32;
            for t in batch.drain(..) {
                self.poll_task(t);
            }
            if done() {
                return;
            }
            let polled = self.polled.get() + n;
            let runnable = !self.sched.borrow().queue.is_empty();
            if runnable {
                if polled >= MAINTENANCE_INTERVAL {
                    self.polled.set(0);
                    self.maintenance(Some(Duration::ZERO));
                } else {
                    self.polled.set(polled);
                }
            } else {
                self.polled.set(0);
                self.idle();
            }
        }
    }

    fn runnable(&self) -> bool {
        !self.sched.borrow().queue.is_empty()
    }

    /// Nothing is runnable: wait for I/O, wakeups from other threads or the next deadline.
    fn idle(&self) {
        self.drain_injected();
        if self.runnable() {
            return;
        }
        {
            // After a burst (100,000 tasks spawned at once, say) the run queue keeps its
            // capacity; give most of it back while nothing is runnable.
            let mut s = self.sched.borrow_mut();
            if s.queue.capacity() > 4096 {
                s.queue.shrink_to(1024);
            }
        }
        self.resolve_pending();
        let (has_idle_waiters, next_deadline) = {
            let mut s = self.sched.borrow_mut();
            (!s.idle_waiters.is_empty(), s.next_deadline())
        };
        if has_idle_waiters {
            self.maintenance(Some(Duration::ZERO));
            if !self.runnable() {
                let mut s = self.sched.borrow_mut();
                let waiters = std::mem::take(&mut s.idle_waiters);
                for t in waiters {
                    s.wake(t);
                }
            }
            return;
        }
        match &self.clock {
            Clock::Real => {
                let timeout = next_deadline.map(|d| d.saturating_duration_since(Instant::now()));
                self.maintenance(timeout);
            }
            Clock::Mock(mock) => {
                let now = mock.now();
                if next_deadline.is_some_and(|d| d <= now) {
                    self.maintenance(Some(Duration::ZERO));
                    return;
                }
                match (mock.autojump_threshold(), next_deadline) {
                    (Some(threshold), Some(deadline)) => {
                        self.maintenance(Some(threshold));
                        if !self.runnable() {
                            mock.advance_to(deadline);
                            self.fire_deadlines();
                        }
                    }
                    _ => self.maintenance(None),
                }
            }
        }
    }

    /// Polls I/O (waiting at most `timeout`), takes injected work, and fires due deadlines.
    fn maintenance(&self, timeout: Option<Duration>) {
        let signals = self.io.borrow_mut().poll(timeout, self);
        if signals {
            super::signal::on_readable(self);
        }
        self.drain_injected();
        self.resolve_pending();
        self.fire_deadlines();
    }

    fn drain_injected(&self) {
        let mut items = std::mem::take(&mut *self.injected.borrow_mut());
        self.shared.drain(&mut items);
        for item in items.drain(..) {
            match item {
                Injected::Wake(t) => self.wake(t),
                Injected::Call(f) => {
                    // A panicking callback is a bug outside any task: shut the run down (every
                    // task gets to clean up) and let `run` resume the panic at the end.
                    if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                        self.injected_panic.borrow_mut().get_or_insert(p);
                        self.cancel_everything(CancelReason::Shutdown);
                    }
                }
            }
        }
        *self.injected.borrow_mut() = items;
    }

    /// The first panic of a `run_sync_soon` callback, if any.
    pub(crate) fn take_injected_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.injected_panic.borrow_mut().take()
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

    /// Drops every task still stored, then marks the run finished. Leftover injected work is
    /// dropped without running. The run is marked finished even if a destructor panics (the
    /// first such panic is resumed afterwards, unless the thread is already unwinding).
    pub(crate) fn shutdown(&self) {
        struct Close<'a>(&'a Shared);
        impl Drop for Close<'_> {
            fn drop(&mut self) {
                drop(self.0.close());
            }
        }
        let _close = Close(&self.shared);
        if let Some(p) = self.drop_tasks_where(|_| true) {
            std::panic::resume_unwind(p);
        }
    }

    /// Enters this core on the current thread.
    pub(crate) fn enter(&self) -> EnterGuard {
        EnterGuard::enter(self)
    }
}

/// What leaving a scope found.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScopeExit {
    pub(crate) cancel_called: bool,
    pub(crate) catches: bool,
}

impl Sched {
    #[inline]
    fn is_live(&self, t: TaskRef) -> bool {
        t.run == self.run
            && self
                .tasks
                .get(t.index)
                .is_some_and(|s| s.generation == t.generation && s.state != TaskState::Free)
    }

    fn free_task(&mut self, index: u32) {
        self.unblock(index);
        let slot = &mut self.tasks[index];
        slot.state = TaskState::Free;
        slot.generation = slot.generation.wrapping_add(1);
        slot.future = None;
        slot.woken = false;
        if std::mem::take(&mut slot.has_remote_waker) {
            self.remote_wakers.remove(&index);
        }
        self.free_tasks.push(index);
        self.live_tasks -= 1;
    }

    #[inline]
    fn wake(&mut self, t: TaskRef) {
        if !self.is_live(t) {
            return;
        }
        match self.tasks[t.index].state {
            TaskState::Idle => {
                self.unblock(t.index);
                self.tasks[t.index].state = TaskState::Queued;
                self.queue.push_back(Queued::of(t));
            }
            TaskState::Running => {
                self.unblock(t.index);
                self.tasks[t.index].woken = true;
            }
            TaskState::Queued | TaskState::Free => {}
        }
    }

    fn block(&mut self, index: u32) {
        let slot = &self.tasks[index];
        if slot.woken || slot.blocked_on != NO_STATUS {
            return;
        }
        let status = slot.status;
        let head = self.statuses.node(status).blocked_head;
        {
            let slot = &mut self.tasks[index];
            slot.blocked_on = status;
            slot.blk_prev = NO_TASK;
            slot.blk_next = head;
        }
        if head != NO_TASK {
            self.tasks[head].blk_prev = index;
        }
        self.statuses.node_mut(status).blocked_head = index;
        let n = self.statuses.node(status);
        if let Some(d) = n.eff_deadline {
            let owner = n.eff_deadline_node;
            self.register_deadline(owner, d);
        }
    }

    fn unblock(&mut self, index: u32) {
        let (status, prev, next) = {
            let slot = &self.tasks[index];
            (slot.blocked_on, slot.blk_prev, slot.blk_next)
        };
        if status == NO_STATUS {
            return;
        }
        if prev != NO_TASK {
            self.tasks[prev].blk_next = next;
        } else {
            self.statuses.node_mut(status).blocked_head = next;
        }
        if next != NO_TASK {
            self.tasks[next].blk_prev = prev;
        }
        let slot = &mut self.tasks[index];
        slot.blocked_on = NO_STATUS;
        slot.blk_prev = NO_TASK;
        slot.blk_next = NO_TASK;
    }

    /// Registers the effective deadline of every node under `index` that has blocked tasks:
    /// a shield or deadline change can make a deadline apply that no blocked task registered.
    fn register_blocked_deadlines(&mut self, index: u32) {
        let mut nodes = std::mem::take(&mut self.newly);
        nodes.clear();
        self.statuses.subtree(index, &mut nodes);
        for &i in &nodes {
            let n = self.statuses.node(i);
            if n.blocked_head != NO_TASK
                && let Some(d) = n.eff_deadline
            {
                let owner = n.eff_deadline_node;
                self.register_deadline(owner, d);
            }
        }
        nodes.clear();
        self.newly = nodes;
    }

    fn register_deadline(&mut self, owner: u32, d: Instant) {
        self.deadlines.add(&mut self.statuses, owner, d);
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        self.deadlines.next(&self.statuses)
    }

    fn cancel_node(&mut self, index: u32, reason: CancelReason) {
        let mut newly = std::mem::take(&mut self.newly);
        self.statuses.cancel(index, reason, &mut newly);
        self.wake_cancelled(&mut newly);
        self.newly = newly;
    }

    /// Wakes every task blocked on the statuses in `newly` (and empties it).
    fn wake_cancelled(&mut self, newly: &mut Vec<u32>) {
        for status in newly.drain(..) {
            loop {
                let head = self.statuses.node(status).blocked_head;
                if head == NO_TASK {
                    break;
                }
                let t = TaskRef {
                    index: head,
                    generation: self.tasks[head].generation,
                    run: self.run,
                };
                self.unblock(head);
                self.wake(t);
            }
        }
    }

    fn free_node(&mut self, index: u32) {
        // Tasks still linked here (only possible when scopes are torn down out of order)
        // are woken so that they re-evaluate where they are.
        loop {
            let head = self.statuses.node(index).blocked_head;
            if head == NO_TASK {
                break;
            }
            let t = TaskRef {
                index: head,
                generation: self.tasks[head].generation,
                run: self.run,
            };
            self.unblock(head);
            self.wake(t);
        }
        if self.statuses.node(index).registered.is_some() {
            self.deadlines.node_freed();
        }
        self.statuses.free(index);
    }

    #[inline]
    fn check_status(&mut self, status: u32, now: Instant) -> Option<CancelRequested> {
        loop {
            match self.statuses.check(status, now) {
                Check::NotCancelled => return None,
                Check::Cancelled(reason) => return Some(CancelRequested::new(reason)),
                Check::DeadlinePassed(owner) => self.cancel_node(owner, CancelReason::Deadline),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;

    // A task or status id kept past its run (by a leaked waiter, a stashed handle) must never
    // name a task or scope of another run, even where slot and generation coincide.
    #[test]
    fn ids_of_another_run_are_never_live_here() {
        let first = Core::new(Clock::Real).unwrap();
        let second = Core::new(Clock::Real).unwrap();
        let spawn = |core: &Core| {
            let future: Pin<Box<dyn task::TaskFuture>> = Box::pin(async {});
            core.spawn(future, core.root_status, TaskName::new("t", "t"), NO_TASK)
        };
        let old = spawn(&first);
        let new = spawn(&second);
        assert_eq!((old.index, old.generation), (new.index, new.generation));
        assert_ne!(old.run, new.run);
        assert!(second.sched.borrow().is_live(new));
        assert!(!second.sched.borrow().is_live(old));
        second.wake(old);
        assert!(!second.owns(old));
        let old_status = first.create_status(first.root_status);
        let new_status = second.create_status(second.root_status);
        assert_eq!(old_status.index, new_status.index);
        assert!(second.sched.borrow().statuses.is_live(new_status));
        assert!(!second.sched.borrow().statuses.is_live(old_status));
        second.cancel_status(old_status, CancelReason::Explicit);
        assert_eq!(second.scope_cancel_called(new_status), Some(false));
    }
}
