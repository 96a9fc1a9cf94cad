//! The soak harness's short mode: 20 seconds of mixed load against the `echo_server` example
//! (run as its own process). The ten-minute run is `loadgen` (see the book's "Reliability"
//! chapter).

use examples::soak::{self, Config};

#[test]
fn the_echo_server_survives_twenty_seconds_of_misbehaving_clients() {
    let server = soak::find_server().expect("the echo server binary");
    let config = Config::short(server);
    let report = soak::run(&config).expect("the soak runs");
    println!("{report}");
    assert!(report.failures.is_empty(), "{report}");
    // Every kind of client got its turn.
    assert!(report.echoes > 100, "{report}");
    assert!(report.half_closes > 0 && report.resets > 0, "{report}");
    assert!(
        report.idles > 0 && report.non_readers > 0 && report.trickles > 0,
        "{report}"
    );
    assert!(report.samples.len() >= 10, "{report}");
}

// The harness's checks can fail: a server that keeps idle connections longer than the harness
// was told is caught, and so is one that corrupts a byte.
#[test]
fn the_harness_catches_a_server_that_keeps_idle_clients() {
    let binary = soak::find_server().expect("the echo server binary");
    // The server closes idle connections after 60 s; the client was told 1 s.
    let server = soak::Server::start(&binary, 60).expect("the server starts");
    let fault = soak::run_one(soak::Client::Idle, server.addr(), 1, 7).unwrap_err();
    assert!(fault.contains("kept an idle connection"), "{fault}");
}

#[test]
fn the_harness_catches_a_corrupted_byte() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A broken echo server: flips one bit of the hundredth byte.
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = vec![0; 1 << 16];
        let mut seen = 0usize;
        loop {
            let n = conn.read(&mut buf).unwrap_or(0);
            if n == 0 {
                return;
            }
            if (seen..seen + n).contains(&99) {
                buf[99 - seen] ^= 1;
            }
            seen += n;
            if conn.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    });
    // Seed 3 makes the payload longer than 100 bytes.
    let fault = soak::run_one(soak::Client::Echo, addr, 1, 3).unwrap_err();
    assert!(fault.contains("byte 99"), "{fault}");
    server.join().unwrap();
}
