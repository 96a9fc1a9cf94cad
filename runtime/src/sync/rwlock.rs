//! [`RwLock`]: a fair reader-writer lock that owns the data it protects.
//!
//! Invariants:
//! - `writer` is true exactly while a [`RwLockWriteGuard`] exists or the lock has been handed
//!   to a writer that has not collected its guard yet; `readers` counts the read guards plus
//!   the readers handed the lock that have not collected theirs. Never both.
//! - Every waiter, reader or writer, is in the one FIFO `waiters`, its payload saying which.
//!   After every change of the lock's state (a release, a waiter leaving the queue) `admit`
//!   serves the head of the queue while it can: a writer when the lock is free, a reader (and
//!   the readers right behind it, up to the next writer) when no writer holds it. So the head
//!   is never servable while it waits, and a free lock has an empty queue.
//! - A new reader joins the holders at once only while nobody waits: a queued writer is never
//!   overtaken by readers that come after it.
//! - The data sits in a `RefCell` that only guards borrow, each for its whole life, dropping
//!   the borrow before releasing the lock, so the borrows never conflict.

use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::{CurrentTask, Waiting};
use crate::wait::{Aborted, EntryState, Step, Wait, WaitCall, WaitKey, WaitList};
use std::cell::{Cell, Ref, RefCell, RefMut};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;

/// What a queued waiter wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// The part of a reader-writer lock that does not depend on the data type.
#[derive(Debug, Default)]
struct RwState {
    readers: Cell<usize>,
    writer: Cell<bool>,
    waiters: RefCell<WaitList<Access>>,
}

impl RwState {
    /// Takes the lock for `access` if that is possible without overtaking a waiter.
    fn try_take(&self, access: Access) -> bool {
        if self.writer.get() || !self.waiters.borrow().is_empty() {
            return false;
        }
        match access {
            Access::Read => self.readers.set(self.readers.get() + 1),
            Access::Write if self.readers.get() == 0 => self.writer.set(true),
            Access::Write => return false,
        }
        true
    }

    /// Gives back what `access` held, and serves the waiters that can go now.
    fn release(&self, access: Access) {
        match access {
            Access::Read => self.readers.set(self.readers.get() - 1),
            Access::Write => self.writer.set(false),
        }
        self.admit();
    }

    /// Hands the lock to the head of the queue while it can be served (see the invariants).
    fn admit(&self) {
        loop {
            let task = {
                let mut waiters = self.waiters.borrow_mut();
                let Some((_, _, access)) = waiters.front() else {
                    return;
                };
                let access = access.expect("a queued waiter says what it wants");
                if self.writer.get() || (access == Access::Write && self.readers.get() > 0) {
                    return;
                }
                match access {
                    Access::Read => self.readers.set(self.readers.get() + 1),
                    Access::Write => self.writer.set(true),
                }
                waiters.notify_front(|_| {})
            };
            if let Some(t) = task {
                t.unpark();
            }
        }
    }
}

