// Invariants (for maintainers):
// - [`run_sync`] may borrow from its caller. Its closure is sent to a worker with the
//   lifetime erased (in `erase_job`, the only `unsafe` of this module). That is sound because
//   the call's future neither finishes nor is dropped before the worker is done with the
//   closure: it completes only after the worker published the result, and its destructor
//   blocks until then. The job runs in two steps: the first (which owns the closure and with
//   it every borrow) runs the function, stores the result unpublished and *returns*; only then
//   does the worker publish the result, from a second step that holds nothing borrowed. So no
//   frame that received a borrow is still running when the caller may free what it borrows
//   (references passed to a function must stay valid until it returns, even after their last
//   use: miri's protectors check exactly that). The destructor is sure to run before the borrowed data
//   goes away because the call checks, before it starts the worker and on every poll, that it
//   lies inside the task running it (the placement half of the no-leak argument, see
//   `runtime::task`): a call boxed and forgotten, or pinned anywhere else, panics instead.
//! Running blocking functions on worker threads: [`run_sync`] and [`run_sync_abandon`].
//!
//! A task must never block its runtime's thread. A function that blocks (file I/O, a
//! blocking library call, a long computation) runs on a worker thread instead, while the
//! task waits for it like for any other operation.
//!
//! Guarantees:
//! - [`run_sync`] may borrow from its caller: the call does not return (and its task cannot
//!   drop it) before the worker is done with the function and everything it borrowed.
//! - Cancellation of `run_sync` is not delivered while the function runs: the call waits, and
//!   returns the function's value (the next checkpoint sees the cancellation). Cancellation of
//!   `run_sync_abandon` returns at once; the function finishes alone and its value is dropped.
//! - Each runtime bounds the workers its calls occupy with a FIFO limiter of 40 tokens,
//!   taken before a worker starts and given back (to the longest waiter first) on the runtime
//!   thread when the function has returned, also for abandoned calls.
//! - Workers are reused: a process-wide cache keeps idle threads for 10 s.
//! - A panic in the function resumes in the waiting task (and is dropped for an abandoned
//!   call).
//! - While a function started by a runtime runs on a worker, that runtime is not idle: from
//!   the moment the job is handed to a worker until the runtime's thread has learned that the
//!   function returned (when the job's token goes back to the limiter). Under a mock clock
//!   with autojump the clock does not jump meanwhile; the runtime waits for the worker's
//!   completion instead. Real time passes, mock time does not, and a timeout around the call
//!   never fires because of the time the function takes (only if something else moves the
//!   clock, such as [`MockClock::jump`]). [`wait_all_tasks_blocked`] does not return meanwhile
//!   either. An abandoned [`run_sync_abandon`] call holds the runtime back in the same way
//!   until its function returns, since its worker still counts against the limiter and may
//!   still call back with [`from_thread`](crate::from_thread). (Trio counts a task waiting for
//!   a thread as blocked, and jumps; scoro does not, so that a test's outcome does not depend
//!   on how fast a worker runs.) A function that waits for something a task does only after a
//!   mock-clock deadline therefore waits forever under autojump.
//!
//! [`MockClock::jump`]: crate::testing::MockClock::jump
//! [`wait_all_tasks_blocked`]: crate::testing::wait_all_tasks_blocked

use super::link::{CurrentJob, JobLink};
use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::poison::{self, lock};
use crate::runtime::seam::spawn::check_placement;
use crate::runtime::seam::{self, CurrentTask, Injected, TaskRef, Waiting};
use crate::sync::{CapacityLimiter, Resource};
use crate::wait::{Aborted, Step, Wait, WaitCall};
use std::future::Future;
use std::marker::{PhantomData, PhantomPinned};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

/// How many worker threads the calls of one runtime may occupy at once.
const DEFAULT_LIMIT: usize = 40;

