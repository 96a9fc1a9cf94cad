//! [`Condition`]: wait, with a [`Lock`] released, until another task signals.
//!
//! Invariants:
//! - A waiting entry carries the state of the lock its task released. Notifying the entry
//!   queues the task on that lock at once (Trio's "repark"): notified waiters take the lock in
//!   the order they were notified, ahead of tasks that ask for the lock later, and the task is
//!   only woken when the lock is handed to it. The entry's payload then holds the task's key in
//!   the lock's wait list.
//! - Whatever happens, `wait` returns holding the lock: a cancelled wait re-acquires it without
//!   looking at cancellation again and hands the guard back inside [`WaitCancelled`].
//! - A wait that was notified counts as done even if its task is cancelled before it gets the
//!   lock back: it returns `Ok`, so no notification is lost to a cancellation.

use super::Resource as _;
use super::lock::{Lock, LockGuard, LockState};
use crate::CoroutineCall;
use crate::cancellation::{CancelRequested, MaybeCancelled};
use crate::runtime::seam::{CurrentTask, TaskRef, Waiting};
use crate::wait::{Aborted, EntryState, Step, Wait, WaitCall, WaitKey, WaitList};
use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;

/// What a waiting entry of a condition carries.
enum Slot {
    /// Still waiting: the lock to queue on when notified.
    Waiting(Rc<LockState>),
    /// Notified: queued on the lock under this key.
    Queued(WaitKey),
}

