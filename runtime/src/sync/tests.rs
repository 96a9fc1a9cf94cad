//! Unit tests of what only the crate's internals can reach: calls torn down by the runtime in
//! the middle of an operation. The behaviour tests (Trio's ports) live in `tests/sync.rs`.

use super::*;
use crate::runtime::seam::TaskRef;
use crate::runtime::seam::spawn;
use crate::testing::{MockClock, wait_all_tasks_blocked};
use crate::{Builder, CoroutineCall, Runtime, checkpoint};
use std::future::Future;
use std::time::Duration;

macro_rules! aw {
    ($e:expr) => {
        $e.inline().await
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

/// Spawns a task outside any nursery, so that a test can tear it down by hand (what the
/// runtime does to tasks when a panic unwinds through their nursery, or at the end of a run).
pub(crate) fn spawn_raw(future: impl Future<Output = ()> + 'static) -> TaskRef {
    spawn::spawn_detached(
        Box::pin(future),
        crate::coroutine::TaskName::new("sync_tests", "raw"),
    )
}

/// Drops a task spawned with [`spawn_raw`] before it finished.
pub(crate) fn tear_down(t: TaskRef) {
    spawn::drop_task(t);
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
fn a_task_torn_down_right_after_taking_a_free_lock_unlocks_it() {
    // The call took the lock at once and stopped at its schedule point; it is dropped before
    // it could return the guard.
    let lock = std::rc::Rc::new(Lock::new(()));
    let (l1, l2) = (lock.clone(), lock.clone());
    rt().run(call(async move {
        let t = spawn_raw(async move {
            let _g = aw!(l2.lock());
        });
        aw!(checkpoint()).unwrap(); // the raw task runs up to its schedule point
        assert!(l1.is_locked());
        tear_down(t);
        assert!(!l1.is_locked());
        assert!(!l1.is_poisoned(), "no guard existed yet");
    }));
    assert!(lock.try_lock().is_some());
}

#[test]
fn semaphore_and_limiter_units_handed_to_torn_down_waiters_are_passed_on() {
    let sem = std::rc::Rc::new(Semaphore::new(0));
    let lim = std::rc::Rc::new(CapacityLimiter::new(0));
    let (s1, s2, c1, c2) = (sem.clone(), sem.clone(), lim.clone(), lim.clone());
    rt().run(call(async move {
        let a = spawn_raw(async move {
            let _p = aw!(s2.acquire());
        });
        let b = spawn_raw(async move {
            let _t = aw!(c2.acquire());
        });
        aw!(wait_all_tasks_blocked()).unwrap();
        s1.add_permits(1);
        c1.set_total_tokens(1);
        assert_eq!((s1.available(), c1.borrowed()), (0, 1));
        tear_down(a);
        tear_down(b);
        assert_eq!((s1.available(), c1.borrowed()), (1, 0));
    }));
}
