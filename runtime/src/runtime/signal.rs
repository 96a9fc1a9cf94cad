//! Process signals: a handler that counts signals and pokes a self-pipe, and the per-runtime
//! side that turns them into cancellation (Ctrl-C) or hands them to signal receivers.
//!
//! Invariants:
//! - The handler only does async-signal-safe work: atomic increments, `write(2)` on the
//!   non-blocking self-pipe, and, when a second Ctrl-C arrives after the runtime already began
//!   shutting down, `signal(SIGINT, SIG_DFL)` + `raise(SIGINT)` so the process dies at once.
//!   It leaves `errno` as it found it, so the code it interrupted never sees a value the
//!   handler's own calls set.
//! - A signal's handler is installed while at least one user needs it (refcounted) and the
//!   previous disposition is restored when the last one goes, so a program outside `run`
//!   keeps its normal Ctrl-C behaviour. A runtime is a SIGINT user only while it runs (from
//!   the start of `Runtime::run` to its end), not from when it is built: building one
//!   acquires the descriptors, so that running it has nothing left that can fail but
//!   `sigaction` itself.
//! - A runtime configured with `Builder::dump_tree_on` is a user of that signal while it runs,
//!   as it is of SIGINT; a new arrival (its counter moved) makes the run loop print the task
//!   tree, on the runtime thread, at its next look at I/O. Listeners of the same signal hear
//!   it too: the dump takes nothing from them.
//! - Each runtime registers its own duplicate of the pipe's read end with its `mio::Poll`
//!   (edge-triggered, so every runtime hears every write) and compares the per-signal counters
//!   with the values it saw last; draining the pipe is only housekeeping.
//!
//! Why this is not built on `signal-hook` (+ `signal-hook-mio`): its registry installs its
//! handler once per signal and keeps it installed for the life of the process; unregistering
//! the last action leaves that handler in place with nothing to do, and no call puts the
//! previous disposition back. After the last runtime ended, a SIGINT would then be swallowed
//! instead of killing the process (or reaching the program's own handler as its only handler,
//! or being ignored by `SIG_IGN` as such). Restoring the disposition by hand behind its back
//! breaks the next runtime's registration, which the registry believes still installed. The
//! second invariant above is what `scoro` promises, so the handler stays here. Child
//! processes need no `SIGCHLD` handler at all (`scoro::process` waits on pidfds).

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Weak;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The `mio` token of the signal pipe.
pub(crate) const SIGNAL_TOKEN: mio::Token = mio::Token(usize::MAX - 1);

const NSIG: usize = 65;

static COUNTS: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];
/// Numbers every arrival, so that listeners can order signals noticed in one look.
static ARRIVALS: AtomicU64 = AtomicU64::new(0);
/// The arrival number of each signal's latest arrival.
static LATEST: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];
static PIPE_READ: AtomicI32 = AtomicI32::new(-1);
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// Set once a Ctrl-C started a shutdown (a runtime turned it into cancellation, or a listener
/// took it): the next one that no listener is waiting for kills the process.
static EXIT_ON_NEXT_SIGINT: AtomicBool = AtomicBool::new(false);
/// How many signal listeners (receivers and handlers, of any runtime) include SIGINT.
static SIGINT_LISTENERS: AtomicUsize = AtomicUsize::new(0);

struct Installed {
    users: [usize; NSIG],
    previous: [Option<libc::sigaction>; NSIG],
}

static INSTALLED: Mutex<Installed> = Mutex::new(Installed {
    users: [0; NSIG],
    previous: [None; NSIG],
});

/// The calling thread's `errno`.
fn errno_location() -> *mut libc::c_int {
    // SAFETY: `__errno_location` has no preconditions; it returns the address of the calling
    // thread's `errno`, valid for the thread's lifetime. It is what C's `errno` macro expands
    // to, so it may be used wherever `errno` may, signal handlers included.
    unsafe { libc::__errno_location() }
}

extern "C" fn handler(sig: libc::c_int) {
    // SAFETY: `errno_location` points at this thread's `errno`, which only this thread
    // touches; reading it is a plain load.
    let saved = unsafe { *errno_location() };
    handle(sig);
    // SAFETY: as above; restoring the value hides from the interrupted code whatever
    // `write`, `signal` or `raise` left in `errno`.
    unsafe { *errno_location() = saved };
}

