//! Networking and I/O through the public API: TCP, UDP and Unix sockets, timeouts around
//! reads, split streams, Happy Eyeballs, `serve_tcp`, raw descriptor waits and `BufReader`.
//! Only loopback addresses and Unix sockets are used.

use scoro::io::{BufReader, Read, Write};
use scoro::lowlevel::{wait_readable, wait_writable};
use scoro::net::{
    TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream, connect_happy_eyeballs,
    open_tcp_stream, serve_tcp,
};
use scoro::testing::wait_all_tasks_blocked;
use scoro::{
    CancelReason, CancelRequested, CancelScope, CoroutineCall, MaybeCancelled, current_time,
    move_on_after, nursery, structured,
};
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

mod common;
use common::yields;

#[structured]
async fn echo(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = [0; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return stream.shutdown().await;
        }
        stream.write_all(&buf[..n]).await?;
    }
}

#[structured]
async fn echo_client(addr: SocketAddr, id: usize) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    let message: Vec<u8> = format!("client {id} says hello; ")
        .repeat(20 + id % 7)
        .into_bytes();
    let (mut reader, mut writer) = stream.split();
    let mut echoed = Vec::new();
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            writer.write_all(&message).await?;
            writer.shutdown().await
        });
        reader.read_to_end(&mut echoed).await?;
        Ok(())
    })
    .await?;
    assert_eq!(echoed, message, "client {id} got its own bytes back");
    Ok(())
}

#[scoro::test]
async fn tcp_echo_serves_many_concurrent_clients() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = CancelScope::new();
    let stop = server.handle();
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            let outcome = server.run(serve_tcp(listener, echo)).await;
            assert!(outcome.is_none(), "the server stops only by cancellation");
            Ok::<(), io::Error>(())
        });
        nursery(async |clients| -> io::Result<()> {
            for id in 0..100 {
                clients.start_soon(echo_client(addr, id));
            }
            Ok(())
        })
        .await?;
        stop.cancel();
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test(autojump)]
async fn a_read_that_times_out_leaves_the_stream_usable() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut client = TcpStream::connect(listener.local_addr()?).await?;
    let (mut server, _) = listener.accept().await?;
    let mut buf = [0; 16];
    let start = current_time();
    let timed_out = move_on_after(Duration::from_secs(5), client.read(&mut buf)).await;
    assert!(
        timed_out.is_none(),
        "nothing was written, so the read timed out"
    );
    assert_eq!(current_time() - start, Duration::from_secs(5));
    server.write_all(b"late bytes").await?;
    let n = client.read(&mut buf).await?;
    assert_eq!(&buf[..n], b"late bytes");
    Ok(())
}

#[scoro::test]
async fn a_peer_that_closes_mid_transfer_gives_an_error() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut client = TcpStream::connect(listener.local_addr()?).await?;
    {
        let (mut server, _) = listener.accept().await?;
        server.write_all(b"partial").await?;
        client.write_all(b"1234 and more that nobody reads").await?;
        let mut first = [0; 4];
        server.read_exact(&mut first).await?;
        // Dropped with unread data: the kernel resets the connection.
    }
    // The reader sees the bytes that made it, then the end (or the reset).
    let mut buf = [0; 64];
    let mut got = Vec::new();
    let read_error = loop {
        match client.read(&mut buf).await {
            Ok(0) => break None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break Some(e),
        }
    };
    assert!(got.is_empty() || got == b"partial");
    if let Some(e) = read_error {
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    }
    // Writing into the dead connection fails cleanly, never panics.
    let big = vec![7u8; 1 << 20];
    let mut write_error = None;
    for _ in 0..64 {
        if let Err(e) = client.write_all(&big).await {
            write_error = Some(e);
            break;
        }
    }
    let e = write_error.expect("writing to a closed connection eventually fails");
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "unexpected error: {e}"
    );
    // A read_exact that cannot be satisfied names the problem.
    let mut rest = [0; 8];
    let e = client.read_exact(&mut rest).await.unwrap_err();
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        ),
        "unexpected error: {e}"
    );
    Ok(())
}

