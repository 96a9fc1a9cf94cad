//! Connecting to a host with several addresses: Happy Eyeballs (RFC 8305).
//!
//! Invariants:
//! - Attempts run as children of one nursery, started in order: the next one starts when the
//!   previous has failed or after the stagger delay, whichever comes first.
//! - The first attempt to connect wins: it stores its stream and cancels the nursery, so every
//!   other attempt stops (a second stream that connected in the same step is closed).
//! - A failed attempt is not an error of the nursery (it must not cancel its siblings): its
//!   error is kept, with the address, and all of them come back if no attempt succeeds.

use super::addr::lookup_host;
use super::tcp::{TcpStream, connect_addr};
use crate::cancellation::MaybeCancelled;
use crate::nursery::{ErrorGroup, Nursery, nursery_trusted};
use crate::runtime::seam::Waiting;
use crate::sync::Event;
use crate::{CoroutineCall, move_on_after};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

/// The stagger delay of RFC 8305 ("Connection Attempt Delay"), as in Trio.
pub const HAPPY_EYEBALLS_DELAY: Duration = Duration::from_millis(250);

/// Connects to `host:port` with Happy Eyeballs (RFC 8305): resolves `host`, then tries its
/// addresses concurrently, staggered by 250 ms, and returns the first connection made.
///
/// Addresses are tried alternating between IPv6 and IPv4 (starting with the family the
/// resolver listed first). Each attempt gets 250 ms to itself before the next one starts; an
/// attempt that fails sooner lets the next one start at once. The first success cancels
/// every other attempt. If all fail, the error says why for each address.
///
/// A checkpoint (resolution and each attempt are cancellable). The attempts are tasks, shown in
/// the task tree as started where `open_tcp_stream` was called.
///
/// ```
/// use scoro::net::{TcpListener, open_tcp_stream};
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<bool> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let port = listener.local_addr()?.port();
///     let stream = open_tcp_stream("127.0.0.1", port).await?;
///     Ok(stream.peer_addr()? == listener.local_addr()?)
/// }
///
/// assert!(scoro::run(main_task())?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn open_tcp_stream(
    host: &str,
    port: u16,
) -> CoroutineCall<impl Future<Output = io::Result<TcpStream>> + '_> {
    let from = Caller {
        location: Location::caller(),
        waiting: Waiting::OpenTcpStream,
    };
    CoroutineCall::internal(
        async move {
            let addrs = lookup_host((host, port)).inline().await?;
            let addrs = interleave_families(addrs);
            happy_eyeballs(&addrs, HAPPY_EYEBALLS_DELAY, from).await
        },
        "scoro::net",
        "open_tcp_stream",
    )
}

/// Connects to the first of `addrs` that accepts, trying them in the given order, each
/// `delay` after the previous one (or as soon as the previous one failed). This is the
/// connection half of [`open_tcp_stream`], for callers that have addresses already or want
/// another delay.
///
/// ```
/// use std::time::Duration;
/// use scoro::net::{TcpListener, connect_happy_eyeballs};
///
/// #[scoro::structured]
/// async fn main_task() -> std::io::Result<u16> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let stream = connect_happy_eyeballs(&[listener.local_addr()?], Duration::from_millis(100)).await?;
///     Ok(stream.peer_addr()?.port())
/// }
///
/// assert_ne!(scoro::run(main_task())?, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn connect_happy_eyeballs(
    addrs: &[SocketAddr],
    delay: Duration,
) -> CoroutineCall<impl Future<Output = io::Result<TcpStream>> + '_> {
    let from = Caller {
        location: Location::caller(),
        waiting: Waiting::ConnectHappyEyeballs,
    };
    CoroutineCall::internal(
        happy_eyeballs(addrs, delay, from),
        "scoro::net",
        "connect_happy_eyeballs",
    )
}

