//! Reading and writing bytes: the [`Read`] and [`Write`] traits, [`BufReader`] and [`copy`].
//!
//! These are the `#[structured]` counterparts of [`std::io::Read`] and [`std::io::Write`]:
//! every method is an `async fn` and a checkpoint. Sockets of [`scoro::net`](crate::net)
//! implement them, and so do `&[u8]` (reading) and `Vec<u8>` (writing), which is handy in
//! tests.
//!
//! Guarantees:
//! - Every operation checks for cancellation first and yields at least once.
//! - A cancelled `read` or `write` on a scoro socket has transferred nothing: I/O is
//!   readiness-based, so the system call either happened (and its result is returned) or did
//!   not happen. Composite operations document what a cancellation in the middle loses.
//!
//! A timeout is a cancel scope around the operation; the stream stays usable afterwards:
//!
//! ```
//! use std::time::Duration;
//! use scoro::io::Read;
//!
//! #[scoro::structured]
//! async fn main_task() -> std::io::Result<()> {
//!     let mut input = &b"data"[..];
//!     let mut buf = [0; 16];
//!     match scoro::move_on_after(Duration::from_secs(1), input.read(&mut buf)).await {
//!         Some(n) => println!("read {} bytes", n?),
//!         None => println!("nothing arrived within a second"),
//!     }
//!     Ok(())
//! }
//! scoro::run(main_task())?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod buf_reader;
pub(crate) mod source;
mod traits;

pub use buf_reader::{BufReader, Lines, Split};
pub use traits::{Read, Write};

use crate::CoroutineCall;
use std::future::Future;
use std::io;

/// Copies everything `reader` produces into `writer`, until the end of the stream; returns
/// how many bytes were copied.
///
/// Reads and writes alternate through a buffer of 8 KiB, and each is a checkpoint. On an
/// error or a cancellation, the bytes of the last read that were not written yet are lost
/// (the error does not say how many bytes got through).
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<(u64, Vec<u8>)> {
///     let mut out = Vec::new();
///     let n = scoro::io::copy(&mut &b"some bytes"[..], &mut out).await?;
///     Ok((n, out))
/// }
///
/// assert_eq!(scoro::run(main_task())?, (10, b"some bytes".to_vec()));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn copy<'a, R, W>(
    reader: &'a mut R,
    writer: &'a mut W,
) -> CoroutineCall<impl Future<Output = io::Result<u64>> + 'a>
where
    R: Read + ?Sized,
    W: Write + ?Sized,
{
    CoroutineCall::internal(
        async move {
            let mut buf = vec![0u8; 8 * 1024];
            let mut total = 0u64;
            loop {
                let n = match reader.read(&mut buf).inline().await {
                    Ok(0) => return Ok(total),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                writer.write_all(&buf[..n]).inline().await?;
                total += n as u64;
            }
        },
        "scoro::io",
        "copy",
    )
}
