//! Server-shaped cases: many connections, idle connections, accept rate.
//!
//! Design: the server under test is the only thing in its runtime. Each peer runs an idiomatic
//! server (scoro: `serve_tcp` under a cancel scope; tokio: an accept loop that `tokio::spawn`s
//! a task per connection; smol: the same on a `LocalExecutor`) and hands the client to its own
//! pool for blocking code (`to_thread::run_sync`, `spawn_blocking`, `smol::unblock`), so the
//! client runs on a thread of its own. The client is the same code for every peer: blocking
//! std sockets to set connections up, and a hand-written mio loop (no runtime) for the timed
//! part; it measures, and the server is stopped (and its runtime dropped) once it returns.
//!
//! Every client socket has `SO_LINGER` 0, so closing it sends a reset: no socket is left in
//! TIME_WAIT, and thousands of connections per round do not use up the loopback ports.
//!
//! - `tcp_many`: 1,000 connections (500 in quick mode), each doing `rounds` 64-byte
//!   request/response round trips, all at once; ns per round trip (elapsed / (conns * rounds)).
//!   Connecting (and one round trip per connection, which proves the server has accepted it)
//!   is not timed.
//! - `tcp_many_p50`, `tcp_many_p99`: the median and 99th percentile round-trip latency (ns) of
//!   the same runs (one run per peer and round feeds all three cases; see `ManyCache`).
//! - `idle_connections`: heap bytes per idle connection (counting allocator: live bytes with
//!   every connection open and its server task blocked in `read`, minus live bytes before).
//!   Each connection does one 1-byte round trip, so its handler has been accepted, spawned and
//!   is back in `read` when the client measures (after a short pause for the last one). The
//!   client allocates nothing in between, and one connection made and closed before is not
//!   counted (what a server allocates once, on its first accept). 10,000 connections (1,000 in
//!   quick mode) need 20,000 descriptors and more: the soft `RLIMIT_NOFILE` is raised as far
//!   as needed. Where the hard limit is a little lower, the case runs with as many connections
//!   as fit (at least 5,000), and says so; below that it is skipped, saying so.
//! - `tcp_accept_rate`: ns per connection accepted and closed; the server closes each
//!   connection at once, the client keeps `ACCEPT_WINDOW` connects in flight and counts a
//!   connection when it reads the end of stream.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use scoro::{CancelRequested, CancelScope, MaybeCancelled, nursery, structured, to_thread};

use crate::alloc::live_bytes;
use crate::harness::{Case, PeerFn, Sample, time};
use crate::runtimes::{tokio_ct, tokio_mt};

/// Size of a `tcp_many` message.
const MSG: usize = 64;
/// Connections set up at once (connect, then the first round trip): well below any listen
/// backlog (std's 128), so that no SYN is dropped and retried a second later.
const BATCH: usize = 64;
/// Connects in flight in `tcp_accept_rate`.
const ACCEPT_WINDOW: usize = 64;
/// A client that sees no progress for this long reports a stalled server (and panics).
const STALL: Duration = Duration::from_secs(10);
/// How long the `idle_connections` client waits after the last round trip before measuring,
/// so that the last handlers have gone back to `read`.
const SETTLE: Duration = Duration::from_millis(10);

const PEERS: [&str; 4] = ["scoro", "tokio_ct", "tokio_mt", "smol"];

