//! Thread-local task context: which task is being polled, which memory that poll may place
//! erasing state in, and which nursery body (if any) is being polled. (Which runtime is
//! running is `core::current`'s.)
//!
//! Invariants:
//! - `TASK` holds the slab index of the task whose future is being polled (or `NO_TASK`) and
//!   `REGION` the address range of that task's allocation, set by the scheduler around each
//!   poll (`task::TaskFuture::poll_task`); `TASK` is cleared while foreign code or a destructor
//!   runs.
//!   `BOXES` holds the ranges of the boxes that `Boxed` wrappers being polled right now have
//!   registered. [`check_placement`] accepts an address only inside one of these ranges:
//!   that is the placement half of the no-leak argument (see `runtime::task`).
//! - `BODY` holds the waker data of the restricted waker a nursery body is polled with, if
//!   any. A `ClosureBody` (the wrapper the macro puts around async closures in structured
//!   bodies) polled with that waker switches back to the task's own waker, so that the scoro
//!   calls it awaits work; anywhere else it panics with a message that says what to do. This is
//!   for people, not for soundness: erasing state inside the closure checks its placement.

use super::ids::NO_TASK;
use std::cell::{Cell, RefCell};
use std::task::{Context, Poll};

thread_local! {
    static TASK: Cell<u32> = const { Cell::new(NO_TASK) };
    /// The address range of the allocation of the task in `TASK`; stale (and ignored) while
    /// `TASK` is `NO_TASK`.
    static REGION: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    static BOXES: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
    static BODY: Cell<Option<*const ()>> = const { Cell::new(None) };
}

/// Polls task `index`, whose future occupies `len` bytes from `start`: records both for the
/// length of `poll`, then marks that no task is being polled. Task polls never nest, and a
/// panic out of one ends the run (whose `EnterGuard` clears the marker), so there is nothing
/// to restore.
#[inline]
pub(crate) fn polling_task<T>(index: u32, start: usize, len: usize, poll: impl FnOnce() -> T) -> T {
    REGION.with(|r| r.set((start, start + len)));
    TASK.with(|t| t.set(index));
    let out = poll();
    TASK.with(|t| t.set(NO_TASK));
    out
}

/// Marks that no task is being polled while foreign code or a destructor runs, restoring the
/// task (whose region is left as it was) when dropped, also on unwinding.
pub(crate) struct OutsideTask {
    previous: u32,
}

impl Drop for OutsideTask {
    fn drop(&mut self) {
        TASK.with(|t| t.set(self.previous));
    }
}

/// Checks that `addr`, an address inside some erasing state (a nursery's state machine, a
/// pending `start`, a `run_sync` call, a `Boxed` wrapper), lies in the memory the runtime is
/// polling right now: the allocation of the current task or a box registered by a `Boxed`
/// wrapper being polled; panics (before anything is erased) otherwise. `what` names the
/// operation in the message.
#[inline]
pub(crate) fn check_placement(addr: usize, what: &str) {
    let (start, end) = REGION.with(|r| r.get());
    let placed = current_task_index() != NO_TASK
        && ((start <= addr && addr < end)
            || BOXES.with(|b| b.borrow().iter().any(|&(s, e)| s <= addr && addr < e)));
    if !placed {
        misplaced(what);
    }
}

#[cold]
#[inline(never)]
fn misplaced(what: &str) -> ! {
    panic!(
        "`{what}` was run outside the memory of the scoro task running it (its future was boxed, \
         pinned elsewhere or polled by hand), where nothing guarantees that it is dropped before \
         what it borrows; `.await` it in a `#[structured]` function, start it in a nursery or \
         pass it to `scoro::run`"
    )
}

/// Registers the box `[start, start + len)` as memory erasing state may lie in, while the
/// returned guard lives. Only `Boxed` calls this, after passing the placement check itself.
pub(crate) fn register_box(start: usize, len: usize) -> BoxGuard {
    BOXES.with(|b| b.borrow_mut().push((start, start + len)));
    BoxGuard(())
}

/// Unregisters the innermost box when dropped.
pub(crate) struct BoxGuard(());

impl Drop for BoxGuard {
    fn drop(&mut self) {
        BOXES.with(|b| b.borrow_mut().pop());
    }
}

/// Clears the task-level context when a runtime stops running on this thread.
pub(crate) fn reset() {
    TASK.with(|t| t.set(NO_TASK));
    BODY.with(|b| b.set(None));
}

/// The task being polled right now, if any.
#[inline]
pub(crate) fn current_task_index() -> u32 {
    TASK.with(|t| t.get())
}

/// Marks that no task is being polled (while foreign code or a destructor runs) until the
/// returned guard is dropped.
#[inline]
pub(crate) fn leave_task() -> OutsideTask {
    OutsideTask {
        previous: TASK.with(|t| t.replace(NO_TASK)),
    }
}

/// Polls a nursery body with the restricted waker in `cx`, recording that waker so that the
/// `ClosureBody` inside the body can recognise the poll.
pub(crate) fn poll_nursery_body<T>(
    cx: &mut Context<'_>,
    poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let saved = BODY.with(|b| b.replace(Some(cx.waker().data())));
    let _restore = RestoreBody(saved);
    poll(cx)
}

struct RestoreBody(Option<*const ()>);

impl Drop for RestoreBody {
    fn drop(&mut self) {
        BODY.with(|b| b.set(self.0));
    }
}

/// The waker data of the restricted waker of the nursery body being polled, if any.
pub(crate) fn body() -> Option<*const ()> {
    BODY.with(|b| b.get())
}

/// Marks that no nursery body is being polled until the returned guard is dropped (while a
/// `ClosureBody` polls its closure with the task's own waker).
pub(crate) fn leave_body() -> impl Drop {
    RestoreBody(BODY.with(|b| b.replace(None)))
}
