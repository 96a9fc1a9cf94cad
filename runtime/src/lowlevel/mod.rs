//! Low-level building blocks: the primitives everything else in scoro is made of.
//!
//! - [`suspend`] blocks the current task until something calls [`Wakeup::wake`], with an
//!   `abort` callback that says whether a cancellation can interrupt the wait;
//! - [`ParkingLot`] is a FIFO of parked tasks, the basis of locks and conditions;
//! - [`RuntimeHandle`] lets other threads run code on the runtime;
//! - [`wait_readable`] and [`wait_writable`] wait for any file descriptor;
//! - [`current_task`] describes the running task.
//!
//! Invariants: a suspended task is linked into its cancel status; when that status becomes
//! cancelled the task is woken and, on its next poll, calls `abort` at most once per wait.
//! `wake` and `cancel` may come from any thread; the first resumption wins and later ones
//! return `false`.

mod io_wait;

use crate::CoroutineCall;
use crate::cancellation::{CancelReason, CancelRequested};
use crate::coroutine::TaskName;
use crate::runtime::seam::{
    self, CurrentTask, Injected, Remote as Shared, RemoteUnparker, TaskRef,
};
use crate::wait::{Aborted, EntryState, Step, Wait, WaitCall, WaitKey, WaitList};
use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

pub use io_wait::{wait_readable, wait_writable};

/// What an `abort` callback of [`suspend`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abort {
    /// The operation was unregistered: nothing will wake the task any more. The task resumes
    /// at once with `Err(CancelRequested)`.
    Succeeded,
    /// The operation still owns the wakeup and will call [`Wakeup::wake`] (it completed after
    /// all) or [`Wakeup::cancel`] (it was aborted asynchronously) later.
    Failed,
}

enum WakeState<T> {
    Waiting,
    Woken(T),
    Cancelled,
    Done,
}

struct WakeupInner<T> {
    state: Mutex<WakeState<T>>,
    task: RemoteUnparker,
}

impl<T> WakeupInner<T> {
    fn lock(&self) -> MutexGuard<'_, WakeState<T>> {
        crate::poison::lock(&self.state)
    }
}

/// The handle that resumes a task blocked in [`suspend`]. Clones resume the same wait; the
/// first `wake` or `cancel` wins. It may be used from any thread (it is `Send + Sync` when
/// `T: Send`).
pub struct Wakeup<T> {
    inner: Arc<WakeupInner<T>>,
}

impl<T> Clone for Wakeup<T> {
    fn clone(&self) -> Self {
        Wakeup {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Wakeup<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match *self.inner.lock() {
            WakeState::Waiting => "waiting",
            WakeState::Woken(_) => "woken",
            WakeState::Cancelled => "cancelled",
            WakeState::Done => "done",
        };
        f.debug_struct("Wakeup").field("state", &state).finish()
    }
}

impl<T> Wakeup<T> {
    /// Resumes the task with `Ok(value)`. Returns `false` (and drops `value`) if the wait was
    /// already resumed or aborted.
    pub fn wake(&self, value: T) -> bool {
        {
            let mut s = self.inner.lock();
            if !matches!(*s, WakeState::Waiting) {
                return false;
            }
            *s = WakeState::Woken(value);
        }
        self.inner.task.unpark();
        true
    }

