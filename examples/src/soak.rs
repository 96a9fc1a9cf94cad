//! The soak harness: runs the `echo_server` example as a separate process and puts it under
//! sustained load from well-behaved and misbehaving loopback clients, verifying every echoed
//! byte and watching the server's memory and descriptors.
//!
//! The clients (each a loop of connections, all in one nursery):
//! - **echo**: sends a random payload (up to `max_payload` bytes) while reading it back
//!   concurrently, and checks every byte;
//! - **half-close**: sends a payload, shuts its sending side, reads until the server closes,
//!   and checks every byte;
//! - **reset**: sends part of a payload and resets the connection (`SO_LINGER` 0) mid-stream;
//! - **reset at once**: connects and resets before the server has read anything (often
//!   before the server accepted it);
//! - **idle**: connects and sends nothing; the server must close it after its idle timeout;
//! - **non-reader**: sends without ever reading, so the server's writes block; the server must
//!   give up on it after its idle timeout;
//! - **trickle**: sends one byte at a time with pauses, reading each echo.
//!
//! It fails (with every reason listed) on a corrupted or lost byte, a well-behaved client that
//! is refused or cut off, a misbehaving client the server keeps past its idle timeout, a server
//! that dies or does not exit cleanly on Ctrl-C, resident memory growing by more than
//! [`RSS_GROWTH_LIMIT_KIB`] after the warm-up, or descriptors not back to their count before
//! the load once it is over. Only loopback addresses are used.
//!
//! The server binary is found next to the running executable: `cargo build` (and `cargo
//! test`) put example binaries in `target/<profile>/examples/`, and integration tests and
//! examples run from `target/<profile>/deps/` and `target/<profile>/examples/`.

use scoro::io::{Read, Write};
use scoro::net::TcpStream;
use scoro::{CancelRequested, ErrorGroup, fail_after, nursery, structured};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How much the server's resident memory may grow after the warm-up (the first quarter of the
/// run) before the run counts as leaking.
pub const RSS_GROWTH_LIMIT_KIB: u64 = 16 * 1024;

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The echo server binary.
    pub server: PathBuf,
    /// How long the load lasts.
    pub duration: Duration,
    /// How many clients run at once.
    pub clients: usize,
    /// The largest payload of an echo or half-close client.
    pub max_payload: usize,
    /// The server's idle timeout, in seconds (passed on its command line).
    pub idle_secs: u64,
    /// How often the server's memory and descriptors are sampled.
    pub sample_every: Duration,
    /// Seeds the clients' random choices and payloads.
    pub seed: u64,
}

impl Config {
    /// The short run that `cargo test` does: 20 seconds, 24 clients.
    pub fn short(server: PathBuf) -> Config {
        Config {
            server,
            duration: Duration::from_secs(20),
            clients: 24,
            max_payload: 64 * 1024,
            idle_secs: 1,
            sample_every: Duration::from_millis(500),
            seed: 0x5c0_50a6,
        }
    }
}

/// The echo server binary next to the running executable (see the module docs).
pub fn find_server() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    // Tests run from `deps/`, examples from `examples/`: both sit in the profile directory.
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    let server = dir.join("examples").join("echo_server");
    if server.is_file() {
        Ok(server)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "the echo server is not built at {}; build it with `cargo build -p examples \
                 --example echo_server` (add `--release` for a release run)",
                server.display()
            ),
        ))
    }
}

/// The server's memory and descriptors at one moment of the run.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Time since the load started.
    pub at: Duration,
    /// Resident memory (`VmRSS`), in KiB.
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: usize,
}

/// What a run did and found.
#[derive(Debug, Default)]
pub struct Report {
    /// Echo and half-close exchanges whose every byte came back intact.
    pub echoes: u64,
    /// Bytes sent and verified on the way back.
    pub bytes: u64,
    /// Connections reset by the client (mid-stream or at once).
    pub resets: u64,
    /// Half-closed connections.
    pub half_closes: u64,
    /// Idle connections that the server closed.
    pub idles: u64,
    /// Connections that never read, which the server gave up on.
    pub non_readers: u64,
    /// Trickling connections, every byte verified.
    pub trickles: u64,
    /// Descriptors open in the server before the load.
    pub fds_before: usize,
    /// Descriptors open in the server after the load (once idle connections timed out).
    pub fds_after: usize,
    /// Memory and descriptors over the run.
    pub samples: Vec<Sample>,
    /// Everything that went wrong; empty for a passing run.
    pub failures: Vec<String>,
}

