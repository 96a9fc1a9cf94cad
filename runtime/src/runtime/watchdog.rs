//! The watchdog of `Builder::watchdog`: a thread that notices when the runtime thread has been
//! inside one task step for longer than a threshold, and says so on stderr, naming the task.
//!
//! A step is one poll of a task's state machine. A task that blocks the thread in a step
//! (`std::thread::sleep`, blocking I/O, a long computation) stops every other task, and nothing
//! on the runtime thread can notice while it lasts; another thread can.
//!
//! Invariants:
//! - The runtime thread's part is an instrument, registered only when the watchdog is enabled:
//!   without it nothing here runs. With it, a step costs a few atomic stores, and a spawn or
//!   an exit one uncontended lock (the names of live tasks).
//! - `Steps::seq` is written by the runtime thread only; it is odd exactly while a step runs,
//!   and `Steps::task` names that step's task. The watchdog thread reads the pair as a seqlock:
//!   it believes a task only if `seq` was the same odd value before and after reading it.
//! - The thread lives for one run: `Runtime::run` starts it and its guard stops and joins it
//!   when the run ends, also when unwinding. Between samples it waits on a condition variable
//!   with a timeout (the stop request wakes it), never spinning.
//! - Each stuck step is reported once. A tree-dump signal that arrives while a step is stuck
//!   is announced once per arrival; the tree itself is printed by the run loop, on the runtime
//!   thread, once the step ends.

use super::ids::{TaskId, TaskInfo};
use super::instrument::Instrument;
use super::signal::{count, signal_name};
use crate::poison;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The shortest and longest time between two samples. Within these bounds a sample is taken
/// four times per threshold; the upper bound keeps the announcement of a tree dump prompt.
const MIN_PERIOD: Duration = Duration::from_millis(1);
const MAX_PERIOD: Duration = Duration::from_millis(100);

/// A runtime's watchdog setting: the threshold, and what its instrument publishes.
pub(crate) struct Watchdog {
    threshold: Duration,
    steps: Arc<Steps>,
}

impl fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watchdog")
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

/// What the runtime thread publishes for the watchdog thread.
struct Steps {
    /// Incremented when a step starts and when it ends: odd while one runs.
    seq: AtomicU64,
    /// The task of the step running (`TaskId::to_bits`), stored before `seq` turns odd.
    task: AtomicU64,
    /// The live tasks, for the reports.
    names: Mutex<HashMap<TaskId, TaskInfo>>,
}

impl Steps {
    /// A step of `task` starts (runtime thread).
    fn begin(&self, task: TaskId) {
        let mut seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 == 1 {
            // A step whose end was not reported: end it first, so that no reader takes the
            // new task for the old step's.
            seq += 1;
            self.seq.store(seq, Ordering::Relaxed);
        }
        // A reader that sees the `task` stored below also sees `seq` moved past any earlier
        // step (it pairs with the fence in `current`).
        fence(Ordering::Release);
        self.task.store(task.to_bits(), Ordering::Relaxed);
        self.seq.store(seq + 1, Ordering::Release);
    }

    /// The step running, if any, has ended (runtime thread).
    fn end(&self) {
        let seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 == 1 {
            self.seq.store(seq + 1, Ordering::Release);
        }
    }

    /// The step running now, as its number and task (watchdog thread).
    fn current(&self) -> Option<(u64, TaskId)> {
        let before = self.seq.load(Ordering::Acquire);
        if before & 1 == 0 {
            return None;
        }
        let task = self.task.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let after = self.seq.load(Ordering::Relaxed);
        (before == after).then(|| (before, TaskId::from_bits(task)))
    }

    /// `task` as the reports name it: its function path, id and start location.
    fn describe(&self, task: TaskId) -> String {
        match poison::lock(&self.names).get(&task) {
            Some(info) => {
                let mut text = format!("{} [task {}", info.name, task);
                if let Some(at) = info.location {
                    text.push_str(&format!(", started at {at}"));
                }
                text.push(']');
                text
            }
            None => format!("[task {task}]"),
        }
    }
}

/// The runtime thread's side: publishes steps and task names.
struct StepWatch(Arc<Steps>);

impl Instrument for StepWatch {
    fn before_run(&self) {
        self.0.end();
        poison::lock(&self.0.names).clear();
    }

    fn task_spawned(&self, task: &TaskInfo) {
        poison::lock(&self.0.names).insert(task.id(), task.clone());
    }

    fn task_exited(&self, task: TaskId) {
        poison::lock(&self.0.names).remove(&task);
    }

    fn before_task_step(&self, task: TaskId) {
        self.0.begin(task);
    }

    fn after_task_step(&self, _task: TaskId) {
        self.0.end();
    }

