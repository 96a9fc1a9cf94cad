//! An echo server: sends every byte it receives back to its sender, one task per
//! connection, until Ctrl-C shuts it down cleanly.
//!
//! ```text
//! cargo run -p examples --example echo_server [PORT [IDLE_SECS]]   # default: 7777, 60
//! nc 127.0.0.1 7777                                                # in another terminal
//! ```
//!
//! No single client can hurt the others: a connection that fails (reset, half-closed, gone
//! before it was served) is logged and closed, and one that makes no progress for `IDLE_SECS`
//! (a client that sends nothing, or stops reading what it is sent) is closed too, so idle and
//! stuck clients do not pile up. Port 0 picks a free port; the first line printed names it.
//!
//! On Ctrl-C the server stops accepting, every connection is cancelled and says goodbye (a
//! write in a shielded scope with a timeout, so a stuck client cannot hold the shutdown up),
//! and the program exits once all of them are done.
//!
//! The soak harness (`cargo run --release -p examples --example loadgen`, see the book's
//! "Reliability" chapter) runs this program under sustained load from misbehaving clients.

use scoro::io::{Read, Write};
use scoro::net::{TcpListener, TcpStream, serve_tcp};
use scoro::signal::wait_for_ctrl_c;
use scoro::{CancelScope, MaybeCancelled, fail_after, nursery, structured};
use std::io;
use std::time::Duration;

/// How long a connection may make no progress (nothing to read, or a write that the client
/// does not take) before the server closes it, unless given on the command line.
const DEFAULT_IDLE: Duration = Duration::from_secs(60);

/// Echoes one connection until the client hangs up, stalls for `idle`, or the server shuts
/// down.
#[structured]
async fn echo(mut stream: TcpStream, idle: Duration) -> io::Result<()> {
    // A client may reset its connection before we get here: its problem, not the server's.
    let peer = match stream.peer_addr() {
        Ok(peer) => peer,
        Err(e) => {
            println!("a client left before it was served: {e}");
            return Ok(());
        }
    };
    println!("{peer}: connected");
    let mut buf = [0; 4096];
    let outcome: io::Result<()> = async {
        loop {
            // `TooSlow` converts into an `io::Error` of kind `TimedOut`.
            let n = fail_after(idle, stream.read(&mut buf)).await??;
            if n == 0 {
                return Ok(());
            }
            fail_after(idle, stream.write_all(&buf[..n])).await??;
        }
    }
    .await;
    match outcome {
        Ok(()) => println!("{peer}: hung up"),
        Err(e) if e.is_cancel_requested() => {
            // The server is shutting down. Shielded from that cancellation, with a timeout of
            // its own, the goodbye gets a chance without holding the shutdown up for long.
            let goodbye = CancelScope::new()
                .with_shield(true)
                .with_timeout(Duration::from_secs(1))
                .run(stream.write_all(b"server shutting down, goodbye\n"))
                .await;
            println!(
                "{peer}: closed by the shutdown (goodbye sent: {})",
                matches!(goodbye, Some(Ok(())))
            );
        }
        // A failing connection is that client's problem: log it, keep serving the others.
        Err(e) => println!("{peer}: {e}"),
    }
    Ok(())
}

/// Serves on `listener` until cancelled.
#[structured]
async fn serve(listener: TcpListener, idle: Duration) -> io::Result<()> {
    match serve_tcp(listener, |stream| echo(stream, idle)).await? {}
}

#[scoro::main]
async fn main() -> io::Result<()> {
    let port = examples::port_arg(7777)?;
    let idle = match std::env::args().nth(2) {
        Some(arg) => match arg.parse::<u64>() {
            Ok(secs) if secs > 0 => Duration::from_secs(secs),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{arg}` is not a number of seconds above zero"),
                ));
            }
        },
        None => DEFAULT_IDLE,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "echo server listening on {}; try `nc 127.0.0.1 {}`; Ctrl-C stops it",
        listener.local_addr()?,
        listener.local_addr()?.port()
    );
    nursery(async |n| -> io::Result<()> {
        n.start_soon(serve(listener, idle));
        wait_for_ctrl_c().await?;
        println!("Ctrl-C: shutting down");
        n.cancel();
        Ok(())
    })
    .await?;
    println!("every connection is closed; bye");
    Ok(())
}
