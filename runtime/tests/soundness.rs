//! The holes DESIGN.md key decision 1 closes at run time. An async closure written in a
//! `#[structured]` body is the one scoro future safe code can hold; if it could be polled
//! outside a nursery, a nursery inside it could start children borrowing locals and then be
//! leaked with `mem::forget`. Each test tries one way in and checks that the runtime refuses
//! (with its message) before any child starts, or that what it allows stays sound.

use scoro::{CancelRequested, CoroutineCall, ErrorGroup, Nursery, checkpoint, nursery, structured};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

/// What the runtime says when a structured async closure runs outside a nursery.
const CLOSURE_MESSAGE: &str = "an async closure written in a `#[structured]` function was run by something other than `scoro::nursery`";

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
// future is not the nursery's body (it is boxed elsewhere), so it still refuses to run.
#[test]
fn test_async_closure_polled_in_a_plain_nursery_body_panics() {
    let started = AtomicBool::new(false);
    let msg = scoro::run(attack_in_plain_body(&started));
    assert!(msg.starts_with(CLOSURE_MESSAGE), "{msg}");
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
