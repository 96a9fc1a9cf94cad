//! `current_task`: what the running task is.

pub use crate::runtime::ids::{TaskId, TaskInfo};
use crate::runtime::seam::CurrentTask;

/// Describes the task that is running.
///
/// # Panics
/// Outside a task of a running scoro runtime.
pub fn current_task() -> TaskInfo {
    let Some(task) = CurrentTask::running() else {
        panic!("`current_task` must be called from a scoro task");
    };
    task.info()
}
