//! `Nursery::start`: starting a child and waiting until it reports that it is ready.
//!
//! Invariants:
//! - Until it is adopted, the child is owned by the pending `start` call (its own owner id and
//!   cancel status under the caller's); the call's guard drops it if the call is dropped
//!   first. Once `started` is called (also before the child is spawned) the child is the
//!   nursery's: its status moves under the nursery's and the nursery owns it.
//! - The call checks its placement before it erases the child's lifetime and on every poll
//!   while it waits (see `runtime::task`).

use super::{IntoTaskResult, Nursery, NurseryState, Placed, run_child};
use crate::CoroutineCall;
use crate::cancellation::MaybeCancelled;
use crate::runtime::seam::scopes::{self, StatusId};
use crate::runtime::seam::spawn::{self, Owner, TaskFuture};
use crate::runtime::seam::{CurrentTask, TaskRef, Waiting};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Reports to a task started with [`Nursery::start`] that it is ready.
pub struct TaskStatus<V> {
    shared: Rc<StartShared<V>>,
}

impl<V> fmt::Debug for TaskStatus<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskStatus").finish_non_exhaustive()
    }
}

impl<V> TaskStatus<V> {
    /// Tells the nursery's `start` that this task is ready, handing it `value`. The task then
    /// becomes a normal child of the nursery: it moves into the nursery's cancel scope.
    ///
    /// If the caller of `start` has been cancelled in the meantime, the task stays where it is
    /// (under that cancelled caller, which is waiting for it) and `start` returns `value` only
    /// if the task then finishes without error.
    ///
    /// # Panics
    /// Outside a task of the run that made this `TaskStatus` (it was kept past the end of its
    /// run and used in another one).
    pub fn started(self, value: V) {
        let shared = &self.shared;
        if !shared.waiter.is_in_this_run() {
            panic!(
                "`TaskStatus::started` was called outside the scoro run whose `Nursery::start` made \
                 it; a `TaskStatus` belongs to one run and cannot be used in another"
            );
        }
        if shared.started.replace(true) {
            return;
        }
        *shared.value.borrow_mut() = Some(value);
        if !scopes::parent_cancelled(shared.status) {
            scopes::reparent(shared.status, shared.nursery_status);
            if let Some(child) = shared.child.get() {
                spawn::set_owner(child, shared.nursery_owner, shared.nursery_task);
            }
            shared.adopted.set(true);
        }
        shared.waiter.unpark();
    }
}

/// Shared between a `start` call, its child and the child's `TaskStatus`.
struct StartShared<V> {
    nursery_status: StatusId,
    nursery_owner: Owner,
    /// The task running the nursery: the child's parent once adopted.
    nursery_task: TaskRef,
    /// The child's private status (under the caller's until it is adopted).
    status: StatusId,
    /// The task waiting in `start`.
    waiter: TaskRef,
    /// Owner id of the child until it is adopted.
    owner: Owner,
    value: RefCell<Option<V>>,
    /// `started` was called.
    started: Cell<bool>,
    /// The child moved into the nursery.
    adopted: Cell<bool>,
    /// The child finished before it was adopted.
    finished: Cell<bool>,
    child: Cell<Option<TaskRef>>,
}

/// The outcome of a started child that finished before it was adopted.
type StartOutcome<E> = Rc<RefCell<Option<Result<Result<(), E>, Box<dyn Any + Send>>>>>;

pin_project_lite::pin_project! {
    /// A child started with `start`.
    struct StartChild<F, V, E> {
        #[pin]
        future: Option<F>,
        shared: Rc<StartShared<V>>,
        nursery: Rc<NurseryState<E>>,
        outcome: StartOutcome<E>,
    }
}

impl<F, V, E> Future for StartChild<F, V, E>
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
        let shared = this.shared;
        scopes::free(shared.status);
        if shared.adopted.get() {
            this.nursery.child_finished(outcome);
        } else {
            *this.outcome.borrow_mut() = Some(outcome);
            shared.finished.set(true);
            this.nursery.child_exited();
            shared.waiter.unpark();
        }
        Poll::Ready(())
    }
}

