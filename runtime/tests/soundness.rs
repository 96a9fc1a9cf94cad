//! Attacks on the no-leak argument (DESIGN.md decisions 1 and 2), in safe code only. Safe code
//! can get hold of a started scoro call in many ways the macro cannot see (a `macro_rules!`
//! expansion, `__private`, an async closure called by hand); if it could then leak a nursery,
//! a `start` or a `run_sync` call that holds borrowed children, those children would read
//! freed memory. Each test tries one way and checks that the runtime refuses (with its message)
//! before any child or worker starts, or that what it allows stays sound. miri runs this file.

// Borrowed heap data (`&Vec`) is what a use after free would read: miri sees it.
#![allow(clippy::ptr_arg, clippy::useless_vec)]

use scoro::__private::Awaitable;
use scoro::{
    CancelRequested, CoroutineCall, ErrorGroup, MaybeCancelled, Nursery, TaskStatus, checkpoint,
    join_all, nursery, race, structured, to_thread,
};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

/// What the runtime says when a structured async closure runs outside a nursery.
const CLOSURE_MESSAGE: &str = "an async closure written in a `#[structured]` function was run by something other than `scoro::nursery`";

/// What the runtime says when erasing state lies outside the task running it.
const PLACEMENT_MESSAGE: &str =
    "was run outside the memory of the scoro task running it (its future was boxed";

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".to_owned()
    }
}

/// A child that borrows a local of its caller and records that it started.
#[structured]
async fn reader(local: &String, started: &AtomicBool) {
    started.store(true, Ordering::SeqCst);
    assert_eq!(local, "borrowed");
}

/// Gives any task that was started a few chances to run.
#[structured]
async fn let_others_run() {
    for _ in 0..3 {
        checkpoint().await.unwrap();
    }
}

#[structured]
async fn attack_by_hand(started: &AtomicBool) -> String {
    let local = String::from("borrowed");
    let evil = async || -> Result<(), ErrorGroup<CancelRequested>> {
        nursery(async |n| -> Result<(), CancelRequested> {
            n.start_soon(reader(&local, started));
            Ok(())
        })
        .await
    };
    let mut fut = Box::pin(evil());
    let p = catch_unwind(AssertUnwindSafe(|| {
        let mut cx = Context::from_waker(Waker::noop());
        fut.as_mut().poll(&mut cx)
    }))
    .unwrap_err();
    std::mem::forget(fut);
    let_others_run().await;
    panic_message(&*p)
}

// The attack of DESIGN.md: call the async closure by hand, box the future, poll it once with a
// no-op waker and forget it. The first poll panics before the nursery inside starts anything.
#[test]
fn test_async_closure_polled_by_hand_panics() {
    let started = AtomicBool::new(false);
    let msg = scoro::run(attack_by_hand(&started));
    assert!(msg.starts_with(CLOSURE_MESSAGE), "{msg}");
    assert!(!started.load(Ordering::SeqCst), "no child was started");
}

/// A plain (not `#[structured]`) nursery body that polls a closure future with the body's own
/// context through `poll_fn`, then forgets it.
fn plain_body_polls<F: Future>(
    mut fut: Pin<Box<F>>,
    msg: &RefCell<String>,
) -> CoroutineCall<impl Future<Output = Result<(), ErrorGroup<CancelRequested>>>> {
    scoro::nursery(async move |_n| -> Result<(), CancelRequested> {
        let r = poll_fn(|cx| Poll::Ready(catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx)))))
            .await;
        let Err(p) = r else {
            panic!("the closure future ran")
        };
        *msg.borrow_mut() = panic_message(&*p);
        std::mem::forget(fut);
        Ok(())
    })
}

#[structured]
async fn attack_in_plain_body(started: &AtomicBool) -> String {
    let local = String::from("borrowed");
    let evil = async || -> Result<(), ErrorGroup<CancelRequested>> {
        nursery(async |n| -> Result<(), CancelRequested> {
            n.start_soon(reader(&local, started));
            Ok(())
        })
        .await
    };
    let msg = RefCell::new(String::new());
    plain_body_polls(Box::pin(evil()), &msg).await.unwrap();
    let_others_run().await;
    msg.into_inner()
}