/// How long an idle worker waits for another job before it exits.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the blocking function `f` on a worker thread and returns its value.
///
/// `f` may borrow from the caller: the call cannot go away while the thread runs (a started
/// scoro call always runs to completion), so the borrow lasts long enough. This is the
/// "parallel borrowing" that futures which can be forgotten cannot offer.
///
/// A checkpoint on entry: if the task is already cancelled, `f` does not run and the result
/// is `Err(CancelRequested)`. Once `f` runs, cancellation waits for it: the call returns
/// `Ok` with `f`'s value, and the next checkpoint reports the cancellation. Use
/// [`run_sync_abandon`] for functions that may take too long to wait for.
///
/// At most 40 functions of one runtime run at once; more calls wait in line (FIFO). A panic
/// in `f` resumes in the calling task. Under a mock clock with autojump the clock does not
/// jump while `f` runs (see the [module docs](self)).
///
/// ```
/// use scoro::to_thread;
///
/// #[scoro::structured]
/// async fn main_task() -> Result<usize, scoro::CancelRequested> {
///     let words = vec!["borrowed", "by", "a", "worker", "thread"];
///     // The closure borrows `words`; no `Arc`, no clone.
///     let letters = to_thread::run_sync(|| words.iter().map(|w| w.len()).sum()).await?;
///     Ok(letters)
/// }
///
/// assert_eq!(scoro::run(main_task()), Ok(23));
/// ```
pub fn run_sync<'a, T, F>(
    f: F,
) -> CoroutineCall<impl Future<Output = Result<T, CancelRequested>> + 'a>
where
    T: Send + 'a,
    F: FnOnce() -> T + Send + 'a,
{
    CoroutineCall::internal(run(f, false), "scoro::to_thread", "run_sync")
}

/// Runs the blocking function `f` on a worker thread and returns its value, or returns
/// `Err(CancelRequested)` as soon as the task is cancelled, leaving `f` to finish alone.
///
/// Because the call may return while `f` still runs, `f` cannot borrow: it must be
/// `'static`. Its value (or panic) is dropped on the worker thread if nobody waits for it any
/// more. The worker counts against the runtime's limit of 40 until `f` returns, and until
/// then a mock clock with autojump does not jump (see the [module docs](self)).
///
/// ```
/// use std::time::Duration;
/// use scoro::to_thread;
///
/// #[scoro::structured]
/// async fn main_task() -> bool {
///     let slow = to_thread::run_sync_abandon(|| std::thread::sleep(Duration::from_secs(2)));
///     // The timeout does not wait for the sleeping thread.
///     scoro::move_on_after(Duration::from_millis(10), slow).await.is_none()
/// }
///
/// assert!(scoro::run(main_task()));
/// ```
pub fn run_sync_abandon<T, F>(
    f: F,
) -> CoroutineCall<impl Future<Output = Result<T, CancelRequested>>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    CoroutineCall::internal(run(f, true), "scoro::to_thread", "run_sync_abandon")
}

/// Both calls: a checkpoint on entry, a token of the runtime's limiter, then the worker.
async fn run<F, T>(f: F, abandon: bool) -> Result<T, CancelRequested>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    crate::checkpoint_if_cancelled().inline().await?;
    let limiter = seam::runtime_local::<ThreadLimiter>();
    // The token belongs to the job: the runtime gives it back when the function has returned
    // (`finished_on_runtime`), even if this call is gone by then.
    if abandon {
        limiter
            .0
            .acquire_as::<{ Waiting::RunSyncAbandon as u8 }>()
            .await?;
    } else {
        limiter.0.acquire_as::<{ Waiting::RunSync as u8 }>().await?;
    }
    RunSync {
        call: WaitCall::new(RunJob {
            f: Some(f),
            abandon,
            _outcome: PhantomData,
        }),
        _pinned: PhantomPinned,
    }
    .await
}

/// What a task waiting in one of the calls waits in, for the task tree.
fn run_waiting(abandon: bool) -> Waiting {
    if abandon {
        Waiting::RunSyncAbandon
    } else {
        Waiting::RunSync
    }
}

// ----- the per-runtime limiter ------------------------------------------------------------

/// The worker tokens of one runtime (a `seam::runtime_local`): a [`CapacityLimiter`] of 40, FIFO.
pub(crate) struct ThreadLimiter(CapacityLimiter);

impl Default for ThreadLimiter {
    fn default() -> Self {
        ThreadLimiter(CapacityLimiter::new(DEFAULT_LIMIT))
    }
}

impl ThreadLimiter {
    /// Gives back the token of a job that has finished (or never started).
    fn release(&self) {
        self.0.give_back();
    }
}

