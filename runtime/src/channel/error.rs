//! The errors of channel operations. Every error of a send gives the value back.

use crate::cancellation::{CancelRequested, MaybeCancelled};
use std::error::Error;
use std::fmt;
use std::io;

/// Why [`Sender::send`](super::Sender::send) did not deliver its value; the value comes back
/// in every case.
///
/// ```
/// use scoro::channel::{channel, SendError};
///
/// #[scoro::structured]
/// async fn main_task() -> Option<u32> {
///     let (tx, rx) = channel::<u32>(1);
///     drop(rx);
///     match tx.send(7).await {
///         Err(SendError::Disconnected(v)) => Some(v),
///         _ => None,
///     }
/// }
///
/// assert_eq!(scoro::run(main_task()), Some(7));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendError<T> {
    /// The task was cancelled before the value was delivered.
    Cancelled(T, CancelRequested),
    /// Every receiver is closed: nobody will ever receive the value.
    Disconnected(T),
    /// This sender handle was closed.
    Closed(T),
}

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let e = scoro::channel::SendError::Closed("hello");
    /// assert_eq!(e.into_inner(), "hello");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendError::Cancelled(v, _) | SendError::Disconnected(v) | SendError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Cancelled(_, c) => f.debug_tuple("Cancelled").field(&"..").field(c).finish(),
            SendError::Disconnected(_) => f.write_str("Disconnected(..)"),
            SendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Cancelled(_, c) => write!(f, "send did not happen: {c}"),
            SendError::Disconnected(_) => {
                f.write_str("send failed: every receiver of the channel is closed")
            }
            SendError::Closed(_) => f.write_str("send on a closed sender handle"),
        }
    }
}

impl<T> Error for SendError<T> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            SendError::Cancelled(_, c) => Some(c),
            _ => None,
        }
    }
}

impl<T> MaybeCancelled for SendError<T> {
    fn is_cancel_requested(&self) -> bool {
        matches!(self, SendError::Cancelled(..))
    }
}

/// Why [`Sender::try_send`](super::Sender::try_send) did not deliver its value; the value comes
/// back in every case.
///
/// ```
/// use scoro::channel::{channel, TrySendError};
///
/// let (tx, _rx) = channel(1);
/// assert_eq!(tx.try_send(1), Ok(()));
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The buffer is full and no receiver is waiting.
    Full(T),
    /// Every receiver is closed.
    Disconnected(T),
    /// This sender handle was closed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// assert_eq!(scoro::channel::TrySendError::Full(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) | TrySendError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Disconnected(_) => "Disconnected(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "the channel is full",
            TrySendError::Disconnected(_) => "send failed: every receiver of the channel is closed",
            TrySendError::Closed(_) => "send on a closed sender handle",
        })
    }
}

impl<T> Error for TrySendError<T> {}

/// Why [`Receiver::recv`](super::Receiver::recv) returned no value.
///
/// ```
/// use scoro::channel::{channel, RecvError};
///
/// #[scoro::structured]
/// async fn main_task() -> Result<u32, RecvError> {
///     let (tx, rx) = channel(1);
///     tx.try_send(5).unwrap();
///     drop(tx);
///     let first = rx.recv().await?;
///     assert_eq!(rx.recv().await, Err(RecvError::EndOfChannel));
///     Ok(first)
/// }
///
/// assert_eq!(scoro::run(main_task()), Ok(5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The task was cancelled before a value arrived.
    Cancelled(CancelRequested),
    /// Every sender is closed and no value is left: the stream has ended.
    EndOfChannel,
    /// This receiver handle was closed.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Cancelled(c) => write!(f, "receive did not happen: {c}"),
            RecvError::EndOfChannel => {
                f.write_str("end of channel: every sender is closed and no value is left")
            }
            RecvError::Closed => f.write_str("receive on a closed receiver handle"),
        }
    }
}

impl Error for RecvError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            RecvError::Cancelled(c) => Some(c),
            _ => None,
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
    /// as one); the end of the channel becomes [`UnexpectedEof`](io::ErrorKind::UnexpectedEof);
    /// a closed handle becomes an [`Other`](io::ErrorKind::Other) error.
    fn from(e: RecvError) -> io::Error {
        match e {
            RecvError::Cancelled(c) => c.into(),
            RecvError::EndOfChannel => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            RecvError::Closed => io::Error::other(e),
        }
    }
}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no value.
///
/// ```
/// use scoro::channel::{channel, TryRecvError};
///
/// let (tx, rx) = channel::<u32>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::EndOfChannel));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// No value is available right now, but senders are open.
    Empty,
    /// Every sender is closed and no value is left.
    EndOfChannel,
    /// This receiver handle was closed.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "the channel is empty",
            TryRecvError::EndOfChannel => {
                "end of channel: every sender is closed and no value is left"
            }
            TryRecvError::Closed => "receive on a closed receiver handle",
        })
    }
}

impl Error for TryRecvError {}