#[scoro::test]
async fn read_exact_reports_how_much_arrived() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut client = TcpStream::connect(listener.local_addr()?).await?;
    let (mut server, _) = listener.accept().await?;
    server.write_all(b"abc").await?;
    server.shutdown().await?;
    let mut buf = [0; 8];
    let e = client.read_exact(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert!(e.to_string().contains("3 of the 8 bytes"), "{e}");
    Ok(())
}

#[scoro::test]
async fn split_halves_are_used_by_two_children_at_once() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut client = TcpStream::connect(addr).await?;
    let (server, _) = listener.accept().await?;
    let (mut reader, mut writer) = client.split();
    let received = Cell::new(0usize);
    nursery(async |n| -> io::Result<()> {
        n.start_soon(echo(server));
        n.start_soon(async {
            for i in 0..200u32 {
                writer.write_all(&i.to_be_bytes()).await?;
            }
            writer.shutdown().await
        });
        n.start_soon(async {
            let mut word = [0; 4];
            for i in 0..200u32 {
                reader.read_exact(&mut word).await?;
                assert_eq!(u32::from_be_bytes(word), i);
                received.set(received.get() + 1);
            }
            let mut end = [0; 1];
            assert_eq!(reader.read(&mut end).await?, 0);
            Ok::<(), io::Error>(())
        });
        Ok(())
    })
    .await?;
    assert_eq!(received.get(), 200);
    Ok(())
}

#[scoro::test]
async fn two_readers_of_one_socket_is_an_error() -> io::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let outcome = move_on_after(
        Duration::from_millis(200),
        nursery(async |n| -> io::Result<()> {
            n.start_soon(async {
                let mut buf = [0; 8];
                socket.recv_from(&mut buf).await.map(drop)
            });
            wait_all_tasks_blocked().await?;
            let mut buf = [0; 8];
            socket.recv_from(&mut buf).await.map(drop)
        }),
    )
    .await;
    let group = outcome
        .expect("the second reader fails at once")
        .unwrap_err();
    assert_eq!(group.first().kind(), io::ErrorKind::ResourceBusy);
    Ok(())
}

#[scoro::test]
async fn udp_round_trip() -> io::Result<()> {
    let a = UdpSocket::bind("127.0.0.1:0").await?;
    let b = UdpSocket::bind(("127.0.0.1", 0)).await?;
    assert_eq!(a.send_to(b"ping", b.local_addr()?).await?, 4);
    let mut buf = [0; 16];
    let (n, from) = b.recv_from(&mut buf).await?;
    assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
    b.send_to(b"pong", from).await?;
    let (n, from) = a.recv_from(&mut buf).await?;
    assert_eq!((&buf[..n], from), (&b"pong"[..], b.local_addr()?));
    Ok(())
}

#[scoro::test]
async fn unix_socket_round_trip() -> io::Result<()> {
    let path = std::env::temp_dir().join(format!(
        "scoro-net-test-{}-{:?}.sock",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).await?;
    let outcome = nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            let (mut conn, _) = listener.accept().await?;
            let mut reader = BufReader::new(&mut conn);
            let mut line = String::new();
            reader.read_line(&mut line).await?;
            reader.write_all(line.to_uppercase().as_bytes()).await
        });
        let mut client = UnixStream::connect(&path).await?;
        client.write_all(b"shout this\n").await?;
        let mut answer = String::new();
        client.read_to_string(&mut answer).await?;
        assert_eq!(answer, "SHOUT THIS\n");
        Ok(())
    })
    .await;
    std::fs::remove_file(&path)?;
    outcome?;

    let (mut a, mut b) = UnixStream::pair()?;
    let (mut a_reader, mut a_writer) = a.split();
    a_writer.write_all(b"to b").await?;
    let mut buf = [0; 4];
    b.read_exact(&mut buf).await?;
    b.write_all(b"to a").await?;
    a_reader.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"to a");
    Ok(())
}