/// A condition variable: tasks [`wait`](Condition::wait) for a change of the data a [`Lock`]
/// protects, other tasks [`notify`](Condition::notify_one) them after making it.
///
/// `wait` takes the lock's guard, unlocks, waits for a notification and locks again before it
/// returns. Waiters are notified in the order they started waiting, and notified waiters get
/// the lock back in that order, ahead of tasks that ask for the lock afterwards. As with every
/// condition variable, check the condition in a loop: another task may have changed the data
/// between the notification and the moment the waiter got the lock.
///
/// ```
/// use scoro::{nursery, structured, sync::{Condition, Lock}, CancelRequested, ErrorGroup};
///
/// #[structured]
/// async fn consumer(queue: &Lock<Vec<u32>>, changed: &Condition, got: &std::cell::Cell<u32>) -> Result<(), CancelRequested> {
///     let mut guard = queue.lock().await?;
///     while guard.is_empty() {
///         guard = changed.wait(guard).await?;
///     }
///     got.set(guard.remove(0));
///     Ok(())
/// }
///
/// #[structured]
/// async fn main_task() -> Result<u32, ErrorGroup<CancelRequested>> {
///     let queue = Lock::new(Vec::new());
///     let changed = Condition::new();
///     let got = std::cell::Cell::new(0);
///     nursery(async |n| -> Result<(), CancelRequested> {
///         n.start_soon(consumer(&queue, &changed, &got));
///         scoro::testing::wait_all_tasks_blocked().await?;
///         queue.lock().await?.push(42);
///         changed.notify_one();
///         Ok(())
///     })
///     .await?;
///     Ok(got.get())
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), 42);
/// ```
#[derive(Default)]
pub struct Condition {
    waiters: RefCell<WaitList<Slot>>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl Condition {
    /// A condition nobody waits on.
    ///
    /// ```
    /// assert_eq!(scoro::sync::Condition::new().waiting(), 0);
    /// ```
    pub fn new() -> Self {
        Condition::default()
    }

    /// Unlocks `guard`'s lock, waits until notified, then locks it again and returns the new
    /// guard.
    ///
    /// A checkpoint. If the task is cancelled before it is notified, the wait ends, the lock is
    /// re-acquired (that part ignores cancellation: the caller must get its lock back), and the
    /// result is `Err(WaitCancelled)` carrying both the guard and the [`CancelRequested`], so
    /// the caller can restore its invariants under the lock before it propagates the
    /// cancellation. `?` converts a `WaitCancelled` into `CancelRequested` (or `io::Error`),
    /// unlocking on the way. A task already cancelled when it calls `wait` keeps the lock
    /// throughout.
    ///
    /// A wait that was notified returns `Ok` even if the task is cancelled while it gets the
    /// lock back; the next checkpoint reports the cancellation.
    ///
    /// The guard may belong to any lock; different waiters may even use different locks.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scoro::{structured, sync::{Condition, Lock}, CancelRequested};
    ///
    /// #[structured]
    /// async fn wait_a_bit(lock: &Lock<u32>, cond: &Condition) -> Result<u32, CancelRequested> {
    ///     let guard = lock.lock().await?;
    ///     match scoro::move_on_after(Duration::from_millis(1), cond.wait(guard)).await {
    ///         Some(Ok(guard)) => Ok(*guard),
    ///         Some(Err(e)) => Err(e.cancel_requested()),
    ///         // The timeout caught the cancellation; the guard came back inside it and was
    ///         // dropped with it.
    ///         None => Ok(0),
    ///     }
    /// }
    ///
    /// #[structured]
    /// async fn main_task() -> Result<bool, CancelRequested> {
    ///     let lock = Lock::new(5);
    ///     let cond = Condition::new();
    ///     wait_a_bit(&lock, &cond).await?;
    ///     Ok(lock.is_locked())
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(false));
    /// ```
    pub fn wait<'a, T: ?Sized>(
        &self,
        guard: LockGuard<'a, T>,
    ) -> CoroutineCall<impl Future<Output = Result<LockGuard<'a, T>, WaitCancelled<'a, T>>>> {
        CoroutineCall::internal(
            WaitCall::new(CondWait {
                cond: self,
                lock: guard.lock(),
                guard: Some(guard),
                me: None,
            }),
            "scoro::sync",
            "Condition::wait",
        )
    }

    /// Wakes the task that has waited longest, if any. Not a checkpoint.
    ///
    /// The woken task is queued for its lock at once, behind tasks already waiting for that
    /// lock and ahead of any that ask later. Usually called while holding the lock, right after
    /// changing the data, but that is not required.
    ///
    /// ```
    /// let cond = scoro::sync::Condition::new();
    /// cond.notify_one(); // nobody waits: nothing happens
    /// ```
    pub fn notify_one(&self) {
        self.notify(1);
    }

    /// Wakes every waiting task; they get the lock back one after the other, in the order they
    /// started waiting. Not a checkpoint.
    ///
    /// ```
    /// let cond = scoro::sync::Condition::new();
    /// cond.notify_all();
    /// assert_eq!(cond.waiting(), 0);
    /// ```
    pub fn notify_all(&self) {
        self.notify(usize::MAX);
    }

    /// How many tasks are waiting to be notified (not counting notified tasks that wait for
    /// their lock).
    ///
    /// ```
    /// assert_eq!(scoro::sync::Condition::new().waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.waiters.borrow().len()
    }

    fn notify(&self, n: usize) {
        let mut waiters = self.waiters.borrow_mut();
        for _ in 0..n {
            let Some((key, task, slot)) = waiters.front() else {
                break;
            };
            let Some(Slot::Waiting(lock)) = slot.take() else {
                unreachable!("a waiting condition entry holds its lock");
            };
            let lock_key = lock.waiters().borrow_mut().push_back(task, None);
            *slot = Some(Slot::Queued(lock_key));
            waiters.notify(key);
            // The task stays asleep until the lock is handed to it (at once if it is free).
            lock.serve_if_free(lock_key);
        }
    }
}

/// Where a condition wait is queued.
#[derive(Clone, Copy)]
enum Queued {
    /// Waiting for a notification under this key of the condition, with the lock released.
    Notify(WaitKey),
    /// Notified (`cancel: None`) or cancelled, queued under this key of the lock to get it
    /// back.
    Relock(WaitKey, Option<CancelRequested>),
}

