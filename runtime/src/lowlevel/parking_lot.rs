//! `ParkingLot`: a FIFO of parked tasks.

use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::Waiting;
use crate::sync::{Acquire, Resource, hand_to_first};
use crate::wait::WaitList;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;

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
            Acquire::<_, { Waiting::ParkingLotPark as u8 }>::call(self, || ()),
            "scoro::lowlevel",
            "ParkingLot::park",
        )
    }

    /// Unparks the `n` tasks that have been parked longest; returns how many there were.
    pub fn unpark(&self, n: usize) -> usize {
        let mut woken = 0;
        while woken < n && hand_to_first(&self.waiters) {
            woken += 1;
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

/// Parking is acquiring a unit that is never free: [`unpark`](ParkingLot::unpark) hands units
/// to the longest waiters, and one handed to a call that is dropped before collecting it is
/// simply gone (nobody else was waiting for it).
impl Resource for ParkingLot {
    fn waiters(&self) -> &RefCell<WaitList<()>> {
        &self.waiters
    }

    fn try_take(&self) -> bool {
        false
    }

    fn give_back(&self) {}
}
