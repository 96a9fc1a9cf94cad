//! The `tracing` feature: a span per task, entered around each of its steps (an instrument the
//! builder registers by itself), and the events of the scheduler and of nurseries. The shapes
//! are described in `scoro::observe`; this file is the only place that emits them.
//!
//! Invariants:
//! - Each live task with an enabled span has one entry in `Spans::tasks`, removed (and the spans
//!   closed) when the task exits. A task whose spans are all disabled has no entry, so with no
//!   subscriber interested a step costs one lookup in an empty map.
//! - A task's spans are entered only between its `before_task_step` and `after_task_step`
//!   (`Spans::entered`); a task that exits during its own step has its spans exited first.
//! - The console span of a task (target `tokio::task`, name `runtime.spawn`) has the shape
//!   console-subscriber reads; its wakes are `tokio::task::waker` events naming it by span id.
//! - Nothing here names the scheduler's types: callers hand over plain values (ids, the status
//!   tree), so the scheduler can call these functions without an import cycle.
//! - No event reaches a subscriber while the scheduler's state is borrowed (a subscriber may ask
//!   the runtime about the current task): the scheduler's events are noted in `PENDING` where
//!   they happen and emitted by `flush_events`, which the scheduler calls once it has let go of
//!   its state and the instrument calls at each of its hooks.

use super::ids::{TaskId, TaskInfo, TaskRef};
use super::instrument::Instrument;
use super::status::{ScopeKind, StatusTree};
use crate::cancellation::CancelReason;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::{Level, Span};

/// Target of the task spans.
const TASK_TARGET: &str = "scoro::task";
/// Target of the cancellation and deadline events.
const CANCEL_TARGET: &str = "scoro::cancel";
/// Target of the nursery events.
const NURSERY_TARGET: &str = "scoro::nursery";

thread_local! {
    /// The reasons of the cancellations reported in the current step (see `cancel_delivered`).
    static REPORTED: Cell<Option<CancelReason>> = const { Cell::new(None) };
    /// The scheduler's events not emitted yet, in order (see the module invariants).
    static PENDING: RefCell<Vec<Pending>> = const { RefCell::new(Vec::new()) };
}

/// An event of the scheduler, noted while its state is borrowed.
enum Pending {
    Cancel {
        task: TaskId,
        reason: CancelReason,
    },
    Deadline {
        task: Option<TaskId>,
        scope: ScopeKind,
    },
}

/// Emits the scheduler's events noted so far (see the module invariants). Must not be called
/// while the scheduler's state is borrowed.
pub(crate) fn flush_events() {
    loop {
        // Taken out one at a time: a subscriber may cause another event to be noted.
        let Some(event) = PENDING.with_borrow_mut(|p| (!p.is_empty()).then(|| p.remove(0))) else {
            return;
        };
        match event {
            Pending::Cancel { task, reason } => tracing::debug!(
                target: CANCEL_TARGET,
                task = %task,
                reason = ?reason,
                "cancellation delivered",
            ),
            Pending::Deadline { task, scope } => tracing::debug!(
                target: CANCEL_TARGET,
                task = task.map(tracing::field::display),
                scope = ?scope,
                "deadline expired",
            ),
        }
    }
}

/// Notes an event to emit (only if a subscriber may want it: the caller checked).
fn note(event: Pending) {
    PENDING.with_borrow_mut(|p| p.push(event));
}

/// The ids console spans carry as `task.id` (tokio-console shows them in its ID column):
/// unique in the process, like tokio's task ids.
static NEXT_CONSOLE_ID: AtomicU64 = AtomicU64::new(1);

/// The spans of one task.
struct TaskSpans {
    /// `task`, target `scoro::task`.
    task: Span,
    /// `runtime.spawn`, target `tokio::task`, for tokio-console.
    console: Span,
}

impl TaskSpans {
    fn enter(&self) {
        self.task.with_subscriber(|(id, d)| d.enter(id));
        self.console.with_subscriber(|(id, d)| d.enter(id));
    }

    fn exit(&self) {
        self.console.with_subscriber(|(id, d)| d.exit(id));
        self.task.with_subscriber(|(id, d)| d.exit(id));
    }

    /// Tells console-subscriber about a waker operation on this task.
    fn waker_op(&self, op: &'static str) {
        if let Some(id) = self.console.id() {
            tracing::trace!(target: "tokio::task::waker", op, task.id = id.into_u64());
        }
    }
}

/// The instrument that keeps the task spans; registered by `Builder::build`.
#[derive(Default)]
pub(crate) struct Spans {
    tasks: RefCell<HashMap<TaskId, TaskSpans>>,
    /// The task whose spans are entered (inside a step).
    entered: Cell<Option<TaskId>>,
}