/// A [`Condition::wait`]: released the lock, waits for a notification, gets the lock back.
struct CondWait<'c, 'a, T: ?Sized> {
    cond: &'c Condition,
    /// The guard, until the lock is released for the wait.
    guard: Option<LockGuard<'a, T>>,
    lock: &'a Lock<T>,
    /// The waiting task, once queued.
    me: Option<TaskRef>,
}

impl<'a, T: ?Sized> CondWait<'_, 'a, T> {
    /// Collects the lock if it was handed to `key` by now.
    fn relocked(&self, key: WaitKey) -> bool {
        let waiters = self.lock.state().waiters();
        if waiters.borrow().state(key) == Some(EntryState::Waiting) {
            return false;
        }
        waiters.borrow_mut().remove(key);
        true
    }

    fn outcome(
        &self,
        cancel: Option<CancelRequested>,
    ) -> Result<LockGuard<'a, T>, WaitCancelled<'a, T>> {
        let guard = self.lock.guard();
        match cancel {
            None => Ok(guard),
            Some(cancel) => Err(WaitCancelled { guard, cancel }),
        }
    }
}

impl<'a, T: ?Sized> Wait for CondWait<'_, 'a, T> {
    type Output = Result<LockGuard<'a, T>, WaitCancelled<'a, T>>;
    type Parked = Queued;

    fn waiting(&self) -> Waiting {
        Waiting::ConditionWait
    }

    fn cancelled(mut self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        let guard = self
            .guard
            .take()
            .expect("a condition wait starts with its guard");
        Err(WaitCancelled { guard, cancel })
    }

    fn attempt(mut self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, Queued> {
        let guard = self
            .guard
            .take()
            .expect("a condition wait starts with its guard");
        self.me = Some(task.task_ref());
        let state = guard.unlock_for_wait().state().clone();
        let key = self
            .cond
            .waiters
            .borrow_mut()
            .push_back(task.task_ref(), Some(Slot::Waiting(state)));
        Step::Park(Queued::Notify(key))
    }

    fn woken(self: Pin<&mut Self>, parked: Queued) -> Step<Self::Output, Queued> {
        match parked {
            Queued::Notify(key) => {
                if self.cond.waiters.borrow().state(key) != Some(EntryState::Notified) {
                    return Step::Park(parked);
                }
                let Some(Slot::Queued(lock_key)) = self.cond.waiters.borrow_mut().remove(key)
                else {
                    unreachable!("a notified condition entry is queued on its lock");
                };
                if self.relocked(lock_key) {
                    Step::Done(self.outcome(None))
                } else {
                    Step::Park(Queued::Relock(lock_key, None))
                }
            }
            Queued::Relock(key, cancel) => {
                if self.relocked(key) {
                    Step::Done(self.outcome(cancel))
                } else {
                    Step::Park(parked)
                }
            }
        }
    }

    fn abort(
        self: Pin<&mut Self>,
        parked: Queued,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, Queued> {
        match parked {
            Queued::Notify(key) => {
                let slot = self.cond.waiters.borrow_mut().remove(key);
                drop(slot);
                // Get the lock back, uncancellably, and report the cancellation with it.
                let state = self.lock.state();
                if state.try_take() {
                    return Aborted::Left(self.outcome(Some(cancel)));
                }
                let me = self.me.expect("a parked wait knows its task");
                let lock_key = state.waiters().borrow_mut().push_back(me, None);
                Aborted::Stays(Queued::Relock(lock_key, Some(cancel)))
            }
            // Notified: the wait counts as done (no notification is lost), and getting the
            // lock back is not interrupted.
            Queued::Relock(..) => Aborted::Stays(parked),
        }
    }

    fn abandon(self: Pin<&mut Self>, parked: Queued) {
        let lock_key = match parked {
            Queued::Notify(key) => match self.cond.waiters.borrow_mut().remove(key) {
                Some(Slot::Queued(lock_key)) => lock_key,
                _ => return,
            },
            Queued::Relock(key, _) => key,
        };
        // Queued on the lock, perhaps even handed it: pass the lock on if it was ours.
        let state = self.lock.state();
        let served = state.waiters().borrow().state(lock_key) == Some(EntryState::Notified);
        state.waiters().borrow_mut().remove(lock_key);
        if served {
            state.give_back();
        }
    }
}

/// The error of a cancelled [`Condition::wait`]: the cancellation, and the guard of the lock,
/// which the wait re-acquired before returning.
///
/// Restore whatever invariants need the lock through [`guard`](WaitCancelled::guard_mut), then
/// propagate the cancellation; `?` does that for functions returning `CancelRequested` or
/// `io::Error` (dropping the guard, which unlocks).
///
/// ```
/// use scoro::{structured, sync::{Condition, Lock, LockGuard}, CancelRequested, CancelHandle};
///
/// #[structured]
/// async fn wait_then_repair(lock: &Lock<i32>, cond: &Condition, cancel: &CancelHandle) -> Result<(), CancelRequested> {
///     let guard: LockGuard<'_, i32> = lock.lock().await?;
///     cancel.cancel(); // a timeout or a failing sibling would do the same
///     match cond.wait(guard).await {
///         Ok(_) => unreachable!("nobody notifies"),
///         Err(mut cancelled) => {
///             assert!(lock.is_locked()); // the lock is ours again
///             **cancelled.guard_mut() = -1; // restore an invariant under the lock
///             Err(cancelled.cancel_requested())
///         }
///     }
/// }
///
/// #[structured]
/// async fn main_task() -> i32 {
///     let lock = Lock::new(0);
///     let cond = Condition::new();
///     let scope = scoro::CancelScope::new();
///     let handle = scope.handle();
///     assert_eq!(scope.run(wait_then_repair(&lock, &cond, &handle)).await, None);
///     lock.into_inner()
/// }
///
/// assert_eq!(scoro::run(main_task()), -1);
/// ```
pub struct WaitCancelled<'a, T: ?Sized> {
    guard: LockGuard<'a, T>,
    cancel: CancelRequested,
}

