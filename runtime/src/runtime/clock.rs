//! The runtime clock: the real monotonic clock or a [`MockClock`] that tests move by hand.
//!
//! Invariant: time never runs backwards. The mock clock only moves forward (`jump` takes a
//! `Duration`), and the real clock is `Instant`, which is monotonic.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A clock for tests: time stands still unless the test moves it.
///
/// Give it to a runtime with [`Builder::clock`](crate::Builder::clock). `MockClock` is a shared
/// handle: clones move the same clock, so a test can keep one and call [`jump`](Self::jump)
/// from inside a task. With [`autojump`](Self::autojump) the runtime moves the clock by itself
/// to the next deadline whenever every task is blocked, so a test that sleeps an hour finishes
/// at once, and still sees every timeout in the right order. A task waiting for a worker thread
/// (`to_thread::run_sync`, `net::lookup_host`) does not count as blocked: the clock waits for
/// the worker instead of jumping past the call's timeout.
///
/// ```
/// use std::time::Duration;
/// use scoro::testing::MockClock;
/// use scoro::{structured, Builder};
///
/// #[structured]
/// async fn nap() -> Duration {
///     let start = scoro::current_time();
///     scoro::sleep(Duration::from_secs(3600)).await.unwrap();
///     scoro::current_time() - start
/// }
///
/// let mut rt = Builder::new().clock(MockClock::autojump(Duration::ZERO)).build().unwrap();
/// assert_eq!(rt.run(nap()), Duration::from_secs(3600));
/// ```
#[derive(Clone)]
pub struct MockClock {
    inner: Arc<MockInner>,
}

struct MockInner {
    base: Instant,
    offset_nanos: AtomicU64,
    autojump: Option<Duration>,
}

impl MockClock {
    /// A clock that moves only when [`jump`](Self::jump) is called.
    pub fn new() -> Self {
        Self::with_autojump(None)
    }

    /// A clock that also jumps to the next deadline whenever every task has been blocked for
    /// `threshold` of real time (use `Duration::ZERO` to jump as soon as all are blocked).
    pub fn autojump(threshold: Duration) -> Self {
        Self::with_autojump(Some(threshold))
    }

    fn with_autojump(autojump: Option<Duration>) -> Self {
        MockClock {
            inner: Arc::new(MockInner {
                base: Instant::now(),
                offset_nanos: AtomicU64::new(0),
                autojump,
            }),
        }
    }

    /// Moves the clock forward by `d`. Deadlines that this passes fire at the runtime's next
    /// scheduling step (and any checkpoint sees them at once).
    pub fn jump(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .offset_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |o| {
                Some(o.saturating_add(nanos))
            });
    }

    /// The clock's current time.
    pub fn now(&self) -> Instant {
        self.inner.base + Duration::from_nanos(self.inner.offset_nanos.load(Ordering::Acquire))
    }

    /// Moves the clock forward to `t` if it is earlier.
    pub(crate) fn advance_to(&self, t: Instant) {
        let target = u64::try_from(t.saturating_duration_since(self.inner.base).as_nanos())
            .unwrap_or(u64::MAX);
        self.inner.offset_nanos.fetch_max(target, Ordering::AcqRel);
    }

    pub(crate) fn autojump_threshold(&self) -> Option<Duration> {
        self.inner.autojump
    }
}

impl Default for MockClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MockClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockClock")
            .field(
                "elapsed",
                &Duration::from_nanos(self.inner.offset_nanos.load(Ordering::Acquire)),
            )
            .field("autojump", &self.inner.autojump)
            .finish()
    }
}

/// The clock a runtime uses.
#[derive(Clone, Debug)]
pub(crate) enum Clock {
    Real,
    Mock(MockClock),
}

impl Clock {
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::Real => Instant::now(),
            Clock::Mock(m) => m.now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_clock_moves_only_forward_and_is_shared() {
        let c = MockClock::new();
        let t0 = c.now();
        assert_eq!(c.now(), t0);
        let c2 = c.clone();
        c2.jump(Duration::from_secs(5));
        assert_eq!(c.now() - t0, Duration::from_secs(5));
        c.advance_to(t0 + Duration::from_secs(1));
        assert_eq!(c.now() - t0, Duration::from_secs(5));
        c.advance_to(t0 + Duration::from_secs(7));
        assert_eq!(c.now() - t0, Duration::from_secs(7));
    }
}
