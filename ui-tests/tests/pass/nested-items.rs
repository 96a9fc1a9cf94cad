//! The rewriting does not enter items nested in a body: they are compiled on their own.
#![deny(warnings)]

use scoro::structured;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

#[structured]
async fn outer() -> u32 {
    // A plain `async fn` inside: its `.await` of a plain future is left alone.
    async fn plain() -> u32 {
        std::future::ready(1).await
    }

    // A nested structured function.
    #[structured]
    async fn nested() -> u32 {
        2
    }

    macro_rules! add {
        ($a:expr, $b:expr) => {
            $a + $b
        };
    }

    fn poll_ready<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(value) => value,
            Poll::Pending => unreachable!(),
        }
    }

    add!(poll_ready(plain()), nested().await)
}

fn main() {
    assert_eq!(scoro::run(outer()), 3);
}
