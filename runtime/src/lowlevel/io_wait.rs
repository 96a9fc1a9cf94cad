//! Waiting for readiness of any file descriptor: `wait_readable` and `wait_writable`.
//!
//! Invariants:
//! - The descriptor is registered with the runtime's poller only while a task waits on it,
//!   and the wait starts from a fresh registration (or interest change), which reports
//!   readiness that is already there; so a wait returns promptly when the descriptor is ready
//!   and never depends on an earlier edge.
//! - At most one task waits per descriptor and direction; a second one gets `ResourceBusy`
//!   (as in Trio).
//! - The wait is a checkpoint: it checks for cancellation first, always blocks at least once
//!   (so it yields), and a cancelled wait unregisters itself.

use crate::CoroutineCall;
use crate::runtime::context;
use crate::runtime::core::TaskRef;
use crate::runtime::io::Direction;
use crate::runtime::task;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

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
        FdWait {
            fd,
            dir: Direction::Read,
            waiting: None,
        },
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
        FdWait {
            fd,
            dir: Direction::Write,
            waiting: None,
        },
        "scoro::lowlevel",
        "wait_writable",
    )
}

struct FdWait {
    fd: RawFd,
    dir: Direction,
    /// The task, while it is registered as the waiter.
    waiting: Option<TaskRef>,
}

impl Future for FdWait {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let task = task::verify(cx);
        let this = &mut *self;
        context::with_core(|core| {
            if let Some(c) = core.check_cancel(task) {
                this.stop(core);
                return Poll::Ready(Err(c.into()));
            }
            match this.waiting {
                None => {
                    let me = core.task_ref(task);
                    let started = core.io.borrow_mut().fd_wait_start(this.fd, this.dir, me);
                    match started {
                        Ok(_) => {
                            this.waiting = Some(me);
                            core.block_cancellable(task);
                            Poll::Pending
                        }
                        Err(e) => Poll::Ready(Err(e)),
                    }
                }
                Some(me) => {
                    let ready = core.io.borrow_mut().fd_wait_ready(this.fd, this.dir);
                    if ready {
                        this.stop(core);
                        Poll::Ready(Ok(()))
                    } else {
                        // Woken for another reason: keep waiting (the waiter slot was not
                        // taken, since only readiness takes it).
                        core.io.borrow_mut().fd_wait_rearm(this.fd, this.dir, me);
                        core.block_cancellable(task);
                        Poll::Pending
                    }
                }
            }
        })
    }
}

impl FdWait {
    fn stop(&mut self, core: &crate::runtime::core::Core) {
        if let Some(me) = self.waiting.take()
            && let Ok(mut driver) = core.io.try_borrow_mut()
        {
            driver.fd_wait_end(self.fd, self.dir, me);
        }
    }
}

impl Drop for FdWait {
    fn drop(&mut self) {
        if self.waiting.is_some() {
            context::try_with_core(|core| self.stop(core));
        }
    }
}
