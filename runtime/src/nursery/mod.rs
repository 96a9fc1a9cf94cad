//! Nurseries: the only way to run tasks concurrently.
//!
//! A nursery is a cancel scope plus a set of child tasks. Its body gets a `&Nursery` and may
//! start children; the nursery returns when the body and every child have finished.
//!
//! Invariants:
//! - Every child is a scheduler task in the nursery's cancel status (children started with
//!   `start` live in a private status under the caller's until they call `started`, then that
//!   status moves under the nursery's). `live` counts children plus pending starts; the
//!   nursery future does not finish while it is non-zero.
//! - Children are stored with their lifetime erased. The `NurseryGuard` is declared after the
//!   `Nursery` value in the nursery's state machine, so if that state machine is dropped
//!   before it finishes (only during a panic or teardown), the guard drops every remaining
//!   child before anything they borrow goes away (see `runtime::task` for the whole argument).
//! - `Nursery` has no destructor and no drop glue mentioning `'scope`; its only field that
//!   needs dropping is an `Rc` of the shared state.
//! - The first real error (or panic) cancels the nursery's scope with reason `SiblingFailed`.
//!   Cancellations that the nursery's own scope caused are not errors; a cancellation that
//!   came from an enclosing scope is kept (once) so that scope can catch it.

mod error_group;
mod start;

pub use error_group::{ErrorGroup, IntoTaskResult};
pub use start::TaskStatus;

use crate::CoroutineCall;
use crate::cancel::CancelHandle;
use crate::cancel::ScopeShared;
use crate::cancellation::{CancelReason, MaybeCancelled};
use crate::runtime::seam::scopes::{self, NodeSettings, ScopeKind, StatusId};
use crate::runtime::seam::spawn::{self, Owner, TaskFuture};
use crate::runtime::seam::{CurrentTask, TaskRef, Waiting};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::marker::{PhantomData, PhantomPinned};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// The state a nursery shares with its children.
pub(crate) struct NurseryState<E> {
    status: StatusId,
    /// The task running the nursery (its body and its exit).
    task: TaskRef,
    /// Identifies the tasks this nursery owns in the scheduler.
    owner: Owner,
    live: Cell<usize>,
    waiting: Cell<bool>,
    errors: RefCell<Vec<E>>,
    outer_cancel: RefCell<Option<E>>,
    panic: RefCell<Option<Box<dyn Any + Send>>>,
    handle: RefCell<Option<Rc<ScopeShared>>>,
    /// The nursery's own cancellation stopped a task and was absorbed here.
    caught: Cell<bool>,
}

impl<E: MaybeCancelled> NurseryState<E> {
    /// Records a child's or the body's error.
    fn record_error(&self, e: E) {
        if e.is_cancel_requested() {
            if scopes::cancel_called(self.status) == Some(true) {
                // The nursery cancelled its own tasks: not an error.
                self.caught.set(true);
                return;
            }
            let mut outer = self.outer_cancel.borrow_mut();
            if outer.is_none() {
                *outer = Some(e);
            }
        } else {
            let first = {
                let mut errors = self.errors.borrow_mut();
                errors.push(e);
                errors.len() == 1
            };
            #[cfg(feature = "tracing")]
            crate::runtime::seam::nursery_error(self.task, std::any::type_name::<E>(), first);
            if first && self.panic.borrow().is_none() {
                scopes::cancel(self.status, CancelReason::SiblingFailed);
            }
        }
    }

