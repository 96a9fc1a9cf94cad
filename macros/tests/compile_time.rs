//! How much `#[structured]` adds to compile time: a benchmark, run by hand.
//!
//! ```sh
//! cargo test -p scoro-macros --release --test compile_time -- --ignored --nocapture
//! SCORO_CT_N=300 SCORO_CT_RUNS=21 cargo test -p scoro-macros --release --test compile_time -- --ignored --nocapture
//! ```
//!
//! For each N (`SCORO_CT_N`, comma-separated, default `300,2000`) it generates two crates
//! under the target dir (`target/tmp/scoro-compile-time/`) with N functions each, every one
//! awaiting a checkpoint and then the previous function:
//! - `ct_structured_N`: `#[scoro::structured] async fn`s awaiting `scoro::checkpoint()`
//!   (depends on `scoro` by path);
//! - `ct_plain_N`: plain `async fn`s awaiting a hand-written checkpoint future (no dependency).
//!
//! It builds the dependencies once, then times `cargo check` of each crate after touching its
//! source, `SCORO_CT_RUNS` times (default 11), alternating the two crates, and prints the
//! medians and their ratio. The times include cargo's own start-up, as a user sees them: the
//! wall time, and on Linux the CPU time (user + system) of cargo and rustc, which varies less
//! on a busy machine. The crates are checked without incremental compilation, as after an edit
//! that touches every function.
//!
//! When a nightly toolchain is installed (`rustup run nightly`), it also runs
//! `cargo rustc -- -Ztime-passes` on each crate (`SCORO_CT_PASSES_RUNS` times, default 3) and
//! prints the median of the macro expansion pass (`expand_crate`) and of type checking
//! (`type_check_crate`), with the expansion time per function. Without nightly it says so and
//! skips that part.
//!
//! The crates stay in the target dir: `cargo +nightly rustc -p ct_structured_300 --profile check
//! -- -Zunpretty=expanded` in `target/tmp/scoro-compile-time/` shows the generated code.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

#[test]
#[ignore = "a benchmark of minutes: run by hand, see the module docs"]
fn compile_time() {
    let sizes = env_list("SCORO_CT_N", &[300, 2000]);
    let runs = env_list("SCORO_CT_RUNS", &[11])[0].max(1);
    let passes_runs = env_list("SCORO_CT_PASSES_RUNS", &[3])[0];
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scoro-compile-time");
    let bench = Bench::generate(&root, &sizes);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    println!("building the dependencies once ({})", root.display());
    bench.run(
        Command::new(&cargo).args(["check", "--workspace"]),
        "target",
    );

    let mut report = String::new();
    for &n in &sizes {
        let [structured, plain] = crate_names(n);
        // One untimed run each, so that both start from the same state.
        for name in [&structured, &plain] {
            bench.touch(name);
            bench.check(&cargo, name);
        }
        let (mut s, mut p) = (Vec::new(), Vec::new());
        let (mut s_cpu, mut p_cpu) = (Vec::new(), Vec::new());
        for run in 0..runs {
            // Alternate which crate goes first, so that neither always follows the other.
            let order = if run % 2 == 0 {
                [
                    (&structured, &mut s, &mut s_cpu),
                    (&plain, &mut p, &mut p_cpu),
                ]
            } else {
                [
                    (&plain, &mut p, &mut p_cpu),
                    (&structured, &mut s, &mut s_cpu),
                ]
            };
            for (name, times, cpu_times) in order {
                bench.touch(name);
                let cpu = children_cpu_time();
                times.push(bench.check(&cargo, name));
                if let (Some(before), Some(after)) = (cpu, children_cpu_time()) {
                    cpu_times.push(after - before);
                }
            }
        }
        let (ms, mp) = (median(&mut s), median(&mut p));
        let mut line = format!(
            "N = {n:>5}: cargo check, median of {runs}: wall structured {:.3} s, plain {:.3} s, \
             ratio {:.2} (min {:.3} s / {:.3} s)",
            ms.as_secs_f64(),
            mp.as_secs_f64(),
            ms.as_secs_f64() / mp.as_secs_f64(),
            s[0].as_secs_f64(),
            p[0].as_secs_f64(),
        );
        if s_cpu.len() == runs && p_cpu.len() == runs {
            let (cs, cp) = (median(&mut s_cpu), median(&mut p_cpu));
            write!(
                line,
                "; CPU structured {:.3} s, plain {:.3} s, ratio {:.2}",
                cs.as_secs_f64(),
                cp.as_secs_f64(),
                cs.as_secs_f64() / cp.as_secs_f64(),
            )
            .unwrap();
        }
        println!("{line}");
        writeln!(report, "{line}").unwrap();
    }

    if passes_runs > 0 {
        match nightly() {
            Some(version) => {
                println!("-Ztime-passes with {version}");
                for &n in &sizes {
                    let line = bench.time_passes(n, passes_runs);
                    println!("{line}");
                    writeln!(report, "{line}").unwrap();
                }
            }
            None => {
                let line = "no nightly toolchain (`rustup run nightly`): expansion time skipped";
                println!("{line}");
                writeln!(report, "{line}").unwrap();
            }
        }
    }
    println!("\nsummary:\n{report}");
}

