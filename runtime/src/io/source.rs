//! A `mio` source registered with the runtime's I/O driver, and the leaf future that runs one
//! readiness-based operation on it as a checkpoint.
//!
//! Invariants:
//! - A [`Registered`] source belongs to the runtime it was registered with (it keeps a `Weak`
//!   of that runtime's shared part, so the identity cannot be reused while it lives). Using it
//!   on another runtime is an error, never a panic; dropping it anywhere frees its driver slot
//!   (directly on its own runtime's thread, through the injection queue from elsewhere).
//! - [`IoOp`] follows the checkpoint shape: it checks for cancellation first; then it tries the
//!   non-blocking syscall, which either happened or did not, so a cancelled operation has not
//!   moved any bytes; on success it yields once before returning; on `WouldBlock` it clears
//!   the driver's readiness, becomes the (single) waiter of its direction and blocks
//!   cancellably. It is the waiter of its direction only while it is pending, and removes
//!   itself when it finishes or is dropped.

use crate::runtime::context;
use crate::runtime::core::{Core, TaskRef};
use crate::runtime::io::{Direction, IoKey};
use crate::runtime::shared::{Injected, Shared};
use crate::runtime::task;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

/// A `mio` source registered with one runtime's I/O driver.
pub(crate) struct Registered<S: mio::event::Source> {
    source: S,
    runtime: Weak<Shared>,
    key: IoKey,
}

impl<S: mio::event::Source + fmt::Debug> fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

/// The error for a source used on a runtime other than its own.
fn foreign_runtime() -> io::Error {
    io::Error::other(
        "this I/O object belongs to another scoro run; sockets cannot move between runs",
    )
}

impl<S: mio::event::Source> Registered<S> {
    /// Registers `source` with the runtime running on this thread.
    pub(crate) fn new(mut source: S, core: &Core) -> io::Result<Self> {
        let key = core.io.borrow_mut().register(&mut source)?;
        Ok(Registered {
            source,
            runtime: Arc::downgrade(&core.shared),
            key,
        })
    }

    /// The source itself.
    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }

    /// Does this source belong to `core`?
    pub(crate) fn belongs_to(&self, core: &Core) -> bool {
        std::ptr::eq(self.runtime.as_ptr(), Arc::as_ptr(&core.shared))
    }

    /// Runs `op` in direction `dir` as a checkpoint (see the module docs).
    pub(crate) fn op<T, F>(&self, dir: Direction, op: F) -> IoOp<'_, S, F, T>
    where
        F: FnMut(&S) -> io::Result<T>,
    {
        IoOp {
            io: self,
            dir,
            op,
            state: OpState::Trying,
        }
    }
}

impl<S: mio::event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        let key = self.key;
        let source = &mut self.source;
        let here = context::try_with_core(|core| {
            if !std::ptr::eq(self.runtime.as_ptr(), Arc::as_ptr(&core.shared)) {
                return false;
            }
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
        if here != Some(true)
            && let Some(shared) = self.runtime.upgrade()
        {
            // The descriptor leaves the poller when it is closed (right after this); the
            // runtime frees the slot when it next drains its queue. A finished run refuses
            // the call, and then there is nothing left to free.
            let _ = shared.push(Injected::Call(Box::new(move || {
                context::with_core(|core| {
                    let woken = core.io.borrow_mut().release_key(key);
                    for t in woken {
                        core.wake(t);
                    }
                });
            })));
        }
    }
}

enum OpState<T> {
    /// Not waiting: the next poll tries the operation.
    Trying,
    /// Registered as the waiter of the direction.
    Waiting(TaskRef),
    /// The operation finished; its result goes out on the next poll (after one yield).
    Yielded(Option<io::Result<T>>),
}

/// One operation on a [`Registered`] source, as a checkpoint.
pub(crate) struct IoOp<'a, S: mio::event::Source, F, T> {
    io: &'a Registered<S>,
    dir: Direction,
    op: F,
    state: OpState<T>,
}

// `IoOp` never pins its fields structurally.
impl<S: mio::event::Source, F, T> Unpin for IoOp<'_, S, F, T> {}

impl<S: mio::event::Source, F, T> IoOp<'_, S, F, T> {
    /// Stops being the waiter of the direction, if it was.
    fn stop_waiting(&mut self, core: &Core) {
        if let OpState::Waiting(t) = self.state {
            self.state = OpState::Trying;
            if let Ok(mut driver) = core.io.try_borrow_mut() {
                driver.clear_waiter(self.io.key, self.dir, t);
            }
        }
    }
}

impl<S, T, F> Future for IoOp<'_, S, F, T>
where
    S: mio::event::Source,
    F: FnMut(&S) -> io::Result<T>,
{
    type Output = io::Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let task = task::verify(cx);
        let this = &mut *self;
        if let OpState::Yielded(v) = &mut this.state {
            // The yield after a success: the value goes out without another look at
            // cancellation (the operation happened; its result must not be lost).
            return Poll::Ready(v.take().expect("`IoOp` polled after it finished"));
        }
        context::with_core(|core| {
            if let Some(c) = core.check_cancel(task) {
                this.stop_waiting(core);
                return Poll::Ready(Err(io::Error::from(c)));
            }
            if !this.io.belongs_to(core) {
                return Poll::Ready(Err(foreign_runtime()));
            }
            loop {
                match (this.op)(&this.io.source) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        let me = core.task_ref(task);
                        let registered = {
                            let mut driver = core.io.borrow_mut();
                            driver.clear_ready(this.io.key, this.dir);
                            driver.set_waiter(this.io.key, this.dir, Some(me))
                        };
                        if let Err(e) = registered {
                            this.state = OpState::Trying;
                            return Poll::Ready(Err(e));
                        }
                        this.state = OpState::Waiting(me);
                        core.block_cancellable(task);
                        return Poll::Pending;
                    }
                    result => {
                        this.stop_waiting(core);
                        this.state = OpState::Yielded(Some(result));
                        core.yield_now(task);
                        return Poll::Pending;
                    }
                }
            }
        })
    }
}

impl<S: mio::event::Source, F, T> Drop for IoOp<'_, S, F, T> {
    fn drop(&mut self) {
        if let OpState::Waiting(_) = self.state {
            context::try_with_core(|core| {
                if self.io.belongs_to(core) {
                    self.stop_waiting(core);
                }
            });
        }
    }
}
