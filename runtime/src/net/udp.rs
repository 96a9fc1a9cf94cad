//! UDP: `UdpSocket`.
//!
//! Invariants: as for TCP, the socket is non-blocking and registered with the runtime that
//! made it; one task at a time may wait to send and one to receive.

use super::addr::{ToSocketAddrs, resolve};
use crate::CoroutineCall;
use crate::io::source::Registered;
use crate::runtime::seam::Waiting;
use crate::runtime::seam::io::Direction;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

/// A UDP socket: sends and receives datagrams.
///
/// ```
/// use scoro::net::UdpSocket;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Vec<u8>> {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 64];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!(from, a.local_addr()?);
///     Ok(buf[..n].to_vec())
/// }
///
/// assert_eq!(scoro::run(main_task())?, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    io: Registered<mio::net::UdpSocket>,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl UdpSocket {
    /// Creates a socket bound to `addr` (port 0 picks a free port). When `addr` names several
    /// addresses, the first that works is used. A checkpoint.
    pub fn bind(
        addr: impl ToSocketAddrs,
    ) -> CoroutineCall<impl Future<Output = io::Result<UdpSocket>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                let mut last = None;
                for a in resolve(&addr).await? {
                    match mio::net::UdpSocket::bind(a) {
                        Ok(s) => {
                            let io = Registered::new(s)?;
                            return Ok(UdpSocket { io });
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.expect("`resolve` returns at least one address"))
            },
            "scoro::net",
            "UdpSocket::bind",
        )
    }

    /// Sends `buf` as one datagram to `target` (its first address, if it names several);
    /// returns how many bytes were sent. A checkpoint; a cancelled send has sent nothing.
    pub fn send_to<'a>(
        &'a self,
        buf: &'a [u8],
        target: impl ToSocketAddrs + 'a,
    ) -> CoroutineCall<impl Future<Output = io::Result<usize>> + 'a> {
        CoroutineCall::internal(
            async move {
                let to = resolve(&target).await?[0];
                self.io
                    .op(Direction::Write, Waiting::UdpSend, |s| s.send_to(buf, to))
                    .await
            },
            "scoro::net",
            "UdpSocket::send_to",
        )
    }

    /// Waits for a datagram, copies it into `buf` and returns its length and sender. A
    /// datagram longer than `buf` is cut short (the rest is lost, as with any UDP socket).
    /// A checkpoint; a cancelled receive has received nothing.
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> CoroutineCall<impl Future<Output = io::Result<(usize, SocketAddr)>> + 'a> {
        CoroutineCall::internal(
            self.io
                .op(Direction::Read, Waiting::UdpRecv, move |s| s.recv_from(buf)),
            "scoro::net",
            "UdpSocket::recv_from",
        )
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}
