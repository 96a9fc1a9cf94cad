//! The single-threaded scheduler, `Core`: task slots and the run queue (this file), the
//! cancel-scope operations over the status tree and the timer heap (`scopes`), and the run
//! loop (`run_loop`).
//!
//! Invariants:
//! - All scheduler state lives in one `RefCell<Sched>`, borrowed only for short stretches that
//!   never call user code: a task's future is taken out of its slot before it is polled, and
//!   futures are dropped only after the borrow ends.
//! - A task is in exactly one of the states `Queued` (exactly one entry in the run queue),
//!   `Running` (being polled; a wake sets `woken` and requeues it afterwards) or `Idle`
//!   (waiting for a wake). An `Idle` task may also be linked into the blocked list of its
//!   cancel status (kept by the status tree), which is how cancellation finds and wakes it: a cancelled wait is aborted
//!   by waking the task, and the waiting future sees the cancellation when it is polled again.
//! - Run-queue entries and wakers carry the slot's generation, so waking a task that has
//!   finished (and whose slot was reused) does nothing.
//! - Deadlines are registered in the timer heap lazily: only when a task blocks under a scope
//!   with an effective deadline (or a blocked scope's deadline is changed). Stale heap entries
//!   (scope exited, deadline moved) are skipped when popped and pruned when they pile up.
//! - The loop runs the queued tasks in batches; tasks woken during a batch run in the next one.
//!   I/O is polled, the clock read and deadlines fired between batches: at once when nothing is
//!   runnable, else after every 64 task polls.

mod current;
mod names;
mod observe;
mod remote;
mod run_loop;
mod scopes;

pub(crate) use current::{EnterGuard, try_with_core, with_core};
pub(crate) use remote::wake_task;
pub(crate) use scopes::ScopeExit;

use self::names::Names;
use self::remote::RemoteWaker;
use super::deadlines::Deadlines;
use super::ids::TaskId;
pub(crate) use super::ids::TaskRef;
use super::instrument::Instruments;
use super::io::IoDriver;
use super::shared::{Injected, Shared};
use super::signal::SignalState;
use super::task::{self, ErasedFuture};
use super::waiting::Waiting;
use crate::coroutine::TaskName;
use crate::runtime::clock::Clock;
use crate::runtime::status::{NO_STATUS, NodeSettings, StatusId, StatusTree};
use crate::slab::PagedVec;
use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Instant;

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

    /// The task this entry names, in run `run`.
    #[inline]
    fn task(self, run: u32) -> TaskRef {
        TaskRef {
            index: self.index,
            generation: self.generation,
            run,
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
    /// The task's name, interned in `Sched::names`.
    name: u32,
    parent: u32,
    /// A `RemoteWaker` was made for this task (see `Sched::remote_wakers`).
    has_remote_waker: bool,
    /// The scoro call the task blocked in (see `runtime::waiting`); fits in the padding.
    waiting: Waiting,
    /// The nursery (or pending `start`) that owns this task; 0 for the root.
    owner: u64,
}

/// What `Core::poll_task_inner` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stepped {
    /// The entry was stale (the task had finished, or was not queued).
    NotRun,
    /// One step ran; the task goes on.
    Ran,
    /// One step ran and the task has ended.
    Finished,
}

/// How many cancellations one step of a task may be handed before the runtime warns that the
/// task seems to discard them in a loop (see `Core::cancel_delivered`).
const SPIN_WARNING: u32 = 10_000;

/// How many task polls may pass between two looks at I/O, the clock and deadlines.
const MAINTENANCE_INTERVAL: u32 = 64;

pub(crate) struct Sched {
    run: u32,
    tasks: PagedVec<TaskSlot>,
    names: Names,
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
    remote_wakers: HashMap<u32, Arc<RemoteWaker>>,
    /// Counter for `observe::metrics`.
    spawned: u64,
    /// Tasks spawned or made runnable since the instruments last heard of it, in order (`Some`
    /// only when instruments are registered: see `runtime::instrument`).
    instrument_log: Option<Vec<Logged>>,
}

/// What the scheduler logs for the instruments while user code must not run.
#[derive(Clone, Copy, Debug)]
enum Logged {
    Spawned(TaskRef),
    Scheduled(TaskRef),
}

