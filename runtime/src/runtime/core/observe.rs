//! Seeing inside the scheduler: the task tree, metrics, instrument calls, and the test that a
//! run is provably stuck (a deadlock).
//!
//! Invariants:
//! - Nothing here runs on the hot path unless asked for: the tree and the deadlock test read
//!   the scheduler's state only when called; instrument calls happen only when instruments are
//!   registered (one branch otherwise).
//! - The deadlock test never reports a run that could still go on: it says "stuck" only when
//!   nothing is runnable and no source of a future wake exists: no registered deadline, no
//!   job on another thread, no injected work, no live handle that another thread could use
//!   (`RuntimeHandle`, `Wakeup`, a waker handed to foreign code), no task waiting for I/O, no
//!   signal listener, and no task in `sleep_forever` (which waits, on purpose, for a
//!   cancellation from outside, such as Ctrl-C).

use super::{Core, Logged, Queued, Stepped, TaskState as SlotState};
use crate::runtime::clock::Clock;
use crate::runtime::context;
use crate::runtime::ids::{NO_TASK, TaskId, TaskInfo, TaskRef};
use crate::runtime::instrument::Instruments;
use crate::runtime::metrics::Metrics;
use crate::runtime::status::NO_STATUS;
use crate::runtime::tree::{ScopeEntry, ScopeKind, TaskEntry, TaskState, TaskTree, TreeNode};
use crate::runtime::waiting::Waiting;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time accounting of the run loop (real time, also under a mock clock).
pub(crate) struct LoopStats {
    started: Instant,
    idle: Cell<Duration>,
}

impl LoopStats {
    pub(crate) fn new() -> LoopStats {
        LoopStats {
            started: Instant::now(),
            idle: Cell::new(Duration::ZERO),
        }
    }

    /// Adds the time of one blocking wait for I/O.
    pub(crate) fn add_idle(&self, d: Duration) {
        self.idle.set(self.idle.get() + d);
    }
}

impl Core {
    // ----- instruments ------------------------------------------------------------------

    /// The `TaskInfo` of live task `t`.
    pub(crate) fn task_info(&self, index: u32) -> TaskInfo {
        let s = self.sched.borrow();
        let slot = &s.tasks[index];
        let (name, location) = s.names.get(slot.name);
        let parent = (slot.parent != NO_TASK).then(|| TaskRef {
            index: slot.parent,
            generation: s.tasks[slot.parent].generation,
            run: s.run,
        });
        TaskInfo {
            id: TaskId::of(TaskRef {
                index,
                generation: slot.generation,
                run: s.run,
            }),
            name,
            parent: parent.map(TaskId::of),
            location,
        }
    }

    /// Delivers the `task_spawned` and `task_scheduled` calls logged since the last delivery,
    /// in order.
    pub(super) fn flush_scheduled(&self, instruments: &Instruments) {
        loop {
            let batch = {
                let mut s = self.sched.borrow_mut();
                match &mut s.instrument_log {
                    Some(log) if !log.is_empty() => std::mem::take(log),
                    _ => return,
                }
            };
            for entry in &batch {
                match *entry {
                    Logged::Spawned(t) => {
                        // A task spawned and dropped before the log was delivered has no
                        // info left: its exit was reported when it was dropped.
                        if self.sched.borrow().is_live(t) {
                            let info = self.task_info(t.index);
                            instruments.each(|i| i.task_spawned(&info));
                        }
                    }
                    Logged::Scheduled(t) => {
                        instruments.each(|i| i.task_scheduled(TaskId::of(t)));
                    }
                }
            }
            let mut s = self.sched.borrow_mut();
            if let Some(log) = &mut s.instrument_log
                && log.is_empty()
            {
                // Keep the allocation.
                let mut batch = batch;
                batch.clear();
                *log = batch;
            }
        }
    }

    /// `poll_task` with the instruments told before and after; says whether a step ran.
    #[inline(never)]
    pub(super) fn poll_task_instrumented(&self, instruments: &Instruments, q: Queued) -> bool {
        self.flush_scheduled(instruments);
        let t = {
            let s = self.sched.borrow();
            let t = q.task(s.run);
            if !s.is_live(t) || s.tasks[t.index].state != SlotState::Queued {
                return false;
            }
            t
        };
        let id = TaskId::of(t);
        instruments.each(|i| i.before_task_step(id));
        match self.poll_task(q) {
            Stepped::NotRun => false,
            Stepped::Ran => {
                instruments.each(|i| i.after_task_step(id));
                true
            }
            Stepped::Finished => {
                instruments.each(|i| i.after_task_step(id));
                instruments.each(|i| i.task_exited(id));
                true
            }
        }
    }

