//! The run loop (DESIGN.md decision 7): tasks that keep checkpointing share the thread, and
//! neither injected work nor deadlines wait for the runnable tasks to run out (Trio test
//! test_TrioToken_run_sync_soon_starvation_resistance, and deadlines expiring in the loop).

use scoro::lowlevel::RuntimeHandle;
use scoro::testing::MockClock;
use scoro::{
    Builder, CancelRequested, CoroutineCall, checkpoint, current_time, nursery, sleep, structured,
};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn run_with_clock<F: Future>(clock: &MockClock, call: CoroutineCall<F>) -> F::Output {
    Builder::new()
        .clock(clock.clone())
        .build()
        .unwrap()
        .run(call)
}

#[structured]
async fn interleaving() -> Vec<char> {
    let order = RefCell::new(Vec::new());
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        for name in ['a', 'b'] {
            let order = &order;
            n.start_soon(async move {
                for _ in 0..5 {
                    order.borrow_mut().push(name);
                    checkpoint().await?;
                }
                Ok::<(), CancelRequested>(())
            });
        }
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    order.into_inner()
}

// Two tasks that checkpoint in a loop take turns: a checkpoint lets every other runnable task
// run before the same task runs again.
#[test]
fn test_checkpoints_interleave_tasks() {
    let order = scoro::run(interleaving());
    let (a, b): (Vec<usize>, Vec<usize>) = (0..order.len()).partition(|&i| order[i] == 'a');
    assert_eq!((a.len(), b.len()), (5, 5));
    for (i, w) in order.windows(2).enumerate() {
        assert_ne!(w[0], w[1], "no task ran twice in a row at {i}: {order:?}");
    }
}

#[structured]
async fn busy_until_callback() -> u32 {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    RuntimeHandle::current()
        .run_sync_soon(move || f.store(true, Ordering::SeqCst))
        .unwrap();
    let mut spins = 0;
    while !flag.load(Ordering::SeqCst) {
        checkpoint().await.unwrap();
        spins += 1;
        assert!(spins < 100_000, "the injected callback never ran");
    }
    spins
}

// Work injected with `run_sync_soon` runs even while a task never stops being runnable.
#[test]
fn test_run_sync_soon_starvation_resistance() {
    let spins = scoro::run(busy_until_callback());
    assert!(spins <= 200, "ran only after {spins} checkpoints");
}

#[structured]
async fn busy_while_a_deadline_passes(clock: &MockClock) -> (u32, Duration) {
    let woke = Cell::new(None);
    let spins = Cell::new(0);
    let start = current_time();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            sleep(Duration::from_secs(1)).await?;
            woke.set(Some(current_time() - start));
            Ok::<(), CancelRequested>(())
        });
        checkpoint().await?;
        clock.jump(Duration::from_secs(5));
        while woke.get().is_none() {
            checkpoint().await?;
            spins.set(spins.get() + 1);
            assert!(spins.get() < 100_000, "the deadline never fired");
        }
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    (spins.get(), woke.get().unwrap())
}

// A deadline that passes while some task is always runnable still fires (deadlines are
// processed between batches, not only when the loop is idle).
#[test]
fn test_deadlines_fire_while_tasks_are_busy() {
    let clock = MockClock::new();
    let (spins, woke) = run_with_clock(&clock, busy_while_a_deadline_passes(&clock));
    assert!(spins <= 200, "woke only after {spins} checkpoints");
    assert_eq!(woke, Duration::from_secs(5));
}