    /// Resumes the task with `Err(CancelRequested)`: the way to finish an asynchronous abort
    /// (after `abort` returned [`Abort::Failed`]). Returns `false` if the wait was already
    /// resumed or aborted.
    pub fn cancel(&self) -> bool {
        {
            let mut s = self.inner.lock();
            if !matches!(*s, WakeState::Waiting) {
                return false;
            }
            *s = WakeState::Cancelled;
        }
        self.inner.task.unpark();
        true
    }
}

/// Blocks the current task until its [`Wakeup`] is used, or until it is cancelled.
///
/// `setup` is called once, with the handle that resumes this wait: it registers the operation
/// (and may even wake at once). If the task is cancelled while blocked, `abort` is called at
/// most once: return [`Abort::Succeeded`] if the operation was unregistered (the task resumes
/// with `Err(CancelRequested)`, and later `wake`s return `false`), or [`Abort::Failed`] if the
/// operation still owns the wakeup and will call `wake` or `cancel` itself.
///
/// If the task is already cancelled, `suspend` returns `Err` at once without calling `setup`.
///
/// ```
/// use scoro::lowlevel::{suspend, Abort};
///
/// #[scoro::structured]
/// async fn answer_from_a_thread() -> Result<u32, scoro::CancelRequested> {
///     suspend(
///         |wakeup| {
///             std::thread::spawn(move || {
///                 wakeup.wake(42);
///             });
///         },
///         || Abort::Failed,
///     )
///     .await
/// }
///
/// assert_eq!(scoro::run(answer_from_a_thread()), Ok(42));
/// ```
pub fn suspend<T, S, A>(
    setup: S,
    abort: A,
) -> CoroutineCall<impl Future<Output = Result<T, CancelRequested>>>
where
    S: FnOnce(Wakeup<T>),
    A: FnOnce() -> Abort,
{
    CoroutineCall::internal(
        WaitCall::new(Suspend {
            setup: Some(setup),
            abort: Some(abort),
            inner: None,
            cancel: None,
        }),
        "scoro::lowlevel",
        "suspend",
    )
}

struct Suspend<T, S, A> {
    setup: Option<S>,
    abort: Option<A>,
    inner: Option<Arc<WakeupInner<T>>>,
    /// The cancellation that aborted the wait, for a `Wakeup::cancel` that finishes the abort.
    cancel: Option<CancelRequested>,
}

impl<T, S, A> Suspend<T, S, A> {
    /// Takes a result the wakeup left, if any.
    fn take(&mut self) -> Option<Result<T, CancelRequested>> {
        let inner = self.inner.as_ref()?;
        let mut s = inner.lock();
        match std::mem::replace(&mut *s, WakeState::Done) {
            WakeState::Woken(v) => Some(Ok(v)),
            WakeState::Cancelled => Some(Err(self
                .cancel
                .unwrap_or(CancelRequested::new(CancelReason::Explicit)))),
            WakeState::Waiting => {
                *s = WakeState::Waiting;
                None
            }
            WakeState::Done => None,
        }
    }
}

// The callbacks are only moved out and called, never pinned.
impl<T, S, A> Unpin for Suspend<T, S, A> {}

impl<T, S, A> Wait for Suspend<T, S, A>
where
    S: FnOnce(Wakeup<T>),
    A: FnOnce() -> Abort,
{
    type Output = Result<T, CancelRequested>;
    type Parked = ();

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(mut self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, ()> {
        let setup = self.setup.take().expect("`suspend` sets up its wait once");
        let inner = Arc::new(WakeupInner {
            state: Mutex::new(WakeState::Waiting),
            task: task.task_ref().remote(),
        });
        self.inner = Some(inner.clone());
        setup(Wakeup { inner });
        // `setup` may have resumed the wait at once.
        match self.take() {
            Some(r) => Step::Done(r),
            None => Step::Park(()),
        }
    }

    fn woken(mut self: Pin<&mut Self>, (): ()) -> Step<Self::Output, ()> {
        match self.take() {
            Some(r) => Step::Done(r),
            None => Step::Park(()),
        }
    }

    fn abort(
        mut self: Pin<&mut Self>,
        (): (),
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, ()> {
        self.cancel = Some(cancel);
        let abort = self.abort.take().expect("a wait is aborted at most once");
        let outcome = abort();
        // A wake that raced with the abort still delivers its value.
        if let Some(r) = self.take() {
            return Aborted::Left(r);
        }
        match outcome {
            Abort::Succeeded => {
                if let Some(inner) = &self.inner {
                    *inner.lock() = WakeState::Done;
                }
                Aborted::Left(Err(cancel))
            }
            // Only `wake` or `cancel` can end the wait now.
            Abort::Failed => Aborted::Stays(()),
        }
    }

    fn abandon(self: Pin<&mut Self>, (): ()) {}
}

impl<T, S, A> Drop for Suspend<T, S, A> {
    fn drop(&mut self) {
        if let Some(inner) = &self.inner {
            *inner.lock() = WakeState::Done;
        }
    }
}

/// A FIFO queue of parked tasks: the basis of locks, conditions and other fair primitives.
///
/// [`park`](ParkingLot::park) blocks the calling task until [`unpark`](ParkingLot::unpark)
/// picks it; tasks are unparked in the order they parked. Used by reference (`&ParkingLot`),
/// so tasks of one runtime share it without `Arc`.
///
/// ```
/// use scoro::{structured, nursery, lowlevel::ParkingLot, CancelRequested};
///
/// #[structured]
/// async fn main_task() -> Result<usize, scoro::ErrorGroup<CancelRequested>> {
///     let lot = ParkingLot::new();
///     nursery(async |n| -> Result<usize, CancelRequested> {
///         n.start_soon(lot.park());
///         n.start_soon(lot.park());
///         scoro::testing::wait_all_tasks_blocked().await?;
///         let parked = lot.len();
///         assert_eq!(lot.unpark_all(), 2);
///         Ok(parked)
///     })
///     .await
/// }
///
/// assert_eq!(scoro::run(main_task()).unwrap(), 2);
/// ```
#[derive(Default)]
pub struct ParkingLot {
    waiters: RefCell<WaitList<()>>,
}

impl fmt::Debug for ParkingLot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkingLot")
            .field("parked", &self.len())
            .finish()
    }
}

impl ParkingLot {
    /// An empty parking lot.
    pub fn new() -> Self {
        ParkingLot::default()
    }

    /// Parks the current task until it is unparked. A checkpoint: returns
    /// `Err(CancelRequested)` if the task is cancelled before or while parked (it then leaves
    /// the queue).
    pub fn park(&self) -> CoroutineCall<impl Future<Output = Result<(), CancelRequested>> + '_> {
        CoroutineCall::internal(
            WaitCall::new(Park { lot: self }),
            "scoro::lowlevel",
            "ParkingLot::park",
        )
    }

