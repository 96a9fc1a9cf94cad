//! Ports of Trio's `_core/_tests/test_run.py` (nurseries, errors, cancel scopes, shielding,
//! `start`/`started`): each test is named after the Trio test it reproduces.
//!
//! Mapping: a Trio exception raised by a task is an `Err` the task returns; Trio's
//! `ExceptionGroup` is `ErrorGroup`; `Cancelled` is `Err(CancelRequested)`; a scope "catching"
//! is `CancelScope::run` returning `None`. A Python exception that is not an error value (a
//! bug) is a panic.

use scoro::lowlevel::current_task;
use scoro::testing::{MockClock, wait_all_tasks_blocked};
use scoro::{
    Builder, CancelHandle, CancelReason, CancelRequested, CancelScope, CoroutineCall, ErrorGroup,
    MaybeCancelled, Nursery, TaskStatus, checkpoint, checkpoint_if_cancelled,
    current_effective_deadline, current_time, nursery, sleep, sleep_forever, structured,
};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

mod common;
use common::yields;

/// Trio's "some exception" (`KeyError`, `ValueError`) next to a cancellation, in one error
/// type that nurseries can filter.
#[derive(Clone, Debug, PartialEq)]
enum TestError {
    Cancelled(CancelRequested),
    Value(&'static str),
}

impl From<CancelRequested> for TestError {
    fn from(c: CancelRequested) -> Self {
        TestError::Cancelled(c)
    }
}

impl MaybeCancelled for TestError {
    fn is_cancel_requested(&self) -> bool {
        matches!(self, TestError::Cancelled(_))
    }
}

type Log = RefCell<Vec<&'static str>>;

fn push(log: &Log, entry: &'static str) {
    log.borrow_mut().push(entry);
}

fn entries(log: &Log) -> Vec<&'static str> {
    log.borrow().clone()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Runs `call` on a runtime with a manual mock clock.
fn run_with_clock<F: Future>(clock: &MockClock, call: CoroutineCall<F>) -> F::Output {
    Builder::new()
        .clock(clock.clone())
        .build()
        .unwrap()
        .run(call)
}

/// Runs `call` on a runtime with an autojumping mock clock.
fn run_autojump<F: Future>(call: CoroutineCall<F>) -> F::Output {
    run_with_clock(&MockClock::autojump(Duration::ZERO), call)
}

/// The message of a caught panic.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".to_owned()
    }
}

#[structured]
async fn fail_with(msg: &'static str) -> Result<(), TestError> {
    Err(TestError::Value(msg))
}

#[structured]
async fn sleep_forever_logged(log: &Log, name: &'static str) -> Result<(), TestError> {
    let Err(c) = sleep_forever().await;
    push(log, name);
    Err(c.into())
}

// ----- nurseries and errors ------------------------------------------------------------------

// Trio: a child's exception leaves the nursery inside an ExceptionGroup. Here the child's `Err`
// is the one member of the nursery's `ErrorGroup`.
#[scoro::test]
async fn test_child_crash_basic() {
    let r = nursery(async |n| -> Result<(), TestError> {
        n.start_soon(fail_with("boom"));
        Ok(())
    })
    .await;
    assert_eq!(r.unwrap_err().into_vec(), [TestError::Value("boom")]);
}

#[structured]
async fn panicking_parent(log: &Log) {
    struct OnDrop<'a>(&'a Log);
    impl Drop for OnDrop<'_> {
        fn drop(&mut self) {
            push(self.0, "parent unwound");
        }
    }
    let _guard = OnDrop(log);
    let _ = nursery(async |n| -> Result<(), TestError> {
        n.start_soon(async {
            let r = sleep_forever().await;
            push(log, "sibling cleaned up");
            r?;
            Ok::<(), TestError>(())
        });
        n.start_soon(async {
            sleep(secs(1)).await?;
            if log.borrow().is_empty() {
                panic!("child exploded");
            }
            Ok::<(), TestError>(())
        });
        Ok(())
    })
    .await;
    push(log, "parent carried on");
}

// Trio: a child's exception propagates out of the nursery into the parent. A Rust child panic
// cancels its sibling, waits for it, then resumes in the parent (whose code after the nursery
// never runs) and reaches `run`'s caller.
#[test]
fn test_child_crash_basic_panic() {
    let log = Log::default();
    let p = catch_unwind(AssertUnwindSafe(|| run_autojump(panicking_parent(&log)))).unwrap_err();
    assert_eq!(panic_message(&*p), "child exploded");
    assert_eq!(entries(&log), ["sibling cleaned up", "parent unwound"]);
}

// Trio: an exception in the nursery body is wrapped in the group like a child's.
#[scoro::test]
async fn test_nursery_main_block_error_basic() {
    let r = nursery(async |_n| -> Result<(), TestError> { Err(TestError::Value("body")) }).await;
    assert_eq!(r.unwrap_err().into_vec(), [TestError::Value("body")]);
}

#[structured]
async fn looper(log: &Log, reason: &Cell<Option<CancelReason>>) -> Result<(), TestError> {
    loop {
        if let Err(c) = checkpoint().await {
            reason.set(Some(c.reason()));
            push(log, "looper cancelled");
            return Err(c.into());
        }
    }
}

// Trio: a crashing child cancels its looping sibling; the group holds only the real error, not
// the sibling's cancellation.
#[scoro::test]
async fn test_task_crash_propagation() {
    let log = Log::default();
    let reason = Cell::new(None);
    let r = nursery(async |n| -> Result<(), TestError> {
        n.start_soon(looper(&log, &reason));
        n.start_soon(fail_with("argh"));
        Ok(())
    })
    .await;
    assert_eq!(r.unwrap_err().into_vec(), [TestError::Value("argh")]);
    assert_eq!(entries(&log), ["looper cancelled"]);
    assert_eq!(reason.get(), Some(CancelReason::SiblingFailed));
}

// Trio: the body and a child both raise; both end up in one group. Here the child fails first,
// the body sees the cancellation and then fails with an error of its own: order kept.
#[scoro::test]
async fn test_main_and_task_both_crash() {
    let r = nursery(async |n| -> Result<(), TestError> {
        n.start_soon(fail_with("child"));
        let Err(c) = sleep_forever().await;
        assert_eq!(c.reason(), CancelReason::SiblingFailed);
        Err(TestError::Value("main"))
    })
    .await;
    assert_eq!(
        r.unwrap_err().into_vec(),
        [TestError::Value("child"), TestError::Value("main")]
    );
}

#[structured]
async fn fail_after_cancel(msg: &'static str) -> Result<(), TestError> {
    let Err(_) = sleep_forever().await;
    Err(TestError::Value(msg))
}

