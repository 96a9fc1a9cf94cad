//! The soak harness's command line: puts the `echo_server` example, run as a separate process,
//! under sustained load from well-behaved and misbehaving loopback clients and reports what
//! happened (see `examples::soak` for the clients and the checks). Exits with an error if any
//! byte was lost or corrupted, the server died or misbehaved, or its memory or descriptors
//! grew past the stated bounds.
//!
//! ```text
//! cargo build --release -p examples --examples
//! target/release/examples/loadgen [--minutes M | --seconds S] [--clients N]
//!     [--max-payload BYTES] [--idle-secs S] [--seed N] [--server PATH]
//! ```
//!
//! Defaults: 10 minutes, 200 clients, payloads up to 200 kB, a 2-second idle timeout for the
//! server, and the `echo_server` built next to this program.

use examples::soak::{self, Config};
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn parse<T: std::str::FromStr>(flag: &str, value: Option<String>) -> io::Result<T> {
    let value = value.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{flag}` needs a value"),
        )
    })?;
    value.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{value}` is not a valid value for `{flag}`"),
        )
    })
}

fn config() -> io::Result<Config> {
    let mut config = Config {
        server: PathBuf::new(),
        duration: Duration::from_secs(600),
        clients: 200,
        max_payload: 200_000,
        idle_secs: 2,
        sample_every: Duration::from_secs(5),
        seed: 1,
    };
    let mut server = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--minutes" => {
                config.duration = Duration::from_secs(60 * parse::<u64>(&flag, args.next())?)
            }
            "--seconds" => config.duration = Duration::from_secs(parse(&flag, args.next())?),
            "--clients" => config.clients = parse(&flag, args.next())?,
            "--max-payload" => config.max_payload = parse(&flag, args.next())?,
            "--idle-secs" => config.idle_secs = parse(&flag, args.next())?,
            "--seed" => config.seed = parse(&flag, args.next())?,
            "--server" => server = Some(PathBuf::from(parse::<String>(&flag, args.next())?)),
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unknown argument `{other}` (see the top of examples/loadgen.rs)"),
                ));
            }
        }
    }
    if config.clients == 0 || config.max_payload == 0 || config.idle_secs == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "`--clients`, `--max-payload` and `--idle-secs` must be above zero",
        ));
    }
    config.server = match server {
        Some(path) => path,
        None => soak::find_server()?,
    };
    Ok(config)
}

fn main() -> ExitCode {
    let config = match config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "loadgen: {} clients for {:?} against {}",
        config.clients,
        config.duration,
        config.server.display()
    );
    match soak::run(&config) {
        Ok(report) => {
            println!("{report}");
            if report.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("loadgen: could not run the soak: {e}");
            ExitCode::from(2)
        }
    }
}
