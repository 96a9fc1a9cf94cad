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
//! While [`Wait::cancellable`] says `false`, the wait skips the looks at cancellation and
//! parks where cancellation does not reach it (a worker-thread call that must wait for its
//! function).
//!
//! The operation is pinned inside the call (a foreign future polled by `compat::future` needs
//! that); operations that pin nothing are `Unpin` and use `self` as usual.

pub(crate) mod list;

pub(crate) use list::{EntryState, WaitKey, WaitList};

use crate::cancellation::CancelRequested;
use crate::runtime::seam::{CurrentTask, Waiting};
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

    /// Whether cancellation can interrupt this wait now (asked before each look at it).
    fn cancellable(&self) -> bool {
        true
    }

    /// The scoro call this wait belongs to, as the task tree names it while the task is parked:
    /// a constant, or a field the public call set (read at each park, so it must be cheap).
    fn waiting(&self) -> Waiting;

    /// The outcome of a call that found its task cancelled before doing anything.
    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output;

    /// Tries the operation for `task`. `Park` means it is queued so that `task.task_ref()` is
    /// used when something is handed over (or the operation may succeed now). `Retry` yields
    /// and tries again.
    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, Self::Parked>;

    /// The task was woken while parked under `parked`: `Done` with what was handed over,
    /// `Park` to keep waiting, `Retry` to try the operation again (after a cancellation check).
    fn woken(self: Pin<&mut Self>, parked: Self::Parked) -> Step<Self::Output, Self::Parked>;

    /// The task is cancelled while parked and nothing was handed over: leave the queue.
    fn abort(
        self: Pin<&mut Self>,
        parked: Self::Parked,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, Self::Parked>;

    /// The call is dropped while parked: leave the queue, passing on anything handed over.
    fn abandon(self: Pin<&mut Self>, parked: Self::Parked);

    /// The call is dropped after the operation finished but before the outcome was returned
    /// (during the yield): put a taken value back. The default drops it.
    fn unreturned(self: Pin<&mut Self>, outcome: Self::Output) {
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

pin_project_lite::pin_project! {
    /// The future of one [`Wait`].
    pub(crate) struct WaitCall<W: Wait> {
        #[pin]
        op: W,
        state: State<W>,
    }

    impl<W: Wait> PinnedDrop for WaitCall<W> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            match std::mem::replace(this.state, State::Done) {
                State::Parked(p) | State::Stays(p) => this.op.abandon(p),
                State::Yielded(out) => this.op.unreturned(out),
                State::Start | State::Done => {}
            }
        }
    }
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
    pub(crate) fn step(self: Pin<&mut Self>, task: CurrentTask) -> Poll<W::Output> {
        let this = self.project();
        let mut op = this.op;
        let state = this.state;
        loop {
            match std::mem::replace(state, State::Done) {
                State::Start => {
                    if op.cancellable()
                        && let Some(c) = task.cancelled()
                    {
                        return Poll::Ready(op.as_mut().cancelled(c));
                    }
                    match op.as_mut().attempt(task) {
                        Step::Done(out) => {
                            *state = State::Yielded(out);
                            task.yield_now();
                            return Poll::Pending;
                        }
                        Step::Park(p) => return park(&op, state, task, p),
                        Step::Retry => {
                            task.yield_now();
                            *state = State::Start;
                            return Poll::Pending;
                        }
                    }
                }
                State::Yielded(out) => return Poll::Ready(out),
                State::Parked(p) => match op.as_mut().woken(p) {
                    Step::Done(out) => return Poll::Ready(out),
                    Step::Park(p) => {
                        if op.cancellable()
                            && let Some(c) = task.cancelled()
                        {
                            match op.as_mut().abort(p, c) {
                                Aborted::Left(out) => return Poll::Ready(out),
                                Aborted::Stays(p) => {
                                    *state = State::Stays(p);
                                    task.note_waiting(op.waiting());
                                    return Poll::Pending;
                                }
                            }
                        }
                        return park(&op, state, task, p);
                    }
                    Step::Retry => {
                        if op.cancellable()
                            && let Some(c) = task.cancelled()
                        {
                            return Poll::Ready(op.as_mut().cancelled(c));
                        }
                        match op.as_mut().attempt(task) {
                            // Parking was this call's schedule point.
                            Step::Done(out) => return Poll::Ready(out),
                            Step::Park(p) => return park(&op, state, task, p),
                            Step::Retry => {
                                task.yield_now();
                                *state = State::Start;
                                return Poll::Pending;
                            }
                        }
                    }
                },
                State::Stays(p) => match op.as_mut().woken(p) {
                    Step::Done(out) => return Poll::Ready(out),
                    Step::Park(p) => {
                        *state = State::Stays(p);
                        task.note_waiting(op.waiting());
                        return Poll::Pending;
                    }
                    Step::Retry => {
                        *state = State::Start;
                        continue;
                    }
                },
                State::Done => panic!("a scoro call was polled after it finished"),
            }
        }
    }
}

/// Parks the task under `p`, where cancellation reaches it if the operation is cancellable.
fn park<W: Wait>(
    op: &Pin<&mut W>,
    state: &mut State<W>,
    task: CurrentTask,
    p: W::Parked,
) -> Poll<W::Output> {
    *state = State::Parked(p);
    let waiting = op.waiting();
    if op.cancellable() {
        task.park(waiting);
    } else {
        task.note_waiting(waiting);
    }
    Poll::Pending
}

impl<W: Wait> Future for WaitCall<W> {
    type Output = W::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<W::Output> {
        let task = CurrentTask::of(cx);
        self.step(task)
    }
}
