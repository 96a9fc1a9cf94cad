//! [`Barrier`]: tasks wait until a given number of them have arrived, then all go on.
//!
//! Invariants: the waiting entries are exactly the tasks of the current generation that have
//! arrived and not left; there are always fewer than `parties` of them. The task that arrives
//! to make `parties` notifies all of them at once (they own their release from then on) and
//! returns as the leader without parking, which starts the next generation with an empty
//! queue.

use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::{CurrentTask, Waiting};
use crate::wait::{Aborted, EntryState, Step, Wait, WaitCall, WaitKey, WaitList};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A reusable barrier: [`wait`](Barrier::wait) blocks until `n` tasks are waiting, then
/// releases all of them together, and the barrier is ready for the next round (generation).
///
/// The task whose arrival completes a round is the round's *leader*
/// ([`BarrierWaitResult::is_leader`]): exactly one per round.
///
/// A waiter that is cancelled before its round completes leaves the barrier and does not
/// count: the round then needs another task to arrive. `Barrier::new(0)` behaves like
/// `Barrier::new(1)`: every `wait` completes at once, as its round's leader.
///
/// ```
/// use scoro::{nursery, structured, sync::Barrier, CancelRequested, ErrorGroup};
/// use std::cell::Cell;
///
/// #[structured]
/// async fn main_task() -> Result<usize, ErrorGroup<CancelRequested>> {
///     let barrier = Barrier::new(3);
///     let leaders = Cell::new(0);
///     nursery(async |n| -> Result<(), CancelRequested> {
///         for _ in 0..3 {
///             n.start_soon(async {
///                 if barrier.wait().await?.is_leader() {
///                     leaders.set(leaders.get() + 1);
///                 }
///                 Ok::<(), CancelRequested>(())
///             });
///         }
///         Ok(())
///     })
///     .await?;
///     Ok(leaders.get())
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), 1);
/// ```
pub struct Barrier {
    parties: usize,
    generation: Cell<u64>,
    waiters: RefCell<WaitList<()>>,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("generation", &self.generation.get())
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl Barrier {
    /// A barrier that releases its waiters when `n` of them are waiting (`0` counts as `1`).
    ///
    /// ```
    /// let barrier = scoro::sync::Barrier::new(4);
    /// assert_eq!(barrier.waiting(), 0);
    /// ```
    pub fn new(n: usize) -> Self {
        Barrier {
            parties: n.max(1),
            generation: Cell::new(0),
            waiters: RefCell::new(WaitList::default()),
        }
    }

    /// Waits until the round is complete: `n` tasks (this one included) are waiting.
    ///
    /// A checkpoint: returns `Err(CancelRequested)` if the task is cancelled before its round
    /// completes (it then does not count as arrived), and yields once even when it completes
    /// the round. A task whose round completed returns `Ok` even if it was cancelled meanwhile.
    ///
    /// ```
    /// use scoro::{structured, sync::Barrier, CancelRequested};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<bool, CancelRequested> {
    ///     let alone = Barrier::new(1);
    ///     Ok(alone.wait().await?.is_leader())
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(true));
    /// ```
    pub fn wait(
        &self,
    ) -> CoroutineCall<impl Future<Output = Result<BarrierWaitResult, CancelRequested>> + '_> {
        CoroutineCall::internal(
            WaitCall::new(BarrierWait { barrier: self }),
            "scoro::sync",
            "Barrier::wait",
        )
    }

    /// How many tasks are waiting for the current round to complete.
    ///
    /// ```
    /// assert_eq!(scoro::sync::Barrier::new(2).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.waiters.borrow().len()
    }

    /// How many rounds have completed.
    ///
    /// ```
    /// assert_eq!(scoro::sync::Barrier::new(2).generation(), 0);
    /// ```
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }
}

/// What [`Barrier::wait`] returns: whether this task was its round's leader.
///
/// ```
/// use scoro::{structured, sync::Barrier, CancelRequested};
///
/// #[structured]
/// async fn main_task() -> Result<bool, CancelRequested> {
///     Ok(Barrier::new(1).wait().await?.is_leader())
/// }
///
/// assert_eq!(scoro::run(main_task()), Ok(true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Did this task complete the round (the last to arrive)? Exactly one task per round is.
    ///
    /// ```
    /// use scoro::{structured, sync::Barrier, CancelRequested};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<bool, CancelRequested> {
    ///     Ok(Barrier::new(0).wait().await?.is_leader())
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(true));
    /// ```
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

/// One task arriving at a [`Barrier`].
struct BarrierWait<'a> {
    barrier: &'a Barrier,
}

impl Wait for BarrierWait<'_> {
    type Output = Result<BarrierWaitResult, CancelRequested>;
    type Parked = WaitKey;

    fn waiting(&self) -> Waiting {
        Waiting::BarrierWait
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, WaitKey> {
        let b = self.barrier;
        let queued = b.waiters.borrow().len();
        if queued + 1 < b.parties {
            let key = b.waiters.borrow_mut().push_back(task.task_ref(), None);
            return Step::Park(key);
        }
        b.generation.set(b.generation.get() + 1);
        while super::hand_to_first(&b.waiters) {}
        Step::Done(Ok(BarrierWaitResult { leader: true }))
    }

    fn woken(self: Pin<&mut Self>, key: WaitKey) -> Step<Self::Output, WaitKey> {
        let waiters = &self.barrier.waiters;
        if waiters.borrow().state(key) == Some(EntryState::Waiting) {
            return Step::Park(key);
        }
        // Released with its round, whatever happened to our scope meanwhile.
        waiters.borrow_mut().remove(key);
        Step::Done(Ok(BarrierWaitResult { leader: false }))
    }

    fn abort(
        self: Pin<&mut Self>,
        key: WaitKey,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, WaitKey> {
        self.barrier.waiters.borrow_mut().remove(key);
        Aborted::Left(Err(cancel))
    }

    fn abandon(self: Pin<&mut Self>, key: WaitKey) {
        self.barrier.waiters.borrow_mut().remove(key);
    }
}
