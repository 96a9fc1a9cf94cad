//! The `Read` and `Write` traits and their provided methods.
//!
//! Invariants:
//! - Every method is a checkpoint: the required methods are checkpoints by contract (they are
//!   written with `#[structured]` on top of scoro's I/O), and every provided method checks for
//!   cancellation at least once through them, so none can return `Ok` from a cancelled scope
//!   without having done its work. That holds whatever the arguments: with an empty buffer,
//!   `read_exact` and `write_all` have no read or write to do and call `checkpoint` instead.
//! - What a cancelled provided method loses is stated in its docs: `read_to_end` keeps every
//!   byte it read in the caller's buffer; `read_exact`, `read_to_string` and `write_all`
//!   report the cancellation without saying how far they got.

use crate::CoroutineCall;
use std::future::Future;
use std::io;

/// Reads bytes from a source: a socket, a pipe, a buffer.
///
/// This is the `#[structured]` form of [`std::io::Read`]: [`read`](Read::read) is an
/// `async fn`, a checkpoint that waits until at least one byte is available (or the end of
/// the stream, `Ok(0)`). Because the methods return `CoroutineCall<impl Future>`, the trait is
/// not object-safe; generic code uses it as a bound.
///
/// Implement it with `#[structured]` on the `impl` block, usually by forwarding to another
/// reader:
///
/// ```
/// use scoro::io::Read;
///
/// /// Counts the bytes that pass through.
/// struct Counting<R> {
///     inner: R,
///     count: usize,
/// }
///
/// #[scoro::structured]
/// impl<R: Read> Read for Counting<R> {
///     async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
///         let n = self.inner.read(buf).await?;
///         self.count += n;
///         Ok(n)
///     }
/// }
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<(String, usize)> {
///     let mut reader = Counting { inner: &b"hello"[..], count: 0 };
///     let mut text = String::new();
///     reader.read_to_string(&mut text).await?;
///     Ok((text, reader.count))
/// }
///
/// assert_eq!(scoro::run(main_task())?, ("hello".to_string(), 5));
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Read {
    /// Reads some bytes into `buf` and returns how many; `Ok(0)` means the end of the stream
    /// (or an empty `buf`).
    ///
    /// A checkpoint: returns an error carrying [`CancelRequested`](crate::CancelRequested)
    /// if the task is cancelled before any byte was read. A cancelled `read` has read
    /// nothing, so no data is lost.
    fn read(&mut self, buf: &mut [u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>>;

    /// Reads exactly `buf.len()` bytes.
    ///
    /// A checkpoint, also when `buf` is empty (then it reads nothing).
    /// Fails with [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) if the stream ends first.
    /// On any error, including cancellation, how much of `buf` was filled is not reported:
    /// use [`read`](Read::read) in a loop when partial progress matters.
    fn read_exact(
        &mut self,
        buf: &mut [u8],
    ) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move {
                if buf.is_empty() {
                    // Nothing to read, yet still a checkpoint: every call that can block is
                    // one, whatever its arguments (the reader is not asked for 0 bytes: a
                    // socket would wait for data to say so).
                    crate::checkpoint().inline().await?;
                    return Ok(());
                }
                let total = buf.len();
                let mut filled = 0;
                while filled < total {
                    let result = self.read(&mut buf[filled..]).inline().await;
                    match result {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!(
                                    "the stream ended after {filled} of the {total} bytes `read_exact` needed"
                                ),
                            ));
                        }
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            },
            "scoro::io",
            "Read::read_exact",
        )
    }

    /// Reads until the end of the stream, appending to `buf`; returns how many bytes were
    /// appended.
    ///
    /// Nothing is lost on error or cancellation: every byte read so far is already in `buf`.
    fn read_to_end(
        &mut self,
        buf: &mut Vec<u8>,
    ) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                let start = buf.len();
                let mut chunk = 4096;
                loop {
                    let len = buf.len();
                    buf.resize(len + chunk, 0);
                    let result = self.read(&mut buf[len..]).inline().await;
                    match result {
                        Ok(0) => {
                            buf.truncate(len);
                            return Ok(len - start);
                        }
                        Ok(n) => {
                            buf.truncate(len + n);
                            if n == chunk {
                                chunk = (chunk * 2).min(1 << 20);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(len),
                        Err(e) => {
                            buf.truncate(len);
                            return Err(e);
                        }
                    }
                }
            },
            "scoro::io",
            "Read::read_to_end",
        )
    }

    /// Reads until the end of the stream, appending to `buf`; returns how many bytes were
    /// appended.
    ///
    /// Fails with [`InvalidData`](io::ErrorKind::InvalidData) if the data is not UTF-8. On
    /// any error, including cancellation, `buf` is left as it was and the bytes read are
    /// dropped; use [`read_to_end`](Read::read_to_end) to keep them.
    fn read_to_string(
        &mut self,
        buf: &mut String,
    ) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                let mut bytes = Vec::new();
                self.read_to_end(&mut bytes).inline().await?;
                let text = String::from_utf8(bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the stream is not valid UTF-8: {}", e.utf8_error()),
                    )
                })?;
                buf.push_str(&text);
                Ok(text.len())
            },
            "scoro::io",
            "Read::read_to_string",
        )
    }
}