// The same attack from inside a real nursery body, using that body's context: the closure
// body runs, but the nursery inside it lies in a box of the attacker's, not in the task, so it
// refuses to start.
#[test]
fn test_async_closure_polled_in_a_plain_nursery_body_panics() {
    let started = AtomicBool::new(false);
    let msg = scoro::run(attack_in_plain_body(&started));
    assert!(
        msg.starts_with("`nursery` ") && msg.contains(PLACEMENT_MESSAGE),
        "{msg}"
    );
    assert!(!started.load(Ordering::SeqCst), "no child was started");
}

/// A plain nursery body that pins a closure future inside itself (so it lies in the body's
/// memory) but polls it with a foreign waker.
fn plain_body_polls_in_place_with_foreign_waker<C, R>(
    evil: C,
    msg: &RefCell<String>,
) -> CoroutineCall<impl Future<Output = Result<(), ErrorGroup<CancelRequested>>>>
where
    C: AsyncFnOnce() -> R,
{
    scoro::nursery(async move |_n| -> Result<(), CancelRequested> {
        let mut fut = pin!(evil());
        let r = poll_fn(|_cx| {
            let mut foreign = Context::from_waker(Waker::noop());
            Poll::Ready(catch_unwind(AssertUnwindSafe(|| {
                fut.as_mut().poll(&mut foreign)
            })))
        })
        .await;
        let Err(p) = r else {
            panic!("the closure future ran")
        };
        *msg.borrow_mut() = panic_message(&*p);
        Ok(())
    })
}

#[structured]
async fn attack_with_foreign_waker(started: &AtomicBool) -> String {
    let local = String::from("borrowed");
    let evil = async || -> Result<(), ErrorGroup<CancelRequested>> {
        nursery(async |n| -> Result<(), CancelRequested> {
            n.start_soon(reader(&local, started));
            Ok(())
        })
        .await
    };
    let msg = RefCell::new(String::new());
    plain_body_polls_in_place_with_foreign_waker(evil, &msg)
        .await
        .unwrap();
    let_others_run().await;
    msg.into_inner()
}

// A scoro future polled by a foreign executor (here: with a no-op waker) panics, even from
// inside a nursery body on the runtime's thread.
#[test]
fn test_closure_future_polled_with_a_foreign_waker_panics() {
    let started = AtomicBool::new(false);
    let msg = scoro::run(attack_with_foreign_waker(&started));
    assert!(msg.starts_with(CLOSURE_MESSAGE), "{msg}");
    assert!(!started.load(Ordering::SeqCst));
}

#[structured]
async fn attack_from_another_thread(started: &AtomicBool) -> String {
    let local = String::from("borrowed");
    let evil = async || -> Result<(), ErrorGroup<CancelRequested>> {
        nursery(async |n| -> Result<(), CancelRequested> {
            n.start_soon(reader(&local, started));
            Ok(())
        })
        .await
    };
    let evil = &evil;
    let msg = std::thread::scope(|s| {
        s.spawn(move || {
            let p = catch_unwind(AssertUnwindSafe(|| {
                let mut fut = pin!(evil());
                fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
            }))
            .unwrap_err();
            panic_message(&*p)
        })
        .join()
        .unwrap()
    });
    let_others_run().await;
    msg
}

// A foreign executor on another thread (no runtime there at all) cannot run a scoro future.
#[test]
fn test_closure_future_polled_on_another_thread_panics() {
    let started = AtomicBool::new(false);
    let msg = scoro::run(attack_from_another_thread(&started));
    assert!(msg.starts_with(CLOSURE_MESSAGE), "{msg}");
    assert!(!started.load(Ordering::SeqCst));
}

type Log = RefCell<Vec<&'static str>>;

/// Starts `orphan` in its nursery when dropped.
struct Respawn<'s, 'env> {
    n: &'s Nursery<'s, 'env, CancelRequested>,
    log: &'s Log,
}

