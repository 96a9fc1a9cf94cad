//! `ParkingLot`: a FIFO of parked tasks.

use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::CurrentTask;
use crate::wait::{Aborted, EntryState, Step, Wait, WaitCall, WaitKey, WaitList};
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A FIFO queue of parked tasks: the basis of locks, conditions and other fair primitives.
///
/// [`park`](ParkingLot::park) blocks the calling task until [`unpark`](ParkingLot::unpark)
/// picks it; tasks are unparked in the order they parked. Used by reference (`&ParkingLot`),
/// so tasks of one runtime share it without `Arc`.
///
/// ```
/// use scoro::{structured, nursery, lowlevel::ParkingLot, CancelRequested};
///
/// #[structured]
/// async fn main_task() -> Result<usize, scoro::ErrorGroup<CancelRequested>> {
///     let lot = ParkingLot::new();
///     nursery(async |n| -> Result<usize, CancelRequested> {
///         n.start_soon(lot.park());
///         n.start_soon(lot.park());
///         scoro::testing::wait_all_tasks_blocked().await?;
///         let parked = lot.len();
///         assert_eq!(lot.unpark_all(), 2);
///         Ok(parked)
///     })
///     .await
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), 2);
/// ```
#[derive(Default)]
pub struct ParkingLot {
    waiters: RefCell<WaitList<()>>,
}

impl fmt::Debug for ParkingLot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkingLot")
            .field("parked", &self.len())
            .finish()
    }
}

impl ParkingLot {
    /// An empty parking lot.
    pub fn new() -> Self {
        ParkingLot::default()
    }

    /// Parks the current task until it is unparked. A checkpoint: returns
    /// `Err(CancelRequested)` if the task is cancelled before or while parked (it then leaves
    /// the queue).
    pub fn park(&self) -> CoroutineCall<impl Future<Output = Result<(), CancelRequested>> + '_> {
        CoroutineCall::internal(
            WaitCall::new(Park { lot: self }),
            "scoro::lowlevel",
            "ParkingLot::park",
        )
    }

    /// Unparks the `n` tasks that have been parked longest; returns how many there were.
    pub fn unpark(&self, n: usize) -> usize {
        let mut woken = 0;
        while woken < n {
            let t = self.waiters.borrow_mut().notify_front(|_| {});
            match t {
                Some(t) => {
                    t.unpark();
                    woken += 1;
                }
                None => break,
            }
        }
        woken
    }

    /// Unparks every parked task; returns how many there were.
    pub fn unpark_all(&self) -> usize {
        self.unpark(usize::MAX)
    }

    /// How many tasks are parked.
    pub fn len(&self) -> usize {
        self.waiters.borrow().len()
    }

    /// Is no task parked?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A [`ParkingLot::park`] call.
struct Park<'a> {
    lot: &'a ParkingLot,
}

impl Wait for Park<'_> {
    type Output = Result<(), CancelRequested>;
    type Parked = WaitKey;

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, WaitKey> {
        Step::Park(
            self.lot
                .waiters
                .borrow_mut()
                .push_back(task.task_ref(), None),
        )
    }

    fn woken(self: Pin<&mut Self>, key: WaitKey) -> Step<Self::Output, WaitKey> {
        if self.lot.waiters.borrow().state(key) == Some(EntryState::Waiting) {
            return Step::Park(key);
        }
        self.lot.waiters.borrow_mut().remove(key);
        Step::Done(Ok(()))
    }

    fn abort(
        self: Pin<&mut Self>,
        key: WaitKey,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, WaitKey> {
        self.lot.waiters.borrow_mut().remove(key);
        Aborted::Left(Err(cancel))
    }

    fn abandon(self: Pin<&mut Self>, key: WaitKey) {
        self.lot.waiters.borrow_mut().remove(key);
    }
}