// ----- the worker pool --------------------------------------------------------------------

/// The second step of a job: publishes its result. Holds nothing borrowed.
type Publish<'a> = Box<dyn FnOnce() + Send + 'a>;

/// A job's first step: runs the function and stores its result, unpublished.
type JobFn<'a> = Box<dyn FnOnce() -> Publish<'a> + Send + 'a>;

type Job = JobFn<'static>;

/// An idle worker's mailbox.
struct Worker {
    job: Mutex<Option<Job>>,
    wake: Condvar,
}

/// Worker threads alive (busy or idle).
static WORKERS: AtomicUsize = AtomicUsize::new(0);

/// How many worker threads are running a job, and how many are idle (process-wide).
pub(crate) fn worker_threads() -> (usize, usize) {
    let idle = lock(&IDLE).len();
    (WORKERS.load(Ordering::Relaxed).saturating_sub(idle), idle)
}

/// Idle workers, most recently idle last. Lock order: `IDLE` before a worker's `job`, and
/// `submit` never holds both.
static IDLE: Mutex<Vec<Arc<Worker>>> = Mutex::new(Vec::new());

/// Runs `job` on an idle worker, or on a new one.
fn submit(job: Job) -> std::io::Result<()> {
    let idle = lock(&IDLE).pop();
    match idle {
        Some(w) => {
            *lock(&w.job) = Some(job);
            w.wake.notify_one();
            Ok(())
        }
        None => {
            let w = Arc::new(Worker {
                job: Mutex::new(None),
                wake: Condvar::new(),
            });
            WORKERS.fetch_add(1, Ordering::Relaxed);
            thread::Builder::new()
                .name("scoro-worker".into())
                .spawn(move || {
                    worker_loop(w, job);
                    WORKERS.fetch_sub(1, Ordering::Relaxed);
                })
                .map(drop)
                .inspect_err(|_| {
                    WORKERS.fetch_sub(1, Ordering::Relaxed);
                })
        }
    }
}

fn worker_loop(me: Arc<Worker>, first: Job) {
    let mut job = first;
    loop {
        // Jobs catch their own panics; this is a second line of defence for the thread.
        // The first step returns before the second runs (see the module invariants).
        if let Ok(publish) = panic::catch_unwind(AssertUnwindSafe(job)) {
            let _ = panic::catch_unwind(AssertUnwindSafe(publish));
        }
        lock(&IDLE).push(me.clone());
        let mut slot = lock(&me.job);
        let mut retiring = true;
        job = loop {
            if let Some(j) = slot.take() {
                break j;
            }
            if retiring {
                let (s, timed_out) = poison::wait_timeout(&me.wake, slot, IDLE_TIMEOUT);
                slot = s;
                if timed_out && slot.is_none() {
                    let mut idle = lock(&IDLE);
                    if let Some(i) = idle.iter().position(|w| Arc::ptr_eq(w, &me)) {
                        idle.remove(i);
                        return;
                    }
                    // A submitter took us off the list: its job is on the way.
                    retiring = false;
                }
            } else {
                slot = poison::wait(&me.wake, slot);
            }
        };
    }
}