impl Drop for Respawn<'_, '_> {
    fn drop(&mut self) {
        self.log.borrow_mut().push("child dropped");
        self.n.start_soon(orphan(self.log));
    }
}

#[structured]
async fn orphan(log: &Log) {
    log.borrow_mut().push("orphan ran");
}

#[structured]
async fn holds(respawn: Respawn<'_, '_>) -> Result<(), CancelRequested> {
    scoro::sleep_forever().await?;
    drop(respawn);
    Ok(())
}

/// A plain nursery body that pins a closure future inside itself, polls it once with the
/// body's context (which the runtime accepts: the future lies in the body), then drops it
/// while the nursery inside is still running.
fn plain_body_drops_in_place<C, R>(
    evil: C,
) -> CoroutineCall<impl Future<Output = Result<(), ErrorGroup<CancelRequested>>>>
where
    C: AsyncFnOnce() -> R,
{
    scoro::nursery(async move |_n| -> Result<(), CancelRequested> {
        let mut slot = pin!(Some(evil()));
        poll_fn(|cx| {
            let poll = slot.as_mut().as_pin_mut().unwrap().poll(cx);
            assert!(poll.is_pending(), "the nursery inside is waiting");
            Poll::Ready(())
        })
        .await;
        slot.set(None);
        Ok(())
    })
}

#[structured]
async fn drop_nursery_in_flight(log: &Log, started: &Cell<bool>, in_body: bool) {
    let evil = async || -> Result<(), ErrorGroup<CancelRequested>> {
        nursery(async |n| -> Result<(), CancelRequested> {
            started.set(true);
            // The sibling is started by a child's destructor, or by one in the body itself.
            let _in_body = in_body.then(|| Respawn { n, log });
            if !in_body {
                n.start_soon(holds(Respawn { n, log }));
            }
            scoro::sleep_forever().await?;
            Ok(())
        })
        .await
    };
    plain_body_drops_in_place(evil).await.unwrap();
    let_others_run().await;
}

// Safe code can drop a nursery in flight (a closure future pinned inside a nursery body and
// dropped with `Pin::set`). The nursery's guard then drops its children; a child whose
// destructor starts a sibling must not leave that sibling behind, running after the nursery
// (and whatever its children borrow) is gone.
#[test]
fn test_child_started_while_a_nursery_is_dropped_never_runs() {
    for in_body in [false, true] {
        let log = Log::default();
        let started = Cell::new(false);
        scoro::run(drop_nursery_in_flight(&log, &started, in_body));
        assert!(started.get(), "the in-place closure future did run");
        let log = log.into_inner();
        assert_eq!(log, ["child dropped"], "in_body: {in_body}");
    }
}

// ----- the four reproducers of the soundness review, and their variants -----------------------

/// A child that records that it started, then reads what it borrows after a checkpoint.
#[structured]
async fn borrower(v: &Vec<u64>, started: &AtomicBool) -> Result<(), CancelRequested> {
    started.store(true, Ordering::SeqCst);
    checkpoint().await?;
    assert_eq!(v.as_slice(), [1, 2, 3]);
    Ok(())
}

/// Where an attacker keeps a started future so that it is never dropped.
#[derive(Clone, Copy, Debug)]
enum Escape {
    /// `Box::pin` and `mem::forget`.
    BoxForget,
    /// An `Rc` cycle.
    RcCycle,
    /// `pin!` on the native stack inside `poll`.
    NativeStack,
}

const ESCAPES: [Escape; 3] = [Escape::BoxForget, Escape::RcCycle, Escape::NativeStack];

/// An `Rc` that owns itself.
struct Cycle<F> {
    future: RefCell<Option<Pin<Box<F>>>>,
    me: RefCell<Option<Rc<Cycle<F>>>>,
}

pin_project_lite::pin_project! {
    /// Polls the future it holds, with the task's own context, from the place `kind` says, a
    /// few times in a row (to get past the checkpoints before an erasure), and leaks it.
    struct PollOnceAndLeak<F> {
        future: Option<F>,
        kind: Escape,
    }
}

