//! Files and directories: [`std::fs`] operations run on worker threads, so that a task never
//! blocks its runtime's thread on the file system.
//!
//! Each function here, each method of [`File`] (but [`File::options`], which only makes an
//! [`OpenOptions`]) and [`OpenOptions::open`] is one call of
//! [`to_thread::run_sync`](crate::to_thread::run_sync). Because `run_sync` may borrow from its
//! caller, paths and buffers are borrowed, not copied: [`write()`] hands the caller's bytes to
//! the worker as they are, and [`File`]'s `read` fills the caller's buffer directly on the
//! worker (no intermediate `'static` buffer, no extra copy).
//!
//! ```
//! #[scoro::structured]
//! async fn main_task() -> std::io::Result<String> {
//!     let dir = std::env::temp_dir().join(format!("scoro-fs-doc-{}", std::process::id()));
//!     scoro::fs::create_dir_all(&dir).await?;
//!     let path = dir.join("greeting.txt");
//!     scoro::fs::write(&path, "hello").await?;
//!     let text = scoro::fs::read_to_string(&path).await?;
//!     std::fs::remove_dir_all(&dir)?;
//!     Ok(text)
//! }
//!
//! assert_eq!(scoro::run(main_task())?, "hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Guarantees:
//! - Every call is a checkpoint on entry: if the task is already cancelled, nothing is done
//!   and the call fails with an [`io::Error`] carrying
//!   [`CancelRequested`](crate::CancelRequested).
//! - Once the system call has started, cancellation does not interrupt it: the call waits
//!   for it and returns its result, and the next checkpoint reports the cancellation. So an
//!   operation under a timeout (for example a [`write()`] inside
//!   [`move_on_after`](crate::move_on_after)) either did not start or finished and reported
//!   its result; it is never half-done and unreported.
//! - Errors are the [`io::Error`]s of the [`std::fs`] function that each call wraps.
//! - Like every `run_sync` call, these calls count against the runtime's limit of 40 worker
//!   threads, and under a mock clock with autojump the clock does not jump while one runs
//!   (see [`to_thread`](crate::to_thread)).

mod file;
mod open_options;

pub use file::File;
pub use open_options::OpenOptions;

use crate::CoroutineCall;
use std::fs::{DirEntry, Metadata, Permissions};
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};

/// Runs `f` on a worker thread with `run_sync`; a cancellation before it starts becomes an
/// `io::Error`.
pub(crate) async fn blocking<T: Send>(f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
    crate::to_thread::run_sync(f).inline().await?
}

/// Reads the whole file at `path`, like [`std::fs::read`].
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let err = scoro::fs::read("/no/such/file/here").await.unwrap_err();
///     Ok(err.kind() == std::io::ErrorKind::NotFound)
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read(path: impl AsRef<Path>) -> CoroutineCall<impl Future<Output = io::Result<Vec<u8>>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::read(path)).await
        },
        "scoro::fs",
        "read",
    )
}

/// Reads the whole file at `path` as UTF-8 text, like [`std::fs::read_to_string`].
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
///     let text = scoro::fs::read_to_string(manifest).await?;
///     Ok(text.contains("[package]"))
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_to_string(
    path: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<String>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::read_to_string(path)).await
        },
        "scoro::fs",
        "read_to_string",
    )
}

/// Writes `contents` to the file at `path`, creating or truncating it, like
/// [`std::fs::write`].
///
/// `contents` is borrowed by the worker, not copied. A checkpoint; see the
/// [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<Vec<u8>> {
///     let path = std::env::temp_dir().join(format!("scoro-fs-write-{}", std::process::id()));
///     let data = vec![7u8; 1000];
///     scoro::fs::write(&path, &data).await?;
///     let back = scoro::fs::read(&path).await?;
///     scoro::fs::remove_file(&path).await?;
///     Ok(back)
/// }
///
/// assert_eq!(scoro::run(main_task())?, vec![7u8; 1000]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write(
    path: impl AsRef<Path>,
    contents: impl AsRef<[u8]>,
) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        async move {
            let (path, contents) = (path.as_ref(), contents.as_ref());
            blocking(|| std::fs::write(path, contents)).await
        },
        "scoro::fs",
        "write",
    )
}