    fn record_panic(&self, p: Box<dyn Any + Send>) {
        let mut slot = self.panic.borrow_mut();
        #[cfg(feature = "tracing")]
        crate::runtime::seam::nursery_panic(self.task, &*p, slot.is_none());
        if slot.is_some() {
            drop(slot);
            // Only the first panic is kept; a later payload's destructor may panic too.
            if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(p))) {
                std::mem::forget(again);
            }
            return;
        }
        *slot = Some(p);
        drop(slot);
        scopes::cancel(self.status, CancelReason::SiblingFailed);
    }

    /// Records a child's (or the body's) outcome. User code runs here (`MaybeCancelled`, the
    /// error's destructor); if it panics, the panic is recorded like a task's.
    #[inline]
    fn record_outcome(&self, outcome: Result<Result<(), E>, Box<dyn Any + Send>>) {
        let recorded = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(e)) => panic::catch_unwind(AssertUnwindSafe(|| self.record_error(e))),
            Err(p) => panic::catch_unwind(AssertUnwindSafe(|| self.record_panic(p))),
        };
        if let Err(p) = recorded {
            self.record_panic(p);
        }
    }

    /// A child (or a pending start) is gone.
    fn child_exited(&self) {
        let live = self.live.get() - 1;
        self.live.set(live);
        if live == 0 && self.waiting.get() {
            self.task.unpark();
        }
    }

    fn child_finished(&self, outcome: Result<Result<(), E>, Box<dyn Any + Send>>) {
        self.record_outcome(outcome);
        self.child_exited();
    }
}

/// A nursery: starts child tasks that run concurrently with its body and each other.
///
/// Made by [`nursery`]; the body receives `&Nursery`. Children may borrow anything that
/// outlives the `nursery(..)` call, including the `&Nursery` itself (so a child can start
/// siblings). `'scope` is the nursery's lifetime and `'env` that of what children borrow;
/// both are invariant.
pub struct Nursery<'scope, 'env: 'scope, E: 'env> {
    state: Rc<NurseryState<E>>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<E> fmt::Debug for Nursery<'_, '_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nursery")
            .field("children", &self.state.live.get())
            .finish_non_exhaustive()
    }
}

impl<'scope, 'env, E: MaybeCancelled> Nursery<'scope, 'env, E> {
    /// Starts `child` as a task of this nursery. It begins running at the next scheduling step.
    ///
    /// The child's result counts for the nursery: `()` or `Ok` is fine; an `Err` (converted
    /// into the nursery's error type) cancels the nursery and ends up in its [`ErrorGroup`].
    /// The child runs in the nursery's cancel scope, not in the scopes of the code that called
    /// `start_soon`.
    #[track_caller]
    pub fn start_soon<F>(&self, child: CoroutineCall<F>)
    where
        F: Future + 'scope,
        F::Output: IntoTaskResult<E>,
        E: 'scope,
    {
        self.start_soon_at(child, std::panic::Location::caller());
    }

    /// [`start_soon`](Nursery::start_soon) with the start location given: for this crate's
    /// calls that start children on behalf of their caller (`join_all`, `race`, ..), so that
    /// the task tree shows where the user's code made the call, not a line of scoro.
    #[inline]
    pub(crate) fn start_soon_at<F>(
        &self,
        child: CoroutineCall<F>,
        location: &'static std::panic::Location<'static>,
    ) where
        F: Future + 'scope,
        F::Output: IntoTaskResult<E>,
        E: 'scope,
    {
        let (future, name) = child.into_parts();
        let wrapper = ChildTask {
            future: Some(future),
            state: Some(self.state.clone()),
        };
        let boxed: Pin<Box<dyn TaskFuture + 'scope>> = Box::pin(wrapper);
        // SAFETY: the task belongs to this nursery (owner id), which waits for it before its
        // state machine finishes, and drops it first if that state machine is dropped earlier.
        // The nursery state machine outlives `'scope` uses (module invariants, `runtime::task`).
        let erased = unsafe { spawn::erase(boxed) };
        self.state.live.set(self.state.live.get() + 1);
        spawn::spawn(
            erased,
            self.state.status,
            name,
            location,
            self.state.task,
            self.state.owner,
        );
    }

    /// Starts a child and waits until it reports that it is ready, with `status.started(value)`;
    /// returns that value. From then on it is a child of this nursery like any other.
    ///
    /// Until it calls `started`, the child runs in the cancel scopes of the caller of `start`
    /// (so cancelling the caller cancels the start), and an error or panic it has comes back
    /// from `start` instead of going to the nursery. A pending start keeps the nursery open.
    ///
    /// # Panics
    /// If the child returns without calling [`TaskStatus::started`] (a bug in the child): the
    /// panic names the child's function.
    #[track_caller]
    pub fn start<V, F, C>(&self, child: C) -> CoroutineCall<impl Future<Output = Result<V, E>>>
    where
        C: FnOnce(TaskStatus<V>) -> CoroutineCall<F>,
        F: Future + 'scope,
        F::Output: IntoTaskResult<E>,
        V: 'scope,
        E: 'scope,
    {
        let location = std::panic::Location::caller();
        CoroutineCall::internal(
            start::start_impl(self, child, location),
            "scoro",
            "Nursery::start",
        )
    }