impl<'a, T: ?Sized> WaitCancelled<'a, T> {
    /// The cancellation that ended the wait.
    pub fn cancel_requested(&self) -> CancelRequested {
        self.cancel
    }

    /// The guard of the re-acquired lock.
    pub fn guard(&self) -> &LockGuard<'a, T> {
        &self.guard
    }

    /// The guard of the re-acquired lock, mutably.
    pub fn guard_mut(&mut self) -> &mut LockGuard<'a, T> {
        &mut self.guard
    }

    /// Takes the error apart.
    pub fn into_parts(self) -> (LockGuard<'a, T>, CancelRequested) {
        (self.guard, self.cancel)
    }

    /// The guard of the re-acquired lock (dropping the cancellation).
    pub fn into_guard(self) -> LockGuard<'a, T> {
        self.guard
    }
}

impl<T: ?Sized> fmt::Debug for WaitCancelled<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitCancelled")
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> fmt::Display for WaitCancelled<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "condition wait cancelled (the lock is held again): {}",
            self.cancel
        )
    }
}

impl<T: ?Sized> Error for WaitCancelled<'_, T> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.cancel)
    }
}

impl<T: ?Sized> MaybeCancelled for WaitCancelled<'_, T> {
    fn is_cancel_requested(&self) -> bool {
        true
    }
}

impl<T: ?Sized> From<WaitCancelled<'_, T>> for CancelRequested {
    /// Keeps the cancellation and drops the guard (unlocking).
    fn from(e: WaitCancelled<'_, T>) -> CancelRequested {
        e.cancel
    }
}

impl<T: ?Sized> From<WaitCancelled<'_, T>> for io::Error {
    /// The cancellation as an `io::Error` (see `From<CancelRequested> for io::Error`); the
    /// guard is dropped (unlocking).
    fn from(e: WaitCancelled<'_, T>) -> io::Error {
        e.cancel.into()
    }
}
