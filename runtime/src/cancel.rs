//! Cancel scopes: `CancelScope`, `CancelHandle` and the timeout helpers built on them.
//!
//! Invariants:
//! - A scope is entered when its `run` future is first polled and left when the body finishes
//!   (or when the `run` future is dropped, which drops the body first so that nested scopes
//!   leave in order). While entered, the scope's state lives in its node of the status tree;
//!   before entry and after exit it lives in `ScopeShared`, which handles read.
//! - Entering and leaving a scope allocates nothing (the status node is a reused slab slot) and
//!   touches no timer; `ScopeShared` is allocated only when `handle()` is called.

use crate::CoroutineCall;
use crate::cancellation::{CancelReason, CancelRequested, MaybeCancelled, TooSlow};
use crate::runtime::seam::scopes::{self, NodeSettings, ScopeKind, StatusId};
use crate::runtime::seam::{self, CurrentTask};
use std::cell::{Cell, OnceCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// State of a scope that outlives its node: what handles read before entry and after exit.
#[derive(Debug, Default)]
pub(crate) struct ScopeShared {
    status: Cell<Option<StatusId>>,
    entered: Cell<bool>,
    cancel_called: Cell<bool>,
    caught: Cell<bool>,
    shield: Cell<bool>,
    /// Set when `set_shield` was called before entry: overrides the scope's own setting.
    shield_set: Cell<bool>,
    deadline: Cell<Option<Instant>>,
    /// Set when `set_deadline` was called before entry: overrides the scope's own setting.
    deadline_set: Cell<bool>,
    /// Before entry, why `cancel_called` became true: `cancel` (`Explicit`) or the deadline
    /// seen passing by `cancel_called()` (`Deadline`); the first wins. Entry cancels with it.
    reason: Cell<Option<CancelReason>>,
}

impl ScopeShared {
    /// A shared state for a scope that is already running in status `status` (nurseries).
    pub(crate) fn for_status(status: StatusId) -> Rc<ScopeShared> {
        let s = ScopeShared::default();
        s.status.set(Some(status));
        s.entered.set(true);
        Rc::new(s)
    }

    /// Records that the scope has exited.
    pub(crate) fn exited(&self, cancel_called: bool, caught: bool) {
        self.status.set(None);
        if cancel_called {
            self.cancel_called.set(true);
        }
        self.caught.set(caught);
    }
}

/// The deadline a scope was configured with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum DeadlineSetting {
    #[default]
    None,
    At(Instant),
    After(Duration),
}

/// A scope that can cancel the code it runs: explicitly through a [`CancelHandle`], or when
/// its deadline passes.
///
/// While the scope is cancelled, every checkpoint in its body returns `Err(CancelRequested)`.
/// The body propagates that with `?`, and [`run`](CancelScope::run) returns `None` when the body
/// ended with this scope's cancellation, `Some(value)` otherwise — also when the body caught
/// the cancellation and returned a real value, which is then not lost.
///
/// ```
/// use std::time::Duration;
/// use scoro::{structured, CancelScope, CancelRequested};
///
/// #[structured]
/// async fn work() -> Result<u32, CancelRequested> {
///     scoro::sleep(Duration::from_secs(10)).await?;
///     Ok(7)
/// }
///
/// #[structured]
/// async fn main_task() -> bool {
///     let scope = CancelScope::new().with_timeout(Duration::from_millis(5));
///     let handle = scope.handle();
///     let outcome = scope.run(work()).await;
///     assert_eq!(outcome, None);
///     handle.cancelled_caught()
/// }
///
/// assert!(scoro::run(main_task()));
/// ```
#[derive(Default)]
pub struct CancelScope {
    deadline: DeadlineSetting,
    shield: bool,
    shared: OnceCell<Rc<ScopeShared>>,
}

impl fmt::Debug for CancelScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelScope")
            .field("deadline", &self.deadline)
            .field("shield", &self.shield)
            .finish_non_exhaustive()
    }
}

impl CancelScope {
    /// A scope with no deadline, not shielded, not cancelled.
    pub fn new() -> Self {
        CancelScope::default()
    }

    /// Cancels the scope at `at` (the runtime clock's time; see [`current_time`](crate::current_time)).
    /// A later call of `with_deadline` or `with_timeout` replaces this one.
    pub fn with_deadline(mut self, at: Instant) -> Self {
        self.deadline = DeadlineSetting::At(at);
        self.show_deadline();
        self
    }

