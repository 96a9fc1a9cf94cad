//! Entry points ([`run`], [`Runtime`], [`Builder`]) and the scheduler behind them.
//!
//! # The layout of the crate
//!
//! Three layers; each uses only the layers below it.
//!
//! 1. **The scheduler** (this module). Nothing outside it names these files:
//!    - `core`: `Core`, the task slots and the run queue; `core/scopes.rs`, entering, leaving,
//!      cancelling and querying cancel scopes and firing deadlines; `core/run_loop.rs`, the
//!      loop (batches of polls, with I/O, injected work, the clock and deadlines in between);
//!    - `status`: the cancel status tree (each scope's own and effective state) and the
//!      lists of tasks blocked under each scope, which cancellation wakes;
//!    - `deadlines`: the timer heap of the scopes' deadlines (add, next, pop the due ones,
//!      prune stale entries);
//!    - `io`: the I/O driver (the `mio` poller and readiness slots); a poll returns the tasks
//!      it found ready and the scheduler wakes them;
//!    - `signal`: the process-wide signal handlers, the self-pipe, Ctrl-C and the tree-dump
//!      signal;
//!    - `watchdog`: the thread that reports task steps holding the runtime thread too long
//!      (an instrument, registered only when enabled);
//!    - `shared`: the part other threads reach (the injection queue, remote wakers);
//!    - `context` and `task`: which runtime and task this thread is running, the task waker,
//!      the lifetime erasure and the placement check (`task` holds the no-leak argument that
//!      makes nurseries sound).
//! 2. **The seam** (`seam/`): the whole crate-internal API of the scheduler. The current task
//!    (from the poll's `Context`: cancelled, park, yield, its scopes), `TaskRef` (the one task
//!    identity, which also unparks), `RemoteUnparker` for other threads, and the facades
//!    `scopes` (cancel scopes by id), `spawn` (owners, erasure, placement, teardown), `io`
//!    (registration and readiness waits) and `signals`. It hands out no `Core`, no `RefCell`
//!    borrow and no slab index, and on the path of a local wait it allocates nothing and uses
//!    no atomics.
//! 3. **Everything built on the seam**: `wait` (the one wait, whose module states the
//!    checkpoint rule every blocking call follows, and the FIFO `WaitList`), `cancel`,
//!    `nursery`, `combinators`, `time`, `sync`, `channel`, `io`, `net`, `signal`, `threads`,
//!    `compat`, `testing` and `lowlevel`. A new blocking primitive is an implementation of
//!    `wait::Wait` (`sync::Acquire` is the shape in 50 lines), usually over a `WaitList`.
//!
//! No module imports, directly or through others, a sibling that imports it
//! (`tests/module_cycles.rs` checks this for this crate and the macro crate).
//!
//! # The runtime's promise
//!
//! `Runtime::run` does not return (or unwind) before every task started under it has
//! finished or been dropped: the root task is the main call, every other task belongs to a
//! nursery inside it, and on any unwinding the remaining tasks are dropped while the runtime
//! is still entered. That is what makes the lifetime erasure of the main call sound.

pub(crate) mod clock;
pub(crate) mod context;
pub(crate) mod core;
mod deadlines;
pub(crate) mod ids;
pub(crate) mod instrument;
pub(crate) mod io;
pub(crate) mod metrics;
pub(crate) mod seam;
pub(crate) mod shared;
pub(crate) mod signal;
pub(crate) mod status;
pub(crate) mod task;
#[cfg(feature = "tracing")]
pub(crate) mod trace;
pub(crate) mod tree;
pub(crate) mod waiting;
mod watchdog;

