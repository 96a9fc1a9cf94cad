//! The run loop: batches of task polls, with I/O, injected work, the clock and deadlines
//! looked at between batches (at once when nothing is runnable, else every
//! `MAINTENANCE_INTERVAL` polls).
//!
//! Invariant: the run is *idle* (it wakes `wait_all_tasks_blocked` waiters, and a mock clock
//! with autojump jumps) only when nothing is runnable, no I/O is ready and no outside work is
//! in flight (`outside_work`: jobs on other threads, such as worker-thread calls, whose
//! completion arrives as injected work). While outside work is in flight an idle turn waits
//! for I/O, injected work or a real-clock deadline instead.
//!
//! The task tree is printed here, on the runtime thread, when the tree-dump signal has arrived
//! (see `Builder::dump_tree_on`): the signal handler only counts it and pokes the pipe.

use super::{Core, MAINTENANCE_INTERVAL, Queued, TaskRef};
use crate::cancellation::CancelReason;
use crate::runtime::clock::Clock;
use crate::runtime::instrument::Instruments;
use crate::runtime::shared::Injected;
use crate::runtime::signal::signal_name;
use crate::runtime::tree::TaskTree;
use std::any::Any;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

impl Core {
    // ----- the run loop -----------------------------------------------------------------

    /// Runs tasks until `done()` is true after a batch.
    pub(crate) fn run_until(&self, done: &dyn Fn() -> bool) {
        // Two copies of the loop: the one without instruments has no trace of them.
        match &self.instruments {
            None => self.run_loop::<false>(done, None),
            Some(instruments) => self.run_loop::<true>(done, Some(instruments)),
        }
    }

    #[inline(always)]
    fn run_loop<const INSTRUMENTED: bool>(
        &self,
        done: &dyn Fn() -> bool,
        instruments: Option<&Instruments>,
    ) {
        let mut batch: VecDeque<Queued> = VecDeque::new();
        loop {
            if batch.capacity() > 4096 && self.sched.borrow().queue.is_empty() {
                batch.shrink_to(1024);
            }
            {
                let mut s = self.sched.borrow_mut();
                std::mem::swap(&mut s.queue, &mut batch);
            }
            let n = batch.len() as u32;
            // Entries taken, counted per batch (the few stale ones are counted as they are
            // found: see `poll_task`).
            self.steps.set(self.steps.get() + u64::from(n));
            match instruments {
                Some(instruments) if INSTRUMENTED => {
                    for t in batch.drain(..) {
                        self.poll_task_instrumented(instruments, t);
                    }
                }
                _ => {
                    for t in batch.drain(..) {
                        self.poll_task(t);
                    }
                }
            }
            if done() {
                return;
            }
            let polled = self.polled.get() + n;
            let runnable = !self.sched.borrow().queue.is_empty();
            if runnable {
                if polled >= MAINTENANCE_INTERVAL {
                    self.polled.set(0);
                    self.maintenance(Some(Duration::ZERO));
                } else {
                    self.polled.set(polled);
                }
            } else {
                self.polled.set(0);
                self.idle();
            }
        }
    }

    pub(super) fn runnable(&self) -> bool {
        !self.sched.borrow().queue.is_empty()
    }

    /// Nothing is runnable: wait for I/O, wakeups from other threads or the next deadline.
    pub(super) fn idle(&self) {
        self.drain_injected();
        if self.runnable() {
            return;
        }
        {
            // After a burst (100,000 tasks spawned at once, say) the run queue keeps its
            // capacity; give most of it back while nothing is runnable.
            let mut s = self.sched.borrow_mut();
            if s.queue.capacity() > 4096 {
                s.queue.shrink_to(1024);
            }
        }
        self.resolve_pending();
        let (has_idle_waiters, next_deadline) = {
            let mut s = self.sched.borrow_mut();
            (!s.idle_waiters.is_empty(), s.next_deadline())
        };
        // Work on another thread will wake a task: nothing is idle until it has.
        let outside_work = self.outside_work.get() > 0;
        if !has_idle_waiters && next_deadline.is_none() && self.provably_stuck() {
            self.report_deadlock();
        }
        if has_idle_waiters && !outside_work {
            self.maintenance(Some(Duration::ZERO));
            if !self.runnable() {
                let mut s = self.sched.borrow_mut();
                let waiters = std::mem::take(&mut s.idle_waiters);
                for t in waiters {
                    s.wake(t);
                }
            }
            return;
        }
        match &self.clock {
            Clock::Real => {
                let timeout = next_deadline.map(|d| d.saturating_duration_since(Instant::now()));
                self.maintenance(timeout);
            }
            Clock::Mock(mock) => {
                let now = mock.now();
                if next_deadline.is_some_and(|d| d <= now) {
                    self.maintenance(Some(Duration::ZERO));
                    return;
                }
                match (mock.autojump_threshold(), next_deadline) {
                    (Some(threshold), Some(deadline)) if !outside_work => {
                        self.maintenance(Some(threshold));
                        if !self.runnable() {
                            mock.advance_to(deadline);
                            self.fire_deadlines();
                        }
                    }
                    _ => self.maintenance(None),
                }
            }
        }
    }