/// Erases the lifetime of a job so that a worker thread can run it.
///
/// # Safety
/// The caller must make sure that nothing the job borrows for `'a` goes away before the job
/// has finished using it: before its first step has returned and its second step has
/// published the result. `RunSync` guarantees this: it stays alive (never leaked, see
/// `runtime::task`) until the result is published, and its destructor blocks until then.
unsafe fn erase_job<'a>(job: JobFn<'a>) -> Job {
    // SAFETY: only lifetime bounds of the trait objects change (the job's and its result's);
    // the fat pointers' layouts are identical. The caller upholds that the borrows outlive the
    // job's use of them.
    unsafe { std::mem::transmute::<JobFn<'a>, Job>(job) }
}

// ----- the call ----------------------------------------------------------------------------

enum Outcome<T> {
    Running,
    /// Stored by the job's first step, not visible to the call until published.
    Stored(thread::Result<T>),
    Finished(thread::Result<T>),
    Taken,
}

/// Where the worker leaves the function's outcome.
struct Completion<T> {
    outcome: Mutex<Outcome<T>>,
    finished: Condvar,
    /// The waiting task gave up (abandoned call): do not wake it.
    abandoned: AtomicBool,
    /// The job's limiter token was given back (by whichever of the call and
    /// `finished_on_runtime` sees the outcome first, on the runtime thread).
    released: Arc<AtomicBool>,
    link: Arc<JobLink>,
    /// The task waiting for the job.
    task: TaskRef,
}

impl<T> Completion<T> {
    /// Stores the outcome, unpublished. The last thing a job's first step does.
    fn store(&self, outcome: thread::Result<T>) {
        *lock(&self.outcome) = Outcome::Stored(outcome);
    }

    /// Makes the stored outcome visible to the call and wakes a destructor waiting for it.
    fn publish(&self) {
        let mut o = lock(&self.outcome);
        *o = match std::mem::replace(&mut *o, Outcome::Taken) {
            Outcome::Stored(r) => Outcome::Finished(r),
            other => other,
        };
        drop(o);
        self.finished.notify_all();
    }

    fn take(&self) -> Option<thread::Result<T>> {
        let mut o = lock(&self.outcome);
        match std::mem::replace(&mut *o, Outcome::Taken) {
            Outcome::Finished(r) => Some(r),
            other => {
                *o = other;
                None
            }
        }
    }

    /// Blocks until the job has finished, and drops the outcome here.
    fn wait(&self) {
        let mut o = lock(&self.outcome);
        while matches!(*o, Outcome::Running | Outcome::Stored(_)) {
            o = poison::wait(&self.finished, o);
        }
        let outcome = std::mem::replace(&mut *o, Outcome::Taken);
        drop(o);
        drop(outcome);
    }
}

pin_project_lite::pin_project! {
    /// Runs the function on a worker and waits for it (the caller holds a limiter token): the
    /// [`Wait`] `RunJob`, behind a placement check.
    ///
    /// `!Unpin`: it checks its placement before it erases the function's lifetime (see
    /// `runtime::task`), so it must not move afterwards.
    struct RunSync<F, T>
    where
        F: FnOnce() -> T,
        F: Send,
        T: Send,
    {
        #[pin]
        call: WaitCall<RunJob<F, T>>,
        #[pin]
        _pinned: PhantomPinned,
    }
}

impl<F, T> Future for RunSync<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    type Output = Result<T, CancelRequested>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The placement half of the no-leak argument, before the function's lifetime is
        // erased and on every later poll (see `runtime::task`).
        check_placement(
            std::ptr::from_ref(this.call.as_ref().get_ref()).addr(),
            "to_thread::run_sync",
        );
        this.call.poll(cx)
    }
}

/// The wait of a worker-thread call: starts the job, then waits for its outcome; cancellable
/// only once the job runs and only when the call may abandon it.
struct RunJob<F, T> {
    /// The function, until it is handed to a worker.
    f: Option<F>,
    abandon: bool,
    _outcome: PhantomData<fn() -> T>,
}

// The function is only moved out, never pinned.
impl<F, T> Unpin for RunJob<F, T> {}

impl<F, T> Drop for RunJob<F, T> {
    fn drop(&mut self) {
        if self.f.is_some() {
            // Dropped holding a token it never used.
            if let Some(limiter) = seam::try_runtime_local::<ThreadLimiter>() {
                limiter.release();
            }
        }
    }
}

