//! [`Lock`]: a fair mutual-exclusion lock that owns the data it protects.
//!
//! Invariants:
//! - `locked` is true exactly while some [`LockGuard`] exists, or the lock has been handed to
//!   a waiter that has not collected its guard yet (or to a call that took it at once and is
//!   yielding before it returns the guard).
//! - Unlocking while tasks wait hands the lock to the longest waiter without unlocking it
//!   (see the module docs of [`sync`](super)), so `locked == false` implies that nobody waits.
//! - The data sits in a `RefCell` that only guards borrow: a guard holds the `RefMut` for its
//!   whole life and drops it before the lock is released, so the borrow never conflicts.
//! - The lock's state is in an `Rc` so that a [`Condition`](super::Condition) can queue a
//!   notified waiter on the lock directly (Trio's "repark").
//! - Poisoning: a guard dropped while its thread panics (unless it was taken during that
//!   panic), or dropped by the runtime tearing its task down, marks the lock poisoned. The
//!   lock keeps working; [`Lock::is_poisoned`] reports it until [`Lock::clear_poison`].

use super::{Acquire, Resource};
use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::{self, Waiting};
use crate::wait::WaitList;
use std::cell::{Cell, RefCell, RefMut};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

/// The part of a lock that does not depend on the data type.
#[derive(Debug, Default)]
pub(crate) struct LockState {
    locked: Cell<bool>,
    poisoned: Cell<bool>,
    waiters: RefCell<WaitList<()>>,
}

impl LockState {
    /// Marks the lock as held by the entry `key` of its wait list (which must be waiting): if
    /// the lock is free, the entry is served at once and its task woken.
    pub(crate) fn serve_if_free(&self, key: crate::wait::WaitKey) {
        if self.locked.get() {
            return;
        }
        self.locked.set(true);
        let task = self.waiters.borrow_mut().notify(key);
        if let Some(t) = task {
            t.unpark();
        }
    }
}

impl Resource for LockState {
    fn waiters(&self) -> &RefCell<WaitList<()>> {
        &self.waiters
    }

    fn try_take(&self) -> bool {
        if self.locked.get() {
            return false;
        }
        debug_assert!(self.waiters.borrow().is_empty());
        self.locked.set(true);
        true
    }

    fn give_back(&self) {
        if !super::hand_to_first(&self.waiters) {
            self.locked.set(false);
        }
    }
}

/// A mutual-exclusion lock for tasks, owning the data it protects.
///
/// [`lock`](Lock::lock) waits until the lock is free and returns a [`LockGuard`] that gives
/// access to the data; dropping the guard unlocks. The lock is fair: tasks get it in the order
/// they asked for it, and unlocking while tasks wait hands the lock straight to the one that
/// has waited longest, so the task that unlocks cannot take it back first.
///
/// The lock is not reentrant: a task that calls `lock` while it holds the guard waits for
/// itself (until it is cancelled).
///
/// # Poisoning
///
/// Like [`std::sync::Mutex`], a lock is *poisoned* when a guard is dropped by a panic (or by
/// the runtime tearing down the task that held it, which only happens while a panic unwinds or
/// the run ends): the data may be half-updated. Unlike `std`, `lock` still hands out the guard,
/// because its error type is reserved for cancellation; code that cares checks
/// [`is_poisoned`](Lock::is_poisoned) (or [`LockGuard::is_poisoned`]) and, once it has repaired
/// the data, calls [`clear_poison`](Lock::clear_poison). In scoro a panic in a task cancels its
/// siblings and then propagates, so a poisoned lock is mostly seen by cleanup code.
///
/// ```
/// use scoro::{nursery, structured, sync::Lock, CancelRequested, ErrorGroup};
///
/// #[structured]
/// async fn append(log: &Lock<Vec<u32>>, x: u32) -> Result<(), CancelRequested> {
///     let mut guard = log.lock().await?;
///     guard.push(x);
///     scoro::checkpoint().await?; // still holding the lock: nobody else appends meanwhile
///     guard.push(x);
///     Ok(())
/// }
///
/// #[structured]
/// async fn main_task() -> Result<Vec<u32>, ErrorGroup<CancelRequested>> {
///     let log = Lock::new(Vec::new());
///     nursery(async |n| -> Result<(), CancelRequested> {
///         n.start_soon(append(&log, 1));
///         n.start_soon(append(&log, 2));
///         Ok(())
///     })
///     .await?;
///     Ok(log.into_inner())
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), [1, 1, 2, 2]);
/// ```
pub struct Lock<T: ?Sized> {
    state: Rc<LockState>,
    value: RefCell<T>,
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Lock");
        match self.value.try_borrow() {
            Ok(v) if !self.state.locked.get() => d.field("value", &&*v),
            _ => d.field("value", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.state.poisoned.get())
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Lock::new(T::default())
    }
}

impl<T> Lock<T> {
    /// A new, unlocked lock protecting `value`.
    ///
    /// ```
    /// let lock = scoro::sync::Lock::new(5);
    /// assert!(!lock.is_locked());
    /// ```
    pub fn new(value: T) -> Self {
        Lock {
            state: Rc::new(LockState::default()),
            value: RefCell::new(value),
        }
    }

