//! Worker threads through the public API: `to_thread::run_sync` (borrowing, not
//! interruptible), `run_sync_abandon`, the per-runtime limit of 40, and `from_thread`.
//! Threads signal the tasks through `lowlevel::Wakeup`s and std channels, never timing.

use scoro::lowlevel::{Abort, RunFinished, RuntimeHandle, Wakeup, suspend};
use scoro::{
    CancelReason, CancelRequested, CancelScope, ErrorGroup, checkpoint, from_thread, nursery,
    structured, to_thread,
};
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, mpsc};
use std::time::Duration;

/// Blocks the calling (worker) thread until a task has parked its wakeup in `slot`, then
/// wakes it.
fn wake_when_parked(slot: &Mutex<Option<Wakeup<()>>>) {
    loop {
        if let Some(w) = slot.lock().unwrap().take() {
            w.wake(());
            return;
        }
        std::thread::yield_now();
    }
}

/// Parks the current task's wakeup in `slot` and waits until a thread uses it.
#[structured]
async fn park_in(slot: &Mutex<Option<Wakeup<()>>>) -> Result<(), CancelRequested> {
    suspend(|w| *slot.lock().unwrap() = Some(w), || Abort::Succeeded).await
}

#[scoro::test]
async fn run_sync_borrows_and_finishes_despite_cancellation()
-> Result<(), ErrorGroup<CancelRequested>> {
    let numbers: Vec<u64> = (1..=100).collect();
    let running = Mutex::new(None);
    let (go, wait_for_go) = mpsc::channel::<()>();
    let sum = Cell::new(None);
    let after = Cell::new(None);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let numbers = &numbers;
            let running = &running;
            let s = to_thread::run_sync(move || {
                wake_when_parked(running);
                wait_for_go.recv().unwrap();
                numbers.iter().sum::<u64>()
            })
            .await;
            sum.set(Some(s));
            after.set(Some(checkpoint().await));
            Ok::<(), CancelRequested>(())
        });
        park_in(&running).await?;
        // The thread runs: cancel everything, then let it finish.
        n.cancel();
        go.send(()).unwrap();
        Ok(())
    })
    .await?;
    assert_eq!(sum.get(), Some(Ok(5050)), "the value is kept");
    let after = after.get().expect("the child went on");
    assert_eq!(after.unwrap_err().reason(), CancelReason::Explicit);
    Ok(())
}

#[scoro::test]
async fn run_sync_is_a_checkpoint_on_entry() {
    let ran = AtomicBool::new(false);
    let scope = CancelScope::new();
    scope.handle().cancel();
    let outcome = scope
        .run(to_thread::run_sync(|| ran.store(true, Ordering::SeqCst)))
        .await;
    assert_eq!(outcome, None);
    assert!(
        !ran.load(Ordering::SeqCst),
        "a cancelled call does not start"
    );
}

#[scoro::test]
async fn run_sync_abandon_returns_at_once_when_cancelled() {
    let (go, wait_for_go) = mpsc::channel::<()>();
    let (done_tx, done) = mpsc::channel::<()>();
    let running = std::sync::Arc::new(Mutex::new(None));
    let thread_running = running.clone();
    let scope = CancelScope::new();
    let handle = scope.handle();
    let outcome = scope
        .run(async {
            nursery(async |n| -> Result<(), CancelRequested> {
                n.start_soon(to_thread::run_sync_abandon(move || {
                    wake_when_parked(&thread_running);
                    wait_for_go.recv().unwrap();
                    done_tx.send(()).unwrap();
                }));
                park_in(&running).await?;
                handle.cancel();
                Ok(())
            })
            .await
        })
        .await;
    assert!(outcome.is_none(), "the scope caught the cancellation");
    assert!(
        done.try_recv().is_err(),
        "the call returned while the function still ran"
    );
    go.send(()).unwrap();
    done.recv().unwrap();
}

#[scoro::test]
#[should_panic(expected = "boom in a worker")]
async fn a_panic_in_the_function_resumes_in_the_task() {
    let _ = to_thread::run_sync(|| panic!("boom in a worker")).await;
}