    /// Unparks the `n` tasks that have been parked longest; returns how many there were.
    pub fn unpark(&self, n: usize) -> usize {
        let mut woken = 0;
        while woken < n {
            let t = self.waiters.borrow_mut().notify_front(|_| {});
            match t {
                Some(t) => {
                    t.unpark();
                    woken += 1;
                }
                None => break,
            }
        }
        woken
    }

    /// Unparks every parked task; returns how many there were.
    pub fn unpark_all(&self) -> usize {
        self.unpark(usize::MAX)
    }

    /// How many tasks are parked.
    pub fn len(&self) -> usize {
        self.waiters.borrow().len()
    }

    /// Is no task parked?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A [`ParkingLot::park`] call.
struct Park<'a> {
    lot: &'a ParkingLot,
}

impl Wait for Park<'_> {
    type Output = Result<(), CancelRequested>;
    type Parked = WaitKey;

    fn cancelled(self: Pin<&mut Self>, cancel: CancelRequested) -> Self::Output {
        Err(cancel)
    }

    fn attempt(self: Pin<&mut Self>, task: CurrentTask) -> Step<Self::Output, WaitKey> {
        Step::Park(
            self.lot
                .waiters
                .borrow_mut()
                .push_back(task.task_ref(), None),
        )
    }

    fn woken(self: Pin<&mut Self>, key: WaitKey) -> Step<Self::Output, WaitKey> {
        if self.lot.waiters.borrow().state(key) == Some(EntryState::Waiting) {
            return Step::Park(key);
        }
        self.lot.waiters.borrow_mut().remove(key);
        Step::Done(Ok(()))
    }

    fn abort(
        self: Pin<&mut Self>,
        key: WaitKey,
        cancel: CancelRequested,
    ) -> Aborted<Self::Output, WaitKey> {
        self.lot.waiters.borrow_mut().remove(key);
        Aborted::Left(Err(cancel))
    }

    fn abandon(self: Pin<&mut Self>, key: WaitKey) {
        self.lot.waiters.borrow_mut().remove(key);
    }
}

/// The run a [`RuntimeHandle`] refers to has finished.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunFinished;

impl fmt::Display for RunFinished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the scoro run this handle belongs to has finished")
    }
}

impl Error for RunFinished {}

/// A handle to a running runtime that other threads can use. `Clone + Send + Sync`.
#[derive(Clone)]
pub struct RuntimeHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for RuntimeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeHandle")
            .field("finished", &self.shared.is_closed())
            .finish()
    }
}

impl RuntimeHandle {
    /// The handle of the runtime running on this thread.
    ///
    /// # Panics
    /// Outside a running scoro runtime.
    pub fn current() -> RuntimeHandle {
        RuntimeHandle {
            shared: seam::remote(),
        }
    }

    /// Runs `f` on the runtime's thread soon, outside any task (it must not block). Fails,
    /// giving nothing back, once the run has finished; `f` is then dropped without running.
    ///
    /// A panic in `f` is a bug with no task to report it to: the runtime cancels every task
    /// (reason [`Shutdown`](crate::CancelReason::Shutdown)), lets them clean up, and `run`
    /// resumes the panic when they are done.
    pub fn run_sync_soon(&self, f: impl FnOnce() + Send + 'static) -> Result<(), RunFinished> {
        self.shared
            .push(Injected::Call(Box::new(f)))
            .map_err(|_| RunFinished)
    }

    /// Has the run finished?
    pub fn is_finished(&self) -> bool {
        self.shared.is_closed()
    }

    /// The runtime's thread-safe part (for `from_thread`).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// Identifies a task while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskId(u64);

impl TaskId {
    fn of(t: TaskRef) -> TaskId {
        TaskId(t.id())
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 & 0xffff_ffff, self.0 >> 32)
    }
}

/// What [`current_task`] reports.
#[derive(Clone, Debug)]
pub struct TaskInfo {
    id: TaskId,
    name: TaskName,
    parent: Option<TaskId>,
}

impl TaskInfo {
    /// The task's id, unique among the tasks alive in this run.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The path of the `#[structured]` function the task runs (for the main task, the function
    /// passed to `run`).
    pub fn name(&self) -> String {
        self.name.to_string()
    }

    /// The task that runs the nursery this task belongs to (`None` for the main task).
    pub fn parent(&self) -> Option<TaskId> {
        self.parent
    }
}

/// Describes the task that is running.
///
/// # Panics
/// Outside a task of a running scoro runtime.
pub fn current_task() -> TaskInfo {
    let Some(task) = CurrentTask::running() else {
        panic!("`current_task` must be called from a scoro task");
    };
    TaskInfo {
        id: TaskId::of(task.task_ref()),
        name: task.name(),
        parent: task.parent().map(TaskId::of),
    }
}
