//! Trio's synchronisation tests (`_tests/test_sync.py`, `_core/_tests/test_parking_lot.py`),
//! ported to scoro's public API, plus the scoro-specific guarantees: poisoning, a cancelled
//! `lock()` never owning the lock, and cancelling 100,000 waiters.

use scoro::channel::{Receiver, SendError, Sender, channel};
use scoro::lowlevel::ParkingLot;
use scoro::sync::{
    CapacityLimiter, CapacityPermit, Condition, Event, Lock, LockGuard, Semaphore, SemaphorePermit,
};
use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelHandle, CancelRequested, CancelScope, CoroutineCall, nursery, structured};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Runs `op` while a sibling task waits for its turn. Returns `op`'s value and whether the
/// sibling ran before `op` returned, i.e. whether `op` was a schedule point.
#[structured]
async fn with_sibling<F: Future>(op: CoroutineCall<F>) -> (F::Output, bool) {
    let ran = Cell::new(false);
    let out = nursery(async |n| -> Result<F::Output, CancelRequested> {
        n.start_soon(async { ran.set(true) });
        Ok(op.await)
    })
    .await;
    match out {
        Ok(v) => (v, ran.get()),
        Err(_) => unreachable!("nothing cancels this nursery"),
    }
}

/// Runs `op` in a scope that is already cancelled: `None` means `op` was a cancel point.
#[structured]
async fn in_cancelled_scope<T: scoro::MaybeCancelled, F: Future<Output = T>>(
    op: CoroutineCall<F>,
) -> Option<T> {
    let scope = CancelScope::new();
    scope.handle().cancel();
    scope.run(op).await
}

#[scoro::test]
async fn test_event() -> TestResult {
    let e = Event::new();
    assert!(!e.is_set());
    assert_eq!(e.waiting(), 0);

    e.set();
    assert!(e.is_set());
    // `wait` checkpoints even when the event is set.
    let (r, yielded) = with_sibling(e.wait()).await;
    assert_eq!((r, yielded), (Ok(()), true));
    assert_eq!(in_cancelled_scope(e.wait()).await, None);

    let e = Event::new();
    let record = RefCell::new(Vec::new());
    nursery(async |n| -> Result<(), CancelRequested> {
        for _ in 0..2 {
            n.start_soon(async {
                record.borrow_mut().push("sleeping");
                e.wait().await?;
                record.borrow_mut().push("woken");
                Ok::<(), CancelRequested>(())
            });
        }
        wait_all_tasks_blocked().await?;
        assert_eq!(*record.borrow(), ["sleeping", "sleeping"]);
        assert_eq!(e.waiting(), 2);
        e.set();
        wait_all_tasks_blocked().await?;
        assert_eq!(*record.borrow(), ["sleeping", "sleeping", "woken", "woken"]);
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test]
async fn test_semaphore() -> TestResult {
    let s = Semaphore::new(1);
    assert_eq!(s.available(), 1);
    s.add_permits(1);
    assert_eq!(s.available(), 2);
    assert_eq!(s.waiting(), 0);
    s.try_acquire().expect("a permit is free").forget();
    assert_eq!(s.available(), 1);
    let (permit, yielded) = with_sibling(s.acquire()).await;
    assert!(yielded, "acquire is a schedule point");
    permit?.forget();
    assert_eq!(s.available(), 0);
    assert!(s.try_acquire().is_none());

    s.add_permits(1);
    assert_eq!(s.available(), 1);
    {
        let _permit = s.acquire().await?;
        assert_eq!(s.available(), 0);
    }
    assert_eq!(s.available(), 1);
    s.try_acquire().unwrap().forget();

    let record = RefCell::new(Vec::new());
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            record.borrow_mut().push("started");
            s.acquire().await?.forget();
            record.borrow_mut().push("finished");
            Ok::<(), CancelRequested>(())
        });
        wait_all_tasks_blocked().await?;
        assert_eq!(*record.borrow(), ["started"]);
        assert_eq!(s.available(), 0);
        s.add_permits(1);
        // Fairness: the permit went to the waiter, not back to the pool.
        assert_eq!(s.available(), 0);
        assert!(s.try_acquire().is_none());
        Ok(())
    })
    .await?;
    assert_eq!(*record.borrow(), ["started", "finished"]);
    Ok(())
}

