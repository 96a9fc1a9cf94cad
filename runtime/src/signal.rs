// Invariants (for maintainers):
// - A listener installs the process-wide counting handler for each of its signals
//   (refcounted, see `runtime::signal`) and gives it back when dropped; the last user of a
//   signal restores the disposition that was there before.
// - A listener notices a signal by comparing the per-signal counters with what it saw
//   last, when the runtime reads the signal pipe and whenever a receiver looks. Only
//   signals that arrive after it was opened count.
//! Process signals: [`wait_for_ctrl_c`], [`open_signal_receiver`] and [`set_handler`].
//!
//! By default, Ctrl-C (SIGINT) during a run cancels every task (reason
//! [`Interrupt`](crate::CancelReason::Interrupt)) so that cleanup code runs, and a second
//! Ctrl-C ends the process. A program that wants to decide for itself listens for SIGINT
//! with one of the functions here: while anything listens for SIGINT, Ctrl-C no longer
//! cancels the run.
//!
//! Guarantees:
//! - A receiver coalesces: a signal that is already pending is not queued twice, and pending
//!   signals come out in the order they arrived (so one busy signal cannot starve another;
//!   signals noticed in the same look are ordered by their latest arrival). Signals still
//!   pending when a receiver is dropped are raised again, so they reach whoever handles them
//!   next, as in Trio (except while the thread panics: the process should report the panic,
//!   not die of the signal).
//! - Handler callbacks run on the runtime's thread, outside any task, after the signal was
//!   noticed (never inside the operating system's signal handler).

use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::signals::{self as plumbing, SignalListener};
use crate::runtime::seam::{self, Injected, Remote as Shared};
use crate::runtime::seam::{CurrentTask, TaskRef, Waiting};
use crate::wait::{Aborted, Step, Wait, WaitCall};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;

/// Interrupt from the keyboard (Ctrl-C).
pub const SIGINT: i32 = libc::SIGINT;
/// Termination request (the default of `kill`).
pub const SIGTERM: i32 = libc::SIGTERM;
/// Hang-up: the controlling terminal went away; daemons use it as "reload".
pub const SIGHUP: i32 = libc::SIGHUP;
/// Quit from the keyboard (Ctrl-\).
pub const SIGQUIT: i32 = libc::SIGQUIT;
/// User-defined signal 1.
pub const SIGUSR1: i32 = libc::SIGUSR1;
/// User-defined signal 2.
pub const SIGUSR2: i32 = libc::SIGUSR2;
/// The terminal window changed size.
pub const SIGWINCH: i32 = libc::SIGWINCH;

/// Waits for Ctrl-C (SIGINT). While it waits, Ctrl-C does not cancel the run: the caller
/// decides what happens (typically: cancel the server and let it shut down cleanly).
///
/// A checkpoint: returns `Err(CancelRequested)` if the task is cancelled first.
///
/// ```no_run
/// use scoro::{nursery, signal::wait_for_ctrl_c};
///
/// #[scoro::structured]
/// async fn serve_forever() -> Result<(), scoro::CancelRequested> {
///     scoro::sleep_forever().await?;
///     Ok(())
/// }
///
/// #[scoro::main]
/// async fn main() -> Result<(), scoro::ErrorGroup<scoro::CancelRequested>> {
///     nursery(async |n| -> Result<(), scoro::CancelRequested> {
///         n.start_soon(serve_forever());
///         wait_for_ctrl_c().await?;
///         println!("shutting down");
///         n.cancel();
///         Ok(())
///     })
///     .await
/// }
/// ```
pub fn wait_for_ctrl_c() -> CoroutineCall<impl Future<Output = Result<(), CancelRequested>>> {
    CoroutineCall::internal(
        async {
            // The runtime itself holds the SIGINT handler, so this cannot fail.
            let mut rx = open_signal_receiver(&[SIGINT])
                .unwrap_or_else(|e| panic!("scoro: could not listen for Ctrl-C: {e}"));
            rx.recv_as(Waiting::WaitForCtrlC).await.map(drop)
        },
        "scoro::signal",
        "wait_for_ctrl_c",
    )
}

