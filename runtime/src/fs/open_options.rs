//! [`OpenOptions`]: how to open a file, like [`std::fs::OpenOptions`]; only
//! [`open`](OpenOptions::open) touches the file system, as one `blocking` (`run_sync`) call.

use super::{File, blocking};
use crate::CoroutineCall;
use std::future::Future;
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// Options for opening a file, like [`std::fs::OpenOptions`]: set them with the builder
/// methods, then [`open`](OpenOptions::open) a path to get a [`File`].
///
/// The setters only record the options; nothing touches the file system until `open`, which
/// is one call on a worker thread. [`File::options`] is another way to get one.
///
/// ```
/// use scoro::fs::OpenOptions;
/// use scoro::io::Write;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<String> {
///     let path = std::env::temp_dir().join(format!("scoro-open-doc-{}", std::process::id()));
///     scoro::fs::write(&path, "one,").await?;
///     let mut file = OpenOptions::new().append(true).open(&path).await?;
///     file.write_all(b"two").await?;
///     drop(file);
///     let text = scoro::fs::read_to_string(&path).await?;
///     scoro::fs::remove_file(&path).await?;
///     Ok(text)
/// }
///
/// assert_eq!(scoro::run(main_task())?, "one,two");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    inner: std::fs::OpenOptions,
}

impl OpenOptions {
    /// Options with every flag off, like [`std::fs::OpenOptions::new`]: set at least one of
    /// [`read`](Self::read), [`write`](Self::write) or [`append`](Self::append) before
    /// opening.
    #[allow(
        clippy::new_without_default,
        reason = "mirrors std::fs::OpenOptions, which has no Default"
    )]
    pub fn new() -> OpenOptions {
        OpenOptions {
            inner: std::fs::OpenOptions::new(),
        }
    }

    /// Opens for reading, like [`std::fs::OpenOptions::read`].
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.inner.read(read);
        self
    }

    /// Opens for writing, like [`std::fs::OpenOptions::write`]. Writes start at the file's
    /// start and overwrite what is there, unless [`append`](Self::append) or
    /// [`truncate`](Self::truncate) is set too.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.inner.write(write);
        self
    }

    /// Opens for appending, like [`std::fs::OpenOptions::append`]: every write goes to the end
    /// of the file. Implies write access.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.inner.append(append);
        self
    }

    /// Truncates an existing file to length 0 on opening, like
    /// [`std::fs::OpenOptions::truncate`]. Needs write access.
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.inner.truncate(truncate);
        self
    }

    /// Creates the file if it does not exist, like [`std::fs::OpenOptions::create`]. Needs
    /// write or append access.
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.inner.create(create);
        self
    }

    /// Creates the file, failing with [`io::ErrorKind::AlreadyExists`] if something is
    /// already at the path (a symbolic link included), like
    /// [`std::fs::OpenOptions::create_new`]. The check and the creation are one atomic step.
    /// Overrides [`create`](Self::create) and [`truncate`](Self::truncate); needs write or
    /// append access.
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.inner.create_new(create_new);
        self
    }

    /// Sets the permission bits a newly created file gets (before the process umask), like
    /// [`std::os::unix::fs::OpenOptionsExt::mode`]; the default is `0o666`. Unix only, like
    /// the rest of this crate.
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.inner.mode(mode);
        self
    }

    /// Adds `flags` to the flags passed to `open(2)`, like
    /// [`std::os::unix::fs::OpenOptionsExt::custom_flags`] (for example `libc::O_NOFOLLOW`).
    /// The access mode bits (`O_ACCMODE`) are ignored. Unix only, like the rest of this crate.
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.inner.custom_flags(flags);
        self
    }

    /// Opens the file at `path` with these options, like [`std::fs::OpenOptions::open`].
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] if the options do not make sense together
    /// (for example no access mode at all), and otherwise with the error of `open(2)`. A
    /// checkpoint; see the [module docs](super) for cancellation.
    ///
    /// ```
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<bool> {
    ///     let path = std::env::temp_dir().join(format!("scoro-open-new-{}", std::process::id()));
    ///     let mut options = scoro::fs::OpenOptions::new();
    ///     options.write(true).create_new(true);
    ///     options.open(&path).await?;
    ///     let again = options.open(&path).await.unwrap_err();
    ///     scoro::fs::remove_file(&path).await?;
    ///     Ok(again.kind() == std::io::ErrorKind::AlreadyExists)
    /// }
    ///
    /// assert!(scoro::run(main_task())?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(
        &self,
        path: impl AsRef<Path>,
    ) -> CoroutineCall<impl Future<Output = io::Result<File>>> {
        CoroutineCall::internal(
            async move {
                let (inner, path) = (&self.inner, path.as_ref());
                let file = blocking(|| inner.open(path)).await?;
                Ok(File::from_std(file))
            },
            "scoro::fs",
            "OpenOptions::open",
        )
    }
}

impl File {
    /// Returns an [`OpenOptions`] with every flag off, to open a file some other way than
    /// [`open`](File::open) and [`create`](File::create) do, like
    /// [`std::fs::File::options`]. Does nothing on its own: not a checkpoint.
    ///
    /// ```
    /// use scoro::fs::File;
    /// use scoro::io::Write;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> std::io::Result<Vec<u8>> {
    ///     let path = std::env::temp_dir().join(format!("scoro-options-{}", std::process::id()));
    ///     scoro::fs::write(&path, b"abc").await?;
    ///     // Write over the start of the file, keeping the rest.
    ///     File::options().write(true).open(&path).await?.write_all(b"X").await?;
    ///     let back = scoro::fs::read(&path).await?;
    ///     scoro::fs::remove_file(&path).await?;
    ///     Ok(back)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task())?, b"Xbc");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }
}