/// The work of [`handler`]: async-signal-safe calls and atomics only (no allocation, no lock,
/// no panic).
fn handle(sig: libc::c_int) {
    let Ok(i) = usize::try_from(sig) else { return };
    if i >= NSIG {
        return;
    }
    if sig == libc::SIGINT
        && EXIT_ON_NEXT_SIGINT.load(Ordering::Acquire)
        && SIGINT_LISTENERS.load(Ordering::Acquire) == 0
    {
        // SAFETY: `signal` and `raise` are async-signal-safe. SIGINT is blocked while this
        // handler runs, so the raised signal is delivered with the default action (terminate)
        // as soon as the handler returns.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::raise(libc::SIGINT);
        }
        return;
    }
    LATEST[i].store(
        ARRIVALS.fetch_add(1, Ordering::AcqRel) + 1,
        Ordering::Release,
    );
    COUNTS[i].fetch_add(1, Ordering::AcqRel);
    let fd = PIPE_WRITE.load(Ordering::Acquire);
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: `write` is async-signal-safe; the buffer is a live local byte. The pipe is
        // non-blocking, so a full pipe just drops the byte (the counters already record it).
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

fn ensure_pipe() -> io::Result<()> {
    if PIPE_READ.load(Ordering::Acquire) >= 0 {
        return Ok(());
    }
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for `pipe2` to fill.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    PIPE_WRITE.store(fds[1], Ordering::Release);
    PIPE_READ.store(fds[0], Ordering::Release);
    Ok(())
}

/// Checks that the counting handler may be installed for `sig`: a signal number that can be
/// caught and is not one of the synchronous signals (a fault of the running code) nor one the
/// C library keeps for itself. Returns its index in the counters.
pub(crate) fn check_catchable(sig: i32) -> io::Result<usize> {
    let i = usize::try_from(sig)
        .ok()
        .filter(|&i| i > 0 && i < NSIG)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{sig} is not a signal number"),
            )
        })?;
    if matches!(
        sig,
        libc::SIGKILL | libc::SIGSTOP | libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE
    ) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {sig} cannot be caught or must not be handled asynchronously"),
        ));
    }
    if sig > 31 && sig < libc::SIGRTMIN() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {sig} is reserved by the C library"),
        ));
    }
    Ok(i)
}

/// The usual name of signal `sig` (`SIGUSR1`), or `signal 40` for one without a name here.
pub(crate) fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        _ => {
            let min = libc::SIGRTMIN();
            return if sig == min {
                "SIGRTMIN".to_owned()
            } else if sig > min && sig <= libc::SIGRTMAX() {
                format!("SIGRTMIN+{}", sig - min)
            } else {
                format!("signal {sig}")
            };
        }
    };
    name.to_owned()
}

/// Installs the counting handler for `sig` (refcounted).
pub(crate) fn install(sig: i32) -> io::Result<()> {
    let i = check_catchable(sig)?;
    let mut inst = crate::poison::lock(&INSTALLED);
    ensure_pipe()?;
    if inst.users[i] == 0 {
        // SAFETY: zeroed is a valid `sigaction`; we fill in the handler and mask below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: zeroed is a valid `sigaction`, overwritten by the call below.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `sa_mask` is a valid sigset to initialise; `old` is valid to write to;
        // `handler` only does async-signal-safe work (module invariant).
        let r = unsafe {
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, &mut old)
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        inst.previous[i] = Some(old);
    }
    inst.users[i] += 1;
    Ok(())
}

/// Drops one user of `sig`; the last one restores the previous disposition.
pub(crate) fn release(sig: i32) {
    let Some(i) = usize::try_from(sig).ok().filter(|&i| i > 0 && i < NSIG) else {
        return;
    };
    let mut inst = crate::poison::lock(&INSTALLED);
    if inst.users[i] == 0 {
        return;
    }
    inst.users[i] -= 1;
    if inst.users[i] == 0 {
        if let Some(old) = inst.previous[i].take() {
            // SAFETY: `old` is the disposition `sigaction` reported when we installed ours.
            unsafe {
                libc::sigaction(sig, &old, std::ptr::null_mut());
            }
        }
        if sig == libc::SIGINT {
            EXIT_ON_NEXT_SIGINT.store(false, Ordering::Release);
        }
    }
}

/// How many times `sig` has arrived since the process started (while a handler was installed).
pub(crate) fn count(sig: i32) -> u64 {
    usize::try_from(sig)
        .ok()
        .and_then(|i| COUNTS.get(i))
        .map_or(0, |c| c.load(Ordering::Acquire))
}

/// When `sig` last arrived, as a number that grows with every arrival of any signal (0 if
/// it never did while a handler was installed).
pub(crate) fn latest_arrival(sig: i32) -> u64 {
    usize::try_from(sig)
        .ok()
        .and_then(|i| LATEST.get(i))
        .map_or(0, |c| c.load(Ordering::Acquire))
}