impl Report {
    /// The largest resident memory over the run, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.samples.iter().map(|s| s.rss_kib).max().unwrap_or(0)
    }

    /// The largest number of open descriptors over the run.
    pub fn peak_fds(&self) -> usize {
        self.samples.iter().map(|s| s.fds).max().unwrap_or(0)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} verified echoes ({:.1} MB), {} half-closes, {} resets, {} idle, {} non-readers, {} tricklers",
            self.echoes,
            self.bytes as f64 / 1e6,
            self.half_closes,
            self.resets,
            self.idles,
            self.non_readers,
            self.trickles,
        )?;
        writeln!(
            f,
            "server: peak RSS {} KiB, peak fds {}, fds before {} and after {}",
            self.peak_rss_kib(),
            self.peak_fds(),
            self.fds_before,
            self.fds_after
        )?;
        writeln!(f, "{:>8} {:>10} {:>6}", "time_s", "rss_kib", "fds")?;
        let step = (self.samples.len() / 20).max(1);
        for s in self.samples.iter().step_by(step) {
            writeln!(
                f,
                "{:>8.1} {:>10} {:>6}",
                s.at.as_secs_f64(),
                s.rss_kib,
                s.fds
            )?;
        }
        if self.failures.is_empty() {
            write!(f, "PASSED")
        } else {
            writeln!(f, "FAILED:")?;
            for failure in &self.failures {
                writeln!(f, "  - {failure}")?;
            }
            Ok(())
        }
    }
}

/// A small deterministic random generator (xorshift64*): payloads and choices, reproducible
/// from the seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// A running server process; killed if dropped before [`Server::stop`].
pub struct Server {
    child: Child,
    addr: SocketAddr,
    lines: Option<std::thread::JoinHandle<u64>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("pid", &self.child.id())
            .field("addr", &self.addr)
            .finish()
    }
}

impl Server {
    /// Starts `binary` on a free loopback port with idle timeout `idle_secs` and waits until
    /// it listens.
    pub fn start(binary: &Path, idle_secs: u64) -> io::Result<Server> {
        Server::start_limited(binary, idle_secs, None)
    }

