//! A crate written for tokio, used from scoro: hyper-util's pooled HTTP client
//! (`hyper_util::client::legacy::Client`) fetches pages from a small HTTP server written with
//! scoro's own sockets, over loopback.
//!
//! ```text
//! cargo run -p examples --example tokio_crate
//! ```
//!
//! The client needs a tokio runtime: it connects with tokio's sockets and runs each connection
//! as a task of its own with `tokio::spawn`. `compat::tokio_future` (scoro's `tokio` feature)
//! polls the client's futures on scoro's thread with a tokio runtime entered; the runtime's
//! reactor and the spawned connection tasks live on a thread that scoro starts for it.
//!
//! Scoro's cancellation reaches into the tokio code: the last request goes to a page that never
//! answers, under `move_on_after`. When the time is up the request's future is dropped, hyper
//! closes that connection (it cannot be reused with a response still owed), and the server's
//! handler sees the client hang up.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use scoro::io::{BufReader, Read, Write};
use scoro::net::{TcpListener, TcpStream, serve_tcp};
use scoro::sync::Event;
use scoro::{MaybeCancelled, compat, move_on_after, nursery, structured};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// hyper-util's client, connecting with tokio's sockets.
type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// What the server tells the rest of the program about the page that never answers.
#[derive(Default)]
struct SlowPage {
    /// A request for it arrived.
    requested: Event,
    /// The client that asked for it closed the connection.
    abandoned: Event,
}

/// The longest request line or header line the server accepts.
const MAX_LINE: usize = 8 * 1024;

/// Reads one request head and returns its path, or `None` when the client closed the
/// connection between requests.
#[structured]
async fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<String>> {
    let mut lines = reader.lines().max_len(MAX_LINE);
    let Some(request_line) = lines.next().await? else {
        return Ok(None);
    };
    // "GET /path HTTP/1.1"; the headers that follow end with an empty line.
    let Some(path) = request_line.split(' ').nth(1) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not an HTTP request line: {request_line:?}"),
        ));
    };
    let path = path.to_string();
    loop {
        match lines.next().await? {
            Some(header) if !header.is_empty() => continue,
            Some(_) => return Ok(Some(path)),
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed inside a request head",
                ));
            }
        }
    }
}

/// Serves one connection. A failed connection is reported and the server goes on; a
/// cancellation (the server stopping) propagates.
#[structured]
async fn handle(stream: TcpStream, slow: &SlowPage) -> io::Result<()> {
    match serve_requests(stream, slow).await {
        Err(e) if !e.is_cancel_requested() => {
            eprintln!("a connection failed: {e}");
            Ok(())
        }
        other => other,
    }
}

/// Serves the requests of one keep-alive connection.
#[structured]
async fn serve_requests(stream: TcpStream, slow: &SlowPage) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    while let Some(path) = read_request(&mut reader).await? {
        if path == "/slow" {
            slow.requested.set();
            // Never answers: waits for the client to give up and close the connection.
            let mut rest = [0; 512];
            while reader.read(&mut rest).await? > 0 {}
            slow.abandoned.set();
            return Ok(());
        }
        let (status, body) = match path.as_str() {
            "/missing" => ("404 Not Found", "no such page\n".to_string()),
            _ => ("200 OK", format!("scoro served {path}\n")),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n\r\n{body}",
            body.len()
        );
        reader.get_mut().write_all(response.as_bytes()).await?;
    }
    Ok(())
}

/// Serves on `listener` until cancelled.
#[structured]
async fn serve(listener: TcpListener, slow: &SlowPage) -> anyhow::Result<()> {
    match serve_tcp(listener, |stream| handle(stream, slow)).await? {}
}

/// Fetches `path` from `addr` with the tokio-based client: the status and the body.
#[structured]
async fn fetch(
    client: &HttpClient,
    addr: SocketAddr,
    path: &str,
) -> anyhow::Result<(StatusCode, String)> {
    let uri: Uri = format!("http://{addr}{path}").parse()?;
    let fetched = compat::tokio_future(async {
        let response = client.get(uri).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, String::from_utf8_lossy(&body).into_owned()))
    })
    .await??;
    Ok(fetched)
}

/// Runs the server and the client side by side; returns what the client saw, a line per
/// request.
#[structured]
async fn demo(give_up_after: Duration) -> anyhow::Result<Vec<String>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let slow = SlowPage::default();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut seen = Vec::new();
    nursery(async |n| -> anyhow::Result<()> {
        n.start_soon(serve(listener, &slow));
        for path in ["/hello", "/again", "/missing"] {
            let (status, body) = fetch(&client, addr, path).await?;
            seen.push(format!("{path}: {status}: {}", body.trim_end()));
        }
        match move_on_after(give_up_after, fetch(&client, addr, "/slow")).await {
            None => seen.push(format!("/slow: gave up after {give_up_after:?}")),
            Some(answer) => anyhow::bail!("/slow answered: {answer:?}"),
        }
        // The cancelled request's connection is closed, and the server notices (if the
        // request got that far before the time was up).
        if slow.requested.is_set() {
            slow.abandoned.wait().await?;
            seen.push("/slow: the server saw the client hang up".to_string());
        }
        n.cancel();
        Ok(())
    })
    .await?;
    Ok(seen)
}

#[scoro::main]
async fn main() -> anyhow::Result<()> {
    for line in demo(Duration::from_millis(300)).await? {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoro::CancelScope;

    #[scoro::test]
    async fn the_tokio_based_client_talks_to_the_scoro_server() {
        let seen = demo(Duration::from_millis(500)).await.unwrap();
        assert_eq!(
            seen[..4],
            [
                "/hello: 200 OK: scoro served /hello",
                "/again: 200 OK: scoro served /again",
                "/missing: 404 Not Found: no such page",
                "/slow: gave up after 500ms",
            ]
        );
        // The request reaches the server long before the time is up, unless the machine is
        // overloaded; `cancelling_a_request_closes_its_connection` checks this part without
        // a timer.
        if let Some(last) = seen.get(4) {
            assert_eq!(last, "/slow: the server saw the client hang up");
        }
        assert!(seen.len() <= 5, "{seen:?}");
    }

    #[scoro::test]
    async fn cancelling_a_request_closes_its_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let slow = SlowPage::default();
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let request = CancelScope::new();
        let give_up = request.handle();
        nursery(async |n| -> anyhow::Result<()> {
            n.start_soon(serve(listener, &slow));
            // A request on a kept-alive connection first, so that the cancelled one reuses it.
            let (status, _) = fetch(&client, addr, "/first").await?;
            assert_eq!(status, StatusCode::OK);
            n.start_soon(async {
                // Cancelled once the server has the request: a cancellation, not a timer.
                slow.requested.wait().await?;
                give_up.cancel();
                anyhow::Ok(())
            });
            let answer = request.run(fetch(&client, addr, "/slow")).await;
            assert!(answer.is_none(), "the request was cancelled: {answer:?}");
            slow.abandoned.wait().await?;
            // The pool opens a new connection for the next request.
            let (status, body) = fetch(&client, addr, "/after").await?;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::OK, "scoro served /after\n")
            );
            n.cancel();
            Ok(())
        })
        .await
        .unwrap();
    }
}
