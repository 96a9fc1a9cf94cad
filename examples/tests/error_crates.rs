//! `anyhow::Error` and `eyre::Report` as nursery and timeout-body errors (scoro's `anyhow` and
//! `eyre` features): `?` in both directions, and cancellation recognised through `context`
//! layers and through the groups `?` wraps on the way out of a nursery.

use anyhow::Context as _;
use scoro::{CancelRequested, ErrorGroup, MaybeCancelled, move_on_after, nursery, structured};
use std::io;
use std::time::Duration;

/// A real `CancelRequested`, which only the runtime can make.
#[structured]
async fn a_cancellation() -> CancelRequested {
    let scope = scoro::CancelScope::new();
    scope.handle().cancel();
    let seen = std::cell::Cell::new(None);
    scope
        .run(async {
            let r = scoro::checkpoint().await;
            seen.set(r.err());
            r
        })
        .await;
    seen.get().expect("a cancelled scope's checkpoint fails")
}

#[structured]
async fn wait_anyhow(ms: u64, fail: bool) -> anyhow::Result<u64> {
    scoro::sleep(Duration::from_millis(ms))
        .await
        .context("waiting")?;
    anyhow::ensure!(!fail, "failed after {ms} ms");
    Ok(ms)
}

#[structured]
async fn wait_io(ms: u64) -> io::Result<()> {
    scoro::sleep(Duration::from_millis(ms)).await?;
    Ok(())
}

#[structured]
async fn anyhow_nursery(fail: bool) -> anyhow::Result<()> {
    nursery(async |n| -> anyhow::Result<()> {
        n.start_soon(async {
            wait_anyhow(10, fail).await?;
            anyhow::Ok(())
        });
        n.start_soon(wait_io(20)); // io::Error converts into anyhow::Error
        n.start_soon(scoro::sleep(Duration::from_millis(30))); // and so does CancelRequested
        Ok(())
    })
    .await?; // ErrorGroup<anyhow::Error> converts into anyhow::Error
    Ok(())
}

#[scoro::test(autojump)]
async fn anyhow_is_a_nursery_and_timeout_error() -> anyhow::Result<()> {
    anyhow_nursery(false).await?;
    let e = anyhow_nursery(true).await.unwrap_err();
    assert_eq!(e.to_string(), "failed after 10 ms");
    assert!(!e.is_cancel_requested());
    // The timeout's cancellation went through `context`, through a group, through `?`: the
    // scope still recognises it.
    assert!(
        move_on_after(Duration::from_millis(15), anyhow_nursery(false))
            .await
            .is_none()
    );
    let t = move_on_after(Duration::from_millis(5), wait_anyhow(10, false)).await;
    assert!(t.is_none());
    Ok(())
}

#[test]
fn which_anyhow_errors_are_cancellations() {
    let c = scoro::run(a_cancellation());
    assert!(anyhow::Error::from(c).is_cancel_requested());
    assert!(
        anyhow::Error::from(c)
            .context("layer")
            .is_cancel_requested()
    );
    assert!(anyhow::Error::from(io::Error::from(c)).is_cancel_requested());
    assert!(!anyhow::anyhow!("disk on fire").is_cancel_requested());
    let g: ErrorGroup<anyhow::Error> = anyhow::Error::from(c).into();
    assert!(anyhow::Error::from(g).is_cancel_requested());
    let g: ErrorGroup<CancelRequested> = c.into();
    assert!(anyhow::Error::from(g).context("more").is_cancel_requested());
}

#[structured]
async fn wait_eyre(ms: u64, fail: bool) -> eyre::Result<u64> {
    use eyre::WrapErr as _;
    scoro::sleep(Duration::from_millis(ms))
        .await
        .wrap_err("waiting")?;
    if fail {
        eyre::bail!("failed after {ms} ms");
    }
    Ok(ms)
}

#[structured]
async fn eyre_nursery(fail: bool) -> eyre::Result<()> {
    nursery(async |n| -> eyre::Result<()> {
        n.start_soon(async {
            wait_eyre(10, fail).await?;
            eyre::Ok(())
        });
        n.start_soon(wait_io(20));
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test(autojump)]
async fn eyre_is_a_nursery_and_timeout_error() -> eyre::Result<()> {
    eyre_nursery(false).await?;
    let e = eyre_nursery(true).await.unwrap_err();
    assert_eq!(e.to_string(), "failed after 10 ms");
    assert!(!e.is_cancel_requested());
    assert!(
        move_on_after(Duration::from_millis(15), eyre_nursery(false))
            .await
            .is_none()
    );
    Ok(())
}
