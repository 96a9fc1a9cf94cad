// A timeout around a call whose output cannot say it was cancelled: the message names
// `scoro::cancellable` and how to make an error type fit.
use std::time::Duration;

#[scoro::structured]
async fn count() -> u32 {
    7
}

#[scoro::structured]
async fn main_task() -> Option<u32> {
    scoro::move_on_after(Duration::from_secs(1), count()).await
}

fn main() {
    let _ = scoro::run(main_task());
}
