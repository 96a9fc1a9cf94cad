//! What a nursery reports: [`ErrorGroup`], and what its children may return
//! ([`IntoTaskResult`]).
//!
//! Invariant: an `ErrorGroup` is never empty.

use crate::cancellation::{CancelRequested, MaybeCancelled};
use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::io;

/// One or more errors from the tasks of a nursery, in the order they happened. Never empty.
///
/// ```
/// use scoro::{structured, nursery, ErrorGroup};
///
/// #[structured]
/// async fn fail(msg: &'static str) -> Result<(), String> {
///     Err(msg.to_string())
/// }
///
/// #[structured]
/// async fn main_task() -> Result<(), ErrorGroup<String>> {
///     nursery(async |n| -> Result<(), String> {
///         n.start_soon(fail("first"));
///         Ok(())
///     })
///     .await
/// }
///
/// let group = scoro::run(main_task()).unwrap_err();
/// assert_eq!(group.len(), 1);
/// assert_eq!(group.first(), "first");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorGroup<E> {
    errors: Vec<E>,
}

impl<E> ErrorGroup<E> {
    pub(crate) fn new(errors: Vec<E>) -> Self {
        debug_assert!(!errors.is_empty());
        ErrorGroup { errors }
    }

    /// The first error that happened.
    pub fn first(&self) -> &E {
        &self.errors[0]
    }

    /// How many errors the group holds (at least one).
    #[allow(clippy::len_without_is_empty, reason = "a group is never empty")]
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// The errors, in the order they happened.
    pub fn iter(&self) -> impl Iterator<Item = &E> {
        self.errors.iter()
    }

    /// The errors, in the order they happened.
    pub fn into_vec(self) -> Vec<E> {
        self.errors
    }

    /// The first error; the others are dropped.
    pub fn into_first(self) -> E {
        self.errors
            .into_iter()
            .next()
            .expect("an ErrorGroup is never empty")
    }
}

impl<E: fmt::Debug> fmt::Debug for ErrorGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ErrorGroup").field(&self.errors).finish()
    }
}

impl<E: fmt::Display> fmt::Display for ErrorGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errors.len() == 1 {
            write!(f, "{}", self.errors[0])
        } else {
            write!(f, "{} errors: ", self.errors.len())?;
            for (i, e) in self.errors.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{e}")?;
            }
            Ok(())
        }
    }
}

impl<E: fmt::Debug + fmt::Display> Error for ErrorGroup<E> {}

impl From<ErrorGroup<io::Error>> for io::Error {
    /// A group of one comes back as that error; a larger group becomes an error of the first
    /// one's kind that describes them all.
    fn from(g: ErrorGroup<io::Error>) -> io::Error {
        if g.errors.len() == 1 {
            return g.into_first();
        }
        let kind = g.first().kind();
        io::Error::new(kind, g)
    }
}

impl<E> From<E> for ErrorGroup<E> {
    /// A group of one, so that `?` on a single error works in a function that returns a
    /// nursery's group: `TcpListener::bind(addr).await?` in `fn main() -> Result<(),
    /// ErrorGroup<io::Error>>`.
    fn from(e: E) -> Self {
        ErrorGroup { errors: vec![e] }
    }
}

