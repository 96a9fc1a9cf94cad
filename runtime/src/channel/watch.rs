//! A watch channel: one sender publishes a value, any number of receivers look at the newest
//! one and wait for it to change.
//!
//! [`channel(initial)`](channel) makes a [`Sender`] and a [`Receiver`]. [`Sender::send`]
//! replaces the value and never blocks; [`Receiver::changed`] waits until there is a value the
//! receiver has not seen. Receivers always see the newest value: values sent in between may be
//! skipped, which is the point (configuration, state, progress).
//!
//! ```
//! use scoro::{channel::watch, nursery, structured, CancelRequested, ErrorGroup};
//!
//! #[structured]
//! async fn follow(rx: watch::Receiver<u32>) -> Result<u32, CancelRequested> {
//!     let mut last = *rx.borrow_and_update();
//!     while rx.changed().await.is_ok() {
//!         last = *rx.borrow_and_update();
//!     }
//!     Ok(last) // the sender is gone and nothing newer is left
//! }
//!
//! #[structured]
//! async fn main_task() -> Result<u32, ErrorGroup<CancelRequested>> {
//!     let (tx, rx) = watch::channel(0);
//!     nursery(async |n| -> Result<u32, CancelRequested> {
//!         n.start_soon(async move {
//!             for v in 1..=3 {
//!                 let _ = tx.send(v);
//!                 scoro::checkpoint().await?;
//!             }
//!             Ok::<(), CancelRequested>(())
//!         });
//!         follow(rx).await
//!     })
//!     .await
//! }
//!
//! assert_eq!(scoro::run(main_task()).unwrap(), 3);
//! ```
//!
//! Invariants:
//! - `version` counts the values sent; a receiver has seen the versions up to its `seen`. The
//!   value is kept in an `Rc`, so a [`Ref`] is a counted handle rather than a `RefCell` borrow
//!   and a send never conflicts with a value somebody is looking at.
//! - A waiting entry is in the wait list only while the version is the one its receiver has
//!   seen and the sender is alive: `send` and dropping the sender notify every entry.
//!
//! Guarantees: a `changed` that was woken by a send returns `Ok` even if its task was
//! cancelled meanwhile; a cancelled `changed` marks nothing as seen, so the next one reports
//! the same change. Nothing is ever lost, since the channel only holds the newest value.

use crate::CoroutineCall;
use crate::cancellation::{CancelRequested, MaybeCancelled};
use crate::runtime::seam::{CurrentTask, Waiting};
use crate::wait::{Aborted, EntryState, Step, Wait, WaitCall, WaitKey, WaitList};
use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;

struct Shared<T> {
    value: RefCell<Rc<T>>,
    version: Cell<u64>,
    sender_alive: Cell<bool>,
    receivers: Cell<usize>,
    waiters: RefCell<WaitList<()>>,
}

impl<T> Shared<T> {
    fn notify_all(&self) {
        loop {
            let task = self.waiters.borrow_mut().notify_front(|_| {});
            match task {
                Some(t) => t.unpark(),
                None => return,
            }
        }
    }

    fn current(&self, seen: u64) -> Ref<T> {
        Ref {
            value: self.value.borrow().clone(),
            has_changed: self.version.get() > seen,
        }
    }
}

/// Makes a watch channel holding `initial`; the receiver has seen it.
///
/// ```
/// let (tx, rx) = scoro::channel::watch::channel("start");
/// assert_eq!(*rx.borrow(), "start");
/// tx.send("next").unwrap();
/// assert_eq!(*rx.borrow(), "next");
/// ```
pub fn channel<T>(initial: T) -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        value: RefCell::new(Rc::new(initial)),
        version: Cell::new(0),
        sender_alive: Cell::new(true),
        receivers: Cell::new(1),
        waiters: RefCell::new(WaitList::default()),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver {
            shared,
            seen: Cell::new(0),
        },
    )
}

