//! `suspend` and its `Wakeup`: block a task until another thread (or task) resumes it.
//!
//! Invariants: a suspended task is parked where cancellation reaches it; when its scope is
//! cancelled the task is woken and calls `abort` at most once per wait. `wake` and `cancel`
//! may come from any thread; the first resumption wins and later ones return `false`.

use crate::CoroutineCall;
use crate::cancellation::{CancelReason, CancelRequested};
use crate::runtime::seam::{self, CurrentTask, Handle, RemoteUnparker, Waiting};
use crate::wait::{Aborted, Step, Wait, WaitCall};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

/// What an `abort` callback of [`suspend`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abort {
    /// The operation was unregistered: nothing will wake the task any more. The task resumes
    /// at once with `Err(CancelRequested)`.
    Succeeded,
    /// The operation still owns the wakeup and will call [`Wakeup::wake`] (it completed after
    /// all) or [`Wakeup::cancel`] (it was aborted asynchronously) later.
    Failed,
}

enum WakeState<T> {
    Waiting,
    Woken(T),
    Cancelled,
    Done,
}

struct WakeupInner<T> {
    state: Mutex<WakeState<T>>,
    task: RemoteUnparker,
}

impl<T> WakeupInner<T> {
    fn lock(&self) -> MutexGuard<'_, WakeState<T>> {
        crate::poison::lock(&self.state)
    }
}

/// The handle that resumes a task blocked in [`suspend`]. Clones resume the same wait; the
/// first `wake` or `cancel` wins. It may be used from any thread (it is `Send + Sync` when
/// `T: Send`).
pub struct Wakeup<T> {
    inner: Arc<WakeupInner<T>>,
    /// Counted: while a wakeup lives, the run is never reported as deadlocked (another thread
    /// may use it).
    _handle: Handle,
}

impl<T> Clone for Wakeup<T> {
    fn clone(&self) -> Self {
        Wakeup {
            inner: self.inner.clone(),
            _handle: self._handle.clone(),
        }
    }
}

impl<T> fmt::Debug for Wakeup<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match *self.inner.lock() {
            WakeState::Waiting => "waiting",
            WakeState::Woken(_) => "woken",
            WakeState::Cancelled => "cancelled",
            WakeState::Done => "done",
        };
        f.debug_struct("Wakeup").field("state", &state).finish()
    }
}

impl<T> Wakeup<T> {
    /// Resumes the task with `Ok(value)`. Returns `false` (and drops `value`) if the wait was
    /// already resumed or aborted.
    pub fn wake(&self, value: T) -> bool {
        {
            let mut s = self.inner.lock();
            if !matches!(*s, WakeState::Waiting) {
                return false;
            }
            *s = WakeState::Woken(value);
        }
        self.inner.task.unpark();
        true
    }

    /// Resumes the task with `Err(CancelRequested)`: the way to finish an asynchronous abort
    /// (after `abort` returned [`Abort::Failed`]). Returns `false` if the wait was already
    /// resumed or aborted.
    pub fn cancel(&self) -> bool {
        {
            let mut s = self.inner.lock();
            if !matches!(*s, WakeState::Waiting) {
                return false;
            }
            *s = WakeState::Cancelled;
        }
        self.inner.task.unpark();
        true
    }
}

/// Blocks the current task until its [`Wakeup`] is used, or until it is cancelled.
///
/// `setup` is called once, with the handle that resumes this wait: it registers the operation
/// (and may even wake at once). If the task is cancelled while blocked, `abort` is called at
/// most once: return [`Abort::Succeeded`] if the operation was unregistered (the task resumes
/// with `Err(CancelRequested)`, and later `wake`s return `false`), or [`Abort::Failed`] if the
/// operation still owns the wakeup and will call `wake` or `cancel` itself.
///
/// If the task is already cancelled, `suspend` returns `Err` at once without calling `setup`.
///
/// ```
/// use scoro::lowlevel::{suspend, Abort};
///
/// #[scoro::structured]
/// async fn answer_from_a_thread() -> Result<u32, scoro::CancelRequested> {
///     suspend(
///         |wakeup| {
///             std::thread::spawn(move || {
///                 wakeup.wake(42);
///             });
///         },
///         || Abort::Failed,
///     )
///     .await
/// }
///
/// assert_eq!(scoro::run(answer_from_a_thread()), Ok(42));
/// ```
pub fn suspend<T, S, A>(
    setup: S,
    abort: A,
) -> CoroutineCall<impl Future<Output = Result<T, CancelRequested>>>
where
    S: FnOnce(Wakeup<T>),
    A: FnOnce() -> Abort,
{
    CoroutineCall::internal(
        WaitCall::new(Suspend {
            setup: Some(setup),
            abort: Some(abort),
            inner: None,
            cancel: None,
        }),
        "scoro::lowlevel",
        "suspend",
    )
}

