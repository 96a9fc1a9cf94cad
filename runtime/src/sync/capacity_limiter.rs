//! [`CapacityLimiter`]: a fair limit on how many borrowers use something at once, whose total
//! can change while it is in use.
//!
//! Invariants: `borrowed` counts the tokens out (held by permits, or handed to waiters that
//! have not returned yet). A token comes back to the longest waiter when `borrowed <= total`
//! still leaves room for it, and is returned to the pool otherwise; raising the total hands the
//! new room to waiters at once. So a token is available (`borrowed < total`) only when nobody
//! waits. Lowering the total below `borrowed` takes nothing back: new borrowers wait until
//! enough tokens have been returned.

use super::{Acquire, Resource};
use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::Waiting;
use crate::wait::WaitList;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;

/// Limits how many borrowers use a resource at the same time, such as worker threads or
/// connections; each borrower holds one token, as a [`CapacityPermit`].
///
/// Unlike a [`Semaphore`](super::Semaphore), the number of tokens is a setting that can be
/// changed at any time with [`set_total_tokens`](CapacityLimiter::set_total_tokens); raising
/// it lets waiting tasks in at once, lowering it takes effect as tokens come back. Fair: tokens
/// go to waiting tasks in the order they asked.
///
/// A borrower is a permit, not a task: a task may hold several permits (one per thread it
/// runs, say) and move them around; each permit is one token until it is dropped.
///
/// ```
/// use scoro::{nursery, structured, sync::CapacityLimiter, CancelRequested, ErrorGroup};
/// use std::cell::Cell;
///
/// #[structured]
/// async fn download(limit: &CapacityLimiter, busy: &Cell<usize>, peak: &Cell<usize>) -> Result<(), CancelRequested> {
///     let _token = limit.acquire().await?;
///     busy.set(busy.get() + 1);
///     peak.set(peak.get().max(busy.get()));
///     scoro::checkpoint().await?; // "downloading"
///     busy.set(busy.get() - 1);
///     Ok(())
/// }
///
/// #[structured]
/// async fn main_task() -> Result<usize, ErrorGroup<CancelRequested>> {
///     let limit = CapacityLimiter::new(3);
///     let (busy, peak) = (Cell::new(0), Cell::new(0));
///     nursery(async |n| -> Result<(), CancelRequested> {
///         for _ in 0..10 {
///             n.start_soon(download(&limit, &busy, &peak));
///         }
///         Ok(())
///     })
///     .await?;
///     Ok(peak.get())
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), 3);
/// ```
pub struct CapacityLimiter {
    total: Cell<usize>,
    borrowed: Cell<usize>,
    waiters: RefCell<WaitList<()>>,
}