/// The generated workspace.
struct Bench {
    root: PathBuf,
}

impl Bench {
    fn generate(root: &Path, sizes: &[usize]) -> Self {
        fs::create_dir_all(root).unwrap();
        let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
        let runtime = runtime.canonicalize().unwrap();
        let mut members = Vec::new();
        for &n in sizes {
            let [structured, plain] = crate_names(n);
            let dependency = format!("scoro = {{ path = {:?} }}", runtime.display().to_string());
            write_crate(root, &structured, &dependency, &structured_source(n));
            write_crate(root, &plain, "", &plain_source(n));
            members.extend([structured, plain]);
        }
        // Its own workspace (the repository's would claim it) with the repository's lock file,
        // so that the dependencies are the versions the repository builds with.
        let manifest = format!(
            "[workspace]\nresolver = \"3\"\nmembers = {members:?}\n\n\
             [profile.dev]\nincremental = false\n"
        );
        write_if_changed(&root.join("Cargo.toml"), &manifest);
        let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
        if !root.join("Cargo.lock").exists() {
            fs::copy(lock, root.join("Cargo.lock")).unwrap();
        }
        Bench {
            root: root.to_owned(),
        }
    }

    /// Runs `command` in the workspace with `target` as its target dir; panics if it fails.
    fn run(&self, command: &mut Command, target: &str) -> Output {
        let output = command
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", self.root.join(target))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{command:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Makes cargo see the crate's source as changed.
    fn touch(&self, name: &str) {
        let file = fs::File::options()
            .write(true)
            .open(self.root.join(name).join("src/lib.rs"))
            .unwrap();
        file.set_modified(SystemTime::now()).unwrap();
    }

    /// The wall time of `cargo check` of one crate.
    fn check(&self, cargo: &str, name: &str) -> Duration {
        let start = Instant::now();
        self.run(
            Command::new(cargo).args(["check", "--offline", "--quiet", "-p", name]),
            "target",
        );
        start.elapsed()
    }

    /// `-Ztime-passes` of both crates of size `n`: the medians of expansion and type checking.
    fn time_passes(&self, n: usize, runs: usize) -> String {
        let [structured, plain] = crate_names(n);
        let passes = ["expand_crate", "type_check_crate"];
        let mut medians = Vec::new();
        for name in [&structured, &plain] {
            let mut times = vec![Vec::new(); passes.len()];
            for _ in 0..runs + 1 {
                self.touch(name);
                let output = self.run(
                    Command::new("rustup").args([
                        "run",
                        "nightly",
                        "cargo",
                        "rustc",
                        "--quiet",
                        "--offline",
                        "--lib",
                        "--profile",
                        "check",
                        "-p",
                        name,
                        "--",
                        "-Ztime-passes",
                    ]),
                    "target-nightly",
                );
                let stderr = String::from_utf8_lossy(&output.stderr);
                for (pass, times) in passes.iter().zip(&mut times) {
                    times.push(pass_time(&stderr, pass).unwrap_or_else(|| {
                        panic!("no `{pass}` line in -Ztime-passes output:\n{stderr}")
                    }));
                }
            }
            // The first run also built the dependencies with nightly.
            medians.push(
                times
                    .iter_mut()
                    .map(|t| median_f(&mut t[1..]))
                    .collect::<Vec<_>>(),
            );
        }
        let (s, p) = (&medians[0], &medians[1]);
        format!(
            "N = {n:>5}: -Ztime-passes, median of {runs}: expand_crate structured {:.3} s \
             ({:.2} ms per function), plain {:.3} s; type_check_crate structured {:.3} s, \
             plain {:.3} s, ratio {:.2}",
            s[0],
            s[0] * 1000.0 / n as f64,
            p[0],
            s[1],
            p[1],
            s[1] / p[1],
        )
    }
}

fn crate_names(n: usize) -> [String; 2] {
    [format!("ct_structured_{n}"), format!("ct_plain_{n}")]
}

fn write_crate(root: &Path, name: &str, dependencies: &str, source: &str) {
    let dir = root.join(name);
    fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n{dependencies}\n"
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest);
    write_if_changed(&dir.join("src/lib.rs"), source);
}

