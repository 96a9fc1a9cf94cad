//! Low-level building blocks: the primitives everything else in scoro is made of.
//!
//! - [`suspend`] blocks the current task until something calls [`Wakeup::wake`], with an
//!   `abort` callback that says whether a cancellation can interrupt the wait;
//! - [`ParkingLot`] is a FIFO of parked tasks, the basis of locks and conditions;
//! - [`RuntimeHandle`] lets other threads run code on the runtime;
//! - [`wait_readable`] and [`wait_writable`] wait for any file descriptor;
//! - [`current_task`] describes the running task.

mod handle;
mod io_wait;
mod parking_lot;
mod suspend;
mod task_info;

pub use handle::{RunFinished, RuntimeHandle};
pub use io_wait::{wait_readable, wait_writable};
pub use parking_lot::ParkingLot;
pub use suspend::{Abort, Wakeup, suspend};
pub use task_info::{TaskId, TaskInfo, current_task};