/// Makes the next Ctrl-C that no listener waits for terminate the process at once.
pub(crate) fn arm_exit_on_next_sigint() {
    EXIT_ON_NEXT_SIGINT.store(true, Ordering::Release);
}

/// A signal listener including SIGINT opened (`true`) or closed (`false`): while one is open,
/// Ctrl-C goes to the listeners, never straight to process exit.
pub(crate) fn sigint_listener(open: bool) {
    if open {
        SIGINT_LISTENERS.fetch_add(1, Ordering::AcqRel);
    } else {
        SIGINT_LISTENERS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A runtime's view of the signal pipe: its own duplicate of the read end, registered with its
/// poller, and what it has seen so far.
pub(crate) struct SignalState {
    fd: Option<OwnedFd>,
    /// The runtime is running and holds the SIGINT handler (see [`SignalState::handle_ctrl_c`]).
    handling_ctrl_c: Cell<bool>,
    last_sigint: Cell<u64>,
    /// Set when Ctrl-C cancelled the run.
    pub(crate) interrupted: Cell<bool>,
    /// The signal that prints the task tree, while the runtime runs with one (see
    /// [`SignalState::dump_tree_on`]).
    dump: RefCell<Option<DumpOn>>,
    /// Receivers interested in signals (see `crate::signal`); each is notified on every new
    /// signal and compares the counters itself.
    pub(crate) receivers: RefCell<Vec<Weak<dyn SignalListener>>>,
}

/// Something that wants to hear about signals.
pub(crate) trait SignalListener {
    /// Called on the runtime thread after new signals arrived. Returns true if it consumes
    /// SIGINT (so Ctrl-C does not cancel the run).
    fn on_signals(&self) -> bool;
    /// Does it listen for SIGINT?
    fn wants_sigint(&self) -> bool;
}

impl SignalState {
    /// Creates the signal pipe if needed and registers this runtime's duplicate of its read
    /// end with `registry`. Installs no handler: Ctrl-C is only taken over while the runtime
    /// runs ([`handle_ctrl_c`](SignalState::handle_ctrl_c)).
    ///
    /// Under miri, which cannot install signal handlers, the runtime simply has no Ctrl-C
    /// handling.
    pub(crate) fn new(registry: &mio::Registry) -> io::Result<SignalState> {
        let state = |fd| SignalState {
            fd,
            handling_ctrl_c: Cell::new(false),
            last_sigint: Cell::new(0),
            interrupted: Cell::new(false),
            dump: RefCell::new(None),
            receivers: RefCell::new(Vec::new()),
        };
        if cfg!(miri) {
            return Ok(state(None));
        }
        {
            let _installed = crate::poison::lock(&INSTALLED);
            ensure_pipe()?;
        }
        let read = PIPE_READ.load(Ordering::Acquire);
        // SAFETY: `read` is the pipe's read end, open for the life of the process.
        let dup = unsafe { libc::fcntl(read, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `dup` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(dup) };
        let raw: RawFd = fd.as_raw_fd();
        registry.register(
            &mut mio::unix::SourceFd(&raw),
            SIGNAL_TOKEN,
            mio::Interest::READABLE,
        )?;
        Ok(state(Some(fd)))
    }

    /// Takes over Ctrl-C for as long as the returned guard lives (the duration of one run):
    /// installs the SIGINT handler (refcounted with every other running runtime and signal
    /// listener) and from then on turns each SIGINT into cancellation. SIGINTs that arrived
    /// before are not this run's. Dropping the guard gives SIGINT back to its previous
    /// disposition, if nothing else holds it.
    ///
    /// Fails only if `sigaction` refuses the handler. Under miri it does nothing.
    pub(crate) fn handle_ctrl_c(&self) -> io::Result<CtrlCGuard<'_>> {
        if self.fd.is_some() && !self.handling_ctrl_c.get() {
            // Read the counter before installing, so that a SIGINT reaching our handler is
            // never taken for an old one.
            self.last_sigint.set(count(libc::SIGINT));
            install(libc::SIGINT)?;
            self.handling_ctrl_c.set(true);
        }
        Ok(CtrlCGuard(self))
    }

    /// Stops handling Ctrl-C (see [`handle_ctrl_c`](SignalState::handle_ctrl_c)).
    fn stop_handling_ctrl_c(&self) {
        if self.handling_ctrl_c.replace(false) {
            release(libc::SIGINT);
        }
    }

    fn drain(&self) {
        if let Some(fd) = &self.fd {
            let mut buf = [0u8; 64];
            loop {
                // SAFETY: `buf` is a valid writable buffer of the given length and `fd` is open.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    break;
                }
            }
        }
    }
}

impl Drop for SignalState {
    fn drop(&mut self) {
        self.stop_handling_ctrl_c();
        if let Some(dump) = self.dump.get_mut().take() {
            release(dump.sig);
        }
    }
}

/// Ctrl-C handling of a running runtime: see [`SignalState::handle_ctrl_c`].
pub(crate) struct CtrlCGuard<'a>(&'a SignalState);