pub(crate) fn cases(quick: bool) -> Vec<Case> {
    let mut v = Vec::new();
    let (conns, rounds) = if quick { (500, 5) } else { (1_000, 20) };
    if fds_available(&["tcp_many", "tcp_many_p50", "tcp_many_p99"], 2 * conns) {
        v.extend(tcp_many(conns, rounds));
    }
    let mut idle = if quick { 1_000 } else { 10_000 };
    // Where the hard limit on open files is a little short of what 10,000 connections need
    // (each has two ends in this process), measure as many as fit, and say so.
    if let Some(hard) = fd_hard_limit()
        && hard < 2 * idle + 256
        && hard >= 2 * 5_000 + 256
    {
        idle = (hard - 256) / 2 / 100 * 100;
        println!(
            "idle_connections: measured at {idle} connections: the hard limit on open files \
             (RLIMIT_NOFILE) is {hard}"
        );
    }
    if fds_available(&["idle_connections"], 2 * idle) {
        v.push(idle_connections(idle));
    }
    v.push(tcp_accept_rate(if quick { 1_000 } else { 8_000 }));
    v
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// `tcp_many` and its latency percentiles, from the same runs.
fn tcp_many(conns: usize, rounds: usize) -> [Case; 3] {
    let cache = ManyCache::default();
    let n = conns * rounds;
    let peers = |metric: Metric| -> Vec<(&'static str, PeerFn)> {
        PEERS
            .iter()
            .map(|&peer| {
                let cache = cache.clone();
                let f: PeerFn = Box::new(move |_| {
                    let m = cache.take(peer, metric).unwrap_or_else(|| {
                        let m = serve(peer, Handler::Echo, move |addr| {
                            many_client(addr, conns, rounds)
                        });
                        cache.put(peer, metric, m);
                        m
                    });
                    match metric {
                        Metric::Throughput => time(m.elapsed),
                        Metric::P50 => Sample::PerOp(m.p50_ns),
                        Metric::P99 => Sample::PerOp(m.p99_ns),
                    }
                });
                (peer, f)
            })
            .collect()
    };
    [
        Case {
            name: "tcp_many",
            n,
            peers: peers(Metric::Throughput),
        },
        Case {
            name: "tcp_many_p50",
            n,
            peers: peers(Metric::P50),
        },
        Case {
            name: "tcp_many_p99",
            n,
            peers: peers(Metric::P99),
        },
    ]
}

fn idle_connections(conns: usize) -> Case {
    Case {
        name: "idle_connections",
        n: conns,
        peers: PEERS
            .iter()
            .map(|&peer| {
                let f: PeerFn = Box::new(move |n| {
                    Sample::Bytes(serve(peer, Handler::Echo, move |addr| idle_client(addr, n)))
                });
                (peer, f)
            })
            .collect(),
    }
}

fn tcp_accept_rate(conns: usize) -> Case {
    Case {
        name: "tcp_accept_rate",
        n: conns,
        peers: PEERS
            .iter()
            .map(|&peer| {
                let f: PeerFn = Box::new(move |n| {
                    time(serve(peer, Handler::Close, move |addr| {
                        accept_client(addr, n)
                    }))
                });
                (peer, f)
            })
            .collect(),
    }
}

/// What one `tcp_many` run measured.
#[derive(Clone, Copy)]
struct ManyMetrics {
    elapsed: Duration,
    p50_ns: f64,
    p99_ns: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Metric {
    Throughput,
    P50,
    P99,
}

/// Runs of `tcp_many` not yet reported by the later cases, by peer. The harness runs a case's
/// rounds (warm-up included) before the next case, so the n-th run of `tcp_many` feeds the n-th
/// call of `tcp_many_p50` and of `tcp_many_p99`; a case whose queue is empty (the earlier
/// case was filtered out) runs the workload itself and queues its metrics for the cases after
/// it.
#[derive(Clone, Default)]
struct ManyCache(Rc<RefCell<Queues>>);

type Queues = BTreeMap<(&'static str, Metric), VecDeque<ManyMetrics>>;

impl ManyCache {
    fn take(&self, peer: &'static str, metric: Metric) -> Option<ManyMetrics> {
        self.0.borrow_mut().get_mut(&(peer, metric))?.pop_front()
    }

    /// Queues `m` for the metrics reported after `metric`.
    fn put(&self, peer: &'static str, metric: Metric, m: ManyMetrics) {
        let mut map = self.0.borrow_mut();
        for later in [Metric::P50, Metric::P99] {
            if later > metric {
                map.entry((peer, later)).or_default().push_back(m);
            }
        }
    }
}

/// The hard limit on open files, if it can be read.
fn fd_hard_limit() -> Option<usize> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    Some(usize::try_from(lim.rlim_max).unwrap_or(usize::MAX))
}

/// Raises the soft limit on open files to `need` (plus some for the runtimes) if the hard
/// limit allows it. Otherwise says on stdout that `cases` are skipped, and returns false.
fn fds_available(cases: &[&str], need: usize) -> bool {
    let case = cases.join(", ");
    let need = need as libc::rlim_t + 256;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        println!(
            "{case}: skipped: getrlimit failed: {}",
            std::io::Error::last_os_error()
        );
        return false;
    }
    if lim.rlim_cur >= need {
        return true;
    }
    if lim.rlim_max < need {
        // Only worth saying when the case was asked for.
        let filter = std::env::var("SCORO_BENCH_FILTER").ok();
        if filter.is_none_or(|f| cases.iter().any(|c| c.contains(f.as_str()))) {
            println!(
                "{case}: skipped: it needs {need} open files, and the hard limit \
                 (RLIMIT_NOFILE) is {}; raise it (ulimit -Hn, limits.conf) to run it",
                lim.rlim_max
            );
        }
        return false;
    }
    lim.rlim_cur = need;
    // SAFETY: `lim` is a valid `rlimit`, with the soft limit under the hard one.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        println!(
            "{case}: skipped: setrlimit failed: {}",
            std::io::Error::last_os_error()
        );
        return false;
    }
    true
}

