//! Ctrl-C belongs to a runtime while it runs, not from when it is built: each test re-runs
//! this test binary as a child process (SIGINT dispositions are process-wide, and the default
//! one kills the process) and checks how the child ended.

use scoro::testing::wait_all_tasks_blocked;
use scoro::{Builder, CancelReason, sleep_forever, structured};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

/// Selects what the child process does.
const ROLE: &str = "SCORO_SIGINT_BEFORE_RUN_ROLE";

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

fn raise_sigint() {
    // SAFETY: `raise` has no preconditions; what SIGINT does is what the test looks at.
    assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
}

fn sigint_disposition() -> libc::sighandler_t {
    // SAFETY: a zeroed `sigaction` is valid to be written by `sigaction`, which only reads the
    // current disposition here (no new action).
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

fn ignore_sigint() {
    // SAFETY: `SIG_IGN` is a valid disposition for SIGINT.
    let previous = unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    assert_ne!(previous, libc::SIG_ERR);
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

/// Not cancelled at its start; then Ctrl-C while it runs cancels it.
#[structured]
async fn starts_clean_then_interrupted() -> Option<CancelReason> {
    // Blocks until the runtime has polled its I/O, the signal pipe included: a SIGINT that
    // the runtime counted before the run would show up here.
    wait_all_tasks_blocked()
        .await
        .expect("a SIGINT from before the run must not cancel it");
    raise_sigint();
    let Err(c) = sleep_forever().await;
    Some(c.reason())
}

// A built runtime that is not running leaves Ctrl-C alone: a SIGINT before `run` has its
// default effect and kills the process.
#[test]
fn sigint_before_run_kills_the_process() {
    if role().as_deref() == Some("built") {
        // A test run started as a background job of a non-interactive shell inherits SIGINT
        // ignored; this test is about the default disposition, so start from it.
        // SAFETY: `signal` has no memory-safety preconditions; SIG_DFL is a valid disposition.
        unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
        let mut rt = Builder::new().build().unwrap();
        assert_eq!(
            sigint_disposition(),
            libc::SIG_DFL,
            "building installs nothing"
        );
        raise_sigint();
        say("survived SIGINT before run");
        let _ = rt.run(starts_clean_then_interrupted());
        std::process::exit(0);
    }
    let out = child("sigint_before_run_kills_the_process", "built");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGINT),
        "{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("survived"), "{stdout}");
}

// The disposition before `run` is whatever the program chose (here: ignore). A SIGINT then
// does not reach the runtime, so its run does not start cancelled; while it runs, Ctrl-C
// cancels it (reason `Interrupt`); when it returns, the program's disposition is back. The
// same holds between two runs of one runtime.
#[test]
fn only_a_running_runtime_turns_sigint_into_cancellation() {
    if role().as_deref() == Some("ignoring") {
        ignore_sigint();
        let mut rt = Builder::new().build().unwrap();
        assert_eq!(
            sigint_disposition(),
            libc::SIG_IGN,
            "building installs nothing"
        );
        raise_sigint();
        for run in 1..=2 {
            let reason = rt.run(starts_clean_then_interrupted());
            assert_eq!(reason, Some(CancelReason::Interrupt), "run {run}");
            assert_eq!(
                sigint_disposition(),
                libc::SIG_IGN,
                "restored after run {run}"
            );
            say(&format!("run {run} interrupted"));
            raise_sigint();
        }
        std::process::exit(0);
    }
    let out = child(
        "only_a_running_runtime_turns_sigint_into_cancellation",
        "ignoring",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("run 1 interrupted"), "{stdout}");
    assert!(stdout.contains("run 2 interrupted"), "{stdout}");
}