/// The sending half of a watch channel. Dropping it ends the channel: receivers' `changed`
/// fails with [`RecvError::Closed`] once they have seen the last value.
///
/// ```
/// let (tx, rx) = scoro::channel::watch::channel(1);
/// tx.send(2).unwrap();
/// assert_eq!(*tx.borrow(), 2);
/// drop(rx);
/// assert_eq!(tx.send(3), Err(scoro::channel::watch::SendError(3)));
/// ```
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Replaces the value and wakes every receiver waiting in [`changed`](Receiver::changed).
    /// Never blocks; not a checkpoint. Fails, giving the value back, if every receiver is
    /// gone.
    ///
    /// The old value is dropped here unless a [`Ref`] still holds it.
    ///
    /// ```
    /// let (tx, rx) = scoro::channel::watch::channel(0);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap(); // 1 is skipped by a receiver that did not look in between
    /// assert_eq!(*rx.borrow_and_update(), 2);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.get() == 0 {
            return Err(SendError(value));
        }
        let old = self.shared.value.replace(Rc::new(value));
        self.shared.version.set(self.shared.version.get() + 1);
        self.shared.notify_all();
        drop(old);
        Ok(())
    }

    /// The current value (what the receivers see).
    ///
    /// ```
    /// let (tx, _rx) = scoro::channel::watch::channel(String::from("a"));
    /// assert_eq!(*tx.borrow(), "a");
    /// ```
    pub fn borrow(&self) -> Ref<T> {
        self.shared.current(self.shared.version.get())
    }

    /// A new receiver, which has seen the current value. Works even after every receiver was
    /// dropped.
    ///
    /// ```
    /// let (tx, rx) = scoro::channel::watch::channel(0);
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// let rx = tx.subscribe();
    /// assert!(tx.send(1).is_ok());
    /// assert_eq!(*rx.borrow(), 1);
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            seen: Cell::new(self.shared.version.get()),
        }
    }

    /// Is every receiver gone (so that [`send`](Sender::send) fails)?
    ///
    /// ```
    /// let (tx, rx) = scoro::channel::watch::channel(());
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.receivers.get() == 0
    }

    /// How many receivers exist.
    ///
    /// ```
    /// let (tx, rx) = scoro::channel::watch::channel(());
    /// let _rx2 = rx.clone();
    /// assert_eq!(tx.receiver_count(), 2);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.get()
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.sender_alive.set(false);
        self.shared.notify_all();
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Sender")
            .field("value", &*self.borrow())
            .field("version", &self.shared.version.get())
            .field("receivers", &self.shared.receivers.get())
            .finish()
    }
}

/// A receiving half of a watch channel. Clone it for more receivers; each keeps track of the
/// values it has seen (a clone starts with what the original has seen).
///
/// ```
/// let (tx, rx) = scoro::channel::watch::channel(0);
/// let rx2 = rx.clone();
/// tx.send(5).unwrap();
/// assert_eq!(*rx.borrow_and_update(), 5);
/// assert!(rx2.borrow().has_changed()); // rx2 has not marked it seen
/// ```
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
    seen: Cell<u64>,
}

impl<T> Receiver<T> {
    /// Waits until the channel holds a value this receiver has not seen, and marks it seen
    /// (look at it with [`borrow`](Receiver::borrow)). Returns at once if such a value is
    /// already there.
    ///
    /// Fails with [`RecvError::Closed`] when the sender is gone and this receiver has seen the
    /// last value, and with [`RecvError::Cancelled`] if the task is cancelled first: then
    /// nothing is marked seen, and the next `changed` reports the change. A checkpoint (it
    /// yields once even when it returns at once); a `changed` woken by a send returns `Ok`
    /// even if its task was cancelled meanwhile.
    ///
    /// ```
    /// use scoro::{channel::watch, structured};
    ///
    /// #[structured]
    /// async fn main_task() -> Result<u32, watch::RecvError> {
    ///     let (tx, rx) = watch::channel(0);
    ///     tx.send(7).unwrap();
    ///     rx.changed().await?; // 7 is new
    ///     let seen = *rx.borrow();
    ///     drop(tx);
    ///     assert_eq!(rx.changed().await, Err(watch::RecvError::Closed));
    ///     Ok(seen)
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()), Ok(7));
    /// ```
    pub fn changed(&self) -> CoroutineCall<impl Future<Output = Result<(), RecvError>> + '_> {
        CoroutineCall::internal(
            WaitCall::new(Changed {
                rx: self,
                before: None,
            }),
            "scoro::channel",
            "watch::Receiver::changed",
        )
    }

    /// The newest value, without marking it seen. Not a checkpoint. The [`Ref`] keeps that
    /// value alive; it does not stop the sender from sending newer ones.
    ///
    /// ```
    /// let (tx, rx) = scoro::channel::watch::channel(1);
    /// tx.send(2).unwrap();
    /// let v = rx.borrow();
    /// assert_eq!((*v, v.has_changed()), (2, true));
    /// ```
    pub fn borrow(&self) -> Ref<T> {
        self.shared.current(self.seen.get())
    }

    /// The newest value, marking it seen (so [`changed`](Receiver::changed) waits for a newer
    /// one). Not a checkpoint.
    ///
    /// ```
    /// let (tx, rx) = scoro::channel::watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert!(rx.borrow_and_update().has_changed());
    /// assert!(!rx.borrow().has_changed());
    /// ```
    pub fn borrow_and_update(&self) -> Ref<T> {
        let r = self.borrow();
        self.seen.set(self.shared.version.get());
        r
    }

    /// Is the sender gone?
    ///
    /// ```
    /// let (tx, rx) = scoro::channel::watch::channel(());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        !self.shared.sender_alive.get()
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            seen: Cell::new(self.seen.get()),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.set(self.shared.receivers.get() - 1);
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Receiver")
            .field("value", &*self.borrow())
            .field("seen", &self.seen.get())
            .field("version", &self.shared.version.get())
            .finish()
    }
}

/// A value of a watch channel, as [`Receiver::borrow`] or [`Sender::borrow`] returned it. It
/// keeps that value alive (newer values may be sent meanwhile).
///
/// ```
/// let (tx, rx) = scoro::channel::watch::channel(vec![1]);
/// let old = rx.borrow();
/// tx.send(vec![2]).unwrap();
/// assert_eq!(*old, [1]);
/// assert_eq!(*rx.borrow(), [2]);
/// ```
pub struct Ref<T> {
    value: Rc<T>,
    has_changed: bool,
}

