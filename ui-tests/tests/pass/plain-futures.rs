//! Plain futures inside structured code: the `async` block given to `compat::future` and the
//! one in `compat::plain!` stay `Future`s that can await foreign futures, in any position.
#![deny(warnings)]

use scoro::compat::{self, plain};
use scoro::{CancelRequested, structured};
use std::future::{Future, IntoFuture, ready};

/// An API written for futures.
fn both<A, B>(a: A, b: B) -> impl Future<Output = (A::Output, B::Output)>
where
    A: Future,
    B: Future,
{
    async move { (a.await, b.await) }
}

struct Later(u32);

impl IntoFuture for Later {
    type Output = u32;
    type IntoFuture = std::future::Ready<u32>;
    fn into_future(self) -> Self::IntoFuture {
        ready(self.0)
    }
}

#[structured]
async fn double(x: u32) -> u32 {
    x * 2
}

/// Outside structured code `plain!` changes nothing.
fn outside() -> impl Future<Output = u32> {
    plain!(async { ready(5).await })
}

#[structured]
async fn main_task() -> Result<u32, CancelRequested> {
    let base = double(1).await;
    // Nested blocks and closures inside a plain future are plain too.
    let sum = compat::future(async move {
        let inner = async { ready(base).await };
        let make = |x: u32| async move { ready(x).await };
        inner.await + make(1).await + Later(1).await
    })
    .await?;
    let pair = compat::future(both(plain!(async { ready(sum).await }), outside())).await?;
    let make = |x: u32| plain!(async move { ready(x).await });
    let futures = vec![make(pair.0), make(pair.1)];
    let mut total = 0;
    for future in futures {
        total += scoro::compat::future(future).await?;
    }
    // Anything else is still structured: this block is a call.
    let call = async { double(total).await };
    Ok(call.await)
}

fn main() {
    // base 2, sum 2 + 1 + 1 = 4, pair (4, 5), total 9, doubled 18.
    assert_eq!(scoro::run(main_task()), Ok(18));
}
