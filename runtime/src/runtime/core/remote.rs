//! Waking a task from any thread: the waker foreign code gets, and the wake behind
//! `RemoteUnparker`.

use super::try_with_core;
use crate::runtime::ids::TaskRef;
use crate::runtime::shared::{Injected, Shared};
use std::sync::Arc;
use std::task::Wake;

/// A waker that is safe to hand to foreign code: it wakes its task through the scheduler when
/// used on the runtime thread and through the injection queue from anywhere else.
pub(crate) struct RemoteWaker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) task: TaskRef,
}

impl Wake for RemoteWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        wake_task(&self.shared, self.task);
    }
}

/// Wakes `task` of the runtime behind `shared` from any thread.
pub(crate) fn wake_task(shared: &Arc<Shared>, task: TaskRef) {
    let local = try_with_core(|core| {
        if Arc::ptr_eq(&core.shared, shared) {
            core.wake(task);
            true
        } else {
            false
        }
    });
    if local != Some(true) {
        let _ = shared.push(Injected::Wake(task));
    }
}