impl<E> IntoIterator for ErrorGroup<E> {
    type Item = E;
    type IntoIter = std::vec::IntoIter<E>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

/// The error types whose groups a type-erased error may hold: `?` turns a nursery's
/// `ErrorGroup<E>` into the caller's boxed or `anyhow` error, and a cancel scope further out
/// must still see that every member of that group is a cancellation.
macro_rules! erased_is_cancelled {
    ($e:expr) => {{
        let e = $e;
        e.downcast_ref::<CancelRequested>().is_some()
            || e.downcast_ref::<io::Error>().is_some_and(MaybeCancelled::is_cancel_requested)
            || e.downcast_ref::<ErrorGroup<CancelRequested>>()
                .is_some_and(MaybeCancelled::is_cancel_requested)
            || e.downcast_ref::<ErrorGroup<io::Error>>()
                .is_some_and(MaybeCancelled::is_cancel_requested)
            || e.downcast_ref::<ErrorGroup<BoxError>>()
                .is_some_and(MaybeCancelled::is_cancel_requested)
            || erased_is_cancelled!(@anyhow e)
            || erased_is_cancelled!(@eyre e)
    }};
    (@anyhow $e:ident) => {{
        #[cfg(feature = "anyhow")]
        let group = $e
            .downcast_ref::<ErrorGroup<anyhow::Error>>()
            .is_some_and(MaybeCancelled::is_cancel_requested);
        #[cfg(not(feature = "anyhow"))]
        let group = false;
        group
    }};
    (@eyre $e:ident) => {{
        #[cfg(feature = "eyre")]
        let group = $e
            .downcast_ref::<ErrorGroup<eyre::Report>>()
            .is_some_and(MaybeCancelled::is_cancel_requested);
        #[cfg(not(feature = "eyre"))]
        let group = false;
        group
    }};
}

type BoxError = Box<dyn Error + Send + Sync>;

/// True when the boxed error is a cancellation: a [`CancelRequested`], an `io::Error` carrying
/// one, or an [`ErrorGroup`] of cancellations (what `?` makes of a nursery's error in a
/// function returning a boxed error) whose members are `CancelRequested`, `io::Error`,
/// `Box<dyn Error + Send + Sync>`, or, with the features of the same names, `anyhow::Error`
/// and `eyre::Report`.
impl MaybeCancelled for Box<dyn Error + Send + Sync> {
    fn is_cancel_requested(&self) -> bool {
        erased_is_cancelled!(self)
    }
}

/// True when the error is a cancellation, also through [`anyhow::Context`] layers: the same
/// values as for `Box<dyn Error + Send + Sync>` count (a [`CancelRequested`], an `io::Error`
/// carrying one, an [`ErrorGroup`] of cancellations of `anyhow::Error`, `CancelRequested`,
/// `io::Error` or boxed errors).
#[cfg(feature = "anyhow")]
impl MaybeCancelled for anyhow::Error {
    fn is_cancel_requested(&self) -> bool {
        erased_is_cancelled!(self)
    }
}

/// True when the report is a cancellation, also through `wrap_err` layers: the same values as
/// for `Box<dyn Error + Send + Sync>` count (a [`CancelRequested`], an `io::Error` carrying
/// one, an [`ErrorGroup`] of cancellations of `eyre::Report`, `CancelRequested`, `io::Error`
/// or boxed errors).
#[cfg(feature = "eyre")]
impl MaybeCancelled for eyre::Report {
    fn is_cancel_requested(&self) -> bool {
        erased_is_cancelled!(self)
    }
}

impl<E: MaybeCancelled> MaybeCancelled for ErrorGroup<E> {
    /// True when every error in the group is a cancellation.
    fn is_cancel_requested(&self) -> bool {
        self.iter().all(MaybeCancelled::is_cancel_requested)
    }
}

/// What a nursery child may return: `()`, or a `Result` whose error converts into the
/// nursery's error type.
///
/// A child started with `start_soon` cannot hand a value back: the nursery keeps only its
/// errors. To collect values, use [`join_all`](crate::join_all) or [`join`](crate::join),
/// [`Nursery::start`](crate::Nursery::start) with [`TaskStatus::started`](crate::TaskStatus),
/// a slot declared before the nursery that the child writes into, or a channel.
#[diagnostic::on_unimplemented(
    message = "a nursery child must return `()` or `Result<(), E>` with an error that converts into the nursery's `{E}`; this one returns `{Self}`",
    label = "the nursery keeps a child's errors, never its value",
    note = "to get values back from children: `scoro::join_all` or `scoro::join`, `n.start(..)` with `status.started(value)`, a slot declared before the nursery that the child writes into (`let slot = RefCell::new(None);`), or a channel",
    note = "if the child's error does not convert into `{E}`, implement `From` for it or map it in an `async` block: `n.start_soon(async {{ f().await.map_err(MyError::from) }})`"
)]
pub trait IntoTaskResult<E> {
    /// The child's outcome as the nursery sees it.
    fn into_task_result(self) -> Result<(), E>;
}

impl<E> IntoTaskResult<E> for () {
    fn into_task_result(self) -> Result<(), E> {
        Ok(())
    }
}

impl<E, E2: Into<E>> IntoTaskResult<E> for Result<(), E2> {
    fn into_task_result(self) -> Result<(), E> {
        self.map_err(Into::into)
    }
}

impl<E, E2: Into<E>> IntoTaskResult<E> for Result<Infallible, E2> {
    fn into_task_result(self) -> Result<(), E> {
        match self {
            Ok(never) => match never {},
            Err(e) => Err(e.into()),
        }
    }
}
