//! `BufReader`: a buffer in front of a reader, for reading lines.
//!
//! Invariants:
//! - `buf[pos..filled]` holds the bytes read from `inner` and not yet handed out; `pos <=
//!   filled <= buf.len()`.
//! - `read_line` and `read_until` hand a line to the caller only once it is complete (or the
//!   stream ended): until then it stays in the buffer, which grows past its capacity for a
//!   long line. So a cancelled call leaves the caller's buffer untouched and loses nothing;
//!   calling again picks the line up where it was.
//! - `Lines` and `Split` (`buf_reader/lines.rs`) hand out records the same way, and bound the
//!   buffer: a record longer than their limit is dropped (in pieces, as it arrives) and
//!   reported, never held whole.

use super::{Read, Write};
use crate::CoroutineCall;
use std::fmt;
use std::future::Future;
use std::io;

mod lines;

pub use lines::{Lines, Split};

const DEFAULT_CAPACITY: usize = 8 * 1024;

/// Adds a buffer to a reader, so that lines (or any delimited records) can be read without a
/// system call per byte.
///
/// `BufReader<R>` is itself a [`Read`], and a [`Write`] when `R` is, so that one buffered
/// stream can answer what it reads.
///
/// ```
/// use scoro::io::BufReader;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Vec<String>> {
///     let mut reader = BufReader::new(&b"first line\nsecond line\nno newline"[..]);
///     let mut lines = Vec::new();
///     loop {
///         let mut line = String::new();
///         if reader.read_line(&mut line).await? == 0 {
///             break;
///         }
///         lines.push(line);
///     }
///     Ok(lines)
/// }
///
/// assert_eq!(
///     scoro::run(main_task())?,
///     ["first line\n", "second line\n", "no newline"]
/// );
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct BufReader<R> {
    inner: R,
    buf: Vec<u8>,
    capacity: usize,
    pos: usize,
    filled: usize,
}

