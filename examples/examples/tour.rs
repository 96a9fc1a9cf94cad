//! A tour of scoro in one program, in five short scenes that print what happens:
//!
//! 1. an echo server and three clients run in one nursery, and the nursery returns only when
//!    every one of them has finished;
//! 2. a timeout around a read gives up after 300 ms, and the stream is still usable;
//! 3. cancelling a nursery cancels its tasks, which run their cleanup;
//! 4. an error in one child cancels its sibling and comes back from the nursery;
//! 5. blocking work runs on a worker thread, borrowing local data, while the runtime goes on.
//!
//! ```text
//! cargo run -p examples --example tour
//! ```
//!
//! It uses only 127.0.0.1 and finishes by itself in about two seconds.

use scoro::io::{Read, Write};
use scoro::net::{TcpListener, TcpStream, serve_tcp};
use scoro::{
    CancelRequested, MaybeCancelled, TooSlow, fail_after, move_on_after, nursery, sleep,
    structured, to_thread,
};
use std::fmt::Display;
use std::io;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Prints `what`, said by `who`, with the time since the tour started.
fn say(who: &str, what: impl Display) {
    static START: OnceLock<Instant> = OnceLock::new();
    let t = START.get_or_init(Instant::now).elapsed();
    println!("  [{:>5.3}s] {who:>9}: {what}", t.as_secs_f64());
}

fn scene(number: u32, title: &str) {
    println!();
    println!("{number}. {title}");
}

// ----- 1. an echo server and its clients ----------------------------------------------------

#[structured]
async fn echo(mut stream: TcpStream) -> io::Result<()> {
    // A client may reset its connection before we get here: its problem, not the server's.
    let peer = match stream.peer_addr() {
        Ok(peer) => peer,
        Err(e) => {
            say("server", format!("a client left before it was served: {e}"));
            return Ok(());
        }
    };
    say("server", format!("accepted a connection from {peer}"));
    let mut buf = [0; 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(n) => n,
            Err(e) if e.is_cancel_requested() => {
                say(
                    "server",
                    format!("closing {peer}: the server is shutting down"),
                );
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            say("server", format!("{peer} hung up"));
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

#[structured]
async fn client(addr: SocketAddr, id: u64) -> io::Result<()> {
    // Stagger the clients a little, so the output is easy to follow.
    sleep(Duration::from_millis(40 * id)).await?;
    let who = format!("client {id}");
    let mut stream = TcpStream::connect(addr).await?;
    let message = format!("hello from client {id}");
    stream.write_all(message.as_bytes()).await?;
    let mut echoed = vec![0; message.len()];
    stream.read_exact(&mut echoed).await?;
    say(
        &who,
        format!("got back {:?}", String::from_utf8_lossy(&echoed)),
    );
    Ok(())
}

#[structured]
async fn echo_scene() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    say("server", format!("listening on {addr}"));
    nursery(async |n| -> io::Result<()> {
        n.start_soon(serve_tcp(listener, echo));
        // The clients run in an inner nursery: it returns when all three are done.
        nursery(async |clients| -> io::Result<()> {
            for id in 1..=3 {
                clients.start_soon(client(addr, id));
            }
            Ok(())
        })
        .await?;
        say("main", "every client is done: cancelling the server");
        n.cancel();
        Ok(())
    })
    .await?;
    say(
        "main",
        "the nursery returned, so no task of it is left running",
    );
    Ok(())
}

// ----- 2. timeouts --------------------------------------------------------------------------

#[structured]
async fn timeout_scene() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut stream = TcpStream::connect(listener.local_addr()?).await?;
    let (mut server_side, _) = listener.accept().await?;
    let mut buf = [0; 64];

    say("client", "waiting at most 300 ms for a reply...");
    match move_on_after(Duration::from_millis(300), stream.read(&mut buf)).await {
        None => say(
            "client",
            "no reply in time: the read was cancelled, no byte was lost",
        ),
        Some(n) => say("client", format!("unexpected reply of {} bytes", n?)),
    }
    server_side.write_all(b"a late reply").await?;
    let n = stream.read(&mut buf).await?;
    say(
        "client",
        format!(
            "the same stream still works: got {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
    );

    let slow = fail_after(Duration::from_millis(100), sleep(Duration::from_secs(60))).await;
    if let Err(TooSlow) = slow {
        say(
            "main",
            "fail_after turns the same kind of timeout into an error: TooSlow",
        );
    }
    Ok(())
}

// ----- 3. cancellation and cleanup ----------------------------------------------------------

#[structured]
async fn worker(name: &str) -> Result<(), CancelRequested> {
    say(name, "working (a sleep of one hour)...");
    let outcome = sleep(Duration::from_secs(3600)).await;
    if let Err(c) = &outcome {
        // Cancellation is a value: the code after the checkpoint decides what to do.
        say(name, format!("stopped ({}); cleaning up", c.reason()));
    }
    outcome
}

#[structured]
async fn cancel_scene() -> Result<(), CancelRequested> {
    let outcome = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(worker("worker A"));
        n.start_soon(worker("worker B"));
        sleep(Duration::from_millis(200)).await?;
        say("main", "cancelling the nursery");
        n.cancel();
        Ok(())
    })
    .await;
    say(
        "main",
        format!(
            "the nursery returned {}",
            if outcome.is_ok() { "Ok" } else { "an error" }
        ),
    );
    Ok(())
}

