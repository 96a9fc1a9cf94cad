//! # scoro: structured concurrency for Rust
//!
//! scoro runs concurrent code the way Trio does: tasks live in nurseries, a nursery returns
//! only when all its tasks are done, and cancellation is a value (`Err(CancelRequested)`)
//! delivered at checkpoints, organised by cancel scopes with deadlines. Futures never reach
//! user code: a `#[structured] async fn` returns a [`CoroutineCall`], which can only be
//! awaited in another structured function, started in a nursery or passed to [`run`]. So no
//! call in progress can be dropped half-way, leaked or detached, and nursery children can
//! borrow from their caller.
//!
//! ```
//! use std::time::Duration;
//! use scoro::{structured, nursery, move_on_after, CancelRequested, ErrorGroup};
//!
//! #[structured]
//! async fn greet(name: &str, delay_ms: u64, log: &std::cell::RefCell<Vec<String>>) -> Result<(), CancelRequested> {
//!     scoro::sleep(Duration::from_millis(delay_ms)).await?;
//!     log.borrow_mut().push(format!("hello, {name}"));
//!     Ok(())
//! }
//!
//! #[structured]
//! async fn main_task() -> Result<Vec<String>, ErrorGroup<CancelRequested>> {
//!     let log = std::cell::RefCell::new(Vec::new());
//!     // Two greetings run concurrently; the slow one is cut off by the timeout.
//!     move_on_after(Duration::from_millis(50), nursery(async |n| -> Result<(), CancelRequested> {
//!         n.start_soon(greet("world", 1, &log));
//!         n.start_soon(greet("sloth", 10_000, &log));
//!         Ok(())
//!     }))
//!     .await;
//!     Ok(log.into_inner())
//! }
//!
//! assert_eq!(scoro::run(main_task()).unwrap(), ["hello, world"]);
//! ```
//!
//! The scoro book, an mdbook in the `book/` folder of the source repository (`mdbook serve
//! book` shows it), explains the ideas and every API in depth, starting from the chapter on
//! why there are no futures.
//!
//! # Features
//!
//! - `anyhow`: implements [`MaybeCancelled`] for `anyhow::Error`, so that it can be the error
//!   type of nurseries and of the bodies of cancel scopes and timeouts.
//! - `eyre`: the same for `eyre::Report`.
//! - `tracing`: [`tracing`](https://docs.rs/tracing) spans and events: a span per task, entered
//!   around each of its steps, and events for cancellations delivered, deadlines expiring and
//!   the errors and panics nurseries collect; also spans in the shape tokio-console reads. See
//!   [`observe`](crate::observe#tracing). Without the feature none of it is compiled.
//! - `rustls`: the `tls` module: TLS over any scoro stream, built on
//!   [rustls](https://docs.rs/rustls) with its `ring` crypto provider (rustls is re-exported
//!   as `scoro::tls::rustls`). Encrypted streams are scoro readers and writers, and their
//!   handshake, reads and writes are checkpoints that lose nothing when cancelled.
//! - `futures-io`: `futures_io::AsyncRead`/`AsyncWrite` for [`compat::PollIo`], scoro's
//!   streams as seen by foreign futures (see [`compat::poll_io`]).
//! - `tokio`: tokio's `AsyncRead`/`AsyncWrite` for [`compat::PollIo`] (for hyper through
//!   `hyper_util::rt::TokioIo`, say), and `compat::tokio_future`, which runs futures that need
//!   a tokio runtime (its timers, its sockets, `tokio::spawn`) with one entered.
#![doc(test(attr(deny(warnings))))]
#![deny(dead_code)]

#[doc(hidden)]
pub mod __private;
mod cancel;
mod cancellation;
pub mod channel;
mod combinators;
pub mod compat;
mod coroutine;
pub mod fs;
pub mod io;
pub mod lowlevel;
pub mod net;
mod nursery;
pub mod observe;
mod poison;
pub mod process;
mod runtime;
pub mod signal;
mod slab;
pub mod sync;
pub mod testing;
mod threads;
mod time;
#[cfg(feature = "rustls")]
pub mod tls;
mod wait;

pub use cancel::{
    CancelHandle, CancelScope, cancellable, fail_after, fail_at, move_on_after, move_on_at,
};
pub use cancellation::{CancelReason, CancelRequested, MaybeCancelled, TooSlow};
pub use combinators::{BoxedCall, JoinTuple, join, join_all, race};
pub use coroutine::CoroutineCall;
pub use nursery::{ErrorGroup, IntoTaskResult, Nursery, TaskStatus, nursery};
pub use runtime::{Builder, Runtime, run};
pub use scoro_macros::{main, structured, test};
pub use threads::{from_thread, to_thread};
pub use time::{
    Interval, IntervalError, MissedTicks, checkpoint, checkpoint_if_cancelled,
    current_effective_deadline, current_time, interval, interval_at, sleep, sleep_forever,
    sleep_until,
};
#[cfg(test)]
mod smoke_tests;
