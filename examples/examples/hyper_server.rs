//! An HTTP/1.1 server built with hyper over scoro's sockets: one task per connection, each
//! running hyper's connection future under `compat::tokio_future`, until Ctrl-C shuts it down.
//!
//! ```text
//! cargo run -p examples --example hyper_server [PORT]   # default: 8080
//! curl http://127.0.0.1:8080/hello                      # in another terminal
//! ```
//!
//! hyper reads and writes through poll-based I/O traits. `compat::poll_io(&mut stream)`
//! gives a scoro `TcpStream` tokio's `AsyncRead`/`AsyncWrite` (scoro's `tokio` feature), and
//! `hyper_util::rt::TokioIo` turns those into hyper's. The stream stays owned by the
//! connection's task; the adapter only borrows it.
//!
//! A client that connects and does not send a complete request head within ten seconds is
//! disconnected (hyper's `header_read_timeout`), so silent clients cannot pile up. hyper's
//! timers are tokio's here (`hyper_util::rt::TokioTimer`), which is why the connection runs
//! under `compat::tokio_future` rather than `compat::future`: that enters a tokio runtime
//! around each poll.
//!
//! On Ctrl-C the server stops accepting and cancels every connection. A cancelled
//! connection asks hyper for a graceful shutdown (finish the response in flight, then close
//! instead of waiting for the next request) and gets one second for it, shielded from the
//! cancellation; then the program exits.

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use scoro::net::{TcpListener, TcpStream, serve_tcp};
use scoro::signal::wait_for_ctrl_c;
use scoro::{CancelScope, compat, nursery, structured};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

/// How long a connection that is cancelled gets to finish its response.
const GRACE: Duration = Duration::from_secs(1);

/// How long a client has to send a complete request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers one request. A plain `async fn`: hyper polls it, inside the connection's future.
async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("hello from scoro, you asked for {}\n", req.uri().path());
    let mut response = Response::new(Full::new(Bytes::from(body)));
    if req.uri().path() == "/missing" {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    Ok(response)
}

/// Serves the requests of one connection until the client closes it, or the task is
/// cancelled. A failed connection is reported and ends only itself; a cancellation (the server
/// stopping) propagates.
#[structured]
async fn connection(mut stream: TcpStream, header_timeout: Duration) -> io::Result<()> {
    let peer = stream.peer_addr().ok();
    let io = TokioIo::new(compat::poll_io(&mut stream));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    // Pinned here, not moved into `compat::tokio_future`: a cancellation then drops only the
    // `Pin<&mut _>` handed to it, and the connection can still be shut down gracefully.
    let mut conn = pin!(builder.serve_connection(io, service_fn(hello)));
    match compat::tokio_future(conn.as_mut()).await {
        Ok(Ok(())) => Ok(()),
        // This client's connection failed (a reset, a malformed request): that ends it, not
        // the server.
        Ok(Err(e)) => {
            match peer {
                Some(peer) => eprintln!("{peer}: connection failed: {e}"),
                None => eprintln!("a connection failed: {e}"),
            }
            Ok(())
        }
        Err(cancel) => {
            conn.as_mut().graceful_shutdown();
            let finished = CancelScope::new()
                .with_shield(true)
                .with_timeout(GRACE)
                .run(compat::tokio_future(conn.as_mut()))
                .await;
            if let Some(peer) = peer {
                println!(
                    "{peer}: closed by the shutdown (gracefully: {})",
                    matches!(finished, Some(Ok(Ok(()))))
                );
            }
            Err(cancel.into())
        }
    }
}

/// Serves on `listener` until cancelled, giving each client `header_timeout` to send a
/// request head.
#[structured]
async fn serve(listener: TcpListener, header_timeout: Duration) -> io::Result<()> {
    match serve_tcp(listener, |stream| connection(stream, header_timeout)).await? {}
}

#[scoro::main]
async fn main() -> io::Result<()> {
    let port = examples::port_arg(8080)?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    println!("hyper on scoro, listening on http://{addr}/; Ctrl-C stops it");
    nursery(async |n| -> io::Result<()> {
        n.start_soon(serve(listener, HEADER_TIMEOUT));
        wait_for_ctrl_c().await?;
        println!("Ctrl-C: shutting down");
        n.cancel();
        Ok(())
    })
    .await?;
    println!("every connection is closed; bye");
    Ok(())
}

