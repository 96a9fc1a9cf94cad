//! scoro: structured concurrency for Rust.
#![warn(clippy::undocumented_unsafe_blocks)]
#![doc(test(attr(deny(warnings))))]

extern crate self as scoro;

mod coroutine;
mod runtime;

pub use coroutine::{__private, CoroutineCall};
pub use runtime::run;
pub use scoro_macros::{main, structured, test};
