//! Child processes, whose life is bound to the task that waits for them.
//!
//! [`Command`] builds a process like [`std::process::Command`] does; [`Command::spawn`] starts
//! it and gives a [`Child`] whose standard streams, when piped, are scoro streams
//! ([`ChildStdin`] implements [`Write`], [`ChildStdout`] and [`ChildStderr`]
//! implement [`Read`]). [`Command::run`] is the one-line form: it captures the
//! output and fails if the process did.
//!
//! ```
//! use scoro::process::Command;
//!
//! #[scoro::structured]
//! async fn main_task() -> std::io::Result<String> {
//!     let output = Command::new("echo").arg("hello").run().await?;
//!     Ok(String::from_utf8_lossy(&output.stdout).into_owned())
//! }
//!
//! assert_eq!(scoro::run(main_task())?, "hello\n");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # A child does not outlive its caller
//!
//! - [`Child::wait`] is a checkpoint. **When the waiting call is cancelled** (a timeout, a
//!   sibling's failure, Ctrl-C), it does not just stop waiting: it ends the child. It sends the
//!   command's [`kill_signal`](Command::kill_signal) (`SIGTERM` unless set), gives the child
//!   [`kill_grace`](Command::kill_grace) (5 seconds unless set) to exit, then sends `SIGKILL`,
//!   and reaps it; only then does it report the cancellation. That ending runs shielded, so the
//!   caller's cancellation cannot cut it short, and it is bounded by the grace period.
//! - **Dropping a [`Child`]** that was not reaped (a task that returned early, or a panic)
//!   kills it with `SIGKILL` at once and reaps it (on a short-lived thread if it has not died
//!   by the time `drop` returns). No child is left running and none is left a zombie, unless
//!   this process itself is killed first.
//! - With [`Command::new_process_group`], the child leads a process group of its own, and the
//!   signals of cancellation and drop go to the whole group: the processes the child started
//!   (a shell's pipeline, say) end with it.
//!
//! ```
//! use std::time::Duration;
//! use scoro::process::Command;
//!
//! #[scoro::structured]
//! async fn main_task() -> std::io::Result<bool> {
//!     let mut child = Command::new("sleep").arg("1000").spawn().await?;
//!     let pid = child.id();
//!     // The timeout cancels the wait, which ends the child and reaps it.
//!     let waited = scoro::move_on_after(Duration::from_millis(20), child.wait()).await;
//!     assert!(waited.is_none());
//!     Ok(std::path::Path::new(&format!("/proc/{pid}")).exists())
//! }
//!
//! assert!(!scoro::run(main_task())?, "the child is gone, not even a zombie");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How the exit is noticed
//!
//! The runtime waits for a pidfd (Linux 5.3 and later) to become readable, like any other I/O:
//! no `SIGCHLD` handler is installed and no thread is used. Where pidfds are missing or
//! forbidden, a thread per child waits for its exit (without reaping it) and wakes the
//! runtime. Reaping goes through [`std::process::Child::try_wait`], so a process id is never
//! signalled after it was reaped. A program that sets `SIGCHLD` to `SIG_IGN` has its children
//! reaped by the kernel; waiting for one then fails with the kernel's `ECHILD`.

mod pipe;
mod sys;

pub use pipe::{ChildStderr, ChildStdin, ChildStdout};

use crate::io::source::Registered;
use crate::io::{Read, Write};
use crate::runtime::seam::Waiting;
use crate::runtime::seam::io::Direction;
use crate::{CancelScope, CoroutineCall, MaybeCancelled};
use std::error::Error;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

/// How long a cancelled wait lets the child exit after the first signal, unless
/// [`Command::kill_grace`] says otherwise.
const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

