// A child may outlive the nursery's body (the nursery waits for it after the body returned), so
// a call started as a child cannot borrow a local of the body. Rustc words this as the
// returned `impl Future` capturing a lifetime, and suggests `use<>`, which cannot apply: the
// fix is to declare the value before the nursery.
use scoro::{CancelRequested, nursery, structured};

#[structured]
async fn show(value: &u32) {
    println!("{value}");
}

#[structured]
async fn parent() {
    let _ = nursery(async |n| -> Result<(), CancelRequested> {
        let local = 7;
        n.start_soon(show(&local));
        Ok(())
    })
    .await;
}

fn main() {
    scoro::run(parent());
}
