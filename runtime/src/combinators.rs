//! Combinators built on nurseries: `join_all`, `join` and `race`; and `CoroutineCall::boxed`,
//! which lets calls of different functions go into one `race` or `join_all`.
//!
//! Invariant: the combinators are `#[track_caller]` and start their children at the location
//! of their caller, so that the task tree shows the user's line, not one of this file.

use crate::__private::Boxed;
use crate::CoroutineCall;
use crate::cancellation::MaybeCancelled;
use crate::nursery::{ErrorGroup, Nursery, nursery_trusted};
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Starts `call` as a child of `n` that stores its value in `slot`, started at `location`.
fn start_into<'scope, T, E, F>(
    n: &Nursery<'scope, '_, E>,
    call: CoroutineCall<F>,
    slot: &'scope RefCell<Option<T>>,
    location: &'static Location<'static>,
) where
    T: 'scope,
    E: MaybeCancelled + 'scope,
    F: Future<Output = Result<T, E>> + 'scope,
{
    let (future, name) = call.into_parts();
    n.start_soon_at(
        CoroutineCall::internal(
            async move {
                let v = future.await?;
                *slot.borrow_mut() = Some(v);
                Ok::<(), E>(())
            },
            name.prefix,
            name.name,
        ),
        location,
    );
}

/// Runs every call concurrently and returns their values in the order of `calls`.
///
/// The calls run as children of one nursery: the first error cancels the others, and every
/// real error comes back in the [`ErrorGroup`].
///
/// ```
/// use std::time::Duration;
/// use scoro::{structured, join_all, CancelRequested};
///
/// #[structured]
/// async fn slow_square(x: u64) -> Result<u64, CancelRequested> {
///     scoro::sleep(Duration::from_millis(10 - x)).await?;
///     Ok(x * x)
/// }
///
/// #[structured]
/// async fn main_task() -> Result<Vec<u64>, scoro::ErrorGroup<CancelRequested>> {
///     join_all((1..=4).map(slow_square)).await
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), vec![1, 4, 9, 16]);
/// ```
#[track_caller]
pub fn join_all<T, E, F, I>(
    calls: I,
) -> CoroutineCall<impl Future<Output = Result<Vec<T>, ErrorGroup<E>>>>
where
    E: MaybeCancelled,
    F: Future<Output = Result<T, E>>,
    I: IntoIterator<Item = CoroutineCall<F>>,
{
    let location = Location::caller();
    let calls: Vec<CoroutineCall<F>> = calls.into_iter().collect();
    CoroutineCall::internal(
        async move {
            let slots: Vec<RefCell<Option<T>>> = calls.iter().map(|_| RefCell::new(None)).collect();
            nursery_trusted(async |n| -> Result<(), E> {
                for (call, slot) in calls.into_iter().zip(&slots) {
                    start_into(n, call, slot, location);
                }
                Ok(())
            })
            .await?;
            Ok(slots.into_iter().map(take_value).collect())
        },
        "scoro",
        "join_all",
    )
}

