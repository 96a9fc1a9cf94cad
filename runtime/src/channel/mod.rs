//! Channels: send values from tasks to tasks, with back-pressure, fairness, and no value lost
//! to cancellation.
//!
//! [`channel(n)`](channel) makes a channel that buffers up to `n` values (`0` makes a
//! rendezvous channel: a send completes only when a receiver takes the value);
//! [`unbounded`] one whose buffer grows as needed. Both handles are [`Clone`], so a channel can
//! have many producers and many consumers; every value is received exactly once.
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
//! # Invariants
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
//! - No `RefCell` borrow of the channel is held while values are dropped (their destructors
//!   may use the channel).

mod error;

pub use error::{RecvError, SendError, TryRecvError, TrySendError};

use crate::CoroutineCall;
use crate::cancel::CancelRequested;
use crate::lowlevel::wait_list::{EntryState, WaitKey, WaitList};
use crate::runtime::context;
use crate::runtime::core::Core;
use crate::runtime::task;
use crate::sync::wake;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

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
    (
        Sender {
            chan: chan.clone(),
            id: 0,
            closed: Cell::new(false),
        },
        Receiver {
            chan,
            id: 1,
            closed: Cell::new(false),
        },
    )
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

/// The state both ends of a channel share.
struct Chan<T> {
    capacity: usize,
    buffer: RefCell<VecDeque<T>>,
    /// Open sender handles.
    senders: Cell<usize>,
    /// Open receiver handles.
    receivers: Cell<usize>,
    /// Blocked senders; a waiting entry holds the value being sent. A notified entry whose
    /// value is gone was delivered; one that kept it was woken because its handle or every
    /// receiver closed.
    send_waiters: RefCell<WaitList<Waiter<T>>>,
    /// Waiting receivers; a notified entry holds the value handed over, or nothing if it was
    /// woken because its handle or every sender closed.
    recv_waiters: RefCell<WaitList<Waiter<T>>>,
    /// The id of the next handle made (ids tell whose wait entries a `close` ends).
    next_handle: Cell<u64>,
}

/// The payload of a wait entry: the handle the call waits on, and the value it sends or was
/// handed.
struct Waiter<T> {
    handle: u64,
    value: Option<T>,
}

/// The value slot of a wait entry's payload (every entry of a channel has a payload).
fn value_of<T>(payload: &mut Option<Waiter<T>>) -> &mut Option<T> {
    &mut payload
        .as_mut()
        .expect("channel wait entries carry a payload")
        .value
}

impl<T> Chan<T> {
    fn new_handle_id(&self) -> u64 {
        let id = self.next_handle.get();
        self.next_handle.set(id + 1);
        id
    }

    /// Hands `value` to the longest waiting receiver, or buffers it; gives it back when the
    /// buffer is full.
    fn offer(&self, value: T) -> Result<(), T> {
        let value = match self.hand_to_waiting_receiver(value) {
            Ok(()) => return Ok(()),
            Err(value) => value,
        };
        let mut buffer = self.buffer.borrow_mut();
        if buffer.len() < self.capacity {
            buffer.push_back(value);
            Ok(())
        } else {
            Err(value)
        }
    }

    /// Takes the next value: completes the send of the longest-blocked sender by moving its
    /// value to the back of the buffer, then pops the front.
    fn take(&self) -> Option<T> {
        let mut buffer = self.buffer.borrow_mut();
        let sender = self.send_waiters.borrow_mut().notify_front(|payload| {
            if let Some(v) = value_of(payload).take() {
                buffer.push_back(v);
            }
        });
        if let Some(t) = sender {
            wake(t);
        }
        buffer.pop_front()
    }

    /// Puts back a value that a receive took but could not return (its call was dropped): to
    /// the receiver waiting now, or to the front of the buffer. Dropped if no receiver is open.
    fn put_back(&self, value: T) {
        if self.receivers.get() == 0 {
            drop(value);
            return;
        }
        if let Err(value) = self.hand_to_waiting_receiver(value) {
            self.buffer.borrow_mut().push_front(value);
        }
    }