impl<T> Ref<T> {
    /// Was this value unseen by the receiver when it was borrowed (always `false` for a
    /// [`Sender::borrow`])?
    ///
    /// ```
    /// let (_tx, rx) = scoro::channel::watch::channel(0);
    /// assert!(!rx.borrow().has_changed());
    /// ```
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("watch::Ref").field(&*self.value).finish()
    }
}

/// [`Sender::send`] failed: every receiver is gone. Holds the value.
///
/// ```
/// let (tx, rx) = scoro::channel::watch::channel(0);
/// drop(rx);
/// assert_eq!(tx.send(4).unwrap_err().0, 4);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("send failed: every receiver of the watch channel is gone")
    }
}

impl<T> Error for SendError<T> {}

/// Why [`Receiver::changed`] returned no change.
///
/// ```
/// use scoro::channel::watch::{self, RecvError};
///
/// #[scoro::structured]
/// async fn main_task() -> Result<(), RecvError> {
///     let (tx, rx) = watch::channel(0);
///     drop(tx);
///     rx.changed().await
/// }
///
/// assert_eq!(scoro::run(main_task()), Err(RecvError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The task was cancelled before a change arrived.
    Cancelled(CancelRequested),
    /// The sender is gone and the receiver has seen the last value.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Cancelled(c) => write!(f, "no change received: {c}"),
            RecvError::Closed => {
                f.write_str("the watch channel's sender is gone and no newer value is left")
            }
        }
    }
}

impl Error for RecvError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            RecvError::Cancelled(c) => Some(c),
            RecvError::Closed => None,
        }
    }
}

impl MaybeCancelled for RecvError {
    fn is_cancel_requested(&self) -> bool {
        matches!(self, RecvError::Cancelled(_))
    }
}

impl From<CancelRequested> for RecvError {
    fn from(c: CancelRequested) -> RecvError {
        RecvError::Cancelled(c)
    }
}

impl From<RecvError> for io::Error {
    /// A cancellation becomes the `io::Error` of [`CancelRequested`] (so it is still recognised
    /// as one); a closed channel becomes [`UnexpectedEof`](io::ErrorKind::UnexpectedEof).
    fn from(e: RecvError) -> io::Error {
        match e {
            RecvError::Cancelled(c) => c.into(),
            RecvError::Closed => io::Error::new(io::ErrorKind::UnexpectedEof, e),
        }
    }
}

/// One [`Receiver::changed`].
struct Changed<'a, T> {
    rx: &'a Receiver<T>,
    /// What the receiver had seen before this call marked a change seen (to undo it if the
    /// call is dropped before returning).
    before: Option<u64>,
}

impl<T> Changed<'_, T> {
    /// Marks a newer value seen, or says the channel ended; `None` if neither.
    fn look(&mut self) -> Option<Result<(), RecvError>> {
        let shared = &self.rx.shared;
        let version = shared.version.get();
        if version > self.rx.seen.get() {
            self.before = Some(self.rx.seen.replace(version));
            Some(Ok(()))
        } else if !shared.sender_alive.get() {
            Some(Err(RecvError::Closed))
        } else {
            None
        }
    }
}

impl<T> Wait for Changed<'_, T> {
    type Output = Result<(), RecvError>;
    type Parked = WaitKey;

    fn waiting(&self) -> Waiting {
        Waiting::WatchChanged
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(RecvError::Cancelled(cancel))
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, WaitKey> {
        let this = self.get_mut();
        match this.look() {
            Some(out) => Step::Done(out),
            None => Step::Park(
                this.rx
                    .shared
                    .waiters
                    .borrow_mut()
                    .push_back(task.task_ref(), None),
            ),
        }
    }

    fn woken(self: Pin<&mut Self>, key: WaitKey) -> Step<Self::Output, WaitKey> {
        let this = self.get_mut();
        let waiters = &this.rx.shared.waiters;
        if waiters.borrow().state(key) == Some(EntryState::Waiting) {
            return Step::Park(key);
        }
        waiters.borrow_mut().remove(key);
        // Notified by a send (or the sender's drop): report it, cancelled or not. Another call
        // on the same receiver may have marked it seen first: then wait again.
        match this.look() {
            Some(out) => Step::Done(out),
            None => Step::Retry,
        }
    }

    fn abort(
        self: Pin<&mut Self>,
        key: WaitKey,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, WaitKey> {
        self.rx.shared.waiters.borrow_mut().remove(key);
        Aborted::Left(Err(RecvError::Cancelled(cancel)))
    }

    fn abandon(self: Pin<&mut Self>, key: WaitKey) {
        self.rx.shared.waiters.borrow_mut().remove(key);
    }

    fn unreturned(self: Pin<&mut Self>, outcome: Self::Output) {
        // Found a change but was dropped before reporting it: leave it unseen.
        if outcome.is_ok()
            && let Some(before) = self.before
        {
            self.rx.seen.set(before);
        }
    }
}
