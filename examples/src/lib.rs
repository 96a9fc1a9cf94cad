//! Runnable scoro examples live in `examples/`; run one with `cargo run -p examples --example NAME`.

pub mod lines;
pub mod misbehave;
pub mod soak;
