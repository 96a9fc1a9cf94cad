//! `CoroutineCall`, the value a `#[structured]` function returns, and the private await protocol.
//!
//! Invariants:
//! - A `CoroutineCall` is a call that has not started. It implements neither `Future` nor
//!   `IntoFuture`; the ordinary ways to start one are `.await` inside a `#[structured]` body
//!   (the macro rewrites it into [`crate::__private::Awaitable::__scoro_await`]), handing it to a
//!   nursery or combinator of this crate, and passing it to [`crate::run`].
//! - That is the compile-time layer, and it is for people: it turns detaching, foreign
//!   executors and forgotten awaits into errors that say what to write instead. It carries no
//!   trust. `__private` is public and safe: anyone can wrap any future into a `CoroutineCall`
//!   ([`crate::__private::coroutine`]) or take the plain future out of one
//!   ([`crate::__private::Awaitable::__scoro_await`]), and code the macro cannot see (a `macro_rules!`
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
