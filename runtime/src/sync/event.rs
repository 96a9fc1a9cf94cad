//! [`Event`]: a flag that tasks can wait for.
//!
//! Invariants: the flag only goes from unset to set. Waiters are queued only while it is
//! unset, and [`Event::set`] notifies every one of them at once, so after `set` the wait list
//! holds no waiting entry. Waiting is a checkpoint even when the event is already set.

use super::{Acquire, Resource};
use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::Waiting;
use crate::wait::WaitList;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;

/// A one-shot flag: tasks [`wait`](Event::wait) until some task [`set`](Event::set)s it.
///
/// An event cannot be cleared; make a new one for the next round. It is used by reference, so
/// the tasks that wait for it and the one that sets it simply borrow it.
///
/// ```
/// use scoro::{nursery, structured, sync::Event, CancelRequested, ErrorGroup};
/// use std::cell::RefCell;
///
/// #[structured]
/// async fn waiter(ready: &Event, log: &RefCell<Vec<&'static str>>) -> Result<(), CancelRequested> {
///     ready.wait().await?;
///     log.borrow_mut().push("went past the event");
///     Ok(())
/// }
///
/// #[structured]
/// async fn main_task() -> Result<Vec<&'static str>, ErrorGroup<CancelRequested>> {
///     let ready = Event::new();
///     let log = RefCell::new(Vec::new());
///     nursery(async |n| -> Result<(), CancelRequested> {
///         n.start_soon(waiter(&ready, &log));
///         scoro::testing::wait_all_tasks_blocked().await?;
///         log.borrow_mut().push("setting");
///         ready.set();
///         Ok(())
///     })
///     .await?;
///     Ok(log.into_inner())
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), ["setting", "went past the event"]);
/// ```
#[derive(Default)]
pub struct Event {
    is_set: Cell<bool>,
    waiters: RefCell<WaitList<()>>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set.get())
            .field("waiting", &self.waiters.borrow().len())
            .finish()
    }
}

impl Event {
    /// A new event that is not set.
    ///
    /// ```
    /// let e = scoro::sync::Event::new();
    /// assert!(!e.is_set());
    /// ```
    pub fn new() -> Self {
        Event::default()
    }

    /// Sets the event and wakes every task waiting for it. Idempotent; not a checkpoint (it
    /// never blocks), and it may be called from synchronous code.
    ///
    /// ```
    /// let e = scoro::sync::Event::new();
    /// e.set();
    /// e.set();
    /// assert!(e.is_set());
    /// ```
    pub fn set(&self) {
        if self.is_set.replace(true) {
            return;
        }
        while super::hand_to_first(&self.waiters) {}
    }

    /// Has the event been set?
    ///
    /// ```
    /// let e = scoro::sync::Event::new();
    /// assert!(!e.is_set());
    /// e.set();
    /// assert!(e.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.is_set.get()
    }

    /// Waits until the event is set.
    ///
    /// A checkpoint: returns `Err(CancelRequested)` if the task is cancelled before the event
    /// is set, and yields to other tasks once even when the event is already set. A task that
    /// was woken by [`set`](Event::set) returns `Ok` even if it was cancelled in the meantime.
    ///
    /// ```
    /// use scoro::{structured, sync::Event, CancelRequested};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<(), CancelRequested> {
    ///     let e = Event::new();
    ///     e.set();
    ///     e.wait().await // returns at once (after one schedule point)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(()));
    /// ```
    pub fn wait(&self) -> CoroutineCall<impl Future<Output = Result<(), CancelRequested>> + '_> {
        CoroutineCall::internal(
            self.wait_as::<{ Waiting::EventWait as u8 }>(),
            "scoro::sync",
            "Event::wait",
        )
    }

    /// [`wait`](Event::wait) for a call of this crate that waits on behalf of another public
    /// call, named by `W` (a `Waiting as u8`) in the task tree.
    pub(crate) fn wait_as<const W: u8>(
        &self,
    ) -> impl Future<Output = Result<(), CancelRequested>> + '_ {
        Acquire::<_, W>::call(self, || ())
    }

    /// How many tasks are waiting for the event.
    ///
    /// ```
    /// assert_eq!(scoro::sync::Event::new().waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.waiters.borrow().len()
    }
}

impl Resource for Event {
    fn waiters(&self) -> &RefCell<WaitList<()>> {
        &self.waiters
    }

    fn try_take(&self) -> bool {
        self.is_set.get()
    }

    fn give_back(&self) {
        // Going past an event takes nothing from it.
    }
}