// Trio: two children crash; both errors are in the group. One crashes at once, the other
// crashes while it unwinds from the cancellation that caused: both kept, in that order.
#[scoro::test]
async fn test_two_child_crashes() {
    let r = nursery(async |n| -> Result<(), TestError> {
        n.start_soon(fail_after_cancel("second"));
        n.start_soon(fail_with("first"));
        Ok(())
    })
    .await;
    assert_eq!(
        r.unwrap_err().into_vec(),
        [TestError::Value("first"), TestError::Value("second")]
    );
    // Two children that crash at once (no checkpoint): both kept.
    let r = nursery(async |n| -> Result<(), TestError> {
        n.start_soon(fail_with("a"));
        n.start_soon(fail_with("b"));
        Ok(())
    })
    .await;
    let mut errors = r.unwrap_err().into_vec();
    errors.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(errors, [TestError::Value("a"), TestError::Value("b")]);
}

// Trio: a child crash cancels the parent blocked in the nursery body.
#[scoro::test]
async fn test_child_crash_wakes_parent() {
    let woke = Cell::new(None);
    let r = nursery(async |n| -> Result<(), TestError> {
        n.start_soon(async {
            sleep(secs(0)).await?;
            Err::<(), _>(TestError::Value("crash"))
        });
        let Err(c) = sleep_forever().await;
        woke.set(Some(c.reason()));
        Err(c.into())
    })
    .await;
    assert_eq!(woke.get(), Some(CancelReason::SiblingFailed));
    assert_eq!(r.unwrap_err().into_vec(), [TestError::Value("crash")]);
}

// Trio: scopes strip the cancellations they own from groups; the KeyError survives all of them.
// Two children are cancelled by the nursery itself, one more after the enclosing scope is
// cancelled too, and one crashes: the outer scope gets a group holding only the real error.
#[scoro::test]
async fn test_cancel_scope_exceptiongroup_filtering() {
    let log = Log::default();
    let outer = CancelScope::new();
    let outer_handle = outer.handle();
    let r = outer
        .run(nursery(async |n| -> Result<(), TestError> {
            n.start_soon(sleep_forever_logged(&log, "t1"));
            n.start_soon(sleep_forever_logged(&log, "t2"));
            n.cancel();
            CancelScope::new()
                .with_shield(true)
                .run(wait_all_tasks_blocked())
                .await
                .unwrap()?;
            n.start_soon(sleep_forever_logged(&log, "t3"));
            outer_handle.cancel();
            n.start_soon(fail_with("KeyError"));
            Ok(())
        }))
        .await;
    let group = r.expect("a real error is not caught").unwrap_err();
    assert_eq!(group.into_vec(), [TestError::Value("KeyError")]);
    let mut cancelled = entries(&log);
    cancelled.sort();
    assert_eq!(cancelled, ["t1", "t2", "t3"]);
    assert!(outer_handle.cancel_called());
    assert!(!outer_handle.cancelled_caught());

    // The same cancellations without the crasher: the nursery passes one cancellation up (it
    // did not cause it) and the enclosing scope catches it.
    let outer = CancelScope::new();
    let outer_handle = outer.handle();
    let r = outer
        .run(nursery(async |n| -> Result<(), TestError> {
            n.start_soon(sleep_forever_logged(&log, "t4"));
            n.start_soon(sleep_forever_logged(&log, "t5"));
            wait_all_tasks_blocked().await?;
            outer_handle.cancel();
            Ok(())
        }))
        .await;
    assert!(r.is_none());
    assert!(outer_handle.cancelled_caught());

    // And cancelled by the nursery only: nothing is an error.
    let r = nursery(async |n| -> Result<u32, TestError> {
        n.start_soon(sleep_forever_logged(&log, "t6"));
        wait_all_tasks_blocked().await?;
        n.cancel();
        Ok(7)
    })
    .await;
    assert_eq!(r, Ok(7));
}

