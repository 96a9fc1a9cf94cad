//! `#[scoro::main]` and Ctrl-C, observed from outside: each test re-runs this test binary as a
//! child process (selected by an environment variable) and checks how that process ended.

use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelRequested, CancelScope, ErrorGroup, nursery, sleep_forever, structured};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

/// Selects what the child process does.
const ROLE: &str = "SCORO_MAIN_EXIT_CODE_ROLE";

fn send_sigint_to_self() {
    std::thread::spawn(|| {
        // SAFETY: `getpid` and `kill` have no preconditions; the runtime handles SIGINT while
        // `run` is active.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGINT);
        }
    });
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

#[structured]
async fn cleans_up_when_cancelled() -> Result<(), CancelRequested> {
    let Err(c) = sleep_forever().await;
    say("child cleaned up");
    Err(c)
}

/// Blocks every task, then presses Ctrl-C once.
#[scoro::main]
async fn interrupted_main() -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(cleans_up_when_cancelled());
        wait_all_tasks_blocked().await?;
        send_sigint_to_self();
        sleep_forever().await?;
        Ok(())
    })
    .await
}

#[structured]
async fn hangs_in_cleanup() {
    let Err(_) = sleep_forever().await;
    say("interrupted once");
    // Cleanup that never ends (shielded): only a second Ctrl-C gets the process out.
    send_sigint_to_self();
    let _ = CancelScope::new()
        .with_shield(true)
        .run(sleep_forever())
        .await;
    say("unreachable");
}

/// The first Ctrl-C starts a shutdown that hangs; a second Ctrl-C must end the process.
#[scoro::main]
async fn hanging_main() {
    let _ = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(hangs_in_cleanup());
        wait_all_tasks_blocked().await?;
        send_sigint_to_self();
        Ok(())
    })
    .await;
}

#[structured]
async fn answer() -> u32 {
    42
}

/// A main that is not interrupted returns its value.
#[scoro::main]
async fn normal_main() -> u32 {
    answer().await
}

/// Runs this test binary again, running only `test` with `role` set.
fn child(test: &str, role: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .output()
        .unwrap()
}

fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

// `#[scoro::main]` interrupted by Ctrl-C: every task unwinds through its cleanup, then the
// process exits with status 130 (128 + SIGINT, the shell convention).
#[test]
fn test_main_exits_130_after_ctrl_c() {
    if role().as_deref() == Some("interrupted") {
        let _ = interrupted_main();
        say("main returned without exiting");
        std::process::exit(0);
    }
    let out = child("test_main_exits_130_after_ctrl_c", "interrupted");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("child cleaned up"), "{stdout}");
    assert!(!stdout.contains("main returned"), "{stdout}");
}

// A second Ctrl-C while the shutdown of the first is still running ends the process at once
// (killed by SIGINT).
#[test]
fn test_second_ctrl_c_exits_at_once() {
    if role().as_deref() == Some("hanging") {
        hanging_main();
        say("main returned");
        std::process::exit(0);
    }
    let out = child("test_second_ctrl_c_exits_at_once", "hanging");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.signal(), Some(libc::SIGINT), "{stdout}");
    assert!(stdout.contains("interrupted once"), "{stdout}");
    assert!(!stdout.contains("unreachable"), "{stdout}");
    assert!(!stdout.contains("main returned"), "{stdout}");
}

// Without Ctrl-C, `#[scoro::main]` just returns the value and the process carries on.
#[test]
fn test_main_without_ctrl_c_returns() {
    if role().as_deref() == Some("normal") {
        assert_eq!(normal_main(), 42);
        say("main returned 42");
        std::process::exit(0);
    }
    let out = child("test_main_without_ctrl_c_returns", "normal");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("main returned 42"), "{stdout}");
}