/// Starts listening for `signals` and returns the receiver that reports them.
///
/// Signals that arrive while the receiver lives are queued in it (a signal already queued
/// is not queued twice) until [`recv`](SignalReceiver::recv) takes them, in the order they
/// arrived. Dropping the receiver stops listening; signals still queued then are raised
/// again, so that they reach the previous handler (for SIGINT: the runtime, which cancels
/// the run; for most other signals the default action ends the process). Receive them all
/// first if that is not wanted.
///
/// Fails with [`InvalidInput`](io::ErrorKind::InvalidInput) when `signals` is empty or holds
/// a number that is not a signal or cannot be handled (SIGKILL, SIGSTOP, and the synchronous
/// SIGSEGV, SIGBUS, SIGILL, SIGFPE).
///
/// # Panics
/// Outside a running scoro runtime.
///
/// ```
/// use scoro::signal::{open_signal_receiver, SIGUSR1};
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<i32> {
///     let mut rx = open_signal_receiver(&[SIGUSR1])?;
///     // Send ourselves the signal (as `kill -USR1 <pid>` would).
///     std::process::Command::new("kill")
///         .args(["-USR1", &std::process::id().to_string()])
///         .status()?;
///     Ok(rx.recv().await?)
/// }
///
/// assert_eq!(scoro::run(main_task())?, SIGUSR1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn open_signal_receiver(signals: &[i32]) -> io::Result<SignalReceiver> {
    let listener = Listener::open(
        signals,
        Kind::Receiver {
            pending: RefCell::new(VecDeque::new()),
            waiter: Cell::new(None),
        },
    )?;
    Ok(SignalReceiver { listener })
}

/// Runs `handler(signal)` whenever one of `signals` arrives, for as long as the returned
/// [`SignalHandler`] lives.
///
/// `handler` runs on the runtime's thread, outside any task, soon after the signal arrived.
/// It must not block; it can resume a task through a [`Wakeup`](crate::lowlevel::Wakeup),
/// or hand work to one. A panic in it ends the run with that panic (there is no task to
/// report it to). Listening for SIGINT this way keeps Ctrl-C from cancelling the run.
///
/// This is the primitive under [`open_signal_receiver`]; with
/// [`suspend`](crate::lowlevel::suspend) it makes a wait for Ctrl-C in a few lines:
///
/// ```
/// use std::cell::RefCell;
/// use scoro::lowlevel::{suspend, Abort};
/// use scoro::signal::{set_handler, SIGINT};
/// use scoro::CancelRequested;
///
/// #[scoro::structured]
/// async fn wait_for_ctrlc() -> Result<(), CancelRequested> {
///     let handler = RefCell::new(None);
///     suspend(
///         |wakeup| {
///             let h = set_handler(&[SIGINT], move |_| {
///                 wakeup.wake(());
///             });
///             *handler.borrow_mut() = h.ok();
///         },
///         || {
///             handler.borrow_mut().take(); // stop listening: nothing will wake us now
///             Abort::Succeeded
///         },
///     )
///     .await
/// }
///
/// #[scoro::structured]
/// async fn main_task() -> Option<Result<(), CancelRequested>> {
///     // Nobody presses Ctrl-C here; a timeout ends the wait.
///     scoro::move_on_after(std::time::Duration::from_millis(10), wait_for_ctrlc()).await
/// }
///
/// assert_eq!(scoro::run(main_task()), None);
/// ```
///
/// # Panics
/// Outside a running scoro runtime.
pub fn set_handler(
    signals: &[i32],
    handler: impl Fn(i32) + Send + Sync + 'static,
) -> io::Result<SignalHandler> {
    let shared = seam::remote();
    let listener = Listener::open(
        signals,
        Kind::Handler {
            handler: Arc::new(handler),
            shared,
        },
    )?;
    Ok(SignalHandler {
        _listener: listener,
    })
}

/// Reports signals as they arrive; made by [`open_signal_receiver`].
///
/// A typical use: reload the configuration on every SIGHUP, in a task of its own.
///
/// ```no_run
/// use scoro::signal::{open_signal_receiver, SIGHUP};
///
/// #[scoro::structured]
/// async fn reload_on_sighup() -> std::io::Result<()> {
///     let mut hangups = open_signal_receiver(&[SIGHUP])?;
///     loop {
///         hangups.recv().await?;
///         println!("reloading the configuration");
///     }
/// }
/// ```
pub struct SignalReceiver {
    listener: Rc<Listener>,
}

