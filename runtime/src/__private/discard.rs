//! What `EXPR.await;` (an awaited value dropped as a statement) compiles to in a structured
//! body: `discarded(EXPR.await).__scoro_discard();`, in a body that starts with
//! `use ::scoro::__private::Unchanged as _;`.
//!
//! Invariants:
//! - The method is picked by the value's type where the user wrote the statement: an inherent
//!   by-value method on `Discarded<Result<T, E>>` wins over a trait method; for any other type,
//!   and for a type parameter, method lookup goes on to the by-value method of the `Unchanged`
//!   trait (in scope through the body's `use`), which hands the value back as it was. So
//!   generic code always compiles, `()` stays silent, and other `#[must_use]` types keep
//!   rustc's own lint.
//! - An awaited `Result` becomes an `impl AwaitedResult`, whose `#[must_use]` message says to
//!   propagate it with `?`. Through an opaque type, rustc's lint does not suggest `let _ = ...`
//!   (which would discard a cancellation and, in a loop, spin).
//! - The value is dropped where it was before: at the end of the statement.
//! - Compile time: an inherent method and a trait method at the same autoderef step make
//!   rustc's method lookup stop at the first step; the earlier form (a `DerefMut` to a second
//!   wrapper) made it compute a deref step and an autoref for every dropped `.await`.

/// An awaited value in statement position; see the module docs.
#[derive(Debug)]
pub struct Discarded<T>(T);

/// Wraps the value of `EXPR.await;`.
#[inline(always)]
pub fn discarded<T>(value: T) -> Discarded<T> {
    Discarded(value)
}

impl<T, E> Discarded<Result<T, E>> {
    /// An awaited `Result` that the statement drops: the unused-value lint reports it with
    /// [`AwaitedResult`]'s message.
    #[inline(always)]
    pub fn __scoro_discard(self) -> impl AwaitedResult {
        Unpropagated(Some(self.0))
    }
}

/// Any other awaited value: the method that `__scoro_discard` falls back to.
pub trait Unchanged<T> {
    /// Hands the value back unchanged, so that rustc's own lints apply to it.
    fn __scoro_discard(self) -> T;
}

impl<T> Unchanged<T> for Discarded<T> {
    #[inline(always)]
    fn __scoro_discard(self) -> T {
        self.0
    }
}

/// An awaited `Result` dropped by a statement.
#[must_use = "an awaited `Result` may hold a cancellation: propagate it with `?`, as in `call().await?;`
`let _ = ...` would discard the cancellation too; under a cancelled scope every later checkpoint fails at once, so a loop around it would spin"]
pub trait AwaitedResult {}

/// The value behind an [`AwaitedResult`].
struct Unpropagated<T, E>(Option<Result<T, E>>);

impl<T, E> AwaitedResult for Unpropagated<T, E> {}