// ---------------------------------------------------------------------------------------------
// The servers: one per peer, each serving until its client returns.

/// What the server does with a connection.
#[derive(Clone, Copy)]
enum Handler {
    /// Echoes what it reads until the client closes.
    Echo,
    /// Closes it at once.
    Close,
}

/// Runs `peer`'s server with `handler` on 127.0.0.1 and `client` (given the server's address)
/// on a blocking thread of the same runtime; returns what `client` returns once the server has
/// stopped and its runtime is gone.
fn serve<T: Send + 'static>(
    peer: &str,
    handler: Handler,
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> T {
    match peer {
        "scoro" => scoro::run(scoro_server(handler, client)),
        "tokio_ct" => tokio_server(tokio_ct(), handler, client),
        "tokio_mt" => tokio_server(tokio_mt(), handler, client),
        "smol" => smol_server(handler, client),
        _ => unreachable!("no server for {peer}"),
    }
}

#[structured]
async fn scoro_echo(mut s: scoro::net::TcpStream) -> std::io::Result<()> {
    use scoro::io::{Read, Write};
    let mut buf = [0u8; MSG];
    loop {
        let k = match s.read(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(k) => k,
            Err(e) if e.is_cancel_requested() => return Err(e),
            // The client reset the connection: its business, not the server's.
            Err(_) => return Ok(()),
        };
        match s.write_all(&buf[..k]).await {
            Ok(()) => {}
            Err(e) if e.is_cancel_requested() => return Err(e),
            Err(_) => return Ok(()),
        }
    }
}

#[structured]
async fn scoro_close(s: scoro::net::TcpStream) -> std::io::Result<()> {
    drop(s);
    Ok(())
}

#[structured]
async fn scoro_server<T: Send>(handler: Handler, client: impl FnOnce(SocketAddr) -> T + Send) -> T {
    use scoro::net::{TcpListener, serve_tcp};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = CancelScope::new();
    let stop = server.handle();
    let mut out = None;
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            // Runs until cancelled; a handler's error would end it early, and the client
            // would then report a stall.
            let r = match handler {
                Handler::Echo => server.run(serve_tcp(listener, scoro_echo)).await,
                Handler::Close => server.run(serve_tcp(listener, scoro_close)).await,
            };
            if let Some(Err(e)) = r {
                panic!("scoro server failed: {e}");
            }
        });
        out = Some(to_thread::run_sync(|| client(addr)).await?);
        stop.cancel();
        Ok(())
    })
    .await
    .unwrap();
    out.unwrap()
}

async fn tokio_echo(mut s: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; MSG];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(k) => {
                if s.write_all(&buf[..k]).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn tokio_server<T: Send + 'static>(
    rt: tokio::runtime::Runtime,
    handler: Handler,
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> T {
    let out = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            loop {
                let (s, _) = listener.accept().await.expect("tokio accept");
                match handler {
                    Handler::Echo => {
                        s.set_nodelay(true).unwrap();
                        tokio::spawn(tokio_echo(s));
                    }
                    Handler::Close => {
                        tokio::spawn(async move { drop(s) });
                    }
                }
            }
        });
        let out = tokio::task::spawn_blocking(move || client(addr))
            .await
            .unwrap();
        server.abort();
        out
    });
    // Drops the handlers still running (their clients are gone), closing their sockets.
    drop(rt);
    out
}