    /// Cancels the nursery: its body and every child see `Err(CancelRequested)` (reason
    /// [`Explicit`](CancelReason::Explicit)) at their next checkpoint. Those cancellations are
    /// not errors of the nursery.
    ///
    /// If the body itself ends with that cancellation, there is no value to return, so the
    /// nursery returns `Err` holding it; a body that should survive its own nursery being
    /// cancelled can handle the cancellation and return a value, or be run in a
    /// [`CancelScope`](crate::CancelScope) that is cancelled instead.
    pub fn cancel(&self) {
        scopes::cancel(self.state.status, CancelReason::Explicit);
    }

    /// A handle to the nursery's cancel scope: it can cancel the nursery from anywhere in the
    /// runtime, and afterwards tells whether it was cancelled (`cancel_called`) and whether that
    /// cancellation stopped a task and was absorbed by the nursery (`cancelled_caught`).
    pub fn cancel_handle(&self) -> CancelHandle {
        let shared = self
            .state
            .handle
            .borrow_mut()
            .get_or_insert_with(|| ScopeShared::for_status(self.state.status))
            .clone();
        CancelHandle::from_shared(shared)
    }
}

pin_project_lite::pin_project! {
    /// A nursery child: runs the call, then reports its outcome (or panic) to the nursery.
    struct ChildTask<F, E> {
        #[pin]
        future: Option<F>,
        state: Option<Rc<NurseryState<E>>>,
    }
}

impl<F, E> Future for ChildTask<F, E>
where
    F: Future,
    F::Output: IntoTaskResult<E>,
    E: MaybeCancelled,
{
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let Poll::Ready(outcome) = run_child(this.future, cx) else {
            return Poll::Pending;
        };
        if let Some(state) = this.state.take() {
            state.child_finished(outcome);
        }
        Poll::Ready(())
    }
}

/// Polls a child's call; once it has finished (or panicked), drops it and gives its outcome as
/// the nursery sees it.
fn run_child<F, E>(
    mut future: Pin<&mut Option<F>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Result<(), E>, Box<dyn Any + Send>>>
where
    F: Future,
    F::Output: IntoTaskResult<E>,
{
    let outcome = match poll_catching(future.as_mut(), cx) {
        Poll::Pending => return Poll::Pending,
        // The conversion into the nursery's error type is user code too.
        Poll::Ready(o) => o.and_then(|v| {
            panic::catch_unwind(AssertUnwindSafe(|| IntoTaskResult::into_task_result(v)))
        }),
    };
    Poll::Ready(drop_catching(future, outcome))
}

/// Polls an optional future, catching a panic.
fn poll_catching<F: Future>(
    future: Pin<&mut Option<F>>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, Box<dyn Any + Send>>> {
    match panic::catch_unwind(AssertUnwindSafe(|| match future.as_pin_mut() {
        Some(f) => f.poll(cx),
        None => Poll::Pending,
    })) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
        Err(p) => Poll::Ready(Err(p)),
    }
}

/// Drops a finished future, turning a panic in its destructor into the outcome if it had none.
fn drop_catching<F, T>(
    future: Pin<&mut Option<F>>,
    outcome: Result<T, Box<dyn Any + Send>>,
) -> Result<T, Box<dyn Any + Send>> {
    let mut future = future;
    match panic::catch_unwind(AssertUnwindSafe(|| future.set(None))) {
        Ok(()) => outcome,
        Err(p) => match outcome {
            Ok(_) => Err(p),
            Err(first) => Err(first),
        },
    }
}

/// Runs a nursery.
///
/// `body` receives the [`Nursery`] and may start children with
/// [`start_soon`](Nursery::start_soon) and [`start`](Nursery::start). `nursery` returns when the
/// body and every child have finished:
///
/// - `Ok(value)` with the body's value when nothing failed;
/// - `Err(group)` with every real error (body and children, in the order they happened) if
///   anything failed — the first failure cancels the rest;
/// - `Err(group)` holding one cancellation when the nursery was cancelled from an enclosing
///   scope, so that scope can catch it (the body's value, if any, is dropped);
/// - if a child or the body panicked, the panic resumes here after the others finished.
///
/// The nursery's error type `E` is not inferred from the children (their errors go through
/// `Into`): name it on the closure, `async |n| -> Result<(), MyError> { .. }`.
///
/// ```
/// use std::time::Duration;
/// use scoro::{structured, nursery, CancelRequested, ErrorGroup};
///
/// #[structured]
/// async fn add(total: &std::cell::Cell<u32>, x: u32) -> Result<(), CancelRequested> {
///     scoro::sleep(Duration::from_millis(u64::from(x))).await?;
///     total.set(total.get() + x);
///     Ok(())
/// }
///
/// #[structured]
/// async fn main_task() -> Result<u32, ErrorGroup<CancelRequested>> {
///     let total = std::cell::Cell::new(0);
///     nursery(async |n| -> Result<(), CancelRequested> {
///         for x in 1..=3 {
///             n.start_soon(add(&total, x));
///         }
///         Ok(())
///     })
///     .await?;
///     Ok(total.get())
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), 6);
/// ```
pub fn nursery<'env, T, E>(
    body: impl for<'scope> AsyncFnOnce(&'scope Nursery<'scope, 'env, E>) -> Result<T, E>,
) -> CoroutineCall<impl Future<Output = Result<T, ErrorGroup<E>>>>
where
    E: MaybeCancelled + 'env,
{
    CoroutineCall::internal(nursery_impl(body, false), "scoro", "nursery")
}

