//! The messages that point to plain futures: `scoro::compat::plain!(async { .. })`, and the
//! `async` block written as the argument of `scoro::compat::future(..)`, which `#[structured]`
//! leaves as they are written.
//!
//! Invariants:
//! - `CoroutineCall<F>` implements `Future` only where `F: PlainFuture`, and nothing
//!   implements `PlainFuture` (it is sealed), so no `CoroutineCall` is a `Future` or an
//!   `IntoFuture`. The impl exists for its error message: a call (or an `async` block of a
//!   structured body) passed where a `Future` is expected, or awaited in plain `async` code,
//!   reports the missing `PlainFuture`, whose message says what to write instead, rather than
//!   rustc's bare "is not a future".
//! - [`AwaitableInBlock`] accepts exactly what [`Awaitable`](super::Awaitable) accepts; the
//!   macro uses it for `.await` inside an `async` block of a structured body, where the message
//!   should also name `plain!` (the block may be meant for another executor).
//! - Nothing here is needed for soundness: the runtime checks what it relies on.

use super::sealed::Sealed;
use crate::CoroutineCall;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Implemented by nothing: what a `CoroutineCall<F>` would need to be a `Future`.
#[diagnostic::on_unimplemented(
    message = "`CoroutineCall<{Self}>` is not a `Future`",
    label = "a scoro call, not a `Future`",
    note = "a `Future` may be dropped half-way or polled by another executor, which a scoro call must never be: `.await` the call in a `#[structured]` function (outside `compat::plain!(..)` and `compat::future(async {{ .. }})`), start it in a nursery, or pass it to `scoro::run`",
    note = "in a `#[structured]` function an `async` block is a `CoroutineCall` too; for a plain `Future` (for another executor or a `Future`-taking API) write `scoro::compat::plain!(async {{ .. }})`"
)]
pub trait PlainFuture: Sealed {}

#[doc(hidden)]
impl<F: Future> Future for CoroutineCall<F>
where
    F: PlainFuture,
{
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<F::Output> {
        unreachable!("no type implements `PlainFuture`")
    }
}

/// What `.await` directly inside an `async` block of a `#[structured]` body accepts: the same
/// as [`Awaitable`](super::Awaitable), with a message that also fits a block meant for another
/// executor.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be awaited in a `#[structured]` function",
    label = "only a `CoroutineCall` (a call of a `#[structured]` function) can be awaited here",
    note = "to await a foreign future, wrap it: `scoro::compat::future(fut).await`",
    note = "if this `async` block is meant to be a plain `Future` (for another executor or a `Future`-taking API), write it `scoro::compat::plain!(async {{ .. }})`"
)]
pub trait AwaitableInBlock: Sealed {
    /// The value the call produces.
    type Output;
    /// The state machine to await.
    type Future: Future<Output = Self::Output>;
    /// Takes the state machine out of the call so that the generated code awaits it at once.
    fn __scoro_await(self) -> Self::Future;
}

#[diagnostic::do_not_recommend]
impl<F: Future> AwaitableInBlock for CoroutineCall<F> {
    type Output = F::Output;
    type Future = F;
    #[inline(always)]
    fn __scoro_await(self) -> F {
        super::Awaitable::__scoro_await(self)
    }
}
