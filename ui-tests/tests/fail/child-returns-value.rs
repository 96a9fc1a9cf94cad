// A nursery child reports only success or failure: `()`, or `Result<(), E>`. A value it
// returns would have nowhere to go.
use scoro::{CancelRequested, nursery, structured};

#[structured]
async fn compute() -> u32 {
    42
}

#[structured]
async fn parent() -> Result<(), scoro::ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(compute());
        Ok(())
    })
    .await
}

fn main() {
    let _ = scoro::run(parent());
}