    fn hand_to_waiting_receiver(&self, value: T) -> Result<(), T> {
        let mut receivers = self.recv_waiters.borrow_mut();
        match receivers.front() {
            Some((key, task, payload)) => {
                *value_of(payload) = Some(value);
                receivers.notify(key);
                wake(task);
                Ok(())
            }
            None => Err(value),
        }
    }
}

/// Notifies the waiting entries of `list` that wait on `handle` (leaving their values where
/// they are): they leave the queue at once, and their tasks see that the handle is closed.
fn notify_handle<T>(list: &RefCell<WaitList<Waiter<T>>>, handle: u64) {
    let mut list = list.borrow_mut();
    let keys: Vec<WaitKey> = list
        .iter_waiting()
        .filter(|(_, _, payload)| payload.as_ref().is_some_and(|w| w.handle == handle))
        .map(|(key, _, _)| key)
        .collect();
    for key in keys {
        if let Some(t) = list.notify(key) {
            wake(t);
        }
    }
}

/// Notifies every waiting entry of `list`, leaving their values where they are.
fn notify_all<T>(list: &RefCell<WaitList<T>>) {
    loop {
        let task = list.borrow_mut().notify_front(|_| {});
        match task {
            Some(t) => wake(t),
            None => break,
        }
    }
}

/// The sending end of a channel. Clone it for more producers; each clone is a handle that is
/// closed on its own (by [`close`](Sender::close) or by dropping it). The channel ends for the
/// receivers when every sender handle is closed.
///
/// ```
/// let (tx, rx) = scoro::channel::channel(4);
/// let tx2 = tx.clone();
/// tx.try_send(1).unwrap();
/// tx2.try_send(2).unwrap();
/// drop((tx, tx2));
/// assert_eq!(rx.try_recv(), Ok(1));
/// assert_eq!(rx.try_recv(), Ok(2));
/// assert_eq!(rx.try_recv(), Err(scoro::channel::TryRecvError::EndOfChannel));
/// ```
pub struct Sender<T> {
    chan: Rc<Chan<T>>,
    id: u64,
    closed: Cell<bool>,
}

impl<T> Clone for Sender<T> {
    /// Another handle to the same channel; a clone of a closed handle is closed too.
    fn clone(&self) -> Self {
        if !self.closed.get() {
            self.chan.senders.set(self.chan.senders.get() + 1);
        }
        Sender {
            chan: self.chan.clone(),
            id: self.chan.new_handle_id(),
            closed: Cell::new(self.closed.get()),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.closed.get())
            .field("buffered", &self.chan.buffer.borrow().len())
            .finish_non_exhaustive()
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the buffer is full.
    ///
    /// A checkpoint: it checks for cancellation first and yields once even when it can send at
    /// once. On any failure the value comes back inside the error:
    /// [`Cancelled`](SendError::Cancelled) if the task was cancelled before the value was
    /// delivered, [`Disconnected`](SendError::Disconnected) if every receiver is closed,
    /// [`Closed`](SendError::Closed) if this handle was closed. Once the value has been
    /// delivered (into the buffer, or to a receiver), `send` returns `Ok` even if the task was
    /// cancelled meanwhile.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scoro::{channel::{channel, Sender}, move_on_after, structured};
    ///
    /// /// Sends `msg`, or gives it back if that did not happen.
    /// #[structured]
    /// async fn send_or_return(tx: &Sender<String>, msg: String) -> Option<String> {
    ///     tx.send(msg).await.err().map(|e| e.into_inner())
    /// }
    ///
    /// #[structured]
    /// async fn main_task() -> Option<Option<String>> {
    ///     let (tx, _rx) = channel(0); // rendezvous, and nobody receives
    ///     move_on_after(Duration::from_millis(1), send_or_return(&tx, "hello".to_string())).await
    /// }
    ///
    /// // The timeout cancelled the send, and the message came back.
    /// assert_eq!(scoro::run(main_task()), Some(Some("hello".to_string())));
    /// ```
    pub fn send(
        &self,
        value: T,
    ) -> CoroutineCall<impl Future<Output = Result<(), SendError<T>>> + '_> {
        CoroutineCall::internal(
            SendCall {
                tx: self,
                value: Some(value),
                state: SendState::Start,
            },
            "scoro::channel",
            "Sender::send",
        )
    }