impl<R: fmt::Debug> fmt::Debug for BufReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufReader")
            .field("inner", &self.inner)
            .field("buffered", &(self.filled - self.pos))
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<R> BufReader<R> {
    /// A buffered reader with the default capacity (8 KiB).
    pub fn new(inner: R) -> Self {
        BufReader::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// A buffered reader that reads up to `capacity` bytes at a time (at least 1).
    pub fn with_capacity(capacity: usize, inner: R) -> Self {
        let capacity = capacity.max(1);
        BufReader {
            inner,
            buf: vec![0; capacity],
            capacity,
            pos: 0,
            filled: 0,
        }
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The underlying reader. Reading from it directly skips what is buffered.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The bytes buffered and not yet read.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// Gives the underlying reader back; buffered bytes are dropped (look at
    /// [`buffer`](BufReader::buffer) first if they matter).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Marks `n` buffered bytes as read (at most as many as are buffered).
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
        if self.pos == self.filled {
            self.pos = 0;
            self.filled = 0;
            if self.buf.len() > self.capacity {
                // A long line made the buffer grow: give the memory back.
                self.buf.truncate(self.capacity);
                self.buf.shrink_to_fit();
            }
        }
    }

    /// Makes room at the end of the buffer: compacts, and grows it when it is full.
    fn make_room(&mut self) {
        if self.filled < self.buf.len() {
            return;
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        } else {
            let grow = self.buf.len().max(self.capacity);
            self.buf.resize(self.buf.len() + grow, 0);
        }
    }
}

impl<R: Read> BufReader<R> {
    /// Reads more bytes from the underlying reader into the buffer; returns how many (0 at the
    /// end of the stream). A checkpoint.
    fn fill_more(&mut self) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                self.make_room();
                let filled = self.filled;
                let n = self.inner.read(&mut self.buf[filled..]).inline().await?;
                self.filled += n;
                Ok(n)
            },
            "scoro::io",
            "BufReader::fill_more",
        )
    }

    /// Returns the buffered bytes, reading more first if there are none. An empty slice
    /// means the end of the stream. Mark what you used with [`consume`](BufReader::consume).
    /// A checkpoint.
    pub fn fill_buf(&mut self) -> CoroutineCall<impl Future<Output = io::Result<&[u8]>>> {
        CoroutineCall::internal(
            async move {
                if self.pos == self.filled {
                    self.fill_more().inline().await?;
                } else {
                    crate::checkpoint().inline().await?;
                }
                Ok(&self.buf[self.pos..self.filled])
            },
            "scoro::io",
            "BufReader::fill_buf",
        )
    }

    /// Waits until the buffer holds a record ending with `delim` (or the stream ended);
    /// returns the record's length (0 only at the end of the stream), or `None` if `limit`
    /// bytes are buffered and none of them is `delim` (the buffer then holds at most about
    /// twice `limit` or its capacity). Every path goes through at least one checkpoint.
    fn fill_until(
        &mut self,
        delim: u8,
        limit: usize,
    ) -> CoroutineCall<impl Future<Output = io::Result<Option<usize>>>> {
        CoroutineCall::internal(
            async move {
                // Bytes after `pos` already known to hold no delimiter (an offset from `pos`,
                // which stays valid when `fill_more` moves the data to the buffer's front).
                let mut scanned = 0;
                let mut checked = false;
                loop {
                    let window = (self.filled - self.pos).min(limit);
                    let start = self.pos + scanned;
                    let found = self.buf[start..self.pos + window]
                        .iter()
                        .position(|&b| b == delim);
                    if found.is_some() || window == limit {
                        if !checked {
                            crate::checkpoint().inline().await?;
                        }
                        return Ok(found.map(|i| scanned + i + 1));
                    }
                    scanned = window;
                    let n = self.fill_more().inline().await?;
                    checked = true;
                    if n == 0 {
                        return Ok(Some(self.filled - self.pos));
                    }
                }
            },
            "scoro::io",
            "BufReader::fill_until",
        )
    }

    /// Reads up to and including the next `delim` byte (or to the end of the stream),
    /// appending it to `buf`; returns how many bytes were appended (0 at the end of the
    /// stream). A checkpoint.
    ///
    /// If cancelled, `buf` is unchanged and the partial record stays buffered: calling again
    /// continues where this call stopped, so nothing is lost.
    ///
    /// ```
    /// use scoro::io::BufReader;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<Vec<Vec<u8>>> {
    ///     let mut reader = BufReader::new(&b"a,bc,"[..]);
    ///     let mut records = Vec::new();
    ///     loop {
    ///         let mut record = Vec::new();
    ///         if reader.read_until(b',', &mut record).await? == 0 {
    ///             return Ok(records);
    ///         }
    ///         records.push(record);
    ///     }
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, [b"a,".to_vec(), b"bc,".to_vec()]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_until(
        &mut self,
        delim: u8,
        buf: &mut Vec<u8>,
    ) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                let len = self.fill_until(delim, usize::MAX).inline().await?;
                let len = len.expect("a record without a limit fits");
                buf.extend_from_slice(&self.buf[self.pos..self.pos + len]);
                self.consume(len);
                Ok(len)
            },
            "scoro::io",
            "BufReader::read_until",
        )
    }

    /// Reads a line (up to and including `\n`, or to the end of the stream) and appends it to
    /// `buf`; returns how many bytes were appended (0 at the end of the stream). A checkpoint.
    ///
    /// If cancelled, `buf` is unchanged and the partial line stays buffered: calling again
    /// continues where this call stopped, so nothing is lost. A line that is not UTF-8 is
    /// consumed and reported as [`InvalidData`](io::ErrorKind::InvalidData), `buf` unchanged.
    ///
    /// A line has no length limit: the buffer grows to hold it (and shrinks back once it has
    /// been read).
    pub fn read_line(
        &mut self,
        buf: &mut String,
    ) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                let len = self.fill_until(b'\n', usize::MAX).inline().await?;
                let len = len.expect("a line without a limit fits");
                let line = std::str::from_utf8(&self.buf[self.pos..self.pos + len]).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the line is not valid UTF-8: {e}"),
                    )
                });
                let result = line.map(|line| buf.push_str(line));
                self.consume(len);
                result.map(|()| len)
            },
            "scoro::io",
            "BufReader::read_line",
        )
    }

    /// The next record ending with `delim` (or the stream's end), without `delim` and, if
    /// `strip_cr`, without a `\r` before it; `None` at the end of the stream. A record longer
    /// than `max_len` (once stripped) is an `InvalidData` error: what is buffered of it is
    /// dropped, and `skipping` makes the following calls drop the rest of it first. A
    /// checkpoint; if cancelled, the record stays buffered (what a skip dropped stays
    /// dropped).
    fn next_record(
        &mut self,
        delim: u8,
        strip_cr: bool,
        max_len: usize,
        skipping: &mut bool,
    ) -> CoroutineCall<impl Future<Output = io::Result<Option<Vec<u8>>>>> {
        CoroutineCall::internal(
            async move {
                while *skipping {
                    let skip = self.fill_until(delim, self.capacity).inline().await?;
                    match skip {
                        Some(0) => return Ok(None),
                        Some(len) => {
                            *skipping = self.buf[self.pos + len - 1] != delim;
                            self.consume(len);
                        }
                        None => self.consume(self.capacity),
                    }
                }
                let terminator = if strip_cr { 2 } else { 1 };
                let limit = max_len.saturating_add(terminator);
                let Some(len) = self.fill_until(delim, limit).inline().await? else {
                    self.consume(limit);
                    *skipping = true;
                    return Err(too_long(max_len));
                };
                let mut record = &self.buf[self.pos..self.pos + len];
                if record.last() == Some(&delim) {
                    record = &record[..record.len() - 1];
                    if strip_cr && record.last() == Some(&b'\r') {
                        record = &record[..record.len() - 1];
                    }
                }
                let out = (record.len() <= max_len).then(|| record.to_vec());
                self.consume(len);
                match out {
                    _ if len == 0 => Ok(None),
                    Some(out) => Ok(Some(out)),
                    None => Err(too_long(max_len)),
                }
            },
            "scoro::io",
            "BufReader::next_record",
        )
    }
}

/// The error of a record longer than `max_len`.
fn too_long(max_len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the line is longer than its limit of {max_len} bytes"),
    )
}

impl<R: Read> Read for BufReader<R> {
    fn read(&mut self, out: &mut [u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                if self.pos == self.filled && out.len() >= self.capacity {
                    // Nothing buffered and a large read: skip the copy.
                    return self.inner.read(out).inline().await;
                }
                let available = self.fill_buf().inline().await?;
                let n = available.len().min(out.len());
                out[..n].copy_from_slice(&available[..n]);
                self.consume(n);
                Ok(n)
            },
            "scoro::io",
            "<BufReader as Read>::read",
        )
    }
}

/// Writes go straight to the underlying writer (only reads are buffered).
impl<R: Write> Write for BufReader<R> {
    fn write(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        self.inner.flush()
    }

    fn shutdown(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        self.inner.shutdown()
    }
}