/// Returns the metadata of the file or directory at `path`, following symbolic links, like
/// [`std::fs::metadata`].
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let meta = scoro::fs::metadata(env!("CARGO_MANIFEST_DIR")).await?;
///     Ok(meta.is_dir())
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn metadata(
    path: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<Metadata>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::metadata(path)).await
        },
        "scoro::fs",
        "metadata",
    )
}

/// Returns the metadata of the file, directory or symbolic link at `path`, without following
/// a symbolic link, like [`std::fs::symlink_metadata`].
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<(bool, bool)> {
///     let link = std::env::temp_dir().join(format!("scoro-fs-lstat-{}", std::process::id()));
///     std::os::unix::fs::symlink(env!("CARGO_MANIFEST_DIR"), &link)?;
///     let followed = scoro::fs::metadata(&link).await?.is_dir();
///     let not_followed = scoro::fs::symlink_metadata(&link).await?.file_type().is_symlink();
///     scoro::fs::remove_file(&link).await?;
///     Ok((followed, not_followed))
/// }
///
/// assert_eq!(scoro::run(main_task())?, (true, true));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn symlink_metadata(
    path: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<Metadata>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::symlink_metadata(path)).await
        },
        "scoro::fs",
        "symlink_metadata",
    )
}

/// Returns whether something is at `path`, following symbolic links, like
/// [`std::fs::exists`]: `Ok(false)` if nothing is there (or a symbolic link there is broken),
/// an error if that cannot be found out (for example, permission to look is denied).
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<(bool, bool)> {
///     let there = scoro::fs::exists(env!("CARGO_MANIFEST_DIR")).await?;
///     let not_there = scoro::fs::exists("/no/such/file/here").await?;
///     Ok((there, not_there))
/// }
///
/// assert_eq!(scoro::run(main_task())?, (true, false));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn exists(path: impl AsRef<Path>) -> CoroutineCall<impl Future<Output = io::Result<bool>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::exists(path)).await
        },
        "scoro::fs",
        "exists",
    )
}

/// Creates the directory at `path`, like [`std::fs::create_dir`]. Fails with
/// [`io::ErrorKind::AlreadyExists`] if something is already there and with
/// [`io::ErrorKind::NotFound`] if its parent is missing; [`create_dir_all`] does neither.
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let dir = std::env::temp_dir().join(format!("scoro-fs-mkdir1-{}", std::process::id()));
///     scoro::fs::create_dir(&dir).await?;
///     let again = scoro::fs::create_dir(&dir).await.unwrap_err();
///     scoro::fs::remove_dir(&dir).await?;
///     Ok(again.kind() == std::io::ErrorKind::AlreadyExists)
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create_dir(path: impl AsRef<Path>) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::create_dir(path)).await
        },
        "scoro::fs",
        "create_dir",
    )
}

/// Creates the directory at `path` and any missing parents, like [`std::fs::create_dir_all`].
/// Succeeds if the directory already exists.
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let top = std::env::temp_dir().join(format!("scoro-fs-mkdir-{}", std::process::id()));
///     scoro::fs::create_dir_all(top.join("a/b")).await?;
///     let made = scoro::fs::metadata(top.join("a/b")).await?.is_dir();
///     std::fs::remove_dir_all(&top)?;
///     Ok(made)
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create_dir_all(
    path: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::create_dir_all(path)).await
        },
        "scoro::fs",
        "create_dir_all",
    )
}

