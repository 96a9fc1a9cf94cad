//! [`Sender`], the sending end of a channel, and the future of [`Sender::send`].

use super::state::{Chan, Waiter, notify_all, notify_handle};
use super::{SendError, TrySendError};
use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::{CurrentTask, Waiting};
use crate::wait::{Aborted, EntryState, Step, Wait, WaitCall, WaitKey};
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

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

impl<T> Sender<T> {
    /// An open handle with id `id`, counted in `chan.senders` by the caller.
    pub(super) fn new(chan: Rc<Chan<T>>, id: u64) -> Self {
        Sender {
            chan,
            id,
            closed: Cell::new(false),
        }
    }
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
            WaitCall::new(Send {
                tx: self,
                value: Some(value),
            }),
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
    /// receivers get the values still buffered, then [`RecvError::EndOfChannel`](super::RecvError::EndOfChannel).
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

/// A [`Sender::send`] call.
struct Send<'a, T> {
    tx: &'a Sender<T>,
    /// The value, until it is delivered or queued.
    value: Option<T>,
}

// The value is only ever moved, never pinned.
impl<T> Unpin for Send<'_, T> {}

impl<T> Wait for Send<'_, T> {
    type Output = Result<(), SendError<T>>;
    type Parked = WaitKey;

    fn waiting(&self) -> Waiting {
        Waiting::ChannelSend
    }

    fn cancelled(mut self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        let value = self
            .value
            .take()
            .expect("a send holds its value until it delivers it");
        Err(SendError::Cancelled(value, cancel))
    }

    fn attempt(mut self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, WaitKey> {
        let (tx, chan) = (self.tx, &*self.tx.chan);
        let value = self
            .value
            .take()
            .expect("a send holds its value until it delivers it");
        if tx.closed.get() {
            return Step::Done(Err(SendError::Closed(value)));
        }
        if chan.receivers.get() == 0 {
            return Step::Done(Err(SendError::Disconnected(value)));
        }
        match chan.offer(value) {
            Ok(()) => Step::Done(Ok(())),
            Err(value) => {
                let waiter = Waiter {
                    handle: tx.id,
                    value: Some(value),
                };
                Step::Park(
                    chan.send_waiters
                        .borrow_mut()
                        .push_back(task.task_ref(), Some(waiter)),
                )
            }
        }
    }

    fn woken(mut self: Pin<&mut Self>, key: WaitKey) -> Step<Self::Output, WaitKey> {
        let (tx, chan) = (self.tx, &*self.tx.chan);
        if chan.send_waiters.borrow().state(key) == Some(EntryState::Waiting) {
            return Step::Park(key);
        }
        let waiter = chan.send_waiters.borrow_mut().remove(key);
        match waiter.and_then(|w| w.value) {
            // A receiver took it: delivered.
            None => Step::Done(Ok(())),
            // Woken with the value still here: this handle or every receiver was closed, or
            // room was made that somebody else took.
            Some(value) if tx.closed.get() => Step::Done(Err(SendError::Closed(value))),
            Some(value) if chan.receivers.get() == 0 => {
                Step::Done(Err(SendError::Disconnected(value)))
            }
            Some(value) => {
                self.value = Some(value);
                Step::Retry
            }
        }
    }

    fn abort(
        self: Pin<&mut Self>,
        key: WaitKey,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, WaitKey> {
        let waiter = self.tx.chan.send_waiters.borrow_mut().remove(key);
        let value = waiter
            .and_then(|w| w.value)
            .expect("a blocked send holds its value");
        Aborted::Left(Err(SendError::Cancelled(value, cancel)))
    }

    fn abandon(self: Pin<&mut Self>, key: WaitKey) {
        // Not delivered: the value is dropped with the task that owned it.
        let waiter = self.tx.chan.send_waiters.borrow_mut().remove(key);
        drop(waiter);
    }
}