pub(crate) struct Core {
    pub(crate) sched: RefCell<Sched>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) clock: Clock,
    cached_now: Cell<Instant>,
    pub(crate) io: RefCell<IoDriver>,
    /// The tasks an I/O poll found ready (a buffer kept between polls).
    io_woken: RefCell<Vec<TaskRef>>,
    /// The wakers of foreign futures an I/O poll found ready (a buffer kept between polls).
    io_wakers: RefCell<Vec<std::task::Waker>>,
    pub(crate) root_status: StatusId,
    polled: Cell<u32>,
    /// Cancellations handed to the task being polled in this step (see `SPIN_WARNING`).
    cancel_streak: Cell<u32>,
    injected: RefCell<Vec<Injected>>,
    pub(crate) signals: SignalState,
    next_owner: Cell<u64>,
    locals: RefCell<HashMap<TypeId, Rc<dyn Any>>>,
    injected_panic: RefCell<Option<Box<dyn Any + Send>>>,
    /// Jobs of this run on other threads whose completion the run loop waits for (see
    /// `Core::outside_work_started`): while any is in flight the runtime is not idle.
    outside_work: Cell<usize>,
    /// The tasks waiting for those jobs, with when each job started (for the task tree).
    outside_since: RefCell<Vec<(TaskRef, Instant)>>,
    /// The registered instruments, if any (see `runtime::instrument`).
    pub(crate) instruments: Option<Rc<Instruments>>,
    /// Time accounting and counters of the run loop (see `observe`).
    pub(crate) stats: observe::LoopStats,
    /// Run-queue entries taken (for `observe::metrics`), counted per batch, and how many of
    /// them were stale (their task had ended): the difference is the task steps run.
    steps: Cell<u64>,
    stale: Cell<u64>,
}

