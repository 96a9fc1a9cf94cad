//! Unit tests of the primitives that need the crate's internals (tear-down paths), plus quick
//! checks written without the macro. The Trio ports live in `tests/sync.rs`.

use super::*;
use crate::nursery::nursery_trusted;
use crate::runtime::context;
use crate::runtime::core::TaskRef;
use crate::testing::{MockClock, wait_all_tasks_blocked};
use crate::{Builder, CancelScope, CoroutineCall, ErrorGroup, Runtime, checkpoint};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::time::Duration;

macro_rules! aw {
    ($e:expr) => {
        $e.into_parts().0.await
    };
}

fn call<F: Future>(f: F) -> CoroutineCall<F> {
    CoroutineCall::internal(f, "sync_tests", "call")
}

fn rt() -> Runtime {
    Builder::new()
        .clock(MockClock::autojump(Duration::ZERO))
        .build()
        .unwrap()
}

type Res = Result<(), ErrorGroup<CancelRequested>>;

#[test]
fn lock_hands_over_and_the_releaser_cannot_barge_back_in() {
    let lock = Lock::new(Vec::new());
    let r: Res = rt().run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                let lock = &lock;
                let mut guard = aw!(lock.lock())?;
                guard.push("main");
                n.start_soon(call(async move {
                    aw!(lock.lock())?.push("child");
                    Ok::<(), CancelRequested>(())
                }));
                aw!(wait_all_tasks_blocked())?;
                assert_eq!(lock.waiting(), 1);
                drop(guard);
                // Handed to the child: still locked, and we cannot take it back.
                assert!(lock.is_locked());
                assert_eq!(lock.waiting(), 0);
                assert!(lock.try_lock().is_none());
                aw!(lock.lock())?.push("main again");
                Ok(())
            }
        )))
    }));
    r.unwrap();
    assert_eq!(lock.into_inner(), ["main", "child", "main again"]);
}

/// Spawns a task outside any nursery, so that a test can tear it down by hand (what the
/// runtime does to tasks when a panic unwinds through their nursery, or at the end of a run).
pub(crate) fn spawn_raw(future: impl Future<Output = ()> + 'static) -> TaskRef {
    context::with_core(|core| {
        core.spawn(
            Box::pin(future),
            core.root_status,
            crate::coroutine::TaskName::new("sync_tests", "raw"),
            crate::cancel::status::NONE,
        )
    })
}

/// Drops a task spawned with [`spawn_raw`] before it finished.
pub(crate) fn tear_down(t: TaskRef) {
    context::with_core(|core| core.drop_task(t));
}

#[test]
fn a_task_torn_down_while_holding_a_lock_poisons_it_and_unlocks() {
    let lock = std::rc::Rc::new(Lock::new(0));
    let (l1, l2) = (lock.clone(), lock.clone());
    rt().run(call(async move {
        let lock = l1;
        let t = spawn_raw(async move {
            let mut g = aw!(l2.lock()).unwrap();
            *g = 1;
            let _ = aw!(crate::sleep_forever());
        });
        aw!(wait_all_tasks_blocked()).unwrap();
        assert!(lock.is_locked());
        tear_down(t);
    }));
    assert!(!lock.is_locked());
    assert!(lock.is_poisoned(), "its critical section was cut short");
    assert_eq!(*lock.try_lock().unwrap(), 1);
}

#[test]
fn a_waiter_handed_the_lock_but_torn_down_before_collecting_passes_it_on() {
    let lock = std::rc::Rc::new(Lock::new(Vec::new()));
    let (l2, l3) = (lock.clone(), lock.clone());
    rt().run(call(async move {
        let g = aw!(lock.lock()).unwrap();
        let first = spawn_raw(async move {
            aw!(l2.lock()).unwrap().push("first");
        });
        let _second = spawn_raw(async move {
            aw!(l3.lock()).unwrap().push("second");
        });
        aw!(wait_all_tasks_blocked()).unwrap();
        assert_eq!(lock.waiting(), 2);
        drop(g); // handed to `first`, which has not run yet
        tear_down(first); // ... and never will: the lock goes on to `second`
        assert!(lock.is_locked());
        assert_eq!(lock.waiting(), 0);
        aw!(wait_all_tasks_blocked()).unwrap();
        assert!(!lock.is_locked());
        assert!(
            !lock.is_poisoned(),
            "nobody was torn down while holding a guard"
        );
        assert_eq!(*lock.try_lock().unwrap(), ["second"]);
    }));
}

