//! [`File`]: an open file whose operations run on worker threads.
//!
//! Invariant: every method that touches the file system is exactly one `blocking`
//! (`run_sync`) call (on `&self.inner`, or opening a file), so the module's guarantees
//! (checkpoint on entry, never interrupted once started) hold for each. `from_std` only
//! builds a value (`File::options` is in `open_options`, next to what it builds).

use super::blocking;
use crate::CoroutineCall;
use crate::io::{Read, Write};
use std::fs::{Metadata, Permissions};
use std::future::Future;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

/// An open file. Reading and writing go through [`scoro::io::Read`](Read) and
/// [`scoro::io::Write`](Write), each call one operation on a worker thread.
///
/// [`read`](Read::read) fills the caller's buffer directly on the worker and
/// [`write`](Write::write) writes from the caller's buffer: nothing is copied through a buffer
/// of the file's own. `File` does no buffering: wrap it in a
/// [`BufReader`](crate::io::BufReader) for many small reads. Writes go straight to the
/// operating system, so [`flush`](Write::flush) has nothing to do.
///
/// ```
/// use scoro::fs::File;
/// use scoro::io::{Read, Write};
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<String> {
///     let path = std::env::temp_dir().join(format!("scoro-file-doc-{}", std::process::id()));
///     let mut file = File::create(&path).await?;
///     file.write_all(b"hello, file").await?;
///     drop(file);
///     let mut text = String::new();
///     File::open(&path).await?.read_to_string(&mut text).await?;
///     scoro::fs::remove_file(&path).await?;
///     Ok(text)
/// }
///
/// assert_eq!(scoro::run(main_task())?, "hello, file");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct File {
    inner: std::fs::File,
}

impl File {
    /// Wraps a file that [`OpenOptions::open`](super::OpenOptions::open) opened on a worker
    /// thread.
    pub(super) fn from_std(inner: std::fs::File) -> File {
        File { inner }
    }

    /// Opens the file at `path` for reading, like [`std::fs::File::open`].
    ///
    /// A checkpoint; see the [module docs](super) for cancellation.
    ///
    /// ```
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<bool> {
    ///     let err = scoro::fs::File::open("/no/such/file/here").await.unwrap_err();
    ///     Ok(err.kind() == std::io::ErrorKind::NotFound)
    /// }
    ///
    /// assert!(scoro::run(main_task())?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> CoroutineCall<impl Future<Output = io::Result<File>>> {
        CoroutineCall::internal(
            async move {
                let path = path.as_ref();
                let inner = blocking(|| std::fs::File::open(path)).await?;
                Ok(File { inner })
            },
            "scoro::fs",
            "File::open",
        )
    }

    /// Opens the file at `path` for writing, creating it or truncating it, like
    /// [`std::fs::File::create`].
    ///
    /// A checkpoint; see the [module docs](super) for cancellation.
    ///
    /// ```
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<u64> {
    ///     let path = std::env::temp_dir().join(format!("scoro-create-{}", std::process::id()));
    ///     let file = scoro::fs::File::create(&path).await?;
    ///     let len = file.metadata().await?.len();
    ///     scoro::fs::remove_file(&path).await?;
    ///     Ok(len)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create(path: impl AsRef<Path>) -> CoroutineCall<impl Future<Output = io::Result<File>>> {
        CoroutineCall::internal(
            async move {
                let path = path.as_ref();
                let inner = blocking(|| std::fs::File::create(path)).await?;
                Ok(File { inner })
            },
            "scoro::fs",
            "File::create",
        )
    }