/// Removes the file at `path`, like [`std::fs::remove_file`].
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let path = std::env::temp_dir().join(format!("scoro-fs-rm-{}", std::process::id()));
///     scoro::fs::write(&path, b"x").await?;
///     scoro::fs::remove_file(&path).await?;
///     Ok(!path.exists())
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_file(path: impl AsRef<Path>) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::remove_file(path)).await
        },
        "scoro::fs",
        "remove_file",
    )
}

/// Removes the empty directory at `path`, like [`std::fs::remove_dir`]. Fails if the
/// directory is not empty; [`remove_dir_all`] removes a whole tree.
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let dir = std::env::temp_dir().join(format!("scoro-fs-rmdir-{}", std::process::id()));
///     scoro::fs::create_dir(&dir).await?;
///     scoro::fs::remove_dir(&dir).await?;
///     Ok(!scoro::fs::exists(&dir).await?)
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_dir(path: impl AsRef<Path>) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::remove_dir(path)).await
        },
        "scoro::fs",
        "remove_dir",
    )
}

/// Removes the directory at `path` and everything in it, like [`std::fs::remove_dir_all`].
/// Symbolic links inside are removed, not followed.
///
/// The whole tree is removed in one call on the worker thread: once that call has started,
/// cancellation does not stop it halfway, and a large tree takes as long as it takes. A
/// checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let top = std::env::temp_dir().join(format!("scoro-fs-rmtree-{}", std::process::id()));
///     scoro::fs::create_dir_all(top.join("a/b")).await?;
///     scoro::fs::write(top.join("a/b/f.txt"), "x").await?;
///     scoro::fs::remove_dir_all(&top).await?;
///     Ok(!scoro::fs::exists(&top).await?)
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_dir_all(
    path: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::remove_dir_all(path)).await
        },
        "scoro::fs",
        "remove_dir_all",
    )
}

/// Renames `from` to `to`, replacing `to` if it is a file, like [`std::fs::rename`].
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<String> {
///     let dir = std::env::temp_dir();
///     let from = dir.join(format!("scoro-fs-mv-a-{}", std::process::id()));
///     let to = dir.join(format!("scoro-fs-mv-b-{}", std::process::id()));
///     scoro::fs::write(&from, "moved").await?;
///     scoro::fs::rename(&from, &to).await?;
///     let text = scoro::fs::read_to_string(&to).await?;
///     scoro::fs::remove_file(&to).await?;
///     Ok(text)
/// }
///
/// assert_eq!(scoro::run(main_task())?, "moved");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn rename(
    from: impl AsRef<Path>,
    to: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        async move {
            let (from, to) = (from.as_ref(), to.as_ref());
            blocking(|| std::fs::rename(from, to)).await
        },
        "scoro::fs",
        "rename",
    )
}

/// Copies the contents and permissions of the file `from` to the file `to`, and returns the
/// number of bytes copied, like [`std::fs::copy`].
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<u64> {
///     let dir = std::env::temp_dir();
///     let from = dir.join(format!("scoro-fs-cp-a-{}", std::process::id()));
///     let to = dir.join(format!("scoro-fs-cp-b-{}", std::process::id()));
///     scoro::fs::write(&from, "12345").await?;
///     let n = scoro::fs::copy(&from, &to).await?;
///     scoro::fs::remove_file(&from).await?;
///     scoro::fs::remove_file(&to).await?;
///     Ok(n)
/// }
///
/// assert_eq!(scoro::run(main_task())?, 5);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn copy(
    from: impl AsRef<Path>,
    to: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<u64>>> {
    CoroutineCall::internal(
        async move {
            let (from, to) = (from.as_ref(), to.as_ref());
            blocking(|| std::fs::copy(from, to)).await
        },
        "scoro::fs",
        "copy",
    )
}

/// Returns the entries of the directory at `path` (without `.` and `..`, in no particular
/// order), like [`std::fs::read_dir`].
///
/// The whole directory is read on the worker thread, in one call, and the entries come back
/// together: a very large directory takes as long and as much memory as it has entries.
/// Fails on the first entry that cannot be read. A checkpoint; see the [module docs](self)
/// for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let entries = scoro::fs::read_dir(env!("CARGO_MANIFEST_DIR")).await?;
///     Ok(entries.iter().any(|e| e.file_name() == "Cargo.toml"))
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_dir(
    path: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<Vec<DirEntry>>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::read_dir(path)?.collect()).await
        },
        "scoro::fs",
        "read_dir",
    )
}

