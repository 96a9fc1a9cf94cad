//! Scheduler smoke tests written without the macro (the crate's own futures awaited directly).

use crate::nursery::nursery_trusted;
use crate::testing::MockClock;
use crate::{
    Builder, CancelRequested, CoroutineCall, ErrorGroup, Runtime, TaskStatus, checkpoint,
    current_time, join_all, move_on_after, race, sleep, sleep_forever,
};
use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

macro_rules! aw {
    ($e:expr) => {
        $e.inline().await
    };
}

fn call<F: Future>(f: F) -> CoroutineCall<F> {
    CoroutineCall::internal(f, "smoke", "call")
}

fn mock_rt() -> (Runtime, MockClock) {
    let clock = MockClock::autojump(Duration::ZERO);
    (Builder::new().clock(clock.clone()).build().unwrap(), clock)
}

#[test]
fn sleep_under_autojump_advances_mock_time() {
    let (mut rt, _clock) = mock_rt();
    let elapsed = rt.run(call(async {
        let t0 = current_time();
        aw!(sleep(Duration::from_secs(3600))).unwrap();
        current_time() - t0
    }));
    assert_eq!(elapsed, Duration::from_secs(3600));
}

#[test]
fn children_run_concurrently_and_in_deadline_order() {
    let (mut rt, _clock) = mock_rt();
    let log = RefCell::new(Vec::new());
    let r: Result<(), ErrorGroup<CancelRequested>> = rt.run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                for (name, secs) in [("c", 3), ("a", 1), ("b", 2)] {
                    let log = &log;
                    n.start_soon(call(async move {
                        aw!(sleep(Duration::from_secs(secs)))?;
                        log.borrow_mut().push(name);
                        Ok::<(), CancelRequested>(())
                    }));
                }
                Ok(())
            }
        )))
    }));
    r.unwrap();
    assert_eq!(log.into_inner(), ["a", "b", "c"]);
}

#[test]
fn move_on_after_cancels_a_sleep_and_returns_none() {
    let (mut rt, _clock) = mock_rt();
    let (outcome, elapsed) = rt.run(call(async {
        let t0 = current_time();
        let r = aw!(move_on_after(
            Duration::from_secs(5),
            sleep(Duration::from_secs(10))
        ));
        (r, current_time() - t0)
    }));
    assert_eq!(outcome, None);
    assert_eq!(elapsed, Duration::from_secs(5));
}

#[test]
fn a_child_error_cancels_the_sibling_and_is_reported_once() {
    let (mut rt, _clock) = mock_rt();
    let cleaned = RefCell::new(false);
    let r: Result<(), ErrorGroup<std::io::Error>> = rt.run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), std::io::Error> {
                let cleaned = &cleaned;
                n.start_soon(call(async move {
                    let r = aw!(sleep_forever());
                    *cleaned.borrow_mut() = true;
                    r?;
                    Ok::<(), std::io::Error>(())
                }));
                n.start_soon(call(async {
                    aw!(sleep(Duration::from_secs(1))).unwrap();
                    Err::<(), _>(std::io::Error::other("boom"))
                }));
                Ok(())
            }
        )))
    }));
    let g = r.unwrap_err();
    assert_eq!(
        g.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        ["boom"]
    );
    assert!(cleaned.into_inner());
}

#[test]
fn a_child_panic_reaches_run_after_siblings_cleaned_up() {
    let (mut rt, _clock) = mock_rt();
    let cleaned = RefCell::new(false);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.run(call(async {
            let _ = aw!(call(nursery_trusted(
                async |n| -> Result<(), CancelRequested> {
                    let cleaned = &cleaned;
                    n.start_soon(call(async move {
                        let _ = aw!(sleep_forever());
                        *cleaned.borrow_mut() = true;
                    }));
                    n.start_soon(call(async {
                        aw!(sleep(Duration::from_secs(1))).unwrap();
                        if true {
                            panic!("child exploded");
                        }
                    }));
                    Ok(())
                }
            )));
        }))
    }));
    let p = r.unwrap_err();
    assert_eq!(p.downcast_ref::<&str>(), Some(&"child exploded"));
    assert!(cleaned.into_inner());
}

