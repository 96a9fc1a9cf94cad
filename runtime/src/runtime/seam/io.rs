//! The I/O part of the seam: registering sources with the runtime's I/O driver and waiting
//! for readiness.

use super::super::core::{try_with_core, with_core};
use super::super::io::IoKey;
use super::super::shared::{Injected, Shared};
use super::{CurrentTask, TaskRef};
use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Weak};

pub(crate) use super::super::io::Direction;

/// A source's registration with the I/O driver of the runtime it was registered on. It keeps
/// a `Weak` of that runtime's shared part, so the identity cannot be reused while it lives.
pub(crate) struct IoRegistration {
    key: IoKey,
    runtime: Weak<Shared>,
}

impl IoRegistration {
    /// Registers `source` (both directions) with the runtime running on this thread.
    ///
    /// # Panics
    /// Outside a running scoro runtime.
    pub(crate) fn new(source: &mut impl mio::event::Source) -> io::Result<IoRegistration> {
        with_core(|core| {
            let key = core.io.borrow_mut().register(source)?;
            Ok(IoRegistration {
                key,
                runtime: Arc::downgrade(&core.shared),
            })
        })
    }

    /// Is the runtime running on this thread the one `self` was registered with?
    pub(crate) fn is_here(&self) -> bool {
        try_with_core(|core| std::ptr::eq(self.runtime.as_ptr(), Arc::as_ptr(&core.shared)))
            == Some(true)
    }

    /// Makes `task` the waiter of direction `dir` after clearing the readiness recorded there,
    /// so that the next readiness event wakes it. Fails if the source was closed or another
    /// task waits in that direction. Call only where [`is_here`](Self::is_here).
    pub(crate) fn wait_for(&self, dir: Direction, task: CurrentTask) -> io::Result<TaskRef> {
        with_core(|core| {
            let me = core.task_ref(task.index);
            let mut driver = core.io.borrow_mut();
            driver.clear_ready(self.key, dir);
            driver.set_waiter(self.key, dir, Some(me))?;
            Ok(me)
        })
    }

    /// Stops `waiter` waiting in direction `dir` (if it still does).
    pub(crate) fn stop_waiting(&self, dir: Direction, waiter: TaskRef) {
        try_with_core(|core| {
            if let Ok(mut driver) = core.io.try_borrow_mut() {
                driver.clear_waiter(self.key, dir, waiter);
            }
        });
    }

    /// Deregisters `source`, waking its waiters (they find it gone). Away from its runtime's
    /// thread the runtime frees the slot when it next drains its queue (the descriptor leaves
    /// the poller when it is closed, right after this); a finished run has nothing to free.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) {
        let key = self.key;
        let here = self.is_here()
            && with_core(|core| {
                let Ok(mut driver) = core.io.try_borrow_mut() else {
                    return false;
                };
                let woken = driver.deregister(key, source);
                drop(driver);
                for t in woken {
                    core.wake(t);
                }
                true
            });
        if !here && let Some(shared) = self.runtime.upgrade() {
            let _ = shared.push(Injected::Call(Box::new(move || {
                with_core(|core| {
                    let woken = core.io.borrow_mut().release_key(key);
                    for t in woken {
                        core.wake(t);
                    }
                });
            })));
        }
    }
}

/// Starts a wait of `task` for raw descriptor `fd` in direction `dir` (registering the
/// descriptor, or adding the direction to its interest).
pub(crate) fn fd_wait_start(fd: RawFd, dir: Direction, task: CurrentTask) -> io::Result<TaskRef> {
    with_core(|core| {
        let me = core.task_ref(task.index);
        core.io.borrow_mut().fd_wait_start(fd, dir, me)?;
        Ok(me)
    })
}

/// Has the descriptor of a wait become ready in direction `dir`? If not, `waiter` stays (or
/// becomes again) its waiter.
pub(crate) fn fd_wait_ready(fd: RawFd, dir: Direction, waiter: TaskRef) -> bool {
    with_core(|core| {
        let mut driver = core.io.borrow_mut();
        let ready = driver.fd_wait_ready(fd, dir);
        if !ready {
            driver.fd_wait_rearm(fd, dir, waiter);
        }
        ready
    })
}

/// Ends a wait started with [`fd_wait_start`].
pub(crate) fn fd_wait_end(fd: RawFd, dir: Direction, waiter: TaskRef) {
    try_with_core(|core| {
        if let Ok(mut driver) = core.io.try_borrow_mut() {
            driver.fd_wait_end(fd, dir, waiter);
        }
    });
}