    /// Moves the file's cursor, like [`std::io::Seek::seek`]; returns the new position from
    /// the start of the file.
    ///
    /// A checkpoint; see the [module docs](super) for cancellation.
    ///
    /// ```
    /// use scoro::io::Read;
    /// use std::io::SeekFrom;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<Vec<u8>> {
    ///     let path = std::env::temp_dir().join(format!("scoro-seek-{}", std::process::id()));
    ///     scoro::fs::write(&path, b"0123456789").await?;
    ///     let mut file = scoro::fs::File::open(&path).await?;
    ///     assert_eq!(file.seek(SeekFrom::End(-3)).await?, 7);
    ///     let mut tail = Vec::new();
    ///     file.read_to_end(&mut tail).await?;
    ///     scoro::fs::remove_file(&path).await?;
    ///     Ok(tail)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, b"789");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn seek(&mut self, pos: SeekFrom) -> CoroutineCall<impl Future<Output = io::Result<u64>>> {
        CoroutineCall::internal(
            async move {
                let inner = &self.inner;
                blocking(move || { inner }.seek(pos)).await
            },
            "scoro::fs",
            "File::seek",
        )
    }

    /// Truncates or extends the file to `size` bytes (extending with zeros), like
    /// [`std::fs::File::set_len`]. The cursor does not move.
    ///
    /// A checkpoint; see the [module docs](super) for cancellation.
    ///
    /// ```
    /// use scoro::io::Write;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<Vec<u8>> {
    ///     let path = std::env::temp_dir().join(format!("scoro-set-len-{}", std::process::id()));
    ///     let mut file = scoro::fs::File::create(&path).await?;
    ///     file.write_all(b"abcdef").await?;
    ///     file.set_len(2).await?;
    ///     drop(file);
    ///     let back = scoro::fs::read(&path).await?;
    ///     scoro::fs::remove_file(&path).await?;
    ///     Ok(back)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, b"ab");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_len(&self, size: u64) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move {
                let inner = &self.inner;
                blocking(move || inner.set_len(size)).await
            },
            "scoro::fs",
            "File::set_len",
        )
    }

    /// Waits until the file's contents and metadata have reached the storage device, like
    /// [`std::fs::File::sync_all`].
    ///
    /// A checkpoint; see the [module docs](super) for cancellation.
    ///
    /// ```
    /// use scoro::io::Write;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<()> {
    ///     let path = std::env::temp_dir().join(format!("scoro-sync-{}", std::process::id()));
    ///     let mut file = scoro::fs::File::create(&path).await?;
    ///     file.write_all(b"durable").await?;
    ///     file.sync_all().await?;
    ///     scoro::fs::remove_file(&path).await
    /// }
    ///
    /// scoro::run(main_task())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sync_all(&self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move {
                let inner = &self.inner;
                blocking(move || inner.sync_all()).await
            },
            "scoro::fs",
            "File::sync_all",
        )
    }

    /// Waits until the file's contents have reached the storage device, like
    /// [`std::fs::File::sync_data`]: as [`sync_all`](File::sync_all), but metadata that is
    /// not needed to read the data back (such as the modification time) may not be synced.
    ///
    /// A checkpoint; see the [module docs](super) for cancellation.
    ///
    /// ```
    /// use scoro::io::Write;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<()> {
    ///     let path = std::env::temp_dir().join(format!("scoro-sync-data-{}", std::process::id()));
    ///     let mut file = scoro::fs::File::create(&path).await?;
    ///     file.write_all(b"durable").await?;
    ///     file.sync_data().await?;
    ///     scoro::fs::remove_file(&path).await
    /// }
    ///
    /// scoro::run(main_task())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sync_data(&self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move {
                let inner = &self.inner;
                blocking(move || inner.sync_data()).await
            },
            "scoro::fs",
            "File::sync_data",
        )
    }

    /// Changes the permissions of the open file, like [`std::fs::File::set_permissions`].
    ///
    /// A checkpoint; see the [module docs](super) for cancellation.
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<u32> {
    ///     let path = std::env::temp_dir().join(format!("scoro-file-chmod-{}", std::process::id()));
    ///     let file = scoro::fs::File::create(&path).await?;
    ///     file.set_permissions(std::fs::Permissions::from_mode(0o600)).await?;
    ///     let mode = file.metadata().await?.permissions().mode();
    ///     scoro::fs::remove_file(&path).await?;
    ///     Ok(mode & 0o777)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, 0o600);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_permissions(
        &self,
        perm: Permissions,
    ) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move {
                let inner = &self.inner;
                blocking(move || inner.set_permissions(perm)).await
            },
            "scoro::fs",
            "File::set_permissions",
        )
    }

    /// Returns a second `File` for the same open file, like [`std::fs::File::try_clone`]
    /// (`dup(2)`): the two share the cursor, so a read or seek through one moves the other.
    ///
    /// A checkpoint; see the [module docs](super) for cancellation.
    ///
    /// ```
    /// use scoro::io::Read;
    /// use std::io::SeekFrom;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<Vec<u8>> {
    ///     let path = std::env::temp_dir().join(format!("scoro-try-clone-{}", std::process::id()));
    ///     scoro::fs::write(&path, b"0123456789").await?;
    ///     let mut file = scoro::fs::File::open(&path).await?;
    ///     let mut clone = file.try_clone().await?;
    ///     file.seek(SeekFrom::Start(8)).await?;
    ///     let mut rest = Vec::new();
    ///     clone.read_to_end(&mut rest).await?;
    ///     scoro::fs::remove_file(&path).await?;
    ///     Ok(rest)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, b"89");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> CoroutineCall<impl Future<Output = io::Result<File>>> {
        CoroutineCall::internal(
            async move {
                let inner = &self.inner;
                let clone = blocking(move || inner.try_clone()).await?;
                Ok(File { inner: clone })
            },
            "scoro::fs",
            "File::try_clone",
        )
    }

    /// Returns the metadata of the open file, like [`std::fs::File::metadata`].
    ///
    /// A checkpoint; see the [module docs](super) for cancellation.
    ///
    /// ```
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<bool> {
    ///     let file = scoro::fs::File::open(env!("CARGO_MANIFEST_DIR")).await?;
    ///     Ok(file.metadata().await?.is_dir())
    /// }
    ///
    /// assert!(scoro::run(main_task())?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metadata(&self) -> CoroutineCall<impl Future<Output = io::Result<Metadata>>> {
        CoroutineCall::internal(
            async move {
                let inner = &self.inner;
                blocking(move || inner.metadata()).await
            },
            "scoro::fs",
            "File::metadata",
        )
    }
}

/// Each `read` is one `read` system call on a worker thread, straight into `buf`.
impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                let inner = &self.inner;
                blocking(move || { inner }.read(buf)).await
            },
            "scoro::fs",
            "File::read",
        )
    }
}

/// Each `write` is one `write` system call on a worker thread, straight from `buf`.
impl Write for File {
    fn write(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(
            async move {
                let inner = &self.inner;
                blocking(move || { inner }.write(buf)).await
            },
            "scoro::fs",
            "File::write",
        )
    }
}
