//! The generated `unsafe` blocks do not trip `forbid(unsafe_code)` in the user's crate.
#![deny(warnings)]
#![forbid(unsafe_code)]

use scoro::structured;

#[structured]
async fn double(x: u32) -> u32 {
    x * 2
}

struct Doubler;

#[structured]
impl Doubler {
    async fn apply(&self, x: u32) -> u32 {
        let block = async move { double(x).await };
        block.await
    }
}

#[scoro::main]
async fn main() {
    let make = |n: u32| async move { Doubler.apply(n).await };
    assert_eq!(make(5).await, 10);
    assert_eq!(format!("{}", double(1).await), "2");
}