impl fmt::Debug for CapacityLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapacityLimiter")
            .field("total_tokens", &self.total.get())
            .field("borrowed", &self.borrowed.get())
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl CapacityLimiter {
    /// A limiter with `total_tokens` tokens, none borrowed.
    ///
    /// ```
    /// let limit = scoro::sync::CapacityLimiter::new(4);
    /// assert_eq!((limit.total_tokens(), limit.borrowed()), (4, 0));
    /// ```
    pub fn new(total_tokens: usize) -> Self {
        CapacityLimiter {
            total: Cell::new(total_tokens),
            borrowed: Cell::new(0),
            waiters: RefCell::new(WaitList::default()),
        }
    }

    /// Waits for a token and borrows it.
    ///
    /// A checkpoint: returns `Err(CancelRequested)` if the task is cancelled before it gets a
    /// token, and yields once even when a token is available. A waiting task that has been
    /// handed a token returns it even if it was cancelled in the meantime.
    ///
    /// ```
    /// use scoro::{structured, sync::CapacityLimiter, CancelRequested};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<usize, CancelRequested> {
    ///     let limit = CapacityLimiter::new(2);
    ///     let _token = limit.acquire().await?;
    ///     Ok(limit.available_tokens())
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(1));
    /// ```
    pub fn acquire(
        &self,
    ) -> CoroutineCall<impl Future<Output = Result<CapacityPermit<'_>, CancelRequested>> + '_> {
        CoroutineCall::internal(
            Acquire::<_, { Waiting::CapacityLimiterAcquire as u8 }>::call(self, move || {
                CapacityPermit { limiter: self }
            }),
            "scoro::sync",
            "CapacityLimiter::acquire",
        )
    }

    /// [`acquire`](CapacityLimiter::acquire) for a call of this crate that takes a token on
    /// behalf of another public call (`to_thread::run_sync`), named by `waiting` in the task
    /// tree (`W` is a `Waiting as u8`). The token is taken and owned by nobody: the caller
    /// gives it back.
    pub(crate) fn acquire_as<const W: u8>(
        &self,
    ) -> impl Future<Output = Result<(), CancelRequested>> + '_ {
        Acquire::<_, W>::call(self, || ())
    }

    /// Borrows a token if one is available (and nobody is waiting); never blocks, not a
    /// checkpoint.
    ///
    /// ```
    /// let limit = scoro::sync::CapacityLimiter::new(1);
    /// let token = limit.try_acquire().unwrap();
    /// assert!(limit.try_acquire().is_none());
    /// drop(token);
    /// assert_eq!(limit.borrowed(), 0);
    /// ```
    pub fn try_acquire(&self) -> Option<CapacityPermit<'_>> {
        self.try_take().then(|| CapacityPermit { limiter: self })
    }

    /// Changes the number of tokens. Raising it hands the new tokens to waiting tasks at once
    /// (longest waiter first); lowering it below [`borrowed`](CapacityLimiter::borrowed) takes
    /// nothing back, but no token is lent again until fewer than `total_tokens` are out.
    ///
    /// ```
    /// let limit = scoro::sync::CapacityLimiter::new(1);
    /// let _a = limit.try_acquire().unwrap();
    /// limit.set_total_tokens(2);
    /// assert_eq!(limit.available_tokens(), 1);
    /// limit.set_total_tokens(0);
    /// assert_eq!((limit.borrowed(), limit.available_tokens()), (1, 0));
    /// ```
    pub fn set_total_tokens(&self, total_tokens: usize) {
        self.total.set(total_tokens);
        while self.borrowed.get() < self.total.get() && super::hand_to_first(&self.waiters) {
            self.borrowed.set(self.borrowed.get() + 1);
        }
    }

    /// The number of tokens (borrowed or not).
    ///
    /// ```
    /// assert_eq!(scoro::sync::CapacityLimiter::new(7).total_tokens(), 7);
    /// ```
    pub fn total_tokens(&self) -> usize {
        self.total.get()
    }

    /// How many tokens are borrowed.
    ///
    /// ```
    /// let limit = scoro::sync::CapacityLimiter::new(2);
    /// let _t = limit.try_acquire();
    /// assert_eq!(limit.borrowed(), 1);
    /// ```
    pub fn borrowed(&self) -> usize {
        self.borrowed.get()
    }

    /// How many tokens could be borrowed right now (0 when the total was lowered below the
    /// number borrowed).
    ///
    /// ```
    /// let limit = scoro::sync::CapacityLimiter::new(2);
    /// let _t = limit.try_acquire();
    /// assert_eq!(limit.available_tokens(), 1);
    /// ```
    pub fn available_tokens(&self) -> usize {
        self.total.get().saturating_sub(self.borrowed.get())
    }

    /// How many tasks are waiting for a token.
    ///
    /// ```
    /// assert_eq!(scoro::sync::CapacityLimiter::new(1).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.waiters.borrow().len()
    }
}

impl Resource for CapacityLimiter {
    fn waiters(&self) -> &RefCell<WaitList<()>> {
        &self.waiters
    }

    fn try_take(&self) -> bool {
        let borrowed = self.borrowed.get();
        if borrowed >= self.total.get() || !self.waiters.borrow().is_empty() {
            return false;
        }
        self.borrowed.set(borrowed + 1);
        true
    }

    fn give_back(&self) {
        // The returning token may go to a waiter only if, without it, there is room for one.
        let room = self.borrowed.get() <= self.total.get();
        if !(room && super::hand_to_first(&self.waiters)) {
            self.borrowed.set(self.borrowed.get() - 1);
        }
    }
}

/// A token borrowed from a [`CapacityLimiter`]; dropping it gives the token back.
///
/// ```
/// let limit = scoro::sync::CapacityLimiter::new(1);
/// let token = limit.try_acquire().unwrap();
/// assert_eq!(limit.borrowed(), 1);
/// drop(token);
/// assert_eq!(limit.borrowed(), 0);
/// ```
pub struct CapacityPermit<'a> {
    limiter: &'a CapacityLimiter,
}

impl fmt::Debug for CapacityPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapacityPermit").finish_non_exhaustive()
    }
}

impl Drop for CapacityPermit<'_> {
    fn drop(&mut self) {
        self.limiter.give_back();
    }
}