/// Builds and starts a child process: [`std::process::Command`]'s builder, with scoro's
/// [`spawn`](Command::spawn), [`status`](Command::status), [`output`](Command::output) and
/// [`run`](Command::run), and the settings for how a cancelled wait ends the child.
///
/// The standard streams are inherited unless set, except that [`output`](Command::output)
/// and [`run`](Command::run) pipe standard output and standard error and give the child
/// `/dev/null` as standard input, as [`std::process::Command::output`] does. Any setting this
/// type does not offer is reached through [`as_std_mut`](Command::as_std_mut).
///
/// ```
/// use scoro::process::Command;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<()> {
///     let status = Command::new("sh").args(["-c", "exit 3"]).status().await?;
///     assert_eq!(status.code(), Some(3));
///
///     let err = Command::new("sh").args(["-c", "echo oops >&2; exit 1"]).run().await.unwrap_err();
///     assert_eq!(err.to_string(), "`sh` failed with exit status: 1: oops");
///     Ok(())
/// }
///
/// scoro::run(main_task())?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Command {
    std: std::process::Command,
    stdin_set: bool,
    stdout_set: bool,
    stderr_set: bool,
    kill_signal: i32,
    kill_grace: Duration,
    new_group: bool,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("command", &self.std)
            .field("kill_signal", &self.kill_signal)
            .field("kill_grace", &self.kill_grace)
            .field("new_process_group", &self.new_group)
            .finish()
    }
}

/// Which standard streams a way of starting the child pipes when the caller did not set them.
#[derive(Clone, Copy)]
enum Defaults {
    /// Everything inherited: `spawn` and `status`.
    Inherit,
    /// Standard input from `/dev/null`, standard output and error piped: `output` and `run`.
    Capture,
}

impl Defaults {
    /// Standard input, unless set.
    fn stdin(self) -> Stdio {
        match self {
            Defaults::Inherit => Stdio::inherit(),
            Defaults::Capture => Stdio::null(),
        }
    }

    /// Standard output and standard error, unless set.
    fn output(self) -> Stdio {
        match self {
            Defaults::Inherit => Stdio::inherit(),
            Defaults::Capture => Stdio::piped(),
        }
    }
}

