//! A fetcher: 50 requests, at most 8 at a time, each with a 200 ms timeout and one retry; the
//! results go into a `Vec` that `main` owns.
//!
//! ```text
//! cargo run -p examples --example fetcher
//! ```
//!
//! The program starts its own small origin server (on a free local port) so that it runs
//! anywhere: it answers `GET <n>` with one line, except that it loses the first request for
//! every item ending in 3 (the retry gets it) and never answers for items 7 and 32 (both
//! attempts time out). The fetcher records every outcome: a failed item does not stop the
//! others.
//!
//! What to look at: each request task borrows its own slot of the results (`iter_mut`), so
//! there is no lock and no `Arc`; the limit of 8 is a `CapacityLimiter` the tasks borrow; the
//! server's handler carries state by borrowing it (`|s| respond(s, &origin)`); and errors are
//! `anyhow::Error` throughout, which works with nurseries and timeouts through scoro's
//! `anyhow` feature.

use anyhow::{Context, bail};
use scoro::io::{BufReader, Write};
use scoro::net::{TcpListener, TcpStream, serve_tcp};
use scoro::sync::CapacityLimiter;
use scoro::{MaybeCancelled, move_on_after, nursery, structured};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// How many requests may be in flight at once.
const MAX_IN_FLIGHT: usize = 8;

/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_millis(200);

/// How many items to fetch.
const ITEMS: usize = 50;

/// What became of one item: its body or what went wrong; `None` until its task has run.
type Outcome = Option<Result<String, String>>;

/// What the origin server keeps: how often each item was asked for.
#[derive(Default)]
struct Origin {
    attempts: RefCell<HashMap<u64, u32>>,
}

/// Answers one connection's request.
#[structured]
async fn respond(stream: TcpStream, origin: &Origin) -> io::Result<()> {
    match answer(stream, origin).await {
        Err(e) if e.is_cancel_requested() => Err(e),
        // One client's broken request must not stop the server: report it and go on.
        Err(e) => {
            eprintln!("origin: bad request: {e}");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

#[structured]
async fn answer(stream: TcpStream, origin: &Origin) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let item: u64 = line
        .strip_prefix("GET ")
        .and_then(|rest| rest.trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "expected `GET <n>`"))?;
    let attempt = {
        let mut attempts = origin.attempts.borrow_mut();
        let a = attempts.entry(item).or_default();
        *a += 1;
        *a
    };
    if item == 7 || item == 32 || (item % 10 == 3 && attempt == 1) {
        // Lose the request: never answer, until the client gives up and hangs up.
        while reader.read_line(&mut line).await? > 0 {}
        return Ok(());
    }
    let reply = format!("item {item} = {}\n", item * item);
    reader.get_mut().write_all(reply.as_bytes()).await
}

/// One attempt: connect, ask for `item`, read the answer.
#[structured]
async fn fetch_once(addr: SocketAddr, item: u64) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(addr).await.context("connecting")?;
    stream
        .write_all(format!("GET {item}\n").as_bytes())
        .await
        .context("sending the request")?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        bail!("the server closed the connection without answering");
    }
    Ok(line.trim_end().to_string())
}

/// The fetcher's limit on requests in flight, and how many were in flight at most.
struct Limit {
    tokens: CapacityLimiter,
    max_in_flight: Cell<usize>,
}

impl Limit {
    fn new(tokens: usize) -> Self {
        Limit {
            tokens: CapacityLimiter::new(tokens),
            max_in_flight: Cell::new(0),
        }
    }
}

/// Fetches `item` with a timeout per attempt and one retry, holding one of the limiter's
/// tokens per attempt, and stores the outcome in `slot`. A failed item is recorded, not
/// returned: only a cancellation (of the whole fetch) ends this early.
#[structured]
async fn fetch_into(
    addr: SocketAddr,
    item: u64,
    limit: &Limit,
    slot: &mut Outcome,
) -> anyhow::Result<()> {
    for _attempt in 0..2 {
        let _token = limit.tokens.acquire().await?;
        let in_flight = limit.tokens.borrowed();
        limit
            .max_in_flight
            .set(limit.max_in_flight.get().max(in_flight));
        match move_on_after(TIMEOUT, fetch_once(addr, item)).await {
            Some(Ok(body)) => {
                *slot = Some(Ok(body));
                return Ok(());
            }
            Some(Err(e)) if e.is_cancel_requested() => return Err(e),
            Some(Err(e)) => {
                *slot = Some(Err(format!("{e:#}")));
                return Ok(());
            }
            None => {} // timed out: try again
        }
    }
    *slot = Some(Err(format!("no answer in 2 attempts of {TIMEOUT:?}")));
    Ok(())
}

