//! An echo server: sends every byte it receives back to its sender, one task per
//! connection, until Ctrl-C shuts it down cleanly.
//!
//! ```text
//! cargo run -p examples --example echo_server [PORT]     # default port: 7777
//! nc 127.0.0.1 7777                                      # in another terminal
//! ```
//!
//! On Ctrl-C the server stops accepting, every connection is cancelled and says goodbye (a
//! write in a shielded scope with a timeout, so a stuck client cannot hold the shutdown up),
//! and the program exits once all of them are done.

use scoro::io::{Read, Write};
use scoro::net::{TcpListener, TcpStream, serve_tcp};
use scoro::signal::wait_for_ctrl_c;
use scoro::{CancelScope, MaybeCancelled, nursery, structured};
use std::io;
use std::time::Duration;

/// Echoes one connection until the client hangs up or the server shuts down.
#[structured]
async fn echo(mut stream: TcpStream) -> io::Result<()> {
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
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            stream.write_all(&buf[..n]).await?;
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
async fn serve(listener: TcpListener) -> io::Result<()> {
    match serve_tcp(listener, echo).await {
        Ok(never) => match never {},
        Err(e) => Err(e),
    }
}

#[scoro::main]
async fn main() -> io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{arg}` is not a port number"),
            )
        })?,
        None => 7777,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "echo server listening on {}; try `nc 127.0.0.1 {}`; Ctrl-C stops it",
        listener.local_addr()?,
        listener.local_addr()?.port()
    );
    nursery(async |n| -> io::Result<()> {
        n.start_soon(serve(listener));
        wait_for_ctrl_c().await?;
        println!("Ctrl-C: shutting down");
        n.cancel();
        Ok(())
    })
    .await?;
    println!("every connection is closed; bye");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[structured]
    async fn serve_one_client() -> io::Result<Vec<u8>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut got = Vec::new();
        let server = CancelScope::new();
        let stop = server.handle();
        nursery(async |n| -> io::Result<()> {
            n.start_soon(async {
                assert!(
                    server.run(serve(listener)).await.is_none(),
                    "stopped by cancellation"
                );
                Ok::<(), io::Error>(())
            });
            let mut client = TcpStream::connect(addr).await?;
            client.write_all(b"ping").await?;
            let mut buf = [0; 4];
            client.read_exact(&mut buf).await?;
            got.extend_from_slice(&buf);
            // Shut down while the client is still connected: it gets a goodbye.
            stop.cancel();
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await?;
            assert_eq!(rest, b"server shutting down, goodbye\n");
            Ok(())
        })
        .await?;
        Ok(got)
    }

    #[test]
    fn echoes_and_shuts_down_cleanly() {
        assert_eq!(scoro::run(serve_one_client()).unwrap(), b"ping");
    }
}