#[scoro::test]
async fn connecting_to_a_closed_port_is_a_clear_error() -> io::Result<()> {
    let addr = closed_port();
    let e = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
    let e = open_tcp_stream("127.0.0.1", addr.port()).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    let e = TcpStream::connect("127.0.0.1").await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    Ok(())
}

/// A loopback address where nothing listens.
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A loopback listener whose accept queue is full, so that new connections hang (their SYNs
/// are dropped). The returned values must live as long as the listener should stay full.
fn full_listener() -> (std::net::TcpListener, Vec<std::net::TcpStream>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: `l` owns a valid listening socket; `listen` only changes its backlog.
    let r = unsafe { libc::listen(l.as_raw_fd(), 0) };
    assert_eq!(r, 0);
    let addr = l.local_addr().unwrap();
    let mut fillers = Vec::new();
    // With a backlog of 0 the queue holds one connection; a few more make sure it is full.
    while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        fillers.push(s);
        assert!(fillers.len() < 16, "could not fill the accept queue");
    }
    (l, fillers)
}

#[scoro::test(autojump)]
async fn happy_eyeballs_skips_a_refusing_and_a_slow_address() -> io::Result<()> {
    let refusing = closed_port();
    let (slow, _fillers) = full_listener();
    let good = TcpListener::bind("127.0.0.1:0").await?;
    let addrs = [refusing, slow.local_addr()?, good.local_addr()?];
    let start = current_time();
    let stream = connect_happy_eyeballs(&addrs, Duration::from_millis(250)).await?;
    let elapsed = current_time() - start;
    assert_eq!(stream.peer_addr()?, good.local_addr()?);
    // The refusal lets the slow attempt start at once; the slow one holds the next attempt
    // back by one stagger delay (two if the refusal were noticed only after the first).
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed <= Duration::from_millis(500),
        "took {elapsed:?}"
    );
    let (accepted, _) = good.accept().await?;
    assert_eq!(accepted.peer_addr()?, stream.local_addr()?);
    Ok(())
}

#[scoro::test(autojump)]
async fn happy_eyeballs_reports_every_failure() -> io::Result<()> {
    let addrs = [closed_port(), closed_port()];
    let e = connect_happy_eyeballs(&addrs, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    let text = e.to_string();
    assert!(text.contains("all 2 connection attempts failed"), "{text}");
    for a in addrs {
        assert!(text.contains(&a.to_string()), "{text}");
    }
    Ok(())
}

#[scoro::test(autojump)]
async fn happy_eyeballs_can_be_cancelled() -> io::Result<()> {
    let (slow, _fillers) = full_listener();
    let addrs = [slow.local_addr()?];
    let start = current_time();
    let outcome = move_on_after(
        Duration::from_secs(3),
        connect_happy_eyeballs(&addrs, Duration::from_millis(250)),
    )
    .await;
    assert!(outcome.is_none());
    assert_eq!(current_time() - start, Duration::from_secs(3));
    Ok(())
}

#[scoro::test]
async fn lookup_resolves_localhost_on_a_worker_thread() -> io::Result<()> {
    let addrs = scoro::net::lookup_host(("localhost", 9)).await?;
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 9));
    let listener = TcpListener::bind(("localhost", 0)).await?;
    assert!(listener.local_addr()?.ip().is_loopback());
    Ok(())
}

#[structured]
async fn guarded_echo(
    stream: TcpStream,
    open: &Cell<usize>,
    closed: &Cell<usize>,
) -> io::Result<()> {
    open.set(open.get() + 1);
    struct Closed<'a>(&'a Cell<usize>);
    impl Drop for Closed<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let _closed = Closed(closed);
    echo(stream).await
}

