//! TCP: `TcpListener` and `TcpStream`.
//!
//! Invariants: every socket is non-blocking and registered with the runtime that made it
//! (see `io::source`); streams get `TCP_NODELAY` when they are connected or accepted, as in
//! Trio, because structured code tends to write small messages and wait for the answer.

use super::accept::skipping_failed_connections;
use super::addr::{ToSocketAddrs, resolve};
use super::stream::{self, ReadHalf, StreamRef, WriteHalf};
use crate::CoroutineCall;
use crate::io::source::Registered;
use crate::io::{Read, Write};
use crate::runtime::seam::Waiting;
use crate::runtime::seam::io::Direction;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

/// A TCP socket that accepts connections.
///
/// ```
/// use scoro::net::{TcpListener, TcpStream};
/// use scoro::io::{Read, Write};
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<String> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let (mut conn, peer) = listener.accept().await?;
///     assert_eq!(peer, client.local_addr()?);
///     conn.write_all(b"welcome").await?;
///     conn.shutdown().await?;
///     let mut text = String::new();
///     client.read_to_string(&mut text).await?;
///     Ok(text)
/// }
///
/// assert_eq!(scoro::run(main_task())?, "welcome");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    io: Registered<mio::net::TcpListener>,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl TcpListener {
    /// Creates a listener bound to `addr` (port 0 picks a free port; see
    /// [`local_addr`](TcpListener::local_addr)). When `addr` names several addresses, the
    /// first that works is used.
    ///
    /// A checkpoint. Sets `SO_REUSEADDR`, so a server can restart at once on the same port.
    pub fn bind(
        addr: impl ToSocketAddrs,
    ) -> CoroutineCall<impl Future<Output = io::Result<TcpListener>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                let mut last = None;
                for a in resolve(&addr).await? {
                    match mio::net::TcpListener::bind(a) {
                        Ok(l) => {
                            let io = Registered::new(l)?;
                            return Ok(TcpListener { io });
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.expect("`resolve` returns at least one address"))
            },
            "scoro::net",
            "TcpListener::bind",
        )
    }

    /// Waits for a connection and returns it with the peer's address. A checkpoint.
    ///
    /// A connection that fails while it waits to be accepted (reset by its peer, say) is
    /// skipped: `accept` goes on waiting for the next one instead of returning that
    /// connection's error (`ECONNABORTED`, `EPROTO`, `EPERM`, `ENETDOWN`, `ENOPROTOOPT`,
    /// `EHOSTDOWN`, `ENONET`, `EHOSTUNREACH`, `EOPNOTSUPP`, `ENETUNREACH`, as in Trio). Errors
    /// about the listener or the process (out of descriptors, say) are returned.
    ///
    /// Only one task may wait in `accept` at a time (a second gets
    /// [`ResourceBusy`](io::ErrorKind::ResourceBusy)); to serve connections, see
    /// [`serve_tcp`](super::serve_tcp).
    pub fn accept(
        &self,
    ) -> CoroutineCall<impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + '_> {
        CoroutineCall::internal(
            async move {
                let (s, peer) = self
                    .io
                    .op(Direction::Read, Waiting::TcpAccept, |l| {
                        skipping_failed_connections(|| l.accept())
                    })
                    .await?;
                Ok((TcpStream::from_mio(s)?, peer))
            },
            "scoro::net",
            "TcpListener::accept",
        )
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

/// A TCP connection. Implements [`Read`] and [`Write`].
///
/// Reading and writing at the same time from two tasks needs both halves:
/// [`split`](TcpStream::split) hands them out. Dropping the stream closes the connection.
///
/// ```
/// use std::time::Duration;
/// use scoro::net::{TcpListener, TcpStream};
/// use scoro::io::Read;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = TcpStream::connect(listener.local_addr()?).await?;
///     let mut buf = [0; 16];
///     // Nobody writes: the read times out, and the stream stays usable.
///     let timed_out = scoro::move_on_after(Duration::from_millis(10), client.read(&mut buf))
///         .await
///         .is_none();
///     Ok(timed_out)
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    io: Registered<mio::net::TcpStream>,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl TcpStream {
    /// Wraps a connected (or connecting) `mio` stream: registers it, sets `TCP_NODELAY`.
    pub(crate) fn from_mio(s: mio::net::TcpStream) -> io::Result<TcpStream> {
        let io = Registered::new(s)?;
        // Best effort: some socket types refuse it, which changes nothing but latency.
        let _ = io.get_ref().set_nodelay(true);
        Ok(TcpStream { io })
    }

    /// Connects to `addr`. When it names several addresses they are tried one after the
    /// other; the error of the last one is returned if none works. A checkpoint.
    ///
    /// To connect to a host name with several addresses quickly, use
    /// [`open_tcp_stream`](super::open_tcp_stream), which tries them concurrently.
    pub fn connect(
        addr: impl ToSocketAddrs,
    ) -> CoroutineCall<impl Future<Output = io::Result<TcpStream>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint_if_cancelled().inline().await?;
                let mut last = None;
                for a in resolve(&addr).await? {
                    match connect_addr(a, Waiting::TcpConnect).await {
                        Ok(s) => return Ok(s),
                        Err(e) if is_cancel(&e) => return Err(e),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.expect("`resolve` returns at least one address"))
            },
            "scoro::net",
            "TcpStream::connect",
        )
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The address of this end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Turns Nagle's algorithm off (`true`, the default for scoro streams) or on.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Is Nagle's algorithm off?
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Splits the stream into a reading and a writing half that can be used by two tasks at
    /// once (one reads while the other writes). Both borrow the stream.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        stream::split(StreamRef::Tcp(&self.io))
    }

    /// The registered stream, for the poll adapters of `compat`.
    pub(crate) fn stream_ref(&self) -> StreamRef<'_> {
        StreamRef::Tcp(&self.io)
    }
}

fn is_cancel(e: &io::Error) -> bool {
    crate::MaybeCancelled::is_cancel_requested(e)
}

/// Connects to one address, as a checkpoint; `waiting` names the public call.
pub(crate) async fn connect_addr(addr: SocketAddr, waiting: Waiting) -> io::Result<TcpStream> {
    crate::checkpoint_if_cancelled().inline().await?;
    let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?)?;
    stream
        .io
        .op(Direction::Write, waiting, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                // Still connecting.
                Err(e)
                    if e.kind() == io::ErrorKind::NotConnected
                        || e.raw_os_error() == Some(libc::EINPROGRESS) =>
                {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(|e| {
            if is_cancel(&e) {
                e
            } else {
                io::Error::new(e.kind(), format!("could not connect to {addr}: {e}"))
            }
        })?;
    Ok(stream)
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            stream::read(&self.io, Waiting::TcpRead, buf),
            "scoro::net",
            "TcpStream::read",
        )
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            stream::write(&self.io, Waiting::TcpWrite, buf),
            "scoro::net",
            "TcpStream::write",
        )
    }

    /// Shuts down the sending direction: the peer reads the end of the stream. Reading may
    /// go on.
    fn shutdown(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            stream::shutdown(&self.io),
            "scoro::net",
            "TcpStream::shutdown",
        )
    }
}