    /// Waits for I/O (see `IoDriver::poll`), telling the instruments, and counts the time
    /// spent blocked.
    pub(super) fn wait_for_io(
        &self,
        timeout: Option<Duration>,
        woken: &mut Vec<TaskRef>,
        wakers: &mut Vec<std::task::Waker>,
    ) -> bool {
        if let Some(instruments) = &self.instruments {
            self.flush_scheduled(instruments);
            instruments.each(|i| i.before_io_wait(timeout));
        }
        let signals = if timeout == Some(Duration::ZERO) {
            self.io.borrow_mut().poll(timeout, woken, wakers)
        } else {
            let start = Instant::now();
            let signals = self.io.borrow_mut().poll(timeout, woken, wakers);
            self.stats.add_idle(start.elapsed());
            signals
        };
        if let Some(instruments) = &self.instruments {
            instruments.each(|i| i.after_io_wait(timeout));
        }
        signals
    }

    // ----- metrics ----------------------------------------------------------------------

    /// The scheduler's counters (worker-thread numbers are filled in by the caller).
    pub(crate) fn metrics(&self) -> Metrics {
        let s = self.sched.borrow();
        let io = self.io.borrow();
        Metrics {
            live_tasks: s.live_tasks,
            tasks_spawned: s.spawned,
            task_steps: self.steps.get() - self.stale.get(),
            run_queue_depth: s.queue.len(),
            uptime: self.stats.started.elapsed(),
            idle_time: self.stats.idle.get(),
            io_events: io.events_seen,
            io_sources: io.registered(),
            timers_armed: s.deadlines.armed(),
            worker_threads_busy: 0,
            worker_threads_idle: 0,
        }
    }

    // ----- the task tree ----------------------------------------------------------------

    /// A snapshot of the run's tasks and scopes (see `runtime::tree`).
    pub(crate) fn task_tree(&self) -> TaskTree {
        self.resolve_pending();
        let now = self.now();
        let running = context::current_task_index();
        let since: HashMap<TaskRef, Instant> =
            self.outside_since.borrow().iter().copied().collect();
        let s = self.sched.borrow();
        let statuses = &s.statuses;

        // Nodes and their child nodes, in creation order.
        let mut child_nodes: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut root = NO_STATUS;
        for (i, n) in statuses.live_nodes() {
            if n.parent == NO_STATUS {
                root = i;
            } else {
                child_nodes.entry(n.parent).or_default().push(i);
            }
        }
        // Each task: the topmost node it entered (if any) and the node it hangs under.
        let mut tops: HashMap<u32, u32> = HashMap::new();
        let mut tasks_at: HashMap<u32, Vec<u32>> = HashMap::new();
        for (index, slot) in s.tasks.iter() {
            if slot.state == SlotState::Free {
                continue;
            }
            let mut node = slot.status;
            let mut top = NO_STATUS;
            while node != NO_STATUS && statuses.node(node).task == index {
                top = node;
                node = statuses.node(node).parent;
            }
            if top != NO_STATUS {
                tops.insert(index, top);
            }
            tasks_at.entry(node).or_default().push(index);
        }

        let task_entry = |index: u32| -> TaskEntry {
            let slot = &s.tasks[index];
            let (name, location) = s.names.get(slot.name);
            let t = TaskRef {
                index,
                generation: slot.generation,
                run: s.run,
            };
            let state = if index == running {
                TaskState::Running
            } else if slot.state == SlotState::Queued || slot.woken {
                TaskState::Runnable
            } else {
                TaskState::Blocked
            };
            let mut wakes_in = None;
            let innermost = statuses.node(slot.status);
            if state == TaskState::Blocked
                && innermost.kind == ScopeKind::Sleep
                && innermost.task == index
            {
                wakes_in = innermost.deadline.map(|d| d.saturating_duration_since(now));
            }
            let parent = (slot.parent != NO_TASK).then(|| {
                TaskId::of(TaskRef {
                    index: slot.parent,
                    generation: s.tasks[slot.parent].generation,
                    run: s.run,
                })
            });
            TaskEntry {
                info: TaskInfo {
                    id: TaskId::of(t),
                    name,
                    parent,
                    location,
                },
                state,
                waiting_in: if state == TaskState::Blocked {
                    slot.waiting.call()
                } else {
                    None
                },
                wakes_in,
                worker_for: since.get(&t).map(|&at| now.saturating_duration_since(at)),
                children: Vec::new(),
            }
        };
        let scope_entry = |index: u32| -> ScopeEntry {
            let n = statuses.node(index);
            ScopeEntry {
                kind: n.kind,
                deadline_in: n.deadline.map(|d| d.saturating_duration_since(now)),
                shield: n.shield,
                cancel_called: n.cancel_called || n.deadline.is_some_and(|d| d <= now),
                cancelled: n.cancelled || n.deadline.is_some_and(|d| d <= now),
                children: Vec::new(),
            }
        };

        // Build iteratively: a work item makes an entry and says where it goes.
        enum Item {
            Task(u32),
            Node(u32),
        }
        // (item, path of child indices from the roots to its parent entry)
        let mut roots: Vec<TreeNode> = Vec::new();
        let mut work: Vec<(Item, Vec<usize>)> = Vec::new();
        let root_items: Vec<Item> = if root == NO_STATUS {
            Vec::new()
        } else {
            tasks_at
                .get(&root)
                .into_iter()
                .flatten()
                .map(|&t| Item::Task(t))
                .collect()
        };
        for item in root_items.into_iter().rev() {
            work.push((item, Vec::new()));
        }
        // Items are pushed in reverse so that they pop in order; each entry is appended to its
        // parent, found by its path.
        while let Some((item, path)) = work.pop() {
            let (entry, children): (TreeNode, Vec<Item>) = match item {
                Item::Task(index) => {
                    let entry = task_entry(index);
                    let mut children = Vec::new();
                    if let Some(&top) = tops.get(&index) {
                        children.push(Item::Node(top));
                    }
                    (TreeNode::Task(entry), children)
                }
                Item::Node(index) => {
                    let n = statuses.node(index);
                    let mut children = Vec::new();
                    for &c in child_nodes.get(&index).into_iter().flatten() {
                        let cn = statuses.node(c);
                        if cn.task == n.task || cn.task == NO_TASK {
                            children.push(Item::Node(c));
                        }
                    }
                    for &t in tasks_at.get(&index).into_iter().flatten() {
                        children.push(Item::Task(t));
                    }
                    (TreeNode::Scope(scope_entry(index)), children)
                }
            };
            // A sleep's scope is shown on its task's line.
            let skip = matches!(&entry, TreeNode::Scope(e) if e.kind == ScopeKind::Sleep);
            let my_path = if skip {
                path.clone()
            } else {
                let siblings = children_at(&mut roots, &path);
                siblings.push(entry);
                let mut p = path.clone();
                p.push(siblings.len() - 1);
                p
            };
            for child in children.into_iter().rev() {
                work.push((child, my_path.clone()));
            }
        }
        TaskTree { roots }
    }