#[scoro::test]
async fn test_capacity_limiter() -> TestResult {
    let c = CapacityLimiter::new(2);
    assert_eq!(
        (c.total_tokens(), c.borrowed(), c.available_tokens()),
        (2, 0, 2)
    );
    let mine = c.try_acquire().expect("a token is free");
    assert_eq!((c.borrowed(), c.available_tokens()), (1, 1));
    // A borrower is a permit: the same task may borrow again ("on behalf of someone").
    let (someone, yielded) = with_sibling(c.acquire()).await;
    assert!(yielded, "acquire is a schedule point");
    let someone = someone?;
    assert_eq!(c.borrowed(), 2);
    assert!(c.try_acquire().is_none(), "out of capacity");
    drop(mine);
    assert_eq!(c.borrowed(), 1);
    drop(someone);
    assert_eq!(c.borrowed(), 0);
    {
        let _t = c.acquire().await?;
        assert_eq!(c.borrowed(), 1);
    }

    let value1 = c.acquire().await?;
    let value2 = c.acquire().await?;
    let value3: RefCell<Option<CapacityPermit<'_>>> = RefCell::new(None);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            *value3.borrow_mut() = Some(c.acquire().await?);
            Ok::<(), CancelRequested>(())
        });
        wait_all_tasks_blocked().await?;
        assert_eq!((c.borrowed(), c.waiting()), (2, 1));
        drop(value2);
        // Fairness: the token went to the waiter.
        assert_eq!(c.borrowed(), 2);
        assert!(c.try_acquire().is_none());
        Ok(())
    })
    .await?;
    assert!(value3.borrow().is_some());
    drop(value3);
    drop(value1);
    assert_eq!(c.borrowed(), 0);
    Ok(())
}

#[scoro::test]
async fn test_capacity_limiter_change_total_tokens() -> TestResult {
    let c = CapacityLimiter::new(2);
    assert_eq!(c.total_tokens(), 2);
    let borrowers = RefCell::new(BTreeSet::new());
    let release: Vec<Event> = (0..5).map(|_| Event::new()).collect();
    nursery(async |n| -> Result<(), CancelRequested> {
        for i in 0..5 {
            let (c, borrowers, release) = (&c, &borrowers, &release[i]);
            n.start_soon(async move {
                let _token = c.acquire().await?;
                borrowers.borrow_mut().insert(i);
                release.wait().await?;
                borrowers.borrow_mut().remove(&i);
                Ok::<(), CancelRequested>(())
            });
            wait_all_tasks_blocked().await?;
        }
        let borrowers_now = || borrowers.borrow().iter().copied().collect::<Vec<_>>();
        assert_eq!(borrowers_now(), [0, 1]);
        assert_eq!(c.waiting(), 3);
        // Raising the total wakes waiters at once.
        c.set_total_tokens(c.total_tokens() + 2);
        assert_eq!((c.borrowed(), c.waiting()), (4, 1));
        wait_all_tasks_blocked().await?;
        assert_eq!(borrowers_now(), [0, 1, 2, 3]);
        c.set_total_tokens(c.total_tokens() - 3);
        assert_eq!((c.borrowed(), c.total_tokens()), (4, 1));
        for event in &release[..3] {
            event.set();
        }
        wait_all_tasks_blocked().await?;
        assert_eq!(borrowers_now(), [3]);
        assert_eq!(c.waiting(), 1);
        release[3].set();
        wait_all_tasks_blocked().await?;
        assert_eq!(borrowers_now(), [4]);
        assert_eq!(c.waiting(), 0);
        release[4].set();
        Ok(())
    })
    .await?;
    assert_eq!(c.borrowed(), 0);
    Ok(())
}