/// A nursery whose body is this crate's own code: polled with the task's waker directly.
pub(crate) fn nursery_trusted<'env, T, E, B>(
    body: B,
) -> impl Future<Output = Result<T, ErrorGroup<E>>>
where
    E: MaybeCancelled + 'env,
    B: for<'scope> AsyncFnOnce(&'scope Nursery<'scope, 'env, E>) -> Result<T, E>,
{
    nursery_impl(body, true)
}

async fn nursery_impl<'env, T, E, B>(body: B, trusted: bool) -> Result<T, ErrorGroup<E>>
where
    E: MaybeCancelled + 'env,
    B: for<'scope> AsyncFnOnce(&'scope Nursery<'scope, 'env, E>) -> Result<T, E>,
{
    let task = Placed::new("nursery").await;
    let state = Rc::new(NurseryState::<E> {
        status: task.enter_scope(
            NodeSettings {
                kind: ScopeKind::Nursery,
                ..NodeSettings::default()
            },
            None,
        ),
        task: task.task_ref(),
        owner: spawn::new_owner(),
        live: Cell::new(0),
        waiting: Cell::new(false),
        errors: RefCell::new(Vec::new()),
        outer_cancel: RefCell::new(None),
        panic: RefCell::new(None),
        handle: RefCell::new(None),
        caught: Cell::new(false),
    });
    let nursery = Nursery {
        state: state.clone(),
        _scope: PhantomData,
        _env: PhantomData,
    };
    // Declared after `nursery`: dropped before it (see module invariants).
    let mut guard = NurseryGuard {
        state: state.clone(),
        done: false,
    };
    let body_outcome = PollBody {
        future: body(&nursery),
        trusted,
    }
    .await;
    let mut value = None;
    let mut body_cancel = None;
    // `MaybeCancelled` and the error's destructor are user code: a panic there is recorded
    // like a panic of the body, and the children are still waited for.
    let recorded = panic::catch_unwind(AssertUnwindSafe(|| match body_outcome {
        Ok(Ok(v)) => value = Some(v),
        Ok(Err(e)) => {
            if e.is_cancel_requested() {
                // Kept aside: if nothing else happened, it is the nursery's outcome.
                if scopes::cancel_called(state.status) != Some(true)
                    && state.outer_cancel.borrow().is_none()
                {
                    *state.outer_cancel.borrow_mut() = Some(e);
                } else {
                    body_cancel = Some(e);
                }
            } else {
                state.record_error(e);
            }
        }
        Err(p) => state.record_panic(p),
    }));
    if let Err(p) = recorded {
        state.record_panic(p);
    }
    WaitChildren {
        state: &state,
        yielded: false,
    }
    .await;
    guard.done = true;
    let cancel_called = task.exit_scope(state.status).cancel_called;
    if let Some(h) = state.handle.borrow_mut().take() {
        h.exited(cancel_called, state.caught.get() && body_cancel.is_none());
    }
    drop(guard);
    if let Some(p) = state.panic.borrow_mut().take() {
        panic::resume_unwind(p);
    }
    let errors = std::mem::take(&mut *state.errors.borrow_mut());
    if !errors.is_empty() {
        return Err(ErrorGroup::new(errors));
    }
    if let Some(e) = state.outer_cancel.borrow_mut().take() {
        return Err(ErrorGroup::new(vec![e]));
    }
    match (value, body_cancel) {
        (Some(v), _) => Ok(v),
        (None, Some(e)) => Err(ErrorGroup::new(vec![e])),
        (None, None) => unreachable!("the nursery body produced neither a value nor an error"),
    }
}

