//! Entry points and runtime services: `run`, `Runtime`, `RuntimeHandle`, `current_task`, and
//! how panics leave a run (Trio test_basic, test_initial_task_error, test_run_nesting,
//! test_out_of_context, test_current_task, test_spawn_name, test_TrioToken_run_sync_soon_*).

use scoro::lowlevel::{RunFinished, RuntimeHandle, TaskId, Wakeup, current_task, suspend};
use scoro::testing::{MockClock, wait_all_tasks_blocked};
use scoro::{
    Builder, CancelRequested, ErrorGroup, checkpoint, current_time, nursery, sleep, sleep_forever,
    structured,
};
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
async fn add(a: u32, b: u32) -> u32 {
    checkpoint().await.unwrap();
    a + b
}

#[structured]
async fn fails() -> Result<(), String> {
    Err("main failed".to_owned())
}

// Trio test_basic / test_initial_task_error: `run` returns the main call's value, errors
// included.
#[test]
fn test_basic() {
    assert_eq!(scoro::run(add(1, 2)), 3);
    assert_eq!(scoro::run(fails()), Err("main failed".to_owned()));
    assert_eq!(
        format!("{:?}", add(1, 2)),
        "CoroutineCall(runtime_api::add)"
    );
}

#[structured]
async fn nested_run() -> bool {
    let p = catch_unwind(|| scoro::run(add(1, 2))).unwrap_err();
    let msg = panic_message(&*p);
    assert!(
        msg.contains("`scoro::run` was called on a thread that is already running a scoro runtime"),
        "{msg}"
    );
    // The outer runtime is unharmed.
    add(2, 3).await == 5
}

// Trio test_run_nesting: `run` inside a running task panics with a clear message.
#[test]
fn test_run_nesting() {
    assert!(scoro::run(nested_run()));
}

// Trio test_out_of_context: runtime functions called outside a run panic with a clear message.
#[test]
fn test_out_of_context() {
    let p = catch_unwind(scoro::current_time).unwrap_err();
    assert!(panic_message(&*p).contains("called from a task of a running scoro runtime"));
    let p = catch_unwind(current_task).unwrap_err();
    assert!(panic_message(&*p).contains("must be called from a scoro task"));
    let p = catch_unwind(RuntimeHandle::current).unwrap_err();
    assert!(panic_message(&*p).contains("running scoro runtime"));
}

#[structured]
async fn sleep_and_report(d: Duration) -> Duration {
    let start = current_time();
    sleep(d).await.unwrap();
    current_time() - start
}

// A `Runtime` can be used for several runs in a row (with the real clock and with a mock
// clock, whose time carries on).
#[test]
fn test_runtime_reused_for_two_runs() {
    let mut rt = Builder::new().build().unwrap();
    assert_eq!(rt.run(add(1, 1)), 2);
    assert_eq!(rt.run(add(2, 2)), 4);

    let clock = MockClock::autojump(Duration::ZERO);
    let mut rt = Builder::new().clock(clock.clone()).build().unwrap();
    let t0 = clock.now();
    assert_eq!(
        rt.run(sleep_and_report(Duration::from_secs(3))),
        Duration::from_secs(3)
    );
    assert_eq!(
        rt.run(sleep_and_report(Duration::from_secs(4))),
        Duration::from_secs(4)
    );
    assert_eq!(clock.now() - t0, Duration::from_secs(7));
}

#[structured]
async fn run_sync_soon_from_a_thread() -> (RuntimeHandle, bool) {
    let handle = RuntimeHandle::current();
    let runtime_thread = std::thread::current().id();
    let ran_on_runtime_thread = suspend(
        |w: Wakeup<bool>| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                handle
                    .run_sync_soon(move || {
                        w.wake(std::thread::current().id() == runtime_thread);
                    })
                    .unwrap();
            });
        },
        || scoro::lowlevel::Abort::Failed,
    )
    .await
    .unwrap();
    assert!(!handle.is_finished());
    (handle, ran_on_runtime_thread)
}

// Trio test_TrioToken_run_sync_soon_basic / _too_late: work sent from another thread runs on
// the runtime's thread; once the run has finished the handle refuses work (`RunFinished`) and
// drops it without running it.
#[test]
fn test_run_sync_soon_from_another_thread_and_after_the_run() {
    let (handle, on_runtime_thread) = scoro::run(run_sync_soon_from_a_thread());
    assert!(on_runtime_thread);
    assert!(handle.is_finished());
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(dropped.clone());
    let ran2 = ran.clone();
    let r = handle.run_sync_soon(move || {
        let _guard = guard;
        ran2.store(true, Ordering::SeqCst);
    });
    assert_eq!(r, Err(RunFinished));
    assert!(dropped.load(Ordering::SeqCst));
    assert!(!ran.load(Ordering::SeqCst));
    // From another thread too.
    let h2 = handle.clone();
    let r = std::thread::spawn(move || h2.run_sync_soon(|| {}))
        .join()
        .unwrap();
    assert_eq!(r, Err(RunFinished));
}

#[structured]
async fn wake_from_thread() -> Result<u32, CancelRequested> {
    suspend(
        |w: Wakeup<u32>| {
            std::thread::spawn(move || {
                assert!(w.wake(42));
            });
        },
        || scoro::lowlevel::Abort::Failed,
    )
    .await
}

// `Wakeup::wake` from another thread resumes a blocked task (Trio: reschedule from a thread
// through the token).
#[test]
fn test_wakeup_wake_from_another_thread() {
    assert_eq!(scoro::run(wake_from_thread()), Ok(42));
}

#[derive(Default)]
struct Seen {
    main: Option<(TaskId, String, Option<TaskId>)>,
    child: Option<(TaskId, String, Option<TaskId>)>,
    grandchild: Option<(TaskId, String, Option<TaskId>)>,
}

