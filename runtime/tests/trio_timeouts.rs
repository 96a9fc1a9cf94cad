//! Ports of Trio's `_tests/test_timeouts.py` and of the reason tests of
//! `_core/_tests/test_cancelled.py`, on the mock clock.
//!
//! Mapping: `with move_on_after(..)` is `move_on_after(d, call)` returning `None` when the
//! timeout hit; `fail_after` raising `TooSlowError` is `Err(TooSlow)`; a scope with
//! `shield=True` is `CancelScope::with_shield(true)`; Trio's `Cancelled.source` is
//! `CancelRequested::reason()`.

use scoro::testing::{MockClock, wait_all_tasks_blocked};
use scoro::{
    Builder, CancelReason, CancelRequested, CancelScope, CoroutineCall, ErrorGroup, TooSlow,
    checkpoint, current_time, fail_after, fail_at, move_on_after, move_on_at, nursery, sleep,
    sleep_forever, sleep_until, structured,
};
use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn run_with_clock<F: Future>(clock: &MockClock, call: CoroutineCall<F>) -> F::Output {
    Builder::new()
        .clock(clock.clone())
        .build()
        .unwrap()
        .run(call)
}

/// Awaits `call` and returns its value with the mock time it took.
#[structured]
async fn timed<F: Future>(call: CoroutineCall<F>) -> (F::Output, Duration) {
    let start = current_time();
    let v = call.await;
    (v, current_time() - start)
}

// Trio test_sleep: `sleep_until` and `sleep` take exactly as long as asked (on the mock clock);
// `sleep(0)` inside an expired `move_on_at` is a cancel point.
#[scoro::test(autojump)]
async fn test_sleep() {
    let (r, took) = timed(sleep_until(current_time() + secs(1))).await;
    assert_eq!((r, took), (Ok(()), secs(1)));
    let (r, took) = timed(sleep(secs(1))).await;
    assert_eq!((r, took), (Ok(()), secs(1)));
    let (r, took) = timed(sleep(Duration::ZERO)).await;
    assert_eq!((r, took), (Ok(()), Duration::ZERO));
    // A deadline already in the past: the scope is cancelled on entry.
    let r = move_on_at(current_time(), async {
        let c = sleep(Duration::ZERO).await.unwrap_err();
        assert_eq!(c.reason(), CancelReason::Deadline);
        Err::<(), _>(c)
    })
    .await;
    assert_eq!(r, None);
    // `sleep_until` a past time is a checkpoint that returns at once.
    let (r, took) = timed(sleep_until(current_time() - secs(1))).await;
    assert_eq!((r, took), (Ok(()), Duration::ZERO));
}

// Trio test_move_on_after: the body is cut off after exactly the timeout.
#[scoro::test(autojump)]
async fn test_move_on_after() {
    let (r, took) = timed(move_on_after(secs(1), sleep(secs(100)))).await;
    assert_eq!((r, took), (None, secs(1)));
    // A body that finishes in time keeps its value.
    let (r, took) = timed(move_on_after(secs(5), sleep(secs(2)))).await;
    assert_eq!((r, took), (Some(Ok(())), secs(2)));
}

// Trio test_move_on_at (part of test_sleep's "trivial move_on_at"): an absolute deadline.
#[scoro::test(autojump)]
async fn test_move_on_at() {
    let start = current_time();
    let r = move_on_at(start + secs(2), sleep_forever()).await;
    assert_eq!(r, None);
    assert_eq!(current_time() - start, secs(2));
}

// Trio test_context_shields_from_outer: a shielded timeout scope ignores the cancellation of
// the scope around it until the shield is lifted.
#[scoro::test(autojump)]
async fn test_context_shields_from_outer() {
    let outer = CancelScope::new();
    let oh = outer.handle();
    let inner = CancelScope::new().with_timeout(secs(1)).with_shield(true);
    let ih = inner.handle();
    let r = outer
        .run(inner.run(async {
            oh.cancel();
            checkpoint().await.expect("the shield works");
            ih.set_shield(false);
            let c = checkpoint().await.unwrap_err();
            assert_eq!(c.reason(), CancelReason::Explicit);
            Err::<(), _>(c)
        }))
        .await;
    assert_eq!(r, None, "the outer scope catches its own cancellation");
    assert!(oh.cancelled_caught());
    assert!(!ih.cancelled_caught());
}

// Trio test_move_on_after_moves_on_even_if_shielded: a shielded timeout scope inside a
// cancelled one sleeps until its own deadline, then moves on.
#[scoro::test(autojump)]
async fn test_move_on_after_moves_on_even_if_shielded() {
    let outer = CancelScope::new();
    let oh = outer.handle();
    let start = current_time();
    let r = outer
        .run(async {
            oh.cancel();
            CancelScope::new()
                .with_timeout(secs(1))
                .with_shield(true)
                .run(sleep_forever())
                .await
        })
        .await;
    assert_eq!(r, Some(None));
    assert_eq!(current_time() - start, secs(1));
}