#[scoro::test]
async fn test_capacity_limiter_memleak_548() -> TestResult {
    let limiter = CapacityLimiter::new(1);
    let _held = limiter.acquire().await?;
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            limiter.acquire().await?;
            Ok::<(), CancelRequested>(())
        });
        wait_all_tasks_blocked().await?;
        assert_eq!(limiter.waiting(), 1);
        n.cancel();
        Ok(())
    })
    .await?;
    // The cancelled acquire left nothing behind.
    assert_eq!(limiter.waiting(), 0);
    assert_eq!(limiter.borrowed(), 1);
    Ok(())
}

#[scoro::test]
async fn test_lock_and_strict_fifo_lock() -> TestResult {
    let l = Lock::new(());
    assert!(!l.is_locked());
    let (guard, yielded) = with_sibling(l.lock()).await;
    assert!(yielded, "lock is a schedule point");
    assert!(l.is_locked());
    drop(guard);
    assert!(!l.is_locked());
    let g = l.try_lock().expect("the lock is free");
    assert!(l.is_locked());
    assert!(l.try_lock().is_none(), "already held");
    drop(g);
    assert!(!l.is_locked());
    assert_eq!(in_cancelled_scope(l.lock()).await.map(|_| ()), None);
    assert!(!l.is_locked());

    nursery(async |n| -> Result<(), CancelRequested> {
        let holder = async {
            let _g = l.lock().await?;
            scoro::sleep_forever().await?;
            Ok::<(), CancelRequested>(())
        };
        assert!(!l.is_locked());
        n.start_soon(holder);
        wait_all_tasks_blocked().await?;
        assert!(l.is_locked());
        assert!(l.try_lock().is_none(), "someone else holds it");
        assert_eq!(l.waiting(), 0);
        n.start_soon(async {
            let _g = l.lock().await?;
            scoro::sleep_forever().await?;
            Ok::<(), CancelRequested>(())
        });
        wait_all_tasks_blocked().await?;
        assert_eq!(l.waiting(), 1);
        n.cancel();
        Ok(())
    })
    .await?;
    assert!(!l.is_locked());
    assert_eq!(l.waiting(), 0);
    Ok(())
}

#[scoro::test]
async fn test_lock_handover() -> TestResult {
    let lock = Lock::new(Vec::new());
    let mut guard = lock.try_lock().expect("the lock is free");
    guard.push("parent");
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            lock.lock().await?.push("child");
            Ok::<(), CancelRequested>(())
        });
        wait_all_tasks_blocked().await?;
        assert_eq!(lock.waiting(), 1);
        // Hand the lock over to the child.
        drop(guard);
        assert!(lock.is_locked(), "the child owns it now");
        assert_eq!(lock.waiting(), 0);
        // The releaser cannot barge back in: neither at once ...
        assert!(lock.try_lock().is_none());
        // ... nor by waiting, which queues behind the child.
        lock.lock().await?.push("parent again");
        Ok(())
    })
    .await?;
    assert!(!lock.is_locked());
    assert_eq!(lock.into_inner(), ["parent", "child", "parent again"]);
    Ok(())
}

/// Everything Trio runs its generic lock tests on; `Channel1` and `Channel2` are Trio's
/// `ChannelLock1` (acquire = send into the last free slot) and `ChannelLock2` (acquire =
/// receive the only token).
enum LockLike {
    Lock(Lock<()>),
    Semaphore(Semaphore),
    Limiter(CapacityLimiter),
    Channel1(Sender<()>, Receiver<()>),
    Channel2(Sender<()>, Receiver<()>),
}

