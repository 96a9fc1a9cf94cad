//! Checksums files on worker threads and reports them to a service whose client is written
//! for tokio: blocking code and foreign futures in one scoro program.
//!
//! ```text
//! cargo run -p examples --example checksums [FILE...]    # default: this example's source
//! ```
//!
//! - Reading and hashing a file blocks, so it runs on a worker thread with
//!   `to_thread::run_sync`, which may borrow (here: the path and a shared counter). At most
//!   four files are hashed at once (a `CapacityLimiter`).
//! - The report service and its client use tokio sockets. Their futures run inside scoro
//!   tasks through `compat::future`. A tokio socket needs a tokio runtime to drive its I/O,
//!   so the program starts one and enters it (`rt.enter()`) on the main thread around the
//!   whole scoro run: that is how tokio finds its reactor. (Entering it inside a task instead
//!   would break as soon as two tasks did: tokio wants its guards dropped in order.)
//! - An `async` block written as the argument of `compat::future(..)` stays a plain future
//!   even inside a `#[structured]` function, so it can use tokio's own combinators
//!   (`tokio::join!`); `compat::plain!(async { .. })` does the same anywhere else, such as for
//!   `tokio::Runtime::spawn`.
//! - Cancellation reaches foreign futures too: a scoro timeout around `compat::future(..)`
//!   drops the future, as tokio expects.
//!
//! Errors are `Box<dyn Error + Send + Sync>` throughout.

use scoro::compat::{self, plain};
use scoro::sync::CapacityLimiter;
use scoro::{nursery, structured, to_thread};
use std::cell::Cell;
use std::error::Error;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::{TcpListener as TokioListener, TcpStream as TokioStream};

type BoxError = Box<dyn Error + Send + Sync>;

/// How many files are hashed at once.
const PARALLEL: usize = 4;

/// FNV-1a, 64 bits: a small, well-known checksum.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Reads and hashes `path` on a worker thread.
#[structured]
async fn checksum(
    path: &Path,
    limit: &CapacityLimiter,
    bytes: &Cell<u64>,
) -> Result<u64, BoxError> {
    let _token = limit.acquire().await?;
    let data = to_thread::run_sync(|| std::fs::read(path)).await??;
    bytes.set(bytes.get() + data.len() as u64);
    // Hashing is CPU work: also off the runtime's thread.
    Ok(to_thread::run_sync(|| fnv1a(&data)).await?)
}

// ---- the report service and its client: plain tokio code ----