// Trio test_fail_after_fails_even_if_shielded: shielded from a cancelled outer scope,
// `fail_after` still fails with `TooSlow` after its timeout.
#[scoro::test(autojump)]
async fn test_fail_after_fails_even_if_shielded() {
    let outer = CancelScope::new();
    let oh = outer.handle();
    let start = current_time();
    let r = outer
        .run(async {
            oh.cancel();
            CancelScope::new()
                .with_shield(true)
                .run(fail_after(secs(1), sleep_forever()))
                .await
        })
        .await;
    assert_eq!(r, Some(Some(Err(TooSlow))));
    assert_eq!(current_time() - start, secs(1));
}

// Trio test_fail: `fail_at` / `fail_after` raise `TooSlowError` when the deadline hits, and
// return the body's value when it finishes first.
#[scoro::test(autojump)]
async fn test_fail() {
    let (r, took) = timed(fail_at(current_time() + secs(1), sleep(secs(100)))).await;
    assert_eq!((r, took), (Err(TooSlow), secs(1)));
    let r = fail_at(current_time() + secs(100), sleep(Duration::ZERO)).await;
    assert_eq!(r, Ok(Ok(())));
    let (r, took) = timed(fail_after(secs(1), sleep(secs(100)))).await;
    assert_eq!((r, took), (Err(TooSlow), secs(1)));
    let r = fail_after(secs(100), sleep(Duration::ZERO)).await;
    assert_eq!(r, Ok(Ok(())));
    assert_eq!(
        std::io::Error::from(TooSlow).kind(),
        std::io::ErrorKind::TimedOut
    );
}

#[structured]
async fn stubborn() -> Result<&'static str, CancelRequested> {
    match sleep(secs(100)).await {
        Ok(()) => Ok("slept"),
        Err(_) => Ok("handled the cancellation"),
    }
}

// A body that handles the timeout and returns a real value loses nothing: `fail_after` gives
// it back instead of `TooSlow` (Trio: `cancelled_caught` stays false when the body swallowed
// the `Cancelled`).
#[scoro::test(autojump)]
async fn test_fail_after_keeps_a_value_returned_after_the_timeout() {
    let r = fail_after(secs(1), stubborn()).await;
    assert_eq!(r, Ok(Ok("handled the cancellation")));
    let r = move_on_after(secs(1), stubborn()).await;
    assert_eq!(r, Some(Ok("handled the cancellation")));
}

#[structured]
async fn fail_after_then_propagate(d: Duration) -> std::io::Result<()> {
    let slept: Result<std::convert::Infallible, CancelRequested> =
        fail_after(d, sleep_forever()).await?;
    slept?;
    Ok(())
}

// Nested timeouts that expire together: the outermost one catches (Trio
// test_cancel_scope_nesting, with deadlines). `fail_after` inside another scope is used the
// idiomatic way, propagating both errors with `?`.
#[scoro::test(autojump)]
async fn test_nested_timeouts_outermost_catches() {
    let r = move_on_after(secs(5), move_on_after(secs(5), sleep_forever())).await;
    assert_eq!(r, None);
    let r = move_on_after(secs(5), fail_after_then_propagate(secs(5))).await;
    assert!(r.is_none(), "{r:?}");
    let r = move_on_after(secs(5), fail_after_then_propagate(secs(3))).await;
    let e = r.unwrap().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    let r = move_on_after(secs(5), fail_after(secs(3), sleep_forever())).await;
    assert_eq!(r, Some(Err(TooSlow)));
}

// Trio: when a `fail_after` scope and an enclosing scope expire together, the `Cancelled`
// passes through `fail_after` and the outer scope catches it. In scoro `fail_after` returns
// `Result<T, TooSlow>`, so the cancellation that passes through it arrives as
// `Ok(Err(CancelRequested))`, which is not itself a cancellation (`MaybeCancelled` for
// `Result` looks only at `Err`). The documented idiom is to propagate it with `??` inside the
// outer scope's body, which the outer scope then catches (see `test_nested_timeouts_outermost_catches`
// above); awaiting `fail_after` directly as the outer body hands the value back instead.
#[scoro::test(autojump)]
async fn test_fail_after_nested_directly_in_an_expiring_scope() {
    let r = move_on_after(secs(5), fail_after(secs(5), sleep_forever())).await;
    let inner = r.expect("the outer scope sees a value, not a cancellation");
    let passed_through =
        inner.expect("fail_after did not catch: its enclosing scope is cancelled too");
    let cancel = passed_through.unwrap_err();
    assert_eq!(cancel.reason(), scoro::CancelReason::Deadline);
}

#[structured]
async fn timeout_deadline_on_entry(clock: &MockClock) {
    let scope = CancelScope::new().with_timeout(secs(5));
    let h = scope.handle();
    assert_eq!(
        h.deadline(),
        None,
        "a relative deadline is known only once entered"
    );
    clock.jump(secs(3));
    let start = current_time();
    let r = scope
        .run(async {
            assert_eq!(h.deadline(), Some(start + secs(5)));
            h.set_deadline(Some(start + secs(3)));
            assert_eq!(h.deadline(), Some(start + secs(3)));
            assert_eq!(scoro::current_effective_deadline(), Some(start + secs(3)));
        })
        .await;
    assert_eq!(r, Some(()));

    let scope = CancelScope::new().with_timeout(secs(5)).with_shield(true);
    clock.jump(secs(3));
    let start = current_time();
    let r = scope
        .run(async { Ok::<_, std::convert::Infallible>(scoro::current_effective_deadline()) })
        .await;
    assert_eq!(r, Some(Ok(Some(start + secs(5)))));
}

