//! The one wait: every blocking call in scoro (acquiring a lock or a permit, sending and
//! receiving on a channel, sleeping, parking, a socket operation, a `lowlevel::suspend`) is an
//! implementation of [`Wait`] driven by [`WaitCall`], so they all follow the same rules.
//!
//! # The checkpoint rule
//! 1. Cancellation is looked at first. A call that finds its task cancelled returns the
//!    cancellation at once ([`Wait::cancelled`]) and has done nothing.
//! 2. Then the operation is tried ([`Wait::attempt`]). If it finishes, successfully or not, the
//!    call yields once to the scheduler and then returns the outcome *without looking at
//!    cancellation again*: the operation happened, and its result (a value received, a lock
//!    taken, bytes written) must not be lost. This is Trio's `cancel_shielded_checkpoint`.
//! 3. Otherwise the call parks (queued where the operation's counterpart finds it). Parking is
//!    the call's schedule point, so whatever ends the wait returns at once. Each time the task
//!    is woken, in this order:
//!    - what was handed over while it was parked is taken ([`Wait::woken`]): a handed-over
//!      value wins over a cancellation that arrived at the same time;
//!    - else, if the task is cancelled, the wait leaves its queue ([`Wait::abort`]) and returns
//!      the cancellation (or whatever the operation makes of it), or, if the operation cannot
//!      be withdrawn any more, keeps waiting, uncancellably, for its counterpart to finish it;
//!    - else it tries again or parks again, as the operation says.
//! 4. Dropped at any point, the wait undoes itself: it leaves its queue ([`Wait::abandon`]) and
//!    gives back a result it could not return ([`Wait::unreturned`]), so nothing is lost.
//!
//! A wait whose [`Wait::CANCELLABLE`] is `false` skips steps 1 and 3's cancellation and parks
//! where cancellation does not reach it (a condition wait getting its lock back).

pub(crate) mod list;

pub(crate) use list::{EntryState, WaitKey, WaitList};

use crate::cancel::CancelRequested;
use crate::runtime::seam::CurrentTask;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What trying an operation, or looking at it after a wake, came to.
pub(crate) enum Step<T, P> {
    /// It finished with this outcome.
    Done(T),
    /// It is queued under this registration: park (again).
    Park(P),
    /// Try the operation again (after a wake that brought nothing, e.g. readiness).
    Retry,
}

/// What withdrawing a cancelled wait came to.
pub(crate) enum Aborted<T, P> {
    /// Withdrawn: the call returns this.
    Left(T),
    /// The operation cannot be withdrawn any more and will finish or fail by itself: wait for
    /// it, uncancellably, under this registration.
    Stays(P),
}

/// One blocking operation, in the shape [`WaitCall`] drives (see the module's rule).
pub(crate) trait Wait {
    /// What the call returns.
    type Output;
    /// What identifies the queued operation while the task is parked (a queue key, a scope).
    type Parked;

    /// Whether cancellation can interrupt this wait.
    const CANCELLABLE: bool = true;

    /// The outcome of a call that found its task cancelled before doing anything.
    fn cancelled(&mut self, cancel: CancelRequested) -> Self::Output;

    /// Tries the operation for `task`. `Park` means it is queued so that `task.task_ref()` is
    /// used when something is handed over (or the operation may succeed now). `Retry` yields
    /// and tries again.
    fn attempt(&mut self, task: CurrentTask) -> Step<Self::Output, Self::Parked>;

    /// The task was woken while parked under `parked`: `Done` with what was handed over,
    /// `Park` to keep waiting, `Retry` to try the operation again (after a cancellation check).
    fn woken(&mut self, parked: Self::Parked) -> Step<Self::Output, Self::Parked>;

