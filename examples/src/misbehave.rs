//! Clients that misbehave, for the tests of the example servers: each connects to a server over
//! loopback and does one thing a well-behaved client would not. A server must shrug every one
//! off: end that connection, keep serving the others, and keep nothing of it.
//!
//! The longer, sustained version for the plain echo server is [`soak`](crate::soak).

use crate::soak::set_reset_on_close;
use scoro::io::{Read, Write};
use scoro::net::TcpStream;
use scoro::{fail_after, observe, sleep, structured};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// One way to misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Connects and resets the connection (RST) without sending anything.
    ResetAtOnce,
    /// Sends the first half of a request, then resets the connection.
    ResetMidRequest,
    /// Sends bytes that are not the protocol at all, then waits for the server to close.
    Garbage,
    /// Sends the first half of a request and shuts down its sending side (half-close), then
    /// waits for the server to close.
    HalfCloseMidRequest,
    /// Connects and closes again without a word.
    CloseSilently,
    /// Connects, sends nothing, and waits for the server to close the connection. Only for
    /// servers with a timeout for that (not in [`ALL`](Self::ALL)).
    StaySilent,
}

impl Misbehaviour {
    /// Every kind, in a fixed order.
    pub const ALL: [Misbehaviour; 5] = [
        Misbehaviour::ResetAtOnce,
        Misbehaviour::ResetMidRequest,
        Misbehaviour::Garbage,
        Misbehaviour::HalfCloseMidRequest,
        Misbehaviour::CloseSilently,
    ];
}

/// How long a server may take to close a connection it should give up on.
pub const CLOSE_PATIENCE: Duration = Duration::from_secs(10);

/// Connects to `addr` and misbehaves as `how` says; `request` is a valid request of the
/// server's protocol (the first half of it is sent where the misbehaviour needs one). Fails if
/// the server keeps a connection open that it should have closed.
#[structured]
pub async fn misbehave(addr: SocketAddr, how: Misbehaviour, request: &[u8]) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    let half = &request[..request.len() / 2];
    match how {
        Misbehaviour::ResetAtOnce => set_reset_on_close(&stream)?,
        Misbehaviour::ResetMidRequest => {
            stream.write_all(half).await?;
            set_reset_on_close(&stream)?;
        }
        Misbehaviour::Garbage => {
            stream.write_all(&[0xff; 4096]).await?;
            wait_for_close(&mut stream).await?;
        }
        Misbehaviour::HalfCloseMidRequest => {
            stream.write_all(half).await?;
            stream.shutdown().await?;
            wait_for_close(&mut stream).await?;
        }
        Misbehaviour::CloseSilently => {}
        Misbehaviour::StaySilent => wait_for_close(&mut stream).await?,
    }
    Ok(())
}

/// Reads (and drops) whatever the server still sends until it closes the connection; an error
/// if it keeps it open for [`CLOSE_PATIENCE`].
#[structured]
async fn wait_for_close(stream: &mut TcpStream) -> io::Result<()> {
    let closed = fail_after(CLOSE_PATIENCE, async {
        let mut buf = [0; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                // A reset is a close too.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    match closed {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the server kept a misbehaving connection open for {CLOSE_PATIENCE:?}"),
        )),
    }
}

/// How many tasks of this run run the function whose path ends with `name` (a connection
/// handler, say).
pub fn tasks_named(name: &str) -> usize {
    observe::task_tree()
        .tasks()
        .iter()
        .filter(|t| t.info().name().ends_with(name))
        .count()
}

/// Waits until no task of this run runs the function whose path ends with `name`, and returns
/// how many are left: 0, or the count after [`CLOSE_PATIENCE`] if some stay. The server's
/// tasks end on events from the kernel (a reset, an end of stream) that arrive on their own
/// schedule, so this looks every 10 ms; the deadline only bounds a failing test.
#[structured]
pub async fn tasks_gone(name: &str) -> io::Result<usize> {
    let mut waited = Duration::ZERO;
    loop {
        let left = tasks_named(name);
        if left == 0 || waited >= CLOSE_PATIENCE {
            return Ok(left);
        }
        sleep(Duration::from_millis(10)).await?;
        waited += Duration::from_millis(10);
    }
}
