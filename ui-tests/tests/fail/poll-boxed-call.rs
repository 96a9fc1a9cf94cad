use scoro::structured;
use std::future::Future;
use std::task::{Context, Waker};

#[structured]
async fn answer() -> u32 {
    42
}

fn main() {
    let mut call = Box::pin(answer());
    let mut context = Context::from_waker(Waker::noop());
    let _ = call.as_mut().poll(&mut context);
}