    /// Work that this run waits for has started on another thread, for task `task` if a task
    /// waits for it; its completion will arrive as injected work, which calls
    /// [`outside_work_finished`](Self::outside_work_finished).
    pub(crate) fn outside_work_started(&self, task: Option<TaskRef>) {
        self.outside_work.set(self.outside_work.get() + 1);
        if let Some(t) = task {
            self.outside_since.borrow_mut().push((t, self.now()));
        }
    }

    /// Work counted by [`outside_work_started`](Self::outside_work_started) has finished.
    pub(crate) fn outside_work_finished(&self, task: Option<TaskRef>) {
        let n = self.outside_work.get();
        debug_assert!(n > 0, "outside work finished that never started");
        self.outside_work.set(n.saturating_sub(1));
        if let Some(t) = task {
            let mut since = self.outside_since.borrow_mut();
            if let Some(i) = since.iter().position(|(u, _)| *u == t) {
                since.swap_remove(i);
            }
        }
    }

    /// Polls I/O (waiting at most `timeout`), takes injected work, and fires due deadlines.
    pub(super) fn maintenance(&self, timeout: Option<Duration>) {
        let mut woken = std::mem::take(&mut *self.io_woken.borrow_mut());
        let mut wakers = std::mem::take(&mut *self.io_wakers.borrow_mut());
        let signals = self.wait_for_io(timeout, &mut woken, &mut wakers);
        {
            let mut s = self.sched.borrow_mut();
            for t in woken.drain(..) {
                s.wake(t);
            }
        }
        *self.io_woken.borrow_mut() = woken;
        // Foreign wakers are user code: called with nothing borrowed.
        for w in wakers.drain(..) {
            w.wake();
        }
        *self.io_wakers.borrow_mut() = wakers;
        if signals {
            // The tree as the signal found it, before listeners of the signal are woken.
            self.dump_tree_if_requested();
            if self.signals.on_readable() {
                self.cancel_everything(CancelReason::Interrupt);
            }
        }
        self.drain_injected();
        self.resolve_pending();
        self.fire_deadlines();
    }

    /// Prints the task tree to stderr if the tree-dump signal arrived since the last look
    /// (see `Builder::dump_tree_on`).
    pub(crate) fn dump_tree_if_requested(&self) {
        if let Some(sig) = self.signals.dump_requested() {
            print_tree_dump(sig, &self.task_tree());
        }
    }

    pub(super) fn drain_injected(&self) {
        let mut items = std::mem::take(&mut *self.injected.borrow_mut());
        self.shared.drain(&mut items);
        for item in items.drain(..) {
            match item {
                Injected::Wake(t) => self.wake(t),
                Injected::Call(f) => {
                    // A panicking callback is a bug outside any task: shut the run down (every
                    // task gets to clean up) and let `run` resume the panic at the end.
                    if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                        self.injected_panic.borrow_mut().get_or_insert(p);
                        self.cancel_everything(CancelReason::Shutdown);
                    }
                }
            }
        }
        *self.injected.borrow_mut() = items;
    }

    /// The first panic of a `run_sync_soon` callback, if any.
    pub(crate) fn take_injected_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.injected_panic.borrow_mut().take()
    }
}

/// Writes the tree-dump header and `tree` to stderr in one write (ignoring errors: a closed
/// stderr must not end the run).
#[cold]
fn print_tree_dump(sig: i32, tree: &TaskTree) {
    use std::io::Write;
    let text = format!(
        "scoro: task tree on {} (pid {}):\n{tree}",
        signal_name(sig),
        std::process::id()
    );
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
