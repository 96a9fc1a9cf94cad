//! A `mio` source registered with the runtime's I/O driver, and the leaf future that runs one
//! readiness-based operation on it as a checkpoint.
//!
//! Invariants:
//! - A [`Registered`] source belongs to the runtime it was registered with (it keeps a `Weak`
//!   of that runtime's shared part, so the identity cannot be reused while it lives). Using it
//!   on another runtime is an error, never a panic; dropping it anywhere frees its driver slot
//!   (directly on its own runtime's thread, through the injection queue from elsewhere).
//! - [`IoOp`] is a [`Wait`] (see `crate::wait` for the checkpoint rule): the non-blocking
//!   syscall either happened or did not, so a cancelled operation has not moved any bytes; on
//!   `WouldBlock` it clears the driver's readiness, becomes the (single) waiter of its
//!   direction and parks; woken, it stops being the waiter and tries again. It is the waiter
//!   of its direction only while it is parked.

use crate::cancellation::CancelRequested;
use crate::runtime::seam::io::{Direction, IoRegistration};
use crate::runtime::seam::{CurrentTask, TaskRef, Waiting};
use crate::wait::{Aborted, Step, Wait, WaitCall};
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A `mio` source registered with one runtime's I/O driver.
pub(crate) struct Registered<S: mio::event::Source> {
    source: S,
    registration: IoRegistration,
}

impl<S: mio::event::Source + fmt::Debug> fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

impl<S: mio::event::Source> Registered<S> {
    /// Registers `source` with the runtime running on this thread.
    ///
    /// # Panics
    /// Outside a running scoro runtime.
    pub(crate) fn new(mut source: S) -> io::Result<Self> {
        let registration = IoRegistration::new(&mut source)?;
        Ok(Registered {
            source,
            registration,
        })
    }

    /// The source.
    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }

    /// A checkpoint that runs the non-blocking `op` until it stops reporting `WouldBlock`
    /// (waiting for readiness in direction `dir` in between). `waiting` names the public call
    /// (`TcpStream::read`, `UdpSocket::recv_from`, ..) for the task tree.
    pub(crate) fn op<T, F>(
        &self,
        dir: Direction,
        waiting: Waiting,
        op: F,
    ) -> WaitCall<IoOp<'_, S, F>>
    where
        F: FnMut(&S) -> io::Result<T>,
    {
        WaitCall::new(IoOp {
            io: self,
            dir,
            waiting,
            op,
        })
    }
}

impl<S: mio::event::Source> Registered<S> {
    /// Runs the non-blocking `op` for a foreign future (see `compat::poll_io`): `Pending`
    /// with `cx`'s waker waiting for readiness in direction `dir` while it would block. An
    /// error, never a panic, away from the source's runtime.
    pub(crate) fn poll_op<T>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        self.registration.poll_io(dir, cx, || op(&self.source))
    }

    /// Removes a foreign future's waker from direction `dir` (see
    /// [`poll_op`](Self::poll_op)); a task waiting there stays.
    pub(crate) fn forget_waker(&self, dir: Direction) {
        self.registration.forget_waker(dir);
    }

    /// `Ok` if the runtime running on this thread is the one the source belongs to, else the
    /// error for a source used away from its runtime.
    pub(crate) fn check_here(&self) -> io::Result<()> {
        self.registration.check_here()
    }
}

impl<S: mio::event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        self.registration.deregister(&mut self.source);
    }
}

/// One readiness-based operation on a [`Registered`] source, as a [`Wait`].
pub(crate) struct IoOp<'a, S: mio::event::Source, F> {
    io: &'a Registered<S>,
    dir: Direction,
    /// The public call this operation is.
    waiting: Waiting,
    op: F,
}

// The operation closure is only called, never pinned.
impl<S: mio::event::Source, F> Unpin for IoOp<'_, S, F> {}

impl<S, T, F> Wait for IoOp<'_, S, F>
where
    S: mio::event::Source,
    F: FnMut(&S) -> io::Result<T>,
{
    type Output = io::Result<T>;
    type Parked = TaskRef;

    fn waiting(&self) -> Waiting {
        self.waiting
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel.into())
    }

    fn attempt(mut self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, TaskRef> {
        let io = self.io;
        if let Err(e) = io.registration.check_here() {
            return Step::Done(Err(e));
        }
        loop {
            match (self.op)(&io.source) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return match io.registration.wait_for(self.dir, task) {
                        Ok(me) => Step::Park(me),
                        Err(e) => Step::Done(Err(e)),
                    };
                }
                // The syscall happened (or failed for good): its result must not be lost.
                result => return Step::Done(result),
            }
        }
    }

    fn woken(self: Pin<&mut Self>, me: TaskRef) -> Step<Self::Output, TaskRef> {
        // Readiness, or a wake for another reason: try again (or stop, when cancelled).
        self.io.registration.stop_waiting(self.dir, me);
        Step::Retry
    }

    fn abort(
        self: Pin<&mut Self>,
        me: TaskRef,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, TaskRef> {
        self.io.registration.stop_waiting(self.dir, me);
        Aborted::Left(Err(cancel.into()))
    }

    fn abandon(self: Pin<&mut Self>, me: TaskRef) {
        if self.io.registration.is_here() {
            self.io.registration.stop_waiting(self.dir, me);
        }
    }
}
