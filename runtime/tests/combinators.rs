//! `join_all` and `race`, the combinators built on nurseries (no Trio counterpart in the core;
//! they follow the nursery rules: errors kept in order, own cancellations filtered).

use scoro::{
    CancelReason, CancelRequested, MaybeCancelled, current_time, join, join_all, move_on_after,
    race, sleep, sleep_forever, structured,
};
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
enum Error {
    Cancelled(CancelRequested),
    Failed(&'static str),
}

impl From<CancelRequested> for Error {
    fn from(c: CancelRequested) -> Self {
        Error::Cancelled(c)
    }
}

impl MaybeCancelled for Error {
    fn is_cancel_requested(&self) -> bool {
        matches!(self, Error::Cancelled(_))
    }
}

type Log = RefCell<Vec<String>>;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Sleeps `s` seconds, then returns `Ok(s)` or fails; logs a cancellation with its reason.
#[structured]
async fn after(s: u64, fail: Option<&'static str>, log: &Log) -> Result<u64, Error> {
    if let Err(c) = sleep(secs(s)).await {
        log.borrow_mut()
            .push(format!("{s} cancelled: {:?}", c.reason()));
        return Err(c.into());
    }
    match fail {
        Some(msg) => Err(Error::Failed(msg)),
        None => Ok(s),
    }
}

// `join_all` returns the values in the order of the calls, not in the order they finished.
#[scoro::test(autojump)]
async fn test_join_all_keeps_call_order() {
    let log = Log::default();
    let start = current_time();
    let r = join_all([3, 1, 2].map(|s| after(s, None, &log))).await;
    assert_eq!(r, Ok(vec![3, 1, 2]));
    assert_eq!(current_time() - start, secs(3), "they ran concurrently");
    let none: Vec<u64> = Vec::new();
    let r = join_all(none.into_iter().map(|s| after(s, None, &log))).await;
    assert_eq!(r, Ok(vec![]));
}

// The first failure cancels the other calls (their cancellations are not errors); every real
// error is in the group, in the order they happened.
#[scoro::test(autojump)]
async fn test_join_all_error_group() {
    let log = Log::default();
    let r = join_all([
        after(5, None, &log),
        after(1, Some("first"), &log),
        after(7, None, &log),
    ])
    .await;
    assert_eq!(r.unwrap_err().into_vec(), [Error::Failed("first")]);
    let mut cancelled = log.take();
    cancelled.sort();
    assert_eq!(
        cancelled,
        ["5 cancelled: SiblingFailed", "7 cancelled: SiblingFailed"]
    );
}

// A timeout around `join_all` cancels every call and is caught by its scope.
#[scoro::test(autojump)]
async fn test_join_all_cancelled_from_outside() {
    let log = Log::default();
    let r = move_on_after(
        secs(2),
        join_all([after(5, None, &log), after(1, None, &log)]),
    )
    .await;
    assert_eq!(r, None);
    assert_eq!(log.take(), ["5 cancelled: Deadline"]);
}

// `race`: the first `Ok` wins and the others are cancelled (and clean up) before it returns.
#[scoro::test(autojump)]
async fn test_race_first_ok_wins() {
    let log = Log::default();
    let start = current_time();
    let r = race([
        after(3, None, &log),
        after(1, None, &log),
        after(2, None, &log),
    ])
    .await;
    assert_eq!(r, Ok(1));
    assert_eq!(current_time() - start, secs(1));
    let mut cancelled = log.take();
    cancelled.sort();
    assert_eq!(
        cancelled,
        ["2 cancelled: Explicit", "3 cancelled: Explicit"]
    );
}

// A call that fails does not end the race: a later `Ok` still wins.
#[scoro::test(autojump)]
async fn test_race_failure_does_not_cancel_the_others() {
    let log = Log::default();
    let r = race([after(1, Some("early"), &log), after(2, None, &log)]).await;
    assert_eq!(r, Ok(2));
    assert!(log.take().is_empty());
}

// When every call fails, `race` returns all the errors, in the order they happened.
#[scoro::test(autojump)]
async fn test_race_all_fail() {
    let log = Log::default();
    let r = race([
        after(3, Some("c"), &log),
        after(1, Some("a"), &log),
        after(2, Some("b"), &log),
    ])
    .await;
    assert_eq!(
        r.unwrap_err().into_vec(),
        [Error::Failed("a"), Error::Failed("b"), Error::Failed("c")]
    );
}

// A race cancelled from outside: every call is cancelled, and the enclosing scope catches the
// resulting group of cancellations.
#[scoro::test(autojump)]
async fn test_race_cancelled_from_outside() {
    let log = Log::default();
    let r = move_on_after(secs(1), race([after(5, None, &log), after(6, None, &log)])).await;
    assert_eq!(r, None);
    let mut cancelled = log.take();
    cancelled.sort();
    assert_eq!(
        cancelled,
        ["5 cancelled: Deadline", "6 cancelled: Deadline"]
    );
}

#[structured]
async fn empty_race() -> Result<u64, scoro::ErrorGroup<CancelRequested>> {
    race(Vec::new().into_iter().map(instant_or_forever)).await
}

// A race with no calls has no winner: a bug in the caller, which panics.
#[test]
fn test_race_without_calls_panics() {
    let p = catch_unwind(AssertUnwindSafe(|| scoro::run(empty_race()))).unwrap_err();
    let msg = p.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("needs at least one call"), "{msg}");
}

