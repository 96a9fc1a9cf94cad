//! `compat::tokio_future`: futures that need a tokio runtime (timers, sockets, channels,
//! `tokio::spawn`) run inside scoro tasks, and cancellation drops them.
#![cfg(feature = "tokio")]

use scoro::compat;
use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelRequested, CancelScope, nursery};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[scoro::test]
async fn tokio_timers_sockets_and_channels_work() {
    let out = compat::tokio_future(async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1);
        // A spawned tokio task serves one connection and reports what it read.
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut text = String::new();
            conn.read_to_string(&mut text).await.unwrap();
            tx.send(text).await.unwrap();
        });
        let mut client = tokio::net::TcpStream::connect(addr).await?;
        client.write_all(b"over tokio").await?;
        client.shutdown().await?;
        Ok::<String, Error>(rx.recv().await.unwrap_or_default())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out, "over tokio");
}

#[scoro::test]
async fn the_runtime_this_thread_is_in_is_used_first() {
    let own = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let id = own.handle().id();
    let seen = {
        let _in_own = own.enter();
        compat::tokio_future(async { tokio::runtime::Handle::current().id() })
    }
    .await
    .unwrap();
    assert_eq!(seen, id);
    let shared = compat::tokio_future(async { tokio::runtime::Handle::current().id() })
        .await
        .unwrap();
    assert_eq!(shared, compat::tokio_handle().id());
}

/// Sets its flag when dropped.
struct DropGuard(Arc<AtomicBool>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        // Dropped in tokio's context, as polls are.
        assert!(tokio::runtime::Handle::try_current().is_ok());
        self.0.store(true, Ordering::SeqCst);
    }
}

#[scoro::test]
async fn cancelling_drops_the_future_in_tokios_context() {
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = DropGuard(dropped.clone());
    let scope = CancelScope::new();
    let cancel = scope.handle();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            // The tokio sleep below is pending and its task parked.
            wait_all_tasks_blocked().await?;
            cancel.cancel();
            Ok::<(), CancelRequested>(())
        });
        let outcome = scope
            .run(compat::tokio_future(async move {
                let _guard = guard;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }))
            .await;
        assert!(outcome.is_none(), "cancelled");
        Ok(())
    })
    .await
    .unwrap();
    assert!(dropped.load(Ordering::SeqCst), "the future was dropped");
}

#[scoro::test]
async fn a_scoro_stream_through_poll_io_inside_tokio_future() {
    let listener = scoro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = scoro::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    let text = nursery(async |n| -> std::io::Result<String> {
        n.start_soon(async {
            let mut io = compat::poll_io(&mut server);
            compat::tokio_future(async {
                // A tokio timer and a scoro socket in one foreign future.
                tokio::time::sleep(Duration::from_millis(1)).await;
                io.write_all(b"mixed").await?;
                io.shutdown().await
            })
            .await?
        });
        let mut text = String::new();
        scoro::io::Read::read_to_string(&mut client, &mut text).await?;
        Ok(text)
    })
    .await
    .unwrap();
    assert_eq!(text, "mixed");
}