impl Instrument for Spans {
    fn task_spawned(&self, info: &TaskInfo) {
        let parent = info.parent();
        let location = info.started_at();
        let task = tracing::span!(
            target: TASK_TARGET,
            // The parent task's span (a child may be started by a grandchild holding the
            // nursery: what is current then is not the parent); the current span for the
            // main task, whose span then nests in the caller's of `run`.
            parent: match parent.and_then(|p| self.tasks.borrow().get(&p).map(|s| s.task.id())) {
                Some(id) => id,
                None => Span::current().id(),
            },
            Level::INFO,
            "task",
            function = %info.name,
            id = %info.id(),
            parent = parent.map(tracing::field::display),
            started_at = location.map(tracing::field::display),
        );
        let console = tracing::span!(
            target: "tokio::task",
            parent: &task,
            Level::TRACE,
            "runtime.spawn",
            kind = "scoro",
            task.name = %info.name,
            task.id = NEXT_CONSOLE_ID.fetch_add(1, Ordering::Relaxed),
            scoro.id = %info.id(),
            loc.file = location.map(|l| l.file()),
            loc.line = location.map(|l| l.line()),
            loc.col = location.map(|l| l.column()),
        );
        if task.is_disabled() && console.is_disabled() {
            return;
        }
        let spans = TaskSpans { task, console };
        // scoro wakes a task through the `TaskRef` the scheduler keeps for it, not through
        // clones of a `Waker`: shown to the console as one waker held for the task's life (so
        // that it does not report an idle task as having lost its waker).
        spans.waker_op("waker.clone");
        self.tasks.borrow_mut().insert(info.id(), spans);
    }

    fn task_scheduled(&self, task: TaskId) {
        if let Some(spans) = self.tasks.borrow().get(&task) {
            spans.waker_op("waker.wake_by_ref");
        }
    }

    fn before_task_step(&self, task: TaskId) {
        // Deadlines the run loop fired before this step.
        flush_events();
        REPORTED.set(None);
        // (A lookup in an empty map does not hash.)
        if let Some(spans) = self.tasks.borrow().get(&task) {
            spans.enter();
            self.entered.set(Some(task));
        }
    }

    fn after_task_step(&self, task: TaskId) {
        // Deadlines the step found expired (leaving a scope, say): inside the task's span.
        flush_events();
        if self.entered.get() == Some(task) {
            self.entered.set(None);
            if let Some(spans) = self.tasks.borrow().get(&task) {
                spans.exit();
            }
        }
    }

    fn task_exited(&self, task: TaskId) {
        let removed = {
            let mut tasks = self.tasks.borrow_mut();
            // No hashing when no task has spans (no subscriber wanted them).
            if tasks.is_empty() {
                None
            } else {
                tasks.remove(&task)
            }
        };
        let Some(spans) = removed else {
            return;
        };
        if self.entered.get() == Some(task) {
            self.entered.set(None);
            spans.exit();
        }
        spans.waker_op("waker.drop");
        // Dropping the last handles closes the spans.
        drop(spans);
    }

    fn before_io_wait(&self, _: Option<std::time::Duration>) {
        flush_events();
    }

    fn after_run(&self) {
        flush_events();
        // Every task has exited; nothing of this run may linger into the next one.
        self.entered.set(None);
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        drop(tasks);
    }
}

/// Notes that a cancellation is handed to the task `task` at a checkpoint (`status` is its
/// innermost cancel status). Cancellation is level-triggered and a call may look twice (a sleep asks
/// again after leaving its scope): within one step, only a change of reason is reported again.
/// A sleep ending is not reported: it is the sleep's own deadline, caught by the sleep, which
/// no caller sees.
#[cold]
pub(crate) fn cancel_delivered(
    statuses: &StatusTree,
    status: u32,
    task: TaskRef,
    reason: CancelReason,
) {
    if !tracing::enabled!(target: CANCEL_TARGET, Level::DEBUG)
        || sleep_ends(statuses, status)
        || REPORTED.replace(Some(reason)) == Some(reason)
    {
        return;
    }
    note(Pending::Cancel {
        task: TaskId::of(task),
        reason,
    });
}

/// Is the cancellation of status `status` a sleep's own deadline (which the sleep catches)?
fn sleep_ends(statuses: &StatusTree, status: u32) -> bool {
    let n = statuses.node(status);
    n.kind == ScopeKind::Sleep && n.cancel_called && {
        // The same test as the sleep's scope exit: no enclosing cancellation shows through.
        let parent = n.parent;
        !statuses.node(parent).cancelled || n.shield
    }
}

/// Notes that the deadline of scope `status` has passed and the scope is about to be cancelled;
/// `task_ref` names a task by slab index. Sleeps are left out (see `cancel_delivered`).
#[cold]
pub(crate) fn deadline_fired(
    statuses: &StatusTree,
    status: u32,
    task_ref: impl FnOnce(u32) -> TaskRef,
) {
    let n = statuses.node(status);
    if n.cancel_called
        || n.kind == ScopeKind::Sleep
        || !tracing::enabled!(target: CANCEL_TARGET, Level::DEBUG)
    {
        return;
    }
    let task = (n.task != super::ids::NO_TASK).then(|| TaskId::of(task_ref(n.task)));
    note(Pending::Deadline {
        task,
        scope: n.kind,
    });
}

/// The nursery run by task `nursery` collected an error of type `error_type` (from the task
/// whose span is current: a child, or the nursery's own body); `first` when it is the first,
/// which cancels the nursery.
#[cold]
pub(crate) fn nursery_error(nursery: TaskRef, error_type: &'static str, first: bool) {
    tracing::debug!(
        target: NURSERY_TARGET,
        nursery = %TaskId::of(nursery),
        error_type,
        first,
        "nursery collected an error",
    );
}

/// The nursery run by task `nursery` collected a panic (see `nursery_error`); `first` when it
/// is the panic the nursery will resume.
#[cold]
pub(crate) fn nursery_panic(nursery: TaskRef, payload: &(dyn Any + Send), first: bool) {
    tracing::debug!(
        target: NURSERY_TARGET,
        nursery = %TaskId::of(nursery),
        panic = panic_message(payload),
        first,
        "nursery collected a panic",
    );
}

/// A panic's message, when it has one (`panic!` with a string or a format).
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}
