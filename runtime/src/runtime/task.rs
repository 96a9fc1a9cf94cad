//! Task storage: the lifetime erasure of tasks, the placement of erasing state, and the task
//! waker.
//!
//! This module holds the unsafe code that the no-leak argument justifies.
//!
//! **The no-leak argument** (DESIGN.md, decision 2). A nursery child may borrow data that
//! lives only for `'scope` (the nursery call); a `to_thread::run_sync` job may borrow its
//! caller's data. The scheduler stores tasks as `'static` trait objects and worker threads run
//! `'static` jobs, so those lifetimes are erased. Nothing at compile time stops safe code from
//! getting hold of a started scoro call (a `macro_rules!` expansion hides `.await`s from the
//! macro, and `__private` hands out the plain future), so the argument is checked at run time,
//! by the operations that erase, in two halves:
//!
//! 1. *Placement.* Before its first erasure, and on every later poll, the state that owns
//!    erased work (a nursery's state machine, a pending `start`, a `run_sync` call) checks with
//!    [`context::check_placement`] that it lies inside the memory the runtime is polling right
//!    now: the allocation of the task being polled (the root task of `run` is one too), or a
//!    box registered by a [`Boxed`](crate::__private::Boxed) wrapper that itself
//!    passed the check and is being polled. Otherwise it panics before anything is erased.
//!    Such state is `!Unpin` and polled through `Pin`, so once checked it cannot move; and
//!    since it lies inside a task allocation, that allocation cannot be freed or reused
//!    without running its destructor first. Safe code can keep a future from being dropped
//!    only by moving it into memory of its own: `Box::pin` + `mem::forget`, an `Rc` cycle, a
//!    thread-local, `Box::leak`, a future pinned on some native stack (`pin!` inside a `poll`,
//!    another thread's stack): each is outside every allowed region, so the check refuses it.
//!    This holds whatever produced the future: a user `Future` impl, a `macro_rules!`
//!    expansion, an `async` block made by a macro, `#[structured(boxed)]` (its box is
//!    registered by `Boxed`), an async closure called by hand, or a poll from another task or
//!    another run (whose allocation is a different one).
//! 2. *Ordering.* Pinning only promises "dropped before the memory is reused", so every task
//!    allocation is dropped (not merely left unreused) before the frame or owner its borrows
//!    point into can end: `run` drops every task before it returns or unwinds
//!    (`Core::shutdown`); a nursery waits for its children, and its guard drops those still
//!    stored (`Core::drop_owned_tasks`) if its state machine is dropped first; a pending
//!    `start` owns its child until the child is adopted by the nursery (also when `started` is
//!    called before the child is spawned); a `run_sync` call waits for its thread in its
//!    destructor. A guard that cannot reach its run aborts the process instead of skipping.
//!
//! Because the state that owns erased work lies in a task allocation, and task allocations are
//! dropped in that order, the erased borrows are never used after what they borrow is gone.
//!
//! **The task waker** carries the task's slab index and a vtable private to this module. It is
//! handed only to futures of this crate and to `#[structured]` state machines, never to foreign
//! futures (those get a `RemoteWaker`). Seeing it in a `Context` tells a scoro future which
//! task is polling it; soundness does not rest on it. Its functions touch no memory: waking
//! through it is a no-op, because scoro futures wake tasks through the scheduler directly.

