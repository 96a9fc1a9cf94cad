// Invariants (for maintainers), besides the guarantees documented below:
// - No `RefCell` borrow of the channel is held while values are dropped (their destructors
//   may use the channel).
//! Channels: send values from tasks to tasks, with back-pressure, fairness, and no value lost
//! to cancellation.
//!
//! [`channel(n)`](channel) makes a channel that buffers up to `n` values (`0` makes a
//! rendezvous channel: a send completes only when a receiver takes the value);
//! [`unbounded`] one whose buffer grows as needed. Both handles are [`Clone`], so a channel can
//! have many producers and many consumers; every value is received exactly once.
//!
//! [`watch`] is the other kind of channel: one sender publishes a value that never blocks it,
//! receivers look at the newest value and wait for it to change (values in between may be
//! skipped).
//!
//! ```
//! use scoro::{channel::{channel, Receiver, Sender}, nursery, structured, CancelRequested, ErrorGroup};
//!
//! #[structured]
//! async fn produce(tx: Sender<u32>) -> Result<(), CancelRequested> {
//!     for i in 1..=3 {
//!         if tx.send(i).await.is_err() {
//!             break; // cancelled, or every receiver is gone
//!         }
//!     }
//!     Ok(()) // dropping `tx` closes it: the consumer's loop ends
//! }
//!
//! #[structured]
//! async fn consume(rx: Receiver<u32>) -> Result<u32, CancelRequested> {
//!     let mut sum = 0;
//!     while let Some(v) = rx.next().await? {
//!         sum += v;
//!     }
//!     Ok(sum)
//! }
//!
//! #[structured]
//! async fn main_task() -> Result<u32, ErrorGroup<CancelRequested>> {
//!     let (tx, rx) = channel(1);
//!     nursery(async |n| -> Result<u32, CancelRequested> {
//!         n.start_soon(produce(tx));
//!         consume(rx).await
//!     })
//!     .await
//! }
//!
//! assert_eq!(scoro::run(main_task()).unwrap(), 6);
//! ```
//!
//! # Guarantees
//!
//! - **A waiting receiver owns the next value.** A send hands its value straight into the wait
//!   entry of the receiver that has waited longest; only when nobody waits does the value go
//!   to the buffer. A receive first moves the value of the longest-blocked sender (if any) to
//!   the back of the buffer, completing that send, then takes the front. So receivers wait only
//!   while the buffer is empty and no sender is blocked, and senders block only while the buffer
//!   is full (or, for a rendezvous channel, while no receiver waits): at most one of the two
//!   wait lists has waiting entries.
//! - **Cancellation loses nothing.** A value is always either in the buffer, in exactly one
//!   wait entry (a blocked sender's, or a receiver's that was handed it), or in the hands of a
//!   task. A receiver that was handed a value returns it even if it was cancelled meanwhile; a
//!   sender whose value was not taken gets it back in [`SendError::Cancelled`]. If a call is
//!   dropped while it holds a value it has not returned (only when the runtime tears the task
//!   down), the value goes back to the front of the channel.
//! - **Closing.** `close` (or dropping) marks one handle closed; calls on it fail with
//!   `Closed`, including calls blocked on it at that moment: their wait entries leave the queue
//!   at once (found by the handle id they carry; a linear scan, closing is rare), so no value
//!   can be handed to them or taken from them afterwards. When the last
//!   sender closes, waiting receivers are woken and see [`RecvError::EndOfChannel`] (later
//!   receivers see it once the buffer is drained). When the last receiver closes, the buffer is
//!   dropped and blocked senders are woken and get their value back in
//!   [`SendError::Disconnected`]. Cloning a closed handle gives a closed handle, so a channel
//!   never reopens.

mod error;
mod receiver;
mod sender;
mod state;
pub mod watch;

pub use error::{RecvError, SendError, TryRecvError, TrySendError};
pub use receiver::Receiver;
pub use sender::Sender;

use crate::wait::WaitList;
use state::Chan;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

/// Makes a channel whose buffer holds up to `capacity` values; `0` makes a rendezvous channel,
/// where a send completes only once a receiver has taken the value.
///
/// ```
/// let (tx, rx) = scoro::channel::channel(2);
/// tx.try_send("a").unwrap();
/// tx.try_send("b").unwrap();
/// assert!(tx.try_send("c").is_err()); // full
/// assert_eq!(rx.try_recv(), Ok("a"));
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Rc::new(Chan {
        capacity,
        buffer: RefCell::new(VecDeque::new()),
        senders: Cell::new(1),
        receivers: Cell::new(1),
        send_waiters: RefCell::new(WaitList::default()),
        recv_waiters: RefCell::new(WaitList::default()),
        next_handle: Cell::new(2),
    });
    (Sender::new(chan.clone(), 0), Receiver::new(chan, 1))
}

/// Makes a channel whose buffer grows as needed: sends never wait.
///
/// ```
/// let (tx, rx) = scoro::channel::unbounded();
/// for i in 0..1000 {
///     tx.try_send(i).unwrap();
/// }
/// assert_eq!(rx.try_recv(), Ok(0));
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    channel(usize::MAX)
}

#[cfg(test)]
mod tests;