#[test]
fn a_condition_waiter_torn_down_after_notify_leaves_the_lock_usable() {
    let lock = std::rc::Rc::new(Lock::new(()));
    let cond = std::rc::Rc::new(Condition::new());
    let (l2, c2) = (lock.clone(), cond.clone());
    rt().run(call(async move {
        let t = spawn_raw(async move {
            let g = aw!(l2.lock()).unwrap();
            let _g = aw!(c2.wait(g));
        });
        aw!(wait_all_tasks_blocked()).unwrap();
        let g = aw!(lock.lock()).unwrap();
        cond.notify_all();
        assert_eq!(lock.waiting(), 1);
        drop(g); // handed to the notified waiter
        tear_down(t);
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
        assert_eq!(cond.waiting(), 0);
    }));
}

#[test]
fn a_guard_dropped_by_a_panic_poisons_and_the_lock_keeps_working() {
    let lock = Lock::new(0);
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt().run(call(async {
            let mut g = aw!(lock.lock()).unwrap();
            *g = 5;
            panic!("in the critical section");
        }))
    }));
    assert!(out.is_err());
    assert!(lock.is_poisoned());
    assert!(!lock.is_locked());
    let g = lock.try_lock().expect("a poisoned lock still locks");
    assert!(g.is_poisoned());
    assert_eq!(*g, 5);
    drop(g);
    assert!(
        lock.is_poisoned(),
        "dropping normally does not clear poison"
    );
    lock.clear_poison();
    assert!(!lock.is_poisoned());
}

#[test]
fn a_waiter_handed_the_lock_keeps_it_when_its_nursery_is_cancelled_by_a_panic() {
    // Hand the lock to a waiter, then drop that waiter's task before it runs (tear-down of
    // its nursery by a panic in the body): the lock must go on to the next waiter or be freed.
    let lock = Lock::new(());
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt().run(call(async {
            let _ = aw!(call(nursery_trusted(
                async |n| -> Result<(), CancelRequested> {
                    let lock = &lock;
                    let g = aw!(lock.lock())?;
                    n.start_soon(call(async move {
                        let _g = aw!(lock.lock())?;
                        Ok::<(), CancelRequested>(())
                    }));
                    aw!(wait_all_tasks_blocked())?;
                    drop(g); // handed to the child, which has not run yet
                    assert!(lock.is_locked());
                    panic!("body fails before the child collects the lock");
                }
            )));
        }))
    }));
    assert!(out.is_err());
    assert!(!lock.is_locked(), "the uncollected lock was released");
    assert!(lock.try_lock().is_some());
}

#[test]
fn event_wait_is_a_checkpoint_even_when_set() {
    let e = Event::new();
    e.set();
    let log = RefCell::new(Vec::new());
    let r: Res = rt().run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                let log = &log;
                n.start_soon(call(async move {
                    log.borrow_mut().push("sibling");
                }));
                aw!(e.wait())?;
                log.borrow_mut().push("after wait");
                let scope = CancelScope::new();
                scope.handle().cancel();
                let r = aw!(scope.run(e.wait()));
                assert_eq!(
                    r, None,
                    "a cancelled wait fails even though the event is set"
                );
                Ok(())
            }
        )))
    }));
    r.unwrap();
    assert_eq!(log.into_inner(), ["sibling", "after wait"]);
}

#[test]
fn condition_notified_waiter_is_queued_on_the_lock_before_later_lockers() {
    let lock = Lock::new(Vec::new());
    let cond = Condition::new();
    let r: Res = rt().run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                let (lock, cond) = (&lock, &cond);
                n.start_soon(call(async move {
                    let g = aw!(lock.lock())?;
                    let mut g = aw!(cond.wait(g))?;
                    g.push("waiter");
                    Ok::<(), CancelRequested>(())
                }));
                aw!(wait_all_tasks_blocked())?;
                let g = aw!(lock.lock())?;
                cond.notify_one();
                assert_eq!((cond.waiting(), lock.waiting()), (0, 1));
                n.start_soon(call(async move {
                    aw!(lock.lock())?.push("late locker");
                    Ok::<(), CancelRequested>(())
                }));
                aw!(wait_all_tasks_blocked())?;
                assert_eq!(lock.waiting(), 2);
                drop(g);
                Ok(())
            }
        )))
    }));
    r.unwrap();
    assert_eq!(lock.into_inner(), ["waiter", "late locker"]);
}