/// Writes bytes to a sink: a socket, a pipe, a buffer.
///
/// This is the `#[structured]` form of [`std::io::Write`]: [`write`](Write::write) is an
/// `async fn`, a checkpoint that waits until at least one byte can be written. Like
/// [`Read`], the trait is used as a bound, not as `dyn Write`.
///
/// ```
/// use scoro::io::Write;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Vec<u8>> {
///     let mut out = Vec::new();
///     out.write_all(b"hello, ").await?;
///     out.write_all(b"world").await?;
///     out.flush().await?;
///     Ok(out)
/// }
///
/// assert_eq!(scoro::run(main_task())?, b"hello, world");
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Write {
    /// Writes some of `buf` and returns how many bytes were written (at least one, unless
    /// `buf` is empty).
    ///
    /// A checkpoint: returns an error carrying [`CancelRequested`](crate::CancelRequested) if
    /// the task is cancelled before any byte was written. A cancelled `write` has written
    /// nothing.
    fn write(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>>;

    /// Writes all of `buf`.
    ///
    /// A checkpoint, also when `buf` is empty (then it writes nothing).
    /// Fails with [`WriteZero`](io::ErrorKind::WriteZero) if the sink stops accepting
    /// bytes. On any error, including cancellation, how much was written is not reported:
    /// use [`write`](Write::write) in a loop when partial progress matters.
    fn write_all(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move {
                if buf.is_empty() {
                    // Nothing to write, yet still a checkpoint (see `read_exact`).
                    crate::checkpoint().inline().await?;
                    return Ok(());
                }
                let mut rest = buf;
                while !rest.is_empty() {
                    let result = self.write(rest).inline().await;
                    match result {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::WriteZero,
                                format!(
                                    "the sink accepted only {} of {} bytes",
                                    buf.len() - rest.len(),
                                    buf.len()
                                ),
                            ));
                        }
                        Ok(n) => rest = &rest[n..],
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            },
            "scoro::io",
            "Write::write_all",
        )
    }

    /// Waits until everything written so far has been handed to the operating system (or
    /// wherever this writer sends it). A checkpoint.
    ///
    /// The provided version has nothing to flush: it is just a checkpoint.
    fn flush(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                Ok(())
            },
            "scoro::io",
            "Write::flush",
        )
    }

    /// Flushes, then tells the other side that nothing more will be written (for a socket:
    /// shuts down its sending direction, so the peer reads the end of the stream). Reading
    /// may go on. A checkpoint.
    ///
    /// The provided version only flushes.
    fn shutdown(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move { self.flush().inline().await },
            "scoro::io",
            "Write::shutdown",
        )
    }
}

impl<R: Read + ?Sized> Read for &mut R {
    fn read(&mut self, buf: &mut [u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        (**self).read(buf)
    }
}

impl<W: Write + ?Sized> Write for &mut W {
    fn write(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        (**self).write(buf)
    }

    fn flush(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        (**self).flush()
    }

    fn shutdown(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        (**self).shutdown()
    }
}

/// Reading from a byte slice takes bytes off its front. Each read is a checkpoint.
impl Read for &[u8] {
    fn read(&mut self, buf: &mut [u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                let n = buf.len().min(self.len());
                let (head, tail) = self.split_at(n);
                buf[..n].copy_from_slice(head);
                *self = tail;
                Ok(n)
            },
            "scoro::io",
            "<&[u8] as Read>::read",
        )
    }
}

/// Writing to a `Vec<u8>` appends to it. Each write is a checkpoint.
impl Write for Vec<u8> {
    fn write(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint().inline().await?;
                self.extend_from_slice(buf);
                Ok(buf.len())
            },
            "scoro::io",
            "<Vec<u8> as Write>::write",
        )
    }
}
