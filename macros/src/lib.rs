//! Procedural macros of [scoro](https://docs.rs/scoro): `#[structured]`, `#[scoro::main]`
//! and `#[scoro::test]`, and `scoro::compat::plain!`.
//!
//! Users depend on `scoro`, which re-exports these attributes; the generated code names items
//! of `scoro` by absolute path, so this crate is not useful on its own.
//!
//! Each attribute goes through three passes: `parse` the item, `validate` it (reporting
//! every problem at the user's own tokens), then `expand` it, with `rewrite` turning the
//! body's `.await`s, `async` blocks and async closures into their scoro forms. An attribute
//! that reports an error still emits the item, so that one mistake gives one error.
#![deny(dead_code)]

mod args;
mod diag;
mod expand;
#[cfg(test)]
mod fuzz_tests;
mod parse;
mod rewrite;
mod validate;

use proc_macro::TokenStream;

/// Turns an `async fn` into a *structured* function, one that returns a
/// `scoro::CoroutineCall` instead of a `Future`.
///
/// ```text
/// #[structured]
/// async fn fetch(id: u32) -> String { .. }
/// ```
/// becomes, in effect,
/// ```text
/// fn fetch(id: u32) -> scoro::CoroutineCall<impl Future<Output = String>> { .. }
/// ```
///
/// A `CoroutineCall` is a call that has not started. It is not a `Future`: it can only be
/// awaited inside another structured function, started in a nursery, handed to a scoro
/// combinator, or run with `scoro::run`. So a call that has started is never dropped half-way,
/// leaked or polled by a foreign executor, which is what lets nursery children borrow from
/// their parent. See the `scoro` crate and its book chapter "Structured functions" for
/// runnable examples.
///
/// # Where it goes
///
/// - On an `async fn`: a free function, an inherent method, a trait method declaration
///   (without a body it becomes `fn name(..) -> CoroutineCall<impl Future<Output = T>>;`,
///   a return-position `impl Trait` in a trait), a default method body, or a trait impl method.
/// - On a whole `impl` or `trait` block: it then applies to every `async fn` in the block and
///   leaves the other items alone. A method with its own `#[structured(..)]` is expanded by
///   that attribute instead.
///
/// Generics, lifetimes (elided or named), `where` clauses, all receivers (`self`, `&self`,
/// `&mut self`, `mut self`, `self: Box<Self>`), patterns in arguments and `impl Trait`
/// arguments work, in edition-2021 and edition-2024 crates, and in crates with
/// `#![forbid(unsafe_code)]`. As in an `async fn`, every argument is moved into the call and
/// dropped when the body finishes.
///
/// # Inside the body
///
/// - `call.await` runs a `CoroutineCall` and gives its value. Awaiting anything else is a
///   compile error that points to `scoro::compat::future`, the adapter for foreign futures.
/// - `async { .. }` and `async move { .. }` blocks are `CoroutineCall`s too, so a closure
///   `|x| async move { .. }` returns calls. Two are plain futures: the `async` block that is
///   the only argument of `compat::future(..)` (a call whose path ends in `compat::future`,
///   or `compat::tokio_future`), and the one in `scoro::compat::plain!(..)`. They can await
///   foreign futures, not calls.
/// - `call.await;`, a statement that drops an awaited `Result`, is an error that says to
///   propagate it with `?` (dropping it would drop a cancellation too).
/// - Async closures (`async |n| { .. }`) stay async closures, for nursery bodies; their body
///   only runs when the runtime polls it.
/// - The generated function has `#[deny(unused_must_use)]`: a call that is never awaited is an
///   error, and so is any other unused `#[must_use]` value (write `let _ = value;` to drop one
///   on purpose).
///
/// This rewriting also applies inside closures, nested `async` blocks and closures, and the
/// arguments of macros whose arguments are comma-separated expressions (`println!`,
/// `assert_eq!`, `vec!`, `format!`, `write!`, ...). It does not enter nested items.
///
/// # Options
///
/// `#[structured(boxed)]` puts the state machine in a `Box`, so the function may call itself
/// (directly or through other functions). The signature does not change.
///
/// # Names
///
/// A call's `Debug` output and its task name are the function's path: `module::name` for a
/// free function and `Type::name` for methods. Under its own attribute an associated function
/// that neither takes `self` nor mentions `Self` cannot be told from a free function and is
/// named after its module; put the attribute on the `impl` block to get the type's name.
///
/// # Not supported
///
/// Functions that are not `async`, `const fn`, `unsafe fn`, `extern` functions, variadic
/// arguments, and items other than functions and `impl`/`trait` blocks are compile errors
/// that say what to write instead.
#[proc_macro_attribute]
pub fn structured(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::structured(args.into(), item.into()).into()
}