#[test]
fn cancelled_condition_wait_reacquires_and_returns_the_guard() {
    let lock = Lock::new(0);
    let cond = Condition::new();
    let r: Res = rt().run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                let (lock, cond) = (&lock, &cond);
                let scope = CancelScope::new();
                let h = scope.handle();
                n.start_soon(call(async move {
                    let r = aw!(scope.run(call(async move {
                        let g = aw!(lock.lock())?;
                        let e = match aw!(cond.wait(g)) {
                            Ok(_) => panic!("not notified"),
                            Err(e) => e,
                        };
                        assert!(lock.is_locked());
                        let (mut g, c) = e.into_parts();
                        *g += 1;
                        Err::<(), _>(c)
                    })));
                    assert_eq!(r, None);
                }));
                aw!(wait_all_tasks_blocked())?;
                // Hold the lock while cancelling: the waiter must wait for it uncancellably.
                let g = aw!(lock.lock())?;
                h.cancel();
                aw!(wait_all_tasks_blocked())?;
                assert_eq!(lock.waiting(), 1);
                assert_eq!(*g, 0);
                drop(g);
                aw!(wait_all_tasks_blocked())?;
                assert!(!lock.is_locked());
                Ok(())
            }
        )))
    }));
    r.unwrap();
    assert_eq!(lock.into_inner(), 1);
}

#[test]
fn capacity_limiter_raising_total_wakes_waiters_in_order() {
    let c = CapacityLimiter::new(1);
    let order = RefCell::new(Vec::new());
    let r: Res = rt().run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                let (c, order) = (&c, &order);
                let first = aw!(c.acquire())?;
                for i in 0..3 {
                    n.start_soon(call(async move {
                        let _t = aw!(c.acquire())?;
                        order.borrow_mut().push(i);
                        aw!(crate::sleep_forever())?;
                        Ok::<(), CancelRequested>(())
                    }));
                }
                aw!(wait_all_tasks_blocked())?;
                assert_eq!(c.waiting(), 3);
                c.set_total_tokens(3);
                assert_eq!((c.borrowed(), c.waiting()), (3, 1));
                aw!(wait_all_tasks_blocked())?;
                assert_eq!(*order.borrow(), [0, 1]);
                drop(first);
                aw!(wait_all_tasks_blocked())?;
                assert_eq!(*order.borrow(), [0, 1, 2]);
                n.cancel();
                Ok(())
            }
        )))
    }));
    r.unwrap();
    assert_eq!(c.borrowed(), 0);
}

#[test]
fn semaphore_release_goes_to_the_waiter() {
    let s = Semaphore::new(1);
    let r: Res = rt().run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                let s = &s;
                aw!(s.acquire())?.forget();
                n.start_soon(call(async move {
                    aw!(s.acquire())?.forget();
                    Ok::<(), CancelRequested>(())
                }));
                aw!(wait_all_tasks_blocked())?;
                s.add_permits(1);
                assert_eq!(s.available(), 0);
                assert!(s.try_acquire().is_none());
                Ok(())
            }
        )))
    }));
    r.unwrap();
    assert_eq!(s.available(), 0);
}

#[test]
fn many_event_waiters_cancelled_all_return() {
    const N: usize = 100_000;
    let e = Event::new();
    let cancelled = Cell::new(0usize);
    let mut rt = Builder::new().build().unwrap();
    let r: Res = rt.run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                let (e, cancelled) = (&e, &cancelled);
                for _ in 0..N {
                    n.start_soon(call(async move {
                        if aw!(e.wait()).is_err() {
                            cancelled.set(cancelled.get() + 1);
                        }
                    }));
                }
                aw!(wait_all_tasks_blocked())?;
                assert_eq!(e.waiting(), N);
                n.cancel();
                Ok(())
            }
        )))
    }));
    r.unwrap();
    assert_eq!(cancelled.get(), N);
    assert_eq!(e.waiting(), 0);
}

#[test]
fn lock_exclusion_under_checkpoints() {
    let lock = Lock::new(());
    let inside = Cell::new(false);
    let acquires = Cell::new(0);
    let r: Res = rt().run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                for _ in 0..5 {
                    let (lock, inside, acquires) = (&lock, &inside, &acquires);
                    n.start_soon(call(async move {
                        for _ in 0..10 {
                            let _g = aw!(lock.lock())?;
                            acquires.set(acquires.get() + 1);
                            assert!(!inside.replace(true));
                            aw!(checkpoint())?;
                            aw!(checkpoint())?;
                            assert!(inside.replace(false));
                        }
                        Ok::<(), CancelRequested>(())
                    }));
                }
                Ok(())
            }
        )))
    }));
    r.unwrap();
    assert_eq!(acquires.get(), 50);
}
