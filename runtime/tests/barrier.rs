//! `Barrier`: a round releases all its tasks together with exactly one leader, rounds repeat,
//! and a cancelled waiter leaves without counting (after tokio's `sync_barrier` tests).

use scoro::sync::Barrier;
use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelRequested, CancelScope, nursery, structured};
use std::cell::{Cell, RefCell};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[structured]
async fn arrive(
    barrier: &Barrier,
    id: u32,
    log: &RefCell<Vec<(u32, bool)>>,
) -> Result<(), CancelRequested> {
    let r = barrier.wait().await?;
    log.borrow_mut().push((id, r.is_leader()));
    Ok(())
}

#[scoro::test]
async fn n_tasks_are_released_together_with_one_leader() -> TestResult {
    let barrier = Barrier::new(3);
    let log = RefCell::new(Vec::new());
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(arrive(&barrier, 1, &log));
        n.start_soon(arrive(&barrier, 2, &log));
        wait_all_tasks_blocked().await?;
        assert!(log.borrow().is_empty());
        assert_eq!(barrier.waiting(), 2);
        n.start_soon(arrive(&barrier, 3, &log));
        wait_all_tasks_blocked().await?;
        Ok(())
    })
    .await?;
    let log = log.into_inner();
    assert_eq!(log.len(), 3);
    let leaders: Vec<u32> = log.iter().filter(|e| e.1).map(|e| e.0).collect();
    assert_eq!(leaders, [3], "the last to arrive leads");
    assert_eq!(barrier.generation(), 1);
    assert_eq!(barrier.waiting(), 0);
    Ok(())
}

#[scoro::test]
async fn the_barrier_is_reused_over_several_generations() -> TestResult {
    let barrier = Barrier::new(4);
    let leaders = Cell::new(0);
    let passed = Cell::new(0);
    nursery(async |n| -> Result<(), CancelRequested> {
        for _ in 0..4 {
            n.start_soon(async {
                for round in 0..5u32 {
                    let leader = barrier.wait().await?.is_leader();
                    // Everyone passed the previous round, nobody the next one yet.
                    assert_eq!(passed.get() / 4, round, "nobody runs a round ahead");
                    if leader {
                        leaders.set(leaders.get() + 1);
                    }
                    passed.set(passed.get() + 1);
                }
                Ok::<(), CancelRequested>(())
            });
        }
        Ok(())
    })
    .await?;
    assert_eq!((leaders.get(), passed.get()), (5, 20));
    assert_eq!(barrier.generation(), 5);
    Ok(())
}

#[scoro::test]
async fn a_cancelled_waiter_does_not_count() -> TestResult {
    let barrier = Barrier::new(2);
    let log = RefCell::new(Vec::new());
    let scope = CancelScope::new();
    let handle = scope.handle();
    let cancelled = Cell::new(false);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            cancelled.set(scope.run(barrier.wait()).await.is_none());
        });
        wait_all_tasks_blocked().await?;
        assert_eq!(barrier.waiting(), 1);
        handle.cancel();
        wait_all_tasks_blocked().await?;
        assert!(cancelled.get());
        assert_eq!(barrier.waiting(), 0, "the cancelled waiter left");
        n.start_soon(arrive(&barrier, 1, &log));
        wait_all_tasks_blocked().await?;
        assert!(log.borrow().is_empty(), "one arrival is not enough");
        n.start_soon(arrive(&barrier, 2, &log));
        Ok(())
    })
    .await?;
    // The leader's call yields once before returning, so the released waiter runs first.
    assert_eq!(log.into_inner(), [(1, false), (2, true)]);
    Ok(())
}

#[scoro::test]
async fn a_barrier_of_zero_or_one_never_blocks() -> TestResult {
    for n in [0, 1] {
        let barrier = Barrier::new(n);
        assert!(barrier.wait().await?.is_leader());
        assert!(barrier.wait().await?.is_leader());
        assert_eq!(barrier.generation(), 2);
    }
    let scope = CancelScope::new();
    scope.handle().cancel();
    assert!(
        scope.run(Barrier::new(1).wait()).await.is_none(),
        "a checkpoint"
    );
    Ok(())
}
