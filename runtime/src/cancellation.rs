//! Cancellation as a value: `CancelRequested`, its reason, and the `MaybeCancelled` trait that
//! cancel scopes and nurseries use to tell a cancellation from a real error.
//!
//! Invariants:
//! - `CancelRequested` has no public constructor: only the runtime makes one, at a checkpoint
//!   of a task whose cancel status is cancelled. User code can pass one on, never invent one.
//! - Converting to `std::io::Error` keeps the value (kind `Other`, never `Interrupted`, so that
//!   retry-on-EINTR loops do not swallow it) and `TryFrom<&io::Error>` gets it back.

use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::io;

/// Why a cancel scope was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// [`CancelHandle::cancel`](crate::CancelHandle::cancel) or [`Nursery::cancel`](crate::Nursery::cancel) was called.
    Explicit,
    /// The scope's deadline passed.
    Deadline,
    /// A sibling task (or the nursery body) failed, so the nursery cancelled the rest.
    SiblingFailed,
    /// The process received Ctrl-C (SIGINT) and the runtime is shutting down.
    Interrupt,
    /// The runtime is shutting down for another reason.
    Shutdown,
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CancelReason::Explicit => "cancelled explicitly",
            CancelReason::Deadline => "its deadline passed",
            CancelReason::SiblingFailed => "a sibling task failed",
            CancelReason::Interrupt => "the process was interrupted (Ctrl-C)",
            CancelReason::Shutdown => "the runtime is shutting down",
        })
    }
}

/// The error a checkpoint returns when the task's cancel scope has been cancelled.
///
/// Propagate it with `?`: the cancel scope that was cancelled catches it and its
/// [`run`](crate::CancelScope::run) returns `None`. Swallowing it does not help, because cancellation
/// is level-triggered: the next checkpoint in the same scope returns it again.
///
/// ```
/// use std::time::Duration;
/// use scoro::{structured, CancelRequested};
///
/// #[structured]
/// async fn slow() -> Result<u32, CancelRequested> {
///     scoro::sleep(Duration::from_secs(3600)).await?;
///     Ok(1)
/// }
///
/// #[structured]
/// async fn main_task() -> Option<Result<u32, CancelRequested>> {
///     scoro::move_on_after(Duration::from_millis(1), slow()).await
/// }
///
/// assert_eq!(scoro::run(main_task()), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CancelRequested {
    reason: CancelReason,
}

impl CancelRequested {
    pub(crate) const fn new(reason: CancelReason) -> Self {
        CancelRequested { reason }
    }

    /// Why the scope was cancelled.
    pub fn reason(&self) -> CancelReason {
        self.reason
    }
}

impl fmt::Display for CancelRequested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "operation cancelled: {}", self.reason)
    }
}

impl Error for CancelRequested {}

impl From<CancelRequested> for io::Error {
    /// Wraps the cancellation in an `io::Error` of kind `Other` (never `Interrupted`, so that
    /// retry loops do not swallow it); `CancelRequested::try_from(&err)` recovers it.
    fn from(c: CancelRequested) -> io::Error {
        io::Error::other(c)
    }
}

impl TryFrom<&io::Error> for CancelRequested {
    type Error = ();

    /// Recovers a cancellation carried by an `io::Error`.
    fn try_from(e: &io::Error) -> Result<Self, ()> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<CancelRequested>())
            .copied()
            .ok_or(())
    }
}

/// The error [`fail_after`](crate::fail_after) and [`fail_at`](crate::fail_at) return when their deadline passed before the body
/// finished.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TooSlow;

impl fmt::Display for TooSlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operation did not finish before its deadline")
    }
}

impl Error for TooSlow {}

impl From<TooSlow> for io::Error {
    /// An `io::Error` of kind `TimedOut`.
    fn from(t: TooSlow) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, t)
    }
}

