//! The peers' executors.

use std::future::Future;

pub(crate) fn tokio_ct() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn tokio_mt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn smol_run<T>(
    f: impl for<'a> FnOnce(
        &'a smol::LocalExecutor<'static>,
    ) -> std::pin::Pin<Box<dyn Future<Output = T> + 'a>>,
) -> T {
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(f(&ex)))
}

/// Runs `f` as a spawned task (not as `block_on`'s own future, whose yields poll the driver).
pub(crate) async fn in_task<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    tokio::spawn(f).await.unwrap()
}
