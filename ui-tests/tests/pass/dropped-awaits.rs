//! Awaited values dropped by a statement: only a `Result` is an error (see
//! `fail/await-result-dropped.rs`); everything else compiles as in an `async fn`, including
//! generic values, blocks that never return, and `Result`s dropped under
//! `allow(unused_must_use)`.
#![deny(warnings)]

use scoro::{CancelRequested, nursery, structured};

#[structured]
async fn unit() {}

#[structured]
async fn maybe() -> Option<u32> {
    Some(1)
}

#[structured]
async fn fallible() -> Result<u32, CancelRequested> {
    Ok(2)
}

#[structured]
async fn identity<T>(value: T) -> T {
    value
}

#[structured]
async fn drop_generic<T>(value: T) {
    identity(value).await;
}

#[structured]
async fn diverge() {
    async { panic!("never awaited") }.await;
}

#[structured]
async fn spin() {
    (async {
        loop {
            scoro::checkpoint().await.ok();
        }
    })
    .await;
}

struct Wrapper<R>(R);

#[structured]
impl<R: Send> Wrapper<R> {
    async fn take(self) -> R {
        self.0
    }
}

#[structured]
async fn statements(never: bool) -> Result<u32, CancelRequested> {
    unit().await;
    maybe().await;
    drop_generic(fallible().await).await;
    identity(()).await;
    Wrapper(3u8).take().await;
    async {}.await;
    async { 1 }.await;
    let _ = fallible().await;
    fallible().await?;
    #[allow(unused_must_use)]
    fallible().await;
    #[allow(unused_must_use)]
    {
        identity(fallible().await).await;
    }
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            unit().await;
        });
        unit().await;
        Ok(())
    })
    .await
    .map_err(|group| group.into_first())?;
    if never {
        diverge().await;
        spin().await;
    }
    Ok(fallible().await? + 1)
}

fn main() {
    assert_eq!(scoro::run(statements(false)), Ok(3));
}