    /// Sends `value` if that is possible without waiting: to a waiting receiver, or into the
    /// buffer. Not a checkpoint.
    ///
    /// ```
    /// use scoro::channel::{channel, TrySendError};
    ///
    /// let (tx, rx) = channel(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));
    /// tx.close();
    /// assert_eq!(tx.try_send(4), Err(TrySendError::Closed(4)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if self.closed.get() {
            return Err(TrySendError::Closed(value));
        }
        if self.chan.receivers.get() == 0 {
            return Err(TrySendError::Disconnected(value));
        }
        self.chan.offer(value).map_err(TrySendError::Full)
    }

    /// Closes this handle: its calls fail with `Closed` from now on, and sends blocked on it
    /// are woken and fail the same way. If it was the last open sender, the channel ends:
    /// receivers get the values still buffered, then [`RecvError::EndOfChannel`].
    ///
    /// Idempotent, synchronous, not a checkpoint. Dropping the handle closes it too.
    ///
    /// ```
    /// let (tx, rx) = scoro::channel::channel::<u32>(1);
    /// tx.close();
    /// assert!(tx.is_closed());
    /// assert_eq!(rx.try_recv(), Err(scoro::channel::TryRecvError::EndOfChannel));
    /// ```
    pub fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        notify_handle(&self.chan.send_waiters, self.id);
        let open = self.chan.senders.get() - 1;
        self.chan.senders.set(open);
        if open == 0 {
            notify_all(&self.chan.recv_waiters);
        }
    }

    /// Has this handle been closed?
    ///
    /// ```
    /// let (tx, _rx) = scoro::channel::channel::<u32>(1);
    /// assert!(!tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }
}

/// The receiving end of a channel. Clone it for more consumers (each value goes to exactly one
/// of them); each clone is a handle that is closed on its own (by [`close`](Receiver::close) or
/// by dropping it). When every receiver handle is closed, senders fail with
/// [`SendError::Disconnected`].
///
/// To consume a channel until it ends, loop over [`next`](Receiver::next):
///
/// ```
/// use scoro::{channel::{unbounded, Receiver}, structured, CancelRequested};
///
/// #[structured]
/// async fn total(rx: &Receiver<u32>) -> Result<u32, CancelRequested> {
///     let mut sum = 0;
///     while let Some(v) = rx.next().await? {
///         sum += v;
///     }
///     Ok(sum)
/// }
///
/// #[structured]
/// async fn main_task() -> Result<u32, CancelRequested> {
///     let (tx, rx) = unbounded();
///     for v in [1, 2, 3] {
///         tx.try_send(v).unwrap();
///     }
///     drop(tx);
///     total(&rx).await
/// }
///
/// assert_eq!(scoro::run(main_task()), Ok(6));
/// ```
pub struct Receiver<T> {
    chan: Rc<Chan<T>>,
    id: u64,
    closed: Cell<bool>,
}