impl<F, T> Wait for RunJob<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    type Output = Result<T, CancelRequested>;
    type Parked = Arc<Completion<T>>;

    fn waiting(&self) -> Waiting {
        run_waiting(self.abandon)
    }

    fn cancellable(&self) -> bool {
        // Not before the job starts: `run` checked on entry, and a token handed to a waiting
        // call is used even if it was cancelled since. Without `abandon`, only the worker's
        // completion wakes the task: cancellation waits for the function.
        self.abandon && self.f.is_none()
    }

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(mut self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, Self::Parked> {
        let f = self
            .f
            .take()
            .expect("a worker-thread call starts its job once");
        Step::Park(start(f, task))
    }

    fn woken(self: Pin<&mut Self>, completion: Self::Parked) -> Step<Self::Output, Self::Parked> {
        let Some(outcome) = completion.take() else {
            return Step::Park(completion);
        };
        // The worker may have finished before the runtime ran its `finished_on_runtime`: the
        // token is given back before the call returns either way.
        give_back(&completion.released, completion.task);
        match outcome {
            Ok(v) => Step::Done(Ok(v)),
            Err(p) => panic::resume_unwind(p),
        }
    }

    fn abort(
        self: Pin<&mut Self>,
        completion: Self::Parked,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, Self::Parked> {
        completion.abandoned.store(true, Ordering::Release);
        Aborted::Left(Err(cancel))
    }

    fn abandon(self: Pin<&mut Self>, completion: Self::Parked) {
        if self.abandon {
            completion.abandoned.store(true, Ordering::Release);
        } else {
            // Only a teardown gets here (the call's state lies in a task, which the runtime
            // drops instead of forgetting): the function borrows from the caller, so wait
            // for it.
            completion.link.tear_down();
            completion.wait();
        }
    }
}

/// Hands `f` to a worker (the caller holds a limiter token for it).
fn start<F, T>(f: F, task: CurrentTask) -> Arc<Completion<T>>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let shared = seam::remote();
    let link = Arc::new(JobLink::new(&shared));
    let released = Arc::new(AtomicBool::new(false));
    let me = task.task_ref();
    let completion = Arc::new(Completion {
        outcome: Mutex::new(Outcome::Running),
        finished: Condvar::new(),
        abandoned: AtomicBool::new(false),
        released: released.clone(),
        link: link.clone(),
        task: me,
    });
    let for_job = completion.clone();
    let job = move || -> Publish<'_> {
        let current = CurrentJob::enter(link);
        let outcome = panic::catch_unwind(AssertUnwindSafe(f));
        drop(current);
        for_job.store(outcome);
        // Returned, and run by the worker once this frame (which owned `f`) is gone.
        Box::new(move || {
            let abandoned = for_job.abandoned.load(Ordering::Acquire);
            for_job.publish();
            drop(for_job);
            // Nothing borrowed is touched from here on.
            let _ = shared.push(Injected::Call(Box::new(move || {
                finished_on_runtime(me, abandoned, &released);
            })));
        })
    };
    let boxed: JobFn<'_> = Box::new(job);
    // SAFETY: the returned `Completion` is kept by a `RunSync` future (as the registration its
    // `RunJob` wait is parked under) until the job's second step has published the outcome:
    // the call completes only after `take` found it published, and a call dropped while
    // parked hands it to `RunJob::abandon`, which calls `wait` (for an abandoned call, `F` and
    // `T` are `'static` anyway). The future passed the placement check just before this call, so it
    // lies pinned in a task and is dropped, never forgotten, before `'a` ends (see
    // `runtime::task`). The first step, which owns `f` and its borrows, has returned before
    // the second publishes; the second only touches the completion behind its lock, drops its
    // `Arc` of it (the last one only if the future already took the outcome, so no `T` is
    // dropped there) and `'static` data. See the module invariants.
    let job = unsafe { erase_job(boxed) };
    if let Err(e) = submit(job) {
        // The job was dropped unrun by the failed spawn; give the token back.
        seam::runtime_local::<ThreadLimiter>().release();
        panic!("scoro::to_thread: could not start a worker thread: {e}");
    }
    // Counted until `give_back`. That runs on this thread, after this poll at the earliest,
    // so counting only now that the worker has the job misses nothing.
    seam::outside_work_started(Some(me));
    completion
}

/// Gives a finished job's token back and ends its count as outside work (which holds back
/// the mock clock's autojump and `wait_all_tasks_blocked`), once.
fn give_back(released: &AtomicBool, task: TaskRef) {
    if !released.swap(true, Ordering::AcqRel) {
        seam::runtime_local::<ThreadLimiter>().release();
        seam::outside_work_finished(Some(task));
    }
}

