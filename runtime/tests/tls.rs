//! TLS through the public API (`scoro::tls`, feature `rustls`): handshakes over loopback TCP
//! with certificates made at test time, large transfers, cancelled reads, writes and
//! handshakes, failed handshakes, and the end of a session with and without `close_notify`.

#![cfg(feature = "rustls")]

use scoro::io::{Read, Write};
use scoro::net::{TcpListener, TcpStream};
use scoro::testing::wait_all_tasks_blocked;
use scoro::tls::rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName};
use scoro::tls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use scoro::tls::{self, TlsStream};
use scoro::{CancelScope, MaybeCancelled, current_time, join, move_on_after, nursery, structured};
use std::io;
use std::sync::Arc;
use std::time::Duration;

const ALPN: &[u8] = b"scoro-test";

/// A server configuration with a certificate for "localhost", and a client configuration that
/// trusts it.
struct Pki {
    cert: CertificateDer<'static>,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

impl Pki {
    fn new() -> Pki {
        let certified = rcgen::generate_simple_self_signed(["localhost".to_string()]).unwrap();
        let cert = certified.cert.der().clone();
        let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let mut server = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key.into())
            .unwrap();
        server.alpn_protocols = vec![ALPN.to_vec()];
        let mut roots = RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        let mut client = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![ALPN.to_vec()];
        Pki {
            cert,
            server: Arc::new(server),
            client: Arc::new(client),
        }
    }
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}

/// A stream in front of another whose writes the test can hold up: `stalled` makes them wait
/// (cancellably) for ever, `paced` makes each one wait a second (on the runtime clock) and
/// then write at most that many bytes. Either way a cancelled write has written nothing.
#[derive(Debug)]
struct Gated<S> {
    inner: S,
    stalled: bool,
    paced: Option<usize>,
}

impl<S> Gated<S> {
    fn new(inner: S) -> Self {
        Gated {
            inner,
            stalled: false,
            paced: None,
        }
    }
}

#[structured]
impl<S: Read> Read for Gated<S> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).await
    }
}

#[structured]
impl<S: Write> Write for Gated<S> {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stalled {
            scoro::sleep_forever().await?;
        }
        match self.paced {
            Some(most) => {
                scoro::sleep(Duration::from_secs(1)).await?;
                let n = buf.len().min(most);
                self.inner.write(&buf[..n]).await
            }
            None => self.inner.write(buf).await,
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        self.inner.shutdown().await
    }
}

type Stream = TlsStream<Gated<TcpStream>>;

/// A client and a server session over loopback TCP, handshakes done.
#[structured]
async fn tls_pair(pki: &Pki) -> io::Result<(Stream, Stream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let (client, server) = join((
        tls::connect(pki.client.clone(), localhost(), Gated::new(client)),
        tls::accept(pki.server.clone(), Gated::new(server)),
    ))
    .await?;
    Ok((client, server))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[scoro::test]
async fn a_megabyte_goes_there_and_back_over_loopback() -> io::Result<()> {
    let pki = Pki::new();
    let message = pattern(1 << 20);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    nursery(async |n| -> io::Result<()> {
        // The server reads the whole message, then sends it back, until the client ends
        // the session.
        n.start_soon(async {
            let (tcp, _) = listener.accept().await?;
            let mut tls = tls::accept(pki.server.clone(), tcp).await?;
            assert_eq!(tls.conn().alpn_protocol(), Some(ALPN));
            assert!(tls.conn().peer_certificates().is_none(), "no client auth");
            let mut received = vec![0; message.len()];
            tls.read_exact(&mut received).await?;
            tls.write_all(&received).await?;
            let mut rest = Vec::new();
            assert_eq!(
                tls.read_to_end(&mut rest).await?,
                0,
                "close_notify, nothing more"
            );
            tls.shutdown().await
        });
        let tcp = TcpStream::connect(addr).await?;
        let mut tls = tls::connect(pki.client.clone(), localhost(), tcp).await?;
        assert_eq!(tls.conn().alpn_protocol(), Some(ALPN));
        assert_eq!(
            tls.conn().protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        assert_eq!(
            tls.conn().peer_certificates(),
            Some(&[pki.cert.clone()][..])
        );
        assert!(format!("{tls:?}").contains("client"));
        tls.write_all(&message).await?;
        tls.flush().await?;
        let mut echoed = vec![0; message.len()];
        tls.read_exact(&mut echoed).await?;
        assert!(echoed == message, "the echo is the message");
        tls.shutdown().await?;
        let mut rest = Vec::new();
        assert_eq!(tls.read_to_end(&mut rest).await?, 0);
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test]
async fn a_read_cancelled_before_the_peer_sends_loses_nothing() -> io::Result<()> {
    let pki = Pki::new();
    let (mut client, mut server) = tls_pair(&pki).await?;
    let mut buf = [0; 64];
    let scope = CancelScope::new();
    let handle = scope.handle();
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            let outcome = scope.run(client.read(&mut buf)).await;
            assert!(outcome.is_none(), "the read was cancelled: {outcome:?}");
            Ok::<(), io::Error>(())
        });
        // The read is blocked on the socket (it may have taken the server's session
        // tickets: records with no plaintext).
        wait_all_tasks_blocked().await?;
        handle.cancel();
        Ok(())
    })
    .await?;
    server.write_all(b"late bytes").await?;
    server.write_all(b", and more").await?;
    let mut text = vec![0; 20];
    client.read_exact(&mut text).await?;
    assert_eq!(text, b"late bytes, and more");
    Ok(())
}

