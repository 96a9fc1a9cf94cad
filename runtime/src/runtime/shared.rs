//! The thread-safe part of a runtime: the injection queue and the `mio::Waker` that interrupts
//! the run loop's I/O wait.
//!
//! Everything that may happen on another thread (a [`Wakeup`](crate::lowlevel::Wakeup) fired by
//! a worker thread, [`RuntimeHandle::run_sync_soon`](crate::lowlevel::RuntimeHandle::run_sync_soon),
//! a foreign future's waker) goes through here. The run loop drains the queue once per
//! scheduling step.
//!
//! Invariants: `notified` is true whenever the queue may be non-empty and the `mio::Waker` has
//! been (or is about to be) woken for it, so a push never needs a second syscall; once `closed`
//! is set (the run has ended), pushes are refused and the caller gets its value back.

use super::ids::TaskRef;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Work sent to the runtime from anywhere.
pub(crate) enum Injected {
    /// Make a task runnable.
    Wake(TaskRef),
    /// Run a function on the runtime thread.
    Call(Box<dyn FnOnce() + Send>),
}

pub(crate) struct Shared {
    queue: Mutex<Vec<Injected>>,
    /// Live handles through which another thread could wake a task or send work
    /// (`RuntimeHandle`s and `Wakeup`s: see [`Handle`]). While there are any, the run is never
    /// reported as deadlocked.
    handles: AtomicUsize,
    notified: AtomicBool,
    closed: AtomicBool,
    waker: mio::Waker,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The `mio` token of the runtime's waker.
pub(crate) const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);

impl Shared {
    pub(crate) fn new(registry: &mio::Registry) -> std::io::Result<Shared> {
        Ok(Shared {
            queue: Mutex::new(Vec::new()),
            handles: AtomicUsize::new(0),
            notified: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            waker: mio::Waker::new(registry, WAKER_TOKEN)?,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Injected>> {
        crate::poison::lock(&self.queue)
    }

    /// Queues `item` for the run loop. Gives it back if the run has ended.
    pub(crate) fn push(&self, item: Injected) -> Result<(), Injected> {
        let mut q = self.lock();
        if self.closed.load(Ordering::Acquire) {
            return Err(item);
        }
        q.push(item);
        drop(q);
        if !self.notified.swap(true, Ordering::AcqRel) {
            // A failed wake means the poller is gone; the run is ending and drains the queue.
            let _ = self.waker.wake();
        }
        Ok(())
    }

    /// Takes everything queued, if anything was.
    pub(crate) fn drain(&self, into: &mut Vec<Injected>) {
        if self.notified.swap(false, Ordering::AcqRel) {
            into.append(&mut self.lock());
        }
    }

    /// Marks the run as finished and returns what was still queued.
    pub(crate) fn close(&self) -> Vec<Injected> {
        let mut q = self.lock();
        self.closed.store(true, Ordering::Release);
        std::mem::take(&mut *q)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// How many [`Handle`]s are alive. Acquire: a handle's work (a push) happens before its
    /// drop, so once its drop is seen here, its push is in the queue.
    pub(crate) fn live_handles(&self) -> usize {
        self.handles.load(Ordering::Acquire)
    }
}

/// A counted reference to a runtime's [`Shared`] part, for objects that let another thread
/// wake a task or send work whenever it likes (`RuntimeHandle`, `Wakeup`): while any is alive,
/// a run with every task blocked may still go on, so it is not reported as deadlocked.
pub(crate) struct Handle(Arc<Shared>);

impl Handle {
    pub(crate) fn new(shared: Arc<Shared>) -> Handle {
        shared.handles.fetch_add(1, Ordering::Relaxed);
        Handle(shared)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.0
    }
}

impl Clone for Handle {
    fn clone(&self) -> Handle {
        Handle::new(self.0.clone())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.handles.fetch_sub(1, Ordering::Release);
    }
}
