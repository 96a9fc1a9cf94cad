//! Synchronisation primitives for tasks of one runtime: [`Event`], [`Lock`], [`Semaphore`],
//! [`CapacityLimiter`] and [`Condition`].
//!
//! All of them are used by reference (`&Lock<T>`), so nursery children simply borrow them; they
//! are single-threaded (`!Sync`), like the runtime that runs the tasks sharing them.
//!
//! ```
//! use scoro::{nursery, structured, sync::Lock, CancelRequested, ErrorGroup};
//!
//! #[structured]
//! async fn add(total: &Lock<u32>, x: u32) -> Result<(), CancelRequested> {
//!     let mut guard = total.lock().await?;
//!     *guard += x;
//!     Ok(())
//! }
//!
//! #[structured]
//! async fn main_task() -> Result<u32, ErrorGroup<CancelRequested>> {
//!     let total = Lock::new(0);
//!     nursery(async |n| -> Result<(), CancelRequested> {
//!         for x in 1..=4 {
//!             n.start_soon(add(&total, x));
//!         }
//!         Ok(())
//!     })
//!     .await?;
//!     Ok(total.into_inner())
//! }
//!
//! assert_eq!(scoro::run(main_task()).unwrap(), 10);
//! ```
//!
//! # Invariants
//!
//! - **Fairness by hand-off.** Every primitive keeps its waiters in a FIFO (a `WaitList`, with
//!   O(1) removal of a cancelled waiter). Releasing a unit (a lock, a permit, a token) while
//!   somebody waits hands it straight to the longest waiter, which owns it from that moment
//!   on; the unit never becomes free in between, so the releaser (or any other task) cannot
//!   barge in ahead. Consequently a unit is free only when nobody waits, and `try_*` calls
//!   succeed only then.
//! - **Checkpoints.** Every blocking call first returns `Err(CancelRequested)` if the task is
//!   cancelled; when it can complete at once it does, then yields once (a schedule point that
//!   does not look at cancellation again: the operation has happened); otherwise it waits.
//! - **Nothing is lost to cancellation.** A waiter that was handed a unit returns it as success
//!   even if its task was cancelled meanwhile (the next checkpoint reports the cancellation). A
//!   waiter that was not yet served removes its own entry (O(1)) and returns the cancellation.
//!   If a call is dropped while it owns a unit it has not returned yet (only possible when the
//!   runtime tears the task down), its destructor passes the unit on to the next waiter.
//! - No `RefCell` borrow of a primitive's state is held while user code runs (destructors of
//!   values included).

mod capacity_limiter;
mod condition;
mod event;
mod lock;
mod semaphore;

pub use capacity_limiter::{CapacityLimiter, CapacityPermit};
pub use condition::{Condition, WaitCancelled};
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use semaphore::{Semaphore, SemaphorePermit};

use crate::cancel::CancelRequested;
use crate::runtime::context;
use crate::runtime::core::{Core, TaskRef};
use crate::runtime::task;
use crate::wait_list::{EntryState, WaitKey, WaitList};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Makes task `t` runnable, if a runtime is running on this thread (a waiter can only exist
/// inside one).
pub(crate) fn wake(t: TaskRef) {
    context::try_with_core(|core| core.wake(t));
}

/// A primitive whose units are acquired one at a time and handed over in FIFO order.
pub(crate) trait Resource {
    /// The tasks waiting for a unit.
    fn waiters(&self) -> &RefCell<WaitList<()>>;

    /// Takes a unit if one is free (which implies that nobody waits).
    fn try_take(&self) -> bool;

    /// Gives a unit back: hands it to the longest waiter (notifying and waking it), or makes
    /// it free if nobody waits.
    fn give_back(&self);
}

/// Hands a unit to the longest waiter of `waiters`, if there is one; returns whether it did.
pub(crate) fn hand_to_first(waiters: &RefCell<WaitList<()>>) -> bool {
    let task = waiters.borrow_mut().notify_front(|_| {});
    match task {
        Some(t) => {
            wake(t);
            true
        }
        None => false,
    }
}

#[derive(Clone, Copy, Debug)]
enum AcquireState {
    Start,
    /// The unit was taken at once; the call yields once before returning it.
    Taken,
    Waiting(WaitKey),
    Done,
}

/// The leaf future that acquires one unit of a [`Resource`] (a lock, a permit, a token; for an
/// [`Event`], the right to go past it).
///
/// A non-cancellable acquire neither checks for cancellation nor registers the task as
/// cancellably blocked: only a hand-off ends its wait ([`Condition::wait`] re-acquiring its
/// lock after a cancellation).
pub(crate) struct Acquire<'a, R: Resource + ?Sized> {
    resource: &'a R,
    state: AcquireState,
    cancellable: bool,
}