impl<T> Clone for Receiver<T> {
    /// Another handle to the same channel; a clone of a closed handle is closed too.
    fn clone(&self) -> Self {
        if !self.closed.get() {
            self.chan.receivers.set(self.chan.receivers.get() + 1);
        }
        Receiver {
            chan: self.chan.clone(),
            id: self.chan.new_handle_id(),
            closed: Cell::new(self.closed.get()),
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("closed", &self.closed.get())
            .field("buffered", &self.chan.buffer.borrow().len())
            .finish_non_exhaustive()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> Receiver<T> {
    /// Receives the next value, waiting until there is one.
    ///
    /// A checkpoint: it checks for cancellation first and yields once even when a value is
    /// ready. Fails with [`Cancelled`](RecvError::Cancelled) if the task was cancelled before a
    /// value was handed to it (no value is taken then), with
    /// [`EndOfChannel`](RecvError::EndOfChannel) once every sender is closed and the buffer is
    /// empty, and with [`Closed`](RecvError::Closed) if this handle was closed. A waiting
    /// receiver that was handed a value returns it even if it was cancelled meanwhile: the
    /// value is never lost.
    ///
    /// ```
    /// use scoro::{channel::channel, structured, channel::RecvError};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<&'static str, RecvError> {
    ///     let (tx, rx) = channel(1);
    ///     tx.try_send("hello").unwrap();
    ///     rx.recv().await
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok("hello"));
    /// ```
    pub fn recv(&self) -> CoroutineCall<impl Future<Output = Result<T, RecvError>> + '_> {
        CoroutineCall::internal(
            RecvCall {
                rx: self,
                state: RecvState::Start,
            },
            "scoro::channel",
            "Receiver::recv",
        )
    }

    /// The next value, or `None` once the channel has ended (every sender closed and the buffer
    /// drained) or this handle has been closed; `Err` only for a cancellation. Made for loops
    /// that consume a channel:
    ///
    /// ```text
    /// while let Some(v) = rx.next().await? { ... }
    /// ```
    ///
    /// `?` propagates the cancellation into any error type that has
    /// `From<CancelRequested>` (such as `io::Error`). Closing this handle from another task
    /// ends such a loop at once, without draining the buffer. Otherwise the same as
    /// [`recv`](Receiver::recv).
    ///
    /// ```
    /// use scoro::{channel::channel, structured, CancelRequested};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<Vec<u32>, CancelRequested> {
    ///     let (tx, rx) = channel(3);
    ///     for v in [1, 2, 3] {
    ///         tx.try_send(v).unwrap();
    ///     }
    ///     tx.close();
    ///     let mut got = Vec::new();
    ///     while let Some(v) = rx.next().await? {
    ///         got.push(v);
    ///     }
    ///     Ok(got)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(vec![1, 2, 3]));
    /// ```
    pub fn next(
        &self,
    ) -> CoroutineCall<impl Future<Output = Result<Option<T>, CancelRequested>> + '_> {
        CoroutineCall::internal(
            NextCall {
                recv: RecvCall {
                    rx: self,
                    state: RecvState::Start,
                },
            },
            "scoro::channel",
            "Receiver::next",
        )
    }

    /// Receives a value if one is available without waiting (from the buffer, or from a blocked
    /// sender). Not a checkpoint.
    ///
    /// ```
    /// use scoro::channel::{channel, TryRecvError};
    ///
    /// let (tx, rx) = channel(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// rx.close();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        if self.closed.get() {
            return Err(TryRecvError::Closed);
        }
        match self.chan.take() {
            Some(v) => Ok(v),
            None if self.chan.senders.get() == 0 => Err(TryRecvError::EndOfChannel),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Closes this handle: its calls fail with `Closed` from now on, and receives blocked on it
    /// are woken and fail the same way. If it was the last open receiver, the buffered values
    /// are dropped and senders fail with [`SendError::Disconnected`] (blocked ones get their
    /// value back).
    ///
    /// Idempotent, synchronous, not a checkpoint. Dropping the handle closes it too.
    ///
    /// ```
    /// use scoro::channel::{channel, TrySendError};
    ///
    /// let (tx, rx) = channel(1);
    /// rx.close();
    /// assert_eq!(tx.try_send(1), Err(TrySendError::Disconnected(1)));
    /// ```
    pub fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        notify_handle(&self.chan.recv_waiters, self.id);
        let open = self.chan.receivers.get() - 1;
        self.chan.receivers.set(open);
        if open == 0 {
            let dropped = std::mem::take(&mut *self.chan.buffer.borrow_mut());
            notify_all(&self.chan.send_waiters);
            drop(dropped);
        }
    }

    /// Has this handle been closed?
    ///
    /// ```
    /// let (_tx, rx) = scoro::channel::channel::<u32>(1);
    /// assert!(!rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }
}

