//! The I/O part of the seam: registering sources with the runtime's I/O driver and waiting
//! for readiness.

use super::super::core::Core;
use super::super::core::{try_with_core, with_core};
use super::super::io::{IoKey, Waiter};
use super::super::shared::{Injected, Shared};
use super::{CurrentTask, TaskRef};
use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

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
        try_with_core(|core| self.is_core(core)) == Some(true)
    }

    /// `Ok` where [`is_here`](Self::is_here), else the error every operation on the source
    /// returns away from its runtime.
    pub(crate) fn check_here(&self) -> io::Result<()> {
        if self.is_here() {
            Ok(())
        } else {
            Err(not_here())
        }
    }

    /// Makes `task` the waiter of direction `dir` after clearing the readiness recorded there,
    /// so that the next readiness event wakes it. Fails if the source was closed or another
    /// task waits in that direction. Call only where [`is_here`](Self::is_here).
    pub(crate) fn wait_for(&self, dir: Direction, task: CurrentTask) -> io::Result<TaskRef> {
        with_core(|core| {
            let me = core.task_ref(task.index);
            let mut driver = core.io.borrow_mut();
            driver.clear_ready(self.key, dir);
            let displaced = driver.set_waiter(self.key, dir, me)?;
            drop(driver);
            if let Some(w) = displaced {
                // A foreign future's waker: it retries and finds this task waiting.
                w.wake();
            }
            Ok(me)
        })
    }

    /// Runs the non-blocking `op` for a foreign future polling the source (see
    /// `compat::poll_io`): on `WouldBlock` clears the readiness recorded in direction `dir`,
    /// makes `cx`'s waker the waiter of that direction (replacing an earlier waker) and
    /// returns `Pending`; the next readiness event, or the source's deregistration, wakes it.
    ///
    /// Fails, never panics, away from the runtime the source belongs to (another thread, or
    /// another run on this one), when a task waits in that direction (`ResourceBusy`), and
    /// once the source is closed.
    pub(crate) fn poll_io<T>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        let waker = cx.waker();
        let outcome = try_with_core(|core| {
            if !self.is_core(core) {
                return Poll::Ready(Err(not_here()));
            }
            loop {
                match op() {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return match self.set_waker(core, dir, waker) {
                            Ok(()) => Poll::Pending,
                            Err(e) => Poll::Ready(Err(e)),
                        };
                    }
                    result => return Poll::Ready(result),
                }
            }
        });
        outcome.unwrap_or_else(|| Poll::Ready(Err(not_here())))
    }

    /// Clears readiness in `dir` and makes `waker` its waiter, on `core` (this source's).
    fn set_waker(&self, core: &Core, dir: Direction, waker: &Waker) -> io::Result<()> {
        let Ok(mut driver) = core.io.try_borrow_mut() else {
            return Err(io::Error::other(
                "scoro's I/O driver is busy: poll scoro sockets from a foreign future only",
            ));
        };
        driver.clear_ready(self.key, dir);
        let replaced = driver.set_waker(self.key, dir, waker)?;
        drop(driver);
        // An earlier waker of the same direction, dropped with the driver free.
        drop(replaced);
        Ok(())
    }

    /// Removes a foreign future's waker from direction `dir`, if one waits there (a task
    /// waiter stays). For a poll adapter that goes away; a no-op elsewhere.
    pub(crate) fn forget_waker(&self, dir: Direction) {
        let waker = try_with_core(|core| {
            if !self.is_core(core) {
                return None;
            }
            core.io.try_borrow_mut().ok()?.take_waker(self.key, dir)
        });
        drop(waker);
    }

    /// Is `core` the runtime `self` was registered with?
    fn is_core(&self, core: &Core) -> bool {
        std::ptr::eq(self.runtime.as_ptr(), Arc::as_ptr(&core.shared))
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
                wake_all(core, woken);
                true
            });
        if !here && let Some(shared) = self.runtime.upgrade() {
            let _ = shared.push(Injected::Call(Box::new(move || {
                with_core(|core| {
                    let woken = core.io.borrow_mut().release_key(key);
                    wake_all(core, woken);
                });
            })));
        }
    }
}

/// Wakes the waiters of a source that went away (they find it gone), with the driver free.
fn wake_all(core: &Core, waiters: Vec<Waiter>) {
    for w in waiters {
        match w {
            Waiter::Task(t) => core.wake(t),
            Waiter::Waker(w) => w.wake(),
        }
    }
}

/// The error for an operation on a source away from its runtime (another thread, or another
/// run on this one), by a task or by a foreign future.
fn not_here() -> io::Error {
    io::Error::other(
        "this I/O object belongs to another scoro run; sockets cannot move between runs or \
         threads (a foreign future that polls one through `compat::poll_io` must run inside \
         `compat::future` in the run that owns it)",
    )
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
