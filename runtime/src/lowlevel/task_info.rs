//! `current_task`: what the running task is.

use crate::coroutine::TaskName;
use crate::runtime::seam::{CurrentTask, TaskRef};
use std::fmt;

/// Identifies a task while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskId(u64);

impl TaskId {
    fn of(t: TaskRef) -> TaskId {
        TaskId(t.id())
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 & 0xffff_ffff, self.0 >> 32)
    }
}

/// What [`current_task`] reports.
#[derive(Clone, Debug)]
pub struct TaskInfo {
    id: TaskId,
    name: TaskName,
    parent: Option<TaskId>,
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
}

/// Describes the task that is running.
///
/// # Panics
/// Outside a task of a running scoro runtime.
pub fn current_task() -> TaskInfo {
    let Some(task) = CurrentTask::running() else {
        panic!("`current_task` must be called from a scoro task");
    };
    TaskInfo {
        id: TaskId::of(task.task_ref()),
        name: task.name(),
        parent: task.parent().map(TaskId::of),
    }
}