impl Command {
    /// A command that runs `program`, found through `PATH` unless it is a path.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command {
            std: std::process::Command::new(program),
            stdin_set: false,
            stdout_set: false,
            stderr_set: false,
            kill_signal: libc::SIGTERM,
            kill_grace: DEFAULT_KILL_GRACE,
            new_group: false,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.std.env(key, value);
        self
    }

    /// Sets environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what [`env`](Command::env) adds).
    pub fn env_clear(&mut self) -> &mut Self {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's standard input: [`Stdio::piped()`] gives [`Child::stdin`] a
    /// [`ChildStdin`] to write to; another child's [`ChildStdout`] (converted with
    /// `Stdio::try_from`) builds a pipeline.
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Sets the child's standard output: [`Stdio::piped()`] gives [`Child::stdout`] a
    /// [`ChildStdout`] to read from.
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.std.stdout(cfg);
        self.stdout_set = true;
        self
    }

    /// Sets the child's standard error: [`Stdio::piped()`] gives [`Child::stderr`] a
    /// [`ChildStderr`] to read from.
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.std.stderr(cfg);
        self.stderr_set = true;
        self
    }

    /// The signal a cancelled [`Child::wait`] sends first (`SIGTERM` unless set; the
    /// constants are in [`scoro::signal`](crate::signal), any signal number works). Starting
    /// the child fails with [`InvalidInput`](io::ErrorKind::InvalidInput) if it is not a
    /// signal number.
    pub fn kill_signal(&mut self, signal: i32) -> &mut Self {
        self.kill_signal = signal;
        self
    }

    /// How long a cancelled [`Child::wait`] lets the child exit after
    /// [`kill_signal`](Command::kill_signal) before it sends `SIGKILL` (5 seconds unless set).
    /// Measured on the runtime's clock, so the mock clock drives it in tests.
    pub fn kill_grace(&mut self, grace: Duration) -> &mut Self {
        self.kill_grace = grace;
        self
    }

    /// Starts the child as the leader of a new process group (`setpgid(0, 0)`), and makes
    /// cancellation and drop signal the whole group, so that the processes the child starts
    /// end with it. Once the child itself has exited and was reaped, nothing more is
    /// signalled. The group no longer receives the terminal's Ctrl-C; a scoro program gets
    /// it instead, and its cancellation ends the group.
    pub fn new_process_group(&mut self, new_group: bool) -> &mut Self {
        self.new_group = new_group;
        if new_group {
            self.std.process_group(0);
        }
        self
    }

    /// The program, as given to [`new`](Command::new).
    pub fn get_program(&self) -> &OsStr {
        self.std.get_program()
    }

    /// The standard library's command, for what this type does not wrap.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The standard library's command, for settings this type does not wrap (user and group
    /// ids, `arg0`, ...). Setting the standard streams or the process group there bypasses
    /// this type's defaults and group handling: use the methods here for those.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child. A checkpoint: a cancelled call starts nothing.
    ///
    /// Fails with the operating system's error if the program cannot be started (its kind
    /// kept, the message naming the program), and with
    /// [`InvalidInput`](io::ErrorKind::InvalidInput) if the
    /// [`kill_signal`](Command::kill_signal) is not a signal number.
    pub fn spawn(&mut self) -> CoroutineCall<impl Future<Output = io::Result<Child>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                self.start(Defaults::Inherit)
            },
            "scoro::process",
            "Command::spawn",
        )
    }

    /// Starts the child with its standard streams inherited (unless set) and waits for it to
    /// exit. A cancelled call ends the child as [`Child::wait`] does.
    pub fn status(&mut self) -> CoroutineCall<impl Future<Output = io::Result<ExitStatus>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                let mut child = self.start(Defaults::Inherit)?;
                child.wait().inline().await
            },
            "scoro::process",
            "Command::status",
        )
    }

    /// Starts the child, collects all it writes to standard output and standard error, and
    /// waits for it to exit, whatever its exit status. Unless set, standard input is
    /// `/dev/null` and the outputs are piped. Both outputs are read while the child runs, so a
    /// child that writes more than a pipe holds does not stall. A cancelled call ends the
    /// child as [`Child::wait`] does.
    pub fn output(&mut self) -> CoroutineCall<impl Future<Output = io::Result<Output>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                let mut child = self.start(Defaults::Capture)?;
                child.communicate(&[]).inline().await
            },
            "scoro::process",
            "Command::output",
        )
    }

    /// [`output`](Command::output), and a check of the exit status: a child that did not
    /// exit with status 0 is an error of kind [`Other`](io::ErrorKind::Other) whose source is
    /// an [`ExitError`], which keeps the status and the whole output (reach it with
    /// [`ExitError::from_io`]). The error's message ends with the last line the child wrote to
    /// standard error.
    pub fn run(&mut self) -> CoroutineCall<impl Future<Output = io::Result<Output>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                let mut child = self.start(Defaults::Capture)?;
                let output = child.communicate(&[]).inline().await?;
                if output.status.success() {
                    Ok(output)
                } else {
                    Err(io::Error::other(ExitError {
                        program: self.get_program().to_owned(),
                        output,
                    }))
                }
            },
            "scoro::process",
            "Command::run",
        )
    }

    /// Starts the child on this thread (it must be a runtime's: the pipes and the exit
    /// notification are registered with its I/O driver).
    fn start(&mut self, defaults: Defaults) -> io::Result<Child> {
        if !sys::valid_signal(self.kill_signal) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "kill_signal({}) is not a signal number; use one of scoro::signal's constants",
                    self.kill_signal
                ),
            ));
        }
        // The defaults are set explicitly for each start, so that one way of starting never
        // leaves its defaults behind for the next.
        if !self.stdin_set {
            self.std.stdin(defaults.stdin());
        }
        if !self.stdout_set {
            self.std.stdout(defaults.output());
        }
        if !self.stderr_set {
            self.std.stderr(defaults.output());
        }
        let mut std = self.std.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "could not start `{}`: {e}",
                    self.get_program().to_string_lossy()
                ),
            )
        })?;
        match PartialChild::new(&mut std, self) {
            Ok(parts) => Ok(Child {
                stdin: parts.stdin,
                stdout: parts.stdout,
                stderr: parts.stderr,
                std,
                exit: parts.exit,
                status: None,
                kill_signal: parts.kill_signal,
                kill_grace: parts.kill_grace,
                group: parts.group,
            }),
            Err(e) => {
                // The child must not outlive this failure: end it and reap it.
                let _ = std.kill();
                let _ = std.wait();
                Err(e)
            }
        }
    }
}