async fn smol_echo(mut s: smol::net::TcpStream) {
    use smol::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; MSG];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(k) => {
                if s.write_all(&buf[..k]).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn smol_server<T: Send + 'static>(
    handler: Handler,
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> T {
    let ex = Rc::new(smol::LocalExecutor::new());
    let spawner = ex.clone();
    let out = smol::block_on(ex.run(async {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ex.spawn(async move {
            loop {
                let (s, _) = listener.accept().await.expect("smol accept");
                match handler {
                    Handler::Echo => {
                        s.set_nodelay(true).unwrap();
                        spawner.spawn(smol_echo(s)).detach();
                    }
                    Handler::Close => spawner.spawn(async move { drop(s) }).detach(),
                }
            }
        });
        let out = smol::unblock(move || client(addr)).await;
        // Drops the accept loop (and its `Rc` of the executor) before the executor goes.
        server.cancel().await;
        out
    }));
    // Drops the handlers still running, closing their sockets.
    drop(ex);
    out
}

// ---------------------------------------------------------------------------------------------
// The clients: the same for every peer, on a thread of their own.

/// Makes closing `fd` send a reset (`SO_LINGER` 0): no TIME_WAIT left behind.
fn reset_on_close(fd: RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `fd` is an open socket, and `linger` a valid `struct linger` of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

/// A blocking client connection, with `TCP_NODELAY` and a reset on close.
fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(STALL)).unwrap();
    reset_on_close(s.as_raw_fd());
    s
}

/// Connects `conns` streams to `addr`, BATCH at a time, each doing one round trip of `msg`.
/// When it returns, the server has accepted every connection and echoed on it.
fn connect_all(addr: SocketAddr, streams: &mut Vec<std::net::TcpStream>, conns: usize, msg: &[u8]) {
    let mut buf = vec![0u8; msg.len()];
    while streams.len() < conns {
        let first = streams.len();
        for _ in first..conns.min(first + BATCH) {
            let mut s = connect(addr);
            s.write_all(msg).unwrap();
            streams.push(s);
        }
        for s in &mut streams[first..] {
            s.read_exact(&mut buf)
                .unwrap_or_else(|e| panic!("the server did not echo within {STALL:?}: {e}"));
        }
    }
}

/// Polls, panicking when nothing happens for `STALL`.
fn poll_or_stall(poll: &mut Poll, events: &mut Events, what: &str) {
    poll.poll(events, Some(STALL)).unwrap();
    assert!(
        !events.is_empty(),
        "{what}: the server made no progress for {STALL:?}"
    );
}