fn me() -> (TaskId, String, Option<TaskId>) {
    let t = current_task();
    (t.id(), t.name(), t.parent())
}

#[structured]
async fn grandchild(seen: &RefCell<Seen>) {
    seen.borrow_mut().grandchild = Some(me());
}

#[structured]
async fn child(seen: &RefCell<Seen>) -> Result<(), ErrorGroup<CancelRequested>> {
    seen.borrow_mut().child = Some(me());
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(grandchild(seen));
        Ok(())
    })
    .await
}

#[structured]
async fn main_task(seen: &RefCell<Seen>) -> Result<(), ErrorGroup<ErrorGroup<CancelRequested>>> {
    seen.borrow_mut().main = Some(me());
    nursery(async |n| -> Result<(), ErrorGroup<CancelRequested>> {
        n.start_soon(child(seen));
        Ok(())
    })
    .await
}

// Trio test_current_task / test_spawn_name / test_task_tree_introspection: a task's name is the
// path of its structured function; its parent is the task that runs its nursery.
#[test]
fn test_current_task_names_and_parents() {
    let seen = RefCell::new(Seen::default());
    scoro::run(main_task(&seen)).unwrap();
    let seen = seen.into_inner();
    let (main_id, main_name, main_parent) = seen.main.unwrap();
    let (child_id, child_name, child_parent) = seen.child.unwrap();
    let (grandchild_id, grandchild_name, grandchild_parent) = seen.grandchild.unwrap();
    assert_eq!(main_name, "runtime_api::main_task");
    assert_eq!(child_name, "runtime_api::child");
    assert_eq!(grandchild_name, "runtime_api::grandchild");
    assert_eq!(main_parent, None);
    assert_eq!(child_parent, Some(main_id));
    assert_eq!(grandchild_parent, Some(child_id));
    assert_ne!(main_id, child_id);
    assert_ne!(child_id, grandchild_id);
}

type Log = RefCell<Vec<&'static str>>;

#[structured]
async fn cleans_up(log: &Log, name: &'static str) -> std::io::Result<()> {
    struct Cleanup<'a>(&'a Log, &'static str);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            self.0.borrow_mut().push(self.1);
        }
    }
    let _cleanup = Cleanup(log, name);
    let Err(c) = sleep_forever().await;
    // Blocking cleanup in a shielded scope also runs before the panic leaves `run`.
    scoro::CancelScope::new()
        .with_shield(true)
        .run(sleep(Duration::from_secs(1)))
        .await
        .unwrap()?;
    Err(c.into())
}

#[structured]
async fn panics_after_siblings_block(log: &Log) -> Result<(), ErrorGroup<std::io::Error>> {
    nursery(async |n| -> std::io::Result<()> {
        n.start_soon(cleans_up(log, "sibling"));
        n.start_soon(nursery(async |inner| -> std::io::Result<()> {
            inner.start_soon(cleans_up(log, "nephew"));
            sleep_forever().await?;
            Ok(())
        }));
        wait_all_tasks_blocked().await.unwrap();
        panic!("body exploded");
    })
    .await
}

// A panic reaches `run`'s caller only after every other task was cancelled and ran its cleanup
// (including blocking cleanup in shielded scopes).
#[test]
fn test_panic_reaches_run_after_cleanup() {
    let log = Log::default();
    let clock = MockClock::autojump(Duration::ZERO);
    let mut rt = Builder::new().clock(clock).build().unwrap();
    let p = catch_unwind(AssertUnwindSafe(|| {
        rt.run(panics_after_siblings_block(&log))
    }))
    .unwrap_err();
    assert_eq!(panic_message(&*p), "body exploded");
    let mut cleaned = log.into_inner();
    cleaned.sort();
    assert_eq!(cleaned, ["nephew", "sibling"]);
    // The runtime can run again afterwards.
    assert_eq!(rt.run(add(1, 2)), 3);
}

#[structured]
async fn callback_panics(log: &Log) -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            struct Dropped<'a>(&'a Log);
            impl Drop for Dropped<'_> {
                fn drop(&mut self) {
                    self.0.borrow_mut().push("child dropped");
                }
            }
            let _d = Dropped(log);
            sleep_forever().await?;
            Ok::<(), CancelRequested>(())
        });
        wait_all_tasks_blocked().await?;
        RuntimeHandle::current()
            .run_sync_soon(|| panic!("callback exploded"))
            .unwrap();
        sleep_forever().await?;
        Ok(())
    })
    .await
}

// Trio test_TrioToken_run_sync_soon_crashes: a crashing callback ends the run (Trio: a
// TrioInternalError); here its panic reaches `run`'s caller, and the tasks still alive are
// dropped (their destructors run) before it does.
#[test]
fn test_run_sync_soon_callback_panic_reaches_run() {
    let log = Log::default();
    let p = catch_unwind(AssertUnwindSafe(|| scoro::run(callback_panics(&log)))).unwrap_err();
    assert_eq!(panic_message(&*p), "callback exploded");
    assert_eq!(log.into_inner(), ["child dropped"]);
}

#[structured]
async fn destructor_panics() -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            struct PanicOnDrop;
            impl Drop for PanicOnDrop {
                fn drop(&mut self) {
                    panic!("destructor exploded");
                }
            }
            let _p = PanicOnDrop;
            checkpoint().await?;
            Ok::<(), CancelRequested>(())
        });
        Ok(())
    })
    .await
}

// A panic in the destructor of a child's state (after the child returned) is the child's
// panic: it reaches the parent like any other.
#[test]
fn test_panic_in_a_child_destructor() {
    let p = catch_unwind(|| scoro::run(destructor_panics())).unwrap_err();
    assert_eq!(panic_message(&*p), "destructor exploded");
}