/// What holding a [`LockLike`] means.
enum Held<'a> {
    Guard(#[allow(dead_code, reason = "held for its Drop")] LockGuard<'a, ()>),
    Permit(#[allow(dead_code, reason = "held for its Drop")] SemaphorePermit<'a>),
    Token(#[allow(dead_code, reason = "held for its Drop")] CapacityPermit<'a>),
    /// Releasing receives one value, freeing a slot.
    Slot(&'a Receiver<()>),
    /// Releasing sends the token back.
    Token2(&'a Sender<()>),
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        match self {
            Held::Slot(r) => r.try_recv().expect("a slot is taken"),
            Held::Token2(s) => s.try_send(()).expect("room for the token"),
            Held::Guard(_) | Held::Permit(_) | Held::Token(_) => {}
        }
    }
}

fn cancelled<T>(e: SendError<T>) -> CancelRequested {
    match e {
        SendError::Cancelled(_, c) => c,
        e => panic!("unexpected {e}"),
    }
}

impl LockLike {
    fn all() -> Vec<(&'static str, LockLike)> {
        let channel1 = |capacity: usize| {
            let (s, r) = channel(capacity);
            for _ in 0..capacity - 1 {
                s.try_send(()).unwrap();
            }
            LockLike::Channel1(s, r)
        };
        let (s2, r2) = channel(10);
        s2.try_send(()).unwrap();
        vec![
            (
                "CapacityLimiter(1)",
                LockLike::Limiter(CapacityLimiter::new(1)),
            ),
            ("Semaphore(1)", LockLike::Semaphore(Semaphore::new(1))),
            ("Lock", LockLike::Lock(Lock::new(()))),
            ("ChannelLock1(10)", channel1(10)),
            ("ChannelLock1(1)", channel1(1)),
            ("ChannelLock2", LockLike::Channel2(s2, r2)),
        ]
    }

    #[structured]
    async fn acquire(&self) -> Result<Held<'_>, CancelRequested> {
        Ok(match self {
            LockLike::Lock(l) => Held::Guard(l.lock().await?),
            LockLike::Semaphore(s) => Held::Permit(s.acquire().await?),
            LockLike::Limiter(c) => Held::Token(c.acquire().await?),
            LockLike::Channel1(s, r) => {
                s.send(()).await.map_err(cancelled)?;
                Held::Slot(r)
            }
            LockLike::Channel2(s, r) => {
                r.recv().await.map_err(|e| match e {
                    scoro::channel::RecvError::Cancelled(c) => c,
                    e => panic!("unexpected {e}"),
                })?;
                Held::Token2(s)
            }
        })
    }

    fn try_acquire(&self) -> Option<Held<'_>> {
        match self {
            LockLike::Lock(l) => l.try_lock().map(Held::Guard),
            LockLike::Semaphore(s) => s.try_acquire().map(Held::Permit),
            LockLike::Limiter(c) => c.try_acquire().map(Held::Token),
            LockLike::Channel1(s, r) => s.try_send(()).ok().map(|()| Held::Slot(r)),
            LockLike::Channel2(s, r) => r.try_recv().ok().map(|()| Held::Token2(s)),
        }
    }
}

#[scoro::test]
async fn test_generic_lock_exclusion() -> TestResult {
    const LOOPS: usize = 10;
    const WORKERS: usize = 5;
    for (name, lock_like) in LockLike::all() {
        let in_critical_section = Cell::new(false);
        let acquires = Cell::new(0);
        nursery(async |n| -> Result<(), CancelRequested> {
            for _ in 0..WORKERS {
                n.start_soon(async {
                    for _ in 0..LOOPS {
                        let _held = lock_like.acquire().await?;
                        acquires.set(acquires.get() + 1);
                        assert!(!in_critical_section.replace(true), "{name}");
                        scoro::checkpoint().await?;
                        scoro::checkpoint().await?;
                        assert!(in_critical_section.replace(false), "{name}");
                    }
                    Ok::<(), CancelRequested>(())
                });
            }
            Ok(())
        })
        .await?;
        assert!(!in_critical_section.get());
        assert_eq!(acquires.get(), LOOPS * WORKERS, "{name}");
    }
    Ok(())
}

#[scoro::test]
async fn test_generic_lock_fifo_fairness() -> TestResult {
    const LOOPS: usize = 5;
    for (name, lock_like) in LockLike::all() {
        let initial_order = RefCell::new(Vec::new());
        let record = RefCell::new(Vec::new());
        nursery(async |n| -> Result<(), CancelRequested> {
            for task in 1..=3 {
                let (lock_like, initial_order, record) = (&lock_like, &initial_order, &record);
                n.start_soon(async move {
                    initial_order.borrow_mut().push(task);
                    for _ in 0..LOOPS {
                        let _held = lock_like.acquire().await?;
                        record.borrow_mut().push(task);
                    }
                    Ok::<(), CancelRequested>(())
                });
            }
            Ok(())
        })
        .await?;
        let (initial_order, record) = (initial_order.into_inner(), record.into_inner());
        assert_eq!(record.len(), 3 * LOOPS);
        for round in record.chunks(3) {
            assert_eq!(round, initial_order, "{name}: {record:?}");
        }
    }
    Ok(())
}

#[scoro::test]
async fn test_generic_lock_acquire_nowait_blocks_acquire() -> TestResult {
    for (name, lock_like) in LockLike::all() {
        let record = RefCell::new(Vec::new());
        nursery(async |n| -> Result<(), CancelRequested> {
            let held = lock_like.try_acquire().expect(name);
            n.start_soon(async {
                record.borrow_mut().push("started");
                let _held = lock_like.acquire().await?;
                record.borrow_mut().push("finished");
                Ok::<(), CancelRequested>(())
            });
            wait_all_tasks_blocked().await?;
            assert_eq!(*record.borrow(), ["started"], "{name}");
            drop(held);
            Ok(())
        })
        .await?;
        assert_eq!(record.into_inner(), ["started", "finished"], "{name}");
    }
    Ok(())
}

#[structured]
async fn cancel_lock_waiters_at_random(seed: u64) -> TestResult {
    // Waiters on a held lock; some are cancelled while waiting, one at the very moment the
    // lock is handed to it. Whoever got it released it; nobody kept it.
    let lock = Lock::new(Vec::new());
    let handles: RefCell<Vec<CancelHandle>> = RefCell::new(Vec::new());
    let outcomes = RefCell::new(Vec::new());
    nursery(async |n| -> Result<(), CancelRequested> {
        let first = lock.lock().await?;
        for i in 0..10 {
            let scope = CancelScope::new();
            handles.borrow_mut().push(scope.handle());
            let (lock, outcomes) = (&lock, &outcomes);
            n.start_soon(async move {
                let r = scope
                    .run(async {
                        let mut g = lock.lock().await?;
                        g.push(i);
                        Ok::<(), CancelRequested>(())
                    })
                    .await;
                outcomes.borrow_mut().push((i, r.is_some()));
            });
        }
        wait_all_tasks_blocked().await?;
        assert_eq!(lock.waiting(), 10);
        let mut x = seed;
        for h in handles.borrow().iter() {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if x >> 62 == 0 {
                h.cancel();
            }
        }
        // The first waiter is handed the lock and cancelled in the same step.
        drop(first);
        handles.borrow()[0].cancel();
        Ok(())
    })
    .await?;
    assert!(!lock.is_locked(), "a cancelled lock() left the lock owned");
    assert_eq!(lock.waiting(), 0);
    let outcomes = outcomes.into_inner();
    assert_eq!(outcomes.len(), 10);
    let got: Vec<i32> = lock.into_inner();
    // Waiter 0 was handed the lock before its cancellation was seen: it kept it.
    assert_eq!(got.first(), Some(&0));
    let succeeded: Vec<i32> = outcomes
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(i, _)| *i)
        .collect();
    let mut sorted = got.clone();
    sorted.sort();
    let mut expected = succeeded.clone();
    expected.sort();
    assert_eq!(
        sorted, expected,
        "exactly the waiters that succeeded held the lock"
    );
    assert_eq!(got, sorted, "in FIFO order");
    Ok(())
}

