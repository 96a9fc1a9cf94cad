//! What TCP and Unix streams share: their read, write and shutdown operations, and the halves
//! that `split` hands out.
//!
//! Invariants: both halves of a split stream point at the same registered source; the read
//! half only ever waits in the read direction and the write half in the write direction, so
//! one task may read while another writes (each direction has its own waiter slot).

use crate::CoroutineCall;
use crate::io::source::Registered;
use crate::io::{Read, Write};
use crate::runtime::seam::Waiting;
use crate::runtime::seam::io::Direction;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::task::{Context, Poll};

/// A connected stream socket of `mio`.
pub(crate) trait RawStream: mio::event::Source {
    fn read_raw(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write_raw(&self, buf: &[u8]) -> io::Result<usize>;
    fn shutdown_raw(&self, how: Shutdown) -> io::Result<()>;
}

impl RawStream for mio::net::TcpStream {
    fn read_raw(&self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &*self, buf)
    }
    fn write_raw(&self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &*self, buf)
    }
    fn shutdown_raw(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

impl RawStream for mio::net::UnixStream {
    fn read_raw(&self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &*self, buf)
    }
    fn write_raw(&self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &*self, buf)
    }
    fn shutdown_raw(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

/// Reads from a stream, as a checkpoint; `waiting` names the public call.
pub(crate) async fn read<S: RawStream>(
    io: &Registered<S>,
    waiting: Waiting,
    buf: &mut [u8],
) -> io::Result<usize> {
    io.op(Direction::Read, waiting, |s| s.read_raw(buf)).await
}

/// Writes to a stream, as a checkpoint; `waiting` names the public call.
pub(crate) async fn write<S: RawStream>(
    io: &Registered<S>,
    waiting: Waiting,
    buf: &[u8],
) -> io::Result<usize> {
    io.op(Direction::Write, waiting, |s| s.write_raw(buf)).await
}

/// Shuts down the sending direction, as a checkpoint.
pub(crate) async fn shutdown<S: RawStream>(io: &Registered<S>) -> io::Result<()> {
    crate::checkpoint().inline().await?;
    match io.get_ref().shutdown_raw(Shutdown::Write) {
        // The peer already closed the connection: there is nothing left to shut down.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

/// The stream a half belongs to.
#[derive(Clone, Copy)]
pub(crate) enum StreamRef<'a> {
    Tcp(&'a Registered<mio::net::TcpStream>),
    Unix(&'a Registered<mio::net::UnixStream>),
}

impl fmt::Debug for StreamRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamRef::Tcp(s) => fmt::Debug::fmt(s, f),
            StreamRef::Unix(s) => fmt::Debug::fmt(s, f),
        }
    }
}

impl StreamRef<'_> {
    /// Reads for a foreign future (see `compat::poll_io`).
    pub(crate) fn poll_read(self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self {
            StreamRef::Tcp(io) => io.poll_op(Direction::Read, cx, |s| s.read_raw(buf)),
            StreamRef::Unix(io) => io.poll_op(Direction::Read, cx, |s| s.read_raw(buf)),
        }
    }

    /// Writes for a foreign future (see `compat::poll_io`).
    pub(crate) fn poll_write(self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            StreamRef::Tcp(io) => io.poll_op(Direction::Write, cx, |s| s.write_raw(buf)),
            StreamRef::Unix(io) => io.poll_op(Direction::Write, cx, |s| s.write_raw(buf)),
        }
    }

    /// Shuts down the sending direction for a foreign future: an error, like the other
    /// operations, away from the stream's runtime.
    pub(crate) fn shutdown_now(self) -> io::Result<()> {
        fn now<S: RawStream>(io: &Registered<S>) -> io::Result<()> {
            io.check_here()?;
            match io.get_ref().shutdown_raw(Shutdown::Write) {
                // The peer already closed the connection: there is nothing left to shut down.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                other => other,
            }
        }
        match self {
            StreamRef::Tcp(io) => now(io),
            StreamRef::Unix(io) => now(io),
        }
    }

    /// Removes a foreign future's waker from direction `dir` (a task waiting there stays).
    pub(crate) fn forget_waker(self, dir: Direction) {
        match self {
            StreamRef::Tcp(io) => io.forget_waker(dir),
            StreamRef::Unix(io) => io.forget_waker(dir),
        }
    }
}

/// The reading half of a [`TcpStream`](super::TcpStream) or [`UnixStream`](super::UnixStream),
/// made by `split`. Implements [`Read`].
///
/// ```
/// # use scoro::net::{TcpListener, TcpStream};
/// use scoro::io::{Read, Write};
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Vec<u8>> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (mut server, _) = listener.accept().await?;
///     let (mut reader, mut writer) = server.split();
///     writer.write_all(b"hello").await?;
///     let mut buf = [0; 5];
///     client.read_exact(&mut buf).await?;
///     client.write_all(&buf).await?;
///     let mut echo = [0; 5];
///     reader.read_exact(&mut echo).await?;
///     Ok(echo.to_vec())
/// }
///
/// assert_eq!(scoro::run(main_task())?, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a> {
    stream: StreamRef<'a>,
}

/// The writing half of a [`TcpStream`](super::TcpStream) or
/// [`UnixStream`](super::UnixStream), made by `split`. Implements [`Write`]; its
/// [`shutdown`](Write::shutdown) shuts down the stream's sending direction.
#[derive(Debug)]
pub struct WriteHalf<'a> {
    stream: StreamRef<'a>,
}

impl<'a> ReadHalf<'a> {
    /// The stream this half reads from.
    pub(crate) fn stream_ref(&self) -> StreamRef<'a> {
        self.stream
    }
}

impl<'a> WriteHalf<'a> {
    /// The stream this half writes to.
    pub(crate) fn stream_ref(&self) -> StreamRef<'a> {
        self.stream
    }
}

/// Splits a stream into its halves.
pub(crate) fn split(stream: StreamRef<'_>) -> (ReadHalf<'_>, WriteHalf<'_>) {
    (ReadHalf { stream }, WriteHalf { stream })
}

impl Read for ReadHalf<'_> {
    fn read(&mut self, buf: &mut [u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        let stream = self.stream;
        CoroutineCall::internal(
            async move {
                match stream {
                    StreamRef::Tcp(io) => read(io, Waiting::ReadHalfRead, buf).await,
                    StreamRef::Unix(io) => read(io, Waiting::ReadHalfRead, buf).await,
                }
            },
            "scoro::net",
            "ReadHalf::read",
        )
    }
}

impl Write for WriteHalf<'_> {
    fn write(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        let stream = self.stream;
        CoroutineCall::internal(
            async move {
                match stream {
                    StreamRef::Tcp(io) => write(io, Waiting::WriteHalfWrite, buf).await,
                    StreamRef::Unix(io) => write(io, Waiting::WriteHalfWrite, buf).await,
                }
            },
            "scoro::net",
            "WriteHalf::write",
        )
    }

    fn shutdown(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        let stream = self.stream;
        CoroutineCall::internal(
            async move {
                match stream {
                    StreamRef::Tcp(io) => shutdown(io).await,
                    StreamRef::Unix(io) => shutdown(io).await,
                }
            },
            "scoro::net",
            "WriteHalf::shutdown",
        )
    }
}
