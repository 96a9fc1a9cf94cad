//! [`Receiver`], the receiving end of a channel, and the futures of [`Receiver::recv`] and
//! [`Receiver::next`].

use super::state::{Chan, Waiter, notify_all, notify_handle};
use super::{RecvError, TryRecvError};
use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::{CurrentTask, Waiting};
use crate::wait::{Aborted, EntryState, Step, Wait, WaitCall, WaitKey};
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// The receiving end of a channel. Clone it for more consumers (each value goes to exactly one
/// of them); each clone is a handle that is closed on its own (by [`close`](Receiver::close) or
/// by dropping it). When every receiver handle is closed, senders fail with
/// [`SendError::Disconnected`](super::SendError::Disconnected).
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

impl<T> Receiver<T> {
    /// An open handle with id `id`, counted in `chan.receivers` by the caller.
    pub(super) fn new(chan: Rc<Chan<T>>, id: u64) -> Self {
        Receiver {
            chan,
            id,
            closed: Cell::new(false),
        }
    }
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
            WaitCall::new(Recv {
                rx: self,
                waiting: Waiting::ChannelRecv,
            }),
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
                recv: WaitCall::new(Recv {
                    rx: self,
                    waiting: Waiting::ChannelNext,
                }),
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
    /// are dropped and senders fail with [`SendError::Disconnected`](super::SendError::Disconnected) (blocked ones get their
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

/// A [`Receiver::recv`] call.
struct Recv<'a, T> {
    rx: &'a Receiver<T>,
    /// `recv` or `next`.
    waiting: Waiting,
}

impl<T> Wait for Recv<'_, T> {
    type Output = Result<T, RecvError>;
    type Parked = WaitKey;

    fn waiting(&self) -> Waiting {
        self.waiting
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(RecvError::Cancelled(cancel))
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, WaitKey> {
        let (rx, chan) = (self.rx, &*self.rx.chan);
        if rx.closed.get() {
            return Step::Done(Err(RecvError::Closed));
        }
        if let Some(v) = chan.take() {
            return Step::Done(Ok(v));
        }
        if chan.senders.get() == 0 {
            return Step::Done(Err(RecvError::EndOfChannel));
        }
        let waiter = Waiter {
            handle: rx.id,
            value: None,
        };
        Step::Park(
            chan.recv_waiters
                .borrow_mut()
                .push_back(task.task_ref(), Some(waiter)),
        )
    }

    fn woken(self: Pin<&mut Self>, key: WaitKey) -> Step<Self::Output, WaitKey> {
        let (rx, chan) = (self.rx, &*self.rx.chan);
        if chan.recv_waiters.borrow().state(key) == Some(EntryState::Waiting) {
            return Step::Park(key);
        }
        let waiter = chan.recv_waiters.borrow_mut().remove(key);
        match waiter.and_then(|w| w.value) {
            // Handed over: ours, whatever happened to our scope meanwhile.
            Some(v) => Step::Done(Ok(v)),
            // Woken without a value: this handle or every sender was closed.
            None if rx.closed.get() => Step::Done(Err(RecvError::Closed)),
            None if chan.senders.get() == 0 => Step::Done(Err(RecvError::EndOfChannel)),
            None => Step::Retry,
        }
    }

    fn abort(
        self: Pin<&mut Self>,
        key: WaitKey,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, WaitKey> {
        self.rx.chan.recv_waiters.borrow_mut().remove(key);
        Aborted::Left(Err(RecvError::Cancelled(cancel)))
    }

    fn abandon(self: Pin<&mut Self>, key: WaitKey) {
        let chan = &*self.rx.chan;
        let waiter = chan.recv_waiters.borrow_mut().remove(key);
        if let Some(v) = waiter.and_then(|w| w.value) {
            chan.put_back(v);
        }
    }

    fn unreturned(self: Pin<&mut Self>, outcome: Self::Output) {
        if let Ok(v) = outcome {
            self.rx.chan.put_back(v);
        }
    }
}

/// The future of [`Receiver::next`].
struct NextCall<'a, T> {
    recv: WaitCall<Recv<'a, T>>,
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