/// Sends `GET path` to `addr` with hyper's client, over a scoro `TcpStream`, and returns the
/// status and the body.
#[structured]
async fn get(addr: SocketAddr, path: &str) -> io::Result<(StatusCode, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let io = TokioIo::new(compat::poll_io(&mut stream));
    let (mut sender, conn) = compat::future(hyper::client::conn::http1::handshake(io))
        .await?
        .map_err(io::Error::other)?;
    let request = Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(io::Error::other)?;
    let answer = nursery(async |n| -> io::Result<(StatusCode, String)> {
        // The client's connection future does the I/O while the request waits for it.
        n.start_soon(async { compat::future(conn).await?.map_err(io::Error::other) });
        let response = compat::future(sender.send_request(request))
            .await?
            .map_err(io::Error::other)?;
        let status = response.status();
        let body = compat::future(response.into_body().collect())
            .await?
            .map_err(io::Error::other)?
            .to_bytes();
        // Dropping the sender lets the connection future finish.
        drop(sender);
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    })
    .await?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[scoro::test]
    async fn answers_requests_over_scoro_sockets() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        nursery(async |n| -> io::Result<()> {
            n.start_soon(serve(listener, HEADER_TIMEOUT));
            let (status, body) = get(addr, "/hello").await?;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, "hello from scoro, you asked for /hello\n");
            let (status, _) = get(addr, "/missing").await?;
            assert_eq!(status, StatusCode::NOT_FOUND);
            n.cancel();
            Ok(())
        })
        .await
        .unwrap();
    }

    #[scoro::test]
    async fn a_shutdown_closes_kept_alive_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = CancelScope::new();
        let stop = server.handle();
        let answer = nursery(async |n| -> io::Result<String> {
            n.start_soon(async {
                server.run(serve(listener, HEADER_TIMEOUT)).await;
                Ok::<(), io::Error>(())
            });
            let mut stream = TcpStream::connect(addr).await?;
            let io = TokioIo::new(compat::poll_io(&mut stream));
            let (mut sender, conn) = compat::future(hyper::client::conn::http1::handshake(io))
                .await?
                .map_err(io::Error::other)?;
            let mut body = String::new();
            nursery(async |m| -> io::Result<()> {
                // Ends when the server closes the connection: the client keeps it alive.
                m.start_soon(async { compat::future(conn).await?.map_err(io::Error::other) });
                let request = Request::get("/kept")
                    .header(hyper::header::HOST, addr.to_string())
                    .body(Empty::<Bytes>::new())
                    .map_err(io::Error::other)?;
                let response = compat::future(sender.send_request(request))
                    .await?
                    .map_err(io::Error::other)?;
                let bytes = compat::future(response.into_body().collect())
                    .await?
                    .map_err(io::Error::other)?
                    .to_bytes();
                body = String::from_utf8_lossy(&bytes).into_owned();
                stop.cancel();
                Ok(())
            })
            .await?;
            Ok(body)
        });
        let answer = scoro::fail_after(Duration::from_secs(30), answer)
            .await
            .expect("the server closed the connection")
            .unwrap();
        assert_eq!(answer, "hello from scoro, you asked for /kept\n");
    }

    #[scoro::test]
    async fn misbehaving_clients_end_only_their_own_connections() {
        use examples::misbehave::{Misbehaviour, misbehave, tasks_gone};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let request = b"GET /hello HTTP/1.1\r\nhost: localhost\r\n\r\n";
        nursery(async |n| -> io::Result<()> {
            // A short header timeout, so that silent clients are let go quickly.
            n.start_soon(serve(listener, Duration::from_millis(200)));
            nursery(async |clients| -> io::Result<()> {
                for how in Misbehaviour::ALL.into_iter().cycle().take(100) {
                    clients.start_soon(misbehave(addr, how, request));
                }
                // Clients that connect and say nothing: the server must close them.
                for _ in 0..5 {
                    clients.start_soon(misbehave(addr, Misbehaviour::StaySilent, request));
                }
                Ok(())
            })
            .await?;
            // The server still serves, and keeps nothing of the misbehaving clients.
            let (status, _) = get(addr, "/after").await?;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(tasks_gone("::connection").await?, 0);
            n.cancel();
            Ok(())
        })
        .await
        .unwrap();
    }
}