/// The service: stores every `name checksum` line it receives, answers `ok`.
async fn report_service(
    listener: TokioListener,
    received: tokio::sync::mpsc::UnboundedSender<String>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let received = received.clone();
        tokio::spawn(async move {
            let (reader, mut writer) = stream.into_split();
            let mut lines = TokioBufReader::new(reader).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if received.send(line).is_err() || writer.write_all(b"ok\n").await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The client: sends one report and waits for the answer.
async fn send_report(stream: &mut TokioStream, line: String) -> std::io::Result<()> {
    stream.write_all(format!("{line}\n").as_bytes()).await?;
    let mut answer = [0; 3];
    tokio::io::AsyncReadExt::read_exact(stream, &mut answer).await?;
    if &answer != b"ok\n" {
        return Err(std::io::Error::other(
            "the service did not confirm the report",
        ));
    }
    Ok(())
}

// ---- the scoro program ----

/// Checksums one file and reports it over the client connection `conn`.
#[structured]
async fn check_and_report(
    path: &Path,
    limit: &CapacityLimiter,
    bytes: &Cell<u64>,
    conn: &tokio::sync::Mutex<TokioStream>,
) -> Result<(), BoxError> {
    let sum = checksum(path, limit, bytes).await?;
    let line = format!("{} {sum:016x}", path.display());
    // A plain `async` block as the argument of `compat::future`: it can use tokio's lock and
    // the tokio client.
    compat::future(async {
        let mut stream = conn.lock().await;
        send_report(&mut stream, line).await
    })
    .await??;
    Ok(())
}

/// Checksums every file concurrently and reports each one; returns how many bytes were read.
/// Runs inside `tokio_rt`'s context (see [`checksum_files`]).
#[structured]
async fn run(
    tokio_rt: &tokio::runtime::Runtime,
    files: &[PathBuf],
    received: tokio::sync::mpsc::UnboundedSender<String>,
) -> Result<u64, BoxError> {
    let listener = compat::future(TokioListener::bind("127.0.0.1:0")).await??;
    let addr = listener.local_addr()?;
    // The service runs on tokio's own threads, detached as tokio tasks are.
    tokio_rt.spawn(plain!(
        async move { report_service(listener, received).await }
    ));
    let conn = tokio::sync::Mutex::new(compat::future(TokioStream::connect(addr)).await??);
    let limit = CapacityLimiter::new(PARALLEL);
    let bytes = Cell::new(0);
    nursery(async |n| -> Result<(), BoxError> {
        for path in files {
            n.start_soon(check_and_report(path, &limit, &bytes, &conn));
        }
        Ok(())
    })
    .await?;
    Ok(bytes.get())
}

/// Starts a tokio runtime, enters it, and runs the scoro program in its context; returns the
/// bytes read and the lines the service received.
fn checksum_files(files: &[PathBuf]) -> Result<(u64, Vec<String>), BoxError> {
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let _tokio_context = tokio_rt.enter(); // tokio sockets find their reactor through this
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let bytes = scoro::run(run(&tokio_rt, files, tx))?;
    let mut received = Vec::new();
    while let Ok(line) = rx.try_recv() {
        received.push(line);
    }
    Ok((bytes, received))
}

fn main() -> Result<(), BoxError> {
    let mut files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        files.push(PathBuf::from(file!()));
    }
    let (bytes, received) = checksum_files(&files)?;
    for line in received {
        println!("reported: {line}");
    }
    println!("read {bytes} bytes");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Writes `count` files with known contents into a fresh directory.
    fn files(count: usize) -> (PathBuf, Vec<(PathBuf, Vec<u8>)>) {
        let dir = std::env::temp_dir().join(format!("scoro-checksums-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let files = (0..count)
            .map(|i| {
                let path = dir.join(format!("file{i}"));
                let data: Vec<u8> = (0..1000 * i).map(|b| (b * 31 % 251) as u8).collect();
                std::fs::write(&path, &data).unwrap();
                (path, data)
            })
            .collect();
        (dir, files)
    }

    #[test]
    fn every_file_is_checksummed_and_reported() {
        let (dir, files) = files(10);
        let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
        let (bytes, mut reported) = checksum_files(&paths).unwrap();
        reported.sort();
        let mut expected: Vec<String> = files
            .iter()
            .map(|(p, data)| format!("{} {:016x}", p.display(), fnv1a(data)))
            .collect();
        expected.sort();
        assert_eq!(reported, expected);
        assert_eq!(
            bytes,
            files.iter().map(|(_, d)| d.len() as u64).sum::<u64>()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_file_is_an_error_that_stops_the_rest() {
        let paths = [PathBuf::from("/nonexistent/scoro/checksums")];
        let e = checksum_files(&paths).unwrap_err();
        // `?` boxed the nursery's group of errors: here a group of one.
        let group = e
            .downcast_ref::<scoro::ErrorGroup<BoxError>>()
            .expect("the nursery's group");
        assert_eq!(group.len(), 1);
        let io = group
            .first()
            .downcast_ref::<std::io::Error>()
            .expect("the read's io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    }

    /// Receives from a tokio oneshot.
    #[structured]
    async fn receive(rx: tokio::sync::oneshot::Receiver<u32>) -> Result<u32, BoxError> {
        Ok(compat::future(rx).await??)
    }

    /// Waits for a tokio oneshot that is never sent, under a scoro timeout.
    #[structured]
    async fn wait_for_nothing(
        rx: tokio::sync::oneshot::Receiver<u32>,
    ) -> Option<Result<u32, BoxError>> {
        scoro::move_on_after(Duration::from_secs(3600), receive(rx)).await
    }

    // A scoro timeout cancels a foreign future by dropping it: the tokio sender sees that its
    // receiver is gone.
    #[test]
    fn a_timeout_drops_the_foreign_future() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let mut rt = scoro::Builder::new()
            .clock(scoro::testing::MockClock::autojump(Duration::ZERO))
            .build()
            .unwrap();
        assert!(rt.run(wait_for_nothing(rx)).is_none());
        assert!(tx.is_closed());
    }
}
