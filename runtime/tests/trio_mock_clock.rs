//! Ports of Trio's `_core/_tests/test_mock_clock.py` and the `wait_all_tasks_blocked` tests of
//! `_tests/test_testing.py`.
//!
//! Mapping: Trio's `MockClock(autojump_threshold=0)` is `MockClock::autojump(Duration::ZERO)`
//! (or `#[scoro::test(autojump)]`); `mock_clock.jump(s)` is `MockClock::jump(Duration)` (negative
//! jumps cannot be expressed); `wait_all_tasks_blocked()` has no cushion argument.

use scoro::testing::{MockClock, wait_all_tasks_blocked};
use scoro::{
    Builder, CancelRequested, CoroutineCall, checkpoint, current_time, nursery, sleep, structured,
};
use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

type Log = RefCell<Vec<&'static str>>;

fn push(log: &Log, entry: &'static str) {
    log.borrow_mut().push(entry);
}

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

#[structured]
async fn elapsed_after_jumps(clock: &MockClock) -> Vec<Duration> {
    let start = current_time();
    let mut seen = vec![current_time() - start];
    clock.jump(Duration::from_millis(1200));
    seen.push(current_time() - start);
    // A clone moves the same clock.
    clock.clone().jump(Duration::from_millis(800));
    seen.push(current_time() - start);
    checkpoint().await.unwrap();
    seen.push(current_time() - start);
    seen
}

// Trio test_mock_clock: time stands still until jumped; jumps add up; clones share the clock.
#[test]
fn test_mock_clock() {
    let clock = MockClock::new();
    let t0 = clock.now();
    assert_eq!(clock.now(), t0);
    let seen = run_with_clock(&clock, elapsed_after_jumps(&clock));
    assert_eq!(
        seen,
        [
            Duration::ZERO,
            Duration::from_millis(1200),
            secs(2),
            secs(2)
        ]
    );
    assert_eq!(clock.now() - t0, secs(2));
}

// Trio test_mock_clock_autojump: with autojump every sleep takes exactly its own length of mock
// time; `wait_all_tasks_blocked` wakes before the clock jumps; a huge sleep finishes.
#[scoro::test(autojump)]
async fn test_mock_clock_autojump() {
    let mut virtual_start = current_time();
    for i in 0..10 {
        sleep(secs(10 * i)).await.unwrap();
        assert_eq!(current_time(), virtual_start + secs(10 * i));
        virtual_start = current_time();
    }
    let t = current_time();
    wait_all_tasks_blocked().await.unwrap();
    assert_eq!(current_time(), t);
    sleep(secs(100_000)).await.unwrap();
    assert_eq!(current_time() - t, secs(100_000));
}

#[structured]
async fn preset() -> Duration {
    let start = current_time();
    sleep(secs(10_000)).await.unwrap();
    current_time() - start
}

// Trio test_mock_clock_autojump_preset: a clock made with autojump before the run uses it.
#[test]
fn test_mock_clock_autojump_preset() {
    let clock = MockClock::autojump(Duration::ZERO);
    assert_eq!(run_with_clock(&clock, preset()), secs(10_000));
}

// Trio test_mock_clock_autojump_0_and_wait_all_tasks_blocked_0: a task in
// `wait_all_tasks_blocked` wakes before autojump moves the clock to the sleeper's deadline.
#[scoro::test(autojump)]
async fn test_mock_clock_autojump_0_and_wait_all_tasks_blocked_0() {
    let log = Log::default();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            sleep(secs(100)).await?;
            push(&log, "yawn");
            Ok::<(), CancelRequested>(())
        });
        n.start_soon(async {
            wait_all_tasks_blocked().await?;
            push(&log, "waiter woke");
            sleep(secs(1000)).await?;
            push(&log, "waiter done");
            Ok::<(), CancelRequested>(())
        });
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(log.into_inner(), ["waiter woke", "yawn", "waiter done"]);
}

