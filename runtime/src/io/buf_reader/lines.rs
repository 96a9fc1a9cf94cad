//! `Lines` and `Split`: the records of a `BufReader`, one `next` call at a time.

use super::BufReader;
use crate::CoroutineCall;
use crate::io::Read;
use std::fmt;
use std::future::Future;
use std::io;

impl<R> BufReader<R> {
    /// The lines of the stream, read with [`Lines::next`].
    ///
    /// A line ends with `\n`, or with `\r\n`: the terminator is not part of the line (a `\r`
    /// elsewhere, or at the end of a stream that has no final `\n`, is kept). The last line
    /// needs no terminator; an empty stream has no lines.
    ///
    /// ```
    /// use scoro::io::BufReader;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<Vec<String>> {
    ///     let mut reader = BufReader::new(&b"one\r\ntwo\n\nlast"[..]);
    ///     let mut lines = reader.lines();
    ///     let mut got = Vec::new();
    ///     while let Some(line) = lines.next().await? {
    ///         got.push(line);
    ///     }
    ///     Ok(got)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, ["one", "two", "", "last"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lines(&mut self) -> Lines<'_, R> {
        Lines {
            reader: self,
            max_len: usize::MAX,
            skipping: false,
        }
    }

    /// The records of the stream separated by `delimiter`, read with [`Split::next`]. The
    /// delimiter is not part of a record; the last record needs none.
    ///
    /// ```
    /// use scoro::io::BufReader;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<Vec<Vec<u8>>> {
    ///     let mut reader = BufReader::new(&b"a,,bc"[..]);
    ///     let mut records = reader.split(b',');
    ///     let mut got = Vec::new();
    ///     while let Some(record) = records.next().await? {
    ///         got.push(record);
    ///     }
    ///     Ok(got)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, [&b"a"[..], b"", b"bc"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn split(&mut self, delimiter: u8) -> Split<'_, R> {
        Split {
            reader: self,
            delimiter,
            max_len: usize::MAX,
            skipping: false,
        }
    }
}

/// The lines of a [`BufReader`]: made by [`BufReader::lines`].
///
/// Lines have no length limit unless [`max_len`](Lines::max_len) sets one; set it for input
/// you do not trust, or one endless line fills the memory.
///
/// ```
/// use scoro::io::BufReader;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Option<String>> {
///     let mut reader = BufReader::new(&b"hello\n"[..]);
///     reader.lines().max_len(80).next().await
/// }
///
/// assert_eq!(scoro::run(main_task())?.as_deref(), Some("hello"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Lines<'a, R> {
    reader: &'a mut BufReader<R>,
    max_len: usize,
    /// The rest of a line that was too long is still to be dropped.
    skipping: bool,
}

impl<R: fmt::Debug> fmt::Debug for Lines<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines")
            .field("reader", &self.reader)
            .field("max_len", &self.max_len)
            .finish()
    }
}

impl<'a, R> Lines<'a, R> {
    /// Limits a line to `max_len` bytes (without its terminator).
    ///
    /// A longer line is an [`InvalidData`](io::ErrorKind::InvalidData) error, found as soon
    /// as more than `max_len` bytes of it are buffered: the buffer never holds much more
    /// than `max_len` bytes (or its capacity). The line is dropped, and the next call
    /// returns the line after it (the rest of the long line is dropped by this `Lines`: a
    /// new one made after the error would start with that rest).
    ///
    /// ```
    /// use scoro::io::BufReader;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<()> {
    ///     let mut reader = BufReader::new(&b"short\nfar too long\nok\n"[..]);
    ///     let mut lines = reader.lines().max_len(5);
    ///     assert_eq!(lines.next().await?.as_deref(), Some("short"));
    ///     let err = lines.next().await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    ///     assert_eq!(lines.next().await?.as_deref(), Some("ok"));
    ///     Ok(())
    /// }
    ///
    /// scoro::run(main_task())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn max_len(mut self, max_len: usize) -> Lines<'a, R> {
        self.max_len = max_len;
        self
    }
}

