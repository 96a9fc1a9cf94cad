//! Task storage: the lifetime erasure of nursery children and the task waker.
//!
//! This module holds the unsafe code that the no-leak argument justifies.
//!
//! **The no-leak argument.** A nursery child may borrow data that lives only for `'scope`
//! (the nursery call). The scheduler stores children as `'static` trait objects, so the
//! lifetime is erased here. That is sound because a child's future is always dropped before
//! `'scope` ends:
//! 1. the nursery future does not finish until every child has finished (and been dropped);
//! 2. if the nursery future is dropped before it finishes, its guard first drops every child
//!    still stored in the scheduler (`Core::drop_nursery_children`);
//! 3. the nursery future itself is never leaked: it lives inside a `CoroutineCall` state
//!    machine, and safe code cannot take a started state machine out of the runtime. The
//!    await token is `unsafe` to make; every scoro future checks that the runtime is polling
//!    it for the current task (`verify`), and the one plain future that user code can hold,
//!    an async closure written in a structured body, runs only while a nursery polls it in
//!    place (`context::closure_body_poll`). A state machine the runtime polls is owned by a
//!    task, and tasks are dropped by the runtime, never forgotten.
//!
//! **The task waker** carries the task's slab index and a vtable private to this module, so no
//! code outside this crate can make one. It is handed only to futures of this crate and to
//! `#[structured]` state machines, never to foreign futures (those get a `RemoteWaker`), so
//! seeing it in a `Context` proves that the runtime is polling the current task. Its
//! functions touch no memory: waking through it is a no-op, because scoro futures wake tasks
//! through the scheduler directly.

use super::context;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, RawWaker, RawWakerVTable, Waker};

/// A task's state machine with its borrowed lifetime erased.
pub(crate) type ErasedFuture = Pin<Box<dyn Future<Output = ()> + 'static>>;

/// Erases the lifetime of a task's future so that the scheduler can store it.
///
/// # Safety
/// The caller must guarantee that the future is dropped before `'a` ends: it must belong to a
/// nursery (or `run`) that waits for it or drops it before returning (see the module docs).
pub(crate) unsafe fn erase<'a>(future: Pin<Box<dyn Future<Output = ()> + 'a>>) -> ErasedFuture {
    // SAFETY: only the lifetime bound changes; the layout of the fat pointer is identical. The
    // caller guarantees that the future is dropped before `'a` ends, so nothing it borrows is
    // used after it is gone.
    unsafe {
        std::mem::transmute::<
            Pin<Box<dyn Future<Output = ()> + 'a>>,
            Pin<Box<dyn Future<Output = ()> + 'static>>,
        >(future)
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
        && current != context::NO_TASK
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
            let fut: Pin<Box<dyn Future<Output = ()> + '_>> = Box::pin(async move {
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
