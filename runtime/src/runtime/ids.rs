//! How the scheduler names tasks: [`TaskRef`] and the "no task" marker of slab indices. A leaf
//! module, so that every part of the scheduler can use them.

/// Marks "no task" where a task's slab index is stored (`u32::MAX` is never an index).
pub(crate) const NO_TASK: u32 = u32::MAX;

/// A task: the run it belongs to, slab index and generation. A `TaskRef` of another run (kept
/// by some object across runs) never names a task of this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TaskRef {
    pub(in crate::runtime) index: u32,
    pub(in crate::runtime) generation: u32,
    pub(in crate::runtime) run: u32,
}

/// Identifies a task while it runs. Its `Display` form is `slot.generation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskId(u64);

impl TaskId {
    /// The id of task `t`: its slab generation and index in one number, unique among the tasks
    /// alive in its run.
    pub(crate) fn of(t: TaskRef) -> TaskId {
        TaskId((u64::from(t.generation) << 32) | u64::from(t.index))
    }

    /// The id as one number, to keep in an atomic (see `runtime::watchdog`).
    pub(crate) fn to_bits(self) -> u64 {
        self.0
    }

    /// The id that [`to_bits`](TaskId::to_bits) made `bits`.
    pub(crate) fn from_bits(bits: u64) -> TaskId {
        TaskId(bits)
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0 & 0xffff_ffff, self.0 >> 32)
    }
}

/// Describes a task: what [`current_task`](crate::lowlevel::current_task) reports, and what
/// an [`Instrument`](crate::observe::Instrument) is told when a task is spawned.
#[derive(Clone, Debug)]
pub struct TaskInfo {
    pub(crate) id: TaskId,
    pub(crate) name: crate::coroutine::TaskName,
    pub(crate) parent: Option<TaskId>,
    pub(crate) location: Option<&'static std::panic::Location<'static>>,
}

impl TaskInfo {
    /// The task's id, unique among the tasks alive in this run.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The path of the `#[structured]` function the task runs (for the main task, the function
    /// passed to `run`).
    pub fn name(&self) -> String {
        self.name.to_string()
    }

    /// The task that runs the nursery this task belongs to (`None` for the main task).
    pub fn parent(&self) -> Option<TaskId> {
        self.parent
    }

    /// Where the task was started: the `start_soon` or `start` call that made it, or, for a
    /// task that a scoro function started on its caller's behalf (the calls given to
    /// `join_all`, `join` and `race`, the attempts of `open_tcp_stream`, the handlers of
    /// `serve_tcp`), the call of that function. `None` for the main task and for tasks the
    /// runtime starts itself.
    pub fn started_at(&self) -> Option<&'static std::panic::Location<'static>> {
        self.location
    }
}