    fn before_io_wait(&self, _timeout: Option<Duration>) {
        // No step runs while the loop looks at I/O (in case a step's end went unreported).
        self.0.end();
    }
}

impl Watchdog {
    /// A watchdog with `threshold` (more than zero), and the instrument that feeds it, to
    /// register with the runtime.
    pub(crate) fn new(threshold: Duration) -> (Watchdog, impl Instrument) {
        let steps = Arc::new(Steps {
            seq: AtomicU64::new(0),
            task: AtomicU64::new(0),
            names: Mutex::new(HashMap::new()),
        });
        (
            Watchdog {
                threshold,
                steps: steps.clone(),
            },
            StepWatch(steps),
        )
    }

    /// Starts the watchdog thread for one run; it stops when the returned guard is dropped.
    /// `dump` is the tree-dump signal of the run and the counter the run loop last saw (see
    /// `SignalState::dump_seen`), if the run has one.
    ///
    /// When the operating system refuses the thread, says so on stderr and runs without.
    pub(crate) fn start(&self, dump: Option<(i32, Arc<AtomicU64>)>) -> WatchdogThread {
        let stop = Arc::new(Stop {
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        let watcher = Watcher {
            steps: self.steps.clone(),
            threshold: self.threshold,
            dump,
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("scoro-watchdog".to_owned())
            .spawn(move || watcher.watch());
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                say(format_args!(
                    "scoro: could not start the watchdog thread ({e}); this run has no watchdog"
                ));
                None
            }
        };
        WatchdogThread { stop, thread }
    }
}

/// The stop request of a watchdog thread.
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// The running watchdog thread of a run: dropping this stops and joins it.
pub(crate) struct WatchdogThread {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WatchdogThread {
    fn drop(&mut self) {
        *poison::lock(&self.stop.stopped) = true;
        self.stop.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // It only reads atomics and writes to stderr (ignoring errors): it does not panic,
            // and if it did there would be nothing to do about it here.
            let _ = thread.join();
        }
    }
}

/// The step the watchdog thread is looking at.
struct Watched {
    seq: u64,
    task: TaskId,
    /// When the watchdog first saw the step running (it started at most one period earlier).
    since: Instant,
    reported: bool,
    /// The counter of the tree-dump signal when its arrival was last announced.
    announced: Option<u64>,
}

/// The watchdog thread's state.
struct Watcher {
    steps: Arc<Steps>,
    threshold: Duration,
    dump: Option<(i32, Arc<AtomicU64>)>,
    stop: Arc<Stop>,
}

impl Watcher {
    fn watch(self) {
        let period = (self.threshold / 4).clamp(MIN_PERIOD, MAX_PERIOD);
        let mut watched: Option<Watched> = None;
        let mut stopped = poison::lock(&self.stop.stopped);
        loop {
            stopped = poison::wait_timeout(&self.stop.wake, stopped, period).0;
            if *stopped {
                return;
            }
            self.sample(&mut watched);
        }
    }

    /// One look at the runtime thread.
    fn sample(&self, watched: &mut Option<Watched>) {
        let now = Instant::now();
        let Some((seq, task)) = self.steps.current() else {
            *watched = None;
            return;
        };
        let w = match watched {
            Some(w) if w.seq == seq => w,
            _ => watched.insert(Watched {
                seq,
                task,
                since: now,
                reported: false,
                announced: None,
            }),
        };
        let held = now.saturating_duration_since(w.since);
        if held < self.threshold {
            return;
        }
        if !w.reported {
            w.reported = true;
            say(format_args!(
                "scoro: watchdog: task {} has held the runtime thread for {:.3} s in one step \
                 (the threshold is {:.3} s), and no other task runs until that step returns. A \
                 blocking call in async code (std::thread::sleep, blocking I/O, waiting on a \
                 std lock or channel) or a long computation does this: move it to a worker \
                 thread with `scoro::to_thread::run_sync`.",
                self.steps.describe(w.task),
                held.as_secs_f64(),
                self.threshold.as_secs_f64(),
            ));
        }
        if let Some((sig, seen)) = &self.dump {
            let arrived = count(*sig);
            if arrived != seen.load(Ordering::Acquire) && w.announced != Some(arrived) {
                w.announced = Some(arrived);
                say(format_args!(
                    "scoro: watchdog: {} arrived while task {} holds the runtime thread ({:.3} s \
                     in one step so far): the task tree will be printed when that step ends.",
                    signal_name(*sig),
                    self.steps.describe(w.task),
                    held.as_secs_f64(),
                ));
            }
        }
    }
}

/// Writes one line to stderr in one write, ignoring errors.
fn say(line: fmt::Arguments<'_>) {
    let text = format!("{line}\n");
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