use self::core::Core;
use self::ids::NO_TASK;
use crate::CoroutineCall;
use crate::runtime::clock::Clock;
use crate::runtime::clock::MockClock;
use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Runs `main` on a new single-threaded runtime on this thread and returns its value.
///
/// `run` returns once `main` and every task started under it have finished. If a task panics,
/// the panic cancels its siblings, waits for them, and reaches `run`'s caller.
///
/// A run that can never finish because it is deadlocked does not hang: when every task is
/// blocked and nothing could ever wake one (no timer armed, no I/O awaited, no job on a worker
/// thread, no [`RuntimeHandle`](crate::lowlevel::RuntimeHandle), [`Wakeup`](crate::lowlevel::Wakeup)
/// or foreign waker alive, no signal listener, no task in [`sleep_forever`](crate::sleep_forever)),
/// `run` panics with a message that says so and shows the task tree (see
/// [`observe`](crate::observe)). While anything could still wake a task, it waits.
///
/// While `run` is active, Ctrl-C (SIGINT) that no task listens for cancels every task (reason
/// [`CancelReason::Interrupt`](crate::CancelReason::Interrupt)) so that cleanup code runs; a
/// second Ctrl-C ends the process at once. The handler is installed when `run` starts and the
/// previous disposition comes back when it returns (unless another runtime is still running):
/// before and after, Ctrl-C does whatever it did (by default, it ends the process).
///
/// # Panics
/// When the run is deadlocked (above): `scoro: deadlock: every task is blocked ..`, followed by
/// the task tree; the remaining tasks are dropped first, as for any panic. When called on a
/// thread that is already running a scoro runtime (inside a task, `.await` the
/// call or start it in a nursery instead); when the operating system refuses to create the
/// runtime's poller, its waker or its descriptor for signals (`scoro: could not create the
/// runtime: ..`; use [`Builder::build`] to get that as an error); or when it refuses the SIGINT
/// handler (`scoro: could not install the Ctrl-C (SIGINT) handler: ..`, see [`Runtime::run`]).
///
/// ```
/// #[scoro::structured]
/// async fn answer() -> u32 {
///     42
/// }
///
/// assert_eq!(scoro::run(answer()), 42);
/// ```
pub fn run<F: Future>(main: CoroutineCall<F>) -> F::Output {
    let mut rt = Builder::new()
        .build()
        .unwrap_or_else(|e| panic!("scoro: could not create the runtime: {e}"));
    rt.run(main)
}

/// Configures a [`Runtime`].
///
/// ```
/// use scoro::{Builder, testing::MockClock};
/// let mut rt = Builder::new().clock(MockClock::new()).build()?;
/// # let _ = &mut rt;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Default)]
pub struct Builder {
    clock: Option<MockClock>,
    instruments: Vec<Box<dyn instrument::Instrument>>,
    dump_tree_on: Option<i32>,
    watchdog: Option<Duration>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("clock", &self.clock)
            .field("instruments", &self.instruments.len())
            .field("dump_tree_on", &self.dump_tree_on)
            .field("watchdog", &self.watchdog)
            .finish()
    }
}

impl Builder {
    /// A builder with the default settings (the real clock).
    pub fn new() -> Self {
        Builder::default()
    }