impl<'a, R: Resource + ?Sized> Acquire<'a, R> {
    pub(crate) fn new(resource: &'a R) -> Self {
        Acquire {
            resource,
            state: AcquireState::Start,
            cancellable: true,
        }
    }

    /// An acquire that ignores cancellation.
    pub(crate) fn uncancellable(resource: &'a R) -> Self {
        Acquire {
            resource,
            state: AcquireState::Start,
            cancellable: false,
        }
    }

    /// An uncancellable acquire that is already queued under `key` (someone else queued the
    /// task, see [`Condition::notify_one`]).
    pub(crate) fn queued(resource: &'a R, key: WaitKey) -> Self {
        Acquire {
            resource,
            state: AcquireState::Waiting(key),
            cancellable: false,
        }
    }

    /// One step of the acquisition, for futures that embed an `Acquire`.
    pub(crate) fn poll_acquire(
        &mut self,
        core: &Core,
        task: u32,
    ) -> Poll<Result<(), CancelRequested>> {
        match self.state {
            AcquireState::Start => {
                if self.cancellable
                    && let Some(c) = core.check_cancel(task)
                {
                    self.state = AcquireState::Done;
                    return Poll::Ready(Err(c));
                }
                if self.resource.try_take() {
                    self.state = AcquireState::Taken;
                    core.yield_now(task);
                    return Poll::Pending;
                }
                let key = self
                    .resource
                    .waiters()
                    .borrow_mut()
                    .push_back(core.task_ref(task), None);
                self.state = AcquireState::Waiting(key);
                if self.cancellable {
                    core.block_cancellable(task);
                }
                Poll::Pending
            }
            AcquireState::Taken => {
                self.state = AcquireState::Done;
                Poll::Ready(Ok(()))
            }
            AcquireState::Waiting(key) => {
                let waiters = self.resource.waiters();
                let served = waiters.borrow().state(key) != Some(EntryState::Waiting);
                if served {
                    // Handed over: the unit is ours, whatever happened to our scope meanwhile.
                    waiters.borrow_mut().remove(key);
                    self.state = AcquireState::Done;
                    return Poll::Ready(Ok(()));
                }
                if self.cancellable {
                    if let Some(c) = core.check_cancel(task) {
                        waiters.borrow_mut().remove(key);
                        self.state = AcquireState::Done;
                        return Poll::Ready(Err(c));
                    }
                    core.block_cancellable(task);
                }
                Poll::Pending
            }
            AcquireState::Done => panic!("an acquire was polled after it finished"),
        }
    }
}

impl<'a, R: Resource + ?Sized> Acquire<'a, R> {
    /// Turns the acquired unit into the value that owns it (a guard, a permit) once the
    /// acquisition succeeds; `make` runs in the same poll, so the unit is never unowned.
    pub(crate) fn then<H, F: FnOnce() -> H>(self, make: F) -> AcquireThen<'a, R, F> {
        AcquireThen {
            acquire: self,
            make: Some(make),
        }
    }
}

/// The future of [`Acquire::then`].
pub(crate) struct AcquireThen<'a, R: Resource + ?Sized, F> {
    acquire: Acquire<'a, R>,
    make: Option<F>,
}

// `make` is only ever moved out and called, never pinned.
impl<R: Resource + ?Sized, F> Unpin for AcquireThen<'_, R, F> {}

impl<R: Resource + ?Sized, H, F: FnOnce() -> H> Future for AcquireThen<'_, R, F> {
    type Output = Result<H, CancelRequested>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        Pin::new(&mut this.acquire).poll(cx).map(|r| {
            r.map(|()| {
                let make = this.make.take().expect("an acquire finishes once");
                make()
            })
        })
    }
}

impl<R: Resource + ?Sized> Future for Acquire<'_, R> {
    type Output = Result<(), CancelRequested>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = task::verify(cx);
        context::with_core(|core| self.poll_acquire(core, task))
    }
}

impl<R: Resource + ?Sized> Drop for Acquire<'_, R> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, AcquireState::Done) {
            AcquireState::Taken => self.resource.give_back(),
            AcquireState::Waiting(key) => {
                let waiters = self.resource.waiters();
                let served = waiters.borrow().state(key) == Some(EntryState::Notified);
                waiters.borrow_mut().remove(key);
                if served {
                    // The unit was handed to us but never collected: pass it on.
                    self.resource.give_back();
                }
            }
            AcquireState::Start | AcquireState::Done => {}
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
