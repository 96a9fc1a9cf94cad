//! Unix domain sockets: `UnixListener` and `UnixStream`.
//!
//! Invariants: the same as for TCP (non-blocking, registered with the runtime that made them).

use super::accept::skipping_failed_connections;
use super::stream::{self, ReadHalf, StreamRef, WriteHalf};
use crate::CoroutineCall;
use crate::io::source::Registered;
use crate::io::{Read, Write};
use crate::runtime::seam::Waiting;
use crate::runtime::seam::io::Direction;
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// A Unix domain socket that accepts connections.
///
/// The socket file is not removed when the listener is dropped (as with the standard
/// library); remove it yourself if the path will be reused.
///
/// ```
/// use scoro::net::{UnixListener, UnixStream};
/// use scoro::io::{Read, Write};
///
/// #[scoro::structured]
/// async fn main_task(path: &std::path::Path) -> std::io::Result<String> {
///     let listener = UnixListener::bind(path).await?;
///     let mut client = UnixStream::connect(path).await?;
///     let (mut conn, _) = listener.accept().await?;
///     client.write_all(b"over a unix socket").await?;
///     client.shutdown().await?;
///     let mut text = String::new();
///     conn.read_to_string(&mut text).await?;
///     Ok(text)
/// }
///
/// let path = std::env::temp_dir().join(format!("scoro-doc-{}.sock", std::process::id()));
/// let text = scoro::run(main_task(&path));
/// std::fs::remove_file(&path)?;
/// assert_eq!(text?, "over a unix socket");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    io: Registered<mio::net::UnixListener>,
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl UnixListener {
    /// Creates a listener bound to the socket file `path` (which must not exist yet). A
    /// checkpoint.
    pub fn bind(
        path: impl AsRef<Path>,
    ) -> CoroutineCall<impl Future<Output = io::Result<UnixListener>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                let path = path.as_ref();
                let l = mio::net::UnixListener::bind(path).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("could not bind to {}: {e}", path.display()),
                    )
                })?;
                let io = Registered::new(l)?;
                Ok(UnixListener { io })
            },
            "scoro::net",
            "UnixListener::bind",
        )
    }

    /// Waits for a connection and returns it with the peer's address (usually unnamed). A
    /// checkpoint. Only one task may wait in `accept` at a time. A connection that fails while
    /// it waits to be accepted is skipped, as by
    /// [`TcpListener::accept`](super::TcpListener::accept).
    pub fn accept(
        &self,
    ) -> CoroutineCall<impl Future<Output = io::Result<(UnixStream, SocketAddr)>> + '_> {
        CoroutineCall::internal(
            async move {
                let (s, peer) = self
                    .io
                    .op(Direction::Read, Waiting::UnixAccept, |l| {
                        skipping_failed_connections(|| l.accept())
                    })
                    .await?;
                Ok((UnixStream::from_mio(s)?, peer))
            },
            "scoro::net",
            "UnixListener::accept",
        )
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

/// A Unix domain stream connection. Implements [`Read`] and [`Write`]; see
/// [`TcpStream`](super::TcpStream), which it mirrors.
///
/// ```
/// use scoro::io::{Read, Write};
/// use scoro::net::UnixStream;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<String> {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"through a socket pair").await?;
///     a.shutdown().await?;
///     let mut text = String::new();
///     b.read_to_string(&mut text).await?;
///     Ok(text)
/// }
///
/// assert_eq!(scoro::run(main_task())?, "through a socket pair");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    io: Registered<mio::net::UnixStream>,
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl UnixStream {
    fn from_mio(s: mio::net::UnixStream) -> io::Result<UnixStream> {
        let io = Registered::new(s)?;
        Ok(UnixStream { io })
    }

    /// Connects to the socket file `path`. A checkpoint.
    pub fn connect(
        path: impl AsRef<Path>,
    ) -> CoroutineCall<impl Future<Output = io::Result<UnixStream>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint_if_cancelled().inline().await?;
                let path = path.as_ref();
                let annotate = |e: io::Error| {
                    if crate::MaybeCancelled::is_cancel_requested(&e) {
                        e
                    } else {
                        io::Error::new(
                            e.kind(),
                            format!("could not connect to {}: {e}", path.display()),
                        )
                    }
                };
                let s = mio::net::UnixStream::connect(path).map_err(annotate)?;
                let stream = UnixStream::from_mio(s)?;
                stream
                    .io
                    .op(Direction::Write, Waiting::UnixConnect, |s| {
                        if let Some(e) = s.take_error()? {
                            return Err(e);
                        }
                        match s.peer_addr() {
                            Ok(_) => Ok(()),
                            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                                Err(io::ErrorKind::WouldBlock.into())
                            }
                            Err(e) => Err(e),
                        }
                    })
                    .await
                    .map_err(annotate)?;
                Ok(stream)
            },
            "scoro::net",
            "UnixStream::connect",
        )
    }

    /// A pair of connected streams (like a pipe, but both ways).
    ///
    /// # Panics
    /// Outside a running scoro runtime.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The address of this end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Splits the stream into a reading and a writing half that two tasks can use at once.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        stream::split(StreamRef::Unix(&self.io))
    }

    /// The registered stream, for the poll adapters of `compat`.
    pub(crate) fn stream_ref(&self) -> StreamRef<'_> {
        StreamRef::Unix(&self.io)
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            stream::read(&self.io, Waiting::UnixRead, buf),
            "scoro::net",
            "UnixStream::read",
        )
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            stream::write(&self.io, Waiting::UnixWrite, buf),
            "scoro::net",
            "UnixStream::write",
        )
    }

    /// Shuts down the sending direction: the peer reads the end of the stream.
    fn shutdown(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            stream::shutdown(&self.io),
            "scoro::net",
            "UnixStream::shutdown",
        )
    }
}