#[scoro::test]
async fn a_read_cancelled_with_plaintext_waiting_takes_none_of_it() -> io::Result<()> {
    let pki = Pki::new();
    let (mut client, mut server) = tls_pair(&pki).await?;
    let message = pattern(100_000);
    server.write_all(&message).await?;
    server.shutdown().await?;
    let mut received = Vec::new();
    let mut buf = [0; 1000];
    let mut cancelled = 0;
    for i in 0.. {
        if i % 2 == 0 {
            // Cancelled before it starts: a checkpoint, and it takes nothing.
            let scope = CancelScope::new();
            let handle = scope.handle();
            let outcome = scope
                .run(async {
                    handle.cancel();
                    client.read(&mut buf).await
                })
                .await;
            assert!(outcome.is_none(), "cancelled: {outcome:?}");
            cancelled += 1;
        } else {
            let n = client.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buf[..n]);
        }
    }
    assert!(received == message, "every byte arrived, in order");
    assert!(cancelled > 100);
    Ok(())
}

#[scoro::test(autojump)]
async fn reads_cancelled_mid_record_lose_nothing() -> io::Result<()> {
    let pki = Pki::new();
    let (mut client, mut server) = tls_pair(&pki).await?;
    // The server sends its records 1000 bytes a second: the client's reads see partial
    // records and time out between the pieces.
    server.get_mut().paced = Some(1000);
    let message = pattern(40_000);
    let mut received = Vec::new();
    let mut cancelled = 0;
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            server.write_all(&message).await?;
            server.shutdown().await
        });
        let mut buf = [0; 4096];
        loop {
            match move_on_after(Duration::from_millis(300), client.read(&mut buf)).await {
                None => cancelled += 1,
                Some(n) => match n? {
                    0 => break,
                    n => received.extend_from_slice(&buf[..n]),
                },
            }
        }
        Ok(())
    })
    .await?;
    assert!(received == message, "every byte arrived, in order");
    assert!(cancelled >= 40, "{cancelled} reads were cancelled");
    Ok(())
}