/// A reader-writer lock for tasks: any number of readers, or one writer, at a time.
///
/// [`read`](RwLock::read) returns a [`RwLockReadGuard`] (shared access), [`write`](RwLock::write)
/// a [`RwLockWriteGuard`] (exclusive access); dropping a guard releases it.
///
/// # Fairness
///
/// The lock is *task-fair*: readers and writers wait in one FIFO queue and are served in the
/// order they asked. When the head of the queue is a reader, it goes together with every
/// reader right behind it, up to the next writer (readers are admitted in batches). A reader
/// arriving while readers hold the lock joins them only if nobody waits; once a writer waits,
/// later readers queue behind it. So a writer is never starved by a stream of readers, and a
/// reader never waits for a writer that asked after it. Releasing the lock while tasks wait
/// hands it straight to them (the lock never becomes free in between), as for every
/// primitive of [`sync`](super).
///
/// The lock is not poisoned by a panic (unlike [`Lock`](super::Lock)), and it is not
/// reentrant: a task holding a guard that asks again may wait for itself.
///
/// ```
/// use scoro::{nursery, structured, sync::RwLock, CancelRequested, ErrorGroup};
///
/// #[structured]
/// async fn main_task() -> Result<u32, ErrorGroup<CancelRequested>> {
///     let config = RwLock::new(1);
///     nursery(async |n| -> Result<(), CancelRequested> {
///         for _ in 0..3 {
///             n.start_soon(async {
///                 let value = config.read().await?; // readers share the lock
///                 assert!(*value >= 1);
///                 Ok::<(), CancelRequested>(())
///             });
///         }
///         *config.write().await? += 1;
///         Ok(())
///     })
///     .await?;
///     Ok(config.into_inner())
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), 2);
/// ```
pub struct RwLock<T: ?Sized> {
    state: RwState,
    value: RefCell<T>,
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.value.try_borrow() {
            Ok(v) if !self.state.writer.get() => d.field("value", &&*v),
            _ => d.field("value", &format_args!("<locked>")),
        };
        d.field("readers", &self.state.readers.get())
            .field("writer", &self.state.writer.get())
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> RwLock<T> {
    /// A new, unlocked reader-writer lock protecting `value`.
    ///
    /// ```
    /// let lock = scoro::sync::RwLock::new(5);
    /// assert_eq!(lock.readers(), 0);
    /// ```
    pub fn new(value: T) -> Self {
        RwLock {
            state: RwState::default(),
            value: RefCell::new(value),
        }
    }

    /// Consumes the lock and returns the data.
    ///
    /// ```
    /// let lock = scoro::sync::RwLock::new(String::from("data"));
    /// assert_eq!(lock.into_inner(), "data");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits until the lock can be shared (no writer holds it and no task asked before this
    /// one is still waiting), and returns a read guard.
    ///
    /// A checkpoint: returns `Err(CancelRequested)` if the task is cancelled before it gets the
    /// lock (it then never holds it, and the waiters behind it that can go are served), and
    /// yields once even when the lock is free. A task that was handed the lock returns the
    /// guard even if it was cancelled meanwhile; its next checkpoint reports the cancellation.
    ///
    /// ```
    /// use scoro::{structured, sync::RwLock, CancelRequested};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<u32, CancelRequested> {
    ///     let lock = RwLock::new(3);
    ///     let a = lock.read().await?;
    ///     let b = lock.read().await?; // both at once
    ///     Ok(*a + *b)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(6));
    /// ```
    pub fn read(
        &self,
    ) -> CoroutineCall<impl Future<Output = Result<RwLockReadGuard<'_, T>, CancelRequested>> + '_>
    {
        CoroutineCall::internal(
            async move {
                WaitCall::new(RwAcquire {
                    state: &self.state,
                    access: Access::Read,
                })
                .await
                .map(|()| self.read_guard())
            },
            "scoro::sync",
            "RwLock::read",
        )
    }

    /// Waits until nobody holds the lock and no task asked before this one is still waiting,
    /// and returns a write guard (exclusive access).
    ///
    /// A checkpoint, with the same rules as [`read`](RwLock::read).
    ///
    /// ```
    /// use scoro::{structured, sync::RwLock, CancelRequested};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<Vec<u32>, CancelRequested> {
    ///     let lock = RwLock::new(vec![1]);
    ///     lock.write().await?.push(2);
    ///     Ok(lock.into_inner())
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(vec![1, 2]));
    /// ```
    pub fn write(
        &self,
    ) -> CoroutineCall<impl Future<Output = Result<RwLockWriteGuard<'_, T>, CancelRequested>> + '_>
    {
        CoroutineCall::internal(
            async move {
                WaitCall::new(RwAcquire {
                    state: &self.state,
                    access: Access::Write,
                })
                .await
                .map(|()| self.write_guard())
            },
            "scoro::sync",
            "RwLock::write",
        )
    }

    /// Takes a read guard if no writer holds the lock and nobody waits; never blocks, not a
    /// checkpoint.
    ///
    /// ```
    /// let lock = scoro::sync::RwLock::new(0);
    /// let a = lock.try_read().unwrap();
    /// let b = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_none());
    /// drop((a, b));
    /// assert!(lock.try_write().is_some());
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.state.try_take(Access::Read).then(|| self.read_guard())
    }

    /// Takes the write guard if nobody holds the lock and nobody waits; never blocks, not a
    /// checkpoint.
    ///
    /// ```
    /// let lock = scoro::sync::RwLock::new(0);
    /// let w = lock.try_write().unwrap();
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// assert!(lock.try_read().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.state
            .try_take(Access::Write)
            .then(|| self.write_guard())
    }

    /// How many readers hold the lock (or were handed it and have not returned yet).
    ///
    /// ```
    /// let lock = scoro::sync::RwLock::new(());
    /// let _a = lock.try_read();
    /// assert_eq!(lock.readers(), 1);
    /// ```
    pub fn readers(&self) -> usize {
        self.state.readers.get()
    }

    /// Does a writer hold the lock (or was it handed one that has not returned yet)?
    ///
    /// ```
    /// let lock = scoro::sync::RwLock::new(());
    /// let w = lock.try_write();
    /// assert!(lock.is_write_locked());
    /// drop(w);
    /// assert!(!lock.is_write_locked());
    /// ```
    pub fn is_write_locked(&self) -> bool {
        self.state.writer.get()
    }

    /// How many tasks (readers and writers) are waiting for the lock.
    ///
    /// ```
    /// assert_eq!(scoro::sync::RwLock::new(()).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.state.waiters.borrow().len()
    }

    /// The data, through a unique reference: no locking needed.
    ///
    /// ```
    /// let mut lock = scoro::sync::RwLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            state: &self.state,
            value: Some(self.value.borrow()),
        }
    }

    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard {
            state: &self.state,
            value: Some(self.value.borrow_mut()),
        }
    }
}