#[scoro::test]
async fn a_cancelled_lock_never_leaves_the_lock_owned() -> TestResult {
    for seed in 0..20 {
        cancel_lock_waiters_at_random(seed).await?;
    }
    Ok(())
}

#[structured]
async fn hold_and_panic(lock: &Lock<u32>) {
    let mut g = lock.lock().await.unwrap();
    *g = 1;
    scoro::checkpoint().await.unwrap();
    panic!("panicked while holding the lock");
}

#[test]
fn a_panic_while_holding_a_lock_poisons_it() {
    let lock = Lock::new(0);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scoro::run(hold_and_panic(&lock));
    }));
    assert!(outcome.is_err());
    assert!(!lock.is_locked(), "unwinding released the lock");
    assert!(lock.is_poisoned());
    let g = lock.try_lock().expect("a poisoned lock still locks");
    assert!(g.is_poisoned());
    assert_eq!(*g, 1, "the half-done update is visible");
    drop(g);
    lock.clear_poison();
    assert!(!lock.is_poisoned());
    assert!(!lock.try_lock().unwrap().is_poisoned());
}

#[test]
fn a_panicking_sibling_leaves_the_lock_to_its_waiter_poisoned() {
    // A panic in one task cancels its siblings; the lock the panicking task held goes to the
    // longest waiter (which still gets it: the hand-off happened before it saw the cancel) and
    // reports the poisoning.
    let lock = Lock::new(0);
    let seen = Cell::new(None);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scoro::run(async_poison_scenario(&lock, &seen))
    }));
    assert!(outcome.is_err());
    assert_eq!(seen.get(), Some((1, true)));
    assert!(!lock.is_locked());
}

