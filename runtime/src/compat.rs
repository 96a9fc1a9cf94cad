// Invariants (for maintainers):
// - The foreign future is polled with a real, thread-safe waker of the calling task (a
//   `RemoteWaker`), never with the task's own waker, and with the "current task" marker
//   cleared while it runs: scoro futures check both, so a foreign future cannot run scoro
//   calls behind the runtime's back.
//! Using futures written for other executors: [`future`], and writing them: [`plain!`].
//!
//! Foreign code that reads and writes through `poll_read`/`poll_write` (the `AsyncRead` and
//! `AsyncWrite` traits of `futures-io` and of tokio, with the features of those names) gets a
//! scoro stream through [`poll_io`]. Futures that need a tokio runtime (its timers, its
//! sockets, `tokio::spawn`) run under `tokio_future` (feature `tokio`), which enters one
//! around every poll.
//!
//! Guarantees:
//! - Waiting for a foreign future can be cancelled: cancellation drops the future at once
//!   (the usual way to cancel a `Future`) and returns `Err(CancelRequested)`.
//! - [`future`] is a checkpoint like every scoro blocking call: it checks for cancellation
//!   first, and yields once before returning a value the future had ready at once.

mod poll_io;
#[cfg(feature = "tokio")]
mod tokio_rt;

pub use poll_io::{PollIo, PollIoStream, poll_io};
#[cfg(feature = "tokio")]
pub use tokio_rt::{tokio_future, tokio_handle};

use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::{self, CurrentTask, Waiting};
use crate::wait::{Aborted, Step, Wait, WaitCall};
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
/// still need that runtime; `future` only provides a waker. For tokio, `tokio_future` (feature
/// `tokio`) enters one around every poll.
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
///
/// An `async` block written as the argument, `compat::future(async { .. })`, is a plain
/// future even inside a `#[structured]` function (where other `async` blocks are scoro calls),
/// so it can await foreign futures; see [`plain!`].
pub fn future<F: Future>(
    f: F,
) -> CoroutineCall<impl Future<Output = Result<F::Output, CancelRequested>>> {
    CoroutineCall::internal(
        WaitCall::new(Compat { future: Some(f) }),
        "scoro::compat",
        "future",
    )
}

pin_project_lite::pin_project! {
    /// A [`future`] call: a [`Wait`] whose operation is one poll of the foreign future.
    struct Compat<F> {
        #[pin]
        future: Option<F>,
    }
}

impl<F: Future> Wait for Compat<F> {
    type Output = Result<F::Output, CancelRequested>;
    type Parked = ();

    fn waiting(&self) -> Waiting {
        Waiting::CompatFuture
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        // Dropping a `Future` is how it is cancelled.
        self.project().future.set(None);
        Err(cancel)
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, ()> {
        let mut future = self.project().future;
        let Some(inner) = future.as_mut().as_pin_mut() else {
            panic!("`scoro::compat::future` polled after it finished");
        };
        let waker = task.remote_waker();
        let mut foreign_cx = Context::from_waker(&waker);
        let polled = {
            let _outside = seam::leave_task();
            inner.poll(&mut foreign_cx)
        };
        match polled {
            Poll::Ready(v) => {
                future.set(None);
                Step::Done(Ok(v))
            }
            Poll::Pending => Step::Park(()),
        }
    }

    fn woken(self: Pin<&mut Self>, (): ()) -> Step<Self::Output, ()> {
        // The foreign future's waker was used (or a cancellation came): poll it again.
        Step::Retry
    }

    fn abort(self: Pin<&mut Self>, (): (), cancel: CancelRequested) -> Aborted<Self::Output, ()> {
        self.project().future.set(None);
        Aborted::Left(Err(cancel))
    }

    fn abandon(self: Pin<&mut Self>, (): ()) {}
}

/// Writes a plain [`Future`] as an `async` block, also inside a `#[structured]` function.
///
/// In a structured body an `async { .. }` block is a [`CoroutineCall`], which only scoro can
/// run. `plain!(async move { .. })` keeps it a `Future`, for whatever takes one: another
/// runtime's `spawn`, a foreign combinator, [`future`]. Outside structured code it changes
/// nothing.
///
/// A plain future can await any `Future`, but no scoro call: whoever polls it may drop it
/// half-way, which a scoro call must never be. Awaiting a `CoroutineCall` inside `plain!` is a
/// compile error that says so; await the call outside and move its value in.
///
/// The `async` block written directly as the argument of `compat::future(..)` is already
/// plain: `scoro::compat::future(async { .. }).await` needs no `plain!`. `#[structured]`
/// recognises both forms by their paths (a call whose path ends in `compat::future`, a macro
/// named `plain`), so keep those names when importing them.
///
/// ```
/// use scoro::compat::{self, plain};
/// use std::future::{Future, ready};
///
/// /// An API written for futures.
/// fn both<A: Future<Output = u32>, B: Future<Output = u32>>(a: A, b: B) -> impl Future<Output = u32> {
///     async move { a.await + b.await }
/// }
///
/// #[scoro::structured]
/// async fn main_task() -> Result<u32, scoro::CancelRequested> {
///     let base = 40;
///     let one = plain!(async move { ready(base).await });
///     let two = plain!(async { ready(2).await });
///     let sum = compat::future(both(one, two)).await?;
///     // The argument of `compat::future` is plain without `plain!`.
///     let same = compat::future(async { ready(sum).await }).await?;
///     Ok(same)
/// }
///
/// assert_eq!(scoro::run(main_task()), Ok(42));
/// ```
pub use scoro_macros::plain;