    /// Cancels the scope `after` this long, measured from when `run` starts.
    /// A later call of `with_deadline` or `with_timeout` replaces this one.
    pub fn with_timeout(mut self, after: Duration) -> Self {
        self.deadline = DeadlineSetting::After(after);
        self.show_deadline();
        self
    }

    /// Lets handles see the configured deadline before entry (a timeout has none until then),
    /// unless a handle already set one.
    fn show_deadline(&self) {
        if let Some(s) = self.shared.get()
            && !s.deadline_set.get()
        {
            s.deadline.set(match self.deadline {
                DeadlineSetting::At(t) => Some(t),
                DeadlineSetting::None | DeadlineSetting::After(_) => None,
            });
        }
    }

    /// Shields the body from cancellation of the enclosing scopes (its own cancellation and
    /// deadline still apply). A handle's [`set_shield`](CancelHandle::set_shield) before `run`
    /// replaces this setting, whichever was called last.
    pub fn with_shield(mut self, shield: bool) -> Self {
        self.shield = shield;
        self
    }

    /// A handle that can cancel the scope and change it while it runs, from any task of the
    /// same runtime.
    pub fn handle(&self) -> CancelHandle {
        let first = self.shared.get().is_none();
        let shared = self.shared.get_or_init(Default::default).clone();
        if first {
            self.show_deadline();
        }
        CancelHandle { shared }
    }

    /// Runs `body` inside this scope.
    ///
    /// Returns `None` exactly when this scope was cancelled (explicitly or by its deadline),
    /// the body's value is a cancellation ([`MaybeCancelled`]), and no enclosing scope is
    /// cancelled too (then the outermost cancelled scope is the one that catches it). The
    /// body's final value is dropped in that case.
    pub fn run<T, F>(self, body: CoroutineCall<F>) -> CoroutineCall<impl Future<Output = Option<T>>>
    where
        T: MaybeCancelled,
        F: Future<Output = T>,
    {
        let (future, _name) = body.into_parts();
        CoroutineCall::internal(
            ScopeRun {
                body: Some(future),
                scope: self,
                entered: None,
            },
            "scoro",
            "CancelScope::run",
        )
    }
}

/// Controls a [`CancelScope`] from anywhere in the same runtime (it is `Clone`, not `Send`).
///
/// A handle stays valid after its scope has exited; it then reports what happened and its
/// setters do nothing.
#[derive(Clone)]
pub struct CancelHandle {
    shared: Rc<ScopeShared>,
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("active", &self.active().is_some())
            .field("cancel_called", &self.cancel_called())
            .field("cancelled_caught", &self.cancelled_caught())
            .finish()
    }
}

impl CancelHandle {
    pub(crate) fn from_shared(shared: Rc<ScopeShared>) -> Self {
        CancelHandle { shared }
    }

    fn active(&self) -> Option<StatusId> {
        self.shared.status.get()
    }

    /// Cancels the scope. Idempotent and synchronous: tasks blocked in the scope are woken at
    /// once and see `Err(CancelRequested)`; running ones see it at their next checkpoint. This
    /// is not a checkpoint itself.
    pub fn cancel(&self) {
        self.shared.cancel_called.set(true);
        if self.shared.reason.get().is_none() {
            self.shared.reason.set(Some(CancelReason::Explicit));
        }
        if let Some(id) = self.active() {
            scopes::cancel(id, CancelReason::Explicit);
        }
    }

    /// Has cancellation been requested, by [`cancel`](Self::cancel) or by the deadline passing?
    /// Sticky: once true it stays true.
    pub fn cancel_called(&self) -> bool {
        if let Some(id) = self.active()
            && let Some(called) = scopes::cancel_called(id)
        {
            if called {
                self.shared.cancel_called.set(true);
            }
            return called;
        }
        if !self.shared.entered.get()
            && let Some(d) = self.shared.deadline.get()
            && d <= now()
        {
            self.shared.cancel_called.set(true);
            if self.shared.reason.get().is_none() {
                self.shared.reason.set(Some(CancelReason::Deadline));
            }
        }
        self.shared.cancel_called.get()
    }

    /// True iff the scope's `run` returned `None` (it caught its own cancellation).
    pub fn cancelled_caught(&self) -> bool {
        self.shared.caught.get()
    }

    /// The scope's deadline, if it has one. For a scope configured with
    /// [`with_timeout`](CancelScope::with_timeout) the deadline is known once `run` has started.
    pub fn deadline(&self) -> Option<Instant> {
        if let Some(id) = self.active()
            && let Some(d) = scopes::deadline(id)
        {
            return d;
        }
        self.shared.deadline.get()
    }

