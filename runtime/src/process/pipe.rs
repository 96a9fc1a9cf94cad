//! The parent's ends of a child's standard streams: [`ChildStdin`], [`ChildStdout`],
//! [`ChildStderr`].
//!
//! Invariants: each is a non-blocking pipe end registered with the runtime that spawned the
//! child (see `io::source`), so a read or write is a checkpoint that has moved no bytes when it
//! reports cancellation. Converting one into a [`Stdio`] for another child hands over a
//! duplicate of the descriptor switched back to blocking mode (the mode belongs to the pipe,
//! which the next child shares), and drops the registered one.

use crate::CoroutineCall;
use crate::io::source::Registered;
use crate::io::{Read, Write};
use crate::runtime::seam::Waiting;
use crate::runtime::seam::io::Direction;
use mio::unix::pipe::{Receiver, Sender};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::Stdio;

/// A duplicate of `fd` in blocking mode, for another process to use.
fn blocking_duplicate(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let fd = fd.try_clone_to_owned()?;
    // The duplicate shares the pipe's open file description, and with it the mode; the
    // registered original is dropped right after, so nothing here reads in blocking mode.
    let sender = Sender::from(fd);
    sender.set_nonblocking(false)?;
    Ok(OwnedFd::from(sender))
}

/// The writing end of a child's standard input, when it was set to
/// [`Stdio::piped()`](Stdio::piped). Implements [`Write`]; [`shutdown`](Write::shutdown) closes
/// it, so the child reads the end of its input (dropping it does the same).
pub struct ChildStdin {
    io: Option<Registered<Sender>>,
}

impl ChildStdin {
    pub(super) fn new(stdin: std::process::ChildStdin) -> io::Result<Self> {
        let sender = Sender::from(stdin);
        sender.set_nonblocking(true)?;
        Ok(ChildStdin {
            io: Some(Registered::new(sender)?),
        })
    }

    fn closed() -> io::Error {
        io::Error::new(
            io::ErrorKind::BrokenPipe,
            "this ChildStdin was shut down; nothing more can be written to the child",
        )
    }
}

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.io {
            Some(io) => f
                .debug_tuple("ChildStdin")
                .field(&io.get_ref().as_raw_fd())
                .finish(),
            None => f.write_str("ChildStdin(closed)"),
        }
    }
}

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                let Some(io) = &self.io else {
                    crate::checkpoint().inline().await?;
                    return Err(Self::closed());
                };
                io.op(Direction::Write, Waiting::ChildStdinWrite, |s| {
                    io::Write::write(&mut &*s, buf)
                })
                .await
            },
            "scoro::process",
            "ChildStdin::write",
        )
    }

    /// Closes the pipe: the child reads the end of its input. Later writes fail with
    /// [`BrokenPipe`](io::ErrorKind::BrokenPipe); a second `shutdown` does nothing.
    fn shutdown(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                self.io = None;
                Ok(())
            },
            "scoro::process",
            "ChildStdin::shutdown",
        )
    }
}

impl TryFrom<ChildStdin> for Stdio {
    type Error = io::Error;

    /// The pipe as another child's standard output, for a pipeline. Fails if the pipe was
    /// shut down.
    fn try_from(stdin: ChildStdin) -> io::Result<Stdio> {
        let io = stdin.io.as_ref().ok_or_else(ChildStdin::closed)?;
        Ok(Stdio::from(blocking_duplicate(io.get_ref().as_fd())?))
    }
}

macro_rules! child_output {
    ($(#[$doc:meta])* $name:ident, $std:ty, $waiting:ident, $read:literal) => {
        $(#[$doc])*
        pub struct $name {
            io: Registered<Receiver>,
        }

        impl $name {
            pub(super) fn new(pipe: $std) -> io::Result<Self> {
                let receiver = Receiver::from(pipe);
                receiver.set_nonblocking(true)?;
                Ok($name {
                    io: Registered::new(receiver)?,
                })
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name))
                    .field(&self.io.get_ref().as_raw_fd())
                    .finish()
            }
        }

        impl Read for $name {
            fn read(
                &mut self,
                buf: &mut [u8],
            ) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
                CoroutineCall::internal(
                    self.io.op(Direction::Read, Waiting::$waiting, |r| {
                        io::Read::read(&mut &*r, buf)
                    }),
                    "scoro::process",
                    $read,
                )
            }
        }

        impl TryFrom<$name> for Stdio {
            type Error = io::Error;

            /// The pipe as another child's standard input, for a pipeline: that child reads
            /// what this one writes, without passing through this process.
            fn try_from(pipe: $name) -> io::Result<Stdio> {
                Ok(Stdio::from(blocking_duplicate(pipe.io.get_ref().as_fd())?))
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }
    };
}

child_output!(
    /// The reading end of a child's standard output, when it was set to
    /// [`Stdio::piped()`](Stdio::piped) (the default of [`Command::output`](super::Command::output)
    /// and [`Command::run`](super::Command::run)). Implements [`Read`]: wrap it in a
    /// [`BufReader`](crate::io::BufReader) to read the output line by line while the child runs.
    ChildStdout,
    std::process::ChildStdout,
    ChildStdoutRead,
    "ChildStdout::read"
);

child_output!(
    /// The reading end of a child's standard error, when it was set to
    /// [`Stdio::piped()`](Stdio::piped). Implements [`Read`].
    ChildStderr,
    std::process::ChildStderr,
    ChildStderrRead,
    "ChildStderr::read"
);

impl AsRawFd for ChildStdin {
    /// The pipe's descriptor, or -1 once it was shut down.
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_ref().map_or(-1, |io| io.get_ref().as_raw_fd())
    }
}