impl<F: Future> Future for PollOnceAndLeak<F> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let future = this.future.take().expect("polled once");
        match *this.kind {
            Escape::BoxForget => {
                let mut f = Box::pin(future);
                poll_a_few_times(f.as_mut(), cx);
                std::mem::forget(f);
            }
            Escape::RcCycle => {
                let cycle = Rc::new(Cycle {
                    future: RefCell::new(Some(Box::pin(future))),
                    me: RefCell::new(None),
                });
                *cycle.me.borrow_mut() = Some(cycle.clone());
                poll_a_few_times(cycle.future.borrow_mut().as_mut().unwrap().as_mut(), cx);
            }
            Escape::NativeStack => {
                // Pinned in this poll's stack frame, which ends (dropping it) before the task
                // does: what matters is that it was polled outside the task.
                let mut f = pin!(future);
                poll_a_few_times(f.as_mut(), cx);
            }
        }
        Poll::Ready(())
    }
}

fn poll_a_few_times<F: Future>(mut f: Pin<&mut F>, cx: &mut Context<'_>) {
    for _ in 0..8 {
        if f.as_mut().poll(cx).is_ready() {
            return;
        }
    }
}

/// Takes the plain future out of `call` (safe: `__private` carries no trust) and leaks it
/// after one poll, as `kind` says. Awaitable in a structured body: wrapped by hand.
fn leak<F: Future>(
    call: CoroutineCall<F>,
    kind: Escape,
) -> CoroutineCall<impl Future<Output = ()>> {
    let future = Awaitable::__scoro_await(call);
    scoro::__private::coroutine(
        PollOnceAndLeak {
            future: Some(future),
            kind,
        },
        "soundness",
        "leak",
    )
}

/// Runs `main`, which must panic; returns the panic's message.
fn run_expecting_panic<F: Future>(main: CoroutineCall<F>) -> String {
    let p = catch_unwind(AssertUnwindSafe(|| scoro::run(main)))
        .err()
        .expect("the attack was refused with a panic");
    panic_message(&*p)
}

fn assert_refused(msg: &str, what: &str) {
    assert!(
        msg.starts_with(&format!("`{what}` ")) && msg.contains(PLACEMENT_MESSAGE),
        "{msg}"
    );
}

#[structured]
async fn leak_join_all(started: &AtomicBool, kind: Escape) {
    {
        let data = vec![1u64, 2, 3];
        leak(join_all([borrower(&data, started)]), kind).await;
    }
    let_others_run().await;
}

// Reproducer 1 (implementing the hidden await trait to leak a started `join_all`): the trait
// is sealed now (`ui-tests/tests/fail/implement-awaitable.rs`); taking the future out with the
// trait's method and leaking it in each way is refused before any child starts.
#[test]
fn test_leaked_join_all_is_refused_before_any_child_starts() {
    for kind in ESCAPES {
        let started = AtomicBool::new(false);
        let msg = run_expecting_panic(leak_join_all(&started, kind));
        assert_refused(&msg, "nursery");
        assert!(
            !started.load(Ordering::SeqCst),
            "{kind:?}: no child started"
        );
    }
}

#[structured]
async fn leak_race(started: &AtomicBool) {
    {
        let data = vec![1u64, 2, 3];
        leak(race([borrower(&data, started)]), Escape::BoxForget).await;
    }
    let_others_run().await;
}

#[test]
fn test_leaked_race_is_refused_before_any_child_starts() {
    let started = AtomicBool::new(false);
    let msg = run_expecting_panic(leak_race(&started));
    assert_refused(&msg, "nursery");
    assert!(!started.load(Ordering::SeqCst));
}

macro_rules! plain_async {
    ($e:expr) => {
        async move { $e }
    };
}

macro_rules! raw_await {
    ($e:expr) => {
        $e.await
    };
}

