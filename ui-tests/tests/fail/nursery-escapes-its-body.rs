// Trio's test_nursery_closure: once a nursery has exited, `start_soon` on it raises
// `RuntimeError`. In scoro the `&Nursery` cannot leave the nursery's body, so a closed nursery
// cannot even be named.
use scoro::{CancelRequested, nursery, structured};

#[structured]
async fn child() {}

#[structured]
async fn escape() {
    let mut escaped = None;
    let _ = nursery(async |n| -> Result<(), CancelRequested> {
        escaped = Some(n);
        Ok(())
    })
    .await;
    escaped.unwrap().start_soon(child());
}

fn main() {
    scoro::run(escape());
}
