//! Connects to a host the way browsers do (Happy Eyeballs, RFC 8305): all its addresses are
//! tried concurrently, staggered by 250 ms, and the first connection wins.
//!
//! ```text
//! cargo run -p examples --example happy_eyeballs [HOST:PORT]
//! ```
//!
//! Without an argument it starts a listener on 127.0.0.1 only and connects to
//! `localhost:<its port>`: where `localhost` also resolves to `::1`, that attempt is refused
//! and the IPv4 one wins, without waiting for the stagger delay.

use scoro::net::{TcpListener, lookup_host, open_tcp_stream};
use scoro::{current_time, structured};
use std::io;

/// Splits `host:port` (`[v6]:port` for IPv6 literals).
fn parse(target: &str) -> io::Result<(String, u16)> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("expected HOST:PORT, got `{target}`"),
        )
    };
    let (host, port) = target.rsplit_once(':').ok_or_else(invalid)?;
    let port = port.parse().map_err(|_| invalid())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_string(), port))
}

#[structured]
async fn connect(host: &str, port: u16) -> io::Result<()> {
    let addrs = lookup_host((host, port)).await?;
    println!("{host} resolves to:");
    for a in &addrs {
        println!("  {a}");
    }
    let start = current_time();
    let stream = open_tcp_stream(host, port).await?;
    println!(
        "connected to {} (from {}) in {:.1} ms",
        stream.peer_addr()?,
        stream.local_addr()?,
        (current_time() - start).as_secs_f64() * 1000.0
    );
    Ok(())
}

#[structured]
async fn demo(target: Option<String>) -> io::Result<()> {
    match target {
        Some(target) => {
            let (host, port) = parse(&target)?;
            connect(&host, port).await
        }
        None => {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            println!("listening on 127.0.0.1:{port} (IPv4 only)");
            connect("localhost", port).await
        }
    }
}

#[scoro::main]
async fn main() {
    if let Err(e) = demo(std::env::args().nth(1)).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
#[test]
fn connects_to_a_local_listener() {
    scoro::run(demo(None)).unwrap();
    assert_eq!(parse("[::1]:80").unwrap(), ("::1".to_string(), 80));
    assert!(parse("nohost").is_err());
}
