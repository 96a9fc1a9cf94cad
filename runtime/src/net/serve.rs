//! Serving connections: `serve_tcp`.
//!
//! Invariants: every connection's handler is a child of one nursery inside `serve_tcp`, so
//! the server returns only when every handler has finished; cancelling the server cancels
//! its handlers. A connection that fails before it is accepted never reaches it (the
//! listener skips it). Running out of descriptors or memory while accepting is not fatal: it is
//! reported on stderr, and accepting resumes after 100 ms (as in Trio).

use super::tcp::{TcpListener, TcpStream};
use crate::CoroutineCall;
use crate::cancellation::MaybeCancelled;
use crate::nursery::{IntoTaskResult, nursery_trusted};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::time::Duration;

/// How long to wait before accepting again after running out of resources.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts connections on `listener` forever, running `handler(stream)` for each one as a
/// child task. Never returns `Ok`.
///
/// Handlers run concurrently, in a nursery of the server: an error returned by a handler
/// stops the whole server (its other handlers are cancelled, and the error comes back from
/// `serve_tcp`), so a handler should deal with the errors of its own connection (log them
/// and return `Ok(())`) unless they should bring the server down. A panic in a handler
/// propagates the same way.
///
/// To stop the server, cancel it: run it under a [`CancelScope`](crate::CancelScope) or in a
/// nursery you cancel. It then returns the cancellation (as an `io::Error`) once every handler
/// has finished.
///
/// A connection that fails before it is accepted (reset by its client, say) is skipped by
/// [`TcpListener::accept`]: one client never stops the server. When accepting fails because
/// the process or system ran out of file descriptors, buffers or memory (`EMFILE`, `ENFILE`,
/// `ENOBUFS`, `ENOMEM`), the server prints the error to stderr, waits 100 ms and tries again:
/// existing connections may close meanwhile. Any other accept error (about the listener
/// itself) stops the server.
///
/// ```no_run
/// use scoro::io::{Read, Write};
/// use scoro::net::{TcpListener, TcpStream, serve_tcp};
///
/// use scoro::MaybeCancelled;
///
/// #[scoro::structured]
/// async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
///     let mut buf = [0; 1024];
///     loop {
///         match stream.read(&mut buf).await {
///             Ok(0) => return Ok(()),
///             Ok(n) => stream.write_all(&buf[..n]).await?,
///             // The server is being cancelled: that propagates.
///             Err(e) if e.is_cancel_requested() => return Err(e),
///             // This client's connection failed: log it, keep serving the others.
///             Err(e) => {
///                 eprintln!("connection failed: {e}");
///                 return Ok(());
///             }
///         }
///     }
/// }
///
/// #[scoro::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:7000").await?;
///     // It returns only with an error (its `Ok` is `Infallible`), which `?` passes on.
///     match serve_tcp(listener, echo).await? {}
/// }
/// ```
#[track_caller]
pub fn serve_tcp<H, F>(
    listener: TcpListener,
    handler: H,
) -> CoroutineCall<impl Future<Output = io::Result<Infallible>>>
where
    H: Fn(TcpStream) -> CoroutineCall<F>,
    F: Future,
    F::Output: IntoTaskResult<io::Error>,
{
    // Handlers show in the task tree as started where `serve_tcp` was called.
    let location = std::panic::Location::caller();
    CoroutineCall::internal(
        async move {
            let outcome = nursery_trusted(async |n| -> Result<Infallible, io::Error> {
                loop {
                    match listener.accept().inline().await {
                        Ok((stream, _)) => n.start_soon_at(handler(stream), location),
                        Err(e) if e.is_cancel_requested() => return Err(e),
                        Err(e) if out_of_resources(&e) => {
                            eprintln!(
                                "scoro::net::serve_tcp: accepting a connection failed ({e}); \
                                 trying again in {} ms",
                                ACCEPT_BACKOFF.as_millis()
                            );
                            crate::sleep(ACCEPT_BACKOFF).inline().await?;
                        }
                        Err(e) => return Err(e),
                    }
                }
            })
            .await;
            match outcome {
                Ok(never) => match never {},
                Err(group) => Err(io::Error::from(group)),
            }
        },
        "scoro::net",
        "serve_tcp",
    )
}

/// Is `e` one of the accept errors that go away when connections close?
fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // The rule: a failed connection never reaches `serve_tcp` (the listener skips it, see
    // `net::accept`); resource exhaustion is retried after a back-off; an error about the
    // listener itself ends the server.
    #[test]
    fn only_resource_exhaustion_is_retried() {
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(out_of_resources(&io::Error::from_raw_os_error(errno)));
            assert!(!super::super::accept::is_per_connection(
                &io::Error::from_raw_os_error(errno)
            ));
        }
        for errno in [libc::EBADF, libc::EINVAL] {
            assert!(!out_of_resources(&io::Error::from_raw_os_error(errno)));
        }
        assert!(super::super::accept::is_per_connection(
            &io::Error::from_raw_os_error(libc::ECONNABORTED)
        ));
        assert!(!out_of_resources(&io::Error::other("no errno")));
    }
}