    /// Uses a mock clock instead of the real one (for tests).
    pub fn clock(mut self, clock: MockClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Registers an [`Instrument`](crate::observe::Instrument): its hooks are called at every
    /// step of every run of the runtime. Several may be registered; they are called in the
    /// order they were registered. With none registered, the hooks cost one branch each (with
    /// the `tracing` feature, the runtime registers one of its own, which keeps the task spans:
    /// see [`observe`](crate::observe#tracing)).
    pub fn instrument(mut self, instrument: impl instrument::Instrument) -> Self {
        self.instruments.push(Box::new(instrument));
        self
    }

    /// Prints the task tree to stderr whenever `signal` arrives while [`Runtime::run`] runs:
    /// `kill -USR1 <pid>` shows what a program that seems stuck is doing, without stopping it.
    ///
    /// The tree (see [`observe::task_tree`](crate::observe::task_tree)) comes after a line
    /// naming the signal and the process:
    ///
    /// ```text
    /// scoro: task tree on SIGUSR1 (pid 1234):
    /// scoro task tree: 3 tasks (0 running, 0 runnable, 3 blocked)
    /// app::main [task 0.0] blocked in scoro::nursery (waiting for its children)
    /// └── nursery
    ///     ├── app::serve [task 1.0, started at src/main.rs:20:11] blocked in scoro::net::TcpListener::accept
    ///     └── app::worker [task 2.0, started at src/main.rs:21:11] blocked in scoro::sync::Lock::lock
    /// ```
    ///
    /// - The handler is installed when `run` starts, and the signal's previous disposition
    ///   comes back when it returns (unless another runtime or a signal listener still holds
    ///   it), as for Ctrl-C: before and after a run the signal does what it did (SIGUSR1's
    ///   default ends the process).
    /// - The handler only counts the signal. The tree is printed on the runtime's thread the
    ///   next time the run loop looks at I/O (at once when every task is blocked, after the
    ///   current step when a task is running), or before `run` returns if the run ends first.
    ///   A step that never returns delays it; the [watchdog](Builder::watchdog) says so when
    ///   it sees one.
    /// - The signal does nothing else to the run: no task is cancelled or woken.
    /// - If the program also listens for the signal (with
    ///   [`open_signal_receiver`](crate::signal::open_signal_receiver) or
    ///   [`set_handler`](crate::signal::set_handler)), both happen: the tree is printed (as it
    ///   was when the signal arrived, before the listener is woken) and the listener gets the
    ///   signal as usual. A receiver dropped with the signal still queued raises it again,
    ///   which prints the tree again.
    ///
    /// [`build`](Builder::build) fails with [`InvalidInput`](std::io::ErrorKind::InvalidInput)
    /// when `signal` is not a signal number, cannot be caught (SIGKILL, SIGSTOP), is one of the
    /// synchronous signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE) or is SIGINT (Ctrl-C, which
    /// cancels the run). With `#[scoro::main]`, write `#[scoro::main(dump_tree_on = SIGUSR1)]`.
    ///
    /// ```
    /// use scoro::signal::{SIGINT, SIGUSR1};
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> u32 {
    ///     42
    /// }
    ///
    /// let mut rt = scoro::Builder::new().dump_tree_on(SIGUSR1).build()?;
    /// assert_eq!(rt.run(main_task()), 42);
    ///
    /// let refused = scoro::Builder::new().dump_tree_on(SIGINT).build().unwrap_err();
    /// assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dump_tree_on(mut self, signal: i32) -> Self {
        self.dump_tree_on = Some(signal);
        self
    }

    /// Reports on stderr every task step that holds the runtime thread longer than
    /// `threshold`.
    ///
    /// A task runs in steps, from one wait to the next, and no other task runs during a step.
    /// A blocking call in async code (`std::thread::sleep`, blocking file or network I/O, a
    /// `std::sync` lock or channel) or a long computation makes a step last, and the whole
    /// program stands still with it. With a watchdog, a thread started for each run notices
    /// such a step and prints, once per step:
    ///
    /// ```text
    /// scoro: watchdog: task app::crunch [task 1.0, started at src/main.rs:12:11] has held the runtime thread for 2.004 s in one step (the threshold is 2.000 s), and no other task runs until that step returns. A blocking call in async code (std::thread::sleep, blocking I/O, waiting on a std lock or channel) or a long computation does this: move it to a worker thread with `scoro::to_thread::run_sync`.
    /// ```
    ///
    /// - The thread looks four times per threshold, but at most 100 ms apart; the time it
    ///   prints runs from when it first saw the step, so the step may have started up to one
    ///   such period earlier.
    /// - With [`dump_tree_on`](Builder::dump_tree_on), a dump signal that arrives during such
    ///   a step is announced at once, naming the task that holds the thread, since the tree
    ///   itself can only be printed when the step ends:
    ///   `scoro: watchdog: SIGUSR1 arrived while task app::crunch [task 1.0, ..] holds the
    ///   runtime thread (3.100 s in one step so far): the task tree will be printed when that
    ///   step ends.`
    /// - The thread is stopped and joined when the run ends. Without a watchdog nothing of it
    ///   exists; with one, each task step costs a few atomic stores and each spawn and exit of
    ///   a task an uncontended lock (it is an [`Instrument`](crate::observe::Instrument)). If
    ///   the operating system refuses the thread, the run goes on without a watchdog and says
    ///   so on stderr.
    /// - Only task steps are watched, not the time the runtime waits for I/O or timers (an
    ///   idle program is not stuck).
    ///
    /// [`build`](Builder::build) fails with [`InvalidInput`](std::io::ErrorKind::InvalidInput)
    /// when `threshold` is zero. With `#[scoro::main]`, write
    /// `#[scoro::main(watchdog_ms = 2000)]`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> Result<u64, scoro::CancelRequested> {
    ///     // The blocking work runs on a worker thread: the runtime thread stays free.
    ///     scoro::to_thread::run_sync(|| (1..=1_000u64).sum()).await
    /// }
    ///
    /// let mut rt = scoro::Builder::new()
    ///     .watchdog(Duration::from_secs(2))
    ///     .build()?;
    /// assert_eq!(rt.run(main_task()), Ok(500_500));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn watchdog(mut self, threshold: Duration) -> Self {
        self.watchdog = Some(threshold);
        self
    }