    /// Changes the deadline (`None` removes it). Takes effect at once, also for tasks blocked
    /// in the scope: moving the deadline into the past cancels them now. Before the scope
    /// runs, this replaces what [`with_deadline`](CancelScope::with_deadline) or
    /// [`with_timeout`](CancelScope::with_timeout) set.
    pub fn set_deadline(&self, at: Option<Instant>) {
        self.shared.deadline.set(at);
        if let Some(id) = self.active() {
            scopes::set_deadline(id, at);
        } else if !self.shared.entered.get() {
            self.shared.deadline_set.set(true);
        }
    }

    /// Shields or unshields the scope. Takes effect at once: unshielding a scope inside a
    /// cancelled one cancels the tasks blocked in it. Before the scope runs, this replaces
    /// what [`with_shield`](CancelScope::with_shield) set.
    pub fn set_shield(&self, shield: bool) {
        self.shared.shield.set(shield);
        if let Some(id) = self.active() {
            scopes::set_shield(id, shield);
        } else if !self.shared.entered.get() {
            self.shared.shield_set.set(true);
        }
    }
}

fn now() -> Instant {
    seam::try_now().unwrap_or_else(Instant::now)
}

pin_project_lite::pin_project! {
    /// The future of [`CancelScope::run`].
    struct ScopeRun<F> {
        #[pin]
        body: Option<F>,
        scope: CancelScope,
        entered: Option<(CurrentTask, StatusId)>,
    }

    impl<F> PinnedDrop for ScopeRun<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if let Some((task, status)) = this.entered.take() {
                // Leave nested scopes first: drop the body, then this scope.
                this.body.set(None);
                task.abandon_scope(status);
                if let Some(shared) = this.scope.shared.get() {
                    shared.exited(false, false);
                }
            }
        }
    }
}

impl<F: Future> Future for ScopeRun<F>
where
    F::Output: MaybeCancelled,
{
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        let mut this = self.project();
        let (task, status) = match *this.entered {
            Some(e) => e,
            None => {
                let task = CurrentTask::of(cx);
                let e = {
                    let shared = this.scope.shared.get();
                    let (mut deadline, mut timeout) = match this.scope.deadline {
                        DeadlineSetting::None => (None, None),
                        DeadlineSetting::At(t) => (Some(t), None),
                        DeadlineSetting::After(d) => (None, Some(d)),
                    };
                    let mut shield = this.scope.shield;
                    let mut cancel_called = None;
                    if let Some(s) = shared {
                        if s.deadline_set.get() {
                            deadline = s.deadline.get();
                            timeout = None;
                        }
                        if s.shield_set.get() {
                            shield = s.shield.get();
                        }
                        if s.cancel_called.get() {
                            cancel_called = Some(s.reason.get().unwrap_or(CancelReason::Explicit));
                        }
                    }
                    let status = task.enter_scope(
                        NodeSettings {
                            cancel_called,
                            shield,
                            deadline,
                            pending: None,
                            kind: ScopeKind::CancelScope,
                        },
                        timeout,
                    );
                    if let Some(s) = shared {
                        s.status.set(Some(status));
                        s.entered.set(true);
                        s.deadline.set(deadline);
                        s.shield.set(shield);
                    }
                    (task, status)
                };
                *this.entered = Some(e);
                e
            }
        };
        let value = match this.body.as_mut().as_pin_mut() {
            Some(body) => match body.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(v) => v,
            },
            None => panic!("`CancelScope::run` polled after it finished"),
        };
        this.body.set(None);
        *this.entered = None;
        let exit = task.exit_scope(status);
        let caught = exit.catches && value.is_cancel_requested();
        if let Some(shared) = this.scope.shared.get() {
            shared.exited(exit.cancel_called, caught);
        }
        Poll::Ready(if caught { None } else { Some(value) })
    }
}

/// Runs `body` with a timeout: cancels it if it has not finished `d` after starting.
/// Returns `None` if the timeout cancelled it (see [`CancelScope::run`]).
///
/// ```
/// use std::time::Duration;
/// use scoro::{structured, move_on_after};
///
/// #[structured]
/// async fn main_task() -> Option<Result<(), scoro::CancelRequested>> {
///     move_on_after(Duration::from_millis(10), scoro::sleep(Duration::from_secs(60))).await
/// }
///
/// assert!(scoro::run(main_task()).is_none());
/// ```
pub fn move_on_after<T, F>(
    d: Duration,
    body: CoroutineCall<F>,
) -> CoroutineCall<impl Future<Output = Option<T>>>
where
    T: MaybeCancelled,
    F: Future<Output = T>,
{
    CancelScope::new().with_timeout(d).run(body)
}

