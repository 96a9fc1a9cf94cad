//! Runnable scoro examples live in `examples/`; run one with `cargo run -p examples --example NAME`.

pub mod lines;
pub mod misbehave;
pub mod soak;

/// The port given as the program's first argument, or `default` without one; an
/// `InvalidInput` error that names the argument when it is not a port number.
pub fn port_arg(default: u16) -> std::io::Result<u16> {
    match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("`{arg}` is not a port number"),
            )
        }),
        None => Ok(default),
    }
}