#[scoro::test(autojump)]
async fn a_cancelled_write_takes_all_of_the_plaintext_or_none() -> io::Result<()> {
    let pki = Pki::new();
    let (mut client, mut server) = tls_pair(&pki).await?;
    client.get_mut().stalled = true;
    // The plaintext is taken, its record cannot be sent: the write is cut short but says
    // it took the bytes.
    let first = move_on_after(Duration::from_secs(1), client.write(b"first")).await;
    assert_eq!(first.map(|r| r.unwrap()), Some(5));
    // The record of "first" is still pending: nothing of this one is taken.
    let second = move_on_after(Duration::from_secs(1), client.write(b"second")).await;
    assert!(second.is_none(), "{second:?}");
    // Cancelled before it starts: nothing taken either.
    let scope = CancelScope::new();
    let handle = scope.handle();
    let third = scope
        .run(async {
            handle.cancel();
            client.write(b"third").await
        })
        .await;
    assert!(third.is_none(), "{third:?}");
    let flushed = move_on_after(Duration::from_secs(1), client.flush()).await;
    assert!(flushed.is_none(), "the stream is still stalled");
    client.get_mut().stalled = false;
    client.write_all(b", last").await?;
    client.shutdown().await?;
    let mut text = String::new();
    server.read_to_string(&mut text).await?;
    assert_eq!(text, "first, last");
    Ok(())
}

#[scoro::test]
async fn an_untrusted_certificate_fails_the_handshake() -> io::Result<()> {
    let pki = Pki::new();
    // A client that trusts another certificate only.
    let other = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client_tcp = TcpStream::connect(listener.local_addr()?).await?;
    let (server_tcp, _) = listener.accept().await?;
    let mut server_error = None;
    let mut client_error = None;
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            server_error = tls::accept(pki.server.clone(), server_tcp).await.err();
            Ok::<(), io::Error>(())
        });
        client_error = tls::connect(other.client.clone(), localhost(), client_tcp)
            .await
            .err();
        Ok(())
    })
    .await?;
    let client_error = client_error.expect("the client refuses the certificate");
    assert_eq!(client_error.kind(), io::ErrorKind::InvalidData);
    let message = client_error.to_string();
    assert!(message.starts_with("TLS handshake failed"), "{message}");
    assert!(message.contains("invalid peer certificate"), "{message}");
    // The client said why: the server's handshake fails with the alert it sent.
    let server_error = server_error.expect("the server's handshake fails too");
    assert_eq!(server_error.kind(), io::ErrorKind::InvalidData);
    assert!(
        server_error.to_string().contains("received fatal alert"),
        "{server_error}"
    );
    Ok(())
}

#[scoro::test]
async fn a_certificate_for_another_name_fails_the_handshake() -> io::Result<()> {
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client_tcp = TcpStream::connect(listener.local_addr()?).await?;
    let (server_tcp, _) = listener.accept().await?;
    let mut client_error = None;
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            let _ = tls::accept(pki.server.clone(), server_tcp).await;
            Ok::<(), io::Error>(())
        });
        let name = ServerName::try_from("example.org").unwrap();
        client_error = tls::connect(pki.client.clone(), name, client_tcp)
            .await
            .err();
        Ok(())
    })
    .await?;
    let e = client_error.expect("the name does not match");
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("not valid for name"), "{e}");
    Ok(())
}

#[scoro::test(autojump)]
async fn a_handshake_with_a_silent_peer_times_out() -> io::Result<()> {
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    // The client's peer accepts the connection and never answers.
    let client_tcp = TcpStream::connect(listener.local_addr()?).await?;
    let (_silent_server, _) = listener.accept().await?;
    let start = current_time();
    let outcome = move_on_after(
        Duration::from_secs(10),
        tls::connect(pki.client.clone(), localhost(), client_tcp),
    )
    .await;
    assert!(outcome.is_none(), "the handshake timed out");
    assert_eq!(current_time() - start, Duration::from_secs(10));
    // The same on the server side: a client that connects and says nothing.
    let _silent_client = TcpStream::connect(listener.local_addr()?).await?;
    let (server_tcp, _) = listener.accept().await?;
    let start = current_time();
    let outcome = move_on_after(
        Duration::from_secs(10),
        tls::accept(pki.server.clone(), server_tcp),
    )
    .await;
    assert!(outcome.is_none(), "the handshake timed out");
    assert_eq!(current_time() - start, Duration::from_secs(10));
    Ok(())
}

