//! `compat::poll_io`: scoro streams read and written by foreign futures run with
//! `compat::future`, woken by the runtime's I/O driver, and refused (with an error, never a
//! panic) away from the run that owns them.

use scoro::compat;
use scoro::io::{Read, Write};
use scoro::net::{TcpListener, TcpStream, UnixStream};
use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelRequested, CancelScope, nursery};
use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

#[scoro::test]
async fn a_foreign_read_waits_for_readiness_and_a_task_wakes_it() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let got = nursery(async |n| -> io::Result<Vec<u8>> {
        n.start_soon(async {
            // The reader below is parked: its waker sits in the driver.
            wait_all_tasks_blocked().await?;
            a.write_all(b"hello").await
        });
        let mut io = compat::poll_io(&mut b);
        let mut buf = [0; 16];
        let n = compat::future(poll_fn(|cx| io.poll_read(cx, &mut buf))).await??;
        Ok(buf[..n].to_vec())
    })
    .await
    .unwrap();
    assert_eq!(got, b"hello");
}

/// Writes all of `data` through the adapter, as a foreign future would.
async fn write_all_foreign(io: &mut compat::PollIo<'_, TcpStream>, data: &[u8]) -> io::Result<()> {
    let mut written = 0;
    while written < data.len() {
        written += poll_fn(|cx| io.poll_write(cx, &data[written..])).await?;
    }
    poll_fn(|cx| io.poll_shutdown(cx)).await
}

#[scoro::test]
async fn a_foreign_writer_waits_for_writability_and_shuts_down() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    // More than the socket buffers hold: the writer parks until the reader drains them.
    let data: Vec<u8> = (0..4 << 20).map(|i| i as u8).collect();
    let received = nursery(async |n| -> io::Result<Vec<u8>> {
        n.start_soon(async {
            let mut io = compat::poll_io(&mut server);
            compat::future(write_all_foreign(&mut io, &data)).await?
        });
        let mut received = Vec::new();
        client.read_to_end(&mut received).await?;
        Ok(received)
    })
    .await
    .unwrap();
    assert!(
        received == data,
        "every byte arrives, in order, then the end"
    );
}

#[scoro::test]
async fn polling_on_another_thread_is_an_error_not_a_panic() {
    let (mut a, _b) = UnixStream::pair().unwrap();
    let mut io = compat::poll_io(&mut a);
    let (read, write, shutdown) = std::thread::scope(|s| {
        s.spawn(|| {
            let mut cx = Context::from_waker(Waker::noop());
            let mut buf = [0; 4];
            (
                io.poll_read(&mut cx, &mut buf),
                io.poll_write(&mut cx, b"no"),
                io.poll_shutdown(&mut cx),
            )
        })
        .join()
        .unwrap()
    });
    assert!(matches!(read, Poll::Ready(Err(_))));
    assert!(matches!(write, Poll::Ready(Err(_))));
    assert!(matches!(shutdown, Poll::Ready(Err(_))));
    drop(io);
    // The stream is untouched and usable here.
    a.write_all(b"ok").await.unwrap();
}

#[scoro::test]
async fn polling_from_another_run_is_an_error_not_a_panic() {
    let (mut a, _b) = UnixStream::pair().unwrap();
    let mut io = compat::poll_io(&mut a);
    let read = std::thread::scope(|s| {
        s.spawn(|| {
            #[scoro::structured]
            async fn other_run(
                io: &mut compat::PollIo<'_, UnixStream>,
            ) -> Result<io::Result<usize>, CancelRequested> {
                let mut buf = [0; 4];
                compat::future(poll_fn(|cx| io.poll_read(cx, &mut buf))).await
            }
            scoro::run(other_run(&mut io))
        })
        .join()
        .unwrap()
    });
    assert!(matches!(read, Ok(Err(_))), "{read:?}");
}

#[scoro::test]
async fn cancelling_a_pending_foreign_read_leaves_the_stream_usable() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let dropped = AtomicBool::new(false);
    struct Guard<'a>(&'a AtomicBool);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let scope = CancelScope::new();
    let cancel = scope.handle();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            wait_all_tasks_blocked().await?;
            cancel.cancel();
            Ok::<(), CancelRequested>(())
        });
        let outcome = scope
            .run(async {
                let mut io = compat::poll_io(&mut b);
                let guard = Guard(&dropped);
                let mut buf = [0; 4];
                compat::future(poll_fn(|cx| {
                    let _keep = &guard;
                    io.poll_read(cx, &mut buf)
                }))
                .await
            })
            .await;
        assert!(outcome.is_none(), "cancelled");
        Ok(())
    })
    .await
    .unwrap();
    assert!(
        dropped.load(Ordering::SeqCst),
        "the foreign future was dropped"
    );
    // No stale waiter is left: a scoro read of the same stream waits and completes.
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            wait_all_tasks_blocked().await?;
            a.write_all(b"late").await
        });
        let mut buf = [0; 4];
        b.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"late");
        Ok(())
    })
    .await
    .unwrap();
}

#[scoro::test]
async fn split_halves_are_read_and_written_by_two_foreign_futures() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let (mut reader, mut writer) = b.split();
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            // Echo one message back, through the foreign adapters of both halves.
            let mut r = compat::poll_io(&mut reader);
            let mut w = compat::poll_io(&mut writer);
            let mut buf = [0; 4];
            let n = compat::future(poll_fn(|cx| r.poll_read(cx, &mut buf))).await??;
            let m = compat::future(poll_fn(|cx| w.poll_write(cx, &buf[..n]))).await??;
            assert_eq!(m, n);
            compat::future(poll_fn(|cx| w.poll_shutdown(cx))).await?
        });
        wait_all_tasks_blocked().await?;
        a.write_all(b"echo").await?;
        let mut back = String::new();
        a.read_to_string(&mut back).await?;
        assert_eq!(back, "echo");
        Ok(())
    })
    .await
    .unwrap();
}

