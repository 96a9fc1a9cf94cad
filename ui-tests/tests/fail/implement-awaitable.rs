// The hidden await trait is sealed: code outside scoro cannot make `.await` in a structured
// body accept something new (here, a wrapper that would poll a call once and leak it).
#![forbid(unsafe_code)]
use scoro::CoroutineCall;
use scoro::__private::Awaitable;
use std::future::Future;

struct Leak<C>(C);

impl<F: Future> Awaitable for Leak<CoroutineCall<F>> {
    type Output = F::Output;
    type Future = F;
    fn __scoro_await(self) -> F {
        self.0.__scoro_await()
    }
}

fn main() {}
