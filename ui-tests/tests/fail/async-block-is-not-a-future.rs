use scoro::structured;
use std::future::Future;

fn poll_later<F: Future>(future: F) -> F {
    future
}

#[structured]
async fn answer() -> u32 {
    let _ = poll_later(async { 42 });
    42
}

fn main() {
    assert_eq!(scoro::run(answer()), 42);
}
