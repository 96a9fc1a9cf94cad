//! Foreign futures through `compat::future`: real wakers usable from other threads,
//! cancellation drops the future, and the call is a checkpoint.

use scoro::{CancelScope, compat, move_on_after, nursery, testing::wait_all_tasks_blocked};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A future that never completes and records its polls and its drop.
struct Forever<'a> {
    polls: &'a AtomicUsize,
    dropped: &'a AtomicBool,
}

impl Future for Forever<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        Poll::Pending
    }
}

impl Drop for Forever<'_> {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

#[scoro::test(autojump)]
async fn cancellation_drops_the_pending_foreign_future() {
    let polls = AtomicUsize::new(0);
    let dropped = AtomicBool::new(false);
    let outcome = move_on_after(
        Duration::from_secs(10),
        compat::future(Forever {
            polls: &polls,
            dropped: &dropped,
        }),
    )
    .await;
    assert_eq!(outcome, None);
    assert!(dropped.load(Ordering::SeqCst), "the future was dropped");
    assert_eq!(polls.load(Ordering::SeqCst), 1, "and not polled in vain");
}

#[scoro::test]
async fn a_cancelled_task_does_not_poll_the_future() {
    let polls = AtomicUsize::new(0);
    let dropped = AtomicBool::new(false);
    let scope = CancelScope::new();
    scope.handle().cancel();
    let outcome = scope
        .run(compat::future(Forever {
            polls: &polls,
            dropped: &dropped,
        }))
        .await;
    assert_eq!(outcome, None);
    assert_eq!(polls.load(Ordering::SeqCst), 0);
}

/// Completed by another thread, which wakes the stored waker.
struct FromThread(Arc<Mutex<(Option<&'static str>, Option<Waker>)>>);

impl Future for FromThread {
    type Output = &'static str;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        let mut state = self.0.lock().unwrap();
        match state.0 {
            Some(v) => Poll::Ready(v),
            None => {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[scoro::test]
async fn a_waker_used_on_another_thread_wakes_the_task() {
    let shared = Arc::new(Mutex::new((None, None::<Waker>)));
    let fut = FromThread(shared.clone());
    let value = nursery(async |n| -> Result<&'static str, scoro::CancelRequested> {
        n.start_soon(async {
            wait_all_tasks_blocked().await?;
            let shared = shared.clone();
            std::thread::spawn(move || {
                let mut state = shared.lock().unwrap();
                state.0 = Some("from a thread");
                state.1.take().expect("the future left its waker").wake();
            })
            .join()
            .unwrap();
            Ok::<(), scoro::CancelRequested>(())
        });
        compat::future(fut).await
    })
    .await
    .unwrap();
    assert_eq!(value, "from a thread");
}

/// Wakes itself during `poll` a few times before it is ready: each wake must lead to
/// another poll.
struct SelfWaking(u32);

impl Future for SelfWaking {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.0 == 0 {
            return Poll::Ready(7);
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[scoro::test]
async fn a_future_that_wakes_itself_is_polled_again() {
    assert_eq!(compat::future(SelfWaking(5)).await, Ok(7));
    assert_eq!(compat::future(std::future::ready(3)).await, Ok(3));
}

#[scoro::test]
async fn the_waker_outlives_the_run_harmlessly() {
    let kept = Arc::new(Mutex::new(None::<Waker>));
    struct Keep(Arc<Mutex<Option<Waker>>>);
    impl Future for Keep {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            *self.0.lock().unwrap() = Some(cx.waker().clone());
            Poll::Ready(())
        }
    }
    compat::future(Keep(kept.clone())).await.unwrap();
    let waker = kept.lock().unwrap().take().unwrap();
    // Waking a task that has moved on (or a run that has ended) does nothing.
    waker.wake_by_ref();
    std::thread::spawn(move || waker.wake()).join().unwrap();
}