/// `tcp_many`'s client: see the module docs.
fn many_client(addr: SocketAddr, conns: usize, rounds: usize) -> ManyMetrics {
    /// One connection: sends a message, reads the echo, `rounds` times.
    struct Conn {
        stream: mio::net::TcpStream,
        buf: [u8; MSG],
        /// Bytes done of the current message, and whether it is being sent.
        done: usize,
        sending: bool,
        rounds_left: usize,
        /// When the current round trip started.
        started: Instant,
        /// Registered for writable too (after a write that would block).
        writable: bool,
    }

    impl Conn {
        /// Makes as much progress as the socket allows; returns true when finished.
        fn drive(&mut self, token: Token, poll: &Poll, latencies: &mut Vec<u64>) -> bool {
            loop {
                if self.rounds_left == 0 {
                    return true;
                }
                let r = if self.sending {
                    self.stream.write(&self.buf[self.done..])
                } else {
                    self.stream.read(&mut self.buf[self.done..])
                };
                match r {
                    Ok(0) if !self.sending => panic!("the server closed a connection"),
                    Ok(k) => {
                        self.done += k;
                        if self.done == MSG {
                            self.done = 0;
                            if !self.sending {
                                let now = Instant::now();
                                latencies.push((now - self.started).as_nanos() as u64);
                                self.rounds_left -= 1;
                                self.started = now;
                            }
                            self.sending = !self.sending;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if self.sending && !self.writable {
                            self.writable = true;
                            poll.registry()
                                .reregister(
                                    &mut self.stream,
                                    token,
                                    Interest::READABLE | Interest::WRITABLE,
                                )
                                .unwrap();
                        }
                        return false;
                    }
                    Err(e) => panic!("echo failed: {e}"),
                }
            }
        }
    }

    let mut streams = Vec::with_capacity(conns);
    connect_all(addr, &mut streams, conns, &[7u8; MSG]);
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let now = Instant::now();
    let mut all: Vec<Conn> = streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.set_nonblocking(true).unwrap();
            let mut stream = mio::net::TcpStream::from_std(s);
            poll.registry()
                .register(&mut stream, Token(i), Interest::READABLE)
                .unwrap();
            Conn {
                stream,
                buf: [7u8; MSG],
                done: 0,
                sending: true,
                rounds_left: rounds,
                started: now,
                writable: false,
            }
        })
        .collect();
    let mut latencies = Vec::with_capacity(conns * rounds);
    let mut finished = 0;
    let t0 = Instant::now();
    for (i, c) in all.iter_mut().enumerate() {
        c.started = Instant::now();
        if c.drive(Token(i), &poll, &mut latencies) {
            finished += 1;
        }
    }
    while finished < conns {
        poll_or_stall(&mut poll, &mut events, "tcp_many");
        for ev in events.iter() {
            let c = &mut all[ev.token().0];
            if c.rounds_left > 0 && c.drive(ev.token(), &poll, &mut latencies) {
                finished += 1;
            }
        }
    }
    let elapsed = t0.elapsed();
    drop(all);
    let mut pick = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len() - 1);
        *latencies.select_nth_unstable(i).1 as f64
    };
    ManyMetrics {
        elapsed,
        p50_ns: pick(0.50),
        p99_ns: pick(0.99),
    }
}

/// `idle_connections`' client: heap bytes per connection, see the module docs.
fn idle_client(addr: SocketAddr, conns: usize) -> f64 {
    // Everything the client itself needs is allocated before measuring. One connection first,
    // so that whatever the server allocates once (on its first accept) is not counted.
    let mut streams = Vec::with_capacity(conns);
    connect_all(addr, &mut streams, 1, &[1]);
    drop(streams.pop());
    std::thread::sleep(SETTLE);
    let before = live_bytes();
    connect_all(addr, &mut streams, conns, &[1]);
    std::thread::sleep(SETTLE);
    let after = live_bytes();
    drop(streams);
    (after - before) as f64 / conns as f64
}

/// `tcp_accept_rate`'s client: opens `conns` connections, `ACCEPT_WINDOW` at a time, each
/// finished when the server has closed it; returns the time taken.
fn accept_client(addr: SocketAddr, conns: usize) -> Duration {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let mut slots: Vec<Option<mio::net::TcpStream>> = (0..ACCEPT_WINDOW).map(|_| None).collect();
    let open = |poll: &Poll, slot: usize| {
        let mut s = mio::net::TcpStream::connect(addr).expect("connect");
        reset_on_close(s.as_raw_fd());
        poll.registry()
            .register(&mut s, Token(slot), Interest::READABLE)
            .unwrap();
        s
    };
    let t0 = Instant::now();
    let mut started = 0;
    for slot in slots.iter_mut().take(conns) {
        *slot = Some(open(&poll, started));
        started += 1;
    }
    let mut done = 0;
    while done < conns {
        poll_or_stall(&mut poll, &mut events, "tcp_accept_rate");
        for ev in events.iter() {
            let slot = ev.token().0;
            // An event for a connection already replaced in this slot finds it still open.
            let Some(s) = &mut slots[slot] else { continue };
            match s.read(&mut [0u8; 1]) {
                Ok(0) => {}
                Ok(_) => panic!("the server sent data"),
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("connection failed: {e}"),
            }
            slots[slot] = None;
            done += 1;
            if started < conns {
                slots[slot] = Some(open(&poll, slot));
                started += 1;
            }
        }
    }
    t0.elapsed()
}