// ----- 4. an error in a child ---------------------------------------------------------------

#[structured]
async fn flaky() -> io::Result<()> {
    sleep(Duration::from_millis(100)).await?;
    // A port where nobody listens: bind one, then let it go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    say(
        "flaky",
        format!("connecting to {closed}, where nobody listens..."),
    );
    TcpStream::connect(closed).await?;
    Ok(())
}

#[structured]
async fn patient() -> io::Result<()> {
    say("patient", "waiting for a long time...");
    if let Err(c) = sleep(Duration::from_secs(3600)).await {
        say("patient", format!("stopped ({})", c.reason()));
        return Err(c.into());
    }
    Ok(())
}

#[structured]
async fn error_scene() {
    let outcome = nursery(async |n| -> io::Result<()> {
        n.start_soon(flaky());
        n.start_soon(patient());
        Ok(())
    })
    .await;
    match outcome {
        Ok(()) => say("main", "no error?"),
        Err(group) => {
            // The sibling's cancellation is not an error: only the real one is reported.
            assert!(!group.is_cancel_requested());
            say("main", format!("the nursery returned the error: {group}"));
        }
    }
}

// ----- 5. blocking work on a worker thread --------------------------------------------------

#[structured]
async fn ticker() -> Result<(), CancelRequested> {
    loop {
        sleep(Duration::from_millis(100)).await?;
        say("ticker", "tick (the runtime is not blocked)");
    }
}

#[structured]
async fn thread_scene() -> Result<(), CancelRequested> {
    let lines: Vec<String> = (1..=1000).map(|i| format!("line {i}")).collect();
    let total = nursery(async |n| -> Result<usize, CancelRequested> {
        n.start_soon(ticker());
        say(
            "main",
            "summing line lengths on a worker thread (a 350 ms blocking call)",
        );
        // The closure borrows `lines`: the call cannot end before the thread has.
        let total = to_thread::run_sync(|| {
            std::thread::sleep(Duration::from_millis(350));
            lines.iter().map(String::len).sum::<usize>()
        })
        .await?;
        n.cancel();
        Ok(total)
    })
    .await
    .map_err(|group| group.into_first())?;
    say("main", format!("the worker thread says: {total} bytes"));
    Ok(())
}

#[scoro::main]
async fn main() -> io::Result<()> {
    say("tour", "starting");
    scene(1, "An echo server and three clients in one nursery");
    echo_scene().await?;
    scene(2, "A timeout around a read; the stream survives it");
    timeout_scene().await?;
    scene(
        3,
        "Cancelling a nursery: its tasks stop at their next checkpoint",
    );
    cancel_scene().await?;
    scene(
        4,
        "An error in one child cancels its sibling and reaches the parent",
    );
    error_scene().await;
    scene(5, "Blocking work on a worker thread, borrowing local data");
    thread_scene().await?;
    println!();
    say("tour", "done");
    Ok(())
}

#[cfg(test)]
#[test]
fn the_tour_finishes() {
    main().unwrap();
}