#[structured]
async fn async_poison_scenario(lock: &Lock<u32>, seen: &Cell<Option<(u32, bool)>>) {
    let _ = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(hold_and_panic(lock));
        scoro::checkpoint().await?;
        let g = lock.lock().await?;
        seen.set(Some((*g, g.is_poisoned())));
        Ok(())
    })
    .await;
}

#[scoro::test]
async fn test_condition() -> TestResult {
    let lock = Lock::new(());
    let c = Condition::new();
    assert!(!lock.is_locked());
    let (g, yielded) = with_sibling(lock.lock()).await;
    assert!(yielded);
    assert!(lock.is_locked());
    drop(g);

    let finished = RefCell::new(BTreeSet::new());
    let waiter = |i: u32| {
        let (lock, c, finished) = (&lock, &c, &finished);
        async move {
            let g = lock.lock().await?;
            let _g = c.wait(g).await?;
            finished.borrow_mut().insert(i);
            Ok::<(), CancelRequested>(())
        }
    };

    nursery(async |n| -> Result<(), CancelRequested> {
        for i in 0..3 {
            n.start_soon(waiter(i));
            wait_all_tasks_blocked().await?;
        }
        {
            let _g = lock.lock().await?;
            c.notify_one();
        }
        assert!(lock.is_locked(), "handed to the notified waiter");
        wait_all_tasks_blocked().await?;
        assert_eq!(*finished.borrow(), BTreeSet::from([0]));
        {
            let _g = lock.lock().await?;
            c.notify_all();
        }
        wait_all_tasks_blocked().await?;
        assert_eq!(*finished.borrow(), BTreeSet::from([0, 1, 2]));
        Ok(())
    })
    .await?;

    finished.borrow_mut().clear();
    nursery(async |n| -> Result<(), CancelRequested> {
        for i in 0..3 {
            n.start_soon(waiter(i));
            wait_all_tasks_blocked().await?;
        }
        {
            let _g = lock.lock().await?;
            c.notify_one();
            c.notify_one();
            // Notified waiters are queued on the lock at once.
            assert_eq!((c.waiting(), lock.waiting()), (1, 2));
        }
        // Unlocking handed the lock to the first of them.
        assert_eq!(lock.waiting(), 1);
        assert!(lock.is_locked());
        wait_all_tasks_blocked().await?;
        assert_eq!(*finished.borrow(), BTreeSet::from([0, 1]));
        let _g = lock.lock().await?;
        c.notify_all();
        Ok(())
    })
    .await?;

    // After being cancelled, the waiter holds the lock again.
    let scope = CancelScope::new();
    let handle = scope.handle();
    let out = scope
        .run(async {
            let g = lock.lock().await?;
            handle.cancel();
            match c.wait(g).await {
                Ok(_) => unreachable!("nobody notified"),
                Err(e) => {
                    assert!(lock.is_locked());
                    Err(e.cancel_requested())
                }
            }
        })
        .await;
    assert_eq!(out.map(|r: Result<(), CancelRequested>| r.is_ok()), None);
    assert!(!lock.is_locked(), "the guard came back and was dropped");
    Ok(())
}

