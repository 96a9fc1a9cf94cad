//! The abort protocol of `scoro::lowlevel::suspend` (Trio's `wait_task_rescheduled`), ported
//! from Trio's test_failed_abort and test_slow_abort_*, plus `Wakeup` and `ParkingLot`.
//!
//! Mapping: Trio's `abort_fn` returning `Abort.SUCCEEDED`/`FAILED` is the `abort` closure of
//! `suspend`; `reschedule(task, Value(v))` is `Wakeup::wake(v)`; rescheduling with the captured
//! `raise_cancel` is `Wakeup::cancel()`; `TrioToken.run_sync_soon` is
//! `RuntimeHandle::run_sync_soon`.
//!
//! One documented difference: Trio calls `abort_fn` synchronously inside `cancel()`; scoro wakes
//! the blocked task and calls `abort` from the task's own next poll (still at most once per
//! wait). The tests let the task run before they look.

use scoro::lowlevel::{Abort, ParkingLot, RuntimeHandle, Wakeup, suspend};
use scoro::testing::wait_all_tasks_blocked;
use scoro::{
    CancelReason, CancelRequested, CancelScope, checkpoint, checkpoint_if_cancelled, nursery,
    structured,
};
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

type Log = RefCell<Vec<&'static str>>;

fn push(log: &Log, entry: &'static str) {
    log.borrow_mut().push(entry);
}

fn entries(log: &Log) -> Vec<&'static str> {
    log.borrow().clone()
}

/// Trio's stubborn_sleeper: blocks in its own cancel scope (whose handle it hands out) with an
/// abort that always fails, and records what happens.
#[structured]
async fn stubborn_sleeper(
    log: &Log,
    scope_slot: &RefCell<Option<scoro::CancelHandle>>,
    wakeup_slot: &RefCell<Option<Wakeup<u32>>>,
    aborts: &Cell<u32>,
) {
    let scope = CancelScope::new();
    *scope_slot.borrow_mut() = Some(scope.handle());
    let r = scope
        .run(async {
            push(log, "sleep");
            let x = suspend(
                |w| *wakeup_slot.borrow_mut() = Some(w),
                || {
                    aborts.set(aborts.get() + 1);
                    Abort::Failed
                },
            )
            .await;
            assert_eq!(x, Ok(1), "a failed abort leaves the wait to its owner");
            push(log, "woke");
            let r = checkpoint_if_cancelled().await;
            if r.is_err() {
                push(log, "cancelled");
            }
            r
        })
        .await;
    assert_eq!(r, None);
}

// Trio test_failed_abort: an abort that fails leaves the task asleep; the owner of the wait
// then wakes it with a value, and the pending cancellation is seen at the next checkpoint.
#[scoro::test]
async fn test_failed_abort() {
    let log = Log::default();
    let scope_slot = RefCell::new(None);
    let wakeup_slot = RefCell::new(None);
    let aborts = Cell::new(0);
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(stubborn_sleeper(&log, &scope_slot, &wakeup_slot, &aborts));
        wait_all_tasks_blocked().await?;
        assert_eq!(entries(&log), ["sleep"]);
        scope_slot.borrow().as_ref().unwrap().cancel();
        wait_all_tasks_blocked().await?;
        assert_eq!(entries(&log), ["sleep"], "the cancel did not wake it up");
        assert_eq!(aborts.get(), 1);
        // Wake it by hand.
        assert!(wakeup_slot.borrow().as_ref().unwrap().wake(1));
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(entries(&log), ["sleep", "woke", "cancelled"]);
    assert_eq!(aborts.get(), 1);
    assert!(
        !wakeup_slot.borrow().as_ref().unwrap().wake(2),
        "a finished wait cannot be woken again"
    );
}

/// Blocks until cancelled; the abort is asynchronous: it fails, and schedules the delivery of
/// the cancellation on the runtime thread, like Trio's slow_abort.
#[structured]
async fn slow_aborter(log: &Log) -> Result<(), CancelRequested> {
    let slot: RefCell<Option<Wakeup<()>>> = RefCell::new(None);
    push(log, "sleeping");
    let r = suspend(
        |w| *slot.borrow_mut() = Some(w),
        || {
            push(log, "abort-called");
            let w = slot.borrow_mut().take().unwrap();
            RuntimeHandle::current()
                .run_sync_soon(move || {
                    assert!(w.cancel());
                })
                .unwrap();
            Abort::Failed
        },
    )
    .await;
    assert!(r.is_err());
    push(log, "cancelled");
    // Blocking again works: the task is shielded by now.
    checkpoint().await?;
    push(log, "done");
    Ok(())
}

// Trio test_slow_abort_basic: a cancellation delivered asynchronously, after the abort failed,
// through the wakeup the operation kept.
#[scoro::test]
async fn test_slow_abort_basic() {
    let log = Log::default();
    let scope = CancelScope::new();
    let h = scope.handle();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let r = scope
                .run(async {
                    let slot: RefCell<Option<Wakeup<()>>> = RefCell::new(None);
                    let r = suspend(
                        |w| *slot.borrow_mut() = Some(w),
                        || {
                            let w = slot.borrow_mut().take().unwrap();
                            RuntimeHandle::current()
                                .run_sync_soon(move || {
                                    w.cancel();
                                })
                                .unwrap();
                            Abort::Failed
                        },
                    )
                    .await;
                    push(&log, "suspend returned");
                    r
                })
                .await;
            assert_eq!(r, None);
        });
        wait_all_tasks_blocked().await?;
        h.cancel();
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(entries(&log), ["suspend returned"]);
    assert!(h.cancelled_caught());
}

