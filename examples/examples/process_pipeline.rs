//! A pipeline of child processes, like a shell's `a | b | c`, run under a timeout: the first
//! finishes in time; the second never would, and the timeout ends every process in it.
//!
//! ```text
//! cargo run -p examples --example process_pipeline
//! ```
//!
//! The stages are connected pipe to pipe: each child's standard output is the next one's
//! standard input, so the bytes never pass through this program; only the last stage's output
//! is read here, line by line, as it comes. Each child is waited for by a task of its own in
//! one nursery. When the timeout cancels the nursery, every one of those waits ends its child
//! (`SIGTERM`, then `SIGKILL` if it lingers) and reaps it before the nursery returns: after
//! the timeout no process of the pipeline is left, neither running nor as a zombie, which the
//! example checks through `/proc`.

use scoro::io::BufReader;
use scoro::process::{Child, Command};
use scoro::{move_on_after, nursery, structured};
use std::io;
use std::process::Stdio;
use std::time::Duration;

/// What a pipeline did.
#[derive(Debug)]
struct Outcome {
    /// The last stage's output lines (all of them, or those before the timeout).
    lines: Vec<String>,
    /// Whether it finished before the timeout.
    finished: bool,
    /// The processes it ran.
    pids: Vec<u32>,
}

/// Runs `stages` as a pipeline, each a program and its arguments, for at most `timeout`.
#[structured]
async fn run_pipeline(stages: &[&[&str]], timeout: Duration) -> io::Result<Outcome> {
    let mut lines = Vec::new();
    let mut pids = Vec::new();
    let finished = move_on_after(
        timeout,
        nursery(async |n| -> io::Result<()> {
            let mut input = Stdio::null();
            let mut last_output = None;
            for (i, stage) in stages.iter().enumerate() {
                let mut child = Command::new(stage[0])
                    .args(&stage[1..])
                    .stdin(input)
                    .stdout(Stdio::piped())
                    // Each stage in a process group of its own, so that ending it also ends
                    // what it started (the `sleep`s of a shell loop).
                    .new_process_group(true)
                    .spawn()
                    .await?;
                pids.push(child.id());
                let stdout = child.stdout.take().expect("piped");
                if i + 1 == stages.len() {
                    last_output = Some(stdout);
                    input = Stdio::null();
                } else {
                    input = Stdio::try_from(stdout)?;
                }
                n.start_soon(wait_for(child));
            }
            if let Some(stdout) = last_output {
                let mut reader = BufReader::new(stdout);
                let mut output = reader.lines();
                while let Some(line) = output.next().await? {
                    lines.push(line);
                }
            }
            Ok(())
        }),
    )
    .await
    .transpose()
    .map_err(io::Error::from)?
    .is_some();
    Ok(Outcome {
        lines,
        finished,
        pids,
    })
}

/// Waits for one stage; a stage that fails fails the pipeline.
#[structured]
async fn wait_for(mut child: Child) -> io::Result<()> {
    let status = child.wait().await?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "pipeline stage {} failed with {status}",
            child.id()
        )))
    }
}

/// Whether process `pid` still exists (running, or a zombie nobody reaped).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Both pipelines; returns their outcomes.
#[structured]
async fn demo(timeout: Duration) -> io::Result<(Outcome, Outcome)> {
    // Finishes at once: how many of 1..=1000 contain a 7.
    let quick = run_pipeline(
        &[&["seq", "1", "1000"], &["grep", "7"], &["wc", "-l"]],
        timeout,
    )
    .await?;
    println!(
        "seq 1 1000 | grep 7 | wc -l: {} (finished: {})",
        quick.lines.join(" "),
        quick.finished
    );

    // Never finishes: a counter that ticks forever, filtered as it goes.
    let ticker = "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.01; done";
    let endless = run_pipeline(
        &[&["sh", "-c", ticker], &["grep", "--line-buffered", "tick"]],
        timeout,
    )
    .await?;
    println!(
        "ticker | grep: {} lines before the timeout (finished: {})",
        endless.lines.len(),
        endless.finished
    );
    for pid in &endless.pids {
        println!(
            "  process {pid}: {}",
            if exists(*pid) {
                "STILL THERE"
            } else {
                "ended and reaped"
            }
        );
    }
    Ok((quick, endless))
}

fn main() -> io::Result<()> {
    scoro::run(demo(Duration::from_secs(1)))?;
    Ok(())
}

#[test]
fn the_timeout_ends_every_process_of_the_pipeline() {
    let (quick, endless) = scoro::run(demo(Duration::from_millis(300))).unwrap();
    assert!(quick.finished);
    assert_eq!(quick.lines, ["271"]);
    assert_eq!(quick.pids.len(), 3);

    assert!(!endless.finished);
    assert_eq!(endless.pids.len(), 2);
    // Every line that arrived is whole and in order.
    for (i, line) in endless.lines.iter().enumerate() {
        assert_eq!(line, &format!("tick {}", i + 1));
    }
    for pid in quick.pids.iter().chain(&endless.pids) {
        assert!(!exists(*pid), "process {pid} is still there");
    }
}