/// Checks that the state machine awaiting it lies in the memory of the task running it (the
/// placement half of the no-leak argument, see `runtime::task`) and gives that task. Awaited first by every operation that erases a lifetime (a nursery, a `start`),
/// before anything that could start a child exists.
struct Placed {
    /// A byte of the awaiting state machine, whose address is checked (a zero-sized future
    /// might not have one inside it).
    marker: u8,
    what: &'static str,
    _pinned: PhantomPinned,
}

impl Placed {
    fn new(what: &'static str) -> Self {
        Placed {
            marker: 0,
            what,
            _pinned: PhantomPinned,
        }
    }
}

impl Future for Placed {
    type Output = CurrentTask;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CurrentTask> {
        spawn::check_placement(std::ptr::from_ref(&self.marker).addr(), self.what);
        Poll::Ready(CurrentTask::of(cx))
    }
}

/// Drops the children of a nursery whose state machine is dropped before it finished.
struct NurseryGuard<E> {
    state: Rc<NurseryState<E>>,
    done: bool,
}

impl<E> Drop for NurseryGuard<E> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let state = &self.state;
        let dropped = spawn::in_own_run(state.task, "a nursery", || {
            let dropped = spawn::drop_owned(state.owner);
            spawn::abandon_scope(state.task, state.status);
            dropped
        });
        if let Some(h) = state.handle.borrow_mut().take() {
            h.exited(false, false);
        }
        if let Some(p) = dropped {
            panic::resume_unwind(p);
        }
    }
}

pin_project_lite::pin_project! {
    /// Polls the nursery body, catching panics. An untrusted body (user code) is polled with a
    /// restricted waker; the macro's `ClosureBody` inside it switches back to the task's waker.
    struct PollBody<F> {
        #[pin]
        future: F,
        trusted: bool,
    }
}

impl<F: Future> Future for PollBody<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        spawn::check_placement(std::ptr::from_mut(this.trusted).addr(), "nursery");
        let task = CurrentTask::of(cx);
        let trusted = *this.trusted;
        let future = this.future;
        let result = panic::catch_unwind(AssertUnwindSafe(move || {
            if trusted {
                future.poll(cx)
            } else {
                task.poll_nursery_body(|cx| future.poll(cx))
            }
        }));
        match result {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}

/// Waits (not cancellably: the children are cancelled instead) until the nursery has no
/// children left. With none left at once, it still yields once: the end of a nursery is a
/// schedule point, never a cancel point.
struct WaitChildren<'a, E> {
    state: &'a NurseryState<E>,
    yielded: bool,
}

impl<E> Future for WaitChildren<'_, E> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        spawn::check_placement(std::ptr::from_ref(&self.yielded).addr(), "nursery");
        let task = CurrentTask::of(cx);
        if self.state.live.get() == 0 {
            if self.yielded || self.state.waiting.get() {
                self.state.waiting.set(false);
                return Poll::Ready(());
            }
            self.yielded = true;
            task.yield_now();
            return Poll::Pending;
        }
        self.state.waiting.set(true);
        task.note_waiting(Waiting::Nursery);
        Poll::Pending
    }
}