/// Shared access to the data of an [`RwLock`]; dropping it releases the read lock (handing
/// the lock to the waiters, if it was the last reader).
///
/// ```
/// let lock = scoro::sync::RwLock::new(vec![1, 2]);
/// let guard = lock.try_read().unwrap();
/// assert_eq!(guard.len(), 2);
/// ```
pub struct RwLockReadGuard<'a, T: ?Sized> {
    state: &'a RwState,
    /// `None` only while the guard is dropped.
    value: Option<Ref<'a, T>>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value.as_deref().expect("a live guard holds the data")
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RwLockReadGuard").field(&&**self).finish()
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        drop(self.value.take());
        self.state.release(Access::Read);
    }
}

/// Exclusive access to the data of an [`RwLock`]; dropping it releases the lock (handing it
/// to the waiters, if any).
///
/// ```
/// let lock = scoro::sync::RwLock::new(vec![1]);
/// let mut guard = lock.try_write().unwrap();
/// guard.push(2);
/// assert_eq!(*guard, [1, 2]);
/// ```
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    state: &'a RwState,
    /// `None` only while the guard is dropped.
    value: Option<RefMut<'a, T>>,
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value.as_deref().expect("a live guard holds the data")
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_deref_mut()
            .expect("a live guard holds the data")
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RwLockWriteGuard").field(&&**self).finish()
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        drop(self.value.take());
        self.state.release(Access::Write);
    }
}

/// Acquiring an [`RwLock`] for reading or writing.
struct RwAcquire<'a> {
    state: &'a RwState,
    access: Access,
}

impl Wait for RwAcquire<'_> {
    type Output = Result<(), CancelRequested>;
    type Parked = WaitKey;

    fn waiting(&self) -> Waiting {
        match self.access {
            Access::Read => Waiting::RwLockRead,
            Access::Write => Waiting::RwLockWrite,
        }
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, WaitKey> {
        if self.state.try_take(self.access) {
            Step::Done(Ok(()))
        } else {
            let key = self
                .state
                .waiters
                .borrow_mut()
                .push_back(task.task_ref(), Some(self.access));
            Step::Park(key)
        }
    }

    fn woken(self: Pin<&mut Self>, key: WaitKey) -> Step<Self::Output, WaitKey> {
        let waiters = &self.state.waiters;
        if waiters.borrow().state(key) == Some(EntryState::Waiting) {
            return Step::Park(key);
        }
        // Handed over: the lock is ours, whatever happened to our scope meanwhile.
        waiters.borrow_mut().remove(key);
        Step::Done(Ok(()))
    }

    fn abort(
        self: Pin<&mut Self>,
        key: WaitKey,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, WaitKey> {
        self.state.waiters.borrow_mut().remove(key);
        // A writer leaving may let the readers behind it go.
        self.state.admit();
        Aborted::Left(Err(cancel))
    }

    fn abandon(self: Pin<&mut Self>, key: WaitKey) {
        let waiters = &self.state.waiters;
        let served = waiters.borrow().state(key) == Some(EntryState::Notified);
        waiters.borrow_mut().remove(key);
        if served {
            // Handed the lock but never collected it: pass it on.
            self.state.release(self.access);
        } else {
            self.state.admit();
        }
    }

    fn unreturned(self: Pin<&mut Self>, outcome: Self::Output) {
        // Taken at once, dropped during the yield, before any guard existed.
        if outcome.is_ok() {
            self.state.release(self.access);
        }
    }
}