    /// Creates the runtime. Fails when the operating system refuses the poller, its waker or
    /// the runtime's descriptor for signals (a duplicate of a process-wide pipe), and with
    /// [`InvalidInput`](std::io::ErrorKind::InvalidInput) for a bad
    /// [`dump_tree_on`](Builder::dump_tree_on) signal or a zero
    /// [`watchdog`](Builder::watchdog) threshold.
    ///
    /// Building installs no signal handler: Ctrl-C (and the tree-dump signal) is taken over
    /// only while [`Runtime::run`] runs, so a program may build a runtime early and still be
    /// interrupted as usual before it runs. So a refused handler is not among the errors of
    /// `build`: it is reported by `run`, which panics (see [`Runtime::run`]).
    pub fn build(self) -> std::io::Result<Runtime> {
        if let Some(sig) = self.dump_tree_on {
            check_dump_signal(sig)?;
        }
        if self.watchdog.is_some_and(|t| t.is_zero()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the watchdog's threshold must be more than zero",
            ));
        }
        let clock = match self.clock {
            Some(m) => Clock::Mock(m),
            None => Clock::Real,
        };
        let mut list = self.instruments;
        // First, so that the other instruments' `before_task_step` runs inside the task's span.
        #[cfg(feature = "tracing")]
        list.insert(
            0,
            Box::new(trace::Spans::default()) as Box<dyn instrument::Instrument>,
        );
        let watchdog = self.watchdog.map(|threshold| {
            let (watchdog, instrument) = watchdog::Watchdog::new(threshold);
            list.push(Box::new(instrument));
            watchdog
        });
        let instruments = (!list.is_empty()).then(|| Rc::new(instrument::Instruments { list }));
        let core = Core::new(clock.clone(), instruments.clone())?;
        Ok(Runtime {
            clock,
            instruments,
            dump_tree_on: self.dump_tree_on,
            watchdog,
            core: Some(Box::new(core)),
            interrupted: false,
        })
    }
}

/// Checks the signal of [`Builder::dump_tree_on`].
fn check_dump_signal(sig: i32) -> std::io::Result<()> {
    let refuse = |why: String| {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("cannot print the task tree on {why}"),
        ))
    };
    if sig == libc::SIGINT {
        return refuse(
            "SIGINT: it is Ctrl-C, which cancels the run; choose another signal, such as SIGUSR1"
                .to_owned(),
        );
    }
    match signal::check_catchable(sig) {
        Ok(_) => Ok(()),
        Err(e) => refuse(format!("{}: {e}", signal::signal_name(sig))),
    }
}

/// A scoro runtime: runs one call at a time on the current thread.
///
/// Each [`run`](Runtime::run) starts from a fresh scheduler; a runtime can be used for several
/// runs in a row (with the same clock).
pub struct Runtime {
    clock: Clock,
    instruments: Option<Rc<instrument::Instruments>>,
    dump_tree_on: Option<i32>,
    watchdog: Option<watchdog::Watchdog>,
    core: Option<Box<Core>>,
    interrupted: bool,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("clock", &self.clock)
            .field("dump_tree_on", &self.dump_tree_on)
            .field("watchdog", &self.watchdog)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Runs `main` to completion and returns its value. See [`run`](crate::run).
    ///
    /// Ctrl-C handling is active from the start of this call to its end: the SIGINT handler is
    /// installed when it starts (a SIGINT that arrived before, while the runtime was only
    /// built or between two runs, does not cancel this run), and SIGINT gets its previous
    /// disposition back when it returns, if no other runtime or signal listener still holds
    /// it.
    ///
    /// # Panics
    /// - When the run is deadlocked: see [`run`](crate::run).
    /// - When called on a thread that is already running a scoro runtime.
    /// - When `sigaction` refuses the SIGINT handler: `scoro: could not install the Ctrl-C
    ///   (SIGINT) handler: ..`, before `main` starts. `run` has no error to return, and
    ///   running without the Ctrl-C handling it promises would be worse; the operating system
    ///   only refuses invalid arguments, so this is not expected to happen. The same holds
    ///   for the handler of [`Builder::dump_tree_on`]: `scoro: could not install the handler
    ///   that prints the task tree on ..`.
    /// - Each run after the first starts from a fresh scheduler: when the operating system
    ///   refuses its poller, waker or signal descriptor, `scoro: could not create the
    ///   runtime: ..`.
    pub fn run<F: Future>(&mut self, main: CoroutineCall<F>) -> F::Output {
        let core = match self.core.take() {
            Some(c) => c,
            None => Box::new(
                Core::new(self.clock.clone(), self.instruments.clone())
                    .unwrap_or_else(|e| panic!("scoro: could not create the runtime: {e}")),
            ),
        };
        let enter = core.enter();
        // Ctrl-C is this run's from here until the tasks are gone (the guard drops after
        // `shutdown`, also when unwinding), and not before: a built runtime that is not
        // running leaves SIGINT alone.
        let ctrl_c = core.signals.handle_ctrl_c().unwrap_or_else(|e| {
            panic!("scoro: could not install the Ctrl-C (SIGINT) handler: {e}")
        });
        // The same for the tree-dump signal, if any.
        let dump = self.dump_tree_on.map(|sig| {
            core.signals.dump_tree_on(sig).unwrap_or_else(|e| {
                panic!(
                    "scoro: could not install the handler that prints the task tree on {}: {e}",
                    signal::signal_name(sig)
                )
            })
        });
        if let Some(instruments) = &self.instruments {
            instruments.each(|i| i.before_run());
        }
        // Stopped and joined when the run ends (after the tasks are gone), also on unwinding.
        let watchdog = self
            .watchdog
            .as_ref()
            .map(|w| w.start(core.signals.dump_seen()));
        let shutdown = ShutdownOnDrop(&core);
        let (future, name) = main.into_parts();
        let out: OutputSlot<F::Output> = Rc::new(RefCell::new(None));
        let root = RootTask {
            future: Some(future),
            out: out.clone(),
        };
        let boxed: Pin<Box<dyn task::TaskFuture + '_>> = Box::pin(root);
        // SAFETY: this function does not return or unwind before the root task has finished or
        // been dropped: `run_until` returns only once `out` is filled (the root finished), and
        // on unwinding `ShutdownOnDrop` drops every remaining task first (module invariant).
        let erased = unsafe { task::erase(boxed) };
        core.spawn(erased, core.root_status, name, NO_TASK);
        core.run_until(&|| out.borrow().is_some());
        // A tree dump asked for after the loop last looked at I/O is not lost.
        core.dump_tree_if_requested();
        self.interrupted = core.signals.interrupted.get();
        let injected_panic = core.take_injected_panic();
        drop(shutdown);
        drop(watchdog);
        drop(dump);
        drop(ctrl_c);
        drop(enter);
        drop(core);
        if let Some(instruments) = &self.instruments {
            instruments.each(|i| i.after_run());
        }
        if let Some(p) = injected_panic {
            panic::resume_unwind(p);
        }
        let result = out.borrow_mut().take();
        match result {
            Some(Ok(v)) => v,
            Some(Err(p)) => panic::resume_unwind(p),
            None => unreachable!("the run loop returned before the main task finished"),
        }
    }
}