    /// The task is cancelled while parked and nothing was handed over: leave the queue.
    fn abort(
        &mut self,
        parked: Self::Parked,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, Self::Parked>;

    /// The call is dropped while parked: leave the queue, passing on anything handed over.
    fn abandon(&mut self, parked: Self::Parked);

    /// The call is dropped after the operation finished but before the outcome was returned
    /// (during the yield): put a taken value back. The default drops it.
    fn unreturned(&mut self, outcome: Self::Output) {
        drop(outcome);
    }
}

enum State<W: Wait> {
    Start,
    /// Finished without parking; yielding once before returning this.
    Yielded(W::Output),
    Parked(W::Parked),
    /// Parked after a cancellation that the operation could not withdraw.
    Stays(W::Parked),
    Done,
}

/// The future of one [`Wait`].
pub(crate) struct WaitCall<W: Wait> {
    op: W,
    state: State<W>,
}

impl<W: Wait> WaitCall<W> {
    /// A call of `op` that has not started.
    pub(crate) fn new(op: W) -> Self {
        WaitCall {
            op,
            state: State::Start,
        }
    }

    /// One step of the call for task `task`, for futures that embed a wait.
    pub(crate) fn step(&mut self, task: CurrentTask) -> Poll<W::Output> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Start => {
                    if W::CANCELLABLE
                        && let Some(c) = task.cancelled()
                    {
                        return Poll::Ready(self.op.cancelled(c));
                    }
                    match self.op.attempt(task) {
                        Step::Done(out) => {
                            self.state = State::Yielded(out);
                            task.yield_now();
                            return Poll::Pending;
                        }
                        Step::Park(p) => return self.park(task, p),
                        Step::Retry => {
                            task.yield_now();
                            self.state = State::Start;
                            return Poll::Pending;
                        }
                    }
                }
                State::Yielded(out) => return Poll::Ready(out),
                State::Parked(p) => match self.op.woken(p) {
                    Step::Done(out) => return Poll::Ready(out),
                    Step::Park(p) => {
                        if W::CANCELLABLE
                            && let Some(c) = task.cancelled()
                        {
                            match self.op.abort(p, c) {
                                Aborted::Left(out) => return Poll::Ready(out),
                                Aborted::Stays(p) => {
                                    self.state = State::Stays(p);
                                    return Poll::Pending;
                                }
                            }
                        }
                        return self.park(task, p);
                    }
                    Step::Retry => {
                        if W::CANCELLABLE
                            && let Some(c) = task.cancelled()
                        {
                            return Poll::Ready(self.op.cancelled(c));
                        }
                        match self.op.attempt(task) {
                            // Parking was this call's schedule point.
                            Step::Done(out) => return Poll::Ready(out),
                            Step::Park(p) => return self.park(task, p),
                            Step::Retry => {
                                task.yield_now();
                                self.state = State::Start;
                                return Poll::Pending;
                            }
                        }
                    }
                },
                State::Stays(p) => match self.op.woken(p) {
                    Step::Done(out) => return Poll::Ready(out),
                    Step::Park(p) => {
                        self.state = State::Stays(p);
                        return Poll::Pending;
                    }
                    Step::Retry => {
                        self.state = State::Start;
                        continue;
                    }
                },
                State::Done => panic!("a scoro call was polled after it finished"),
            }
        }
    }

    fn park(&mut self, task: CurrentTask, p: W::Parked) -> Poll<W::Output> {
        self.state = State::Parked(p);
        if W::CANCELLABLE {
            task.park();
        }
        Poll::Pending
    }
}

// The operation is never pinned structurally: `WaitCall` only hands out `&mut W`.
impl<W: Wait> Unpin for WaitCall<W> {}

impl<W: Wait> Future for WaitCall<W> {
    type Output = W::Output;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<W::Output> {
        let task = CurrentTask::of(cx);
        self.step(task)
    }
}

impl<W: Wait> Drop for WaitCall<W> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Parked(p) | State::Stays(p) => self.op.abandon(p),
            State::Yielded(out) => self.op.unreturned(out),
            State::Start | State::Done => {}
        }
    }
}
