// Invariants (for maintainers):
// - The function is queued on the runtime's injection queue with its lifetime erased (the
//   one `unsafe` of this module, in `erase_call`), so it may borrow from the calling
//   thread. The caller does not return before the function has run, or has been taken back
//   by the caller itself under the call's lock; so no borrow ends while the runtime could
//   still use it. The queued job may outlive the caller, but by then it holds no value of
//   the borrowing types, only empty slots.
//! Calling into a runtime from another thread: [`run_sync`].
//!
//! Guarantees:
//! - The function may borrow from the calling thread: [`run_sync`] does not return before the
//!   runtime has run it or given it back.
//! - A queued call that the runtime drops without running (the run ended) reports
//!   `RunFinished`; the caller then drops the function on its own thread.
//! - Calling from the runtime's own thread is a bug (it would wait for itself forever) and
//!   panics. Calling from a worker of `to_thread::run_sync` whose call is being torn down
//!   returns `RunFinished` instead of deadlocking with the runtime, which waits for that
//!   worker.

use super::link::{self, Rendezvous};
use crate::lowlevel::{RunFinished, RuntimeHandle};
use crate::poison::lock;
use crate::runtime::seam::{self, Injected};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::thread;

/// Runs `f` on the thread of the runtime behind `handle`, blocks the calling thread until it
/// has run, and returns its value.
///
/// This is how a worker thread (see [`to_thread`](crate::to_thread::run_sync)) or any other thread
/// reaches back into a run: `f` runs on the runtime's thread, outside any task, so it can
/// use the run's state (read [`current_time`](crate::current_time), resume a task through a
/// [`Wakeup`](crate::lowlevel::Wakeup), touch data that lives on that thread) but must not
/// block.
/// `f` may borrow from the calling thread. A panic in `f` resumes in the caller.
///
/// Returns `Err(RunFinished)` if the run has finished (or finishes before `f` got to run).
///
/// # Panics
/// When called on the runtime's own thread (it would wait for itself forever): a task that
/// wants to run something on its runtime just calls it.
///
/// ```
/// use scoro::{from_thread, lowlevel::RuntimeHandle, to_thread};
///
/// #[scoro::structured]
/// async fn main_task() -> Result<String, scoro::CancelRequested> {
///     let handle = RuntimeHandle::current();
///     to_thread::run_sync(|| {
///         // On a worker thread: ask the runtime's thread for its clock.
///         let now = from_thread::run_sync(&handle, scoro::current_time).unwrap();
///         format!("the runtime's clock says {now:?}")
///     })
///     .await
/// }
///
/// assert!(scoro::run(main_task()).unwrap().starts_with("the runtime's clock says"));
///
/// // Once the run is over, the handle refuses.
/// let handle = scoro::run(async_handle());
/// assert_eq!(from_thread::run_sync(&handle, || 1), Err(scoro::lowlevel::RunFinished));
///
/// #[scoro::structured]
/// async fn async_handle() -> RuntimeHandle {
///     RuntimeHandle::current()
/// }
/// ```
pub fn run_sync<T, F>(handle: &RuntimeHandle, f: F) -> Result<T, RunFinished>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let shared = handle.shared();
    if seam::try_remote().is_some_and(|own| Arc::ptr_eq(&own, shared)) {
        panic!(
            "`scoro::from_thread::run_sync` was called on the runtime's own thread, which would \
             wait for itself forever; call the function directly instead"
        );
    }
    if shared.is_closed() {
        return Err(RunFinished);
    }
    let call = Arc::new(Call {
        state: Mutex::new(CallState {
            f: Some(f),
            outcome: None,
            finished: false,
        }),
        rv: Arc::new(Rendezvous::default()),
    });
    let link = link::current_job();
    let linked = match &link {
        Some(link) => link.enter_call(shared, &call.rv)?,
        None => false,
    };
    let job = CallJob { call: call.clone() };
    let boxed: Box<dyn FnOnce() + Send + '_> = Box::new(move || job.run());
    // SAFETY: this function does not return before the runtime has run `f` or dropped the
    // job, or before it has taken `f` back itself (see `wait_for`), so nothing `f` or `T`
    // borrows ends while the runtime may use it. Afterwards the job only touches empty
    // slots of `call` (module invariants).
    let boxed = unsafe { erase_call(boxed) };
    let result = match shared.push(Injected::Call(boxed)) {
        Ok(()) => wait_for(&call),
        Err(refused) => {
            drop(refused);
            Err(RunFinished)
        }
    };
    if linked && let Some(link) = &link {
        link.leave_call();
    }
    // If the runtime never ran it, `f` is dropped here, on the calling thread.
    let leftover = lock(&call.state).f.take();
    drop(leftover);
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(p)) => panic::resume_unwind(p),
        Err(e) => Err(e),
    }
}

/// Erases the lifetime of a call so that it can travel through the injection queue.
///
/// # Safety
/// The caller must make sure that the runtime is done with everything the call borrows
/// before `'a` ends (see the module invariants).
unsafe fn erase_call<'a>(
    call: Box<dyn FnOnce() + Send + 'a>,
) -> Box<dyn FnOnce() + Send + 'static> {
    // SAFETY: only the lifetime bound of the trait object changes; the layout is identical.
    // The caller guarantees the borrows outlive their use.
    unsafe {
        std::mem::transmute::<Box<dyn FnOnce() + Send + 'a>, Box<dyn FnOnce() + Send + 'static>>(
            call,
        )
    }
}

/// Blocks until the call has run or was dropped; gives up (taking `f` back) when the
/// rendezvous is interrupted before the runtime started `f`.
fn wait_for<F, T>(call: &Call<F, T>) -> Result<thread::Result<T>, RunFinished> {
    call.rv.wait_until(|interrupted| {
        let mut st = lock(&call.state);
        if st.finished {
            return Some(st.outcome.take().ok_or(RunFinished));
        }
        if interrupted && st.f.is_some() {
            // The runtime is waiting for this thread and will not run `f`: take it back.
            let f = st.f.take();
            drop(st);
            drop(f);
            return Some(Err(RunFinished));
        }
        None
    })
}

struct CallState<F, T> {
    f: Option<F>,
    outcome: Option<thread::Result<T>>,
    finished: bool,
}

struct Call<F, T> {
    state: Mutex<CallState<F, T>>,
    rv: Arc<Rendezvous>,
}

/// The queued job. Dropped unrun when the run ends first.
struct CallJob<F, T> {
    call: Arc<Call<F, T>>,
}

impl<F: FnOnce() -> T, T> CallJob<F, T> {
    fn run(self) {
        let f = lock(&self.call.state).f.take();
        if let Some(f) = f {
            let outcome = panic::catch_unwind(AssertUnwindSafe(f));
            lock(&self.call.state).outcome = Some(outcome);
        }
        // `Drop` marks the call finished and wakes the caller.
    }
}

impl<F, T> Drop for CallJob<F, T> {
    fn drop(&mut self) {
        lock(&self.call.state).finished = true;
        self.call.rv.notify();
    }
}
