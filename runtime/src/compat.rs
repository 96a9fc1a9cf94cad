//! Using futures written for other executors: [`future`].
//!
//! Invariants:
//! - The foreign future is polled with a real, thread-safe waker of the calling task (a
//!   `RemoteWaker`), never with the task's own waker, and with the "current task" marker
//!   cleared while it runs: scoro futures check both, so a foreign future cannot run scoro
//!   calls behind the runtime's back.
//! - Waiting for it is a cancellable wait: cancellation drops the foreign future at once (the
//!   usual way to cancel a `Future`) and returns `Err(CancelRequested)`.
//! - Like every scoro blocking call, it checks for cancellation first and yields once before
//!   returning a value, even when the future is ready at once.

use crate::CoroutineCall;
use crate::cancel::CancelRequested;
use crate::runtime::seam::{self, CurrentTask};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs a foreign future — one written for another executor, or by hand — to completion
/// inside a scoro task.
///
/// `#[structured]` functions can only `.await` scoro calls; wrap anything else in `future`.
/// The future is polled on the runtime's thread with a waker that may be used from any
/// thread (so futures woken by their own threads, timers or I/O reactors work), and sleeps
/// in between like any other scoro wait.
///
/// Cancellation drops the future, the only way to cancel a `Future`, and returns
/// `Err(CancelRequested)`. Whether that loses anything depends on the future: check its
/// documentation for "cancel safety".
///
/// Futures that need a particular runtime to be running (a tokio socket, a tokio timer)
/// still need that runtime; `future` only provides a waker.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::{Arc, Mutex};
/// use std::task::{Context, Poll, Waker};
///
/// /// A hand-written future, completed by another thread.
/// struct Answer(Arc<Mutex<(Option<u32>, Option<Waker>)>>);
///
/// impl Future for Answer {
///     type Output = u32;
///     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
///         let mut state = self.0.lock().unwrap();
///         match state.0 {
///             Some(v) => Poll::Ready(v),
///             None => {
///                 state.1 = Some(cx.waker().clone());
///                 Poll::Pending
///             }
///         }
///     }
/// }
///
/// #[scoro::structured]
/// async fn main_task() -> Result<u32, scoro::CancelRequested> {
///     let shared = Arc::new(Mutex::new((None, None::<Waker>)));
///     let remote = shared.clone();
///     std::thread::spawn(move || {
///         let mut state = remote.lock().unwrap();
///         state.0 = Some(42);
///         if let Some(w) = state.1.take() {
///             w.wake();
///         }
///     });
///     scoro::compat::future(Answer(shared)).await
/// }
///
/// assert_eq!(scoro::run(main_task()), Ok(42));
/// ```
pub fn future<F: Future>(
    f: F,
) -> CoroutineCall<impl Future<Output = Result<F::Output, CancelRequested>>> {
    CoroutineCall::internal(
        Compat {
            future: Some(f),
            output: None,
        },
        "scoro::compat",
        "future",
    )
}

pin_project_lite::pin_project! {
    struct Compat<F: Future> {
        #[pin]
        future: Option<F>,
        // The value, kept during the final yield.
        output: Option<F::Output>,
    }
}

impl<F: Future> Future for Compat<F> {
    type Output = Result<F::Output, CancelRequested>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = CurrentTask::of(cx);
        let mut this = self.project();
        if let Some(v) = this.output.take() {
            return Poll::Ready(Ok(v));
        }
        if let Some(c) = task.cancelled() {
            this.future.set(None);
            return Poll::Ready(Err(c));
        }
        let Some(future) = this.future.as_mut().as_pin_mut() else {
            panic!("`scoro::compat::future` polled after it finished");
        };
        let waker = task.remote_waker();
        let mut foreign_cx = Context::from_waker(&waker);
        let polled = {
            let _outside = seam::leave_task();
            future.poll(&mut foreign_cx)
        };
        match polled {
            Poll::Ready(v) => {
                this.future.set(None);
                *this.output = Some(v);
                task.yield_now();
            }
            Poll::Pending => task.park(),
        }
        Poll::Pending
    }
}
