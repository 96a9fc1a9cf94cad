//! `scoro::fs` through the public API: each function's result, errors as `io::Error`, borrowed
//! paths and buffers, and what a timeout around a call reports.

use scoro::fs::{self, File, OpenOptions};
use scoro::io::{Read, Write};
use scoro::testing::MockClock;
use scoro::{Builder, CancelRequested, CancelScope, move_on_after, structured};
use std::io::{self, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("scoro-fs-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[scoro::test]
async fn free_functions_return_what_std_returns() -> io::Result<()> {
    let dir = TempDir::new();
    let a = dir.join("a.txt");
    fs::write(&a, "alpha").await?;
    assert_eq!(fs::read(&a).await?, b"alpha");
    assert_eq!(fs::read_to_string(&a).await?, "alpha");
    let meta = fs::metadata(&a).await?;
    assert!(meta.is_file());
    assert_eq!(meta.len(), 5);

    let sub = dir.join("x/y/z");
    fs::create_dir_all(&sub).await?;
    fs::create_dir_all(&sub).await?; // already there: still fine
    assert!(fs::metadata(&sub).await?.is_dir());

    let b = sub.join("b.txt");
    assert_eq!(fs::copy(&a, &b).await?, 5);
    assert_eq!(fs::read_to_string(&b).await?, "alpha");

    let c = dir.join("c.txt");
    fs::rename(&a, &c).await?;
    assert!(!a.exists());
    assert_eq!(fs::read(&c).await?, b"alpha");

    let mut names: Vec<_> = fs::read_dir(&dir.0)
        .await?
        .iter()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["c.txt", "x"]);

    fs::remove_file(&c).await?;
    assert!(!c.exists());
    Ok(())
}

#[scoro::test]
async fn errors_are_io_errors() -> io::Result<()> {
    let dir = TempDir::new();
    let missing = dir.join("missing");
    let kind = |r: io::Result<()>| r.unwrap_err().kind();
    assert_eq!(
        fs::read(&missing).await.unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(
        fs::read_to_string(&missing).await.unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(
        fs::metadata(&missing).await.unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(
        kind(fs::remove_file(&missing).await),
        io::ErrorKind::NotFound
    );
    assert_eq!(
        kind(fs::rename(&missing, dir.join("to")).await),
        io::ErrorKind::NotFound
    );
    assert_eq!(
        fs::copy(&missing, dir.join("to")).await.unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(
        fs::read_dir(&missing).await.unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(
        File::open(&missing).await.unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    // Not UTF-8.
    let bin = dir.join("bin");
    fs::write(&bin, [0xff, 0xfe]).await?;
    assert_eq!(
        fs::read_to_string(&bin).await.unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
    Ok(())
}

#[scoro::test]
async fn large_write_then_read_roundtrips() -> io::Result<()> {
    let dir = TempDir::new();
    let path = dir.join("big");
    let data: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    fs::write(&path, &data).await?;
    assert_eq!(fs::metadata(&path).await?.len(), data.len() as u64);
    assert!(fs::read(&path).await? == data);

    // The same through `File`, in pieces.
    let mut file = File::open(&path).await?;
    let mut back = Vec::new();
    assert_eq!(file.read_to_end(&mut back).await?, data.len());
    assert!(back == data);
    Ok(())
}

/// Writes and reads through buffers that live in this function's frame. `run_sync` borrows
/// them on the worker thread: with a `'static` bound on the blocking closure (as in runtimes
/// whose futures can be forgotten) neither `fs::write(&path, &buf)` nor `file.read(&mut buf)`
/// would compile.
#[structured]
async fn borrow_local_buffers(dir: &Path) -> io::Result<Vec<u8>> {
    let path = dir.join("borrowed");
    let buf: Vec<u8> = (0..=255).collect();
    fs::write(&path, &buf).await?;
    let mut file = File::open(&path).await?;
    let mut into = [0u8; 300];
    let mut filled = 0;
    loop {
        let n = file.read(&mut into[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    assert_eq!(&into[..filled], &buf[..]);
    Ok(into[..filled].to_vec())
}

#[scoro::test]
async fn buffers_are_borrowed_not_copied() -> io::Result<()> {
    let dir = TempDir::new();
    let back = borrow_local_buffers(&dir.0).await?;
    assert_eq!(back, (0..=255).collect::<Vec<u8>>());
    Ok(())
}

#[scoro::test]
async fn file_methods() -> io::Result<()> {
    let dir = TempDir::new();
    let path = dir.join("f");
    let mut file = File::create(&path).await?;
    file.write_all(b"0123456789").await?;
    file.flush().await?;
    file.sync_all().await?;
    assert_eq!(file.metadata().await?.len(), 10);
    file.set_len(4).await?;
    assert_eq!(file.metadata().await?.len(), 4);
    assert_eq!(file.seek(SeekFrom::Start(1)).await?, 1);
    assert_eq!(file.write(b"X").await?, 1);
    drop(file);
    assert_eq!(fs::read(&path).await?, b"0X23");

    let mut file = File::open(&path).await?;
    assert_eq!(file.seek(SeekFrom::End(-2)).await?, 2);
    let mut two = [0u8; 2];
    file.read_exact(&mut two).await?;
    assert_eq!(&two, b"23");
    // Opened read-only: writing fails with an io::Error, not a panic.
    assert!(file.write(b"no").await.is_err());
    Ok(())
}

/// A read and a write under timeouts of 0 and of an hour: the first never starts (the
/// deadline has passed at the call's entry checkpoint), the second runs to completion (the
/// mock clock does not jump while a worker runs) and reports its result.
#[structured]
async fn timeouts_around_calls(dir: &Path) -> Result<(), CancelRequested> {
    let path = dir.join("timed");
    let data = vec![42u8; 100_000];

    let expired = move_on_after(Duration::ZERO, fs::write(&path, &data)).await;
    assert!(expired.is_none());
    assert!(!path.exists(), "a write cut off at its entry did nothing");

    let done = move_on_after(Duration::from_secs(3600), fs::write(&path, &data)).await;
    assert!(matches!(done, Some(Ok(()))));

    let expired = move_on_after(Duration::ZERO, fs::read(&path)).await;
    assert!(expired.is_none());
    let read = move_on_after(Duration::from_secs(3600), fs::read(&path)).await;
    assert!(matches!(read, Some(Ok(ref back)) if *back == data));
    Ok(())
}

#[test]
fn timeout_around_a_call_reports_all_or_nothing() {
    let dir = TempDir::new();
    let mut rt = Builder::new()
        .clock(MockClock::autojump(Duration::ZERO))
        .build()
        .unwrap();
    rt.run(timeouts_around_calls(&dir.0)).unwrap();
}

#[scoro::test]
async fn open_options_append_truncate_create() -> io::Result<()> {
    let dir = TempDir::new();
    let path = dir.join("opts");
    fs::write(&path, "start").await?;

    // append: every write goes to the end, even after a seek back to the start.
    let mut file = OpenOptions::new().append(true).open(&path).await?;
    file.write_all(b"+one").await?;
    file.seek(SeekFrom::Start(0)).await?;
    file.write_all(b"+two").await?;
    drop(file);
    assert_eq!(fs::read_to_string(&path).await?, "start+one+two");

    // write without truncate overwrites in place; with truncate the old contents are gone.
    File::options()
        .write(true)
        .open(&path)
        .await?
        .write_all(b"S")
        .await?;
    assert_eq!(fs::read_to_string(&path).await?, "Start+one+two");
    let file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .await?;
    assert_eq!(file.metadata().await?.len(), 0);
    drop(file);
    assert_eq!(fs::read(&path).await?, b"");

    // create: makes a missing file; without it, opening a missing file fails.
    let fresh = dir.join("fresh");
    let err = OpenOptions::new()
        .write(true)
        .open(&fresh)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open(&fresh)
        .await?;
    file.write_all(b"rw").await?;
    file.seek(SeekFrom::Start(0)).await?;
    let mut back = String::new();
    file.read_to_string(&mut back).await?;
    assert_eq!(back, "rw");

    // No access mode at all: rejected before the system call.
    let err = OpenOptions::new().open(&fresh).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    Ok(())
}

#[scoro::test]
async fn create_new_fails_on_an_existing_file() -> io::Result<()> {
    let dir = TempDir::new();
    let path = dir.join("once");
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    let mut file = options.open(&path).await?;
    file.write_all(b"first").await?;
    drop(file);
    let err = options.clone().open(&path).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(fs::read_to_string(&path).await?, "first", "left untouched");
    // Even `create(true).truncate(true)` does not override it.
    let err = options
        .create(true)
        .truncate(true)
        .open(&path)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(format!("{options:?}").contains("OpenOptions"));
    Ok(())
}

#[scoro::test]
async fn mode_and_custom_flags() -> io::Result<()> {
    let dir = TempDir::new();
    let path = dir.join("private");
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .await?;
    assert_eq!(file.metadata().await?.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        fs::metadata(&path).await?.permissions().mode() & 0o777,
        0o600
    );

    // O_NOFOLLOW: opening through a symbolic link fails instead of following it.
    let link = dir.join("link");
    std::os::unix::fs::symlink(&path, &link)?;
    assert!(OpenOptions::new().read(true).open(&link).await.is_ok());
    let err = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&link)
        .await
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
    Ok(())
}

#[scoro::test]
async fn directories_create_remove() -> io::Result<()> {
    let dir = TempDir::new();
    let sub = dir.join("sub");
    fs::create_dir(&sub).await?;
    assert!(fs::metadata(&sub).await?.is_dir());
    assert_eq!(
        fs::create_dir(&sub).await.unwrap_err().kind(),
        io::ErrorKind::AlreadyExists
    );
    assert_eq!(
        fs::create_dir(dir.join("no/parent"))
            .await
            .unwrap_err()
            .kind(),
        io::ErrorKind::NotFound
    );

    // remove_dir only removes an empty directory.
    fs::write(sub.join("f"), "x").await?;
    assert_eq!(
        fs::remove_dir(&sub).await.unwrap_err().kind(),
        io::ErrorKind::DirectoryNotEmpty
    );
    fs::remove_file(sub.join("f")).await?;
    fs::remove_dir(&sub).await?;
    assert!(!sub.exists());

    // remove_dir_all removes a whole tree, and does not follow a link out of it.
    let outside = dir.join("outside");
    fs::create_dir(&outside).await?;
    fs::write(outside.join("keep"), "kept").await?;
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("a/b/c")).await?;
    fs::write(tree.join("a/one"), "1").await?;
    fs::write(tree.join("a/b/c/two"), "2").await?;
    std::os::unix::fs::symlink(&outside, tree.join("a/link"))?;
    fs::remove_dir_all(&tree).await?;
    assert!(!tree.exists());
    assert_eq!(fs::read_to_string(outside.join("keep")).await?, "kept");
    assert_eq!(
        fs::remove_dir_all(&tree).await.unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    Ok(())
}

#[scoro::test]
async fn exists_and_links() -> io::Result<()> {
    let dir = TempDir::new();
    let file = dir.join("file");
    assert!(!fs::exists(&file).await?);
    fs::write(&file, "data").await?;
    assert!(fs::exists(&file).await?);
    assert!(fs::exists(&dir.0).await?);

    // A symbolic link: canonicalize resolves it, read_link returns it as stored,
    // symlink_metadata describes the link itself.
    let link = dir.join("link");
    std::os::unix::fs::symlink("file", &link)?;
    assert_eq!(fs::read_link(&link).await?, Path::new("file"));
    assert_eq!(
        fs::canonicalize(&link).await?,
        std::fs::canonicalize(&file)?
    );
    assert_eq!(
        fs::canonicalize(dir.join("./link")).await?,
        fs::canonicalize(&file).await?
    );
    assert!(fs::symlink_metadata(&link).await?.file_type().is_symlink());
    assert!(fs::metadata(&link).await?.is_file());
    assert_eq!(
        fs::read_link(&file).await.unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );

    // A broken link does not "exist", and cannot be canonicalized.
    let broken = dir.join("broken");
    std::os::unix::fs::symlink("nothing-here", &broken)?;
    assert!(!fs::exists(&broken).await?);
    assert!(fs::symlink_metadata(&broken).await.is_ok());
    assert_eq!(
        fs::canonicalize(&broken).await.unwrap_err().kind(),
        io::ErrorKind::NotFound
    );

    // A hard link is a second name for the same file.
    let second = dir.join("second");
    fs::hard_link(&file, &second).await?;
    fs::write(&second, "changed").await?;
    assert_eq!(fs::read_to_string(&file).await?, "changed");
    assert_eq!(
        fs::hard_link(&file, &second).await.unwrap_err().kind(),
        io::ErrorKind::AlreadyExists
    );
    Ok(())
}

#[scoro::test]
async fn permissions() -> io::Result<()> {
    let dir = TempDir::new();
    let path = dir.join("p");
    fs::write(&path, "x").await?;
    fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).await?;
    assert_eq!(
        fs::metadata(&path).await?.permissions().mode() & 0o777,
        0o604
    );

    let file = File::open(&path).await?;
    file.set_permissions(std::fs::Permissions::from_mode(0o640))
        .await?;
    assert_eq!(file.metadata().await?.permissions().mode() & 0o777, 0o640);
    assert_eq!(
        fs::metadata(&path).await?.permissions().mode() & 0o777,
        0o640
    );

    assert_eq!(
        fs::set_permissions(dir.join("missing"), std::fs::Permissions::from_mode(0o600))
            .await
            .unwrap_err()
            .kind(),
        io::ErrorKind::NotFound
    );
    Ok(())
}

#[scoro::test]
async fn sync_data_and_try_clone() -> io::Result<()> {
    let dir = TempDir::new();
    let path = dir.join("c");
    let mut file = File::create(&path).await?;
    file.write_all(b"abc").await?;
    file.sync_data().await?;

    // The clone shares the cursor: it writes where the original stopped.
    let mut clone = file.try_clone().await?;
    clone.write_all(b"def").await?;
    assert_eq!(file.seek(SeekFrom::Current(0)).await?, 6);
    drop(file);
    clone.sync_data().await?;
    drop(clone);
    assert_eq!(fs::read(&path).await?, b"abcdef");
    Ok(())
}

/// Runs `call` inside a scope cancelled before it starts; the scope must catch the call's
/// cancellation error.
#[structured]
async fn cancelled<T: std::fmt::Debug, F: std::future::Future<Output = io::Result<T>>>(
    call: scoro::CoroutineCall<F>,
) {
    let scope = CancelScope::new();
    scope.handle().cancel();
    let r = scope.run(call).await;
    assert!(r.is_none(), "caught by the cancelled scope: {r:?}");
}

/// Calls inside a scope that is cancelled before they start: each fails at its entry
/// checkpoint and does nothing, and the scope catches the cancellation.
#[structured]
async fn calls_in_a_cancelled_scope(dir: &Path) -> Result<(), CancelRequested> {
    let tree = dir.join("tree");
    let file = dir.join("file");

    cancelled(fs::remove_dir_all(&tree)).await;
    assert!(tree.join("a/b/leaf").exists(), "remove_dir_all did nothing");
    cancelled(fs::remove_dir(tree.join("a/b/empty"))).await;
    assert!(tree.join("a/b/empty").is_dir());
    cancelled(fs::create_dir(dir.join("new"))).await;
    assert!(!dir.join("new").exists());
    cancelled(fs::hard_link(&file, dir.join("second"))).await;
    assert!(!dir.join("second").exists());
    cancelled(fs::set_permissions(
        &file,
        std::fs::Permissions::from_mode(0o600),
    ))
    .await;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o644
    );
    cancelled(OpenOptions::new().write(true).truncate(true).open(&file)).await;
    cancelled(
        OpenOptions::new()
            .write(true)
            .create(true)
            .open(dir.join("created")),
    )
    .await;
    assert!(!dir.join("created").exists());
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    cancelled(fs::exists(&file)).await;
    cancelled(fs::canonicalize(&file)).await;
    cancelled(fs::read_link(&file)).await;
    cancelled(fs::symlink_metadata(&file)).await;

    let f = File::open(&file).await.unwrap();
    cancelled(f.set_permissions(std::fs::Permissions::from_mode(0o600))).await;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o644
    );
    cancelled(f.sync_data()).await;
    cancelled(f.try_clone()).await;
    Ok(())
}

#[test]
fn cancelled_calls_do_nothing() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.join("tree/a/b/empty")).unwrap();
    std::fs::write(dir.join("tree/a/b/leaf"), "leaf").unwrap();
    std::fs::write(dir.join("file"), "keep me").unwrap();
    std::fs::set_permissions(dir.join("file"), std::fs::Permissions::from_mode(0o644)).unwrap();
    scoro::run(calls_in_a_cancelled_scope(&dir.0)).unwrap();
    assert!(dir.join("tree/a/b/leaf").exists());
}
