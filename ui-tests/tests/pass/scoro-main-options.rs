#![deny(warnings)]

use std::time::Duration;

#[scoro::structured]
async fn nap() -> Result<(), scoro::CancelRequested> {
    scoro::sleep(Duration::from_millis(1)).await
}

/// Prints the task tree on SIGUSR1, and reports steps that hold the thread over two seconds.
#[scoro::main(dump_tree_on = SIGUSR1, watchdog_ms = 2_000)]
async fn main() -> Result<(), scoro::CancelRequested> {
    nap().await
}