#[scoro::test]
async fn a_condition_wait_cancelled_while_the_lock_is_busy_waits_for_it() -> TestResult {
    let lock = Lock::new(0);
    let c = Condition::new();
    let scope = CancelScope::new();
    let handle = scope.handle();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let r = scope
                .run(async {
                    let g = lock.lock().await?;
                    let (mut g, cancel) = c.wait(g).await.map(|_| ()).unwrap_err().into_parts();
                    *g += 1; // repair under the lock
                    Err::<(), _>(cancel)
                })
                .await;
            assert_eq!(r, None);
        });
        wait_all_tasks_blocked().await?;
        let g = lock.lock().await?;
        handle.cancel();
        wait_all_tasks_blocked().await?;
        // The cancelled waiter queues for the lock and cannot be cancelled out of that.
        assert_eq!(lock.waiting(), 1);
        assert_eq!(*g, 0);
        drop(g);
        Ok(())
    })
    .await?;
    assert_eq!(lock.into_inner(), 1);
    Ok(())
}

#[scoro::test]
async fn a_notified_condition_wait_returns_ok_even_if_cancelled_before_relocking() -> TestResult {
    // The notification is not lost to a cancellation that arrives while the waiter queues for
    // the lock: `wait` returns Ok, and the next checkpoint reports the cancellation.
    let lock = Lock::new(());
    let c = Condition::new();
    let scope = CancelScope::new();
    let handle = scope.handle();
    let log = RefCell::new(Vec::new());
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let r = scope
                .run(async {
                    let g = lock.lock().await?;
                    let g = c.wait(g).await?;
                    log.borrow_mut().push("notified");
                    drop(g);
                    scoro::checkpoint().await?;
                    log.borrow_mut().push("not reached");
                    Ok::<(), CancelRequested>(())
                })
                .await;
            assert_eq!(r, None);
        });
        wait_all_tasks_blocked().await?;
        let g = lock.lock().await?;
        c.notify_one();
        handle.cancel();
        wait_all_tasks_blocked().await?;
        drop(g);
        Ok(())
    })
    .await?;
    assert_eq!(log.into_inner(), ["notified"]);
    Ok(())
}

/// Waits on a condition that lives shorter than the guard: the guard that comes back keeps
/// the lock's lifetime, not the condition's.
#[structured]
async fn wait_on_a_local_condition<'a>(guard: LockGuard<'a, u32>) -> LockGuard<'a, u32> {
    let cond = Condition::new();
    match cond.wait(guard).await {
        Ok(guard) => guard,
        Err(cancelled) => cancelled.into_guard(),
    }
}

#[scoro::test]
async fn a_cancelled_task_waiting_on_a_condition_keeps_its_lock_throughout() -> TestResult {
    let lock = Lock::new(1);
    let scope = CancelScope::new();
    scope.handle().cancel();
    let guard = scope
        .run(async {
            let guard = lock.try_lock().expect("free");
            // Already cancelled: `wait` returns at once, and never unlocked in between.
            Ok::<_, CancelRequested>(wait_on_a_local_condition(guard).await)
        })
        .await
        .expect("the body returned a value, not a cancellation")?;
    assert_eq!(*guard, 1);
    assert!(lock.is_locked());
    drop(guard);
    assert!(!lock.is_locked());
    Ok(())
}