pub(super) async fn start_impl<'scope, 'env, V, F, C, E>(
    nursery: &Nursery<'scope, 'env, E>,
    child: C,
    location: &'static std::panic::Location<'static>,
) -> Result<V, E>
where
    C: FnOnce(TaskStatus<V>) -> CoroutineCall<F>,
    F: Future + 'scope,
    F::Output: IntoTaskResult<E>,
    V: 'scope,
    E: MaybeCancelled + 'scope,
{
    let task = Placed::new("Nursery::start").await;
    let shared: Rc<StartShared<V>> = Rc::new(StartShared {
        nursery_status: nursery.state.status,
        nursery_owner: nursery.state.owner,
        nursery_task: nursery.state.task,
        status: scopes::create(task.cancel_scope()),
        waiter: task.task_ref(),
        owner: spawn::new_owner(),
        value: RefCell::new(None),
        started: Cell::new(false),
        adopted: Cell::new(false),
        finished: Cell::new(false),
        child: Cell::new(None),
    });
    let outcome: StartOutcome<E> = Rc::new(RefCell::new(None));
    let mut guard = StartGuard {
        shared: shared.clone(),
        nursery: &nursery.state,
        done: false,
    };
    let call = child(TaskStatus {
        shared: shared.clone(),
    });
    let (future, name) = call.into_parts();
    let wrapper = StartChild {
        future: Some(future),
        shared: shared.clone(),
        nursery: nursery.state.clone(),
        outcome: outcome.clone(),
    };
    let boxed: Pin<Box<dyn TaskFuture + 'scope>> = Box::pin(wrapper);
    // SAFETY: until it is adopted, the task is owned by this start call, whose guard drops it if
    // this state machine is dropped first; once adopted it is owned by the nursery, which waits
    // for it or drops it (module invariants). Both outlive the `'scope` borrows it holds.
    let erased = unsafe { spawn::erase(boxed) };
    nursery.state.live.set(nursery.state.live.get() + 1);
    // `started` may already have been called (by the closure that made the call): then the
    // child belongs to the nursery from the start.
    let (owner, parent) = if shared.adopted.get() {
        (shared.nursery_owner, shared.nursery_task)
    } else {
        (shared.owner, shared.waiter)
    };
    let child_ref = spawn::spawn(erased, shared.status, name, location, parent, owner);
    shared.child.set(Some(child_ref));
    WaitStart { shared: &shared }.await;
    guard.done = true;
    if shared.adopted.get() {
        let v = shared.value.borrow_mut().take();
        return Ok(v.expect("started without a value"));
    }
    let finished = outcome.borrow_mut().take();
    match finished {
        Some(Err(p)) => panic::resume_unwind(p),
        Some(Ok(Err(e))) => Err(e),
        Some(Ok(Ok(()))) => match shared.value.borrow_mut().take() {
            Some(v) => Ok(v),
            None => panic!(
                "`Nursery::start`: the task `{name}` returned without calling `TaskStatus::started`"
            ),
        },
        None => unreachable!("`start` woke before its task started or finished"),
    }
}

/// Drops a child that has not been adopted when its `start` call is dropped.
struct StartGuard<'a, V, E> {
    shared: Rc<StartShared<V>>,
    nursery: &'a NurseryState<E>,
    done: bool,
}

impl<V, E> Drop for StartGuard<'_, V, E> {
    fn drop(&mut self) {
        if self.done || self.shared.adopted.get() {
            return;
        }
        let shared = &self.shared;
        let dropped = spawn::in_own_run(shared.waiter, "a pending `Nursery::start`", || {
            let mut dropped = None;
            if !shared.finished.get() {
                dropped = spawn::drop_owned(shared.owner);
                self.nursery.live.set(self.nursery.live.get() - 1);
            }
            scopes::free(shared.status);
            dropped
        });
        if let Some(p) = dropped {
            panic::resume_unwind(p);
        }
    }
}

/// Waits until the started child is adopted or finished.
struct WaitStart<'a, V> {
    shared: &'a StartShared<V>,
}

impl<V> Future for WaitStart<'_, V> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        spawn::check_placement(std::ptr::from_ref(&self.shared).addr(), "Nursery::start");
        let task = CurrentTask::of(cx);
        if self.shared.adopted.get() || self.shared.finished.get() {
            Poll::Ready(())
        } else {
            // Not a park: cancellation reaches the child, whose end wakes this task.
            task.note_waiting(Waiting::NurseryStart);
            Poll::Pending
        }
    }
}
