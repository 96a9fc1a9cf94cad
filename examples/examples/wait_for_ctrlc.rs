//! Waits for Ctrl-C with the lowest-level tool scoro has: `lowlevel::suspend`.
//!
//! ```text
//! cargo run -p examples --example wait_for_ctrlc
//! ```
//!
//! `suspend` puts the task to sleep and hands `setup` the `Wakeup` that resumes it; here a
//! signal handler calls it. If the task is cancelled instead (by the timeout below), `abort`
//! removes the handler, so nothing will wake the task any more, and reports success. That
//! is the whole protocol behind every blocking call in scoro. While the handler is
//! installed, Ctrl-C is ours: it does not cancel the run.

use scoro::lowlevel::{Abort, suspend};
use scoro::signal::{SIGINT, set_handler};
use scoro::{CancelRequested, move_on_after, structured};
use std::cell::RefCell;
use std::time::Duration;

#[structured]
async fn wait_for_ctrlc() -> Result<(), CancelRequested> {
    let handler = RefCell::new(None);
    suspend(
        |wakeup| {
            let h = set_handler(&[SIGINT], move |_| {
                wakeup.wake(());
            });
            *handler.borrow_mut() = Some(h.expect("the runtime already handles SIGINT"));
        },
        || {
            handler.borrow_mut().take(); // uninstalled: the wakeup will not be used
            Abort::Succeeded
        },
    )
    .await
}

#[structured]
async fn demo(patience: Duration) -> bool {
    match move_on_after(patience, wait_for_ctrlc()).await {
        Some(Ok(())) => {
            println!("got Ctrl-C; the run goes on, because this task was listening");
            true
        }
        Some(Err(c)) => {
            println!("cancelled: {c}");
            false
        }
        None => {
            println!("no Ctrl-C within {patience:?}");
            false
        }
    }
}

#[scoro::main]
async fn main() {
    let patience = Duration::from_secs(10);
    println!("press Ctrl-C within {patience:?}");
    demo(patience).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoro::{nursery, testing::wait_all_tasks_blocked, to_thread};

    #[structured]
    async fn press_ctrl_c_while_waiting() -> bool {
        let got = std::cell::Cell::new(false);
        let outcome = nursery(async |n| -> Result<(), CancelRequested> {
            n.start_soon(async {
                wait_all_tasks_blocked().await?;
                // What a terminal does on Ctrl-C: send SIGINT to the process.
                let pid = std::process::id().to_string();
                to_thread::run_sync(|| {
                    let status = std::process::Command::new("kill")
                        .args(["-INT", &pid])
                        .status()
                        .expect("the `kill` command runs");
                    assert!(status.success());
                })
                .await
            });
            got.set(demo(Duration::from_secs(60)).await);
            Ok(())
        })
        .await;
        outcome.is_ok() && got.get()
    }

    #[test]
    fn wakes_on_ctrl_c() {
        assert!(scoro::run(press_ctrl_c_while_waiting()));
    }
}