#[scoro::test]
async fn a_peer_that_hangs_up_during_the_handshake_fails_it() -> io::Result<()> {
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client_tcp = TcpStream::connect(listener.local_addr()?).await?;
    drop(listener.accept().await?);
    let e = tls::connect(pki.client.clone(), localhost(), client_tcp)
        .await
        .unwrap_err();
    assert!(!e.is_cancel_requested());
    // The peer's end is closed: either the client's hello is refused (reset) or the
    // client reads the end of the stream.
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            assert!(e.to_string().contains("TLS handshake failed"), "{e}")
        }
        kind => assert!(
            matches!(
                kind,
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{e}"
        ),
    }
    Ok(())
}

#[scoro::test]
async fn close_notify_ends_the_stream_cleanly() -> io::Result<()> {
    let pki = Pki::new();
    let (mut client, mut server) = tls_pair(&pki).await?;
    server.write_all(b"goodbye").await?;
    server.shutdown().await?;
    let mut text = String::new();
    client.read_to_string(&mut text).await?;
    assert_eq!(text, "goodbye");
    // Still the end, however often it is asked.
    assert_eq!(client.read(&mut [0; 8]).await?, 0);
    // The other direction is still open.
    client.write_all(b"see you").await?;
    client.shutdown().await?;
    text.clear();
    server.read_to_string(&mut text).await?;
    assert_eq!(text, "see you");
    Ok(())
}

#[scoro::test]
async fn an_end_of_stream_without_close_notify_is_an_error() -> io::Result<()> {
    let pki = Pki::new();
    let (mut client, mut server) = tls_pair(&pki).await?;
    server.write_all(b"partial").await?;
    // The connection ends without `close_notify`: what arrived may be cut short.
    let mut tcp = server.into_inner();
    tcp.shutdown().await?;
    let mut received = Vec::new();
    let e = client.read_to_end(&mut received).await.unwrap_err();
    assert_eq!(received, b"partial", "what arrived is handed out first");
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert!(e.to_string().contains("close_notify"), "{e}");
    drop(tcp);
    Ok(())
}

#[scoro::test]
async fn tls_calls_are_checkpoints() -> io::Result<()> {
    let pki = Pki::new();
    let (mut client, mut server) = tls_pair(&pki).await?;
    server.write_all(b"ready").await?;
    let mut buf = [0; 8];
    for op in 0..5 {
        let scope = CancelScope::new();
        let handle = scope.handle();
        let cancelled = scope
            .run(async {
                handle.cancel();
                match op {
                    0 => client.read(&mut buf).await.map(drop),
                    1 => client.read(&mut []).await.map(drop),
                    2 => client.write(&[]).await.map(drop),
                    3 => client.flush().await,
                    _ => client.shutdown().await,
                }
            })
            .await
            .is_none();
        assert!(cancelled, "call {op} is a checkpoint");
    }
    // Nothing was lost, and the session was not ended.
    client.read_exact(&mut buf[..5]).await?;
    assert_eq!(&buf[..5], b"ready");
    client.write_all(b"still here").await?;
    let mut text = [0; 10];
    server.read_exact(&mut text).await?;
    assert_eq!(&text, b"still here");
    Ok(())
}

#[scoro::test]
async fn tls_1_2_works_too() -> io::Result<()> {
    let pki = Pki::new();
    let mut roots = RootCertStore::empty();
    roots.add(pki.cert.clone()).unwrap();
    let client_config = ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
        .with_root_certificates(roots)
        .with_no_client_auth();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client_tcp = TcpStream::connect(listener.local_addr()?).await?;
    let (server_tcp, _) = listener.accept().await?;
    let (mut client, mut server) = join((
        tls::connect(Arc::new(client_config), localhost(), client_tcp),
        tls::accept(pki.server.clone(), server_tcp),
    ))
    .await?;
    assert_eq!(
        client.conn().protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let message = pattern(100_000);
    client.write_all(&message).await?;
    client.shutdown().await?;
    let mut received = Vec::new();
    server.read_to_end(&mut received).await?;
    assert!(received == message);
    server.write_all(b"ok").await?;
    server.shutdown().await?;
    let mut text = String::new();
    client.read_to_string(&mut text).await?;
    assert_eq!(text, "ok");
    Ok(())
}