#[test]
fn start_returns_the_started_value_and_keeps_the_child() {
    let (mut rt, _clock) = mock_rt();
    let log = RefCell::new(Vec::new());
    let r: Result<u32, ErrorGroup<CancelRequested>> = rt.run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<u32, CancelRequested> {
                let log = &log;
                let v = aw!(n.start(|status: TaskStatus<u32>| call(async move {
                    log.borrow_mut().push("setup");
                    status.started(7);
                    aw!(sleep(Duration::from_secs(1)))?;
                    log.borrow_mut().push("child done");
                    Ok::<(), CancelRequested>(())
                })))?;
                log.borrow_mut().push("start returned");
                Ok(v)
            }
        )))
    }));
    assert_eq!(r.unwrap(), 7);
    assert_eq!(log.into_inner(), ["setup", "start returned", "child done"]);
}

#[test]
fn join_all_and_race() {
    let (mut rt, _clock) = mock_rt();
    let (all, first) = rt.run(call(async {
        let mk = |ms: u64| {
            call(async move {
                aw!(sleep(Duration::from_millis(ms)))?;
                Ok::<u64, CancelRequested>(ms)
            })
        };
        let all = aw!(join_all([mk(30), mk(10), mk(20)])).unwrap();
        let first = aw!(race([mk(30), mk(10), mk(20)])).unwrap();
        (all, first)
    }));
    assert_eq!(all, vec![30, 10, 20]);
    assert_eq!(first, 10);
}

/// Fewer under miri, which is slow.
const CHILDREN: u32 = if cfg!(miri) { 300 } else { 10_000 };

#[test]
fn many_children_real_clock() {
    let mut rt = Builder::new().build().unwrap();
    let count = std::cell::Cell::new(0u32);
    let r: Result<(), ErrorGroup<CancelRequested>> = rt.run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                for _ in 0..CHILDREN {
                    let count = &count;
                    n.start_soon(call(async move {
                        aw!(checkpoint())?;
                        count.set(count.get() + 1);
                        Ok::<(), CancelRequested>(())
                    }));
                }
                Ok(())
            }
        )))
    }));
    r.unwrap();
    assert_eq!(count.get(), CHILDREN);
}

/// On the real clock a relative deadline is resolved lazily; it must still fire, never early,
/// both for a blocked task and for one that keeps checkpointing.
#[test]
fn real_clock_timeouts_fire_and_are_never_early() {
    let mut rt = Builder::new().build().unwrap();
    let (blocked, spinning) = rt.run(call(async {
        let t0 = std::time::Instant::now();
        let r = aw!(move_on_after(Duration::from_millis(5), sleep_forever()));
        assert!(r.is_none());
        let blocked = t0.elapsed();
        let t1 = std::time::Instant::now();
        let r = aw!(move_on_after(
            Duration::from_millis(5),
            call(async {
                loop {
                    aw!(checkpoint())?;
                }
                #[allow(unreachable_code)]
                Ok::<(), CancelRequested>(())
            })
        ));
        assert!(r.is_none());
        (blocked, t1.elapsed())
    }));
    assert!(blocked >= Duration::from_millis(5), "{blocked:?}");
    assert!(spinning >= Duration::from_millis(5), "{spinning:?}");
}

/// A panicking `run_sync_soon` callback shuts the run down cleanly, then the panic reaches
/// `run`'s caller.
#[test]
fn a_panicking_injected_callback_cancels_everything_then_resumes() {
    let mut rt = Builder::new().build().unwrap();
    let cleaned = std::rc::Rc::new(RefCell::new(None));
    let seen = cleaned.clone();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.run(call(async move {
            let handle = crate::lowlevel::RuntimeHandle::current();
            std::thread::spawn(move || {
                handle.run_sync_soon(|| panic!("callback bug")).unwrap();
            });
            let r = aw!(sleep_forever());
            *seen.borrow_mut() = Some(r.unwrap_err().reason());
        }))
    }));
    assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"callback bug"));
    assert_eq!(*cleaned.borrow(), Some(crate::CancelReason::Shutdown));
}