/// Runs every call concurrently; the first to return `Ok` wins and the others are cancelled.
///
/// Returns the winner's value, or, if every call failed, all their errors (cancellations of
/// the losers are not errors). With no calls at all there is nothing to win: that is a bug
/// in the caller and panics.
///
/// ```
/// use std::time::Duration;
/// use scoro::{structured, race, CancelRequested};
///
/// #[structured]
/// async fn after(ms: u64) -> Result<u64, CancelRequested> {
///     scoro::sleep(Duration::from_millis(ms)).await?;
///     Ok(ms)
/// }
///
/// #[structured]
/// async fn main_task() -> Result<u64, scoro::ErrorGroup<CancelRequested>> {
///     race([after(30), after(5), after(20)]).await
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), 5);
/// ```
#[track_caller]
pub fn race<T, E, F, I>(calls: I) -> CoroutineCall<impl Future<Output = Result<T, ErrorGroup<E>>>>
where
    E: MaybeCancelled,
    F: Future<Output = Result<T, E>>,
    I: IntoIterator<Item = CoroutineCall<F>>,
{
    let location = Location::caller();
    let calls: Vec<CoroutineCall<F>> = calls.into_iter().collect();
    CoroutineCall::internal(
        async move {
            assert!(!calls.is_empty(), "`scoro::race` needs at least one call");
            let winner: RefCell<Option<T>> = RefCell::new(None);
            let errors: RefCell<Vec<E>> = RefCell::new(Vec::new());
            // Children never fail the nursery: a failed call must not cancel the others.
            let ran = nursery_trusted(async |n| -> Result<(), E> {
                for call in calls {
                    let (winner, errors) = (&winner, &errors);
                    let (future, name) = call.into_parts();
                    n.start_soon_at(
                        CoroutineCall::internal(
                            async move {
                                match future.await {
                                    Ok(v) => {
                                        let mut w = winner.borrow_mut();
                                        if w.is_none() {
                                            *w = Some(v);
                                            n.cancel();
                                        }
                                    }
                                    // A loser cancelled because somebody won is not an error.
                                    Err(e)
                                        if e.is_cancel_requested() && winner.borrow().is_some() => {
                                    }
                                    Err(e) => errors.borrow_mut().push(e),
                                }
                                Ok::<(), E>(())
                            },
                            name.prefix,
                            name.name,
                        ),
                        location,
                    );
                }
                Ok(())
            })
            .await;
            if let Some(v) = winner.into_inner() {
                return Ok(v);
            }
            let mut errors = errors.into_inner();
            if let Err(g) = ran {
                errors.extend(g);
            }
            Err(ErrorGroup::new(errors))
        },
        "scoro",
        "race",
    )
}

fn take_value<T>(slot: RefCell<Option<T>>) -> T {
    slot.into_inner()
        .expect("every child of a nursery that finished without error stored its value")
}

/// Runs the calls of a tuple concurrently and returns their values as a tuple: the counterpart
/// of [`join_all`] for calls of different functions and output types (they share the error
/// type).
///
/// As with `join_all`, the calls run as children of one nursery: the first error cancels the
/// others, and every real error comes back in the [`ErrorGroup`].
///
/// ```
/// use std::time::Duration;
/// use scoro::{structured, join, CancelRequested, ErrorGroup};
///
/// #[structured]
/// async fn name() -> Result<String, CancelRequested> {
///     scoro::sleep(Duration::from_millis(5)).await?;
///     Ok("ferris".to_string())
/// }
///
/// #[structured]
/// async fn age() -> Result<u32, CancelRequested> {
///     scoro::sleep(Duration::from_millis(1)).await?;
///     Ok(7)
/// }
///
/// #[structured]
/// async fn main_task() -> Result<String, ErrorGroup<CancelRequested>> {
///     let (name, age) = join((name(), age())).await?;
///     Ok(format!("{name} is {age}"))
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), "ferris is 7");
/// ```
#[track_caller]
pub fn join<C: JoinTuple>(
    calls: C,
) -> CoroutineCall<impl Future<Output = Result<C::Output, ErrorGroup<C::Error>>>> {
    CoroutineCall::internal(calls.join_tuple(Location::caller()), "scoro", "join")
}

mod sealed {
    pub trait Sealed {}
}

/// Tuples of 1 to 8 [`CoroutineCall`]s whose outputs are `Result<_, E>` with one `E`: what
/// [`join`] takes.
pub trait JoinTuple: sealed::Sealed {
    /// The tuple of the calls' values.
    type Output;
    /// The calls' error type.
    type Error: MaybeCancelled;
    #[doc(hidden)]
    fn join_tuple(
        self,
        location: &'static Location<'static>,
    ) -> impl Future<Output = Result<Self::Output, ErrorGroup<Self::Error>>>;
}