    /// Like [`start`](Server::start), with the server's descriptor limit (`RLIMIT_NOFILE`)
    /// lowered to `max_fds` if given.
    pub fn start_limited(
        binary: &Path,
        idle_secs: u64,
        max_fds: Option<u64>,
    ) -> io::Result<Server> {
        let mut command = Command::new(binary);
        command
            .args(["0", &idle_secs.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if let Some(max) = max_fds {
            let limit = libc::rlimit {
                rlim_cur: max as libc::rlim_t,
                rlim_max: max as libc::rlim_t,
            };
            // SAFETY: the closure runs in the child between `fork` and `exec`, where only
            // async-signal-safe functions may be called: it calls `setrlimit` (which is) with
            // a valid, fully initialised `rlimit` it owns, and allocates nothing.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first)?;
        let addr = first
            .split_whitespace()
            .find_map(|w| w.trim_end_matches(';').parse::<SocketAddr>().ok())
            .ok_or_else(|| {
                let _ = child.kill();
                io::Error::other(format!(
                    "the server did not say where it listens; its first line: {first:?}"
                ))
            })?;
        if !addr.ip().is_loopback() {
            let _ = child.kill();
            return Err(io::Error::other(format!(
                "the server listens on {addr}, not on a loopback address"
            )));
        }
        // The server logs every connection: drain its output so that it never blocks on a
        // full pipe.
        let lines = std::thread::spawn(move || reader.lines().map_while(Result::ok).count() as u64);
        Ok(Server {
            child,
            addr,
            lines: Some(lines),
        })
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Has the server exited? (With its status, if so.)
    pub fn exited(&mut self) -> io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// Stops the server with Ctrl-C (SIGINT) and waits up to `patience` for it to exit;
    /// returns its exit status and how many lines it printed. A server still running then is
    /// killed and reported as an error.
    pub fn stop(mut self, patience: Duration) -> io::Result<(std::process::ExitStatus, u64)> {
        let pid = libc::pid_t::try_from(self.child.id()).map_err(io::Error::other)?;
        // SAFETY: `kill` has no memory-safety preconditions; `pid` is our child, not reaped yet.
        if unsafe { libc::kill(pid, libc::SIGINT) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait()? {
                let lines = self.lines.take().and_then(|t| t.join().ok()).unwrap_or(0);
                return Ok((status, lines));
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the server did not exit within {patience:?} of Ctrl-C"),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The server's resident memory (KiB) and open descriptors, from `/proc`.
pub fn sample_process(pid: u32) -> io::Result<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS line in /proc/PID/status"))?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count();
    Ok((rss, fds))
}

/// Makes dropping `stream` reset the connection (RST) instead of closing it (FIN).
pub fn set_reset_on_close(stream: &TcpStream) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is the stream's own and open; `linger` is a valid `struct linger`
    // that outlives the call, and its size is passed along.
    let r = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The kinds of client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// Sends a payload while reading it back.
    Echo,
    /// Sends a payload, half-closes, reads everything back.
    HalfClose,
    /// Sends part of a payload, then resets.
    Reset,
    /// Connects and resets at once.
    ResetAtOnce,
    /// Connects and sends nothing.
    Idle,
    /// Sends without reading.
    NonReader,
    /// Sends a byte at a time.
    Trickle,
}

impl Client {
    /// Picks a kind: mostly well-behaved clients, every misbehaviour often.
    pub fn pick(rng: &mut Rng) -> Client {
        match rng.below(100) {
            0..55 => Client::Echo,
            55..70 => Client::HalfClose,
            70..80 => Client::Reset,
            80..85 => Client::ResetAtOnce,
            85..90 => Client::Idle,
            90..94 => Client::NonReader,
            _ => Client::Trickle,
        }
    }
}

/// The counters the clients update (shared by reference: they all run on one thread).
#[derive(Default)]
struct Counters {
    echoes: Cell<u64>,
    bytes: Cell<u64>,
    resets: Cell<u64>,
    half_closes: Cell<u64>,
    idles: Cell<u64>,
    non_readers: Cell<u64>,
    trickles: Cell<u64>,
    failures: RefCell<Vec<String>>,
}

impl Counters {
    fn add(cell: &Cell<u64>, n: u64) {
        cell.set(cell.get() + n);
    }

    fn fail(&self, what: String) {
        let mut failures = self.failures.borrow_mut();
        // Keep the report readable: the first 50 are enough to see what went wrong.
        if failures.len() < 50 {
            failures.push(what);
        }
    }
}

/// Checks that `got` is `want`; says where they first differ.
fn verify(got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b);
    Err(match at {
        Some(i) => format!("byte {i} of {} came back corrupted", want.len()),
        None => format!("{} of {} bytes came back", got.len(), want.len()),
    })
}

/// Sends `payload` while reading it back concurrently; returns what came back.
#[structured]
async fn exchange(stream: &mut TcpStream, payload: &[u8]) -> io::Result<Vec<u8>> {
    let mut back = vec![0; payload.len()];
    let (mut reader, mut writer) = stream.split();
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async { writer.write_all(payload).await });
        reader.read_exact(&mut back).await?;
        Ok(())
    })
    .await?;
    Ok(back)
}

/// Runs one connection of kind `kind`; returns a failure description for a server fault.
#[structured]
async fn one_client(
    kind: Client,
    addr: SocketAddr,
    idle: Duration,
    max_payload: usize,
    rng: &mut Rng,
    counters: &Counters,
) -> Result<(), CancelRequested> {
    let len = 1 + rng.below(max_payload as u64) as usize;
    let payload = rng.bytes(len);
    // A well-behaved exchange must never take long; misbehaving ones get the idle timeout.
    let bound = idle * 3 + Duration::from_secs(20);
    let outcome: io::Result<Result<(), String>> = fail_after(bound, async {
        let mut stream = TcpStream::connect(addr).await?;
        match kind {
            Client::Echo => {
                let back = exchange(&mut stream, &payload).await?;
                if let Err(e) = verify(&back, &payload) {
                    return Ok(Err(format!("echo: {e}")));
                }
                Counters::add(&counters.echoes, 1);
                Counters::add(&counters.bytes, len as u64);
            }
            Client::HalfClose => {
                let (mut reader, mut writer) = stream.split();
                let mut back = Vec::with_capacity(len);
                nursery(async |n| -> io::Result<()> {
                    n.start_soon(async {
                        writer.write_all(&payload).await?;
                        writer.shutdown().await
                    });
                    reader.read_to_end(&mut back).await?;
                    Ok(())
                })
                .await?;
                if let Err(e) = verify(&back, &payload) {
                    return Ok(Err(format!("half-close: {e}")));
                }
                Counters::add(&counters.echoes, 1);
                Counters::add(&counters.half_closes, 1);
                Counters::add(&counters.bytes, len as u64);
            }
            Client::Reset => {
                let part = &payload[..len.div_ceil(2)];
                stream.write_all(part).await?;
                let mut some = [0; 512];
                let _ = stream.read(&mut some).await?;
                set_reset_on_close(&stream)?;
                drop(stream);
                Counters::add(&counters.resets, 1);
            }
            Client::ResetAtOnce => {
                set_reset_on_close(&stream)?;
                drop(stream);
                Counters::add(&counters.resets, 1);
            }
            Client::Idle => {
                let mut buf = [0; 64];
                // The server must close the connection once it has been idle for `idle`.
                match fail_after(idle * 2 + Duration::from_secs(5), stream.read(&mut buf)).await {
                    Ok(Ok(0)) => Counters::add(&counters.idles, 1),
                    Ok(Ok(n)) => return Ok(Err(format!("idle: the server sent {n} bytes"))),
                    // A reset is a way of closing, too.
                    Ok(Err(_)) => Counters::add(&counters.idles, 1),
                    Err(_) => {
                        return Ok(Err(format!(
                            "idle: the server kept an idle connection past twice its timeout ({idle:?})"
                        )));
                    }
                }
            }
            Client::NonReader => {
                // Write until the server gives up on us (its writes back block), or 64 MiB.
                let chunk = rng.bytes(64 * 1024);
                let mut sent = 0usize;
                let gave_up = loop {
                    match stream.write_all(&chunk).await {
                        Ok(()) => sent += chunk.len(),
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(e),
                        Err(_) => break true,
                    }
                    if sent >= 64 << 20 {
                        break false;
                    }
                };
                if !gave_up {
                    return Ok(Err(
                        "non-reader: the server took 64 MiB without its writes back ever blocking"
                            .to_string(),
                    ));
                }
                Counters::add(&counters.non_readers, 1);
            }
            Client::Trickle => {
                let bytes = &payload[..len.min(20)];
                for (i, &b) in bytes.iter().enumerate() {
                    stream.write_all(&[b]).await?;
                    let mut one = [0; 1];
                    stream.read_exact(&mut one).await?;
                    if one[0] != b {
                        return Ok(Err(format!("trickle: byte {i} came back corrupted")));
                    }
                    scoro::sleep(Duration::from_millis(20)).await?;
                }
                Counters::add(&counters.trickles, 1);
                Counters::add(&counters.bytes, bytes.len() as u64);
            }
        }
        Ok(Ok(()))
    })
    .await
    .unwrap_or_else(|too_slow| Err(io::Error::from(too_slow)));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(fault)) => counters.fail(fault),
        Err(e) if scoro::MaybeCancelled::is_cancel_requested(&e) => {
            return Err(CancelRequested::try_from(&e).expect("a cancellation"));
        }
        // The misbehaving clients' own connection may fail at any point: that is the point.
        Err(_)
            if matches!(
                kind,
                Client::Reset | Client::ResetAtOnce | Client::NonReader
            ) => {}
        Err(e) => counters.fail(format!("{kind:?}: {e}")),
    }
    Ok(())
}

