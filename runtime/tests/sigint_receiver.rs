//! SIGINT delivered to a listener instead of cancelling the run. In a test binary of its own:
//! a SIGINT reaches every runtime of the process, and those that do not listen for it are
//! cancelled.

use scoro::signal::{SIGINT, open_signal_receiver, wait_for_ctrl_c};
use scoro::{CancelRequested, checkpoint, nursery, structured, to_thread};
use std::io;

fn raise_sigint() {
    // SAFETY: raising a signal is memory-safe; the runtime of the caller handles SIGINT.
    assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
}

#[structured]
async fn receiver_gets_sigint() -> io::Result<()> {
    let mut rx = open_signal_receiver(&[SIGINT])?;
    raise_sigint();
    assert_eq!(rx.recv().await?, SIGINT);
    // The run was not cancelled.
    checkpoint().await?;
    Ok(())
}

#[structured]
async fn wait_for_ctrl_c_returns() -> Result<(), scoro::ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            scoro::testing::wait_all_tasks_blocked().await?;
            // Pressed while the main task waits, from another thread.
            to_thread::run_sync(raise_sigint).await
        });
        wait_for_ctrl_c().await?;
        checkpoint().await
    })
    .await
}

#[test]
fn sigint_goes_to_listeners_and_does_not_cancel_the_run() {
    // One test function, so that no other runtime of this process is alive meanwhile.
    scoro::run(receiver_gets_sigint()).unwrap();
    scoro::run(wait_for_ctrl_c_returns()).unwrap();
}