struct Suspend<T, S, A> {
    setup: Option<S>,
    abort: Option<A>,
    inner: Option<Arc<WakeupInner<T>>>,
    /// The cancellation that aborted the wait, for a `Wakeup::cancel` that finishes the abort.
    cancel: Option<CancelRequested>,
}

impl<T, S, A> Suspend<T, S, A> {
    /// Takes a result the wakeup left, if any. With `close`, the wait also ends in the same
    /// critical section (a later `wake` returns `false`), so that no `wake` can slip in between
    /// the look and the end and report a value as handed over that nobody receives.
    fn take(&mut self, close: bool) -> Option<Result<T, CancelRequested>> {
        let inner = self.inner.as_ref()?;
        let mut s = inner.lock();
        match std::mem::replace(&mut *s, WakeState::Done) {
            WakeState::Woken(v) => Some(Ok(v)),
            WakeState::Cancelled => Some(Err(self
                .cancel
                .unwrap_or(CancelRequested::new(CancelReason::Explicit)))),
            WakeState::Waiting => {
                if !close {
                    *s = WakeState::Waiting;
                }
                None
            }
            WakeState::Done => None,
        }
    }
}

// The callbacks are only moved out and called, never pinned.
impl<T, S, A> Unpin for Suspend<T, S, A> {}

impl<T, S, A> Wait for Suspend<T, S, A>
where
    S: FnOnce(Wakeup<T>),
    A: FnOnce() -> Abort,
{
    type Output = Result<T, CancelRequested>;
    type Parked = ();

    fn waiting(&self) -> Waiting {
        Waiting::Suspend
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(mut self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, ()> {
        let setup = self.setup.take().expect("`suspend` sets up its wait once");
        let inner = Arc::new(WakeupInner {
            state: Mutex::new(WakeState::Waiting),
            task: task.task_ref().remote(),
        });
        self.inner = Some(inner.clone());
        setup(Wakeup {
            inner,
            _handle: Handle::new(seam::remote()),
        });
        // `setup` may have resumed the wait at once.
        match self.take(false) {
            Some(r) => Step::Done(r),
            None => Step::Park(()),
        }
    }

    fn woken(mut self: Pin<&mut Self>, (): ()) -> Step<Self::Output, ()> {
        match self.take(false) {
            Some(r) => Step::Done(r),
            None => Step::Park(()),
        }
    }

    fn abort(
        mut self: Pin<&mut Self>,
        (): (),
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, ()> {
        self.cancel = Some(cancel);
        let abort = self.abort.take().expect("a wait is aborted at most once");
        let outcome = abort();
        // A wake that raced with the abort still delivers its value.
        match (outcome, self.take(outcome == Abort::Succeeded)) {
            (_, Some(r)) => Aborted::Left(r),
            (Abort::Succeeded, None) => Aborted::Left(Err(cancel)),
            // Only `wake` or `cancel` can end the wait now.
            (Abort::Failed, None) => Aborted::Stays(()),
        }
    }

    fn abandon(self: Pin<&mut Self>, (): ()) {}
}

impl<T, S, A> Drop for Suspend<T, S, A> {
    fn drop(&mut self) {
        if let Some(inner) = &self.inner {
            *inner.lock() = WakeState::Done;
        }
    }
}
