//! Thread-local context: which runtime is running on this thread, which task is being polled,
//! and which nursery body (if any) is being polled.
//!
//! Invariants:
//! - `CORE` is non-null exactly while an [`EnterGuard`] is alive on this thread. The guard is
//!   created by `Runtime::run` from a `&Core` that outlives it, so dereferencing the pointer
//!   while it is non-null is valid. Callers only ever receive a `&Core` whose lifetime is that
//!   of a closure call, so no reference outlives the guard.
//! - `TASK` holds the slab index of the task whose future is being polled, or `NO_TASK`.
//!   Together with the task waker's vtable it is how scoro futures recognise that the runtime
//!   itself is polling them (see `task::verify`).
//! - `BODY` describes the nursery body future being polled, if any: its address range and the
//!   data pointer of the restricted waker it was polled with. A `ClosureBody` (the wrapper the
//!   macro puts around async closures in structured bodies) runs only when it lies inside that
//!   range and sees that waker; it then polls the closure's body with the task's own waker.
//!   Anything inside the body future's memory is either the body itself or pinned inside it,
//!   and the nursery drops the body before its own storage goes away, so a closure future that
//!   passes the check can never be leaked while it holds borrowed children.

use super::core::Core;
use super::task;
use std::cell::Cell;
use std::ptr;
use std::task::{Context, Poll};

/// Marks "no task is being polled".
pub(crate) const NO_TASK: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct BodyFrame {
    start: usize,
    end: usize,
    waker_data: *const (),
}

thread_local! {
    static CORE: Cell<*const Core> = const { Cell::new(ptr::null()) };
    static TASK: Cell<u32> = const { Cell::new(NO_TASK) };
    static BODY: Cell<Option<BodyFrame>> = const { Cell::new(None) };
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
        TASK.with(|t| t.set(NO_TASK));
        BODY.with(|b| b.set(None));
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

/// The task being polled right now, if any.
#[inline]
pub(crate) fn current_task_index() -> u32 {
    TASK.with(|t| t.get())
}

/// Sets the task being polled, returning the previous value.
#[inline]
pub(crate) fn set_current_task(index: u32) -> u32 {
    TASK.with(|t| t.replace(index))
}

/// Polls a nursery body with the restricted waker `waker`, recording the body's address range
/// so that the `ClosureBody` inside it can recognise the poll.
pub(crate) fn poll_nursery_body<T>(
    body_start: usize,
    body_len: usize,
    cx: &mut Context<'_>,
    poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let frame = BodyFrame {
        start: body_start,
        end: body_start + body_len,
        waker_data: cx.waker().data(),
    };
    let saved = BODY.with(|b| b.replace(Some(frame)));
    let _restore = RestoreBody(saved);
    poll(cx)
}

struct RestoreBody(Option<BodyFrame>);

impl Drop for RestoreBody {
    fn drop(&mut self) {
        BODY.with(|b| b.set(self.0));
    }
}

/// The check behind `__private::ClosureBody`: runs `poll` with the task's own waker only when a
/// nursery is polling the closure future that contains the wrapper at `addr`.
pub(crate) fn closure_body_poll<T>(
    addr: usize,
    cx: &mut Context<'_>,
    poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let frame = BODY.with(|b| b.get());
    let task = current_task_index();
    let legit = match frame {
        Some(f) => {
            f.start <= addr
                && addr < f.end
                && ptr::eq(cx.waker().data(), f.waker_data)
                && task != NO_TASK
        }
        None => false,
    };
    if !legit {
        foreign_closure_poll();
    }
    let saved = BODY.with(|b| b.replace(None));
    let _restore = RestoreBody(saved);
    let waker = task::task_waker(task);
    let mut cx = Context::from_waker(&waker);
    poll(&mut cx)
}

#[cold]
#[inline(never)]
fn foreign_closure_poll() -> ! {
    panic!(
        "an async closure written in a `#[structured]` function was run by something other than \
         `scoro::nursery`; such closures can only be nursery bodies. To run code concurrently, \
         start it in a nursery; to call it, write a `#[structured]` function or an `async` block instead"
    )
}
