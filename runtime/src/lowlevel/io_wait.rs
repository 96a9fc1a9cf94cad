//! Waiting for readiness of any file descriptor: `wait_readable` and `wait_writable`.
//!
//! Invariants:
//! - The descriptor is registered with the runtime's poller only while a task waits on it,
//!   and the wait starts from a fresh registration (or interest change), which reports
//!   readiness that is already there; so a wait returns promptly when the descriptor is ready
//!   and never depends on an earlier edge.
//! - At most one task waits per descriptor and direction; a second one gets `ResourceBusy`
//!   (as in Trio).
//! - The wait is a [`Wait`] that always parks (its schedule point), and a cancelled wait
//!   unregisters itself.

use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::io::{self as seam, Direction};
use crate::runtime::seam::{CurrentTask, TaskRef, Waiting};
use crate::wait::{Aborted, Step, Wait, WaitCall};
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;

/// Waits until `fd` is readable (or at the end of its stream, or in error): a read on it would
/// not block.
///
/// Works for any descriptor the operating system can poll (sockets, pipes, terminals, ...),
/// including ones made by other libraries. The caller keeps `fd` open while it waits. A
/// checkpoint: it returns an error carrying [`CancelRequested`](crate::CancelRequested) when
/// the task is cancelled. Fails with [`ResourceBusy`](io::ErrorKind::ResourceBusy) if another
/// task already waits for `fd` to become readable, or if `fd` belongs to a scoro I/O object
/// (use that object's methods instead).
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Vec<u8>> {
///     let (mut a, mut b) = UnixStream::pair()?;
///     b.set_nonblocking(true)?;
///     a.write_all(b"ping")?;
///     scoro::lowlevel::wait_readable(b.as_raw_fd()).await?;
///     let mut buf = [0; 4];
///     let n = b.read(&mut buf)?;
///     Ok(buf[..n].to_vec())
/// }
///
/// assert_eq!(scoro::run(main_task())?, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_readable(fd: RawFd) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        WaitCall::new(FdWait {
            fd,
            dir: Direction::Read,
        }),
        "scoro::lowlevel",
        "wait_readable",
    )
}

/// Waits until `fd` is writable (or in error): a write on it would not block.
///
/// The same rules as [`wait_readable`] apply.
///
/// ```
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<()> {
///     let (a, _b) = UnixStream::pair()?;
///     // A fresh socket has room in its send buffer.
///     scoro::lowlevel::wait_writable(a.as_raw_fd()).await
/// }
///
/// scoro::run(main_task())?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_writable(fd: RawFd) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        WaitCall::new(FdWait {
            fd,
            dir: Direction::Write,
        }),
        "scoro::lowlevel",
        "wait_writable",
    )
}

/// A wait for readiness of a raw descriptor, as a [`Wait`].
struct FdWait {
    fd: RawFd,
    dir: Direction,
}

impl Wait for FdWait {
    type Output = io::Result<()>;
    type Parked = TaskRef;

    fn waiting(&self) -> Waiting {
        match self.dir {
            Direction::Read => Waiting::FdReadable,
            Direction::Write => Waiting::FdWritable,
        }
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel.into())
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, TaskRef> {
        // Always park: a fresh registration reports readiness that is already there.
        match seam::fd_wait_start(self.fd, self.dir, task) {
            Ok(me) => Step::Park(me),
            Err(e) => Step::Done(Err(e)),
        }
    }

    fn woken(self: Pin<&mut Self>, me: TaskRef) -> Step<Self::Output, TaskRef> {
        if seam::fd_wait_ready(self.fd, self.dir, me) {
            seam::fd_wait_end(self.fd, self.dir, me);
            Step::Done(Ok(()))
        } else {
            // Woken for another reason: keep waiting.
            Step::Park(me)
        }
    }

    fn abort(
        self: Pin<&mut Self>,
        me: TaskRef,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, TaskRef> {
        seam::fd_wait_end(self.fd, self.dir, me);
        Aborted::Left(Err(cancel.into()))
    }

    fn abandon(self: Pin<&mut Self>, me: TaskRef) {
        seam::fd_wait_end(self.fd, self.dir, me);
    }
}