/// Runs `body` with a deadline: cancels it if it has not finished at `at`.
/// Returns `None` if the deadline cancelled it (see [`CancelScope::run`]).
pub fn move_on_at<T, F>(
    at: Instant,
    body: CoroutineCall<F>,
) -> CoroutineCall<impl Future<Output = Option<T>>>
where
    T: MaybeCancelled,
    F: Future<Output = T>,
{
    CancelScope::new().with_deadline(at).run(body)
}

/// Like [`move_on_after`], but a timeout is an error: `Err(TooSlow)`.
///
/// ```
/// use std::time::Duration;
/// use scoro::{structured, fail_after, TooSlow};
///
/// #[structured]
/// async fn main_task() -> Result<Result<(), scoro::CancelRequested>, TooSlow> {
///     fail_after(Duration::from_millis(10), scoro::sleep(Duration::from_secs(60))).await
/// }
///
/// assert_eq!(scoro::run(main_task()), Err(TooSlow));
/// ```
pub fn fail_after<T, F>(
    d: Duration,
    body: CoroutineCall<F>,
) -> CoroutineCall<impl Future<Output = Result<T, TooSlow>>>
where
    T: MaybeCancelled,
    F: Future<Output = T>,
{
    too_slow(CancelScope::new().with_timeout(d).run(body), "fail_after")
}

/// Like [`move_on_at`], but a timeout is an error: `Err(TooSlow)`.
pub fn fail_at<T, F>(
    at: Instant,
    body: CoroutineCall<F>,
) -> CoroutineCall<impl Future<Output = Result<T, TooSlow>>>
where
    T: MaybeCancelled,
    F: Future<Output = T>,
{
    too_slow(CancelScope::new().with_deadline(at).run(body), "fail_at")
}

/// Runs `call` to its end, then reports whether the task was cancelled meanwhile: `Ok(value)`,
/// or `Err(CancelRequested)` (the value is dropped) when an enclosing cancel scope was cancelled
/// by the time the call returned.
///
/// Cancel scopes, timeouts and nurseries recognise a cancellation in a body's value through
/// [`MaybeCancelled`]. A call whose output cannot carry one (a `u32`, or a `Result` whose error
/// type is another crate's) does not implement it; `cancellable` gives it an output that does,
/// so a timeout can be put around any call:
///
/// ```
/// use std::time::Duration;
/// use scoro::{structured, cancellable, move_on_after};
///
/// /// Counts to `n`, giving up early (with what it has) when cancelled.
/// #[structured]
/// async fn count(n: u32) -> u32 {
///     for i in 0..n {
///         if scoro::sleep(Duration::from_secs(1)).await.is_err() {
///             return i;
///         }
///     }
///     n
/// }
///
/// #[structured]
/// async fn main_task() -> (Option<u32>, Option<u32>) {
///     // `move_on_after(.., count(10))` does not compile: a `u32` cannot say it was cancelled.
///     let quick = move_on_after(Duration::from_secs(60), cancellable(count(3))).await;
///     let slow = move_on_after(Duration::from_millis(2500), cancellable(count(10))).await;
///     (quick.map(|r| r.unwrap()), slow.map(|r| r.unwrap()))
/// }
///
/// let mut rt = scoro::Builder::new()
///     .clock(scoro::testing::MockClock::autojump(Duration::ZERO))
///     .build()
///     .unwrap();
/// assert_eq!(rt.run(main_task()), (Some(3), None));
/// ```
///
/// The call is not stopped any sooner than it stops by itself: its checkpoints return
/// `Err(CancelRequested)` once the scope is cancelled, and it decides what to do with that.
pub fn cancellable<F: Future>(
    call: CoroutineCall<F>,
) -> CoroutineCall<impl Future<Output = Result<F::Output, CancelRequested>>> {
    let (future, _) = call.into_parts();
    CoroutineCall::internal(
        async move {
            let value = future.await;
            crate::time::checkpoint_if_cancelled().inline().await?;
            Ok(value)
        },
        "scoro",
        "cancellable",
    )
}

fn too_slow<T, F>(
    call: CoroutineCall<F>,
    name: &'static str,
) -> CoroutineCall<impl Future<Output = Result<T, TooSlow>>>
where
    F: Future<Output = Option<T>>,
{
    let (future, _) = call.into_parts();
    CoroutineCall::internal(
        async move {
            match future.await {
                Some(v) => Ok(v),
                None => Err(TooSlow),
            }
        },
        "scoro",
        name,
    )
}
