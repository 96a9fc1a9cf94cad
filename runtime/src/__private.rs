//! Items used by the code that `#[structured]`, `#[scoro::main]` and `#[scoro::test]` generate.
//! Not part of the public API: nothing here is covered by semver.

use crate::CoroutineCall;
use crate::runtime::seam::spawn;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use pin_project_lite::pin_project;

mod discard;
mod plain;

pub use discard::{AwaitedResult, Discarded, Unchanged, discarded};
pub use plain::{AwaitableInBlock, PlainFuture};

mod sealed {
    /// Keeps [`Awaitable`](super::Awaitable) implemented by this crate only.
    pub trait Sealed {}
}

/// Wraps the state machine of a structured function body.
///
/// Safe: a `CoroutineCall` made by hand from any future is sound, because the operations
/// that erase lifetimes check their placement at run time (see the module docs).
#[inline(always)]
pub const fn coroutine<F: Future>(
    future: F,
    prefix: &'static str,
    name: &'static str,
) -> CoroutineCall<F> {
    CoroutineCall::internal(future, prefix, name)
}

/// A value of the declared output type of a structured body, which the generated code
/// returns (in `if false { .. }`, so never) before the body, to fix the type of its `async`
/// block before the body is checked.
#[doc(hidden)]
pub fn output<T>() -> T {
    unreachable!("`__private::output` is only called in code that never runs")
}

/// Wraps the boxed state machine of a `#[structured(boxed)]` function body.
pub fn boxed<F: Future>(
    future: F,
    prefix: &'static str,
    name: &'static str,
) -> CoroutineCall<Boxed<F>> {
    CoroutineCall::internal(
        Boxed::new(Box::new(future), "#[structured(boxed)]"),
        prefix,
        name,
    )
}

pin_project! {
    /// The state machine of a `#[structured(boxed)]` function: a box that erasing state
    /// (a nursery, a `run_sync` call) may lie in. The wrapper checks its own placement on
    /// every poll and registers the box only while it polls it, so the box is as much
    /// inside the task as the wrapper is; the box is dropped with the wrapper.
    #[derive(Debug)]
    pub struct Boxed<F: ?Sized> {
        future: Pin<Box<F>>,
        // The box's address (it never moves).
        start: usize,
        // What made the box, for the message of a failed placement check.
        what: &'static str,
        #[pin]
        _pinned: PhantomPinned,
    }
}

impl<F: ?Sized> Boxed<F> {
    /// Wraps a box that has not been polled yet (so nothing refers into it: taking its address
    /// is harmless).
    pub(crate) fn new(future: Box<F>, what: &'static str) -> Self {
        let start = std::ptr::from_ref::<F>(&future).addr();
        Boxed {
            future: Box::into_pin(future),
            start,
            what,
            _pinned: PhantomPinned,
        }
    }
}

impl<F: ?Sized + Future> Future for Boxed<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        spawn::check_placement(std::ptr::from_mut(this.start).addr(), this.what);
        let len = std::mem::size_of_val::<F>(&**this.future);
        let _registered = spawn::register_box(*this.start, len);
        this.future.as_mut().poll(cx)
    }
}

/// What `.await` in a `#[structured]` body accepts.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be awaited in a `#[structured]` function",
    label = "only a `CoroutineCall` (a call of a `#[structured]` function) can be awaited here",
    note = "to await a foreign future, wrap it: `scoro::compat::future(fut).await`",
    note = "a `#[structured]` function's future never leaves the runtime; a foreign future could be dropped or leaked half-way"
)]
pub trait Awaitable: sealed::Sealed {
    /// The value the call produces.
    type Output;
    /// The state machine to await.
    type Future: Future<Output = Self::Output>;
    /// Takes the state machine out of the call so that the generated code awaits it at once.
    fn __scoro_await(self) -> Self::Future;
}

impl<F> sealed::Sealed for CoroutineCall<F> {}

#[diagnostic::do_not_recommend]
impl<F: Future> Awaitable for CoroutineCall<F> {
    type Output = F::Output;
    type Future = F;
    #[inline(always)]
    fn __scoro_await(self) -> F {
        self.inline()
    }
}

/// Wraps the body of an async closure written in a `#[structured]` body.
///
/// The closure's future is a plain `Future`. When a nursery polls it as its body (with the
/// restricted waker nursery bodies get), the wrapper polls the closure's body with the
/// task's own waker, so that the scoro calls it awaits work; anywhere else it panics with a
/// message that says what to write instead (see `runtime::task::closure_body_poll`).
#[inline(always)]
pub fn closure_body<F: Future>(future: F) -> ClosureBody<F> {
    ClosureBody { future }
}

pin_project! {
    /// The future returned by [`closure_body`].
    #[derive(Debug)]
    pub struct ClosureBody<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for ClosureBody<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let future = self.project().future;
        spawn::closure_body_poll(cx, |cx| future.poll(cx))
    }
}

/// The options of `#[scoro::main(..)]`.
#[derive(Clone, Copy, Debug)]
pub struct MainOptions {
    /// `dump_tree_on = SIGUSR1`: the signal that prints the task tree.
    pub dump_tree_on: Option<i32>,
    /// `watchdog_ms = 2000`: the threshold of the watchdog, in milliseconds.
    pub watchdog_ms: Option<u64>,
}

impl MainOptions {
    /// No option given.
    pub const NONE: MainOptions = MainOptions {
        dump_tree_on: None,
        watchdog_ms: None,
    };
}

/// Runs the body of `#[scoro::main]`.
pub fn run_main<F: Future>(main: CoroutineCall<F>, options: MainOptions) -> F::Output {
    crate::runtime::run_main(
        main,
        options.dump_tree_on,
        options.watchdog_ms.map(std::time::Duration::from_millis),
    )
}

/// Runs the body of `#[scoro::test]`; `autojump` selects a mock clock that jumps whenever
/// every task is blocked.
pub fn run_test<F: Future>(test: CoroutineCall<F>, autojump: bool) -> F::Output {
    crate::runtime::run_test(test, autojump)
}
