// A child may outlive the nursery's body (the nursery waits for it after the body returned), so
// it cannot borrow a local of the body.
use scoro::{CancelRequested, nursery, structured};

#[structured]
async fn read(value: &u32) -> u32 {
    *value
}

#[structured]
async fn parent() {
    let _ = nursery(async |n| -> Result<(), CancelRequested> {
        let local = 7;
        n.start_soon(async {
            read(&local).await;
        });
        Ok(())
    })
    .await;
}

fn main() {
    scoro::run(parent());
}
