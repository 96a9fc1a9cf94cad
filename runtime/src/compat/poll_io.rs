//! Poll-based adapters over scoro streams, for foreign code that reads and writes through
//! `poll_read`/`poll_write` (the `AsyncRead`/`AsyncWrite` traits of `futures-io` and tokio).
//!
//! Invariants:
//! - A [`PollIo`] borrows its stream mutably for its whole life, so no scoro operation can
//!   wait on the stream meanwhile: the only waiter it can meet in the driver is its own waker
//!   (or a task's, for a split half used elsewhere, which it never displaces: `ResourceBusy`).
//! - Each poll is one non-blocking syscall; on `WouldBlock` the poll's waker becomes the
//!   waiter of that direction and `Pending` is returned. Dropping the adapter removes the
//!   wakers it left in the driver.
//! - Away from the stream's own runtime (another thread, another run) every operation is an
//!   `io::Error`, never a panic.

use crate::net::{ReadHalf, StreamRef, TcpStream, UnixStream, WriteHalf};
use crate::runtime::seam::io::Direction;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::task::{Context, Poll};

/// A scoro stream as seen by poll-based foreign code: `poll_read`, `poll_write` and
/// `poll_shutdown`, and with the `futures-io` and `tokio` features the `AsyncRead` and
/// `AsyncWrite` traits of those crates. Made by [`poll_io`].
///
/// It borrows the stream (or split half) for its whole life. Use it only in a foreign future
/// run by [`compat::future`](crate::compat::future) (or
/// [`compat::tokio_future`](crate::compat#tokio)) in the scoro run that owns the stream: that
/// polls it on the run's thread, with a waker that the run's I/O driver wakes when the stream
/// becomes ready. Polled anywhere else (another thread, another run), every operation returns
/// an `io::Error`; nothing panics.
///
/// Cancelling the `compat::future` call drops the foreign future and the adapter with it. A
/// read or write that returned `Pending` moved no bytes, so the stream stays usable by scoro
/// code afterwards, but the foreign protocol may have been cut off half-way.
///
/// ```
/// use scoro::compat;
/// use scoro::io::Write;
/// use scoro::net::UnixStream;
/// use std::future::poll_fn;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Vec<u8>> {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"ping").await?;
///     let mut io = compat::poll_io(&mut b);
///     let mut buf = [0; 4];
///     let n = compat::future(poll_fn(|cx| io.poll_read(cx, &mut buf))).await??;
///     Ok(buf[..n].to_vec())
/// }
///
/// assert_eq!(scoro::run(main_task())?, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct PollIo<'a, S> {
    io: StreamRef<'a>,
    /// The directions in which a waker of ours may wait in the driver.
    reading: bool,
    writing: bool,
    _stream: PhantomData<&'a mut S>,
}

/// The streams [`poll_io`] adapts: [`TcpStream`], [`UnixStream`] and their split halves
/// ([`ReadHalf`] reads, [`WriteHalf`] writes). Sealed.
pub trait PollIoStream: sealed::Sealed {}

mod sealed {
    pub trait Sealed: Sized {
        /// The adapter of `self`.
        fn adapt(&mut self) -> super::PollIo<'_, Self>;
    }
}

/// Adapts `stream` for poll-based foreign code, borrowing it while the adapter lives; see
/// [`PollIo`].
pub fn poll_io<S: PollIoStream>(stream: &mut S) -> PollIo<'_, S> {
    stream.adapt()
}

impl<'a, S> PollIo<'a, S> {
    fn new(io: StreamRef<'a>) -> Self {
        PollIo {
            io,
            reading: false,
            writing: false,
            _stream: PhantomData,
        }
    }
}

macro_rules! poll_io_stream {
    ($($ty:ty),*) => {$(
        impl PollIoStream for $ty {}
        impl sealed::Sealed for $ty {
            fn adapt(&mut self) -> PollIo<'_, Self> {
                PollIo::new(self.stream_ref())
            }
        }
    )*};
}

poll_io_stream!(TcpStream, UnixStream, ReadHalf<'_>, WriteHalf<'_>);

impl<S> fmt::Debug for PollIo<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PollIo").field(&self.io).finish()
    }
}