/// Writes a plain `Future` as an `async` block, also inside a `#[structured]` function:
/// `scoro::compat::plain!(async move { .. })`.
///
/// In a structured body an `async` block is a `CoroutineCall`, which only scoro can run. The
/// block inside `plain!` stays a `Future`, for an API that takes one: another runtime's
/// `spawn`, a foreign combinator, `scoro::compat::future`. It can await any `Future` (and
/// `IntoFuture`) but no scoro call, since whatever polls it may drop it half-way; awaiting a
/// `CoroutineCall` in it is a compile error that says so. `#[structured]` leaves the
/// invocation alone (it recognises the macro by its name, `plain`), and so does this macro
/// with everything but the `.await`s.
///
/// Users name it `scoro::compat::plain!`; see that page for a runnable example.
#[proc_macro]
pub fn plain(input: TokenStream) -> TokenStream {
    expand::plain(input.into()).into()
}

/// Runs an `async fn main` on a new scoro runtime.
///
/// ```text
/// #[scoro::main]
/// async fn main() -> T { body }
/// ```
/// becomes `fn main() -> T`, which runs `body` (a structured body, as under
/// [`#[structured]`](macro@structured)) to completion with `scoro`'s runtime and returns its
/// value, so `main` may return `Result<(), E>` as usual.
///
/// Two options, both for seeing into a program that seems stuck, set the runtime up as the
/// `scoro::Builder` methods of the same names do:
///
/// - `dump_tree_on = SIGUSR1`: prints the task tree to stderr whenever that signal arrives
///   (`kill -USR1 <pid>`). The value names a constant of `scoro::signal` (`SIGUSR1`,
///   `SIGUSR2`, `SIGHUP`, `SIGQUIT`, `SIGTERM`, `SIGWINCH`; not `SIGINT`, which is Ctrl-C).
/// - `watchdog_ms = 2000`: reports on stderr every task step that holds the runtime thread
///   longer than that many milliseconds (a blocking call in async code).
///
/// ```text
/// #[scoro::main(dump_tree_on = SIGUSR1, watchdog_ms = 2000)]
/// async fn main() { .. }
/// ```
///
/// The function may have any name and arguments; it blocks the calling thread until the body
/// has finished, and panics if that thread is already running a scoro runtime. Attributes on
/// the function are kept.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::main(args.into(), item.into()).into()
}

/// Runs an `async fn` test on a new scoro runtime.
///
/// ```text
/// #[scoro::test]
/// async fn name() -> T { body }
/// ```
/// becomes a `#[test] fn name() -> T` that runs `body` (a structured body, as under
/// [`#[structured]`](macro@structured)) to completion on a fresh runtime. Other attributes
/// such as `#[should_panic]` or `#[ignore]` are kept; do not add `#[test]` yourself.
///
/// `#[scoro::test(autojump)]` runs the test under scoro's mock clock in autojump mode: when
/// every task is blocked, the clock jumps to the next deadline, so a test that sleeps for an
/// hour finishes at once.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::test(args.into(), item.into()).into()
}