#[scoro::test]
async fn serve_tcp_stops_cleanly_when_its_nursery_is_cancelled() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let open = Cell::new(0);
    let closed = Cell::new(0);
    let server_result = Cell::new(None);
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            let e = serve_tcp(listener, |s| guarded_echo(s, &open, &closed))
                .await
                .unwrap_err();
            server_result.set(Some(e.is_cancel_requested()));
            Err::<(), _>(e)
        });
        // Three idle connections, each held open by a handler.
        let mut clients = Vec::new();
        for _ in 0..3 {
            let mut c = TcpStream::connect(addr).await?;
            c.write_all(b"x").await?;
            let mut one = [0; 1];
            c.read_exact(&mut one).await?;
            clients.push(c);
        }
        assert_eq!(open.get(), 3);
        n.cancel();
        Ok(())
    })
    .await?;
    assert_eq!(closed.get(), 3, "every handler ran its cleanup");
    assert_eq!(server_result.get(), Some(true));
    Ok(())
}

#[scoro::test]
async fn wait_readable_and_writable_on_a_raw_descriptor() -> io::Result<()> {
    let (mut a, b) = std::os::unix::net::UnixStream::pair()?;
    b.set_nonblocking(true)?;
    wait_writable(b.as_raw_fd()).await?;
    let woke = Cell::new(false);
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            wait_readable(b.as_raw_fd()).await?;
            woke.set(true);
            Ok::<(), io::Error>(())
        });
        wait_all_tasks_blocked().await?;
        assert!(!woke.get());
        // A second reader of the same descriptor is refused, while the first keeps waiting.
        let e = wait_readable(b.as_raw_fd()).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
        // Writing in the other direction while a reader waits works.
        wait_writable(b.as_raw_fd()).await?;
        std::io::Write::write_all(&mut a, b"!")?;
        Ok(())
    })
    .await?;
    assert!(woke.get());
    // Already readable: returns without new data arriving.
    wait_readable(b.as_raw_fd()).await?;
    wait_readable(b.as_raw_fd()).await?;
    Ok(())
}

#[scoro::test(autojump)]
async fn a_cancelled_wait_readable_unregisters() -> io::Result<()> {
    let (_a, b) = std::os::unix::net::UnixStream::pair()?;
    for _ in 0..3 {
        let outcome = move_on_after(Duration::from_secs(1), wait_readable(b.as_raw_fd())).await;
        assert!(outcome.is_none());
    }
    Ok(())
}

#[scoro::test(autojump)]
async fn a_cancelled_read_line_loses_nothing() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (mut server, _) = listener.accept().await?;
    let mut reader = BufReader::with_capacity(4, client);
    server.write_all(b"a long li").await?;
    let mut line = String::new();
    let outcome = move_on_after(Duration::from_secs(1), reader.read_line(&mut line)).await;
    assert!(outcome.is_none(), "the line is not complete yet");
    assert_eq!(line, "", "nothing was handed out");
    server.write_all(b"ne\nnext\n").await?;
    assert_eq!(reader.read_line(&mut line).await?, 12);
    assert_eq!(line, "a long line\n");
    line.clear();
    reader.read_line(&mut line).await?;
    assert_eq!(line, "next\n");
    Ok(())
}

#[scoro::test]
async fn io_operations_are_checkpoints() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut client = TcpStream::connect(listener.local_addr()?).await?;
    let (mut server, _) = listener.accept().await?;
    server.write_all(b"ready").await?;
    let scope = CancelScope::new();
    let handle = scope.handle();
    let mut buf = [0; 8];
    let outcome = scope
        .run(async {
            handle.cancel();
            // Data is waiting, but a cancelled read reads nothing.
            client.read(&mut buf).await
        })
        .await;
    assert!(outcome.is_none());
    assert_eq!(client.read(&mut buf).await?, 5);
    Ok(())
}