/// A running (or exited, not yet reaped) child process, started by [`Command::spawn`].
///
/// Wait for it with [`wait`](Child::wait), which ends the child when it is cancelled; a
/// `Child` dropped before it was reaped kills the child and reaps it (see the
/// [module docs](self)). Its piped standard streams are in the public fields: take them out
/// to use them in other tasks while one waits.
///
/// ```
/// use std::process::Stdio;
/// use scoro::io::{BufReader, Write};
/// use scoro::process::Command;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Vec<String>> {
///     let mut child = Command::new("sort")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()
///         .await?;
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"pear\napple\nfig\n").await?;
///     stdin.shutdown().await?;
///     // The output, line by line, as the child writes it.
///     let mut reader = BufReader::new(child.stdout.take().unwrap());
///     let mut lines = reader.lines();
///     let mut sorted = Vec::new();
///     while let Some(line) = lines.next().await? {
///         sorted.push(line);
///     }
///     assert!(child.wait().await?.success());
///     Ok(sorted)
/// }
///
/// assert_eq!(scoro::run(main_task())?, ["apple", "fig", "pear"]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Child {
    /// The child's standard input, if it was [`Stdio::piped()`].
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was [`Stdio::piped()`].
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was [`Stdio::piped()`].
    pub stderr: Option<ChildStderr>,
    std: std::process::Child,
    /// Readable once the child has exited.
    exit: Registered<ExitFd>,
    /// The exit status, once the child was reaped.
    status: Option<ExitStatus>,
    kill_signal: i32,
    kill_grace: Duration,
    /// Whether the child leads its own process group (signals on cancellation and drop go
    /// to the group).
    group: bool,
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("status", &self.status)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish_non_exhaustive()
    }
}

/// A descriptor that becomes readable when a child exits: a pidfd, or the read end of a pipe
/// that a waiting thread closes.
struct ExitFd(OwnedFd);

impl mio::event::Source for ExitFd {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}

impl ExitFd {
    /// The exit notification for the child `pid`: its pidfd where the kernel gives one.
    fn open(pid: u32) -> io::Result<ExitFd> {
        match sys::pidfd_open(pid) {
            Ok(fd) => Ok(ExitFd(fd)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                Self::by_thread(pid)
            }
            Err(e) => Err(e),
        }
    }

    /// The exit notification for the child `pid` from a thread that waits for it.
    fn by_thread(pid: u32) -> io::Result<ExitFd> {
        Ok(ExitFd(OwnedFd::from(sys::exit_pipe(pid)?)))
    }
}

