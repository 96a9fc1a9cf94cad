//! Seeing inside a running program: the task tree, metrics and instruments.
//!
//! A scoro program is a tree (tasks named after their `#[structured]` functions, nested in
//! nurseries and cancel scopes), and the runtime knows that tree exactly. This module hands it
//! out:
//!
//! - [`task_tree`]: the run's tasks and scopes as a [`TaskTree`], whose `Display` is an
//!   indented tree: what every blocked task waits in (`scoro::sync::Lock::lock`,
//!   `scoro::net::TcpStream::read`, a sleep and when it ends, a worker thread and for how long),
//!   each scope's deadline, shield and cancelled state, and where each child was started.
//! - [`metrics`]: counters for a program to export (tasks, steps, queue depth, idle time, I/O
//!   events, timers, worker threads).
//! - [`Instrument`]: hooks on the scheduler's events, registered with
//!   [`Builder::instrument`](crate::Builder::instrument).
//!
//! The same tree is printed when a run is deadlocked (every task blocked and nothing left that
//! could wake one: the run panics with the tree instead of hanging).
//!
//! # From outside the program
//!
//! A program that seems stuck can be looked at without changing its code, by two settings of
//! its runtime (also options of `#[scoro::main]`):
//!
//! - [`Builder::dump_tree_on`](crate::Builder::dump_tree_on) (`#[scoro::main(dump_tree_on =
//!   SIGUSR1)]`): `kill -USR1 <pid>` prints the task tree to stderr, after a line
//!   `scoro: task tree on SIGUSR1 (pid 1234):`, and the program carries on undisturbed. A
//!   signal listener of the program for the same signal still receives it.
//! - [`Builder::watchdog`](crate::Builder::watchdog) (`#[scoro::main(watchdog_ms = 2000)]`):
//!   a thread notices when one task step holds the runtime thread longer than the threshold
//!   (a blocking call in async code stops every other task) and prints which task, for how
//!   long, and that the blocking work belongs in
//!   [`to_thread::run_sync`](crate::to_thread::run_sync). A tree dump asked for during such
//!   a step is printed when the step ends; the watchdog says so at once, naming the task.
//!
//! # Guarantees
//! - With none of this in use, the cost on the scheduler's hot paths is one byte stored when a
//!   task blocks (what it waits in), counters, and one branch per hook site.
//! - A deadlock is reported only when no task can ever run again: no timer is armed, no I/O is
//!   awaited, no job runs on a worker thread, no handle another thread could use is alive
//!   ([`RuntimeHandle`](crate::lowlevel::RuntimeHandle), [`Wakeup`](crate::lowlevel::Wakeup),
//!   a waker handed to foreign code), no signal listener is open, and no task is in
//!   [`sleep_forever`](crate::sleep_forever) (which waits on purpose for a cancellation from
//!   outside, such as Ctrl-C).

pub use crate::runtime::instrument::Instrument;
pub use crate::runtime::metrics::Metrics;
use crate::runtime::seam;
pub use crate::runtime::tree::{ScopeEntry, ScopeKind, TaskEntry, TaskState, TaskTree, TreeNode};

/// A snapshot of the current run's task tree: every task and scope, nested as the program
/// nests them. Print it (`Display`) or walk it.
///
/// ```
/// #[scoro::structured]
/// async fn child(lock: &scoro::sync::Lock<()>) -> Result<(), scoro::CancelRequested> {
///     let _guard = lock.lock().await?;
///     Ok(())
/// }
///
/// #[scoro::structured]
/// async fn main_task() -> Result<(), scoro::ErrorGroup<scoro::CancelRequested>> {
///     let lock = scoro::sync::Lock::new(());
///     let held = lock.lock().await?;
///     scoro::nursery(async |n| -> Result<(), scoro::CancelRequested> {
///         n.start_soon(child(&lock));
///         scoro::testing::wait_all_tasks_blocked().await?;
///         let tree = scoro::observe::task_tree();
///         let child = tree.find("child").unwrap();
///         assert_eq!(child.waiting_in(), Some("scoro::sync::Lock::lock"));
///         println!("{tree}");
///         drop(held);
///         Ok(())
///     })
///     .await
/// }
///
/// scoro::run(main_task()).unwrap();
/// ```
///
/// # Panics
/// Outside a running scoro runtime.
pub fn task_tree() -> TaskTree {
    seam::task_tree()
}

/// A snapshot of the current runtime's counters.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> scoro::observe::Metrics {
///     scoro::observe::metrics()
/// }
///
/// let m = scoro::run(main_task());
/// assert_eq!(m.live_tasks, 1);
/// assert!(m.task_steps >= 1);
/// ```
///
/// # Panics
/// Outside a running scoro runtime.
pub fn metrics() -> Metrics {
    let mut m = seam::metrics();
    let (busy, idle) = crate::threads::worker_threads();
    m.worker_threads_busy = busy;
    m.worker_threads_idle = idle;
    m
}
