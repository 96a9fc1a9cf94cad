//! The link between a worker running a `to_thread::run_sync` job and the `from_thread` calls
//! that job's thread makes back into the runtime.
//!
//! Invariants:
//! - A `JobLink` lives as long as the job; `CURRENT_JOB` names it on the worker thread while the
//!   job's function runs.
//! - When the job's call is torn down (the runtime thread blocks in its destructor, waiting for
//!   the worker), `tear_down` marks the link gone and interrupts the `from_thread` call the
//!   worker waits in, so the two threads never wait for each other; later calls get
//!   `RunFinished`.

use crate::lowlevel::RunFinished;
use crate::poison::{self, lock};
use crate::runtime::seam::Remote as Shared;
use std::cell::RefCell;
use std::sync::{Arc, Condvar, Mutex};

/// What a worker thread knows about the call it runs, so that `from_thread::run_sync` can
/// tell when the call was torn down while it waits for the runtime (which is then blocked in
/// the call's destructor, waiting for this thread: without the link they would deadlock).
pub(crate) struct JobLink {
    /// The address of the runtime's shared part, which identifies the runtime (only compared,
    /// never used as a pointer).
    runtime: usize,
    state: Mutex<LinkState>,
}

#[derive(Default)]
struct LinkState {
    /// The call's future was dropped; nobody will run more `from_thread` calls for it.
    gone: bool,
    /// The `from_thread` call this job's thread is waiting in.
    waiting: Option<Arc<Rendezvous>>,
}

impl JobLink {
    /// The link of a job started by the runtime whose shared part is `runtime`.
    pub(crate) fn new(runtime: &Arc<Shared>) -> JobLink {
        JobLink {
            runtime: Arc::as_ptr(runtime) as usize,
            state: Mutex::new(LinkState::default()),
        }
    }

    /// Registers a `from_thread` call to `runtime` made by this job's thread. Fails when the
    /// job's call has been torn down (its runtime waits for this thread).
    pub(crate) fn enter_call(
        &self,
        runtime: &Arc<Shared>,
        rv: &Arc<Rendezvous>,
    ) -> Result<bool, RunFinished> {
        if self.runtime != Arc::as_ptr(runtime) as usize {
            return Ok(false);
        }
        let mut st = lock(&self.state);
        if st.gone {
            return Err(RunFinished);
        }
        st.waiting = Some(rv.clone());
        Ok(true)
    }

    /// The `from_thread` call registered with `enter_call` is over.
    pub(crate) fn leave_call(&self) {
        lock(&self.state).waiting = None;
    }

    /// The call's future is being dropped: interrupt a `from_thread` wait of its thread.
    pub(crate) fn tear_down(&self) {
        let waiting = {
            let mut st = lock(&self.state);
            st.gone = true;
            st.waiting.take()
        };
        if let Some(rv) = waiting {
            rv.interrupt();
        }
    }
}

thread_local! {
    static CURRENT_JOB: RefCell<Option<Arc<JobLink>>> = const { RefCell::new(None) };
}

/// The link of the `run_sync` job running on this thread, if any.
pub(crate) fn current_job() -> Option<Arc<JobLink>> {
    CURRENT_JOB.with(|j| j.borrow().clone())
}

/// Sets `CURRENT_JOB` for as long as it lives.
pub(crate) struct CurrentJob;

impl CurrentJob {
    pub(crate) fn enter(link: Arc<JobLink>) -> CurrentJob {
        CURRENT_JOB.with(|j| *j.borrow_mut() = Some(link));
        CurrentJob
    }
}

impl Drop for CurrentJob {
    fn drop(&mut self) {
        CURRENT_JOB.with(|j| *j.borrow_mut() = None);
    }
}

/// Where a thread blocked in `from_thread::run_sync` waits. Notified when the call finished, and when
/// the call should give up (`interrupt`).
#[derive(Default)]
pub(crate) struct Rendezvous {
    state: Mutex<RvState>,
    cond: Condvar,
}

#[derive(Default)]
struct RvState {
    interrupted: bool,
}

impl Rendezvous {
    /// Makes the waiting caller give up if the runtime has not started its function.
    pub(crate) fn interrupt(&self) {
        lock(&self.state).interrupted = true;
        self.cond.notify_all();
    }

    /// Blocks until `check(interrupted)` gives a value; it is called first at once, then after
    /// each notification or interruption, always under the rendezvous's lock (so a
    /// notification sent after the caller's last look is never missed).
    pub(crate) fn wait_until<R>(&self, mut check: impl FnMut(bool) -> Option<R>) -> R {
        let mut state = lock(&self.state);
        loop {
            if let Some(r) = check(state.interrupted) {
                return r;
            }
            state = poison::wait(&self.cond, state);
        }
    }

    pub(crate) fn notify(&self) {
        // Taking the lock orders this notification after the waiter's last look.
        drop(lock(&self.state));
        self.cond.notify_all();
    }
}
