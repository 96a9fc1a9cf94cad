//! Fault tests of the paths between threads: a flood of cross-thread wakeups and injected
//! calls while the woken tasks are being cancelled, and worker threads whose functions panic.
//! Each case is bounded (a few seconds in a debug build).

use scoro::lowlevel::{Abort, RuntimeHandle, Wakeup, suspend};
use scoro::{CancelRequested, ErrorGroup, fail_after, move_on_after, nursery, structured};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// Under miri (which runs this test with several seeds, see `.ci/run`) a smaller flood.
const THREADS: usize = if cfg!(miri) { 3 } else { 16 };
const TASKS: u64 = if cfg!(miri) { 3 } else { 64 };
const ROUNDS: u64 = if cfg!(miri) { 4 } else { 100 };

#[derive(Default)]
struct Flood {
    /// Wakeups of tasks waiting right now (or that were, and gave up).
    parked: Mutex<Vec<Wakeup<u64>>>,
    /// `wake` calls that returned `true`: the value was handed over.
    delivered: AtomicUsize,
    /// `run_sync_soon` calls the runtime accepted, and those that ran.
    accepted: AtomicUsize,
    ran: AtomicUsize,
    stop: AtomicBool,
}

/// One task: waits `ROUNDS` times for a value from another thread, each wait cut short by a
/// timeout of a few dozen microseconds; counts the values it got.
#[structured]
async fn waiter(
    flood: &Arc<Flood>,
    id: u64,
    received: &AtomicUsize,
) -> Result<(), CancelRequested> {
    for round in 0..ROUNDS {
        let timeout = Duration::from_micros(10 + (id * 7 + round * 13) % 90);
        let got = move_on_after(
            timeout,
            suspend(
                |wakeup| flood.parked.lock().unwrap().push(wakeup),
                // The wakeup stays in `parked`; a later `wake` on it returns `false`.
                || Abort::Succeeded,
            ),
        )
        .await;
        if let Some(Ok(_)) = got {
            received.fetch_add(1, Ordering::SeqCst);
        }
    }
    Ok(())
}

fn flooder(flood: Arc<Flood>, handle: RuntimeHandle) {
    while !flood.stop.load(Ordering::SeqCst) {
        let wakeups: Vec<_> = std::mem::take(&mut *flood.parked.lock().unwrap());
        for w in wakeups {
            if w.wake(1) {
                flood.delivered.fetch_add(1, Ordering::SeqCst);
            }
        }
        let counter = flood.clone();
        if handle
            .run_sync_soon(move || {
                counter.ran.fetch_add(1, Ordering::SeqCst);
            })
            .is_ok()
        {
            flood.accepted.fetch_add(1, Ordering::SeqCst);
        }
        std::thread::yield_now();
    }
}

#[structured]
async fn flood_run() -> Result<(usize, usize, usize, usize), CancelRequested> {
    let flood = Arc::new(Flood::default());
    let received = AtomicUsize::new(0);
    let handle = RuntimeHandle::current();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (flood, handle) = (flood.clone(), handle.clone());
            std::thread::spawn(move || flooder(flood, handle))
        })
        .collect();
    nursery(async |n| -> Result<(), CancelRequested> {
        for id in 0..TASKS {
            n.start_soon(waiter(&flood, id, &received));
        }
        Ok(())
    })
    .await
    .map_err(ErrorGroup::into_first)?;
    flood.stop.store(true, Ordering::SeqCst);
    // Joining on a worker: the threads' last injected calls are queued before the join's own
    // completion, so they have run by the time this returns.
    scoro::to_thread::run_sync(move || {
        for t in threads {
            t.join().expect("a flooding thread panicked");
        }
    })
    .await?;
    Ok((
        received.load(Ordering::SeqCst),
        flood.delivered.load(Ordering::SeqCst),
        flood.accepted.load(Ordering::SeqCst),
        flood.ran.load(Ordering::SeqCst),
    ))
}

// Sixteen threads wake waiting tasks and inject calls as fast as they can while every wait is
// being cut short by its timeout: a `wake` that reports delivery is always received (none is
// lost to a racing cancellation), and every accepted call runs exactly once.
#[test]
fn a_flood_of_wakes_and_injected_calls_while_tasks_cancel_loses_nothing() {
    let (received, delivered, accepted, ran) = scoro::run(flood_run()).unwrap();
    assert_eq!(received, delivered, "values handed over vs values received");
    assert_eq!(ran, accepted, "injected calls accepted vs run");
    assert!(accepted > 0);
}

#[structured]
async fn panicking_job() -> Result<(), CancelRequested> {
    scoro::to_thread::run_sync(|| panic!("a bug in a worker's function")).await
}

#[structured]
async fn all_tokens_at_once(n: usize) -> Result<usize, ErrorGroup<CancelRequested>> {
    let started = Arc::new(AtomicUsize::new(0));
    nursery(async |nursery| -> Result<(), CancelRequested> {
        for _ in 0..n {
            let started = started.clone();
            nursery.start_soon(scoro::to_thread::run_sync(move || {
                started.fetch_add(1, Ordering::SeqCst);
                // Hold the token until every job has one: only possible if none leaked.
                while started.load(Ordering::SeqCst) < n {
                    std::thread::yield_now();
                }
            }));
        }
        Ok(())
    })
    .await?;
    Ok(started.load(Ordering::SeqCst))
}

#[structured]
async fn bounded_all_tokens(n: usize) -> Result<usize, ErrorGroup<CancelRequested>> {
    match fail_after(Duration::from_secs(20), all_tokens_at_once(n)).await {
        Ok(r) => r,
        Err(_) => panic!("40 jobs could not run at once after workers panicked"),
    }
}

// Functions that panic on worker threads: each panic reaches its task (and `run`), and the
// worker pool is whole afterwards: 40 jobs (every token of a run) can run at once.
#[test]
fn worker_threads_that_panic_give_their_tokens_back() {
    let mut rt = scoro::Builder::new().build().unwrap();
    for _ in 0..20 {
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.run(panicking_job())));
        let payload = outcome.expect_err("the panic reaches `run`");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"a bug in a worker's function")
        );
    }
    assert_eq!(rt.run(bounded_all_tokens(40)).unwrap(), 40);
}
