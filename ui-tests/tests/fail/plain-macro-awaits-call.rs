// `compat::plain!` makes a plain future, inside or outside structured code: it cannot await a
// scoro call.
use scoro::compat::plain;
use scoro::structured;
use std::future::Future;

#[structured]
async fn answer() -> u32 {
    42
}

fn later() -> impl Future<Output = u32> {
    plain!(async { answer().await })
}

#[structured]
async fn main_task() -> Result<u32, scoro::CancelRequested> {
    let sum = scoro::compat::future(later()).await?;
    let doubled = plain!(async move { answer().await + sum });
    scoro::compat::future(doubled).await
}

fn main() {
    let _ = scoro::run(main_task());
}