impl fmt::Debug for SignalReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalReceiver")
            .field("signals", &self.listener.signals)
            .field("pending", &self.pending())
            .finish()
    }
}

impl SignalReceiver {
    /// Waits for the next signal and returns its number. A checkpoint: returns
    /// `Err(CancelRequested)` if the task is cancelled first (no signal is lost then: it stays
    /// queued).
    pub fn recv(
        &mut self,
    ) -> CoroutineCall<impl Future<Output = Result<i32, CancelRequested>> + '_> {
        CoroutineCall::internal(
            self.recv_as(Waiting::SignalRecv),
            "scoro::signal",
            "SignalReceiver::recv",
        )
    }

    /// [`recv`](SignalReceiver::recv) on behalf of the public call `waiting` names.
    fn recv_as(
        &mut self,
        waiting: Waiting,
    ) -> impl Future<Output = Result<i32, CancelRequested>> + '_ {
        WaitCall::new(Recv {
            listener: &self.listener,
            waiting,
        })
    }

    /// How many signals are queued (each signal counts once however often it arrived).
    pub fn pending(&self) -> usize {
        self.listener.refresh();
        match &self.listener.kind {
            Kind::Receiver { pending, .. } => pending.borrow().len(),
            Kind::Handler { .. } => 0,
        }
    }
}

impl Drop for SignalReceiver {
    fn drop(&mut self) {
        self.listener.refresh();
        let pending: Vec<i32> = match &self.listener.kind {
            Kind::Receiver { pending, .. } => pending.borrow_mut().drain(..).collect(),
            Kind::Handler { .. } => Vec::new(),
        };
        self.listener.close();
        if std::thread::panicking() {
            return;
        }
        for sig in pending {
            // SAFETY: `raise` is safe to call with any signal number; these were validated
            // when the receiver was opened. It hands the signal to whatever disposition is
            // now in place (the previous one, restored by `close`).
            unsafe {
                libc::raise(sig);
            }
        }
    }
}

/// Keeps a handler of [`set_handler`] installed; dropping it removes the handler.
pub struct SignalHandler {
    _listener: Rc<Listener>,
}

impl fmt::Debug for SignalHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalHandler")
            .field("signals", &self._listener.signals)
            .finish()
    }
}

impl Drop for SignalHandler {
    fn drop(&mut self) {
        self._listener.close();
    }
}

// ----- the listener behind both ------------------------------------------------------------

enum Kind {
    Receiver {
        /// Signals noticed and not yet received, in order of arrival, each at most once.
        pending: RefCell<VecDeque<i32>>,
        /// The task blocked in `recv`.
        waiter: Cell<Option<TaskRef>>,
    },
    Handler {
        handler: Arc<dyn Fn(i32) + Send + Sync>,
        shared: Arc<Shared>,
    },
}

struct Listener {
    signals: Vec<i32>,
    /// The counter of each signal when it was last looked at.
    seen: RefCell<Vec<u64>>,
    closed: Cell<bool>,
    kind: Kind,
}