impl Drop for CtrlCGuard<'_> {
    fn drop(&mut self) {
        self.0.stop_handling_ctrl_c();
    }
}

/// The tree-dump signal of a running runtime.
struct DumpOn {
    sig: i32,
    /// The signal's counter when the run loop last looked (and printed the tree if it had
    /// moved). Shared with the watchdog thread, which tells from it that a dump is still due.
    seen: Arc<AtomicU64>,
}

impl SignalState {
    /// Prints the task tree on `sig` for as long as the returned guard lives (the duration of
    /// one run): installs the handler for `sig` (refcounted, like SIGINT's) and from then on
    /// makes [`dump_requested`](SignalState::dump_requested) report each new arrival. Signals
    /// that arrived before do not count. Dropping the guard gives `sig` back to its previous
    /// disposition, if nothing else holds it.
    ///
    /// Fails only if `sig` cannot be handled or `sigaction` refuses the handler. Under miri it
    /// does nothing.
    pub(crate) fn dump_tree_on(&self, sig: i32) -> io::Result<DumpGuard<'_>> {
        if self.fd.is_some() && self.dump.borrow().is_none() {
            // Read the counter before installing, so that no arrival reaching our handler is
            // taken for an old one.
            let seen = Arc::new(AtomicU64::new(count(sig)));
            install(sig)?;
            *self.dump.borrow_mut() = Some(DumpOn { sig, seen });
        }
        Ok(DumpGuard(self))
    }

    /// The tree-dump signal, if it arrived since the last call: the caller prints the tree.
    pub(crate) fn dump_requested(&self) -> Option<i32> {
        let dump = self.dump.borrow();
        let dump = dump.as_ref()?;
        let n = count(dump.sig);
        (dump.seen.swap(n, Ordering::AcqRel) != n).then_some(dump.sig)
    }

    /// The tree-dump signal and its counter as the run loop last saw it (see [`DumpOn`]),
    /// while the runtime runs with one.
    pub(crate) fn dump_seen(&self) -> Option<(i32, Arc<AtomicU64>)> {
        self.dump.borrow().as_ref().map(|d| (d.sig, d.seen.clone()))
    }
}

/// Tree dumps of a running runtime: see [`SignalState::dump_tree_on`].
pub(crate) struct DumpGuard<'a>(&'a SignalState);

impl Drop for DumpGuard<'_> {
    fn drop(&mut self) {
        if let Some(dump) = self.0.dump.borrow_mut().take() {
            release(dump.sig);
        }
    }
}

impl SignalState {
    /// Is any signal receiver or handler alive in this runtime? (A signal could then wake a
    /// task, so a run with every task blocked is not stuck.)
    pub(crate) fn has_listeners(&self) -> bool {
        self.receivers.borrow().iter().any(|w| w.strong_count() > 0)
    }

    /// The signal pipe became readable (or a wait was interrupted): dispatch new signals.
    /// Returns `true` when an unclaimed Ctrl-C arrived: the run is to be cancelled.
    pub(crate) fn on_readable(&self) -> bool {
        self.drain();
        self.check()
    }

    /// Looks for new signals: receivers hear about them first; returns `true` for a Ctrl-C
    /// that nobody claimed.
    fn check(&self) -> bool {
        let state = self;
        let listeners: Vec<_> = state
            .receivers
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let mut sigint_taken = false;
        for l in &listeners {
            if l.on_signals() {
                sigint_taken = true;
            }
        }
        if sigint_taken {
            // A listener started its own shutdown: as with the default one, the next Ctrl-C
            // nobody listens for ends the process.
            arm_exit_on_next_sigint();
        }
        let n = count(libc::SIGINT);
        let mut interrupt = false;
        if n != state.last_sigint.get() {
            state.last_sigint.set(n);
            if !sigint_taken && !listeners.iter().any(|l| l.wants_sigint()) {
                state.interrupted.set(true);
                arm_exit_on_next_sigint();
                interrupt = true;
            }
        }
        state
            .receivers
            .borrow_mut()
            .retain(|w| w.strong_count() > 0);
        interrupt
    }
}
