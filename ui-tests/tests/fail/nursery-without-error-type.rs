// A nursery's error type is not inferred from its children (they go through `Into`), so a body
// without `-> Result<T, E>` leaves it unknown. `nursery` takes its body as `impl AsyncFnOnce`,
// so rustc suggests a typed `let` (one of the two fixes) instead of a turbofish over an
// unnameable closure type; the other fix is `async |n| -> Result<(), E> { .. }`.
use scoro::{CancelRequested, nursery, structured};

#[structured]
async fn child() -> Result<(), CancelRequested> {
    Ok(())
}

#[structured]
async fn parent() {
    let _ = nursery(async |n| {
        n.start_soon(child());
        Ok(())
    })
    .await;
}

fn main() {
    scoro::run(parent());
}