    // ----- deadlocks --------------------------------------------------------------------

    /// Is the run provably stuck: nothing runnable, and nothing that could ever make a task
    /// runnable again? (See the module's invariants; called only when the run loop found
    /// nothing runnable, no idle waiter and no deadline.)
    pub(super) fn provably_stuck(&self) -> bool {
        if self.runnable() || self.outside_work.get() > 0 {
            return false;
        }
        // First count what other threads hold, then take what they sent. In this order, a
        // handle or waker used and dropped while we look cannot be missed: its push happened
        // before its drop, the drop before our count (Acquire), and so the push before the
        // drain below. (The other order misses a wake sent between the drain and the count.)
        if self.held_elsewhere() {
            return false;
        }
        self.drain_injected();
        // What the drained work did (a `run_sync_soon` callback may hand a new handle to a
        // thread, or start a worker job) counts too.
        if self.runnable() || self.outside_work.get() > 0 || self.held_elsewhere() {
            return false;
        }
        if self.signals.has_listeners() || self.io.borrow().has_waiters() {
            return false;
        }
        let s = self.sched.borrow();
        if !s.pending.is_empty() || s.live_tasks == 0 {
            return false;
        }
        !s.tasks
            .iter()
            .any(|(_, t)| t.state == SlotState::Idle && t.waiting == Waiting::SleepForever)
    }

    /// Does another thread (possibly) hold a way to wake a task or send work: a live handle, or
    /// a clone of a waker given to foreign code? Acquire: a holder's last push happened before
    /// its drop, so once the drop is seen here, the push is in the injection queue.
    fn held_elsewhere(&self) -> bool {
        if self.shared.live_handles() > 0 {
            return true;
        }
        let held = self
            .sched
            .borrow()
            .remote_wakers
            .values()
            .any(|w| Arc::strong_count(w) > 1);
        // `Arc::strong_count` is a relaxed load: order it before what the dropped clones did.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        held
    }

    /// Ends a stuck run with a panic that says so and shows the tree.
    #[cold]
    pub(super) fn report_deadlock(&self) -> ! {
        let tree = self.task_tree();
        let clock = match &self.clock {
            Clock::Real => "",
            Clock::Mock(_) => " (the mock clock has no deadline to jump to)",
        };
        panic!(
            "scoro: deadlock: every task is blocked and nothing can wake any of them: no timer{clock}, \
             no I/O, no worker thread, no handle that another thread could use, no signal \
             listener. The run would hang forever, so it ends here.\n{tree}"
        )
    }
}

/// The list of child entries at `path` (indices from the roots down).
fn children_at<'a>(roots: &'a mut Vec<TreeNode>, path: &[usize]) -> &'a mut Vec<TreeNode> {
    let mut list = roots;
    for &i in path {
        list = match &mut list[i] {
            TreeNode::Task(t) => &mut t.children,
            TreeNode::Scope(s) => &mut s.children,
        };
    }
    list
}
