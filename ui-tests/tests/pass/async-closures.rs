//! Async closures in a structured body stay async closures (nursery bodies need them), with
//! `return`, `?` and explicit return types working as usual. Their futures only run under a
//! nursery, so this case only builds them.
#![deny(warnings)]

use scoro::structured;

#[structured]
async fn double(x: u32) -> u32 {
    x * 2
}

fn accept_once<F: AsyncFnOnce(u32) -> Result<u32, String>>(closure: F) -> F {
    closure
}

fn accept_mut<F: AsyncFnMut()>(closure: F) -> F {
    closure
}

fn accept_ref<F: AsyncFn(&str) -> usize>(closure: F) -> F {
    closure
}

#[structured]
async fn build() -> usize {
    let owned = String::from("moved");
    let _once = accept_once(async move |n| -> Result<u32, String> {
        if n == 0 {
            return Err(owned);
        }
        let parsed: u32 = "3".parse().map_err(|_| "bad".to_owned())?;
        Ok(double(n).await + parsed)
    });

    let mut count = 0;
    let _counting = accept_mut(async || {
        count += double(1).await;
    });

    let prefix = String::from("> ");
    let _borrowing = accept_ref(async |text: &str| prefix.len() + text.len());

    let _boxed = async |n: u32| -> Box<dyn std::fmt::Display> { Box::new(double(n).await) };
    let _inferred = async |n: u32| double(n).await;
    prefix.len()
}

fn main() {
    assert_eq!(scoro::run(build()), 2);
}