#[cfg(test)]
thread_local! {
    /// Makes `Command::spawn` on this thread use the waiting thread instead of a pidfd.
    static FORCE_EXIT_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl PartialChild {
    /// Everything but the standard library's child, which the caller adds (so that it can
    /// still end the child if this fails).
    fn new(std: &mut std::process::Child, cmd: &Command) -> io::Result<PartialChild> {
        #[cfg(test)]
        let exit = if FORCE_EXIT_THREAD.get() {
            ExitFd::by_thread(std.id())?
        } else {
            ExitFd::open(std.id())?
        };
        #[cfg(not(test))]
        let exit = ExitFd::open(std.id())?;
        Ok(PartialChild {
            exit: Registered::new(exit)?,
            stdin: std.stdin.take().map(ChildStdin::new).transpose()?,
            stdout: std.stdout.take().map(ChildStdout::new).transpose()?,
            stderr: std.stderr.take().map(ChildStderr::new).transpose()?,
            kill_signal: cmd.kill_signal,
            kill_grace: cmd.kill_grace,
            group: cmd.new_group,
        })
    }
}

impl Child {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.std.id()
    }

    /// Waits for the child to exit and reaps it; returns its exit status (at once if it was
    /// already reaped).
    ///
    /// A checkpoint. **If the call is cancelled while the child runs, it ends the child**
    /// (the [`kill_signal`](Command::kill_signal), then `SIGKILL` after the
    /// [`kill_grace`](Command::kill_grace)), reaps it, and then returns the cancellation. The
    /// exit status is kept: [`try_wait`](Child::try_wait) returns it afterwards.
    pub fn wait(&mut self) -> CoroutineCall<impl Future<Output = io::Result<ExitStatus>>> {
        CoroutineCall::internal(self.wait_or_end(), "scoro::process", "Child::wait")
    }

    /// The exit status if the child has exited (reaping it then), `None` if it still runs.
    /// Does not block and is not a checkpoint.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.std.try_wait()?;
        }
        Ok(self.status)
    }

    /// Sends `signal` to the child (not to its group). Does nothing once the child was
    /// reaped, so a process id is never signalled after it could have been reused.
    pub fn signal(&mut self, signal: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        sys::send_signal(self.id(), signal, false)
    }

    /// Sends `SIGKILL` (to the group, with [`new_process_group`](Command::new_process_group))
    /// and returns without waiting; [`wait`](Child::wait) reaps the child. Does nothing once
    /// the child was reaped.
    pub fn start_kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        self.send(libc::SIGKILL)
    }

    /// Kills the child with `SIGKILL` (its group too, with
    /// [`new_process_group`](Command::new_process_group)) and waits for it; returns its exit
    /// status. A checkpoint after the signal is sent.
    pub fn kill(&mut self) -> CoroutineCall<impl Future<Output = io::Result<ExitStatus>>> {
        CoroutineCall::internal(
            async move {
                self.start_kill()?;
                self.wait_or_end().await
            },
            "scoro::process",
            "Child::kill",
        )
    }

    /// Writes `input` to the child's standard input and closes it, reads its standard output
    /// and standard error to their ends, all at once, then waits for the child; returns the
    /// exit status and both outputs (empty for a stream that was not piped). A child that
    /// stops reading its input early does not make this fail (its `BrokenPipe` is ignored).
    ///
    /// Fails with [`InvalidInput`](io::ErrorKind::InvalidInput), having done nothing, if
    /// `input` is not empty and standard input was not piped. A cancelled call ends the child
    /// as [`wait`](Child::wait) does.
    ///
    /// ```
    /// use std::process::Stdio;
    /// use scoro::process::Command;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<Vec<u8>> {
    ///     let mut child = Command::new("tr")
    ///         .arg("a-z")
    ///         .arg("A-Z")
    ///         .stdin(Stdio::piped())
    ///         .stdout(Stdio::piped())
    ///         .spawn()
    ///         .await?;
    ///     Ok(child.communicate(b"shout").await?.stdout)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, b"SHOUT");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn communicate<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> CoroutineCall<impl Future<Output = io::Result<Output>> + 'a> {
        CoroutineCall::internal(
            async move {
                if !input.is_empty() && self.stdin.is_none() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "communicate was given input, but the child's standard input is not \
                         piped; start it with .stdin(Stdio::piped())",
                    ));
                }
                let stdin = self.stdin.take();
                let stdout = self.stdout.take();
                let stderr = self.stderr.take();
                let outputs = crate::join((
                    CoroutineCall::internal(
                        feed(stdin, input),
                        "scoro::process",
                        "ChildStdin::write_all",
                    ),
                    CoroutineCall::internal(
                        read_all(stdout),
                        "scoro::process",
                        "ChildStdout::read_to_end",
                    ),
                    CoroutineCall::internal(
                        read_all(stderr),
                        "scoro::process",
                        "ChildStderr::read_to_end",
                    ),
                ))
                .inline()
                .await;
                match outputs {
                    Ok(((), stdout, stderr)) => {
                        let status = self.wait_or_end().await?;
                        Ok(Output {
                            status,
                            stdout,
                            stderr,
                        })
                    }
                    Err(errors) => {
                        let e = io::Error::from(errors);
                        if e.is_cancel_requested() {
                            self.end().await;
                        }
                        Err(e)
                    }
                }
            },
            "scoro::process",
            "Child::communicate",
        )
    }

    /// [`communicate`](Child::communicate) with no input: closes standard input, reads both
    /// outputs to their ends and waits for the child.
    pub fn wait_with_output(mut self) -> CoroutineCall<impl Future<Output = io::Result<Output>>> {
        CoroutineCall::internal(
            async move { self.communicate(&[]).inline().await },
            "scoro::process",
            "Child::wait_with_output",
        )
    }

    /// Sends `signal` to the child, or to its group.
    fn send(&self, signal: i32) -> io::Result<()> {
        match sys::send_signal(self.id(), signal, self.group) {
            // A group whose members have all exited (the leader is still a zombie, since it
            // is not reaped yet): nothing left to signal.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// Waits until the child has exited, without reaping it (so that its process id, and its
    /// group's, stay reserved until the caller reaps it).
    async fn exited(&self) -> io::Result<()> {
        let pid = self.id();
        self.exit
            .op(Direction::Read, Waiting::ChildWait, |_| {
                if sys::has_exited(pid)? {
                    Ok(())
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                }
            })
            .await
    }

    /// Reaps a child that has exited.
    fn reap(&mut self) -> io::Result<ExitStatus> {
        match self.try_wait()? {
            Some(status) => Ok(status),
            None => Err(io::Error::other(
                "the child process was reported exited but could not be reaped",
            )),
        }
    }

    /// `wait`: waits and reaps, or on cancellation ends the child first.
    async fn wait_or_end(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            crate::checkpoint().inline().await?;
            return Ok(status);
        }
        match self.exited().await {
            Ok(()) => self.reap(),
            Err(e) if e.is_cancel_requested() => {
                self.end().await;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Ends the child: the kill signal, the grace period, `SIGKILL`, then the reap. Shielded
    /// from the caller's cancellation; bounded by the grace period (a `SIGKILL`ed process
    /// cannot refuse to die). What cannot be done here is left to `drop`.
    async fn end(&mut self) {
        if self.status.is_some() {
            return;
        }
        let ended = CancelScope::new()
            .with_shield(true)
            .run(CoroutineCall::internal(
                async {
                    if !sys::has_exited(self.id())? {
                        self.send(self.kill_signal)?;
                        if self.kill_signal != libc::SIGKILL && !self.kill_grace.is_zero() {
                            crate::move_on_after(
                                self.kill_grace,
                                CoroutineCall::internal(
                                    self.exited(),
                                    "scoro::process",
                                    "Child::wait",
                                ),
                            )
                            .inline()
                            .await
                            .transpose()?;
                        }
                    }
                    // Also when the child has exited: what it started in its group may not have.
                    if self.group || !sys::has_exited(self.id())? {
                        self.send(libc::SIGKILL)?;
                    }
                    self.exited().await?;
                    self.reap().map(drop)
                },
                "scoro::process",
                "Child::wait",
            ));
        // On an error here (the child belongs to another run, say) `drop` still kills and
        // reaps it.
        let _: Option<io::Result<()>> = ended.inline().await;
    }
}

/// What `Child::new` builds before the standard library's child joins it.
struct PartialChild {
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    exit: Registered<ExitFd>,
    kill_signal: i32,
    kill_grace: Duration,
    group: bool,
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let _ = self.send(libc::SIGKILL);
        if let Ok(Some(_)) = self.std.try_wait() {
            return;
        }
        // Not dead yet (it takes the kernel a moment): reap it when it is.
        let pid = self.id();
        let reaper = std::thread::Builder::new()
            .name("scoro-child-reaper".into())
            .spawn(move || sys::reap_blocking(pid));
        if reaper.is_err() {
            // No thread to be had: wait here; a SIGKILLed process exits promptly.
            let _ = self.std.wait();
        }
    }
}

/// Writes all of `input` to `stdin`, then closes it.
async fn feed(stdin: Option<ChildStdin>, input: &[u8]) -> io::Result<()> {
    let Some(mut stdin) = stdin else {
        return Ok(());
    };
    if !input.is_empty() {
        match stdin.write_all(input).inline().await {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            other => other?,
        }
    }
    Ok(())
}

/// Reads `pipe` to its end.
async fn read_all<R: Read>(pipe: Option<R>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut bytes).inline().await?;
    }
    Ok(bytes)
}

