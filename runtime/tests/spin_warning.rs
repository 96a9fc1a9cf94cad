//! A task that discards cancellation in a loop spins: the runtime says so on stderr, naming
//! function the task runs. Runs the spinning program as a child process to read its stderr.

use scoro::{CancelScope, structured};
use std::process::{Command, Output};

const ROLE: &str = "SCORO_SPIN_TEST_ROLE";

/// Runs the test `test` of this binary again, as a child process in role `role`.
fn run_as_child(test: &str, role: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture"])
        .env(ROLE, role)
        .output()
        .unwrap()
}

/// Discards the cancellation 20,000 times (the bug), then gives up.
#[structured]
async fn discards_cancellation() -> Result<u32, scoro::CancelRequested> {
    let mut ignored = 0;
    for _ in 0..20_000 {
        #[allow(clippy::let_underscore_must_use)]
        let _ = scoro::checkpoint().await;
        ignored += 1;
    }
    Ok(ignored)
}

#[structured]
async fn main_task() -> Option<Result<u32, scoro::CancelRequested>> {
    let scope = CancelScope::new();
    scope.handle().cancel();
    scope.run(discards_cancellation()).await
}

#[test]
fn a_task_discarding_cancellation_in_a_loop_is_reported_once() {
    if std::env::var(ROLE).is_ok() {
        assert_eq!(scoro::run(main_task()), Some(Ok(20_000)));
        return;
    }
    let out = run_as_child(
        "a_task_discarding_cancellation_in_a_loop_is_reported_once",
        "spin",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<_> = stderr
        .lines()
        .filter(|l| l.starts_with("scoro: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("the task running `spin_warning::main_task`")
            && warnings[0].contains("10000 times in a row")
            && warnings[0].contains("Propagate it with `?`"),
        "{stderr}"
    );
}

#[structured]
async fn propagates() -> Result<(), scoro::CancelRequested> {
    for _ in 0..20_000 {
        scoro::checkpoint().await?;
    }
    Ok(())
}

// A task that propagates its cancellation is handed it once and finishes: no warning.
#[test]
fn a_task_that_propagates_is_not_reported() {
    if std::env::var(ROLE).is_ok() {
        let scope = CancelScope::new();
        scope.handle().cancel();
        assert!(scoro::run(scope.run(propagates())).is_none());
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_task_that_propagates_is_not_reported",
            "--exact",
            "--nocapture",
        ])
        .env(ROLE, "propagate")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("scoro: "), "{stderr}");
}