#[structured]
async fn smuggle_through_macro_rules(started: &AtomicBool) {
    // Nothing to rewrite in this invocation: a plain `.await`, which yields the task's waker.
    let waker = raw_await!(poll_fn(|cx| Poll::Ready(cx.waker().clone())));
    {
        let data = vec![1u64, 2, 3];
        let r = &data;
        // The `.await` inside is rewritten; the `async` block the user macro makes is not.
        let mut fut = Box::pin(plain_async!(join_all([borrower(r, started)]).await));
        let _ = fut.as_mut().poll(&mut Context::from_waker(&waker));
        std::mem::forget(fut);
    }
    let_others_run().await;
}

// Reproducer 2: `macro_rules!` smuggling a started call into a plain `async` block, polled with
// the task's own waker and forgotten.
#[test]
fn test_macro_rules_smuggling_is_refused_before_any_child_starts() {
    let started = AtomicBool::new(false);
    let msg = run_expecting_panic(smuggle_through_macro_rules(&started));
    assert_refused(&msg, "nursery");
    assert!(!started.load(Ordering::SeqCst));
}

#[derive(Debug)]
struct Boom;

impl MaybeCancelled for Boom {
    fn is_cancel_requested(&self) -> bool {
        panic!("boom")
    }
}

#[structured]
async fn read_after_start(v: &Vec<u64>, seen: &RefCell<Vec<u64>>) -> Result<(), Boom> {
    seen.borrow_mut().extend_from_slice(v);
    Ok(())
}

#[structured]
async fn victim(seen: &RefCell<Vec<u64>>) {
    let data = vec![1u64, 2, 3];
    let _ = nursery(async |n| -> Result<(), Boom> {
        n.start(|status: TaskStatus<()>| {
            status.started(());
            read_after_start(&data, seen)
        })
        .await?;
        Err(Boom)
    })
    .await;
}

#[structured]
async fn start_then_panic(seen: &RefCell<Vec<u64>>) -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(victim(seen));
        Ok(())
    })
    .await
}

// Reproducer 3: `started()` called before the child is spawned, then a panic out of the
// nursery from a user `MaybeCancelled`. The child belongs to the nursery, runs while `data`
// lives, and the panic reaches the caller of `run`.
#[test]
fn test_child_started_before_spawn_belongs_to_the_nursery() {
    let seen = RefCell::new(Vec::new());
    let msg = run_expecting_panic(start_then_panic(&seen));
    assert_eq!(msg, "boom");
    assert_eq!(
        seen.into_inner(),
        [1, 2, 3],
        "the child ran while `data` lived"
    );
}

#[structured]
async fn leak_start(started: &AtomicBool, kind: Escape) -> Result<(), ErrorGroup<CancelRequested>> {
    let data = vec![1u64, 2, 3];
    nursery(async |n| -> Result<(), CancelRequested> {
        let call = n.start(|status: TaskStatus<()>| {
            status.started(());
            borrower(&data, started)
        });
        leak(call, kind).await;
        Ok(())
    })
    .await
}

// A pending `Nursery::start` owns its child until the child is adopted; leaked, it is refused.
#[test]
fn test_leaked_start_is_refused_before_its_child_starts() {
    for kind in ESCAPES {
        let started = AtomicBool::new(false);
        let msg = run_expecting_panic(leak_start(&started, kind));
        assert_refused(&msg, "Nursery::start");
        assert!(!started.load(Ordering::SeqCst), "{kind:?}");
    }
}

#[structured]
async fn leak_run_sync(ran: &AtomicBool, kind: Escape) {
    {
        let data = vec![1u64, 2, 3];
        let call = to_thread::run_sync(|| {
            ran.store(true, Ordering::SeqCst);
            data.len()
        });
        leak(call, kind).await;
    }
    let_others_run().await;
}

// A borrowing `run_sync` call leaked before or after its worker starts: refused before the
// function's lifetime is erased, so the worker never runs.
#[test]
fn test_leaked_run_sync_is_refused_before_the_worker_runs() {
    for kind in ESCAPES {
        let ran = AtomicBool::new(false);
        let msg = run_expecting_panic(leak_run_sync(&ran, kind));
        assert_refused(&msg, "to_thread::run_sync");
        assert!(!ran.load(Ordering::SeqCst), "{kind:?}");
    }
}

