//! Structured functions written in edition 2021, in a crate that forbids `unsafe`.
#![forbid(unsafe_code)]

use scoro::structured;
use std::fmt::{Display, Write};

#[structured]
async fn double(x: u32) -> u32 {
    x * 2
}

// Elided lifetimes: edition-2021 `impl Trait` would not capture them; ours does.
#[structured]
async fn sum(items: &[u32]) -> u32 {
    let mut total = 0;
    for item in items {
        total += double(*item).await;
    }
    total
}

#[structured]
async fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or_default()
}

#[structured]
async fn describe<T: Display>(value: &T, suffix: impl Display) -> String {
    format!("{value}{suffix}")
}

struct Counter {
    count: u32,
}

#[structured]
impl Counter {
    async fn bump(&mut self, by: u32) -> u32 {
        self.count += double(by).await;
        self.count
    }

    async fn peek(&self) -> &u32 {
        &self.count
    }
}

#[structured]
trait Source {
    async fn next(&mut self) -> Option<u32>;

    async fn collect(&mut self) -> Vec<u32> {
        let mut items = Vec::new();
        while let Some(item) = self.next().await {
            items.push(item);
        }
        items
    }
}

struct Countdown(u32);

impl Source for Countdown {
    #[structured]
    async fn next(&mut self) -> Option<u32> {
        let current = self.0;
        self.0 = current.checked_sub(1)?;
        Some(current)
    }
}

#[structured(boxed)]
async fn depth(text: &str) -> usize {
    match text.strip_prefix('(') {
        Some(rest) => 1 + depth(rest).await,
        None => 0,
    }
}

#[structured]
async fn in_closures_blocks_and_macros() -> String {
    let make = |n: u32| async move { double(n).await };
    let block = async { make(1).await + double(1).await };
    let mut out = format!("{}", block.await);
    write!(out, " {:?}", vec![double(2).await; 2]).unwrap();
    assert_eq!(double(3).await, 6);
    out
}

#[scoro::test]
async fn shapes_work_in_edition_2021() {
    assert_eq!(sum(&[1, 2, 3]).await, 12);
    assert_eq!(first_word("hello world").await, "hello");
    assert_eq!(describe(&1.5, "!").await, "1.5!");
    let mut counter = Counter { count: 0 };
    assert_eq!(counter.bump(2).await, 4);
    assert_eq!(*counter.peek().await, 4);
    assert_eq!(Countdown(3).collect().await, vec![3, 2, 1]);
    assert_eq!(depth("(((x").await, 3);
    assert_eq!(in_closures_blocks_and_macros().await, "4 [4, 4]");
}

#[scoro::test(autojump)]
async fn autojump_test_runs() -> Result<(), String> {
    if double(1).await == 2 {
        Ok(())
    } else {
        Err("wrong".to_owned())
    }
}

#[scoro::test]
#[should_panic(expected = "from the body")]
async fn panics_reach_the_harness() {
    double(1).await;
    panic!("from the body");
}

#[test]
fn run_from_sync_code() {
    assert_eq!(scoro::run(sum(&[5])), 10);
    let call = first_word("a b");
    assert_eq!(
        format!("{call:?}"),
        "CoroutineCall(edition2021::first_word)"
    );
    assert_eq!(scoro::run(call), "a");
}