/// Runs on the runtime thread when a job has finished: returns its token and wakes its task.
fn finished_on_runtime(task: TaskRef, abandoned: bool, released: &AtomicBool) {
    give_back(released, task);
    if !abandoned {
        task.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::Boxed;
    use crate::lowlevel::{RunFinished, RuntimeHandle};

    pin_project_lite::pin_project! {
        /// Polls `inner` with the task's own context until `until` is set (or once, without
        /// one), then drops it: a teardown in miniature. The call lies in a box registered by
        /// `Boxed` (as in a `#[structured(boxed)]` function), so its placement check passes.
        /// Returns whether `inner` was still pending.
        struct PollThenDrop<'a, F> {
            #[pin]
            inner: Option<Boxed<F>>,
            until: Option<&'a AtomicBool>,
        }
    }

    impl<F: Future> Future for PollThenDrop<'_, F> {
        type Output = bool;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
            let task = CurrentTask::of(cx);
            let mut this = self.project();
            let inner = this
                .inner
                .as_mut()
                .as_pin_mut()
                .expect("polled after it finished");
            if inner.poll(cx).is_ready() {
                this.inner.set(None);
                return Poll::Ready(false);
            }
            if this.until.is_none_or(|u| u.load(Ordering::SeqCst)) {
                this.inner.set(None);
                return Poll::Ready(true);
            }
            task.yield_now();
            Poll::Pending
        }
    }

    fn boxed<F: Future>(call: CoroutineCall<F>) -> Boxed<F> {
        let (future, name) = call.into_parts();
        crate::__private::boxed(future, name.prefix, name.name)
            .into_parts()
            .0
    }

    fn poll_once_then_drop<F: Future>(call: CoroutineCall<F>) -> PollThenDrop<'static, F> {
        PollThenDrop {
            inner: Some(boxed(call)),
            until: None,
        }
    }

    fn drop_once<F: Future>(call: CoroutineCall<F>, started: &AtomicBool) -> PollThenDrop<'_, F> {
        PollThenDrop {
            inner: Some(boxed(call)),
            until: Some(started),
        }
    }

    #[test]
    fn dropping_a_call_in_flight_waits_for_its_thread() {
        let started = AtomicBool::new(false);
        let finished = AtomicBool::new(false);
        let data = [1, 2, 3];
        let mut rt = crate::Builder::new().build().unwrap();
        let pending = rt.run(CoroutineCall::internal(
            async {
                let call = run_sync(|| {
                    started.store(true, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(50));
                    let sum: i32 = data.iter().sum();
                    finished.store(true, Ordering::SeqCst);
                    sum
                });
                drop_once(call, &started).await
            },
            "test",
            "drop_in_flight",
        ));
        assert!(
            pending,
            "the function was running when the call was dropped"
        );
        assert!(
            finished.load(Ordering::SeqCst),
            "the drop waited for the function"
        );
    }

    #[test]
    fn a_worker_calling_home_during_teardown_gets_run_finished_instead_of_a_deadlock() {
        let started = AtomicBool::new(false);
        let outcome = Mutex::new(None);
        let mut rt = crate::Builder::new().build().unwrap();
        rt.run(CoroutineCall::internal(
            async {
                let handle = RuntimeHandle::current();
                let call = run_sync(|| {
                    started.store(true, Ordering::SeqCst);
                    let r = crate::from_thread::run_sync(&handle, || ());
                    *outcome.lock().unwrap() = Some(r);
                });
                drop_once(call, &started).await
            },
            "test",
            "teardown_from_thread",
        ));
        assert_eq!(*outcome.lock().unwrap(), Some(Err(RunFinished)));
    }

    #[test]
    fn a_call_dropped_while_waiting_for_a_token_leaves_no_trace() {
        let mut rt = crate::Builder::new().build().unwrap();
        rt.run(CoroutineCall::internal(
            async {
                let limiter = seam::runtime_local::<ThreadLimiter>();
                limiter.0.set_total_tokens(1);
                let busy = limiter.0.try_acquire().expect("a free token");
                // Queued behind the busy token, then dropped.
                let pending = poll_once_then_drop(run_sync(|| ())).await;
                assert!(pending);
                assert_eq!(limiter.0.waiting(), 0);
                drop(busy);
                assert_eq!(limiter.0.borrowed(), 0);
                // And the limiter still works.
                assert_eq!(run_sync(|| 5).inline().await, Ok(5));
                assert_eq!(
                    limiter.0.borrowed(),
                    0,
                    "given back before the call returned"
                );
            },
            "test",
            "dropped_waiter",
        ));
    }
}