/// A recursive function: its state machine is boxed by the macro.
#[structured(boxed)]
async fn nested(
    depth: u32,
    data: &Vec<u64>,
    total: &Cell<u64>,
) -> Result<(), ErrorGroup<CancelRequested>> {
    if depth == 0 {
        return Ok(());
    }
    nursery(async |n| -> Result<(), ErrorGroup<CancelRequested>> {
        n.start_soon(nested(depth - 1, data, total));
        total.set(total.get() + data.iter().sum::<u64>());
        Ok(())
    })
    .await
    .map_err(|g| g.into_first())
}

// `#[structured(boxed)]`: the box is registered by its wrapper, so nurseries inside work.
#[test]
fn test_nursery_in_a_boxed_function_works() {
    let total = Cell::new(0);
    let data = vec![1u64, 2, 3];
    scoro::run(nested(3, &data, &total)).unwrap();
    assert_eq!(total.get(), 18);
}

#[structured]
async fn leak_boxed(kind: Escape, total: &Cell<u64>) {
    {
        let data = vec![1u64, 2, 3];
        leak(nested(2, &data, total), kind).await;
    }
    let_others_run().await;
}

// ...but a boxed function's state machine leaked by the attacker is refused: its wrapper checks
// its own placement before registering its box.
#[test]
fn test_leaked_boxed_function_is_refused() {
    for kind in ESCAPES {
        let total = Cell::new(0);
        let msg = run_expecting_panic(leak_boxed(kind, &total));
        assert_refused(&msg, "#[structured(boxed)]");
        assert_eq!(total.get(), 0, "{kind:?}");
    }
}

/// A call whose type `CoroutineCall::boxed` erased, running a nursery whose children borrow.
#[structured]
async fn borrowing_nursery(
    data: &Vec<u64>,
    total: &Cell<u64>,
) -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            scoro::checkpoint().await?;
            total.set(total.get() + data.iter().sum::<u64>());
            Ok::<(), CancelRequested>(())
        });
        Ok(())
    })
    .await
}

#[structured]
async fn run_boxed_call(total: &Cell<u64>) {
    let data = vec![1u64, 2, 3];
    borrowing_nursery(&data, total).boxed().await.unwrap();
}

// `CoroutineCall::boxed`: the box is registered like a `#[structured(boxed)]` function's, so a
// nursery inside works...
#[test]
fn test_nursery_in_a_boxed_call_works() {
    let total = Cell::new(0);
    scoro::run(run_boxed_call(&total));
    assert_eq!(total.get(), 6);
}

#[structured]
async fn leak_boxed_call(kind: Escape, total: &Cell<u64>) {
    {
        let data = vec![1u64, 2, 3];
        leak(borrowing_nursery(&data, total).boxed(), kind).await;
    }
    let_others_run().await;
}

// ...but a boxed call taken out of its `CoroutineCall` and leaked by the attacker is refused
// before its nursery starts a child that borrows the freed `data`.
#[test]
fn test_leaked_boxed_call_is_refused() {
    for kind in ESCAPES {
        let total = Cell::new(0);
        let msg = run_expecting_panic(leak_boxed_call(kind, &total));
        assert_refused(&msg, "CoroutineCall::boxed");
        assert_eq!(total.get(), 0, "{kind:?}");
    }
}

thread_local! {
    static KEPT: RefCell<Option<TaskStatus<u32>>> = const { RefCell::new(None) };
}

#[structured]
async fn keeps_its_status(status: TaskStatus<u32>) {
    KEPT.with(|k| *k.borrow_mut() = Some(status));
}

#[structured]
async fn start_and_keep_status() -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            // The start fails (the child returns without `started`); its status is kept.
            let _ = catch_unwind(AssertUnwindSafe(|| ()));
        });
        let started =
            scoro::move_on_after(std::time::Duration::ZERO, n.start(keeps_its_status)).await;
        assert!(started.is_none() || started.is_some());
        Ok(())
    })
    .await
}

