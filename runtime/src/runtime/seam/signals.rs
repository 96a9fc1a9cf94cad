//! The signal part of the seam: the process-wide handler plumbing (`runtime::signal`) and the
//! runtime's list of listeners that hear about arrived signals before Ctrl-C cancels the run.

use super::super::core::with_core;
use std::rc::Weak;

pub(crate) use super::super::signal::{
    SignalListener, count, install, latest_arrival, release, sigint_listener,
};

/// Adds `listener` to the listeners of the runtime running on this thread.
///
/// # Panics
/// Outside a running scoro runtime.
pub(crate) fn listen(listener: Weak<dyn SignalListener>) {
    with_core(|core| {
        let mut listeners = core.signals.receivers.borrow_mut();
        // Forget listeners that are gone, so opening and dropping many does not pile up.
        listeners.retain(|w| w.strong_count() > 0);
        listeners.push(listener);
    });
}
