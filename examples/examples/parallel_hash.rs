//! Hashes files on worker threads, many at a time, with `to_thread::run_sync` borrowing the
//! paths (no `Arc`, no clones: the call cannot outlive what it borrows).
//!
//! ```text
//! cargo run -p examples --example parallel_hash [PATH...]
//! ```
//!
//! Each path is a file or a directory (walked recursively). Without paths it hashes the
//! sources of these examples. The hash is 64-bit FNV-1a, written out below in a few lines:
//! fine for spotting changed files, not for security. At most 40 files are read at once
//! (the runtime's default thread limit); the rest wait in line.

use scoro::{CancelRequested, nursery, structured, to_thread};
use std::cell::RefCell;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// 64-bit FNV-1a over everything `reader` produces.
fn fnv1a(mut reader: impl Read) -> io::Result<u64> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buf = [0; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(hash);
        }
        for &b in &buf[..n] {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Every file under `paths` (blocking: run it on a worker thread).
fn walk(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut todo: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            for entry in std::fs::read_dir(&p)? {
                todo.push(entry?.path());
            }
        } else {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Hashes one file on a worker thread; the closure borrows `path`.
#[structured]
async fn hash_file(path: &Path) -> Result<io::Result<(u64, u64)>, CancelRequested> {
    to_thread::run_sync(|| {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok((fnv1a(io::BufReader::new(file))?, len))
    })
    .await
}

/// A file and what hashing it gave: `(hash, length)` or the error.
type Hashed = (PathBuf, io::Result<(u64, u64)>);

#[structured]
async fn hash_all(paths: Vec<PathBuf>) -> io::Result<Vec<Hashed>> {
    let files = to_thread::run_sync(|| walk(&paths)).await??;
    let results = RefCell::new(Vec::with_capacity(files.len()));
    nursery(async |n| -> Result<(), CancelRequested> {
        for path in &files {
            let results = &results;
            n.start_soon(async move {
                let hashed = hash_file(path).await?;
                results.borrow_mut().push((path.clone(), hashed));
                Ok::<(), CancelRequested>(())
            });
        }
        Ok(())
    })
    .await
    .map_err(|group| io::Error::from(group.into_first()))?;
    let mut results = results.into_inner();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(results)
}

#[scoro::main]
async fn main() -> io::Result<()> {
    let mut paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        paths.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"));
    }
    for (path, outcome) in hash_all(paths).await? {
        match outcome {
            Ok((hash, len)) => println!("{hash:016x} {len:>9} {}", path.display()),
            Err(e) => println!("{:>26} {}: {e}", "error", path.display()),
        }
    }
    Ok(())
}

#[cfg(test)]
#[test]
fn hashes_its_own_sources() {
    assert_eq!(fnv1a(&b""[..]).unwrap(), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(&b"a"[..]).unwrap(), 0xaf63_dc4c_8601_ec8c);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let results = scoro::run(hash_all(vec![dir])).unwrap();
    assert!(results.iter().any(|(p, _)| p.ends_with("parallel_hash.rs")));
    for (path, outcome) in results {
        let (hash, len) = outcome.unwrap();
        let expected = fnv1a(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(
            (hash, len),
            (expected, std::fs::metadata(&path).unwrap().len())
        );
    }
}