#[cfg(feature = "futures-io")]
#[scoro::test]
async fn the_futures_io_traits() {
    use futures_io::{AsyncRead, AsyncWrite};
    use std::pin::Pin;
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let mut io = compat::poll_io(&mut a);
    compat::future(poll_fn(|cx| Pin::new(&mut io).poll_write(cx, b"traits")))
        .await
        .unwrap()
        .unwrap();
    compat::future(poll_fn(|cx| Pin::new(&mut io).poll_flush(cx)))
        .await
        .unwrap()
        .unwrap();
    compat::future(poll_fn(|cx| Pin::new(&mut io).poll_close(cx)))
        .await
        .unwrap()
        .unwrap();
    drop(io);
    let mut text = String::new();
    b.read_to_string(&mut text).await.unwrap();
    assert_eq!(text, "traits");
    let mut io = compat::poll_io(&mut b);
    let mut buf = [0; 4];
    // `a` shut down its sending side: `b` reads the end of the stream.
    let n = compat::future(poll_fn(|cx| Pin::new(&mut io).poll_read(cx, &mut buf)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
}

#[cfg(feature = "tokio")]
#[scoro::test]
async fn the_tokio_traits_with_tokios_extension_methods() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let received = nursery(async |n| -> io::Result<Vec<u8>> {
        n.start_soon(async {
            let mut io = compat::poll_io(&mut server);
            compat::future(async {
                io.write_all(&data).await?;
                io.flush().await?;
                io.shutdown().await
            })
            .await?
        });
        let mut io = compat::poll_io(&mut client);
        let mut received = Vec::new();
        compat::future(io.read_to_end(&mut received)).await??;
        Ok(received)
    })
    .await
    .unwrap();
    assert!(received == data);
}

#[scoro::test]
async fn a_forgotten_adapter_leaves_no_waiter_in_the_way() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    let (mut a, mut b) = UnixStream::pair().unwrap();
    let count = Arc::new(Count(AtomicUsize::new(0)));
    {
        // Hostile code: polled by hand, left pending, and forgotten, so its `Drop` never
        // takes the waker back out of the driver.
        let waker = Waker::from(count.clone());
        let mut io = compat::poll_io(&mut b);
        let mut buf = [0; 4];
        let polled = io.poll_read(&mut Context::from_waker(&waker), &mut buf);
        assert!(polled.is_pending(), "{polled:?}");
        std::mem::forget(io);
    }
    // A scoro read of the same stream takes the direction over (waking the stale waker, which
    // would retry and find the task there) and completes.
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            wait_all_tasks_blocked().await?;
            a.write_all(b"mine").await
        });
        let mut buf = [0; 4];
        b.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"mine");
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "the stale waker is woken once"
    );
    // And a new adapter works as well.
    let mut io = compat::poll_io(&mut b);
    a.write_all(b"next").await.unwrap();
    let mut buf = [0; 4];
    let n = compat::future(poll_fn(|cx| io.poll_read(cx, &mut buf)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"next");
}

#[scoro::test]
async fn a_waker_that_polls_scoro_io_when_woken_finds_the_driver_free() {
    use std::sync::{Arc, Mutex};
    use std::task::Wake;

    /// Hostile: when the runtime wakes it, it polls another scoro stream on the spot, from
    /// inside the runtime's own I/O step.
    struct Reentrant {
        other: Mutex<UnixStream>,
        seen: Mutex<Vec<String>>,
    }
    impl Wake for Reentrant {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            let mut other = self.other.lock().unwrap();
            let mut io = compat::poll_io(&mut *other);
            let mut buf = [0; 4];
            let outcome = match io.poll_read(&mut Context::from_waker(Waker::noop()), &mut buf) {
                Poll::Pending => "pending".to_string(),
                Poll::Ready(r) => format!("{r:?}"),
            };
            self.seen.lock().unwrap().push(outcome);
        }
    }

    let (mut a, mut b) = UnixStream::pair().unwrap();
    let (_c, d) = UnixStream::pair().unwrap();
    let (mut e, mut f) = UnixStream::pair().unwrap();
    let hostile = Arc::new(Reentrant {
        other: Mutex::new(d),
        seen: Mutex::new(Vec::new()),
    });
    let waker = Waker::from(hostile.clone());
    let mut io = compat::poll_io(&mut b);
    let mut buf = [0; 4];
    assert!(
        io.poll_read(&mut Context::from_waker(&waker), &mut buf)
            .is_pending()
    );
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            // Both streams become readable before the runtime next looks at I/O, so one look
            // wakes the hostile waker and the task below.
            wait_all_tasks_blocked().await?;
            a.write_all(b"ping").await?;
            e.write_all(b"pong").await
        });
        let mut pong = [0; 4];
        f.read_exact(&mut pong).await?;
        Ok(())
    })
    .await
    .unwrap();
    // Woken once, and its poll found the driver free (not "busy", not a panic): nothing to
    // read on its stream.
    assert_eq!(*hostile.seen.lock().unwrap(), ["pending"]);
    drop(io);
}
