//! Many tasks at once: the scheduler and the cancel status tree at scale (Trio #2770 reports
//! millions of `start_soon` calls stalling startup; here the counts are checked exactly).

use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelReason, CancelScope, checkpoint, nursery, sleep, sleep_forever, structured};
use std::cell::Cell;
use std::time::Duration;

const TASKS: u32 = 100_000;

#[structured]
async fn many_children(count: &Cell<u32>) -> Result<(), scoro::ErrorGroup<scoro::CancelRequested>> {
    nursery(async |n| -> Result<(), scoro::CancelRequested> {
        for _ in 0..TASKS {
            n.start_soon(async {
                checkpoint().await?;
                count.set(count.get() + 1);
                Ok::<(), scoro::CancelRequested>(())
            });
        }
        Ok(())
    })
    .await
}

// 100,000 children in one nursery, each checkpointing once: all run, the nursery waits for all.
#[test]
fn test_100_000_children() {
    let count = Cell::new(0);
    scoro::run(many_children(&count)).unwrap();
    assert_eq!(count.get(), TASKS);
}

#[structured]
async fn cancel_many_blocked(cancelled: &Cell<u32>, deadlines: &Cell<u32>) -> bool {
    let r = nursery(async |n| -> Result<(), scoro::CancelRequested> {
        for i in 0..TASKS {
            n.start_soon(async move {
                // Half sleep forever, half sleep with a deadline of their own (a status node
                // each under the nursery's).
                let r = if i % 2 == 0 {
                    sleep_forever().await.map(|_| ())
                } else {
                    sleep(Duration::from_secs(3600)).await
                };
                let c = r.unwrap_err();
                assert_eq!(c.reason(), CancelReason::Explicit);
                cancelled.set(cancelled.get() + 1);
                if i % 2 == 1 {
                    deadlines.set(deadlines.get() + 1);
                }
            });
        }
        wait_all_tasks_blocked().await?;
        n.cancel();
        Ok(())
    })
    .await;
    r.is_ok()
}

// Cancelling a nursery with 100,000 blocked tasks wakes every one of them with the
// cancellation.
#[test]
fn test_cancelling_100_000_blocked_tasks() {
    let cancelled = Cell::new(0);
    let deadlines = Cell::new(0);
    assert!(scoro::run(cancel_many_blocked(&cancelled, &deadlines)));
    assert_eq!(cancelled.get(), TASKS);
    assert_eq!(deadlines.get(), TASKS / 2);
}

#[structured]
async fn many_scopes_with_deadlines(
    done: &Cell<u32>,
) -> Result<(), scoro::ErrorGroup<scoro::CancelRequested>> {
    nursery(async |n| -> Result<(), scoro::CancelRequested> {
        for i in 0..10_000u64 {
            n.start_soon(async move {
                // Scopes whose deadlines never fire, entered and left many times.
                for _ in 0..10 {
                    let r = CancelScope::new()
                        .with_timeout(Duration::from_secs(3600 + i))
                        .run(checkpoint())
                        .await;
                    assert_eq!(r, Some(Ok(())));
                }
                done.set(done.get() + 1);
            });
        }
        Ok(())
    })
    .await
}

// 100,000 scope entries with deadlines that never fire, in 10,000 tasks.
#[test]
fn test_many_deadline_scopes() {
    let done = Cell::new(0);
    scoro::run(many_scopes_with_deadlines(&done)).unwrap();
    assert_eq!(done.get(), 10_000);
}