use super::context;
use super::ids::NO_TASK;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// What the scheduler stores for a task: a future that, when polled, tells the thread-local
/// context which memory it occupies (for the placement check).
pub(crate) trait TaskFuture {
    /// Polls the task `index`, with its allocation recorded as the memory being polled.
    fn poll_task(self: Pin<&mut Self>, index: u32, cx: &mut Context<'_>) -> Poll<()>;
}

impl<F: Future<Output = ()>> TaskFuture for F {
    #[inline]
    fn poll_task(mut self: Pin<&mut Self>, index: u32, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: the reference is used only for its address; nothing is moved out of the pin.
        // (For a `!Unpin` future a `&mut` asserts no uniqueness, so this does not disturb the
        // future's references into itself, as a shared reference to the whole would.)
        let start = std::ptr::from_mut(unsafe { self.as_mut().get_unchecked_mut() }).addr();
        context::polling_task(index, start, std::mem::size_of::<Self>(), || self.poll(cx))
    }
}

/// A task's state machine with its borrowed lifetime erased.
pub(crate) type ErasedFuture = Pin<Box<dyn TaskFuture + 'static>>;

/// Erases the lifetime of a task's future so that the scheduler can store it.
///
/// # Safety
/// The caller must guarantee that the future is dropped before `'a` ends: it must belong to a
/// nursery (or `run`) that waits for it or drops it before returning, and that owner must have
/// passed the placement check (see the module docs).
pub(crate) unsafe fn erase<'a>(future: Pin<Box<dyn TaskFuture + 'a>>) -> ErasedFuture {
    // SAFETY: only the lifetime bound changes; the layout of the fat pointer is identical. The
    // caller guarantees that the future is dropped before `'a` ends, so nothing it borrows is
    // used after it is gone.
    unsafe {
        std::mem::transmute::<Pin<Box<dyn TaskFuture + 'a>>, Pin<Box<dyn TaskFuture + 'static>>>(
            future,
        )
    }
}

static TASK_VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, noop, noop, noop);

fn clone_raw(data: *const ()) -> RawWaker {
    RawWaker::new(data, &TASK_VTABLE)
}

fn noop(_data: *const ()) {}

/// The waker the runtime polls task `index` with.
#[inline]
pub(crate) fn task_waker(index: u32) -> Waker {
    // SAFETY: the vtable functions never dereference `data` (it is an integer), so they are
    // trivially thread-safe and valid for any data value; clone returns an identical waker and
    // drop does nothing, which is the contract `RawWakerVTable` requires.
    unsafe { Waker::new(std::ptr::without_provenance(index as usize), &TASK_VTABLE) }
}

/// Checks that `cx` comes from the runtime polling the current task and returns its index.
///
/// Every scoro future calls this when polled; it panics when a foreign executor or hand-written
/// code polls a scoro future.
#[inline]
pub(crate) fn verify(cx: &Context<'_>) -> u32 {
    let waker = cx.waker();
    let current = context::current_task_index();
    if std::ptr::eq(waker.vtable(), &TASK_VTABLE)
        && waker.data() as usize == current as usize
        && current != NO_TASK
    {
        current
    } else {
        foreign_poll()
    }
}

#[cold]
#[inline(never)]
fn foreign_poll() -> ! {
    panic!(
        "a scoro future was polled by something other than the scoro runtime; scoro calls can \
         only be awaited in `#[structured]` functions, started in a nursery or passed to `scoro::run`"
    )
}

/// The check behind `__private::ClosureBody`: runs `poll` with the task's own waker when a
/// nursery body is being polled with its restricted waker `cx`; panics anywhere else.
pub(crate) fn closure_body_poll<T>(
    cx: &mut Context<'_>,
    poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let body = context::body();
    let task = context::current_task_index();
    if task == NO_TASK || body.is_none_or(|data| !std::ptr::eq(cx.waker().data(), data)) {
        foreign_closure_poll();
    }
    let _outside_body = context::leave_body();
    let waker = task_waker(task);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_waker_clones_compare_equal_and_drop_cleanly() {
        let w = task_waker(7);
        let w2 = w.clone();
        assert!(w.will_wake(&w2));
        assert_eq!(w2.data() as usize, 7);
        w2.wake_by_ref();
        w2.wake();
        drop(w);
    }

    #[test]
    fn erased_future_is_dropped_while_its_borrow_lives() {
        let mut dropped = false;
        {
            struct SetOnDrop<'a>(&'a mut bool);
            impl Drop for SetOnDrop<'_> {
                fn drop(&mut self) {
                    *self.0 = true;
                }
            }
            let guard = SetOnDrop(&mut dropped);
            let fut: Pin<Box<dyn TaskFuture + '_>> = Box::pin(async move {
                let _g = guard;
            });
            // SAFETY: dropped at the end of this block, before `dropped` is read.
            let erased = unsafe { erase(fut) };
            drop(erased);
        }
        assert!(dropped);
    }

    #[test]
    #[should_panic(expected = "polled by something other than the scoro runtime")]
    fn verify_rejects_a_foreign_waker() {
        let cx = Context::from_waker(Waker::noop());
        verify(&cx);
    }
}
