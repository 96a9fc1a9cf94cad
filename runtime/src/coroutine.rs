//! `CoroutineCall`, the value a `#[structured]` function returns, and the private await protocol.
//!
//! Invariants:
//! - A `CoroutineCall` is a call that has not started. It implements neither `Future` nor
//!   `IntoFuture`; the ordinary ways to start one are `.await` inside a `#[structured]` body
//!   (the macro rewrites it into [`__private::Awaitable::__scoro_await`]), handing it to a
//!   nursery or combinator of this crate, and passing it to [`crate::run`].
//! - That is the compile-time layer, and it is for people: it turns detaching, foreign
//!   executors and forgotten awaits into errors that say what to write instead. It carries no
//!   trust. `__private` is public and safe: anyone can wrap any future into a `CoroutineCall`
//!   ([`__private::coroutine`]) or take the plain future out of one
//!   ([`__private::Awaitable::__scoro_await`]), and code the macro cannot see (a `macro_rules!`
//!   expansion) can box, poll and forget a started call. Soundness does not depend on any of
//!   that: every operation that erases a lifetime checks at run time where its state lies (see
//!   `runtime::task`).
//! - `Awaitable` is sealed (its supertrait is private), so only this crate decides what
//!   `.await` in a structured body accepts, and the error messages stay right.
//! - Generated code contains no `unsafe` at all, so no path or macro a user crate can redirect
//!   (`extern crate self as core;`) ever ends up inside an `unsafe` block.

use std::fmt;

/// A call of a `#[structured]` function that has not started yet.
///
/// `#[structured] async fn f(..) -> T` compiles to `fn f(..) -> CoroutineCall<impl Future<Output = T>>`.
/// A `CoroutineCall` is not a [`Future`]: it cannot be polled, spawned on a foreign executor,
/// boxed and forgotten, or dropped half-way through. There are exactly three things to do
/// with one:
///
/// - `.await` it inside another `#[structured]` function, which runs the call and gives its value;
/// - start it as a child of a nursery ([`Nursery::start_soon`](crate::Nursery::start_soon)) or hand
///   it to a combinator such as [`join_all`](crate::join_all) or [`CancelScope::run`](crate::CancelScope::run);
/// - pass it to [`run`](crate::run) to run it on a new runtime from synchronous code.
///
/// Nursery children and [`to_thread::run_sync`](crate::to_thread::run_sync) may borrow from
/// their caller: the runtime checks that the state owning them lives inside the task running
/// it, where it is dropped before anything it borrows (code that boxes, leaks or polls such a
/// call by hand gets a panic, never a dangling borrow).
///
/// ```
/// use scoro::structured;
///
/// #[structured]
/// async fn double(x: u32) -> u32 {
///     x * 2
/// }
///
/// #[structured]
/// async fn main_task() -> u32 {
///     double(20).await + 2
/// }
///
/// let call = main_task();
/// assert_eq!(format!("{call:?}"), format!("CoroutineCall({}::main_task)", module_path!()));
/// assert_eq!(scoro::run(call), 42);
/// ```
#[must_use = "a coroutine call does nothing unless it is awaited, started in a nursery or passed to `scoro::run`"]
pub struct CoroutineCall<F> {
    future: F,
    name: TaskName,
}

/// The path of the function a coroutine call came from, in two static parts so that method
/// names can use `type_name::<Self>()` without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskName {
    pub(crate) prefix: &'static str,
    pub(crate) name: &'static str,
}

impl TaskName {
    pub(crate) const fn new(prefix: &'static str, name: &'static str) -> Self {
        TaskName { prefix, name }
    }
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            f.write_str(self.name)
        } else {
            write!(f, "{}::{}", self.prefix, self.name)
        }
    }
}

impl fmt::Debug for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<F> CoroutineCall<F> {
    /// Wraps one of this crate's own futures.
    pub(crate) const fn internal(future: F, prefix: &'static str, name: &'static str) -> Self {
        CoroutineCall {
            future,
            name: TaskName::new(prefix, name),
        }
    }

    /// The call's state machine, for this crate's own code to `.await` inline in another of
    /// its state machines: the one way crate code awaits its own calls (what the macro's
    /// rewritten `.await` does in user code).
    #[inline(always)]
    pub(crate) fn inline(self) -> F {
        self.future
    }

    /// Takes the call apart so that the runtime can start it.
    pub(crate) fn into_parts(self) -> (F, TaskName) {
        (self.future, self.name)
    }
}

impl<F> fmt::Debug for CoroutineCall<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CoroutineCall({})", self.name)
    }
}

/// Items used by the code that `#[structured]`, `#[scoro::main]` and `#[scoro::test]` generate.
/// Not part of the public API: nothing here is covered by semver.
#[doc(hidden)]
pub mod __private {
    use super::CoroutineCall;
    use crate::runtime::seam::spawn;
    use std::future::Future;
    use std::marker::PhantomPinned;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub use pin_project_lite::pin_project;

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

    /// Wraps the boxed state machine of a `#[structured(boxed)]` function body.
    pub fn boxed<F: Future>(
        future: F,
        prefix: &'static str,
        name: &'static str,
    ) -> CoroutineCall<Boxed<F>> {
        let future = Box::new(future);
        // Not polled yet, so nothing refers into it: taking a reference is harmless.
        let start = std::ptr::from_ref::<F>(&future).addr();
        CoroutineCall::internal(
            Boxed {
                future: Box::into_pin(future),
                start,
                _pinned: PhantomPinned,
            },
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
        pub struct Boxed<F> {
            future: Pin<Box<F>>,
            // The box's address (it never moves).
            start: usize,
            #[pin]
            _pinned: PhantomPinned,
        }
    }

    impl<F: Future> Future for Boxed<F> {
        type Output = F::Output;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            let this = self.project();
            spawn::check_placement(
                std::ptr::from_mut(this.start).addr(),
                "#[structured(boxed)]",
            );
            let _registered = spawn::register_box(*this.start, std::mem::size_of::<F>());
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
            self.future
        }
    }

    /// Wraps the body of an async closure written in a `#[structured]` body.
    ///
    /// The closure's future is a plain `Future`. When a nursery polls it as its body (with the
    /// restricted waker nursery bodies get), the wrapper polls the closure's body with the
    /// task's own waker, so that the scoro calls it awaits work; anywhere else it panics with a
    /// message that says what to write instead (see `runtime::context::closure_body_poll`).
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

    /// Runs the body of `#[scoro::main]`.
    pub fn run_main<F: Future>(main: CoroutineCall<F>) -> F::Output {
        crate::runtime::run_main(main)
    }

    /// Runs the body of `#[scoro::test]`; `autojump` selects a mock clock that jumps whenever
    /// every task is blocked.
    pub fn run_test<F: Future>(test: CoroutineCall<F>, autojump: bool) -> F::Output {
        crate::runtime::run_test(test, autojump)
    }
}