/// Leaves unchanged files alone, so that a second run reuses the first one's builds.
fn write_if_changed(path: &Path, contents: &str) {
    if fs::read_to_string(path).ok().as_deref() != Some(contents) {
        fs::write(path, contents).unwrap();
    }
}

// Each function awaits a checkpoint, then the previous function.
fn structured_source(n: usize) -> String {
    let mut source = String::from("//! Generated by scoro-macros' compile_time benchmark.\n\n");
    for i in 0..n {
        let call = if i == 0 {
            "x".to_owned()
        } else {
            format!("f{}(x).await? + 1", i - 1)
        };
        writeln!(
            source,
            "#[scoro::structured]\n\
             pub async fn f{i}(x: u64) -> Result<u64, scoro::CancelRequested> {{\n    \
             scoro::checkpoint().await?;\n    \
             Ok({call})\n\
             }}\n"
        )
        .unwrap();
    }
    source
}

// The same with plain `async fn`s and a checkpoint future of its own.
fn plain_source(n: usize) -> String {
    let mut source = String::from(
        "//! Generated by scoro-macros' compile_time benchmark.\n\n\
         use std::future::Future;\n\
         use std::pin::Pin;\n\
         use std::task::{Context, Poll};\n\n\
         #[derive(Debug)]\n\
         pub struct CancelRequested;\n\n\
         pub struct Checkpoint(bool);\n\n\
         impl Future for Checkpoint {\n    \
         type Output = Result<(), CancelRequested>;\n    \
         fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {\n        \
         if self.0 {\n            \
         return Poll::Ready(Ok(()));\n        \
         }\n        \
         self.0 = true;\n        \
         cx.waker().wake_by_ref();\n        \
         Poll::Pending\n    \
         }\n\
         }\n\n\
         pub fn checkpoint() -> Checkpoint {\n    \
         Checkpoint(false)\n\
         }\n\n",
    );
    for i in 0..n {
        let call = if i == 0 {
            "x".to_owned()
        } else {
            format!("f{}(x).await? + 1", i - 1)
        };
        writeln!(
            source,
            "pub async fn f{i}(x: u64) -> Result<u64, CancelRequested> {{\n    \
             checkpoint().await?;\n    \
             Ok({call})\n\
             }}\n"
        )
        .unwrap();
    }
    source
}

/// The version of the nightly toolchain, if one is installed.
fn nightly() -> Option<String> {
    let output = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

// A `-Ztime-passes` line: `time:   0.123; rss:   40MB ->   60MB (  +20MB)	expand_crate`.
fn pass_time(stderr: &str, pass: &str) -> Option<f64> {
    stderr.lines().find_map(|line| {
        let (time, name) = line
            .strip_prefix("time:")?
            .rsplit_once(char::is_whitespace)?;
        (name == pass).then(|| time.split(';').next()?.trim().parse().ok())?
    })
}

/// The user and system time of the children this process has waited for (cargo, and the rustc
/// it waited for), from `/proc/self/stat` on Linux, in its 1/100 s ticks.
fn children_cpu_time() -> Option<Duration> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which may hold spaces), from the third one (`state`):
    // `cutime` and `cstime` are the 16th and 17th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn env_list(var: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(var) {
        Ok(value) => value
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{var}: `{n}` is not a number"))
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn median_f(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
