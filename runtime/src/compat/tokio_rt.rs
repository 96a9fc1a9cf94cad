//! Running futures that need a tokio runtime (its reactor, its timers, `tokio::spawn`) inside
//! scoro tasks.
//!
//! Invariants:
//! - The foreign future is polled and dropped with a tokio runtime's context entered (a
//!   `Handle::enter` guard that lives exactly as long as the poll or the drop), so guards nest
//!   like the polls that take them.
//! - The shared runtime is a current-thread runtime, started once per process on first use
//!   and driven for the rest of the process by one thread of its own, which does nothing but
//!   `block_on` a future that never ends. It is never dropped.

use super::Compat;
use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::wait::WaitCall;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use tokio::runtime::Handle;

/// Runs a future that needs a tokio runtime — tokio's timers and sockets, `tokio::spawn`, a
/// client crate built on them — to completion inside a scoro task.
///
/// Like [`future`](super::future), but every poll of `f` (and its drop) happens with a tokio
/// runtime entered, so that `Handle::current()` finds one: the runtime this thread is already
/// in when `tokio_future` is called (if the program entered one around `scoro::run`), else
/// [`tokio_handle`]'s shared one. The future itself is still polled on scoro's thread, and
/// can use scoro streams through [`poll_io`](super::poll_io).
///
/// A current-thread tokio runtime is driven only inside its `block_on`. If this thread is in
/// one because `scoro::run` was called inside its `block_on` (`#[tokio::main(flavor =
/// "current_thread")]`), nothing drives it while scoro runs, and tokio's timers and sockets
/// wait forever: run scoro on a thread of its own there, or use a multi-thread runtime.
///
/// Cancellation drops `f` at once, in the runtime's context, and returns
/// `Err(CancelRequested)`. For the tokio resources it owns that means what dropping means in
/// tokio: sockets are closed (bytes still in user-space buffers, a `BufWriter`'s say, are
/// lost), timers are removed, channel ends are dropped (the other side sees the channel
/// closed), and a `JoinHandle` is detached: a task it spawned goes on running on the tokio
/// runtime unless it is aborted (keep an `AbortHandle`, or use an abort-on-drop wrapper).
///
/// An `async` block written as the argument, `compat::tokio_future(async { .. })`, is a plain
/// future even inside a `#[structured]` function, as with [`future`](super::future).
///
/// # Panics
/// When the shared runtime is needed and cannot be started (the system refuses a thread or
/// the reactor's descriptors).
///
/// ```
/// use scoro::compat;
/// use std::time::Duration;
///
/// #[scoro::structured]
/// async fn main_task() -> Result<u32, scoro::CancelRequested> {
///     compat::tokio_future(async {
///         tokio::time::sleep(Duration::from_millis(1)).await;
///         let (tx, mut rx) = tokio::sync::mpsc::channel(1);
///         tokio::spawn(async move { tx.send(42).await.unwrap() });
///         rx.recv().await.unwrap()
///     })
///     .await
/// }
///
/// assert_eq!(scoro::run(main_task()), Ok(42));
/// ```
pub fn tokio_future<F: Future>(
    f: F,
) -> CoroutineCall<impl Future<Output = Result<F::Output, CancelRequested>>> {
    let handle = Handle::try_current().unwrap_or_else(|_| tokio_handle());
    CoroutineCall::internal(
        WaitCall::new(Compat {
            future: Some(InTokio {
                handle,
                future: Some(f),
            }),
        }),
        "scoro::compat",
        "tokio_future",
    )
}

/// The handle of the tokio runtime that [`tokio_future`] enters when the calling thread is in
/// no tokio runtime of its own: a current-thread runtime with all the drivers the program's
/// tokio features provide (`enable_all`), started on first use and driven by one thread of
/// its own (named `scoro-tokio`) for the rest of the process.
///
/// A current-thread runtime on one thread because scoro code never runs on it: it only
/// drives tokio's reactor and timers and whatever is `tokio::spawn`ed, which is little work,
/// and it needs only tokio's `rt` feature. Futures that use `block_in_place` need a
/// multi-thread runtime: enter one of your own around `scoro::run` (see `tokio_future`).
///
/// # Panics
/// When the runtime cannot be started (the system refuses a thread or the reactor's
/// descriptors).
pub fn tokio_handle() -> Handle {
    static SHARED: OnceLock<Handle> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("scoro: could not start a tokio runtime: {e}"));
            let handle = rt.handle().clone();
            std::thread::Builder::new()
                .name("scoro-tokio".to_string())
                .spawn(move || rt.block_on(std::future::pending::<()>()))
                .unwrap_or_else(|e| panic!("scoro: could not start the tokio thread: {e}"));
            handle
        })
        .clone()
}

pin_project_lite::pin_project! {
    /// A future polled and dropped with a tokio runtime entered.
    struct InTokio<F> {
        handle: Handle,
        #[pin]
        future: Option<F>,
    }

    impl<F> PinnedDrop for InTokio<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // Tokio resources may need the context as they go (some spawn on drop).
            let _entered = this.handle.enter();
            this.future.set(None);
        }
    }
}

impl<F: Future> Future for InTokio<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.handle.enter();
        match this.future.as_pin_mut() {
            Some(f) => f.poll(cx),
            None => unreachable!("the future is only taken out when dropped"),
        }
    }
}