// Trio test_slow_abort_edge_cases: the abort runs once although two scopes are cancelled, and
// the cancellation it delivers later arrives even though the task was shielded in between.
#[scoro::test]
async fn test_slow_abort_edge_cases() {
    let log = Log::default();
    let outer1 = CancelScope::new();
    let h1 = outer1.handle();
    let outer2 = CancelScope::new();
    let h2 = outer2.handle();
    let r = outer1
        .run(
            outer2.run(nursery(async |n| -> Result<(), CancelRequested> {
                n.start_soon(slow_aborter(&log));
                wait_all_tasks_blocked().await?;
                assert_eq!(entries(&log), ["sleeping"]);
                h1.cancel();
                // Let the blocked task run (it calls its abort); the body is cancelled too, so it
                // yields from a shielded scope.
                CancelScope::new()
                    .with_shield(true)
                    .run(checkpoint())
                    .await
                    .unwrap()?;
                assert_eq!(entries(&log), ["sleeping", "abort-called"]);
                h2.cancel();
                CancelScope::new()
                    .with_shield(true)
                    .run(checkpoint())
                    .await
                    .unwrap()?;
                assert_eq!(
                    entries(&log),
                    ["sleeping", "abort-called"],
                    "abort runs once"
                );
                // Before the abort finishes, the task gets shielded.
                n.cancel_handle().set_shield(true);
                Ok(())
            })),
        )
        .await;
    // The nursery was shielded at its exit: the body's value came back as `Ok`.
    assert_eq!(r, Some(Some(Ok(()))));
    assert_eq!(
        entries(&log),
        ["sleeping", "abort-called", "cancelled", "done"]
    );
}

// `Abort::Succeeded`: the task resumes with the cancellation at once, and a later `wake` from
// the operation returns false (its value is dropped).
#[scoro::test]
async fn test_abort_succeeded_makes_later_wakes_fail() {
    let slot: RefCell<Option<Wakeup<u32>>> = RefCell::new(None);
    let aborts = Cell::new(0);
    let scope = CancelScope::new();
    let h = scope.handle();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let r = scope
                .run(suspend(
                    |w| *slot.borrow_mut() = Some(w),
                    || {
                        aborts.set(aborts.get() + 1);
                        Abort::Succeeded
                    },
                ))
                .await;
            assert_eq!(r, None);
        });
        wait_all_tasks_blocked().await?;
        h.cancel();
        h.cancel();
        wait_all_tasks_blocked().await?;
        assert!(!slot.borrow().as_ref().unwrap().wake(5));
        assert!(!slot.borrow().as_ref().unwrap().cancel());
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(aborts.get(), 1);
}

// "Completed beats cancelled": an operation that completes during its abort delivers its
// value; the cancellation stays pending for the next checkpoint.
#[scoro::test]
async fn test_wake_during_abort_delivers_the_value() {
    let slot: RefCell<Option<Wakeup<u32>>> = RefCell::new(None);
    let scope = CancelScope::new();
    let h = scope.handle();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let r = scope
                .run(async {
                    let v = suspend(
                        |w| *slot.borrow_mut() = Some(w),
                        || {
                            assert!(slot.borrow().as_ref().unwrap().wake(7));
                            Abort::Succeeded
                        },
                    )
                    .await;
                    assert_eq!(v, Ok(7));
                    let c = checkpoint().await.unwrap_err();
                    assert_eq!(c.reason(), CancelReason::Explicit);
                    Err::<(), _>(c)
                })
                .await;
            assert_eq!(r, None);
        });
        wait_all_tasks_blocked().await?;
        h.cancel();
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
}

// `Wakeup` works from another thread, and of several wakes racing on clones, exactly one wins.
#[scoro::test]
async fn test_wakeup_from_other_threads() {
    let winners = Arc::new(AtomicUsize::new(0));
    let threads = RefCell::new(Vec::new());
    let v = suspend(
        |w: Wakeup<usize>| {
            for i in 0..8 {
                let w = w.clone();
                let winners = winners.clone();
                threads.borrow_mut().push(std::thread::spawn(move || {
                    if w.wake(i) {
                        winners.fetch_add(1, Ordering::SeqCst);
                    }
                }));
            }
        },
        || Abort::Failed,
    )
    .await
    .unwrap();
    for t in threads.take() {
        t.join().unwrap();
    }
    assert!(v < 8);
    assert_eq!(winners.load(Ordering::SeqCst), 1);
}

// Trio test_parking_lot_basic / test_parking_lot_cancel: FIFO order, unpark counts, len, and a
// cancelled park leaves the queue without disturbing the order of the others.
#[scoro::test]
async fn test_parking_lot() {
    let lot = ParkingLot::new();
    let log = RefCell::new(Vec::new());
    let scope = CancelScope::new();
    let h = scope.handle();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        for i in 0..4 {
            let (lot, log) = (&lot, &log);
            n.start_soon(async move {
                lot.park().await?;
                log.borrow_mut().push(i);
                Ok::<(), CancelRequested>(())
            });
            wait_all_tasks_blocked().await?;
        }
        n.start_soon(async {
            let _ = scope.run(lot.park()).await;
            log.borrow_mut().push(99);
        });
        wait_all_tasks_blocked().await?;
        assert_eq!(lot.len(), 5);
        assert_eq!(lot.unpark(1), 1);
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), [0]);
        h.cancel();
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), [0, 99]);
        assert_eq!(lot.len(), 3);
        assert_eq!(lot.unpark(2), 2);
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), [0, 99, 1, 2]);
        assert_eq!(lot.unpark_all(), 1);
        assert_eq!(lot.unpark_all(), 0);
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(log.into_inner(), [0, 99, 1, 2, 3]);
    assert!(lot.is_empty());
}