macro_rules! join_tuple {
    ($($call:ident: $F:ident => $T:ident),+) => {
        impl<E, $($T, $F),+> sealed::Sealed for ($(CoroutineCall<$F>,)+)
        where
            E: MaybeCancelled,
            $($F: Future<Output = Result<$T, E>>,)+
        {
        }

        impl<E, $($T, $F),+> JoinTuple for ($(CoroutineCall<$F>,)+)
        where
            E: MaybeCancelled,
            $($F: Future<Output = Result<$T, E>>,)+
        {
            type Output = ($($T,)+);
            type Error = E;
            #[allow(non_snake_case, reason = "one slot per type parameter, named after it")]
            async fn join_tuple(
                self,
                location: &'static Location<'static>,
            ) -> Result<Self::Output, ErrorGroup<E>> {
                let ($($call,)+) = self;
                $(let $T: RefCell<Option<$T>> = RefCell::new(None);)+
                nursery_trusted(async |n| -> Result<(), E> {
                    $(start_into(n, $call, &$T, location);)+
                    Ok(())
                })
                .await?;
                Ok(($(take_value($T),)+))
            }
        }
    };
}

join_tuple!(a: A => TA);
join_tuple!(a: A => TA, b: B => TB);
join_tuple!(a: A => TA, b: B => TB, c: C => TC);
join_tuple!(a: A => TA, b: B => TB, c: C => TC, d: D => TD);
join_tuple!(a: A => TA, b: B => TB, c: C => TC, d: D => TD, e: G => TE);
join_tuple!(a: A => TA, b: B => TB, c: C => TC, d: D => TD, e: G => TE, f: H => TF);
join_tuple!(a: A => TA, b: B => TB, c: C => TC, d: D => TD, e: G => TE, f: H => TF, g: I => TG);
join_tuple!(
    a: A => TA, b: B => TB, c: C => TC, d: D => TD, e: G => TE, f: H => TF, g: I => TG, h: J => TH
);

impl<F: Future> CoroutineCall<F> {
    /// Erases the call's type, keeping its output type: calls of different functions (or of
    /// `async` blocks) become one type, so that they can go into one [`race`] or [`join_all`].
    ///
    /// The call's state machine moves into a box (one allocation); it still runs as part of
    /// the task that awaits or starts it, so it may borrow, and nurseries inside it work.
    ///
    /// ```
    /// use std::time::Duration;
    /// use scoro::{structured, race, CancelRequested, ErrorGroup};
    ///
    /// #[structured]
    /// async fn from_cache() -> Result<String, CancelRequested> {
    ///     scoro::sleep(Duration::from_millis(1)).await?;
    ///     Ok("cached".to_string())
    /// }
    ///
    /// #[structured]
    /// async fn from_network(host: &str) -> Result<String, CancelRequested> {
    ///     scoro::sleep(Duration::from_millis(50)).await?;
    ///     Ok(format!("fresh from {host}"))
    /// }
    ///
    /// #[structured]
    /// async fn main_task() -> Result<String, ErrorGroup<CancelRequested>> {
    ///     race([from_cache().boxed(), from_network("example.org").boxed()]).await
    /// }
    ///
    /// assert_eq!(scoro::run(main_task()).unwrap(), "cached");
    /// ```
    pub fn boxed<'a>(self) -> CoroutineCall<BoxedCall<'a, F::Output>>
    where
        F: 'a,
    {
        let (future, name) = self.into_parts();
        let future: Box<dyn Future<Output = F::Output> + 'a> = Box::new(future);
        CoroutineCall::internal(
            BoxedCall {
                inner: Boxed::new(future, "CoroutineCall::boxed"),
            },
            name.prefix,
            name.name,
        )
    }
}

pin_project_lite::pin_project! {
    /// The state machine of a call whose type [`CoroutineCall::boxed`] erased: its output is
    /// `T`, and it may borrow for `'a`.
    pub struct BoxedCall<'a, T> {
        #[pin]
        inner: Boxed<dyn Future<Output = T> + 'a>,
    }
}

impl<T> Future for BoxedCall<'_, T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.project().inner.poll(cx)
    }
}

impl<T> fmt::Debug for BoxedCall<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxedCall")
    }
}