// Deadlines fire in the order they are due, whatever the order the sleepers started in.
#[scoro::test(autojump)]
async fn test_mock_clock_autojump_fires_deadlines_in_order() {
    let log = RefCell::new(Vec::new());
    let start = current_time();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        for s in [5, 1, 4, 2, 3] {
            let log = &log;
            n.start_soon(async move {
                sleep(secs(s)).await?;
                log.borrow_mut().push((s, current_time() - start));
                Ok::<(), CancelRequested>(())
            });
        }
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    let expected: Vec<_> = (1..=5).map(|s| (s, secs(s))).collect();
    assert_eq!(log.into_inner(), expected);
}

// Trio test_wait_all_tasks_blocked: it waits while any task is runnable (a busy task that
// checkpoints does not count as blocked); several waiters wake together; it is cancellable.
#[scoro::test]
async fn test_wait_all_tasks_blocked() {
    let log = Log::default();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            for _ in 0..10 {
                checkpoint().await?;
            }
            push(&log, "busy bee exhausted");
            Ok::<(), CancelRequested>(())
        });
        for _ in 0..2 {
            n.start_soon(async {
                wait_all_tasks_blocked().await?;
                push(&log, "quiet at last!");
                Ok::<(), CancelRequested>(())
            });
        }
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(
        log.take(),
        ["busy bee exhausted", "quiet at last!", "quiet at last!"]
    );

    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            if wait_all_tasks_blocked().await.is_err() {
                push(&log, "ok");
            }
        });
        n.cancel();
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(log.take(), ["ok"]);
}

#[structured]
async fn wait_all_tasks_blocked_with_timeouts(clock: &MockClock) -> Vec<&'static str> {
    let log = Log::default();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            push(&log, "tt start");
            sleep(secs(5)).await?;
            push(&log, "tt finished");
            Ok::<(), CancelRequested>(())
        });
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), ["tt start"]);
        clock.jump(secs(10));
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), ["tt start", "tt finished"]);
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    log.into_inner()
}

// Trio test_wait_all_tasks_blocked_with_timeouts: after a manual jump past a sleeper's
// deadline, the sleeper is not blocked any more, so `wait_all_tasks_blocked` lets it finish
// first.
#[test]
fn test_wait_all_tasks_blocked_with_timeouts() {
    let clock = MockClock::new();
    let log = run_with_clock(&clock, wait_all_tasks_blocked_with_timeouts(&clock));
    assert_eq!(log, ["tt start", "tt finished"]);
}

#[structured]
async fn manual_sleeper(clock: &MockClock) -> Vec<&'static str> {
    let log = Log::default();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            sleep(secs(10)).await?;
            push(&log, "woke after 10s");
            Ok::<(), CancelRequested>(())
        });
        for _ in 0..2 {
            wait_all_tasks_blocked().await?;
            push(&log, "jumping 5s");
            clock.jump(secs(5));
        }
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    log.into_inner()
}

// A manual mock clock never moves by itself: the sleeper wakes only once the test has jumped
// past its deadline.
#[test]
fn test_manual_mock_clock_moves_only_when_jumped() {
    let clock = MockClock::new();
    let log = run_with_clock(&clock, manual_sleeper(&clock));
    assert_eq!(log, ["jumping 5s", "jumping 5s", "woke after 10s"]);
}

#[structured]
async fn nap(d: Duration) -> (std::time::Instant, std::time::Instant) {
    let start = current_time();
    sleep(d).await.unwrap();
    (start, current_time())
}

// Mock time never goes backwards, also across two runs of one runtime sharing the clock.
#[test]
fn test_mock_time_continues_across_runs() {
    let clock = MockClock::autojump(Duration::ZERO);
    let mut rt = Builder::new().clock(clock.clone()).build().unwrap();
    let (s1, e1) = rt.run(nap(secs(10)));
    let (s2, e2) = rt.run(nap(secs(5)));
    assert_eq!(e1 - s1, secs(10));
    assert_eq!(e2 - s2, secs(5));
    assert!(s2 >= e1);
    assert_eq!(clock.now(), e2);
}
