//! Instruments: hooks the scheduler calls at the points of a run's life, for users who want to
//! watch it (profilers, loggers, tests). Public as `scoro::observe::Instrument`.
//!
//! Invariants:
//! - Hooks are called on the runtime thread with no scheduler state borrowed, so a hook may
//!   call [`task_tree`](crate::observe::task_tree), [`metrics`](crate::observe::metrics) and
//!   [`current_task`](crate::lowlevel::current_task) (in the step hooks).
//! - `task_scheduled` is reported from inside the scheduler, where user code must not run: it
//!   is logged there and delivered, in order, before the next task step and before the next
//!   wait for I/O. So it always comes before that task's `before_task_step`.
//! - With no instrument registered, each hook site costs one branch on a field that never
//!   changes during a run.

use super::ids::{TaskId, TaskInfo};
use std::time::Duration;

/// Hooks into a runtime's scheduler, registered with
/// [`Builder::instrument`](crate::Builder::instrument). Every method has an empty default, so
/// an instrument implements only what it needs.
///
/// Hooks run on the runtime's thread, between task steps: they must be quick and must not
/// block (no I/O, no locks held by other threads). They may call
/// [`task_tree`](crate::observe::task_tree), [`metrics`](crate::observe::metrics) and, in
/// [`before_task_step`](Instrument::before_task_step) and
/// [`after_task_step`](Instrument::after_task_step),
/// [`current_task`](crate::lowlevel::current_task). A hook that panics ends the run: the
/// remaining tasks are dropped and the panic reaches the caller of `run`.
///
/// ```
/// use scoro::observe::Instrument;
/// use scoro::lowlevel::TaskInfo;
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// /// Counts the tasks a run spawns.
/// struct CountSpawns(Rc<Cell<u32>>);
///
/// impl Instrument for CountSpawns {
///     fn task_spawned(&self, _task: &TaskInfo) {
///         self.0.set(self.0.get() + 1);
///     }
/// }
///
/// #[scoro::structured]
/// async fn three_children() -> Result<(), scoro::ErrorGroup<scoro::CancelRequested>> {
///     scoro::nursery(async |n| -> Result<(), scoro::CancelRequested> {
///         for _ in 0..3 {
///             n.start_soon(scoro::checkpoint());
///         }
///         Ok(())
///     })
///     .await
/// }
///
/// let spawned = Rc::new(Cell::new(0));
/// let mut rt = scoro::Builder::new()
///     .instrument(CountSpawns(spawned.clone()))
///     .build()?;
/// rt.run(three_children()).unwrap();
/// assert_eq!(spawned.get(), 4); // the main task and its three children
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Instrument: 'static {
    /// A run is starting (before its main task is spawned).
    fn before_run(&self) {}

    /// A run has ended: every task has finished or been dropped. (Not called when the run
    /// ends by unwinding from a panic.)
    fn after_run(&self) {}

    /// A task was created: the main task of a run, or a nursery child.
    fn task_spawned(&self, task: &TaskInfo) {
        let _ = task;
    }

    /// A blocked (or running) task was made runnable again.
    fn task_scheduled(&self, task: TaskId) {
        let _ = task;
    }

    /// The scheduler is about to run one step of `task` (poll its state machine once).
    fn before_task_step(&self, task: TaskId) {
        let _ = task;
    }

    /// One step of `task` has ended (it blocked, yielded or finished).
    fn after_task_step(&self, task: TaskId) {
        let _ = task;
    }

    /// A task has ended: it finished, or it was dropped because its nursery went away.
    fn task_exited(&self, task: TaskId) {
        let _ = task;
    }

    /// The run loop is about to wait for I/O for at most `timeout` (`None`: until something
    /// happens; `Some(ZERO)`: only looking).
    fn before_io_wait(&self, timeout: Option<Duration>) {
        let _ = timeout;
    }

    /// The wait for I/O that [`before_io_wait`](Instrument::before_io_wait) announced is over.
    fn after_io_wait(&self, timeout: Option<Duration>) {
        let _ = timeout;
    }
}

/// The instruments of a runtime.
pub(crate) struct Instruments {
    pub(crate) list: Vec<Box<dyn Instrument>>,
}

impl Instruments {
    #[inline]
    pub(crate) fn each(&self, f: impl Fn(&dyn Instrument)) {
        for i in &self.list {
            f(i.as_ref());
        }
    }
}