#[structured]
async fn use_kept_status() -> String {
    let status = KEPT
        .with(|k| k.borrow_mut().take())
        .expect("kept by the first run");
    let p = catch_unwind(AssertUnwindSafe(|| status.started(7))).unwrap_err();
    panic_message(&*p)
}

// Objects tied to a run act only in that run: a `TaskStatus` kept past its run refuses to act
// in the next one instead of moving that run's tasks and scopes around.
#[test]
fn test_task_status_from_another_run_panics() {
    let _ = catch_unwind(AssertUnwindSafe(|| scoro::run(start_and_keep_status())));
    let msg = scoro::run(use_kept_status());
    assert!(
        msg.starts_with("`TaskStatus::started` was called outside the scoro run"),
        "{msg}"
    );
}

#[derive(Debug)]
struct PanicsOnConversion;

impl From<PanicsOnConversion> for CancelRequested {
    fn from(_: PanicsOnConversion) -> Self {
        panic!("conversion")
    }
}

#[structured]
async fn fails_oddly() -> Result<(), PanicsOnConversion> {
    Err(PanicsOnConversion)
}

#[structured]
async fn sibling_of_odd(v: &Vec<u64>, seen: &Cell<bool>) -> Result<(), CancelRequested> {
    let r = scoro::sleep_forever().await;
    seen.set(v.len() == 3);
    r.map(|never| match never {})
}

#[structured]
async fn conversion_panics(seen: &Cell<bool>) -> Result<(), ErrorGroup<CancelRequested>> {
    let data = vec![1u64, 2, 3];
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(sibling_of_odd(&data, seen));
        n.start_soon(fails_oddly());
        Ok(())
    })
    .await
}

// User code the runtime calls may panic: here the conversion of a child's error into the
// nursery's error type. The panic is the child's: it cancels the sibling (which still sees its
// borrowed data) and reaches the caller of `run`.
#[test]
fn test_panicking_error_conversion_propagates_like_a_task_panic() {
    let seen = Cell::new(false);
    let msg = run_expecting_panic(conversion_panics(&seen));
    assert_eq!(msg, "conversion");
    assert!(
        seen.get(),
        "the sibling was cancelled and finished normally"
    );
}

/// Panics when dropped.
struct PanicOnDrop<'a>(&'a Log);

impl Drop for PanicOnDrop<'_> {
    fn drop(&mut self) {
        self.0.borrow_mut().push("destructor ran");
        panic!("destructor");
    }
}

#[structured]
async fn holds_panicking(guard: PanicOnDrop<'_>, data: &Vec<u64>) -> Result<(), CancelRequested> {
    scoro::sleep_forever().await?;
    assert_eq!(data.len(), 3);
    drop(guard);
    Ok(())
}

#[structured]
async fn drop_nursery_with_panicking_child(log: &Log) {
    let data = vec![1u64, 2, 3];
    let evil = async || -> Result<(), ErrorGroup<CancelRequested>> {
        nursery(async |n| -> Result<(), CancelRequested> {
            n.start_soon(holds_panicking(PanicOnDrop(log), &data));
            n.start_soon(holds(Respawn { n, log }));
            scoro::sleep_forever().await?;
            Ok(())
        })
        .await
    };
    plain_body_drops_in_place(evil).await.unwrap();
}

// A nursery dropped in flight whose child panics in its destructor: every child is still
// dropped (and a sibling started by a destructor never runs), the nursery leaves its scope, and
// the destructor's panic reaches the caller of `run`.
#[test]
fn test_panicking_destructor_during_teardown_leaves_nothing_behind() {
    let log = Log::default();
    let msg = run_expecting_panic(drop_nursery_with_panicking_child(&log));
    assert_eq!(msg, "destructor");
    let mut log = log.into_inner();
    log.sort_unstable();
    assert_eq!(log, ["child dropped", "destructor ran"]);
}