/// Values that may stand for a cancellation.
///
/// Cancel scopes and nurseries use it to tell "this body stopped because it was cancelled"
/// from a real outcome: a [`CancelScope`](crate::CancelScope) catches only values for which
/// `is_cancel_requested()` is true, and a nursery does not count its own cancellations of
/// children as errors.
///
/// ```
/// use scoro::MaybeCancelled;
/// let ok: Result<u32, std::io::Error> = Ok(3);
/// assert!(!ok.is_cancel_requested());
/// let other: Result<u32, std::io::Error> = Err(std::io::Error::other("disk on fire"));
/// assert!(!other.is_cancel_requested());
/// ```
///
/// For your own error type, implement it next to `From<CancelRequested>` (the book's
/// "Cancellation is an error" chapter shows an enum). `anyhow::Error` and `eyre::Report`
/// implement it with scoro's `anyhow` and `eyre` features. A call whose output cannot carry a
/// cancellation at all can still run under a timeout through [`cancellable`](crate::cancellable).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot say whether it is a cancellation: it does not implement `MaybeCancelled`",
    label = "a cancel scope, timeout or nursery must tell a cancellation in this value from a real outcome",
    note = "to put a timeout around a call whose output cannot carry a cancellation, wrap it: `move_on_after(d, scoro::cancellable(f()))` gives `Option<Result<T, CancelRequested>>`",
    note = "for your own error type, implement `From<CancelRequested>` and `MaybeCancelled` for it (the book's \"Cancellation is an error\" chapter shows how); for `anyhow::Error` or `eyre::Report`, enable scoro's `anyhow` or `eyre` feature"
)]
pub trait MaybeCancelled {
    /// Is this value a cancellation?
    fn is_cancel_requested(&self) -> bool;
}

impl MaybeCancelled for CancelRequested {
    fn is_cancel_requested(&self) -> bool {
        true
    }
}

impl MaybeCancelled for io::Error {
    fn is_cancel_requested(&self) -> bool {
        CancelRequested::try_from(self).is_ok()
    }
}

impl<T, E: MaybeCancelled> MaybeCancelled for Result<T, E> {
    fn is_cancel_requested(&self) -> bool {
        match self {
            Ok(_) => false,
            Err(e) => e.is_cancel_requested(),
        }
    }
}

impl<T: MaybeCancelled> MaybeCancelled for Option<T> {
    fn is_cancel_requested(&self) -> bool {
        match self {
            Some(v) => v.is_cancel_requested(),
            None => false,
        }
    }
}

impl MaybeCancelled for TooSlow {
    fn is_cancel_requested(&self) -> bool {
        false
    }
}

impl MaybeCancelled for Infallible {
    fn is_cancel_requested(&self) -> bool {
        match *self {}
    }
}

impl MaybeCancelled for () {
    fn is_cancel_requested(&self) -> bool {
        false
    }
}

impl MaybeCancelled for String {
    fn is_cancel_requested(&self) -> bool {
        false
    }
}

impl MaybeCancelled for &'static str {
    fn is_cancel_requested(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_round_trip_keeps_the_reason_and_is_not_interrupted() {
        let c = CancelRequested::new(CancelReason::Deadline);
        let e: io::Error = c.into();
        assert_eq!(e.kind(), io::ErrorKind::Other);
        assert_eq!(CancelRequested::try_from(&e), Ok(c));
        assert!(e.is_cancel_requested());
        assert!(CancelRequested::try_from(&io::Error::other("x")).is_err());
        assert!(!io::Error::from(io::ErrorKind::Interrupted).is_cancel_requested());
    }

    #[test]
    fn maybe_cancelled_impls() {
        let c = CancelRequested::new(CancelReason::Explicit);
        assert!(c.is_cancel_requested());
        assert!(Err::<(), _>(c).is_cancel_requested());
        assert!(Some(Err::<(), _>(c)).is_cancel_requested());
        assert!(!None::<CancelRequested>.is_cancel_requested());
        assert!(!Ok::<_, CancelRequested>(1).is_cancel_requested());
        assert!(!TooSlow.is_cancel_requested());
        assert!(!().is_cancel_requested());
        let b: Box<dyn Error + Send + Sync> = Box::new(c);
        assert!(b.is_cancel_requested());
        let b: Box<dyn Error + Send + Sync> = Box::new(io::Error::from(c));
        assert!(b.is_cancel_requested());
        let b: Box<dyn Error + Send + Sync> = "plain".into();
        assert!(!b.is_cancel_requested());
        assert_eq!(io::Error::from(TooSlow).kind(), io::ErrorKind::TimedOut);
    }
}