// Trio: a task spawned into an already-cancelled nursery still starts, and gets the
// cancellation at its first checkpoint.
#[scoro::test]
async fn test_precancelled_task() {
    let log = Log::default();
    let seen = Cell::new(None);
    let r = nursery(async |n| -> Result<(), TestError> {
        n.cancel();
        n.start_soon(async {
            push(&log, "started");
            let Err(c) = sleep_forever().await;
            seen.set(Some(c));
            Err::<(), TestError>(c.into())
        });
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(entries(&log), ["started"]);
    assert_eq!(seen.get().map(|c| c.reason()), Some(CancelReason::Explicit));
}

#[structured]
async fn child1<'s>(n: &'s Nursery<'s, '_, TestError>, log: &'s Log) -> Result<(), TestError> {
    sleep(secs(1)).await?;
    push(log, "child1 starts child2");
    n.start_soon(async move {
        push(log, "child2");
        Ok::<(), TestError>(())
    });
    Ok(())
}

// Trio: `start_soon` still works while the nursery waits for its children at exit (closing it
// to new arrivals afterwards is a compile error here, see the ui case
// `nursery-escapes-its-body`).
#[scoro::test(autojump)]
async fn test_nursery_closure() {
    let log = Log::default();
    let r = nursery(async |n| -> Result<(), TestError> {
        n.start_soon(child1(n, &log));
        push(&log, "body done");
        Ok(())
    })
    .await;
    push(&log, "nursery done");
    assert_eq!(r, Ok(()));
    assert_eq!(
        entries(&log),
        [
            "body done",
            "child1 starts child2",
            "child2",
            "nursery done"
        ]
    );
}

// Trio: opening and closing a nursery in a cancelled scope is a schedule point but not a cancel
// point (a nursery is never the source of a cancellation); an error from the body still comes
// out.
#[scoro::test]
async fn test_trivial_yields() {
    let other_ran = Cell::new(false);
    let r = nursery(async |n| -> Result<(), TestError> {
        n.start_soon(async {
            other_ran.set(true);
        });
        let scope = CancelScope::new();
        let handle = scope.handle();
        handle.cancel();
        assert!(!other_ran.get());
        let r = scope
            .run(nursery(async |_inner| -> Result<(), TestError> { Ok(()) }))
            .await;
        assert_eq!(r, Some(Ok(())), "an empty nursery is not a cancel point");
        assert!(!handle.cancelled_caught());
        assert!(other_ran.get(), "an empty nursery is a schedule point");

        // A child without checkpoints does not make it one either.
        let scope = CancelScope::new();
        let handle = scope.handle();
        handle.cancel();
        let r = scope
            .run(nursery(async |inner| -> Result<(), TestError> {
                inner.start_soon(async {});
                Ok(())
            }))
            .await;
        assert_eq!(r, Some(Ok(())));
        assert!(!handle.cancelled_caught());

        // A real error from the body still comes out of a cancelled scope.
        let scope = CancelScope::new();
        scope.handle().cancel();
        let r = scope
            .run(nursery(async |_inner| -> Result<(), TestError> {
                Err(TestError::Value("KeyError"))
            }))
            .await;
        assert_eq!(
            r.map(|g| g.map_err(ErrorGroup::into_vec)),
            Some(Err(vec![TestError::Value("KeyError")]))
        );
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
}

// ----- start / started --------------------------------------------------------------------

#[structured]
async fn sleep_then_start(seconds: u64, status: TaskStatus<u64>) -> Result<(), TestError> {
    sleep(secs(seconds)).await?;
    status.started(seconds);
    sleep(secs(seconds)).await?;
    Ok(())
}

// Trio test_nursery_start, happy path: `start` waits for `started`, hands back its value, and
// the nursery then waits for the task to finish.
#[scoro::test(autojump)]
async fn test_nursery_start() {
    for seconds in [1, 2] {
        let t0 = current_time();
        let r = nursery(async |n| -> Result<(), TestError> {
            let v = n.start(|status| sleep_then_start(seconds, status)).await?;
            assert_eq!(v, seconds);
            assert_eq!(current_time() - t0, secs(seconds));
            Ok(())
        })
        .await;
        assert_eq!(r, Ok(()));
        assert_eq!(current_time() - t0, secs(2 * seconds));
    }
}

#[structured]
async fn raise_keyerror(_status: TaskStatus<()>) -> Result<(), TestError> {
    checkpoint().await?;
    Err(TestError::Value("oops"))
}

// Trio test_nursery_start and test_trio_run_strict_before_started: an error before `started`
// comes out of `start` itself, unwrapped (`Result<V, E>`, not a group), and is not an error of
// the nursery.
#[scoro::test]
async fn test_nursery_start_error_before_started() {
    let r = nursery(async |n| -> Result<(), TestError> {
        let e: TestError = n.start(raise_keyerror).await.unwrap_err();
        assert_eq!(e, TestError::Value("oops"));
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
}

#[structured]
async fn nothing(_status: TaskStatus<()>) -> Result<(), TestError> {
    Ok(())
}

#[structured]
async fn start_nothing() {
    let _ = nursery(async |n| -> Result<(), TestError> {
        n.start(nothing).await?;
        Ok(())
    })
    .await;
}

// Trio test_nursery_start: a task that returns without calling `started` is a bug
// (RuntimeError); here `start` panics, naming the function.
#[test]
fn test_nursery_start_without_started_panics() {
    let p = catch_unwind(|| scoro::run(start_nothing())).unwrap_err();
    let msg = panic_message(&*p);
    assert!(
        msg.contains("trio_run::nothing") && msg.contains("without calling `TaskStatus::started`"),
        "{msg}"
    );
}

#[structured]
async fn just_started(status: TaskStatus<&'static str>) -> Result<(), TestError> {
    status.started("hi");
    checkpoint().await?;
    Ok(())
}

#[structured]
async fn started_with_no_checkpoint(status: TaskStatus<()>) -> Result<(), TestError> {
    status.started(());
    Ok(())
}

#[structured]
async fn raise_keyerror_after_started(status: TaskStatus<()>) -> Result<(), TestError> {
    status.started(());
    Err(TestError::Value("whoopsiedaisy"))
}

// Trio test_nursery_start: when the caller of `start` is cancelled, `started` leaves the task
// under `start`, which then reports how the task ended: its cancellation, its value when it
// finished without a checkpoint, or its error after `started`.
#[scoro::test]
async fn test_nursery_start_cancelled() {
    let r = nursery(async |n| -> Result<(), TestError> {
        let scope = CancelScope::new();
        let handle = scope.handle();
        handle.cancel();
        let r = scope.run(n.start(just_started)).await;
        assert_eq!(
            r, None,
            "the cancellation came out of `start` and was caught"
        );
        assert!(handle.cancelled_caught());

        let scope = CancelScope::new();
        let handle = scope.handle();
        handle.cancel();
        let r = scope.run(n.start(started_with_no_checkpoint)).await;
        assert_eq!(r, Some(Ok(())));
        assert!(!handle.cancelled_caught());

        let scope = CancelScope::new();
        scope.handle().cancel();
        let r = scope.run(n.start(raise_keyerror_after_started)).await;
        assert_eq!(r, Some(Err(TestError::Value("whoopsiedaisy"))));
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
}

#[structured]
async fn sleeping_children(
    status: TaskStatus<()>,
    before_started: &dyn Fn(),
    log: &Log,
) -> Result<(), ErrorGroup<TestError>> {
    nursery(async |n| -> Result<(), TestError> {
        n.start_soon(sleep_forever_logged(log, "grandchild cancelled"));
        n.start_soon(sleep_forever_logged(log, "grandchild cancelled"));
        wait_all_tasks_blocked().await?;
        before_started();
        status.started(());
        Ok(())
    })
    .await
}

// Trio: when `started` moves a task with sleeping children into a cancelled nursery, the
// sleepers are aborted. The caller of `start` is shielded here so that it is outside the
// target nursery's cancellation (in Trio it runs in another nursery).
#[scoro::test]
async fn test_nursery_start_with_cancelled_nursery() {
    for cancel_before_started in [true, false] {
        let log = Log::default();
        let target_handle: RefCell<Option<CancelHandle>> = RefCell::new(None);
        let cancel = || {
            if cancel_before_started {
                target_handle.borrow().as_ref().unwrap().cancel();
            }
        };
        let r = nursery(async |target| -> Result<(), ErrorGroup<TestError>> {
            let handle = target.cancel_handle();
            *target_handle.borrow_mut() = Some(handle.clone());
            CancelScope::new()
                .with_shield(true)
                .run(target.start(|status| sleeping_children(status, &cancel, &log)))
                .await
                .unwrap()?;
            if !cancel_before_started {
                handle.cancel();
            }
            Ok(())
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(
            entries(&log),
            ["grandchild cancelled", "grandchild cancelled"]
        );
    }
}

#[structured]
async fn sleep_a_bit(status: TaskStatus<()>) -> Result<(), TestError> {
    sleep(secs(2)).await?;
    status.started(());
    sleep(secs(3)).await?;
    Ok(())
}

#[structured]
async fn sleep_then_crash(_status: TaskStatus<()>) -> Result<(), TestError> {
    sleep(secs(7)).await?;
    Err(TestError::Value("KeyError"))
}

// Trio: a pending `start` keeps the target nursery open, also when the task crashes before
// `started` and never joins it. (In Rust only code inside the nursery can reach `&Nursery`, so
// the `start` calls are made from children of that nursery.)
#[scoro::test(autojump)]
async fn test_nursery_start_keeps_nursery_open() {
    let t0 = current_time();
    let r = nursery(async |n2| -> Result<(), TestError> {
        n2.start_soon(async { n2.start(sleep_a_bit).await });
        sleep(secs(1)).await?;
        n2.start_soon(async { n2.start(sleep_a_bit).await });
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(current_time() - t0, secs(6));

    let t0 = current_time();
    let r = nursery(async |n2| -> Result<(), TestError> {
        n2.start_soon(async {
            let e = n2.start(sleep_then_crash).await.unwrap_err();
            assert_eq!(e, TestError::Value("KeyError"));
            Ok::<(), TestError>(())
        });
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(current_time() - t0, secs(7));
}

#[structured]
async fn report_parent(
    status: TaskStatus<()>,
    before: &Cell<Option<scoro::lowlevel::TaskId>>,
    after: &Cell<Option<scoro::lowlevel::TaskId>>,
) -> Result<(), TestError> {
    before.set(current_task().parent());
    status.started(());
    checkpoint().await?;
    after.set(current_task().parent());
    Ok(())
}

// Trio test_task_tree_introspection: before `started` a task's parent is the task that called
// `start`; afterwards it is a child of the target nursery, run by the nursery's task.
#[scoro::test]
async fn test_task_tree_introspection() {
    let main_id = current_task().id();
    let caller_id = Cell::new(None);
    let before = Cell::new(None);
    let after = Cell::new(None);
    let r = nursery(async |n| -> Result<(), TestError> {
        n.start_soon(async {
            caller_id.set(Some(current_task().id()));
            n.start(|status| report_parent(status, &before, &after))
                .await
        });
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(before.get(), caller_id.get());
    assert_eq!(after.get(), Some(main_id));
}

// Children inherit the cancel scopes around the nursery, not those of the code that called
// `start_soon` (Trio: "the child inherits the nursery's cancel status, not the caller's").
#[scoro::test]
async fn test_child_inherits_the_nursery_scopes() {
    let child_result = Cell::new(None);
    let r = nursery(async |n| -> Result<(), TestError> {
        let scope = CancelScope::new();
        scope.handle().cancel();
        let r = scope
            .run(async {
                n.start_soon(async {
                    child_result.set(Some(checkpoint().await));
                });
                checkpoint().await
            })
            .await;
        assert_eq!(r, None);
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(child_result.get(), Some(Ok(())));
}

// ----- cancel scopes ---------------------------------------------------------------------------

// Trio: a cancel scope's cancellation reaches grandchildren through nested nurseries.
#[scoro::test]
async fn test_cancel_inheritance() {
    let record = RefCell::new(BTreeSet::new());
    #[structured]
    async fn leaf(
        ident: String,
        record: &RefCell<BTreeSet<String>>,
    ) -> Result<(), CancelRequested> {
        let Err(c) = sleep_forever().await;
        record.borrow_mut().insert(ident);
        Err(c)
    }
    #[structured]
    async fn worker(
        ident: &'static str,
        record: &RefCell<BTreeSet<String>>,
    ) -> Result<(), ErrorGroup<CancelRequested>> {
        nursery(async |n| -> Result<(), CancelRequested> {
            n.start_soon(leaf(format!("{ident}-l1"), record));
            n.start_soon(leaf(format!("{ident}-l2"), record));
            Ok(())
        })
        .await
    }
    let r = nursery(async |n| -> Result<(), ErrorGroup<CancelRequested>> {
        n.start_soon(worker("w1", &record));
        n.start_soon(worker("w2", &record));
        n.cancel();
        Ok(())
    })
    .await;
    assert!(r.is_ok(), "{r:?}");
    let record: Vec<String> = record.into_inner().into_iter().collect();
    assert_eq!(record, ["w1-l1", "w1-l2", "w2-l1", "w2-l2"]);
}

// Trio: `cancel` is idempotent, and cancellation is level-triggered (every checkpoint in the
// scope raises again).
#[scoro::test]
async fn test_cancel_edge_cases() {
    let scope = CancelScope::new();
    let h = scope.handle();
    let r = scope
        .run(async {
            h.cancel();
            h.cancel();
            checkpoint().await
        })
        .await;
    assert_eq!(r, None);
    assert!(h.cancel_called());
    assert!(h.cancelled_caught());

    let scope = CancelScope::new();
    let h = scope.handle();
    let r = scope
        .run(async {
            h.cancel();
            let first = sleep_forever().await.unwrap_err();
            let second = sleep_forever().await.unwrap_err();
            let third = checkpoint().await.unwrap_err();
            assert_eq!(
                [first, second, third].map(|c| c.reason()),
                [CancelReason::Explicit; 3]
            );
            Err::<(), _>(third)
        })
        .await;
    assert_eq!(r, None);
}

// Trio: a shield blocks the cancellation of enclosing scopes only; scopes inside it and the
// scope itself still cancel; the shield can be switched off and on again.
#[scoro::test]
async fn test_cancel_shielding() {
    let outer = CancelScope::new();
    let oh = outer.handle();
    let inner = CancelScope::new();
    let ih = inner.handle();
    let r = outer
        .run(inner.run(async {
            checkpoint().await.unwrap();
            oh.cancel();
            assert!(checkpoint().await.is_err());

            ih.set_shield(true);
            checkpoint()
                .await
                .expect("the shield protects from `outer`");

            let innerest = CancelScope::new();
            let xh = innerest.handle();
            let r = innerest
                .run(async {
                    xh.cancel();
                    checkpoint().await
                })
                .await;
            assert_eq!(r, None, "a scope inside the shield still cancels");
            checkpoint().await.unwrap();

            ih.set_shield(false);
            assert!(checkpoint().await.is_err());

            ih.set_shield(true);
            checkpoint().await.unwrap();
            ih.cancel();
            // Not protected from itself; caught by `inner`.
            checkpoint().await
        }))
        .await;
    assert_eq!(r, Some(None));
    assert!(ih.cancelled_caught());
    assert!(!oh.cancelled_caught());
}

#[structured]
async fn shield_abort_sleeper(log: &Log) -> Result<(), TestError> {
    push(log, "sleeping");
    let Err(c) = sleep_forever().await;
    push(log, "cancelled");
    Err(c.into())
}

// Trio: unshielding a scope inside a cancelled one aborts a task already blocked under it.
#[scoro::test]
async fn test_cancel_shield_abort() {
    let log = Log::default();
    let outer = CancelScope::new();
    let oh = outer.handle();
    let r = outer
        .run(nursery(async |n| -> Result<(), TestError> {
            oh.cancel();
            n.cancel_handle().set_shield(true);
            n.start_soon(shield_abort_sleeper(&log));
            wait_all_tasks_blocked().await?;
            assert_eq!(entries(&log), ["sleeping"]);
            n.cancel_handle().set_shield(false);
            // Wait (shielded) for the sleeper before the nursery's exit could cancel it.
            CancelScope::new()
                .with_shield(true)
                .run(wait_all_tasks_blocked())
                .await
                .unwrap()?;
            assert_eq!(entries(&log), ["sleeping", "cancelled"]);
            Ok(())
        }))
        .await;
    assert!(r.is_none(), "{r:?}");
    assert!(oh.cancelled_caught());
}

#[structured]
async fn basic_timeout(clock: &MockClock) {
    let start = current_time();
    let scope = CancelScope::new();
    let h = scope.handle();
    let r = scope
        .run(async {
            assert_eq!(h.deadline(), None);
            h.set_deadline(Some(start + secs(1)));
            assert_eq!(h.deadline(), Some(start + secs(1)));
        })
        .await;
    assert_eq!(r, Some(()));
    assert!(!h.cancel_called());
    clock.jump(secs(2));
    checkpoint().await.unwrap();
    checkpoint().await.unwrap();
    checkpoint().await.unwrap();
    assert!(!h.cancel_called(), "a deadline after exit has no effect");

    let start = current_time();
    let scope = CancelScope::new().with_deadline(start + secs(1));
    let h = scope.handle();
    let r = scope
        .run(async {
            clock.jump(secs(2));
            sleep_forever().await
        })
        .await;
    assert_eq!(r, None);
    assert!(h.cancel_called());
    assert!(h.cancelled_caught());

    // Changing the deadline.
    let start = current_time();
    let scope = CancelScope::new();
    let h = scope.handle();
    let r = scope
        .run(async {
            checkpoint().await.unwrap();
            h.set_deadline(Some(start + secs(10)));
            checkpoint().await.unwrap();
            clock.jump(secs(5));
            checkpoint().await.unwrap();
            h.set_deadline(Some(start + secs(1)));
            let first = checkpoint().await.unwrap_err();
            assert_eq!(first.reason(), CancelReason::Deadline);
            checkpoint().await
        })
        .await;
    assert_eq!(r, None);
}

// Trio: setting, moving and shrinking deadlines; a deadline has no effect after its scope
// exited (mock clock moved by hand).
#[test]
fn test_basic_timeout() {
    let clock = MockClock::new();
    run_with_clock(&clock, basic_timeout(&clock));
}

#[structured]
async fn move_deadline_while_blocked(new: u64) -> Duration {
    let start = current_time();
    let scope = CancelScope::new().with_deadline(start + secs(10));
    let h = scope.handle();
    let woke = Cell::new(None);
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let r = scope.run(sleep_forever()).await;
            assert_eq!(r, None);
            woke.set(Some(current_time() - start));
        });
        wait_all_tasks_blocked().await?;
        h.set_deadline(Some(start + secs(new)));
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    woke.get().unwrap()
}

// Trio test_basic_timeout ("changing deadline"), with the task blocked: moving the deadline
// takes effect at once, earlier, later, or into the past.
#[test]
fn test_basic_timeout_moved_while_blocked() {
    assert_eq!(run_autojump(move_deadline_while_blocked(2)), secs(2));
    assert_eq!(run_autojump(move_deadline_while_blocked(25)), secs(25));
    assert_eq!(run_autojump(move_deadline_while_blocked(0)), secs(0));
}

// Trio: with nested cancelled scopes, the outermost one catches; with a shield the inner scope
// is on its own; a pending cancel is not delivered after its scope exits.
#[scoro::test]
async fn test_cancel_scope_nesting() {
    let (s1, s2, s3) = (CancelScope::new(), CancelScope::new(), CancelScope::new());
    let (h1, h2, h3) = (s1.handle(), s2.handle(), s3.handle());
    let r = s1
        .run(s2.run(s3.run(async {
            h3.cancel();
            h2.cancel();
            sleep_forever().await
        })))
        .await;
    assert_eq!(r, Some(None));
    assert!(h3.cancel_called() && !h3.cancelled_caught());
    assert!(h2.cancel_called() && h2.cancelled_caught());
    assert!(!h1.cancel_called() && !h1.cancelled_caught());

    // Shielding.
    let (s1, s2) = (CancelScope::new(), CancelScope::new());
    let (h1, h2) = (s1.handle(), s2.handle());
    let r = s1
        .run(s2.run(async {
            h1.cancel();
            assert!(checkpoint().await.is_err());
            assert!(checkpoint().await.is_err());
            h2.set_shield(true);
            checkpoint().await.unwrap();
            h2.cancel();
            checkpoint().await
        }))
        .await;
    assert_eq!(
        r,
        Some(None),
        "the shielded scope catches its own cancellation"
    );
    assert!(h2.cancelled_caught());
    assert!(!h1.cancelled_caught());

    // A cancel that arrives after the last checkpoint is dropped with its scope.
    let scope = CancelScope::new();
    let h = scope.handle();
    let r = scope
        .run(async {
            h.cancel();
        })
        .await;
    assert_eq!(r, Some(()));
    checkpoint().await.unwrap();
    assert!(h.cancel_called());
    assert!(!h.cancelled_caught());
}

// Trio #1175: shielding a scope while the cancellation of an enclosing scope propagates through
// it does not make it catch that cancellation; the enclosing scope still does.
#[scoro::test]
async fn test_unshield_while_cancel_propagating() {
    let (outer, inner) = (CancelScope::new(), CancelScope::new());
    let (oh, ih) = (outer.handle(), inner.handle());
    let r = outer
        .run(inner.run(async {
            oh.cancel();
            let r = checkpoint().await;
            ih.set_shield(true);
            r
        }))
        .await;
    assert_eq!(r, None);
    assert!(oh.cancelled_caught());
    assert!(!ih.cancelled_caught());
}

#[structured]
async fn cancel_unbound() {
    // Cancel before entry.
    let scope = CancelScope::new();
    let h = scope.handle();
    h.cancel();
    assert!(h.cancel_called());
    let r = scope.run(sleep_forever()).await;
    assert_eq!(r, None);
    assert!(h.cancelled_caught());

    // Cancel after entry, from another task.
    let scope = CancelScope::new();
    let h = scope.handle();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            assert_eq!(scope.run(sleep_forever()).await, None);
        });
        wait_all_tasks_blocked().await?;
        h.cancel();
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert!(h.cancelled_caught());

    // Shield before entry.
    let outer = CancelScope::new();
    let oh = outer.handle();
    let scope = CancelScope::new();
    let h = scope.handle();
    h.set_shield(true);
    let r = outer
        .run(scope.run(async {
            oh.cancel();
            checkpoint().await.unwrap();
            h.set_shield(false);
            checkpoint().await
        }))
        .await;
    assert_eq!(r, None);

    // Unshield before entry: the handle's setting replaces the one the scope was built with,
    // so the outer cancellation reaches the body at its first checkpoint.
    let outer = CancelScope::new();
    let oh = outer.handle();
    let scope = CancelScope::new().with_shield(true);
    let h = scope.handle();
    h.set_shield(false);
    let reached = Cell::new(false);
    let r = outer
        .run(scope.run(async {
            oh.cancel();
            let r = checkpoint().await;
            reached.set(true);
            r
        }))
        .await;
    assert_eq!(r, None, "the outer scope caught its cancellation");
    assert!(reached.get());
    assert!(oh.cancelled_caught());
    assert!(!h.cancel_called());

    // The same for the deadline: removing it before entry wins over `with_deadline`, and
    // setting one wins over `with_timeout`.
    let now = current_time();
    let scope = CancelScope::new().with_deadline(now);
    let h = scope.handle();
    h.set_deadline(None);
    assert_eq!(scope.run(checkpoint()).await, Some(Ok(())));
    assert!(!h.cancel_called());
    let scope = CancelScope::new().with_timeout(secs(100));
    let h = scope.handle();
    h.set_deadline(Some(now));
    assert_eq!(scope.run(checkpoint()).await, None);
    assert_eq!(h.deadline(), Some(now));

    // A deadline that passed before entry cancels with reason `Deadline`, whether or not
    // `cancel_called` was asked first (asking makes it sticky, not explicit).
    for ask_first in [false, true] {
        let scope = CancelScope::new().with_deadline(now);
        let h = scope.handle();
        if ask_first {
            assert!(h.cancel_called());
        }
        let reason = Cell::new(None);
        let r = scope
            .run(async {
                let r = checkpoint().await;
                reason.set(r.err().map(|c| c.reason()));
                r
            })
            .await;
        assert_eq!(r, None);
        assert_eq!(
            reason.get(),
            Some(CancelReason::Deadline),
            "ask_first: {ask_first}"
        );
    }
    // ... and `cancel` before entry is explicit, even with a passed deadline.
    let scope = CancelScope::new().with_deadline(now);
    let h = scope.handle();
    h.cancel();
    let reason = Cell::new(None);
    let r = scope
        .run(async {
            let r = checkpoint().await;
            reason.set(r.err().map(|c| c.reason()));
            r
        })
        .await;
    assert_eq!(r, None);
    assert_eq!(reason.get(), Some(CancelReason::Explicit));

    // Reusing a scope is impossible: `run` takes it by value. Cancelling after exit changes
    // nothing but `cancel_called`.
    let scope = CancelScope::new();
    let h = scope.handle();
    assert_eq!(scope.run(checkpoint()).await, Some(Ok(())));
    h.cancel();
    checkpoint().await.unwrap();
    assert!(h.cancel_called());
    assert!(!h.cancelled_caught());

    // Not yet entered: `cancel_called` turns true once the deadline has passed, and stays true.
    let now = current_time();
    let scope = CancelScope::new().with_deadline(now + secs(1));
    let h = scope.handle();
    assert_eq!(h.deadline(), Some(now + secs(1)));
    assert!(!h.cancel_called());
    h.set_deadline(Some(now));
    assert!(h.cancel_called());
    h.set_deadline(Some(now + secs(1)));
    assert!(h.cancel_called(), "never becomes un-cancelled");
    drop(scope);

    let scope = CancelScope::new().with_deadline(now);
    assert!(scope.handle().cancel_called());
}

// Trio: cancel and shield work before the scope is entered, and a handle's shield or
// deadline set then replaces the scope's own setting; `cancel_called` follows the deadline
// before entry (with reason `Deadline`); a scope cannot be reused.
#[test]
fn test_cancel_unbound() {
    run_with_clock(&MockClock::new(), cancel_unbound());
}

#[structured]
async fn effective_deadline() {
    let t = current_time();
    assert_eq!(current_effective_deadline(), None);
    let (s1, s2) = (
        CancelScope::new().with_deadline(t + secs(5)),
        CancelScope::new().with_deadline(t + secs(10)),
    );
    let (h1, h2) = (s1.handle(), s2.handle());
    let r = s1
        .run(async {
            let r = s2
                .run(async {
                    assert_eq!(current_effective_deadline(), Some(t + secs(5)));
                    h2.set_deadline(Some(t + secs(3)));
                    assert_eq!(current_effective_deadline(), Some(t + secs(3)));
                    h2.set_deadline(Some(t + secs(10)));
                    assert_eq!(current_effective_deadline(), Some(t + secs(5)));
                    h2.set_shield(true);
                    assert_eq!(current_effective_deadline(), Some(t + secs(10)));
                    h2.set_shield(false);
                    assert_eq!(current_effective_deadline(), Some(t + secs(5)));
                    h1.cancel();
                    let d = current_effective_deadline().unwrap();
                    assert!(d <= current_time(), "already cancelled: at or before now");
                    h2.set_shield(true);
                    assert_eq!(current_effective_deadline(), Some(t + secs(10)));
                })
                .await;
            assert_eq!(r, Some(()));
            let d = current_effective_deadline().unwrap();
            assert!(d <= current_time());
        })
        .await;
    assert_eq!(r, Some(()));
    assert_eq!(current_effective_deadline(), None);
}

// Trio: the effective deadline is the earliest one up to the first shield, "-inf" (here: at or
// before now) when already cancelled, "inf" (here: `None`) when there is none.
#[test]
fn test_current_effective_deadline() {
    run_with_clock(&MockClock::new(), effective_deadline());
}

#[structured]
async fn yield_briefly_checks_for_timeout(clock: &MockClock) {
    let scope = CancelScope::new().with_deadline(current_time() + secs(5));
    let r = scope
        .run(async {
            checkpoint().await.unwrap();
            clock.jump(secs(10));
            let c = checkpoint().await.unwrap_err();
            assert_eq!(c.reason(), CancelReason::Deadline);
            Err::<(), _>(c)
        })
        .await;
    assert_eq!(r, None);
}

// Trio: a deadline that passed while the task was runnable (the clock jumped without the task
// blocking) is seen at its next checkpoint.
#[test]
fn test_yield_briefly_checks_for_timeout() {
    let clock = MockClock::new();
    run_with_clock(&clock, yield_briefly_checks_for_timeout(&clock));
}

#[structured(boxed)]
async fn nest(depth: u32, outermost: &CancelHandle) -> Result<(), CancelRequested> {
    if depth == 0 {
        outermost.cancel();
        let c = checkpoint().await.unwrap_err();
        assert_eq!(c.reason(), CancelReason::Explicit);
        return Err(c);
    }
    CancelScope::new()
        .run(nest(depth - 1, outermost))
        .await
        .expect("only the outermost scope catches")
}

#[structured]
async fn very_deep_nesting() -> bool {
    let outermost = CancelScope::new();
    let h = outermost.handle();
    let r = outermost.run(nest(5000, &h)).await;
    r.is_none() && h.cancelled_caught()
}

// Trio: 5,000 nested cancel scopes, cancelled from the outside, with no recursion failure.
// The nesting is real recursion through a `#[structured(boxed)]` function, so each level's poll
// is a few stack frames deep: it runs on a thread with a 64 MiB stack (a debug build overflows
// the default 2 MiB test thread; about 16 MiB is enough). The cancel status tree itself is
// recomputed iteratively, which is what Trio's test is about.
#[test]
fn test_very_deep_cancel_scope_nesting() {
    let caught = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| scoro::run(very_deep_nesting()))
        .unwrap()
        .join()
        .unwrap();
    assert!(caught);
}

// ----- cancel points ---------------------------------------------------------------------------

/// Runs `op` twice inside a scope: once before and once after cancelling the scope; returns
/// the two results.
#[structured]
async fn before_and_after_cancel<F, T>(op: impl Fn() -> CoroutineCall<F>) -> (T, T)
where
    F: Future<Output = T>,
{
    let scope = CancelScope::new();
    let h = scope.handle();
    let r = scope
        .run(async {
            let before = op().await;
            h.cancel();
            let after = op().await;
            Ok::<_, std::convert::Infallible>((before, after))
        })
        .await;
    let Some(Ok(pair)) = r else {
        unreachable!("`Ok` is never a cancellation")
    };
    pair
}

// Trio test_cancel_points: every kind of checkpoint passes when not cancelled and returns the
// cancellation inside a cancelled scope.
#[scoro::test]
async fn test_cancel_points() {
    let (before, after) = before_and_after_cancel(checkpoint_if_cancelled).await;
    assert_eq!(before, Ok(()));
    assert_eq!(after.unwrap_err().reason(), CancelReason::Explicit);

    let (before, after) = before_and_after_cancel(checkpoint).await;
    assert!(before.is_ok() && after.is_err());

    let (before, after) = before_and_after_cancel(|| sleep(Duration::ZERO)).await;
    assert!(before.is_ok() && after.is_err());

    let (before, after) = before_and_after_cancel(|| scoro::sleep_until(current_time())).await;
    assert!(before.is_ok() && after.is_err());

    let (before, after) = before_and_after_cancel(wait_all_tasks_blocked).await;
    assert!(before.is_ok() && after.is_err());

    // The blocking ones, cancelled before they start.
    let scope = CancelScope::new();
    scope.handle().cancel();
    let lot = scoro::lowlevel::ParkingLot::new();
    let setup_called = Cell::new(false);
    let r = scope
        .run(async {
            assert!(sleep_forever().await.is_err());
            assert!(sleep(secs(3600)).await.is_err());
            assert!(
                scoro::sleep_until(current_time() + secs(3600))
                    .await
                    .is_err()
            );
            assert!(lot.park().await.is_err());
            assert_eq!(lot.len(), 0);
            let r = scoro::lowlevel::suspend(
                |_w: scoro::lowlevel::Wakeup<()>| setup_called.set(true),
                || panic!("nothing to abort"),
            )
            .await;
            assert!(r.is_err());
            checkpoint().await
        })
        .await;
    assert_eq!(r, None);
    assert!(
        !setup_called.get(),
        "a cancelled `suspend` does not register anything"
    );

    // And cancelled while blocked (by a sibling).
    let aborts = Cell::new(0);
    let results = RefCell::new(Vec::new());
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        let results = &results;
        let lot = &lot;
        let aborts = &aborts;
        n.start_soon(async move {
            let r = sleep_forever().await;
            results.borrow_mut().push(("sleep_forever", r.is_err()));
        });
        n.start_soon(async move {
            let r = sleep(secs(3600)).await;
            results.borrow_mut().push(("sleep", r.is_err()));
        });
        n.start_soon(async move {
            let r = scoro::sleep_until(current_time() + secs(3600)).await;
            results.borrow_mut().push(("sleep_until", r.is_err()));
        });
        n.start_soon(async move {
            let r = lot.park().await;
            results.borrow_mut().push(("park", r.is_err()));
        });
        n.start_soon(async move {
            let r = scoro::lowlevel::suspend(
                |_w: scoro::lowlevel::Wakeup<()>| {},
                || {
                    aborts.set(aborts.get() + 1);
                    scoro::lowlevel::Abort::Succeeded
                },
            )
            .await;
            results.borrow_mut().push(("suspend", r.is_err()));
        });
        wait_all_tasks_blocked().await?;
        assert_eq!(lot.len(), 1);
        n.cancel();
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(lot.len(), 0, "a cancelled park leaves the queue");
    assert_eq!(aborts.get(), 1);
    let mut results = results.into_inner();
    results.sort();
    assert_eq!(
        results,
        [
            ("park", true),
            ("sleep", true),
            ("sleep_forever", true),
            ("sleep_until", true),
            ("suspend", true)
        ]
    );
}

// Trio test_trivial_yields / "every scoro async fn that can block yields at least once, even
// when it could complete at once"; `checkpoint_if_cancelled` is a cancel point only.
#[scoro::test]
async fn test_checkpoints_are_schedule_points() {
    assert!(yields(checkpoint()).await);
    assert!(yields(sleep(Duration::ZERO)).await);
    assert!(yields(scoro::sleep_until(current_time())).await);
    assert!(
        yields(scoro::lowlevel::suspend(
            |w: scoro::lowlevel::Wakeup<u32>| {
                w.wake(1);
            },
            || scoro::lowlevel::Abort::Succeeded,
        ))
        .await,
        "`suspend` yields even when `setup` wakes at once"
    );
    assert!(!yields(checkpoint_if_cancelled()).await);
}

/// Runs `call` on an autojumping runtime on another thread; `None` if it did not finish within
/// `limit` of real time (a task left sleeping forever: only reached when the test fails).
fn run_autojump_or_hang<T: Send + 'static>(
    limit: Duration,
    make: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(make());
    });
    rx.recv_timeout(limit).ok()
}

#[structured]
async fn unshield_reveals_outer_deadline() -> Duration {
    let start = current_time();
    let woke = Cell::new(None);
    let outer = CancelScope::new().with_deadline(start + secs(10));
    let r = outer
        .run(nursery(async |n| -> Result<(), CancelRequested> {
            let inner = CancelScope::new().with_shield(true);
            let ih = inner.handle();
            n.start_soon(async {
                let _ = inner.run(sleep_forever()).await;
                woke.set(Some(current_time() - start));
            });
            // Waiting shielded, so that no task blocks under the outer deadline before.
            CancelScope::new()
                .with_shield(true)
                .run(wait_all_tasks_blocked())
                .await
                .unwrap()?;
            ih.set_shield(false);
            Ok(())
        }))
        .await;
    assert_eq!(r, Some(Ok(())), "the child swallowed its cancellation");
    woke.get().unwrap()
}

#[structured]
async fn raised_deadline_reveals_inner_deadline() -> Duration {
    let start = current_time();
    let woke = Cell::new(None);
    let outer = CancelScope::new().with_deadline(start + secs(5));
    let oh = outer.handle();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let inner = CancelScope::new().with_deadline(start + secs(8));
            let _ = outer.run(inner.run(sleep_forever())).await;
            woke.set(Some(current_time() - start));
        });
        wait_all_tasks_blocked().await?;
        oh.set_deadline(Some(start + secs(20)));
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    woke.get().unwrap()
}

#[structured]
async fn removed_deadline_reveals_inner_deadline() -> Duration {
    let start = current_time();
    let woke = Cell::new(None);
    let outer = CancelScope::new().with_deadline(start + secs(5));
    let oh = outer.handle();
    let r = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let inner = CancelScope::new().with_deadline(start + secs(8));
            let _ = outer.run(inner.run(sleep_forever())).await;
            woke.set(Some(current_time() - start));
        });
        wait_all_tasks_blocked().await?;
        oh.set_deadline(None);
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    woke.get().unwrap()
}

// Trio test_cancel_shield_abort / test_basic_timeout, with deadlines: changing a shield or a
// deadline can make another scope's deadline the one that applies to a blocked task; that
// deadline then fires on time (Trio keeps every scope's deadline in its heap).
#[test]
fn test_shield_or_deadline_change_makes_another_deadline_apply() {
    let limit = Duration::from_secs(20);
    let woke = run_autojump_or_hang(limit, || run_autojump(unshield_reveals_outer_deadline()));
    assert_eq!(woke, Some(secs(10)), "unshielding under an outer deadline");
    let woke = run_autojump_or_hang(limit, || {
        run_autojump(raised_deadline_reveals_inner_deadline())
    });
    assert_eq!(woke, Some(secs(8)), "raising the outer deadline");
    let woke = run_autojump_or_hang(limit, || {
        run_autojump(removed_deadline_reveals_inner_deadline())
    });
    assert_eq!(woke, Some(secs(8)), "removing the outer deadline");
}

// Trio test_nursery_start: cancelling the caller of `start` before `started` cancels the
// task, and `start` returns that cancellation (caught here by the timeout around it).
#[scoro::test(autojump)]
async fn test_nursery_start_cancelled_before_started() {
    let t0 = current_time();
    let r = nursery(async |n| -> Result<(), TestError> {
        let r = scoro::move_on_after(secs(1), n.start(|s| sleep_then_start(10, s))).await;
        assert_eq!(r, None);
        assert_eq!(current_time() - t0, secs(1));
        Ok(())
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(current_time() - t0, secs(1), "the nursery has no task left");
}

#[structured]
async fn panic_around_started(status: TaskStatus<()>, before: bool) -> Result<(), TestError> {
    checkpoint().await?;
    if before {
        panic!("before started");
    }
    status.started(());
    checkpoint().await?;
    panic!("after started");
}

#[structured]
async fn start_panicking(before: bool, log: &Log) {
    let _ = nursery(async |n| -> Result<(), TestError> {
        n.start(|s| panic_around_started(s, before)).await?;
        push(log, "start returned");
        sleep_forever().await?;
        Ok(())
    })
    .await;
    push(log, "nursery returned");
}

// A panic before `started` comes out of `start` in its caller; after `started` it is a panic of
// a child of the nursery. Either way it reaches `run`'s caller.
#[test]
fn test_nursery_start_child_panics() {
    for (before, expected, log_expected) in [
        (true, "before started", vec![]),
        (false, "after started", vec!["start returned"]),
    ] {
        let log = Log::default();
        let p = catch_unwind(AssertUnwindSafe(|| {
            scoro::run(start_panicking(before, &log))
        }))
        .unwrap_err();
        assert_eq!(panic_message(&*p), expected);
        assert_eq!(entries(&log), log_expected);
    }
}

// Trio test_cancel_shielding / test_cancel_shield_abort, the other way round: shielding a scope
// while a task is blocked in it protects the task from a later cancellation outside.
#[scoro::test(autojump)]
async fn test_shield_while_blocked_protects() {
    let t0 = current_time();
    let outer = CancelScope::new();
    let oh = outer.handle();
    let inner = CancelScope::new();
    let ih = inner.handle();
    let slept = Cell::new(None);
    let r = outer
        .run(nursery(async |n| -> Result<(), TestError> {
            n.start_soon(async {
                let r = inner.run(sleep(secs(10))).await;
                slept.set(Some((r, current_time() - t0)));
            });
            CancelScope::new()
                .with_shield(true)
                .run(wait_all_tasks_blocked())
                .await
                .unwrap()?;
            ih.set_shield(true);
            oh.cancel();
            Ok(())
        }))
        .await;
    assert_eq!(slept.get(), Some((Some(Ok(())), secs(10))));
    assert_eq!(
        r,
        Some(Ok(())),
        "nothing in the nursery saw the cancellation"
    );
}

// Trio: `nursery.cancel_scope.cancelled_caught` is true when cancelling the nursery stopped a
// task and the nursery absorbed that cancellation. scoro reports it on `cancel_handle()`.
#[scoro::test(autojump)]
async fn test_nursery_cancel_handle_reports_caught() {
    let handles = std::cell::RefCell::new(Vec::new());
    let r = scoro::nursery(async |n| -> Result<(), CancelRequested> {
        handles.borrow_mut().push(n.cancel_handle());
        n.start_soon(scoro::sleep_forever());
        scoro::testing::wait_all_tasks_blocked().await?;
        n.cancel();
        Ok(())
    })
    .await;
    assert!(r.is_ok());
    let r = scoro::nursery(async |n| -> Result<(), CancelRequested> {
        handles.borrow_mut().push(n.cancel_handle());
        n.start_soon(scoro::checkpoint());
        Ok(())
    })
    .await;
    assert!(r.is_ok());
    let handles = handles.into_inner();
    assert!(handles[0].cancel_called() && handles[0].cancelled_caught());
    assert!(!handles[1].cancel_called() && !handles[1].cancelled_caught());
}
