//! The numbers `scoro::observe::metrics` reports: counters the scheduler keeps anyway (or at
//! the cost of one add), read into a plain struct on demand.

use std::time::Duration;

/// A snapshot of a runtime's counters, from [`metrics`](crate::observe::metrics): cheap to
/// take (no allocation, nothing scanned but the worker-thread pool), for a program to export
/// however it likes.
///
/// Counters (`tasks_spawned`, `task_steps`, `io_events`) only grow during a run; the rest are
/// values at the moment of the snapshot. Times are measured on the real clock, also under a
/// [`MockClock`](crate::testing::MockClock).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Tasks alive now (the main task included).
    pub live_tasks: usize,
    /// Tasks created since the run started (the main task included).
    pub tasks_spawned: u64,
    /// Task steps (polls of a task's state machine) since the run started, counted at the end
    /// of each batch of steps (a task reading it does not see its own batch's).
    pub task_steps: u64,
    /// Tasks ready to run, waiting for their turn.
    pub run_queue_depth: usize,
    /// Time since the run started.
    pub uptime: Duration,
    /// Of `uptime`, the time the runtime thread spent blocked waiting for I/O, timers or
    /// other threads (idle). The rest is time spent running tasks and the scheduler.
    pub idle_time: Duration,
    /// I/O readiness events received from the operating system.
    pub io_events: u64,
    /// I/O sources (sockets, pipes, descriptors being waited on) registered now.
    pub io_sources: usize,
    /// Deadlines in the timer heap now (of scopes and sleeps with a task blocked under them).
    pub timers_armed: usize,
    /// Worker threads running a `to_thread` call now (shared by every runtime of the process).
    pub worker_threads_busy: usize,
    /// Worker threads kept alive with nothing to do (shared by every runtime of the process).
    pub worker_threads_idle: usize,
}
