//! A mock clock with autojump and worker threads: while a function that the runtime started on
//! a worker runs, the runtime is not idle, so the clock does not jump past deadlines and
//! `wait_all_tasks_blocked` does not return. Once the worker is done, deadlines jump as usual.
//!
//! The workers sleep a little (real time) so that a clock jumping while they run would show;
//! every test passes however long they take.

use scoro::net::lookup_host;
use scoro::testing::{MockClock, wait_all_tasks_blocked};
use scoro::to_thread::{run_sync, run_sync_abandon};
use scoro::{
    Builder, CancelRequested, CancelScope, CoroutineCall, TooSlow, checkpoint, current_time,
    fail_after, nursery, sleep, structured,
};
use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);
const TIMEOUT: Duration = Duration::from_secs(5);

/// Blocks the worker for a moment of real time, then gives back `v`.
fn work<T>(v: T) -> T {
    std::thread::sleep(Duration::from_millis(20));
    v
}

/// Runs `call` (which waits for a worker) next to a task that sleeps an hour. Checks that the
/// clock stood still until `call` returned (a clock jumping to the sleeper's deadline while the
/// worker ran would show), and that the hour then passed by autojump, exactly and at once.
#[structured]
async fn next_to_a_sleeper<T, F: Future<Output = T>>(call: CoroutineCall<F>) -> T {
    let t0 = current_time();
    let real = Instant::now();
    let woke = Cell::new(None);
    let r = nursery(async |n| -> Result<T, CancelRequested> {
        n.start_soon(async {
            sleep(HOUR).await.unwrap();
            woke.set(Some(current_time() - t0));
        });
        let v = call.await;
        assert_eq!(
            current_time(),
            t0,
            "the clock did not move while the worker ran"
        );
        assert_eq!(woke.get(), None, "the sleeper's deadline had not come");
        Ok(v)
    })
    .await;
    let Ok(v) = r else {
        panic!("nothing was cancelled")
    };
    assert_eq!(
        woke.get(),
        Some(HOUR),
        "deadlines jump once the worker is done"
    );
    assert_eq!(current_time() - t0, HOUR);
    assert!(real.elapsed() < Duration::from_secs(60), "the clock jumped");
    v
}

#[scoro::test(autojump)]
async fn run_sync_under_a_timeout_is_not_too_slow() {
    let words = ["borrowed", "by", "the", "worker"];
    let r = next_to_a_sleeper(fail_after(TIMEOUT, run_sync(|| work(words.len())))).await;
    assert_eq!(r, Ok(Ok(4)));
}

#[scoro::test(autojump)]
async fn run_sync_abandon_under_a_timeout_is_not_too_slow() {
    let r = next_to_a_sleeper(fail_after(TIMEOUT, run_sync_abandon(|| work(7)))).await;
    assert_eq!(r, Ok(Ok(7)));
}

#[scoro::test(autojump)]
async fn lookup_host_under_a_timeout_is_not_too_slow() {
    let addrs = next_to_a_sleeper(fail_after(TIMEOUT, lookup_host(("localhost", 80))))
        .await
        .expect("the lookup is not too slow under autojump")
        .expect("localhost resolves");
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
}

// An abandoned call holds the clock back until its function returns (its worker still counts
// against the runtime's limiter then).
#[scoro::test(autojump)]
async fn an_abandoned_call_holds_the_clock_until_its_function_returns() {
    let started = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let scope = CancelScope::new();
    let handle = scope.handle();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        let (on_start, on_finish) = (started.clone(), finished.clone());
        n.start_soon(async {
            let r = scope
                .run(run_sync_abandon(move || {
                    on_start.store(true, Ordering::SeqCst);
                    work(());
                    on_finish.store(true, Ordering::SeqCst);
                }))
                .await;
            assert_eq!(r, None, "the call was abandoned");
        });
        while !started.load(Ordering::SeqCst) {
            checkpoint().await?;
        }
        handle.cancel();
        Ok(())
    })
    .await;
    assert!(r.is_ok());
    let t0 = current_time();
    sleep(HOUR).await.unwrap();
    assert!(
        finished.load(Ordering::SeqCst),
        "the clock jumped while the abandoned function ran"
    );
    assert_eq!(current_time() - t0, HOUR);
}

// `wait_all_tasks_blocked` does not count a task waiting for a worker as blocked.
#[scoro::test]
async fn wait_all_tasks_blocked_waits_for_workers() {
    let returned = Cell::new(false);
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            assert_eq!(run_sync(|| work(3)).await, Ok(3));
            returned.set(true);
        });
        wait_all_tasks_blocked().await?;
        assert!(returned.get(), "the worker's call had returned");
        Ok(())
    })
    .await;
    assert!(r.is_ok());
}

// The same with a threshold: the clock does not jump after `threshold` of real time either.
#[test]
fn a_threshold_does_not_jump_the_clock_while_a_worker_runs() {
    #[structured]
    async fn body() -> Result<Result<u32, CancelRequested>, TooSlow> {
        next_to_a_sleeper(fail_after(TIMEOUT, run_sync(|| work(2)))).await
    }
    let clock = MockClock::autojump(Duration::from_millis(1));
    let mut rt = Builder::new().clock(clock).build().unwrap();
    assert_eq!(rt.run(body()), Ok(Ok(2)));
}
