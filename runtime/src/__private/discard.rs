//! What `EXPR.await;` (an awaited value dropped as a statement) compiles to in a structured
//! body: `discarded(EXPR.await).__scoro_discard();`.
//!
//! Invariants:
//! - The method is picked by the value's type where the user wrote the statement (autoref
//!   specialization): an inherent by-value method on `Discarded<Result<T, E>>` wins; for any
//!   other type, and for a type parameter, method lookup goes on to the `&mut` method of
//!   `Unchanged<T>` behind `Discarded<T>`'s `DerefMut`, which hands the value back as it was.
//!   So generic code always compiles, `()` stays silent, and other `#[must_use]` types keep
//!   rustc's own lint.
//! - An awaited `Result` becomes an `impl AwaitedResult`, whose `#[must_use]` message says to
//!   propagate it with `?`. Through an opaque type, rustc's lint does not suggest `let _ = ...`
//!   (which would discard a cancellation and, in a loop, spin).
//! - The value is dropped where it was before: at the end of the statement.

use std::ops::{Deref, DerefMut};

/// An awaited value in statement position; see the module docs.
#[derive(Debug)]
pub struct Discarded<T>(Unchanged<T>);

/// Wraps the value of `EXPR.await;`.
#[inline(always)]
pub fn discarded<T>(value: T) -> Discarded<T> {
    Discarded(Unchanged(Some(value)))
}

impl<T, E> Discarded<Result<T, E>> {
    /// An awaited `Result` that the statement drops: the unused-value lint reports it with
    /// [`AwaitedResult`]'s message.
    #[inline(always)]
    pub fn __scoro_discard(self) -> impl AwaitedResult {
        Unpropagated(self.0.0)
    }
}

/// Any other awaited value, found through `Discarded`'s `DerefMut`.
#[derive(Debug)]
pub struct Unchanged<T>(Option<T>);

impl<T> Unchanged<T> {
    /// Hands the value back unchanged, so that rustc's own lints apply to it.
    #[inline(always)]
    pub fn __scoro_discard(&mut self) -> T {
        match self.0.take() {
            Some(value) => value,
            None => unreachable!("`__scoro_discard` is called once, on a new `Discarded`"),
        }
    }
}

impl<T> Deref for Discarded<T> {
    type Target = Unchanged<T>;
    #[inline(always)]
    fn deref(&self) -> &Unchanged<T> {
        &self.0
    }
}

impl<T> DerefMut for Discarded<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Unchanged<T> {
        &mut self.0
    }
}

/// An awaited `Result` dropped by a statement.
#[must_use = "an awaited `Result` may hold a cancellation: propagate it with `?`, as in `call().await?;`
`let _ = ...` would discard the cancellation too; under a cancelled scope every later checkpoint fails at once, so a loop around it would spin"]
pub trait AwaitedResult {}

/// The value behind an [`AwaitedResult`].
struct Unpropagated<T, E>(Option<Result<T, E>>);

impl<T, E> AwaitedResult for Unpropagated<T, E> {}
