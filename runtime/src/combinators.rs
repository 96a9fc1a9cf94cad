//! Combinators built on nurseries: `join_all` and `race`.

use crate::CoroutineCall;
use crate::cancellation::MaybeCancelled;
use crate::nursery::{ErrorGroup, nursery_trusted};
use std::cell::RefCell;
use std::future::Future;

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
pub fn join_all<T, E, F, I>(
    calls: I,
) -> CoroutineCall<impl Future<Output = Result<Vec<T>, ErrorGroup<E>>>>
where
    E: MaybeCancelled,
    F: Future<Output = Result<T, E>>,
    I: IntoIterator<Item = CoroutineCall<F>>,
{
    let calls: Vec<CoroutineCall<F>> = calls.into_iter().collect();
    CoroutineCall::internal(
        async move {
            let slots: RefCell<Vec<Option<T>>> =
                RefCell::new((0..calls.len()).map(|_| None).collect());
            nursery_trusted(async |n| -> Result<(), E> {
                for (i, call) in calls.into_iter().enumerate() {
                    let slots = &slots;
                    let (future, name) = call.into_parts();
                    n.start_soon(CoroutineCall::internal(
                        async move {
                            let v = future.await?;
                            slots.borrow_mut()[i] = Some(v);
                            Ok::<(), E>(())
                        },
                        name.prefix,
                        name.name,
                    ));
                }
                Ok(())
            })
            .await?;
            Ok(slots
                .into_inner()
                .into_iter()
                .map(|v| v.expect("every child of a finished nursery produced its value"))
                .collect())
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
pub fn race<T, E, F, I>(calls: I) -> CoroutineCall<impl Future<Output = Result<T, ErrorGroup<E>>>>
where
    E: MaybeCancelled,
    F: Future<Output = Result<T, E>>,
    I: IntoIterator<Item = CoroutineCall<F>>,
{
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
                    n.start_soon(CoroutineCall::internal(
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
                                Err(e) if e.is_cancel_requested() && winner.borrow().is_some() => {}
                                Err(e) => errors.borrow_mut().push(e),
                            }
                            Ok::<(), E>(())
                        },
                        name.prefix,
                        name.name,
                    ));
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
