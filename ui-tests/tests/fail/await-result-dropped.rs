// An awaited `Result` dropped by a statement: a cancellation would be lost, and in a loop the
// task would spin, so the error says to propagate it with `?` (and does not suggest `let _`).
use scoro::{CancelRequested, structured};
use std::time::Duration;

#[structured]
async fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[structured]
async fn poll_forever() -> Result<(), CancelRequested> {
    loop {
        scoro::sleep(Duration::from_secs(1)).await;
        fetch().await;
    }
}

fn main() {
    let _ = scoro::run(poll_forever());
}
