//! A nursery of 100,000 children of which random ones fail, panic or are cancelled: every
//! error is reported exactly once, a panic wins over errors and reaches the caller, and no
//! child is left running (or undropped) when the nursery returns.

use scoro::{CancelRequested, ErrorGroup, MaybeCancelled, nursery, structured};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

const CHILDREN: u32 = 100_000;

#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Failed(u32),
    Cancelled(CancelRequested),
}

impl From<CancelRequested> for Failure {
    fn from(c: CancelRequested) -> Self {
        Failure::Cancelled(c)
    }
}

impl MaybeCancelled for Failure {
    fn is_cancel_requested(&self) -> bool {
        matches!(self, Failure::Cancelled(_))
    }
}

/// A small deterministic generator (xorshift).
fn fate(i: u32) -> u32 {
    let mut x = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x % 100) as u32
}

/// Counts live children: incremented when one starts, decremented when it is dropped.
struct Alive<'a>(&'a Cell<u32>);

impl<'a> Alive<'a> {
    fn new(count: &'a Cell<u32>) -> Self {
        count.set(count.get() + 1);
        Alive(count)
    }
}

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// Fails at once (about 5%), panics at once (only where `panics` allows, about 1%), or
/// waits at a few checkpoints (where the first failure's cancellation reaches it).
#[structured]
async fn child(i: u32, alive: &Cell<u32>, panics: bool) -> Result<(), Failure> {
    let _alive = Alive::new(alive);
    match fate(i) {
        0..5 => return Err(Failure::Failed(i)),
        5 if panics => panic!("child {i} panicked"),
        _ => {}
    }
    for _ in 0..3 {
        scoro::checkpoint().await?;
    }
    Ok(())
}

#[structured]
async fn many(alive: &Cell<u32>, panics: bool) -> Result<(), ErrorGroup<Failure>> {
    nursery(async |n| -> Result<(), Failure> {
        for i in 0..CHILDREN {
            n.start_soon(child(i, alive, panics));
        }
        Ok(())
    })
    .await
}

#[test]
fn every_error_of_100_000_children_is_reported_once() {
    let alive = Cell::new(0);
    let group = scoro::run(many(&alive, false)).unwrap_err();
    assert_eq!(alive.get(), 0, "no child left alive");
    let expected: Vec<Failure> = (0..CHILDREN)
        .filter(|&i| fate(i) < 5)
        .map(Failure::Failed)
        .collect();
    assert!(expected.len() > 4_000, "{} failures", expected.len());
    // Each child fails before its first checkpoint, so every one of them fails (none is
    // cancelled first); the siblings' cancellations are not errors.
    assert_eq!(group.into_vec(), expected);
}

#[test]
fn a_panic_among_100_000_children_reaches_the_caller_and_leaves_nothing_running() {
    let alive = Cell::new(0);
    let p = catch_unwind(AssertUnwindSafe(|| scoro::run(many(&alive, true)))).unwrap_err();
    let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
    let first = (0..CHILDREN).find(|&i| fate(i) == 5).unwrap();
    assert_eq!(
        msg,
        format!("child {first} panicked"),
        "the first panic wins"
    );
    assert_eq!(alive.get(), 0, "no child left alive");
}
