use scoro::structured;
use std::future::Future;

/// The shape of `tokio::spawn`.
fn spawn<F: Future + Send + 'static>(future: F) {
    drop(future);
}

#[structured]
async fn answer() -> u32 {
    42
}

fn main() {
    spawn(answer());
}
