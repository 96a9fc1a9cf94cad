#![deny(warnings)]

use scoro::structured;
use std::cell::RefCell;

struct Point {
    x: i32,
    y: i32,
}

#[structured]
async fn patterns(
    (a, b): (i32, i32),
    Point { x, y }: Point,
    [first, ..]: [u8; 3],
    mut count: u32,
) -> i32 {
    count += 1;
    a + b + x + y + i32::from(first) + count as i32
}

#[structured]
async fn by_reference(ref text: String, &number: &u32) -> usize {
    text.len() + number as usize
}

thread_local! {
    static LOG: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

struct Noisy(&'static str);

impl Drop for Noisy {
    fn drop(&mut self) {
        LOG.with(|log| log.borrow_mut().push(self.0));
    }
}

// As in an `async fn`, every argument (even `_` and unused ones) lives until the body ends,
// and the body's locals are dropped before the arguments.
#[structured]
async fn keeps_arguments(_: Noisy, _unused: Noisy, (_, _kept): (Noisy, Noisy)) {
    let _local = Noisy("local");
    LOG.with(|log| log.borrow_mut().push("body"));
}

fn main() {
    let point = Point { x: 10, y: 20 };
    assert_eq!(scoro::run(patterns((1, 2), point, [3, 4, 5], 4)), 41);
    assert_eq!(scoro::run(by_reference("abc".to_owned(), &2)), 5);

    let call = keeps_arguments(
        Noisy("wild"),
        Noisy("unused"),
        (Noisy("tuple wild"), Noisy("kept")),
    );
    LOG.with(|log| {
        assert!(
            log.borrow().is_empty(),
            "arguments dropped before the call ran"
        )
    });
    scoro::run(call);
    LOG.with(|log| {
        let log = log.borrow();
        assert_eq!(log[..2], ["body", "local"]);
        assert_eq!(log.len(), 6);
    });
}
