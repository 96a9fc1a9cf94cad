//! [`Semaphore`]: a fair counting semaphore with RAII permits.
//!
//! Invariants: `available` counts the permits nobody holds. A released permit goes straight to
//! the longest waiter if there is one (the count does not change), so `available > 0` implies
//! that nobody waits.

use super::{Acquire, Resource};
use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::Waiting;
use crate::wait::WaitList;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;

/// A counting semaphore: at most `n` permits are out at a time.
///
/// [`acquire`](Semaphore::acquire) waits for a permit and returns a [`SemaphorePermit`];
/// dropping the permit gives it back. Fair: waiting tasks get permits in the order they asked,
/// and a permit given back while tasks wait goes straight to the longest waiter.
///
/// ```
/// use scoro::{nursery, structured, sync::Semaphore, CancelRequested, ErrorGroup};
/// use std::cell::Cell;
///
/// #[structured]
/// async fn job(sem: &Semaphore, running: &Cell<u32>, peak: &Cell<u32>) -> Result<(), CancelRequested> {
///     let _permit = sem.acquire().await?;
///     running.set(running.get() + 1);
///     peak.set(peak.get().max(running.get()));
///     scoro::checkpoint().await?;
///     running.set(running.get() - 1);
///     Ok(())
/// }
///
/// #[structured]
/// async fn main_task() -> Result<u32, ErrorGroup<CancelRequested>> {
///     let sem = Semaphore::new(2);
///     let (running, peak) = (Cell::new(0), Cell::new(0));
///     nursery(async |n| -> Result<(), CancelRequested> {
///         for _ in 0..5 {
///             n.start_soon(job(&sem, &running, &peak));
///         }
///         Ok(())
///     })
///     .await?;
///     Ok(peak.get())
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), 2);
/// ```
pub struct Semaphore {
    available: Cell<usize>,
    waiters: RefCell<WaitList<()>>,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available.get())
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits available.
    ///
    /// ```
    /// assert_eq!(scoro::sync::Semaphore::new(3).available(), 3);
    /// ```
    pub fn new(permits: usize) -> Self {
        Semaphore {
            available: Cell::new(permits),
            waiters: RefCell::new(WaitList::default()),
        }
    }

    /// Waits for a permit and takes it.
    ///
    /// A checkpoint: returns `Err(CancelRequested)` if the task is cancelled before it gets a
    /// permit, and yields once even when a permit is available. A waiting task that has been
    /// handed a permit returns it even if it was cancelled in the meantime.
    ///
    /// ```
    /// use scoro::{structured, sync::Semaphore, CancelRequested};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<usize, CancelRequested> {
    ///     let sem = Semaphore::new(1);
    ///     let permit = sem.acquire().await?;
    ///     let left = sem.available();
    ///     drop(permit);
    ///     Ok(left)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(0));
    /// ```
    pub fn acquire(
        &self,
    ) -> CoroutineCall<impl Future<Output = Result<SemaphorePermit<'_>, CancelRequested>> + '_>
    {
        CoroutineCall::internal(
            Acquire::<_, { Waiting::SemaphoreAcquire as u8 }>::call(self, move || {
                SemaphorePermit { semaphore: self }
            }),
            "scoro::sync",
            "Semaphore::acquire",
        )
    }

    /// Takes a permit if one is available (and nobody is waiting); never blocks, not a
    /// checkpoint.
    ///
    /// ```
    /// let sem = scoro::sync::Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_take().then(|| SemaphorePermit { semaphore: self })
    }

    /// How many permits are available right now.
    ///
    /// ```
    /// let sem = scoro::sync::Semaphore::new(2);
    /// let _p = sem.try_acquire();
    /// assert_eq!(sem.available(), 1);
    /// ```
    pub fn available(&self) -> usize {
        self.available.get()
    }

    /// Adds `n` permits, handing them to waiting tasks first (longest waiter first).
    ///
    /// Together with [`SemaphorePermit::forget`] this lets a semaphore count events rather
    /// than guard a resource.
    ///
    /// ```
    /// let sem = scoro::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        for _ in 0..n {
            self.give_back();
        }
    }

    /// How many tasks are waiting for a permit.
    ///
    /// ```
    /// assert_eq!(scoro::sync::Semaphore::new(1).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.waiters.borrow().len()
    }
}

impl Resource for Semaphore {
    fn waiters(&self) -> &RefCell<WaitList<()>> {
        &self.waiters
    }

    fn try_take(&self) -> bool {
        let n = self.available.get();
        if n == 0 || !self.waiters.borrow().is_empty() {
            return false;
        }
        self.available.set(n - 1);
        true
    }

    fn give_back(&self) {
        if !super::hand_to_first(&self.waiters) {
            self.available.set(self.available.get() + 1);
        }
    }
}

/// A permit of a [`Semaphore`]; dropping it gives the permit back.
///
/// ```
/// let sem = scoro::sync::Semaphore::new(1);
/// {
///     let _permit = sem.try_acquire().unwrap();
///     assert_eq!(sem.available(), 0);
/// }
/// assert_eq!(sem.available(), 1);
/// ```
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}

impl SemaphorePermit<'_> {
    /// Consumes the permit without giving it back: the semaphore has one permit fewer for good
    /// (until [`Semaphore::add_permits`]).
    ///
    /// ```
    /// let sem = scoro::sync::Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.give_back();
    }
}
