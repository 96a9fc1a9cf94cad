#![deny(warnings)]

use scoro::structured;
use std::fmt::Display;
use std::ops::Add;

#[structured]
async fn sum<T: Add<Output = T> + Copy>(items: Vec<T>, zero: T) -> T {
    items.into_iter().fold(zero, |a, b| a + b)
}

#[structured]
async fn describe<K, V>(key: K, value: V) -> String
where
    K: Display,
    V: std::fmt::Debug,
{
    format!("{key}={value:?}")
}

#[structured]
async fn first<const N: usize>(items: [u8; N]) -> Option<u8> {
    items.first().copied()
}

#[structured]
async fn shout(text: impl Display, times: impl Into<usize>) -> String {
    text.to_string().to_uppercase().repeat(times.into())
}

#[structured]
async fn all<T: Display + Clone>(items: &[T]) -> String {
    let mut out = String::new();
    for item in items {
        out += &describe(item.clone(), out.len()).await;
    }
    out
}

fn main() {
    assert_eq!(scoro::run(sum(vec![1, 2, 3], 0)), 6);
    assert_eq!(scoro::run(sum(vec![1.5, 2.5], 0.0)), 4.0);
    assert_eq!(scoro::run(describe("a", 1)), "a=1");
    assert_eq!(scoro::run(first([7, 8])), Some(7));
    assert_eq!(scoro::run(shout("hi", 2u8)), "HIHI");
    assert_eq!(scoro::run(all(&["x", "y"])), "x=0y=3");
}