enum SendState {
    Start,
    /// Delivered at once; yielding once before returning.
    Sent,
    Waiting(WaitKey),
    Done,
}

/// The future of [`Sender::send`].
struct SendCall<'a, T> {
    tx: &'a Sender<T>,
    value: Option<T>,
    state: SendState,
}

// The value is only ever moved, never pinned.
impl<T> Unpin for SendCall<'_, T> {}

impl<T> SendCall<'_, T> {
    fn step(&mut self, core: &Core, task: u32) -> Poll<Result<(), SendError<T>>> {
        let tx = self.tx;
        let chan = &*tx.chan;
        loop {
            match self.state {
                SendState::Start => {
                    let value = self.value.take().expect("a send starts with its value");
                    self.state = SendState::Done;
                    if let Some(c) = core.check_cancel(task) {
                        return Poll::Ready(Err(SendError::Cancelled(value, c)));
                    }
                    if tx.closed.get() {
                        return Poll::Ready(Err(SendError::Closed(value)));
                    }
                    if chan.receivers.get() == 0 {
                        return Poll::Ready(Err(SendError::Disconnected(value)));
                    }
                    match chan.offer(value) {
                        Ok(()) => {
                            self.state = SendState::Sent;
                            core.yield_now(task);
                        }
                        Err(value) => {
                            let waiter = Waiter {
                                handle: tx.id,
                                value: Some(value),
                            };
                            let key = chan
                                .send_waiters
                                .borrow_mut()
                                .push_back(core.task_ref(task), Some(waiter));
                            self.state = SendState::Waiting(key);
                            core.block_cancellable(task);
                        }
                    }
                    return Poll::Pending;
                }
                SendState::Sent => {
                    self.state = SendState::Done;
                    return Poll::Ready(Ok(()));
                }
                SendState::Waiting(key) => {
                    let state = chan.send_waiters.borrow().state(key);
                    if state == Some(EntryState::Waiting) {
                        let Some(c) = core.check_cancel(task) else {
                            core.block_cancellable(task);
                            return Poll::Pending;
                        };
                        let value = chan.send_waiters.borrow_mut().remove(key);
                        let value = value
                            .and_then(|w| w.value)
                            .expect("a blocked send holds its value");
                        self.state = SendState::Done;
                        return Poll::Ready(Err(SendError::Cancelled(value, c)));
                    }
                    let value = chan.send_waiters.borrow_mut().remove(key);
                    self.state = SendState::Done;
                    match value.and_then(|w| w.value) {
                        // A receiver took it: delivered.
                        None => return Poll::Ready(Ok(())),
                        // Woken with the value still here: this handle or every receiver
                        // was closed.
                        Some(value) if tx.closed.get() => {
                            return Poll::Ready(Err(SendError::Closed(value)));
                        }
                        Some(value) if chan.receivers.get() == 0 => {
                            return Poll::Ready(Err(SendError::Disconnected(value)));
                        }
                        Some(value) => {
                            self.value = Some(value);
                            self.state = SendState::Start;
                        }
                    }
                }
                SendState::Done => panic!("`Sender::send` was polled after it finished"),
            }
        }
    }
}

impl<T> Future for SendCall<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = task::verify(cx);
        let this = &mut *self;
        context::with_core(|core| this.step(core, task))
    }
}

impl<T> Drop for SendCall<'_, T> {
    fn drop(&mut self) {
        if let SendState::Waiting(key) = self.state {
            // Not delivered: the value is dropped with the task that owned it.
            let value = self.tx.chan.send_waiters.borrow_mut().remove(key);
            drop(value);
        }
    }
}

enum RecvState<T> {
    Start,
    /// Took a value at once; yielding once before returning it.
    Got(T),
    Waiting(WaitKey),
    Done,
}

