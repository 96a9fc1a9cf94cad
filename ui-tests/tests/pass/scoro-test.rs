//! `#[scoro::test]` expands to `#[test]` functions (run in the `scoro-edition2021-tests`
//! crate); here they only have to compile next to a `main`.
#![deny(warnings)]

use scoro::structured;

#[structured]
async fn double(x: u32) -> u32 {
    x * 2
}

#[scoro::test]
async fn doubles() {
    assert_eq!(double(2).await, 4);
}

#[scoro::test(autojump)]
#[should_panic(expected = "boom")]
async fn panics() {
    double(1).await;
    panic!("boom");
}

#[scoro::test]
async fn returns_result() -> Result<(), String> {
    if double(1).await == 2 {
        Ok(())
    } else {
        Err("wrong".to_owned())
    }
}

fn main() {
    assert_eq!(scoro::run(double(21)), 42);
}