#[scoro::test]
async fn test_parking_lot_basic() -> TestResult {
    let lot = ParkingLot::new();
    let record = RefCell::new(Vec::new());
    let waiter = |i: u32| {
        let (lot, record) = (&lot, &record);
        async move {
            record.borrow_mut().push(format!("sleep {i}"));
            lot.park().await?;
            record.borrow_mut().push(format!("wake {i}"));
            Ok::<(), CancelRequested>(())
        }
    };

    nursery(async |n| -> Result<(), CancelRequested> {
        assert!(lot.is_empty());
        assert_eq!(lot.len(), 0);
        for i in 0..3 {
            n.start_soon(waiter(i));
        }
        wait_all_tasks_blocked().await?;
        assert_eq!(lot.len(), 3);
        assert!(!lot.is_empty());
        assert_eq!(lot.unpark_all(), 3);
        assert_eq!(lot.len(), 0);
        wait_all_tasks_blocked().await?;
        assert_eq!(
            *record.borrow(),
            [
                "sleep 0", "sleep 1", "sleep 2", "wake 0", "wake 1", "wake 2"
            ]
        );
        Ok(())
    })
    .await?;

    record.borrow_mut().clear();
    nursery(async |n| -> Result<(), CancelRequested> {
        for i in 0..3 {
            n.start_soon(waiter(i));
            wait_all_tasks_blocked().await?;
        }
        assert_eq!(record.borrow().len(), 3);
        for _ in 0..3 {
            lot.unpark(1);
            wait_all_tasks_blocked().await?;
        }
        // One-by-one wakeups are strictly FIFO.
        assert_eq!(
            *record.borrow(),
            [
                "sleep 0", "sleep 1", "sleep 2", "wake 0", "wake 1", "wake 2"
            ]
        );
        Ok(())
    })
    .await?;

    // Unparking with nobody parked is a no-op.
    assert_eq!(lot.unpark(1), 0);
    assert_eq!(lot.unpark(100), 0);

    record.borrow_mut().clear();
    nursery(async |n| -> Result<(), CancelRequested> {
        for i in 0..3 {
            n.start_soon(waiter(i));
            wait_all_tasks_blocked().await?;
        }
        assert_eq!(lot.unpark(2), 2);
        wait_all_tasks_blocked().await?;
        assert_eq!(
            *record.borrow(),
            ["sleep 0", "sleep 1", "sleep 2", "wake 0", "wake 1"]
        );
        lot.unpark_all();
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test]
async fn test_parking_lot_cancel() -> TestResult {
    let lot = ParkingLot::new();
    let record = RefCell::new(Vec::new());
    let handles: RefCell<Vec<CancelHandle>> = RefCell::new(Vec::new());
    nursery(async |n| -> Result<(), CancelRequested> {
        for i in 1..=3 {
            let scope = CancelScope::new();
            handles.borrow_mut().push(scope.handle());
            let (lot, record) = (&lot, &record);
            n.start_soon(async move {
                record.borrow_mut().push(format!("sleep {i}"));
                match scope.run(lot.park()).await {
                    Some(Ok(())) => record.borrow_mut().push(format!("wake {i}")),
                    None => record.borrow_mut().push(format!("cancelled {i}")),
                    Some(Err(_)) => unreachable!("only this task's own scope is cancelled"),
                }
            });
            wait_all_tasks_blocked().await?;
        }
        assert_eq!(record.borrow().len(), 3);
        handles.borrow()[1].cancel();
        wait_all_tasks_blocked().await?;
        assert_eq!(record.borrow().len(), 4);
        assert_eq!(lot.len(), 2);
        lot.unpark_all();
        wait_all_tasks_blocked().await?;
        assert_eq!(record.borrow().len(), 6);
        Ok(())
    })
    .await?;
    let record = record.into_inner();
    assert_eq!(
        record[..4],
        ["sleep 1", "sleep 2", "sleep 3", "cancelled 2"]
    );
    let mut rest = record[4..].to_vec();
    rest.sort();
    assert_eq!(rest, ["wake 1", "wake 3"]);
    Ok(())
}

#[scoro::test]
async fn cancelling_100_000_event_waiters_returns_every_one() -> TestResult {
    const N: usize = 100_000;
    let e = Event::new();
    let cancelled = Cell::new(0usize);
    nursery(async |n| -> Result<(), CancelRequested> {
        for _ in 0..N {
            n.start_soon(async {
                if e.wait().await.is_err() {
                    cancelled.set(cancelled.get() + 1);
                }
            });
        }
        wait_all_tasks_blocked().await?;
        assert_eq!(e.waiting(), N);
        n.cancel();
        Ok(())
    })
    .await?;
    assert_eq!(cancelled.get(), N);
    assert_eq!(e.waiting(), 0);
    Ok(())
}