/// The error of [`Command::run`] for a child that did not exit with status 0: its exit status
/// and everything it wrote.
///
/// `run` returns it inside an [`io::Error`]; [`ExitError::from_io`] gets it back.
///
/// ```
/// use scoro::process::{Command, ExitError};
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<()> {
///     let err = Command::new("sh").args(["-c", "echo partial; exit 7"]).run().await.unwrap_err();
///     let failed = ExitError::from_io(&err).expect("the child failed");
///     assert_eq!(failed.status().code(), Some(7));
///     assert_eq!(failed.output().stdout, b"partial\n");
///     Ok(())
/// }
///
/// scoro::run(main_task())?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ExitError {
    program: OsString,
    output: Output,
}

impl ExitError {
    /// The `ExitError` inside an error from [`Command::run`], if that is what it is.
    pub fn from_io(error: &io::Error) -> Option<&ExitError> {
        error.get_ref()?.downcast_ref()
    }

    /// The child's exit status.
    pub fn status(&self) -> ExitStatus {
        self.output.status
    }

    /// The program that failed.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The exit status and everything the child wrote.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// The exit status and everything the child wrote, by value.
    pub fn into_output(self) -> Output {
        self.output
    }
}

impl fmt::Display for ExitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` failed with {}",
            self.program.to_string_lossy(),
            self.output.status
        )?;
        let stderr = String::from_utf8_lossy(&self.output.stderr);
        if let Some(last) = stderr.lines().rev().find(|l| !l.trim().is_empty()) {
            let last = last.trim();
            // A line that long is cut at a character boundary.
            match last.char_indices().nth(200) {
                Some((cut, _)) => write!(f, ": {}...", &last[..cut])?,
                None => write!(f, ": {last}")?,
            }
        }
        Ok(())
    }
}

impl Error for ExitError {}

#[cfg(test)]
mod tests {
    use super::{Command, FORCE_EXIT_THREAD};
    use crate::CoroutineCall;
    use std::io;
    use std::time::Duration;

    /// Without pidfds, the thread that waits for the exit wakes the runtime: both a normal
    /// wait and a cancelled one work, and the cancelled one leaves nothing behind.
    #[test]
    fn the_exit_thread_serves_when_there_are_no_pidfds() {
        let main_task = async {
            let status = Command::new("sh")
                .args(["-c", "exit 4"])
                .status()
                .inline()
                .await?;
            let mut child = Command::new("sleep").arg("1000").spawn().inline().await?;
            let pid = child.id();
            let waited = crate::move_on_after(Duration::from_millis(10), child.wait())
                .inline()
                .await;
            assert!(waited.is_none());
            let gone = !std::path::Path::new(&format!("/proc/{pid}")).exists();
            io::Result::Ok((status.code(), gone))
        };
        FORCE_EXIT_THREAD.set(true);
        let result = crate::run(CoroutineCall::internal(main_task, "tests", "main_task"));
        FORCE_EXIT_THREAD.set(false);
        assert_eq!(result.unwrap(), (Some(4), true));
    }
}