/// Drops the remaining tasks when a run ends (normally or by unwinding).
struct ShutdownOnDrop<'a>(&'a Core);

impl Drop for ShutdownOnDrop<'_> {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

pin_project_lite::pin_project! {
    /// The main call of a run, with its result slot.
    struct RootTask<F: Future> {
        #[pin]
        future: Option<F>,
        out: OutputSlot<F::Output>,
    }
}

/// Where the main task leaves its value, or the panic it ended with.
type OutputSlot<T> = Rc<RefCell<Option<Result<T, Box<dyn Any + Send>>>>>;

impl<F: Future> Future for RootTask<F> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            match this.future.as_mut().as_pin_mut() {
                Some(f) => f.poll(cx),
                None => Poll::Pending,
            }
        }));
        let outcome = match result {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(v)) => Ok(v),
            Err(p) => Err(p),
        };
        // Drop the finished (or panicked) state machine now, while the runtime is entered.
        let dropped = panic::catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
        let outcome = match (outcome, dropped) {
            (Ok(_), Err(p)) => Err(p),
            (o, _) => o,
        };
        *this.out.borrow_mut() = Some(outcome);
        Poll::Ready(())
    }
}

/// `#[scoro::main]`: runs `main` (printing the task tree on `dump_tree_on`, with a watchdog of
/// threshold `watchdog`), and exits with status 130 if Ctrl-C shut the run down.
pub(crate) fn run_main<F: Future>(
    main: CoroutineCall<F>,
    dump_tree_on: Option<i32>,
    watchdog: Option<Duration>,
) -> F::Output {
    let mut builder = Builder::new();
    builder.dump_tree_on = dump_tree_on;
    builder.watchdog = watchdog;
    let mut rt = builder
        .build()
        .unwrap_or_else(|e| panic!("scoro: could not create the runtime: {e}"));
    let out = rt.run(main);
    if rt.interrupted {
        drop(out);
        std::process::exit(130);
    }
    out
}

/// `#[scoro::test]`: runs `test`, with a mock clock that autojumps if `autojump`.
pub(crate) fn run_test<F: Future>(test: CoroutineCall<F>, autojump: bool) -> F::Output {
    let mut builder = Builder::new();
    if autojump {
        builder = builder.clock(MockClock::autojump(std::time::Duration::ZERO));
    }
    let mut rt = builder
        .build()
        .unwrap_or_else(|e| panic!("scoro: could not create the runtime: {e}"));
    rt.run(test)
}
