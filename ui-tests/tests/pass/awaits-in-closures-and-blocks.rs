#![deny(warnings)]

use scoro::structured;

#[structured]
async fn double(x: u32) -> u32 {
    x * 2
}

#[structured]
async fn closures_and_blocks() -> u32 {
    // A closure returning an `async` block returns calls.
    let make = |n: u32| async move { double(n).await + 1 };
    let a = make(1).await;

    // Nested async blocks, each a call of its own.
    let outer = async {
        let inner = async { double(10).await };
        inner.await + double(1).await
    };
    let b = outer.await;

    // Awaits inside a plain closure's async block, inside an iterator chain.
    let calls: Vec<_> = (1..=3).map(|n| async move { double(n).await }).collect();
    let mut c = 0;
    for call in calls {
        c += call.await;
    }

    // An `async` block borrowing a local.
    let base = 100;
    let d = async { base + double(1).await }.await;
    a + b + c + d
}

fn main() {
    assert_eq!(scoro::run(closures_and_blocks()), 3 + 22 + 12 + 102);
}