// Trio test_timeout_deadline_on_entry: a timeout counts from when the scope is entered, not
// from when it was made.
#[test]
fn test_timeout_deadline_on_entry() {
    let clock = MockClock::new();
    run_with_clock(&clock, timeout_deadline_on_entry(&clock));
}

#[structured]
async fn reason_seen(seen: &Cell<Option<CancelReason>>) -> Result<(), CancelRequested> {
    let Err(c) = sleep_forever().await;
    seen.set(Some(c.reason()));
    Err(c)
}

// Trio test_cancel_reason / test_cancel_reason_nursery*: the cancellation says why: an
// explicit cancel, a deadline, a failed sibling; with several, the outermost scope's reason.
#[scoro::test(autojump)]
async fn test_cancel_reason() {
    let seen = Cell::new(None);

    let scope = CancelScope::new();
    let h = scope.handle();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let _ = scope.run(reason_seen(&seen)).await;
        });
        wait_all_tasks_blocked().await?;
        h.cancel();
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(seen.take(), Some(CancelReason::Explicit));

    assert_eq!(move_on_after(secs(1), reason_seen(&seen)).await, None);
    assert_eq!(seen.take(), Some(CancelReason::Deadline));

    let r = nursery(async |n| -> Result<(), std::io::Error> {
        n.start_soon(reason_seen(&seen));
        n.start_soon(async {
            sleep(secs(1)).await?;
            Err::<(), _>(std::io::Error::other("sibling failed"))
        });
        Ok(())
    })
    .await;
    assert_eq!(r.unwrap_err().len(), 1);
    assert_eq!(seen.take(), Some(CancelReason::SiblingFailed));

    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(reason_seen(&seen));
        wait_all_tasks_blocked().await?;
        n.cancel();
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(seen.take(), Some(CancelReason::Explicit));

    // Inner deadline and outer explicit cancel at once: the outer reason is the one seen.
    let outer = CancelScope::new();
    let oh = outer.handle();
    let r = outer
        .run(move_on_at(current_time(), async {
            oh.cancel();
            reason_seen(&seen).await
        }))
        .await;
    assert_eq!(r, None);
    assert!(oh.cancelled_caught());
    assert_eq!(seen.take(), Some(CancelReason::Explicit));

    // A nursery cancelled from an enclosing scope by its deadline: the group holds that
    // cancellation (with its reason) so the scope can catch it.
    let r = move_on_after(
        secs(1),
        nursery(async |n| -> Result<(), CancelRequested> {
            n.start_soon(reason_seen(&seen));
            sleep_forever().await?;
            Ok(())
        }),
    )
    .await;
    assert_eq!(r, None);
    assert_eq!(seen.take(), Some(CancelReason::Deadline));
}

#[structured]
async fn group_passed_up() -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(sleep_forever());
        n.start_soon(sleep_forever());
        Ok(())
    })
    .await
}

// The group a nursery cancelled from outside returns holds one cancellation, with the
// enclosing scope's reason, so that `MaybeCancelled` recognises it.
#[scoro::test(autojump)]
async fn test_nursery_cancelled_from_outside_passes_one_cancellation_up() {
    let scope = CancelScope::new().with_timeout(secs(1));
    let h = scope.handle();
    let r = scope
        .run(async {
            let r = group_passed_up().await;
            let group = r.as_ref().unwrap_err();
            assert_eq!(group.len(), 1);
            assert_eq!(group.first().reason(), CancelReason::Deadline);
            r
        })
        .await;
    assert_eq!(r, None);
    assert!(h.cancelled_caught());
}

#[structured]
async fn huge_durations(clock: &MockClock) {
    // `Duration::MAX` means "never", also when the clock has run far ahead of the real one.
    let r = move_on_after(Duration::MAX, checkpoint()).await;
    assert_eq!(r, Some(Ok(())));
    clock.jump(Duration::from_secs(40 * 365 * 86_400));
    let r = move_on_after(Duration::MAX, checkpoint()).await;
    assert_eq!(r, Some(Ok(())), "a timeout of Duration::MAX never fires");
    let r = fail_after(Duration::MAX, checkpoint()).await;
    assert_eq!(r, Ok(Ok(())));
    // A sleep of `Duration::MAX` lasts until something cancels it.
    let start = current_time();
    let r = move_on_at(start + secs(1), sleep(Duration::MAX)).await;
    assert_eq!(r, None);
}

// Timeouts and sleeps of `Duration::MAX` do not overflow and never fire by themselves.
#[test]
fn test_huge_durations() {
    let clock = MockClock::autojump(Duration::ZERO);
    run_with_clock(&clock, huge_durations(&clock));
}