#[test]
fn a_socket_used_in_another_run_fails_cleanly() {
    #[structured]
    async fn make() -> io::Result<UdpSocket> {
        UdpSocket::bind("127.0.0.1:0").await
    }
    #[structured]
    async fn use_it(socket: &UdpSocket) -> io::Result<usize> {
        socket.send_to(b"x", socket.local_addr()?).await
    }
    let socket = scoro::run(make()).unwrap();
    let e = scoro::run(use_it(&socket)).unwrap_err();
    assert!(e.to_string().contains("another scoro run"), "{e}");
    drop(socket);
}

#[scoro::test]
async fn cancelling_a_blocked_accept_returns_the_cancellation() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let reason = Cell::new(None);
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            let e = listener.accept().await.unwrap_err();
            reason.set(CancelRequested::try_from(&e).ok().map(|c| c.reason()));
            Err::<(), _>(e)
        });
        wait_all_tasks_blocked().await?;
        n.cancel();
        Ok(())
    })
    .await?;
    assert_eq!(reason.get(), Some(CancelReason::Explicit));
    Ok(())
}

#[scoro::test]
async fn waiting_on_a_bad_descriptor_is_an_error() {
    for fd in [-1, 1_000_000] {
        let e = wait_readable(fd).await.unwrap_err();
        assert!(!e.is_cancel_requested(), "{e}");
        let e = wait_writable(fd).await.unwrap_err();
        assert!(!e.is_cancel_requested(), "{e}");
    }
}

/// Runs `op` in a scope cancelled just before, and returns the cancellation `op` reported
/// (`None` if it returned something else: it was no checkpoint).
#[structured]
async fn in_cancelled_scope<T, F>(op: CoroutineCall<F>) -> Option<CancelReason>
where
    T: std::fmt::Debug,
    F: Future<Output = io::Result<T>>,
{
    let scope = CancelScope::new();
    let handle = scope.handle();
    let reason = Cell::new(None);
    let outcome = scope
        .run(async {
            handle.cancel();
            let r = op.await;
            match &r {
                Err(e) => reason.set(CancelRequested::try_from(e).ok().map(|c| c.reason())),
                Ok(v) => println!("not a checkpoint: returned Ok({v:?})"),
            }
            r
        })
        .await;
    assert_eq!(outcome.is_none(), reason.get().is_some());
    reason.get()
}

// Every call that can block is a checkpoint, whatever its arguments (Trio's rule for
// zero-length sends and receives): with an empty buffer, `read_exact` and `write_all` still
// report a cancellation, and still yield, on buffers and on sockets alike.
#[scoro::test]
async fn empty_read_exact_and_write_all_are_checkpoints() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut client = TcpStream::connect(listener.local_addr()?).await?;
    let (mut server, _) = listener.accept().await?;
    let explicit = Some(CancelReason::Explicit);

    assert_eq!(
        in_cancelled_scope((&mut &b"abc"[..]).read_exact(&mut [])).await,
        explicit
    );
    assert_eq!(
        in_cancelled_scope(client.read_exact(&mut [])).await,
        explicit
    );
    assert_eq!(
        in_cancelled_scope(Vec::new().write_all(&[])).await,
        explicit
    );
    assert_eq!(in_cancelled_scope(server.write_all(&[])).await, explicit);

    assert!(yields((&mut &b"abc"[..]).read_exact(&mut [])).await);
    assert!(yields(client.read_exact(&mut [])).await);
    assert!(yields(Vec::new().write_all(&[])).await);
    assert!(yields(server.write_all(&[])).await);

    // Outside a cancelled scope they succeed and move nothing: the stream is intact.
    client.read_exact(&mut []).await?;
    server.write_all(&[]).await?;
    server.write_all(b"x").await?;
    let mut one = [0; 1];
    client.read_exact(&mut one).await?;
    assert_eq!(&one, b"x");
    Ok(())
}