/// Orders addresses alternating between families, starting with the first one's family
/// (RFC 8305, section 4, with a "First Address Family Count" of 1).
fn interleave_families(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addrs.first().copied() else {
        return addrs;
    };
    let (mut same, mut other): (Vec<_>, Vec<_>) = addrs
        .into_iter()
        .partition(|a| a.is_ipv6() == first.is_ipv6());
    same.reverse();
    other.reverse();
    let mut out = Vec::with_capacity(same.len() + other.len());
    loop {
        match (same.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// The public call a Happy Eyeballs connection runs for: where the user called it (the
/// attempts are started there) and what the task tree says its tasks wait in.
#[derive(Clone, Copy)]
struct Caller {
    location: &'static Location<'static>,
    waiting: Waiting,
}

/// Connects to the first of `addrs` that accepts, for the public call `from`.
async fn happy_eyeballs(
    addrs: &[SocketAddr],
    delay: Duration,
    from: Caller,
) -> io::Result<TcpStream> {
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no address to connect to",
        ));
    }
    let winner: RefCell<Option<TcpStream>> = RefCell::new(None);
    let errors: RefCell<Vec<io::Error>> = RefCell::new(Vec::new());
    let outcome = nursery_trusted(async |n| -> Result<(), io::Error> {
        for (i, &addr) in addrs.iter().enumerate() {
            // Set when this attempt fails, so that the next one can start early.
            let failed = Rc::new(Event::new());
            n.start_soon_at(
                CoroutineCall::internal(
                    try_one(addr, from.waiting, &winner, &errors, failed.clone(), n),
                    "scoro::net",
                    "open_tcp_stream::attempt",
                ),
                from.location,
            );
            if i + 1 == addrs.len() {
                break;
            }
            // `None`: the delay passed. `Some(Ok)`: the attempt failed early.
            let stagger = if from.waiting == Waiting::OpenTcpStream {
                let wait = failed.wait_as::<{ Waiting::OpenTcpStream as u8 }>();
                let wait = CoroutineCall::internal(wait, "scoro::sync", "Event::wait");
                move_on_after(delay, wait).inline().await
            } else {
                let wait = failed.wait_as::<{ Waiting::ConnectHappyEyeballs as u8 }>();
                let wait = CoroutineCall::internal(wait, "scoro::sync", "Event::wait");
                move_on_after(delay, wait).inline().await
            };
            if let Some(Err(c)) = stagger {
                if winner.borrow().is_some() {
                    // The winner cancelled the nursery: stop starting attempts.
                    break;
                }
                return Err(c.into());
            }
        }
        Ok(())
    })
    .await;
    if let Err(group) = outcome {
        // Only cancellation from outside gets here (attempts never report errors).
        return Err(group.into_first());
    }
    if let Some(stream) = winner.into_inner() {
        return Ok(stream);
    }
    let mut errors = errors.into_inner();
    match errors.len() {
        // Attempts report only real errors; with none, every attempt was cancelled, which
        // only a cancellation from outside does (and the nursery reported it above).
        0 => Err(io::Error::other("every connection attempt was cancelled")),
        1 => Err(errors.remove(0)),
        _ => {
            let group = ErrorGroup::new(errors);
            Err(io::Error::new(
                group.first().kind(),
                AllAttemptsFailed { errors: group },
            ))
        }
    }
}

/// One connection attempt: a child of the Happy Eyeballs nursery.
async fn try_one(
    addr: SocketAddr,
    waiting: Waiting,
    winner: &RefCell<Option<TcpStream>>,
    errors: &RefCell<Vec<io::Error>>,
    failed: Rc<Event>,
    n: &Nursery<'_, '_, io::Error>,
) -> Result<(), io::Error> {
    match connect_addr(addr, waiting).await {
        Ok(stream) => {
            if winner.borrow().is_none() {
                *winner.borrow_mut() = Some(stream);
                n.cancel();
            }
            Ok(())
        }
        Err(e) if e.is_cancel_requested() => Err(e),
        Err(e) => {
            errors.borrow_mut().push(e);
            failed.set();
            Ok(())
        }
    }
}

/// Every attempt of [`open_tcp_stream`] failed; the error of each, in the order they failed.
#[derive(Debug)]
struct AllAttemptsFailed {
    errors: ErrorGroup<io::Error>,
}

impl std::fmt::Display for AllAttemptsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "all {} connection attempts failed: {}",
            self.errors.len(),
            self.errors
        )
    }
}

impl std::error::Error for AllAttemptsFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.errors.first())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_alternate_starting_with_the_first() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let input = vec![
            a("[::1]:1"),
            a("[::2]:1"),
            a("[::3]:1"),
            a("10.0.0.1:1"),
            a("10.0.0.2:1"),
        ];
        assert_eq!(
            interleave_families(input),
            [
                a("[::1]:1"),
                a("10.0.0.1:1"),
                a("[::2]:1"),
                a("10.0.0.2:1"),
                a("[::3]:1")
            ]
        );
        assert_eq!(interleave_families(vec![]), Vec::<SocketAddr>::new());
    }
}