/// Returns the absolute form of `path`, with every symbolic link resolved and no `.` or `..`
/// left, like [`std::fs::canonicalize`]. Fails if `path` does not exist.
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let here = concat!(env!("CARGO_MANIFEST_DIR"), "/src/../Cargo.toml");
///     let resolved = scoro::fs::canonicalize(here).await?;
///     Ok(resolved.is_absolute() && resolved.ends_with("Cargo.toml")
///         && !resolved.components().any(|c| c == std::path::Component::ParentDir))
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn canonicalize(
    path: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<PathBuf>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::canonicalize(path)).await
        },
        "scoro::fs",
        "canonicalize",
    )
}

/// Returns what the symbolic link at `path` points to, as stored in the link (not resolved
/// further), like [`std::fs::read_link`].
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<std::path::PathBuf> {
///     let link = std::env::temp_dir().join(format!("scoro-fs-readlink-{}", std::process::id()));
///     std::os::unix::fs::symlink("some/target", &link)?;
///     let target = scoro::fs::read_link(&link).await?;
///     scoro::fs::remove_file(&link).await?;
///     Ok(target)
/// }
///
/// assert_eq!(scoro::run(main_task())?, std::path::Path::new("some/target"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_link(
    path: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<PathBuf>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(|| std::fs::read_link(path)).await
        },
        "scoro::fs",
        "read_link",
    )
}

/// Makes `link` a new name (a hard link) for the file `original`, like
/// [`std::fs::hard_link`]. Fails if `link` already exists.
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<String> {
///     let dir = std::env::temp_dir();
///     let original = dir.join(format!("scoro-fs-ln-a-{}", std::process::id()));
///     let link = dir.join(format!("scoro-fs-ln-b-{}", std::process::id()));
///     scoro::fs::write(&original, "shared").await?;
///     scoro::fs::hard_link(&original, &link).await?;
///     scoro::fs::remove_file(&original).await?;
///     let text = scoro::fs::read_to_string(&link).await?;
///     scoro::fs::remove_file(&link).await?;
///     Ok(text)
/// }
///
/// assert_eq!(scoro::run(main_task())?, "shared");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn hard_link(
    original: impl AsRef<Path>,
    link: impl AsRef<Path>,
) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        async move {
            let (original, link) = (original.as_ref(), link.as_ref());
            blocking(|| std::fs::hard_link(original, link)).await
        },
        "scoro::fs",
        "hard_link",
    )
}

/// Changes the permissions of the file or directory at `path`, following symbolic links, like
/// [`std::fs::set_permissions`].
///
/// A checkpoint; see the [module docs](self) for cancellation.
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<u32> {
///     let path = std::env::temp_dir().join(format!("scoro-fs-chmod-{}", std::process::id()));
///     scoro::fs::write(&path, "x").await?;
///     scoro::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).await?;
///     let mode = scoro::fs::metadata(&path).await?.permissions().mode();
///     scoro::fs::remove_file(&path).await?;
///     Ok(mode & 0o777)
/// }
///
/// assert_eq!(scoro::run(main_task())?, 0o640);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_permissions(
    path: impl AsRef<Path>,
    perm: Permissions,
) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
    CoroutineCall::internal(
        async move {
            let path = path.as_ref();
            blocking(move || std::fs::set_permissions(path, perm)).await
        },
        "scoro::fs",
        "set_permissions",
    )
}