impl<S> PollIo<'_, S> {
    fn read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let polled = self.io.poll_read(cx, buf);
        self.reading |= polled.is_pending();
        polled
    }

    fn write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = self.io.poll_write(cx, buf);
        self.writing |= polled.is_pending();
        polled
    }

    fn shutdown(&mut self) -> Poll<io::Result<()>> {
        Poll::Ready(self.io.shutdown_now())
    }
}

impl<S> Drop for PollIo<'_, S> {
    fn drop(&mut self) {
        if self.reading {
            self.io.forget_waker(Direction::Read);
        }
        if self.writing {
            self.io.forget_waker(Direction::Write);
        }
    }
}

/// The inherent poll methods of the adapters that read.
macro_rules! reads {
    ($($ty:ty),*) => {$(
        impl PollIo<'_, $ty> {
            /// Reads into `buf`: `Ready(Ok(n))` after reading `n > 0` bytes, `Ready(Ok(0))` at
            /// the end of the stream (or for an empty `buf`), `Pending` (with `cx`'s waker
            /// waiting for the stream to become readable) while nothing can be read.
            pub fn poll_read(
                &mut self,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.read(cx, buf)
            }
        }
    )*};
}

/// The inherent poll methods of the adapters that write.
macro_rules! writes {
    ($($ty:ty),*) => {$(
        impl PollIo<'_, $ty> {
            /// Writes from `buf`: `Ready(Ok(n))` after writing `n` bytes, `Pending` (with
            /// `cx`'s waker waiting for the stream to become writable) while nothing can be
            /// written.
            pub fn poll_write(
                &mut self,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.write(cx, buf)
            }

            /// Shuts down the sending direction: the peer reads the end of the stream. Never
            /// `Pending`.
            pub fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.shutdown()
            }
        }
    )*};
}

reads!(TcpStream, UnixStream, ReadHalf<'_>);
writes!(TcpStream, UnixStream, WriteHalf<'_>);

/// The `AsyncWrite` impls of `futures-io` and tokio, which differ only in the trait and the
/// name of the method that shuts the stream down.
#[cfg(any(feature = "futures-io", feature = "tokio"))]
macro_rules! async_write {
    ($trait:path, $shutdown:ident: $($ty:ty),*) => {$(
        impl $trait for PollIo<'_, $ty> {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.get_mut().write(cx, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // Writes go straight to the socket: nothing is buffered.
                std::task::Poll::Ready(Ok(()))
            }

            fn $shutdown(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.get_mut().shutdown()
            }
        }
    )*};
}

#[cfg(feature = "futures-io")]
mod futures_io_impls {
    use super::PollIo;
    use crate::net::{ReadHalf, TcpStream, UnixStream, WriteHalf};
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    macro_rules! async_read {
        ($($ty:ty),*) => {$(
            impl futures_io::AsyncRead for PollIo<'_, $ty> {
                fn poll_read(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    buf: &mut [u8],
                ) -> Poll<io::Result<usize>> {
                    self.get_mut().read(cx, buf)
                }
            }
        )*};
    }

    async_read!(TcpStream, UnixStream, ReadHalf<'_>);
    async_write!(futures_io::AsyncWrite, poll_close: TcpStream, UnixStream, WriteHalf<'_>);
}

#[cfg(feature = "tokio")]
mod tokio_impls {
    use super::PollIo;
    use crate::net::{ReadHalf, TcpStream, UnixStream, WriteHalf};
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll, ready};
    use tokio::io::ReadBuf;

    macro_rules! async_read {
        ($($ty:ty),*) => {$(
            impl tokio::io::AsyncRead for PollIo<'_, $ty> {
                fn poll_read(
                    self: Pin<&mut Self>,
                    cx: &mut Context<'_>,
                    buf: &mut ReadBuf<'_>,
                ) -> Poll<io::Result<()>> {
                    let n = ready!(self.get_mut().read(cx, buf.initialize_unfilled()))?;
                    buf.advance(n);
                    Poll::Ready(Ok(()))
                }
            }
        )*};
    }

    async_read!(TcpStream, UnixStream, ReadHalf<'_>);
    async_write!(tokio::io::AsyncWrite, poll_shutdown: TcpStream, UnixStream, WriteHalf<'_>);
}