#[scoro::test]
async fn more_than_forty_calls_wait_in_line() -> Result<(), ErrorGroup<CancelRequested>> {
    const CALLS: usize = 120;
    const LIMIT: usize = 40;
    // Forty calls can pass this barrier only together: a smaller limit would hang here.
    let barrier = Barrier::new(LIMIT);
    let running = AtomicUsize::new(0);
    let max = AtomicUsize::new(0);
    let started = AtomicUsize::new(0);
    let start_rank: Mutex<Vec<usize>> = Mutex::new(vec![usize::MAX; CALLS]);
    nursery(async |n| -> Result<(), CancelRequested> {
        for i in 0..CALLS {
            let (barrier, running, max, started, start_rank) =
                (&barrier, &running, &max, &started, &start_rank);
            n.start_soon(to_thread::run_sync(move || {
                start_rank.lock().unwrap()[i] = started.fetch_add(1, Ordering::SeqCst);
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                barrier.wait();
                running.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        Ok(())
    })
    .await?;
    assert_eq!(max.load(Ordering::SeqCst), LIMIT);
    // FIFO: the calls start in batches of forty, in the order they were made.
    let ranks = start_rank.into_inner().unwrap();
    for (i, rank) in ranks.iter().enumerate() {
        assert_eq!(rank / LIMIT, i / LIMIT, "call {i} started out of turn");
    }
    Ok(())
}

#[scoro::test]
async fn workers_are_reused() {
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let id = to_thread::run_sync(|| std::thread::current().id())
            .await
            .unwrap();
        ids.insert(id);
    }
    assert!(ids.len() < 20, "every call got a new thread");
    let name = to_thread::run_sync(|| std::thread::current().name().map(str::to_owned)).await;
    assert_eq!(name.unwrap().as_deref(), Some("scoro-worker"));
}

#[scoro::test]
async fn from_thread_runs_on_the_runtime_thread() {
    let handle = RuntimeHandle::current();
    let runtime_thread = std::thread::current().id();
    let local = String::from("abc");
    let (thread, len) = to_thread::run_sync(|| {
        // Borrows `local` from the worker's caller, twice removed.
        from_thread::run_sync(&handle, || (std::thread::current().id(), local.len())).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(thread, runtime_thread);
    assert_eq!(len, 3);
}

#[test]
fn from_thread_after_the_run_is_run_finished() {
    #[structured]
    async fn grab() -> RuntimeHandle {
        RuntimeHandle::current()
    }
    let handle = scoro::run(grab());
    assert_eq!(from_thread::run_sync(&handle, || 1), Err(RunFinished));
    let from_other = std::thread::spawn(move || from_thread::run_sync(&handle, || 2));
    assert_eq!(from_other.join().unwrap(), Err(RunFinished));
}

#[scoro::test]
#[should_panic(expected = "runtime's own thread")]
async fn from_thread_on_the_runtime_thread_panics() {
    let handle = RuntimeHandle::current();
    let _ = from_thread::run_sync(&handle, || 1);
}

#[scoro::test]
#[should_panic(expected = "panic sent home")]
async fn a_panic_in_from_thread_resumes_in_the_caller() {
    let handle = RuntimeHandle::current();
    let outcome = to_thread::run_sync(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            from_thread::run_sync(&handle, || panic!("panic sent home"))
        }))
    })
    .await
    .unwrap();
    if let Err(p) = outcome {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn a_worker_calling_home_after_the_run_ended_gets_run_finished() {
    // The abandoned function outlives the run and then calls back into it.
    #[structured]
    async fn leave_behind(
        go: mpsc::Receiver<()>,
        result: mpsc::Sender<Result<(), RunFinished>>,
    ) -> Result<(), CancelRequested> {
        let handle = RuntimeHandle::current();
        // The function waits for `go`, so it is still running when the timeout abandons it.
        let _ = scoro::move_on_after(
            Duration::from_millis(10),
            to_thread::run_sync_abandon(move || {
                go.recv().unwrap();
                result.send(from_thread::run_sync(&handle, || ())).unwrap();
            }),
        )
        .await;
        Ok(())
    }
    let (go_tx, go) = mpsc::channel();
    let (result, result_rx) = mpsc::channel();
    scoro::run(leave_behind(go, result)).unwrap();
    go_tx.send(()).unwrap();
    assert_eq!(result_rx.recv().unwrap(), Err(RunFinished));
}

#[test]
fn a_panicking_callback_shuts_the_run_down_after_its_worker() {
    #[structured]
    async fn victim(
        finished: &AtomicBool,
        called_home: &Mutex<Option<Result<(), RunFinished>>>,
    ) -> Result<(), CancelRequested> {
        let handle = RuntimeHandle::current();
        to_thread::run_sync(|| {
            // A panic on the runtime thread shuts the run down while this function runs: every
            // task is cancelled, but `run_sync` keeps waiting for this thread, so the runtime
            // is still there to call home to.
            handle
                .run_sync_soon(|| panic!("the run is torn down"))
                .unwrap();
            let r = from_thread::run_sync(&handle, || ());
            std::thread::sleep(Duration::from_millis(50));
            *called_home.lock().unwrap() = Some(r);
            finished.store(true, Ordering::SeqCst);
        })
        .await
    }
    let finished = AtomicBool::new(false);
    let called_home = Mutex::new(None);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scoro::run(victim(&finished, &called_home))
    }));
    let panic = run.unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"the run is torn down"));
    assert!(
        finished.load(Ordering::SeqCst),
        "the run returned only after the worker was done with its borrows"
    );
    assert_eq!(*called_home.lock().unwrap(), Some(Ok(())));
}