#[structured]
async fn instant_or_forever(instant: bool) -> Result<u64, CancelRequested> {
    if instant {
        return Ok(7);
    }
    let Err(c) = sleep_forever().await;
    assert_eq!(c.reason(), CancelReason::Explicit);
    Err(c)
}

// Losers blocked forever are cancelled when an instant winner appears.
#[scoro::test]
async fn test_race_instant_winner() {
    let r = race([false, false, true].map(instant_or_forever)).await;
    assert_eq!(r, Ok(7));
}

#[structured]
async fn label(s: u64, log: &Log) -> Result<String, Error> {
    let v = after(s, None, log).await?;
    Ok(format!("label {v}"))
}

// `join` runs calls of different functions and output types concurrently and returns a
// tuple in the order of the calls.
#[scoro::test(autojump)]
async fn test_join_tuple_of_different_types() {
    let log = Log::default();
    let start = current_time();
    let r = join((after(3, None, &log), label(1, &log), after(2, None, &log))).await;
    assert_eq!(r, Ok((3, "label 1".to_string(), 2)));
    assert_eq!(current_time() - start, secs(3), "they ran concurrently");
    let r = join((label(4, &log),)).await;
    assert_eq!(r, Ok(("label 4".to_string(),)));
}

// In `join` the first error cancels the other calls; their cancellations are not errors.
#[scoro::test(autojump)]
async fn test_join_tuple_first_error_cancels_the_rest() {
    let log = Log::default();
    let r = join((
        after(1, Some("first"), &log),
        label(5, &log),
        after(2, Some("never reached"), &log),
    ))
    .await;
    assert_eq!(r.unwrap_err().into_vec(), [Error::Failed("first")]);
    let mut log = log.into_inner();
    log.sort();
    assert_eq!(
        log,
        ["2 cancelled: SiblingFailed", "5 cancelled: SiblingFailed"]
    );
}

#[structured]
async fn slow_then(s: u64, log: &Log) -> Result<u64, Error> {
    sleep(secs(s)).await?;
    // A nursery inside a boxed call: its erasing state lies in the box, which the placement
    // check must accept.
    let inner = join_all([after(1, None, log), after(2, None, log)]).await;
    Ok(s + inner
        .map_err(scoro::ErrorGroup::into_first)?
        .iter()
        .sum::<u64>())
}

// `boxed` erases the type of a call, so calls of different functions go into one `race`;
// the boxed state machine may run a nursery and borrow.
#[scoro::test(autojump)]
async fn test_boxed_calls_race_and_run_nurseries() {
    let log = Log::default();
    let r = race([slow_then(1, &log).boxed(), after(10, None, &log).boxed()]).await;
    assert_eq!(r, Ok(4), "1 s, then a nursery of 1 s and 2 s");
    assert_eq!(*log.borrow(), ["10 cancelled: Explicit"]);
    let both = join_all([
        label(1, &log).boxed(),
        async { Ok::<_, Error>(String::from("block")) }.boxed(),
    ])
    .await;
    assert_eq!(both, Ok(vec!["label 1".to_string(), "block".to_string()]));
}