/// Runs one connection of kind `kind` against the server at `addr` (idle timeout `idle_secs`)
/// on a runtime of its own; `Err` describes what the server did wrong.
pub fn run_one(kind: Client, addr: SocketAddr, idle_secs: u64, seed: u64) -> Result<(), String> {
    let counters = Counters::default();
    let mut rng = Rng::new(seed);
    let idle = Duration::from_secs(idle_secs);
    scoro::run(one_client(kind, addr, idle, 64 * 1024, &mut rng, &counters))
        .map_err(|c| format!("cancelled: {c}"))?;
    match counters.failures.into_inner().into_iter().next() {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// One client slot: runs connections of random kinds until `until`.
#[structured]
async fn client_loop(
    id: u64,
    config: &Config,
    addr: SocketAddr,
    until: Instant,
    counters: &Counters,
) -> Result<(), CancelRequested> {
    let mut rng = Rng::new(config.seed ^ (id + 1).wrapping_mul(0x1000_0001));
    let idle = Duration::from_secs(config.idle_secs);
    while scoro::current_time() < until {
        let kind = Client::pick(&mut rng);
        one_client(kind, addr, idle, config.max_payload, &mut rng, counters).await?;
    }
    Ok(())
}

/// Samples the server every `config.sample_every` until `until`.
#[structured]
async fn sampler(
    pid: u32,
    config: &Config,
    start: Instant,
    until: Instant,
    samples: &RefCell<Vec<Sample>>,
    counters: &Counters,
) -> Result<(), CancelRequested> {
    loop {
        match scoro::to_thread::run_sync(|| sample_process(pid)).await? {
            Ok((rss_kib, fds)) => samples.borrow_mut().push(Sample {
                at: scoro::current_time() - start,
                rss_kib,
                fds,
            }),
            Err(e) => {
                counters.fail(format!("the server process is gone ({e})"));
                return Ok(());
            }
        }
        if scoro::current_time() >= until {
            return Ok(());
        }
        scoro::sleep(config.sample_every).await?;
    }
}

/// The load itself, on a scoro runtime.
#[structured]
async fn load(
    config: &Config,
    server: &Server,
    report: &mut Report,
) -> Result<(), CancelRequested> {
    let counters = Counters::default();
    let samples = RefCell::new(Vec::new());
    let start = scoro::current_time();
    let until = start + config.duration;
    let addr = server.addr();
    let pid = server.pid();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(sampler(pid, config, start, until, &samples, &counters));
        for id in 0..config.clients as u64 {
            n.start_soon(client_loop(id, config, addr, until, &counters));
        }
        Ok(())
    })
    .await
    .map_err(ErrorGroup::into_first)?;
    report.echoes = counters.echoes.get();
    report.bytes = counters.bytes.get();
    report.resets = counters.resets.get();
    report.half_closes = counters.half_closes.get();
    report.idles = counters.idles.get();
    report.non_readers = counters.non_readers.get();
    report.trickles = counters.trickles.get();
    report.samples = samples.into_inner();
    report.failures.extend(counters.failures.into_inner());
    Ok(())
}

