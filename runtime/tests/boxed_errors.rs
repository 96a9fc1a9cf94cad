//! Boxed errors and cancellation: `?` may turn a nursery's group of cancellations into a
//! `Box<dyn Error + Send + Sync>`, and an enclosing scope must still see a cancellation in it.

use scoro::testing::MockClock;
use scoro::{Builder, CancelRequested, MaybeCancelled, move_on_after, nursery, structured};
use std::error::Error;
use std::io;
use std::time::Duration;

type BoxError = Box<dyn Error + Send + Sync>;

#[structured]
async fn work() -> Result<(), BoxError> {
    nursery(async |n| -> Result<(), BoxError> {
        n.start_soon(async {
            scoro::sleep_forever().await?;
            Ok::<(), BoxError>(())
        });
        scoro::sleep_forever().await?;
        Ok(())
    })
    .await?;
    Ok(())
}

#[structured]
async fn timed_out() -> Option<Result<(), BoxError>> {
    move_on_after(Duration::from_secs(1), work()).await
}

// The timeout's cancellation reaches the nursery's tasks, comes back as a group of
// cancellations, is boxed by `?`, and the timeout still recognises and catches it.
#[test]
fn a_boxed_group_of_cancellations_is_caught_by_its_timeout() {
    let mut rt = Builder::new()
        .clock(MockClock::autojump(Duration::ZERO))
        .build()
        .unwrap();
    assert!(rt.run(timed_out()).is_none());
}

#[structured]
async fn a_cancellation() -> CancelRequested {
    let scope = scoro::CancelScope::new();
    scope.handle().cancel();
    let mut got = None;
    scope
        .run(async {
            got = scoro::checkpoint().await.err();
            Ok::<(), CancelRequested>(())
        })
        .await;
    got.expect("a cancelled scope's checkpoint returns the cancellation")
}

// Which boxed groups count as cancelled: groups of `CancelRequested`, of `io::Error` and of
// boxed errors, when every member is a cancellation; never a group with a real error.
#[test]
fn boxed_groups_of_every_known_error_type_are_recognised() {
    let c = scoro::run(a_cancellation());
    let groups = scoro::run(make_groups(c));
    let [only_cancel, io_cancel, boxed_cancel, mixed] = groups;
    assert!(only_cancel.is_cancel_requested());
    assert!(io_cancel.is_cancel_requested());
    assert!(boxed_cancel.is_cancel_requested());
    assert!(!mixed.is_cancel_requested());
}

/// Groups made by real nurseries (a group has no public constructor): two children of each
/// failing with the given errors.
#[structured]
async fn group_of<E: MaybeCancelled + 'static>(
    a: impl FnOnce() -> E,
    b: impl FnOnce() -> E,
) -> BoxError
where
    scoro::ErrorGroup<E>: Error + Send + Sync,
{
    let (a, b) = (a(), b());
    let r = nursery(async |n| -> Result<(), E> {
        n.start_soon(async move { Err::<(), E>(a) });
        n.start_soon(async move { Err::<(), E>(b) });
        Ok(())
    })
    .await;
    Box::new(r.expect_err("both children failed"))
}

#[structured]
async fn make_groups(c: CancelRequested) -> [BoxError; 4] {
    [
        group_of(move || c, move || c).await,
        group_of(move || io::Error::from(c), move || io::Error::from(c)).await,
        group_of(move || BoxError::from(c), move || BoxError::from(c)).await,
        group_of(
            move || BoxError::from(c),
            || BoxError::from(io::Error::other("a real error")),
        )
        .await,
    ]
}