impl<R: Read> Lines<'_, R> {
    /// The next line, without its terminator (`\n` or `\r\n`); `None` at the end of the
    /// stream. A checkpoint.
    ///
    /// If cancelled, no byte is lost: the partial line stays buffered, and the next call
    /// returns the whole line. A line that is not UTF-8, or longer than
    /// [`max_len`](Lines::max_len), is dropped and reported as
    /// [`InvalidData`](io::ErrorKind::InvalidData); the next call returns the line after it.
    ///
    /// ```
    /// use scoro::io::BufReader;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<usize> {
    ///     let mut reader = BufReader::new(&b"a\nb\nc\n"[..]);
    ///     let mut lines = reader.lines();
    ///     let mut count = 0;
    ///     while lines.next().await?.is_some() {
    ///         count += 1;
    ///     }
    ///     Ok(count)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[allow(
        clippy::should_implement_trait,
        reason = "the `while let Some(..) = x.next().await?` of scoro's streams, a checkpoint"
    )]
    pub fn next(&mut self) -> CoroutineCall<impl Future<Output = io::Result<Option<String>>> + '_> {
        CoroutineCall::internal(
            async move {
                let line = self
                    .reader
                    .next_record(b'\n', true, self.max_len, &mut self.skipping)
                    .inline()
                    .await?;
                line.map(|line| {
                    String::from_utf8(line).map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("the line is not valid UTF-8: {}", e.utf8_error()),
                        )
                    })
                })
                .transpose()
            },
            "scoro::io",
            "Lines::next",
        )
    }
}

/// The records of a [`BufReader`] separated by a delimiter: made by [`BufReader::split`].
///
/// Records have no length limit unless [`max_len`](Split::max_len) sets one.
///
/// ```
/// use scoro::io::BufReader;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Option<Vec<u8>>> {
///     let mut reader = BufReader::new(&b"key\0value\0"[..]);
///     reader.split(0).next().await
/// }
///
/// assert_eq!(scoro::run(main_task())?, Some(b"key".to_vec()));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Split<'a, R> {
    reader: &'a mut BufReader<R>,
    delimiter: u8,
    max_len: usize,
    /// The rest of a record that was too long is still to be dropped.
    skipping: bool,
}

impl<R: fmt::Debug> fmt::Debug for Split<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Split")
            .field("reader", &self.reader)
            .field("delimiter", &self.delimiter)
            .field("max_len", &self.max_len)
            .finish()
    }
}

impl<'a, R> Split<'a, R> {
    /// Limits a record to `max_len` bytes (without its delimiter), as
    /// [`Lines::max_len`] does for lines.
    ///
    /// ```
    /// use scoro::io::BufReader;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<()> {
    ///     let mut reader = BufReader::new(&b"12345;12;"[..]);
    ///     let mut records = reader.split(b';').max_len(3);
    ///     assert!(records.next().await.is_err());
    ///     assert_eq!(records.next().await?, Some(b"12".to_vec()));
    ///     assert_eq!(records.next().await?, None);
    ///     Ok(())
    /// }
    ///
    /// scoro::run(main_task())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn max_len(mut self, max_len: usize) -> Split<'a, R> {
        self.max_len = max_len;
        self
    }
}

impl<R: Read> Split<'_, R> {
    /// The next record, without its delimiter; `None` at the end of the stream. A
    /// checkpoint.
    ///
    /// If cancelled, no byte is lost: the partial record stays buffered, and the next call
    /// returns the whole record. A record longer than [`max_len`](Split::max_len) is dropped
    /// and reported as [`InvalidData`](io::ErrorKind::InvalidData).
    ///
    /// ```
    /// use scoro::io::BufReader;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<Vec<Vec<u8>>> {
    ///     let mut reader = BufReader::new(&b"x|y|"[..]);
    ///     let mut records = reader.split(b'|');
    ///     let mut got = Vec::new();
    ///     while let Some(record) = records.next().await? {
    ///         got.push(record);
    ///     }
    ///     Ok(got)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, [b"x".to_vec(), b"y".to_vec()]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[allow(
        clippy::should_implement_trait,
        reason = "the `while let Some(..) = x.next().await?` of scoro's streams, a checkpoint"
    )]
    pub fn next(
        &mut self,
    ) -> CoroutineCall<impl Future<Output = io::Result<Option<Vec<u8>>>> + '_> {
        CoroutineCall::internal(
            self.reader
                .next_record(self.delimiter, false, self.max_len, &mut self.skipping)
                .inline(),
            "scoro::io",
            "Split::next",
        )
    }
}