impl Core {
    pub(crate) fn new(clock: Clock, instruments: Option<Rc<Instruments>>) -> std::io::Result<Core> {
        let io = IoDriver::new()?;
        let shared = Arc::new(Shared::new(io.registry())?);
        let signals = SignalState::new(io.registry())?;
        let run = new_run_id()?;
        let mut statuses = StatusTree::default();
        statuses.run = run;
        let root_status = statuses.create(
            NO_STATUS,
            NodeSettings {
                kind: super::tree::ScopeKind::Root,
                ..NodeSettings::default()
            },
        );
        let now = clock.now();
        Ok(Core {
            sched: RefCell::new(Sched {
                run,
                tasks: PagedVec::default(),
                names: Names::default(),
                free_tasks: Vec::new(),
                live_tasks: 0,
                queue: VecDeque::new(),
                statuses,
                deadlines: Deadlines::default(),
                idle_waiters: Vec::new(),
                newly: Vec::new(),
                pending: Vec::new(),
                remote_wakers: HashMap::new(),
                spawned: 0,
                instrument_log: instruments.as_ref().map(|_| Vec::new()),
            }),
            shared,
            clock,
            cached_now: Cell::new(now),
            io: RefCell::new(io),
            io_woken: RefCell::new(Vec::new()),
            io_wakers: RefCell::new(Vec::new()),
            root_status,
            polled: Cell::new(0),
            cancel_streak: Cell::new(0),
            injected: RefCell::new(Vec::new()),
            signals,
            next_owner: Cell::new(1),
            locals: RefCell::new(HashMap::new()),
            injected_panic: RefCell::new(None),
            outside_work: Cell::new(0),
            outside_since: RefCell::new(Vec::new()),
            instruments,
            stats: observe::LoopStats::new(),
            steps: Cell::new(0),
            stale: Cell::new(0),
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
        self.spawn_owned(future, status, name, None, parent, 0)
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
        location: Option<&'static std::panic::Location<'static>>,
        parent: u32,
        owner: u64,
    ) -> TaskRef {
        let mut s = self.sched.borrow_mut();
        let name = s.names.intern((name, location));
        let slot = TaskSlot {
            generation: 0,
            state: TaskState::Queued,
            woken: false,
            future: Some(future),
            status: status.index,
            name,
            parent,
            has_remote_waker: false,
            waiting: Waiting::Nothing,
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
        s.spawned += 1;
        let t = TaskRef {
            index,
            generation: s.tasks[index].generation,
            run: s.run,
        };
        s.queue.push_back(Queued::of(t));
        if let Some(log) = &mut s.instrument_log {
            log.push(Logged::Spawned(t));
        }
        t
    }

    /// The `TaskRef` of the task with slab index `index` (which must be live).
    #[inline]
    pub(crate) fn task_ref(&self, index: u32) -> TaskRef {
        let s = self.sched.borrow();
        TaskRef {
            index,
            generation: s.tasks[index].generation,
            run: s.run,
        }
    }

    pub(crate) fn task_name(&self, index: u32) -> TaskName {
        let s = self.sched.borrow();
        s.names.get(s.tasks[index].name).0
    }

    /// Makes `t` runnable (no-op if it already is, or if it has finished).
    #[inline]
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
    #[inline]
    pub(crate) fn block_cancellable(&self, index: u32, waiting: Waiting) {
        let mut s = self.sched.borrow_mut();
        s.tasks[index].waiting = waiting;
        s.block(index);
    }

    /// Records the scoro call the running task `index` is about to wait in, for a wait that
    /// cancellation does not interrupt (see `runtime::waiting`).
    #[inline]
    pub(crate) fn note_waiting(&self, index: u32, waiting: Waiting) {
        self.sched.borrow_mut().tasks[index].waiting = waiting;
    }

    /// A waker for task `index` that is safe to give to foreign code (cached per task).
    pub(crate) fn remote_waker(&self, index: u32) -> Waker {
        let mut s = self.sched.borrow_mut();
        let generation = s.tasks[index].generation;
        let run = s.run;
        s.tasks[index].has_remote_waker = true;
        let remote = s.remote_wakers.entry(index).or_insert_with(|| {
            Arc::new(RemoteWaker {
                shared: self.shared.clone(),
                task: TaskRef {
                    index,
                    generation,
                    run,
                },
            })
        });
        Waker::from(remote.clone())
    }

    /// Drops task `t` at once (its future's destructors run). Used when the owner of a task
    /// goes away before the task finished.
    pub(crate) fn drop_task(&self, t: TaskRef) {
        if let Some(instruments) = &self.instruments {
            // Its spawn (and wakes) first, while it is alive: then its exit.
            self.flush_scheduled(instruments);
        }
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
            let _outside = super::context::leave_task();
            drop(fut);
        }
        if let Some(instruments) = &self.instruments {
            instruments.each(|i| i.task_exited(TaskId::of(t)));
        }
    }

    /// A run-queue entry whose task is gone: not a step.
    #[cold]
    fn stale_entry(&self) -> Stepped {
        self.stale.set(self.stale.get() + 1);
        Stepped::NotRun
    }

    /// Polls task `t` once if it is queued; says whether it was, and whether it finished.
    #[inline(always)]
    fn poll_task(&self, q: Queued) -> Stepped {
        let mut fut = {
            let mut s = self.sched.borrow_mut();
            let t = q.task(s.run);
            if !s.is_live(t) || s.tasks[t.index].state != TaskState::Queued {
                return self.stale_entry();
            }
            let slot = &mut s.tasks[t.index];
            slot.state = TaskState::Running;
            let Some(f) = slot.future.take() else {
                return self.stale_entry();
            };
            f
        };
        self.cancel_streak.set(0);
        let waker = task::task_waker(q.index);
        let mut cx = Context::from_waker(&waker);
        let ready = fut.as_mut().poll_task(q.index, &mut cx).is_ready();
        let mut s = self.sched.borrow_mut();
        let t = q.task(s.run);
        if !s.is_live(t) {
            // Freed during its own step (its owner went away): `drop_task` reported the
            // exit; the state machine is dropped here.
            drop(s);
            drop(fut);
            return Stepped::Ran;
        }
        if ready {
            s.free_task(t.index);
            drop(s);
            drop(fut);
            return Stepped::Finished;
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
        Stepped::Ran
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
        self.statuses.unblock(index);
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
                self.statuses.unblock(t.index);
                self.tasks[t.index].state = TaskState::Queued;
                self.queue.push_back(Queued::of(t));
            }
            TaskState::Running => {
                self.statuses.unblock(t.index);
                self.tasks[t.index].woken = true;
            }
            TaskState::Queued | TaskState::Free => return,
        }
        if let Some(log) = &mut self.instrument_log {
            log.push(Logged::Scheduled(t));
        }
    }

    /// Wakes the live task in slot `index`.
    fn wake_index(&mut self, index: u32) {
        let t = TaskRef {
            index,
            generation: self.tasks[index].generation,
            run: self.run,
        };
        self.wake(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancellation::CancelReason;
    use crate::runtime::ids::NO_TASK;
    use std::pin::Pin;

    // The slot stays at 48 bytes: what a blocked task waits in lives in its padding. (Memory
    // per task is one of the benchmarked numbers.)
    #[test]
    fn a_task_slot_is_48_bytes() {
        assert_eq!(std::mem::size_of::<TaskSlot>(), 48);
    }

    // A task or status id kept past its run (by a leaked waiter, a stashed handle) must never
    // name a task or scope of another run, even where slot and generation coincide.
    #[test]
    fn ids_of_another_run_are_never_live_here() {
        let first = Core::new(Clock::Real, None).unwrap();
        let second = Core::new(Clock::Real, None).unwrap();
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
