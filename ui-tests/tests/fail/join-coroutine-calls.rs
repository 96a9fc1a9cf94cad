use scoro::structured;
use std::future::Future;

/// The shape of `futures::join`.
fn join<A: Future, B: Future>(a: A, b: B) -> (A, B) {
    (a, b)
}

#[structured]
async fn answer() -> u32 {
    42
}

fn main() {
    let _ = join(answer(), answer());
}
