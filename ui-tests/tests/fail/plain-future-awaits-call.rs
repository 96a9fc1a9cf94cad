// The `async` block given to `compat::future` is a plain future: whoever polls it may drop it
// half-way, so it cannot await a scoro call.
use scoro::{CancelRequested, structured};

#[structured]
async fn answer() -> u32 {
    42
}

#[structured]
async fn main_task() -> Result<u32, CancelRequested> {
    scoro::compat::future(async { answer().await + 1 }).await
}

fn main() {
    let _ = scoro::run(main_task());
}