    /// Consumes the lock and returns the data (poisoned or not).
    ///
    /// ```
    /// let lock = scoro::sync::Lock::new(String::from("data"));
    /// assert_eq!(lock.into_inner(), "data");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Lock<T> {
    /// Waits until the lock is free, locks it and returns the guard.
    ///
    /// A checkpoint: returns `Err(CancelRequested)` if the task is cancelled before it gets the
    /// lock (it then never holds it), and yields once even when the lock is free. Once the lock
    /// has been handed to a waiting task, that task returns the guard even if it was cancelled
    /// in the meantime; its next checkpoint reports the cancellation.
    ///
    /// A poisoned lock still returns the guard; see [Poisoning](Lock#poisoning).
    ///
    /// ```
    /// use scoro::{structured, sync::Lock, CancelRequested};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<u32, CancelRequested> {
    ///     let lock = Lock::new(1);
    ///     {
    ///         let mut guard = lock.lock().await?;
    ///         *guard += 1;
    ///     } // unlocked here
    ///     let value = *lock.lock().await?;
    ///     Ok(value)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(2));
    /// ```
    pub fn lock(
        &self,
    ) -> CoroutineCall<impl Future<Output = Result<LockGuard<'_, T>, CancelRequested>> + '_> {
        CoroutineCall::internal(
            Acquire::<_, { Waiting::LockLock as u8 }>::call(&*self.state, move || self.guard()),
            "scoro::sync",
            "Lock::lock",
        )
    }

    /// Locks the lock if it is free and nobody is waiting for it; never blocks, not a
    /// checkpoint.
    ///
    /// ```
    /// let lock = scoro::sync::Lock::new(0);
    /// let guard = lock.try_lock().expect("the lock is free");
    /// assert!(lock.try_lock().is_none());
    /// drop(guard);
    /// assert!(lock.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        self.state.try_take().then(|| self.guard())
    }

    /// Is the lock held (or handed to a waiter that has not returned yet)?
    ///
    /// ```
    /// let lock = scoro::sync::Lock::new(());
    /// let guard = lock.try_lock();
    /// assert!(lock.is_locked());
    /// drop(guard);
    /// assert!(!lock.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.state.locked.get()
    }

    /// How many tasks are waiting for the lock.
    ///
    /// ```
    /// assert_eq!(scoro::sync::Lock::new(()).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.state.waiters.borrow().len()
    }

    /// Was a guard of this lock dropped by a panic (or by the runtime tearing down its task)
    /// since the lock was made or [`clear_poison`](Lock::clear_poison) was last called?
    ///
    /// ```
    /// let lock = scoro::sync::Lock::new(0);
    /// let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     let _guard = lock.try_lock().unwrap();
    ///     panic!("while holding the lock");
    /// }));
    /// assert!(caught.is_err());
    /// assert!(lock.is_poisoned());
    /// lock.clear_poison();
    /// assert!(!lock.is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.state.poisoned.get()
    }

    /// Marks the lock as no longer poisoned (after the data has been checked or repaired).
    ///
    /// ```
    /// let lock = scoro::sync::Lock::new(0);
    /// lock.clear_poison();
    /// assert!(!lock.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.state.poisoned.set(false);
    }

    /// The data, through a unique reference: no locking needed.
    ///
    /// ```
    /// let mut lock = scoro::sync::Lock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The lock's state, for [`Condition`](super::Condition).
    pub(super) fn state(&self) -> &Rc<LockState> {
        &self.state
    }

    /// A guard for a lock this call has just acquired.
    pub(super) fn guard(&self) -> LockGuard<'_, T> {
        LockGuard {
            lock: self,
            value: Some(self.value.borrow_mut()),
            panicking: std::thread::panicking(),
        }
    }
}

/// Access to the data of a locked [`Lock`]; dropping it unlocks (handing the lock to the
/// longest waiter, if any).
///
/// ```
/// let lock = scoro::sync::Lock::new(vec![1]);
/// let mut guard = lock.try_lock().unwrap();
/// guard.push(2); // DerefMut
/// assert_eq!(guard.len(), 2); // Deref
/// ```
pub struct LockGuard<'a, T: ?Sized> {
    lock: &'a Lock<T>,
    /// `None` only after [`unlock_for_wait`](LockGuard::unlock_for_wait) took the guard apart.
    value: Option<RefMut<'a, T>>,
    /// Was the thread already panicking when the guard was made?
    panicking: bool,
}

impl<'a, T: ?Sized> LockGuard<'a, T> {
    /// Is the lock poisoned (see [`Lock::is_poisoned`])?
    ///
    /// ```
    /// let lock = scoro::sync::Lock::new(0);
    /// assert!(!lock.try_lock().unwrap().is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.lock.is_poisoned()
    }

    /// The lock this guard holds.
    pub(super) fn lock(&self) -> &'a Lock<T> {
        self.lock
    }

    /// Unlocks without poisoning and returns the lock, for [`Condition::wait`](super::Condition::wait).
    pub(super) fn unlock_for_wait(mut self) -> &'a Lock<T> {
        drop(self.value.take());
        self.lock.state.give_back();
        self.lock
    }
}

impl<T: ?Sized> Deref for LockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value
            .as_deref()
            .expect("a live lock guard holds the data")
    }
}

impl<T: ?Sized> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_deref_mut()
            .expect("a live lock guard holds the data")
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LockGuard").field(&&**self).finish()
    }
}

impl<T: ?Sized> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        let Some(value) = self.value.take() else {
            return;
        };
        drop(value);
        if !self.panicking && (std::thread::panicking() || torn_down()) {
            self.lock.state.poisoned.set(true);
        }
        self.lock.state.give_back();
    }
}

/// Is the runtime dropping a task right now? (Then no task is being polled although a runtime
/// is running on this thread: user code only runs inside a task's poll.)
fn torn_down() -> bool {
    seam::tearing_down()
}