/// The future of [`Receiver::recv`].
struct RecvCall<'a, T> {
    rx: &'a Receiver<T>,
    state: RecvState<T>,
}

// The value is only ever moved, never pinned.
impl<T> Unpin for RecvCall<'_, T> {}

impl<T> RecvCall<'_, T> {
    fn step(&mut self, core: &Core, task: u32) -> Poll<Result<T, RecvError>> {
        let rx = self.rx;
        let chan = &*rx.chan;
        loop {
            match std::mem::replace(&mut self.state, RecvState::Done) {
                RecvState::Start => {
                    if let Some(c) = core.check_cancel(task) {
                        return Poll::Ready(Err(RecvError::Cancelled(c)));
                    }
                    if rx.closed.get() {
                        return Poll::Ready(Err(RecvError::Closed));
                    }
                    if let Some(v) = chan.take() {
                        self.state = RecvState::Got(v);
                        core.yield_now(task);
                        return Poll::Pending;
                    }
                    if chan.senders.get() == 0 {
                        return Poll::Ready(Err(RecvError::EndOfChannel));
                    }
                    let waiter = Waiter {
                        handle: rx.id,
                        value: None,
                    };
                    let key = chan
                        .recv_waiters
                        .borrow_mut()
                        .push_back(core.task_ref(task), Some(waiter));
                    self.state = RecvState::Waiting(key);
                    core.block_cancellable(task);
                    return Poll::Pending;
                }
                RecvState::Got(v) => return Poll::Ready(Ok(v)),
                RecvState::Waiting(key) => {
                    let state = chan.recv_waiters.borrow().state(key);
                    if state == Some(EntryState::Waiting) {
                        if let Some(c) = core.check_cancel(task) {
                            chan.recv_waiters.borrow_mut().remove(key);
                            return Poll::Ready(Err(RecvError::Cancelled(c)));
                        }
                        self.state = RecvState::Waiting(key);
                        core.block_cancellable(task);
                        return Poll::Pending;
                    }
                    let value = chan.recv_waiters.borrow_mut().remove(key);
                    match value.and_then(|w| w.value) {
                        // Handed over: ours, whatever happened to our scope meanwhile.
                        Some(v) => return Poll::Ready(Ok(v)),
                        // Woken without a value: this handle or every sender was closed.
                        None if rx.closed.get() => return Poll::Ready(Err(RecvError::Closed)),
                        None if chan.senders.get() == 0 => {
                            return Poll::Ready(Err(RecvError::EndOfChannel));
                        }
                        None => self.state = RecvState::Start,
                    }
                }
                RecvState::Done => panic!("`Receiver::recv` was polled after it finished"),
            }
        }
    }
}

impl<T> Future for RecvCall<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = task::verify(cx);
        let this = &mut *self;
        context::with_core(|core| this.step(core, task))
    }
}

impl<T> Drop for RecvCall<'_, T> {
    fn drop(&mut self) {
        let chan = &*self.rx.chan;
        match std::mem::replace(&mut self.state, RecvState::Done) {
            RecvState::Got(v) => chan.put_back(v),
            RecvState::Waiting(key) => {
                let value = chan.recv_waiters.borrow_mut().remove(key);
                if let Some(v) = value.and_then(|w| w.value) {
                    chan.put_back(v);
                }
            }
            RecvState::Start | RecvState::Done => {}
        }
    }
}

/// The future of [`Receiver::next`].
struct NextCall<'a, T> {
    recv: RecvCall<'a, T>,
}

impl<T> Future for NextCall<'_, T> {
    type Output = Result<Option<T>, CancelRequested>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.recv).poll(cx).map(|r| match r {
            Ok(v) => Ok(Some(v)),
            Err(RecvError::Cancelled(c)) => Err(c),
            Err(RecvError::EndOfChannel | RecvError::Closed) => Ok(None),
        })
    }
}

#[cfg(test)]
mod tests;