// The other calls that take something that may be empty were already checkpoints through
// the read, write or wait they always do; this keeps them so.
#[scoro::test]
async fn other_calls_with_empty_arguments_are_checkpoints() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut client = TcpStream::connect(listener.local_addr()?).await?;
    let (mut server, _) = listener.accept().await?;
    let udp = UdpSocket::bind("127.0.0.1:0").await?;
    let to = udp.local_addr()?;
    let explicit = Some(CancelReason::Explicit);

    assert_eq!(in_cancelled_scope(server.write(&[])).await, explicit);
    assert_eq!(in_cancelled_scope(client.read(&mut [])).await, explicit);
    assert_eq!(in_cancelled_scope(Vec::new().write(&[])).await, explicit);
    assert_eq!(
        in_cancelled_scope((&mut &b""[..]).read(&mut [])).await,
        explicit
    );
    let mut bytes = Vec::new();
    assert_eq!(
        in_cancelled_scope((&mut &b""[..]).read_to_end(&mut bytes)).await,
        explicit
    );
    let mut text = String::new();
    assert_eq!(
        in_cancelled_scope((&mut &b""[..]).read_to_string(&mut text)).await,
        explicit
    );
    let (mut from, mut into) = (&b""[..], Vec::new());
    assert_eq!(
        in_cancelled_scope(scoro::io::copy(&mut from, &mut into)).await,
        explicit
    );
    let mut reader = BufReader::new(&b""[..]);
    assert_eq!(
        in_cancelled_scope(reader.read_line(&mut text)).await,
        explicit
    );
    assert_eq!(
        in_cancelled_scope(reader.read_until(b'\n', &mut bytes)).await,
        explicit
    );
    assert_eq!(in_cancelled_scope(reader.read(&mut [])).await, explicit);
    assert_eq!(in_cancelled_scope(udp.send_to(&[], to)).await, explicit);

    assert!(yields(server.write(&[])).await);
    assert!(yields((&mut &b""[..]).read_to_end(&mut bytes)).await);
    assert!(yields(scoro::io::copy(&mut &b""[..], &mut Vec::new())).await);
    assert!(yields(BufReader::new(&b""[..]).read_line(&mut text)).await);
    assert!(yields(udp.send_to(&[], to)).await);
    let mut buf = [0; 4];
    let (n, _) = udp.recv_from(&mut buf).await?;
    assert_eq!(n, 0, "the empty datagram was sent");
    Ok(())
}

#[structured]
async fn panicking_handler(stream: TcpStream, served: &Cell<u32>) -> io::Result<()> {
    served.set(served.get() + 1);
    if served.get() == 2 {
        panic!("a bug in a connection handler");
    }
    // The first connection waits for more input, which never comes.
    let mut stream = stream;
    let mut buf = [0; 8];
    stream.read(&mut buf).await?;
    Ok(())
}

#[structured]
async fn serve_until_a_handler_panics(first_closed: &Cell<bool>) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let served = Cell::new(0);
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            match serve_tcp(listener, |s| panicking_handler(s, &served)).await {
                Ok(never) => match never {},
                Err(e) => Err::<(), io::Error>(e),
            }
        });
        let mut first = TcpStream::connect(addr).await?;
        wait_all_tasks_blocked().await?;
        n.start_soon(async move {
            // Closed when the panic cancels the server: the read ends (EOF or reset).
            let mut buf = [0; 8];
            let _ = first.read(&mut buf).await;
            first_closed.set(true);
            Ok::<(), io::Error>(())
        });
        let _second = TcpStream::connect(addr).await?;
        scoro::sleep_forever().await?;
        Ok(())
    })
    .await?;
    Ok(())
}

// A handler that panics is a bug, and a bug propagates like an error, with no exception for
// servers: the panic cancels the server (and every other connection's task), and once they
// have finished it reaches `run`.
#[test]
fn a_panicking_handler_takes_the_server_down_with_its_panic() {
    let first_closed = Cell::new(false);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scoro::run(serve_until_a_handler_panics(&first_closed))
    }));
    let payload = outcome.expect_err("the panic reaches `run`");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"a bug in a connection handler")
    );
    assert!(
        first_closed.get(),
        "the other connection's task ran to its end first"
    );
}
