//! Which runtime is running on this thread: `CORE`, set by an [`EnterGuard`] for as long as a
//! runtime runs.
//!
//! Invariant: `CORE` is non-null exactly while an [`EnterGuard`] is alive on this thread. The
//! guard is created by `Runtime::run` from a `&Core` that outlives it, so dereferencing the
//! pointer while it is non-null is valid. Callers only ever receive a `&Core` whose lifetime
//! is that of a closure call, so no reference outlives the guard.

use super::Core;
use crate::runtime::context;
use std::cell::Cell;
use std::ptr;

thread_local! {
    static CORE: Cell<*const Core> = const { Cell::new(ptr::null()) };
}

/// Keeps `CORE` pointing at a runtime for as long as it lives.
pub(crate) struct EnterGuard {
    previous: *const Core,
}

impl EnterGuard {
    /// Makes `core` the current runtime of this thread.
    ///
    /// Panics when another runtime is already running on this thread.
    pub(crate) fn enter(core: &Core) -> EnterGuard {
        let previous = CORE.with(|c| c.get());
        if !previous.is_null() {
            panic!(
                "`scoro::run` was called on a thread that is already running a scoro runtime; \
                 inside a `#[structured]` function, `.await` the call or start it in a nursery instead"
            );
        }
        CORE.with(|c| c.set(core));
        EnterGuard { previous }
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CORE.with(|c| c.set(self.previous));
        context::reset();
    }
}

/// Calls `f` with the runtime running on this thread, or returns `None` if there is none.
#[inline]
pub(crate) fn try_with_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    let core = CORE.with(|c| c.get());
    if core.is_null() {
        None
    } else {
        // SAFETY: `CORE` is non-null only while an `EnterGuard` is alive, and the guard was made
        // from a `&Core` that outlives it (module invariant). The reference handed to `f` cannot
        // escape the call.
        Some(f(unsafe { &*core }))
    }
}

/// Calls `f` with the runtime running on this thread; panics with a clear message outside one.
#[inline]
pub(crate) fn with_core<R>(f: impl FnOnce(&Core) -> R) -> R {
    match try_with_core(f) {
        Some(r) => r,
        None => no_runtime(),
    }
}

#[cold]
#[inline(never)]
fn no_runtime() -> ! {
    panic!(
        "this scoro function must be called from a task of a running scoro runtime; \
         start one with `scoro::run`, `#[scoro::main]` or `#[scoro::test]`"
    )
}
