#![deny(warnings)]

use scoro::structured;
use std::rc::Rc;

#[derive(Debug, Clone, PartialEq)]
struct Counter {
    count: u32,
}

impl Counter {
    #[structured]
    async fn new(count: u32) -> Self {
        Self { count }
    }

    #[structured]
    async fn get(&self) -> u32 {
        self.count
    }

    #[structured]
    async fn bump(&mut self) -> u32 {
        self.count += 1;
        self.get().await
    }

    #[structured]
    async fn into_count(self) -> u32 {
        self.count
    }

    #[structured]
    async fn add(mut self, more: u32) -> Self {
        self.count += more;
        self
    }

    #[structured]
    async fn boxed(self: Box<Self>) -> u32 {
        self.count
    }

    #[structured]
    async fn shared(self: Rc<Self>) -> usize {
        Rc::strong_count(&self)
    }

    #[structured]
    async fn ignores_self(&self) {}
}

fn main() {
    let mut counter = scoro::run(Counter::new(1));
    assert_eq!(scoro::run(counter.get()), 1);
    assert_eq!(scoro::run(counter.bump()), 2);
    scoro::run(counter.ignores_self());
    let counter = scoro::run(counter.add(10));
    assert_eq!(counter.count, 12);
    assert_eq!(scoro::run(Box::new(counter.clone()).boxed()), 12);
    assert_eq!(scoro::run(Rc::new(counter.clone()).shared()), 1);
    assert_eq!(scoro::run(counter.into_count()), 12);
}