impl Listener {
    fn open(signals: &[i32], kind: Kind) -> io::Result<Rc<Listener>> {
        if signals.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no signal to listen for",
            ));
        }
        let mut unique: Vec<i32> = Vec::with_capacity(signals.len());
        for &s in signals {
            if !unique.contains(&s) {
                unique.push(s);
            }
        }
        // Read the counters before installing, so that no signal that reaches our handler
        // after `open` returns can be missed.
        let seen: Vec<u64> = unique.iter().map(|&s| plumbing::count(s)).collect();
        for (i, &s) in unique.iter().enumerate() {
            if let Err(e) = plumbing::install(s) {
                for &done in &unique[..i] {
                    plumbing::release(done);
                }
                return Err(e);
            }
        }
        let listener = Rc::new(Listener {
            signals: unique,
            seen: RefCell::new(seen),
            closed: Cell::new(false),
            kind,
        });
        let weak: Weak<dyn SignalListener> = Rc::downgrade(&listener) as Weak<dyn SignalListener>;
        plumbing::listen(weak);
        if listener.signals.contains(&libc::SIGINT) {
            plumbing::sigint_listener(true);
        }
        Ok(listener)
    }

    /// Stops listening (once): gives the handlers back.
    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        for &s in &self.signals {
            plumbing::release(s);
        }
        if self.signals.contains(&libc::SIGINT) {
            plumbing::sigint_listener(false);
        }
    }

    /// Looks at the counters: queues (receiver) or dispatches (handler) the signals that
    /// arrived since the last look. Returns whether SIGINT was among them.
    fn refresh(&self) -> bool {
        if self.closed.get() {
            return false;
        }
        let mut arrived: Vec<(u64, i32)> = Vec::new();
        {
            let mut seen = self.seen.borrow_mut();
            for (i, &s) in self.signals.iter().enumerate() {
                let now = plumbing::count(s);
                if now != seen[i] {
                    seen[i] = now;
                    arrived.push((plumbing::latest_arrival(s), s));
                }
            }
        }
        // Several signals noticed in one look: in the order of their latest arrival.
        arrived.sort_unstable();
        let mut sigint = false;
        for &(_, s) in &arrived {
            sigint |= s == libc::SIGINT;
            match &self.kind {
                Kind::Receiver { pending, waiter } => {
                    let mut pending = pending.borrow_mut();
                    if !pending.contains(&s) {
                        pending.push_back(s);
                    }
                    if let Some(t) = waiter.get() {
                        t.unpark();
                    }
                }
                Kind::Handler { handler, shared } => {
                    let handler = handler.clone();
                    // Run later in this loop turn, outside whatever noticed the signal.
                    let _ = shared.push(Injected::Call(Box::new(move || handler(s))));
                }
            }
        }
        sigint
    }
}

impl SignalListener for Listener {
    fn on_signals(&self) -> bool {
        self.refresh()
    }

    fn wants_sigint(&self) -> bool {
        !self.closed.get() && self.signals.contains(&libc::SIGINT)
    }
}

// ----- SignalReceiver::recv ----------------------------------------------------------------

/// A [`SignalReceiver::recv`] call.
struct Recv<'a> {
    listener: &'a Listener,
    /// `SignalReceiver::recv` or `wait_for_ctrl_c`.
    waiting: Waiting,
}

impl Recv<'_> {
    fn pending(&self) -> &RefCell<VecDeque<i32>> {
        match &self.listener.kind {
            Kind::Receiver { pending, .. } => pending,
            Kind::Handler { .. } => unreachable!("`recv` belongs to receivers"),
        }
    }

    fn set_waiter(&self, task: Option<TaskRef>) {
        if let Kind::Receiver { waiter, .. } = &self.listener.kind {
            waiter.set(task);
        }
    }
}

impl Wait for Recv<'_> {
    type Output = Result<i32, CancelRequested>;
    type Parked = ();

    fn waiting(&self) -> Waiting {
        self.waiting
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, ()> {
        self.listener.refresh();
        let next = self.pending().borrow_mut().pop_front();
        match next {
            Some(sig) => Step::Done(Ok(sig)),
            None => {
                self.set_waiter(Some(task.task_ref()));
                Step::Park(())
            }
        }
    }

    fn woken(self: Pin<&mut Self>, (): ()) -> Step<Self::Output, ()> {
        self.set_waiter(None);
        Step::Retry
    }

    fn abort(self: Pin<&mut Self>, (): (), cancel: CancelRequested) -> Aborted<Self::Output, ()> {
        self.set_waiter(None);
        Aborted::Left(Err(cancel))
    }

    fn abandon(self: Pin<&mut Self>, (): ()) {
        self.set_waiter(None);
    }

    fn unreturned(self: Pin<&mut Self>, outcome: Self::Output) {
        // Dropped during its final yield (only in a teardown): keep the signal.
        if let Ok(sig) = outcome {
            self.pending().borrow_mut().push_front(sig);
        }
    }
}