/// Fetches every item concurrently, at most `limit` at a time, into `results`.
#[structured]
async fn fetch_all(addr: SocketAddr, limit: &Limit, results: &mut [Outcome]) -> anyhow::Result<()> {
    nursery(async |n| -> anyhow::Result<()> {
        for (item, slot) in results.iter_mut().enumerate() {
            n.start_soon(fetch_into(addr, item as u64, limit, slot));
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Starts the origin server, fetches every item into `results`, then stops the server.
#[structured]
async fn run(origin: &Origin, limit: &Limit, results: &mut [Outcome]) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    nursery(async |n| -> anyhow::Result<()> {
        n.start_soon(async {
            serve_tcp(listener, |s| respond(s, origin)).await?;
            anyhow::Ok(())
        });
        fetch_all(addr, limit, results).await?;
        n.cancel(); // done: stop the server
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::main]
async fn main() -> anyhow::Result<()> {
    let origin = Origin::default();
    let limit = Limit::new(MAX_IN_FLIGHT);
    let mut results = vec![None; ITEMS];
    run(&origin, &limit, &mut results).await?;
    let failed = results.iter().filter(|r| !matches!(r, Some(Ok(_)))).count();
    for (item, r) in results.iter().enumerate() {
        match r {
            Some(Ok(body)) => println!("{item:2}: {body}"),
            Some(Err(e)) => println!("{item:2}: failed: {e}"),
            None => println!("{item:2}: never ran"),
        }
    }
    println!(
        "{} fetched, {failed} failed; at most {} requests were in flight",
        ITEMS - failed,
        limit.max_in_flight.get()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoro::testing::MockClock;

    /// A mock clock that jumps to the next deadline once nothing has happened for 20 ms of
    /// real time: lost requests time out at once, answered ones (over loopback) are never
    /// overtaken by a jump.
    fn runtime() -> scoro::Runtime {
        scoro::Builder::new()
            .clock(MockClock::autojump(Duration::from_millis(20)))
            .build()
            .unwrap()
    }

    #[structured]
    async fn fetch_everything() -> (Origin, Limit, Vec<Outcome>, Duration) {
        let origin = Origin::default();
        let limit = Limit::new(MAX_IN_FLIGHT);
        let mut results = vec![None; ITEMS];
        let start = scoro::current_time();
        run(&origin, &limit, &mut results).await.unwrap();
        let took = scoro::current_time() - start;
        (origin, limit, results, took)
    }

    #[test]
    fn every_item_is_fetched_or_reported_within_the_limits() {
        let (origin, limit, results, took) = runtime().run(fetch_everything());
        for (item, r) in results.iter().enumerate() {
            let item = item as u64;
            let r = r.as_ref().expect("every item has an outcome");
            if item == 7 || item == 32 {
                assert_eq!(r, &Err("no answer in 2 attempts of 200ms".to_string()));
            } else {
                assert_eq!(r, &Ok(format!("item {item} = {}", item * item)));
            }
        }
        let attempts = origin.attempts.borrow();
        for item in 0..ITEMS as u64 {
            let expected = if item == 7 || item == 32 || item % 10 == 3 {
                2
            } else {
                1
            };
            assert_eq!(attempts[&item], expected, "attempts for item {item}");
        }
        assert_eq!(
            limit.max_in_flight.get(),
            MAX_IN_FLIGHT,
            "the limit was used, not exceeded"
        );
        // The lost requests time out together, not one after the other: two rounds of
        // timeouts, not eight.
        assert!(took < 4 * TIMEOUT, "took {took:?}");
    }
}
