//! Ctrl-C with nobody listening cancels the run (reason `Interrupt`) and lets cleanup run.
//! In a test binary of its own, because SIGINT is process-wide.

use scoro::{CancelReason, CancelRequested, ErrorGroup, nursery, structured};
use std::cell::Cell;

#[structured]
async fn serve(cleaned_up: &Cell<bool>) -> Result<(), CancelRequested> {
    let outcome = scoro::sleep_forever().await;
    // The cancellation arrives as a value: cleanup code after the wait still runs.
    cleaned_up.set(true);
    match outcome {
        Ok(never) => match never {},
        Err(c) => Err(c),
    }
}

#[structured]
async fn main_task(cleaned_up: &Cell<bool>) -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(serve(cleaned_up));
        scoro::testing::wait_all_tasks_blocked().await?;
        // SAFETY: raising a signal is memory-safe; the runtime handles SIGINT.
        assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
        scoro::sleep_forever().await?;
        Ok(())
    })
    .await
}

#[test]
fn ctrl_c_cancels_the_run_and_cleanup_runs() {
    let cleaned_up = Cell::new(false);
    let group = scoro::run(main_task(&cleaned_up)).unwrap_err();
    assert!(
        group.iter().all(|c| c.reason() == CancelReason::Interrupt),
        "{group:?}"
    );
    assert!(cleaned_up.get());
}
