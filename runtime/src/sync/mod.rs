// Invariants (for maintainers), besides the guarantees documented below:
// - No `RefCell` borrow of a primitive's state is held while user code runs (destructors of
//   values included).
//! Synchronisation primitives for tasks of one runtime: [`Event`], [`Lock`], [`RwLock`],
//! [`Semaphore`], [`CapacityLimiter`], [`Condition`] and [`Barrier`].
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
//! # Guarantees
//!
//! - **Fairness by hand-off.** Every primitive keeps its waiters in a FIFO (a `WaitList`, with
//!   O(1) removal of a cancelled waiter). Releasing a unit (a lock, a permit, a token) while
//!   somebody waits hands it straight to the longest waiter, which owns it from that moment
//!   on; the unit never becomes free in between, so the releaser (or any other task) cannot
//!   barge in ahead. Consequently a unit is free only when nobody waits, and `try_*` calls
//!   succeed only then. [`RwLock`] keeps readers and writers in one FIFO and hands the lock
//!   to the head together with the readers right behind it (see its docs); a [`Barrier`]
//!   releases a whole round at once.
//! - **Checkpoints.** Every blocking call first returns `Err(CancelRequested)` if the task is
//!   cancelled; when it can complete at once it does, then yields once (a schedule point that
//!   does not look at cancellation again: the operation has happened); otherwise it waits.
//! - **Nothing is lost to cancellation.** A waiter that was handed a unit returns it as success
//!   even if its task was cancelled meanwhile (the next checkpoint reports the cancellation). A
//!   waiter that was not yet served removes its own entry (O(1)) and returns the cancellation.
//!   If a call is dropped while it owns a unit it has not returned yet (only possible when the
//!   runtime tears the task down), its destructor passes the unit on to the next waiter.

mod barrier;
mod capacity_limiter;
mod condition;
mod event;
mod lock;
mod rwlock;
mod semaphore;

pub use barrier::{Barrier, BarrierWaitResult};
pub use capacity_limiter::{CapacityLimiter, CapacityPermit};
pub use condition::{Condition, WaitCancelled};
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};

use crate::cancellation::CancelRequested;
use crate::runtime::seam::{CurrentTask, Waiting};
use crate::wait::{Aborted, EntryState, Step, Wait, WaitCall, WaitKey, WaitList};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
            t.unpark();
            true
        }
        None => false,
    }
}

/// Acquiring one unit of a [`Resource`] (a lock, a permit, a token; for an [`Event`], the
/// right to go past it).
///
/// `W` is the public call this acquire is (`Lock::lock`, `Semaphore::acquire`, ..), as a
/// `Waiting as u8`: a type parameter rather than a field, so that naming the call costs no
/// byte in every task blocked on a lock or an event.
pub(crate) struct Acquire<'a, R: Resource + ?Sized, const W: u8> {
    resource: &'a R,
}

impl<'a, R: Resource + ?Sized, const W: u8> Acquire<'a, R, W> {
    /// The call that acquires a unit of `resource` and turns it into `make()`, the value that
    /// owns it (a guard, a permit), in the poll that acquires it, so that the unit is never
    /// unowned. `W` names the public call for the task tree.
    pub(crate) fn call<H, F: FnOnce() -> H>(resource: &'a R, make: F) -> AcquireThen<'a, R, F, W> {
        AcquireThen {
            call: WaitCall::new(Acquire { resource }),
            make: Some(make),
        }
    }
}

impl<R: Resource + ?Sized, const W: u8> Wait for Acquire<'_, R, W> {
    type Output = Result<(), CancelRequested>;
    type Parked = WaitKey;

    fn waiting(&self) -> Waiting {
        Waiting::from_u8(W)
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, WaitKey> {
        if self.resource.try_take() {
            Step::Done(Ok(()))
        } else {
            let key = self
                .resource
                .waiters()
                .borrow_mut()
                .push_back(task.task_ref(), None);
            Step::Park(key)
        }
    }

    fn woken(self: Pin<&mut Self>, key: WaitKey) -> Step<Self::Output, WaitKey> {
        let waiters = self.resource.waiters();
        if waiters.borrow().state(key) == Some(EntryState::Waiting) {
            return Step::Park(key);
        }
        // Handed over: the unit is ours, whatever happened to our scope meanwhile.
        waiters.borrow_mut().remove(key);
        Step::Done(Ok(()))
    }

    fn abort(
        self: Pin<&mut Self>,
        key: WaitKey,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, WaitKey> {
        self.resource.waiters().borrow_mut().remove(key);
        Aborted::Left(Err(cancel))
    }

    fn abandon(self: Pin<&mut Self>, key: WaitKey) {
        let waiters = self.resource.waiters();
        let served = waiters.borrow().state(key) == Some(EntryState::Notified);
        waiters.borrow_mut().remove(key);
        if served {
            // The unit was handed to us but never collected: pass it on.
            self.resource.give_back();
        }
    }

    fn unreturned(self: Pin<&mut Self>, outcome: Self::Output) {
        // Taken at once, dropped during the yield, before any guard existed.
        if outcome.is_ok() {
            self.resource.give_back();
        }
    }
}

/// The future of [`Acquire::call`].
pub(crate) struct AcquireThen<'a, R: Resource + ?Sized, F, const W: u8> {
    call: WaitCall<Acquire<'a, R, W>>,
    make: Option<F>,
}

// `make` is only ever moved out and called, never pinned.
impl<R: Resource + ?Sized, F, const W: u8> Unpin for AcquireThen<'_, R, F, W> {}

impl<R: Resource + ?Sized, H, F: FnOnce() -> H, const W: u8> Future for AcquireThen<'_, R, F, W> {
    type Output = Result<H, CancelRequested>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        Pin::new(&mut this.call).poll(cx).map(|r| {
            r.map(|()| {
                let make = this.make.take().expect("an acquire finishes once");
                make()
            })
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
