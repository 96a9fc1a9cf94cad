//! Temporary minimal runtime: polls one future to completion on the current thread.
pub(crate) mod context;
use crate::CoroutineCall;
use std::future::Future;
use std::task::{Context, Poll};

/// Runs `main` to completion on a new runtime and returns its value.
pub fn run<F: Future>(main: CoroutineCall<F>) -> F::Output {
    let (fut, _name) = main.into_parts();
    let mut fut = std::pin::pin!(fut);
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
pub(crate) fn run_main<F: Future>(main: CoroutineCall<F>) -> F::Output {
    run(main)
}
pub(crate) fn run_test<F: Future>(main: CoroutineCall<F>, _autojump: bool) -> F::Output {
    run(main)
}
