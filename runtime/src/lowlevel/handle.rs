//! `RuntimeHandle`: what other threads hold to reach a running runtime.

use crate::runtime::seam::{self, Handle, Injected, Remote as Shared};
use std::error::Error;
use std::fmt;
use std::sync::Arc;

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
    /// Counted: while a handle lives, the run is never reported as deadlocked.
    shared: Handle,
}

impl fmt::Debug for RuntimeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeHandle")
            .field("finished", &self.shared.shared().is_closed())
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
            shared: Handle::new(seam::remote()),
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
            .shared()
            .push(Injected::Call(Box::new(f)))
            .map_err(|_| RunFinished)
    }

    /// Has the run finished?
    pub fn is_finished(&self) -> bool {
        self.shared.shared().is_closed()
    }

    /// The runtime's thread-safe part (for `from_thread`).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        self.shared.shared()
    }
}