/// Runs the whole soak: starts the server, measures it at rest, loads it, lets idle
/// connections time out, measures again, stops it with Ctrl-C. `Err` only when the run could
/// not be made at all; a run that found faults returns a [`Report`] with `failures`.
pub fn run(config: &Config) -> io::Result<Report> {
    let mut server = Server::start(&config.server, config.idle_secs)?;
    let mut report = Report::default();
    // Let the server settle (its runtime made, its worker threads idle).
    std::thread::sleep(Duration::from_millis(200));
    report.fds_before = sample_process(server.pid())?.1;
    if let Err(c) = scoro::run(load(config, &server, &mut report)) {
        report.failures.push(format!("the load was cancelled: {c}"));
    }
    if let Some(status) = server.exited()? {
        report
            .failures
            .push(format!("the server died under load: {status}"));
        return Ok(report);
    }
    // Connections the server is still closing go within its idle timeout.
    let settle = Instant::now() + Duration::from_secs(config.idle_secs * 2 + 2);
    loop {
        report.fds_after = sample_process(server.pid())?.1;
        if report.fds_after <= report.fds_before || Instant::now() >= settle {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if report.fds_after > report.fds_before {
        report.failures.push(format!(
            "the server holds {} descriptors after the load, {} before",
            report.fds_after, report.fds_before
        ));
    }
    let warm = report.samples.len() / 4;
    if let Some(base) = report.samples.get(warm).map(|s| s.rss_kib) {
        let peak = report.samples[warm..]
            .iter()
            .map(|s| s.rss_kib)
            .max()
            .unwrap_or(base);
        if peak > base + RSS_GROWTH_LIMIT_KIB {
            report.failures.push(format!(
                "the server's memory grew from {base} KiB after the warm-up to {peak} KiB \
                 (the bound is {RSS_GROWTH_LIMIT_KIB} KiB of growth)"
            ));
        }
    }
    if report.echoes == 0 {
        report
            .failures
            .push("no echo exchange completed".to_string());
    }
    match server.stop(Duration::from_secs(10)) {
        Ok((status, _)) if status.success() => {}
        Ok((status, _)) => report
            .failures
            .push(format!("the server exited with {status} on Ctrl-C")),
        Err(e) => report.failures.push(e.to_string()),
    }
    Ok(report)
}
