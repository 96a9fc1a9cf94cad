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
//!
//! # Tracing
//!
//! With the `tracing` feature, every runtime reports to [`tracing`](https://docs.rs/tracing)
//! (an instrument of its own, registered by [`Builder::build`](crate::Builder::build) before
//! those of [`Builder::instrument`](crate::Builder::instrument)). Install a subscriber before
//! [`run`](crate::run), for instance `tracing_subscriber::fmt().init()`.
//!
//! **Task spans**: target `scoro::task`, level `INFO`, name `task`, one per task, with the
//! fields `function` (the path of the `#[structured]` function the task runs), `id` (its
//! [`TaskId`](crate::lowlevel::TaskId)), `parent` (the id of the task that runs its nursery;
//! absent for the main task) and `started_at` (the `start_soon` or `start` call, as
//! `file:line:col`; absent for the main task). A task's span is a child of its parent task's
//! span (the main task's, of the span current when `run` was called); it is entered around
//! each step of the task (so whatever the task logs is inside it) and closed when the task
//! exits, finished or dropped. With `tracing-subscriber`'s `fmt` layer a line logged by a
//! nursery child reads:
//!
//! ```text
//!  INFO task{function=demo::app id=0.0}:task{function=demo::fetch id=2.0 parent=0.0 started_at=src/main.rs:44:11}: demo: fetching key="missing"
//! ```
//!
//! **Events**, level `DEBUG`:
//!
//! | target | message | fields | when |
//! | --- | --- | --- | --- |
//! | `scoro::cancel` | `cancellation delivered` | `task`, `reason` ([`CancelReason`](crate::CancelReason)) | a checkpoint of `task` returns `Err(CancelRequested)`: once per step and reason (a sleep that simply ends is not reported) |
//! | `scoro::cancel` | `deadline expired` | `task` (the task that entered the scope), `scope` ([`ScopeKind`]) | a scope's deadline passes and cancels it (not a sleep's own deadline) |
//! | `scoro::nursery` | `nursery collected an error` | `nursery` (the task running it), `error_type`, `first` | a child (or the body) ended with a real error; the first one cancels the nursery |
//! | `scoro::nursery` | `nursery collected a panic` | `nursery`, `panic` (the message), `first` | a child (or the body) panicked; the first panic is resumed by the nursery |
//!
//! The cancellation and nursery events happen during a step of the task concerned, so they
//! sit inside its span; a deadline may expire between steps, outside any.
//!
//! **tokio-console**: each task also has a span at level `TRACE` in the shape
//! [console-subscriber](https://docs.rs/console-subscriber) reads (target `tokio::task`, name
//! `runtime.spawn`, fields `kind = "scoro"`, `task.name` (the function path), `task.id`
//! (unique in the process), `scoro.id` and `loc.file`/`loc.line`/`loc.col`), entered with
//! the task span, and its wakes are `tokio::task::waker` events. So `tokio-console` lists
//! scoro tasks with their names, locations, polls, wakes and busy, scheduled and idle times.
//! console-subscriber checks that it was built for an instrumented tokio; a program whose
//! tasks are scoro's builds it with `RUSTFLAGS="--cfg console_without_tokio_unstable"`
//! instead of `tokio_unstable` (`examples/console` in the repository is such a program, in a
//! workspace of its own). The wakes are reported just before the next step rather than
//! when they happen (the scheduled times shown are a little short), and none counts as a
//! self-wake. A task is shown holding one waker for its whole life: scoro wakes tasks through
//! its scheduler, not through clones of a `Waker`.
//!
//! **Cost**: without the feature nothing of this is compiled. With it, the scheduler always
//! has an instrument, so it takes the path that calls the instrument hooks; each hook checks
//! first whether a subscriber is interested (`tracing` caches that per call site), and a
//! task no subscriber wanted a span for has no entry to look up. With a subscriber, a task
//! costs its spans, and a step entering and leaving them.

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
