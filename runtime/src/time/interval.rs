//! `Interval`: ticks at a fixed period, built on `sleep_until`.
//!
//! Invariants:
//! - `next` is the instant of the tick the next `tick` call returns. It changes only once a
//!   tick has been returned, so a cancelled `tick` loses no tick.
//! - Ticks are at `start + k * period` until one is missed; what comes after a missed tick is
//!   the policy's ([`MissedTicks`]). `None` is a tick past what `Instant` can hold: it never
//!   comes.

use super::sleep_as;
use crate::CoroutineCall;
use crate::cancellation::CancelRequested;
use crate::runtime::seam::{self, Waiting};
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

/// What an [`Interval`] does after a missed tick: when a tick is returned after the instant
/// of the tick that follows it (the consumer was late by more than a period).
///
/// A consumer late by less than a period misses nothing: the next tick stays on schedule.
///
/// With a period of 10 ms, ticks due at 0, 10, 20.. ms, and a consumer that asks for the tick
/// of 10 ms only at 35 ms, the ticks returned are (the first one at once, at 35 ms):
/// - [`Burst`](MissedTicks::Burst): 10, 20, 30 at once, then 40, 50..
/// - [`Delay`](MissedTicks::Delay): 10, then 45, 55..
/// - [`Skip`](MissedTicks::Skip): 10, then 40, 50..
///
/// ```
/// use scoro::MissedTicks;
///
/// assert_eq!(MissedTicks::default(), MissedTicks::Skip);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MissedTicks {
    /// The missed ticks are returned back to back, without waiting, until the interval has
    /// caught up; then it ticks on its schedule again. Every tick is seen, but a stall is
    /// followed by a burst of work.
    Burst,
    /// The next tick is one period after the late tick was returned: the schedule moves, and
    /// the missed ticks are dropped.
    Delay,
    /// The missed ticks are dropped, and the next tick is the first one of the schedule
    /// (`start + k * period`) at or after the time the late tick was returned. The default:
    /// ticks stay on their schedule, and a stalled consumer does not get a burst of ticks
    /// it has no time for.
    #[default]
    Skip,
}

/// The error of [`interval`] and [`interval_at`]: the period is zero.
///
/// ```
/// use std::time::Duration;
///
/// let err = scoro::interval(Duration::ZERO).unwrap_err();
/// assert_eq!(err.to_string(), "the period of an interval must not be zero");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntervalError;

impl fmt::Display for IntervalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the period of an interval must not be zero")
    }
}

impl std::error::Error for IntervalError {}

/// Ticks every `period`, the first tick at once: see [`Interval`].
///
/// The schedule starts at the first call of [`Interval::tick`] (so an interval can be made
/// outside the runtime); use [`interval_at`] to give its start. A zero period is an
/// [`IntervalError`].
///
/// ```
/// use std::time::Duration;
///
/// #[scoro::structured]
/// async fn main_task() -> Result<Vec<Duration>, scoro::CancelRequested> {
///     let mut ticks = scoro::interval(Duration::from_millis(10)).unwrap();
///     let start = ticks.tick().await?;
///     let mut seen = Vec::new();
///     for _ in 0..3 {
///         seen.push(ticks.tick().await? - start);
///     }
///     Ok(seen)
/// }
///
/// let ms = Duration::from_millis;
/// let mut rt = scoro::Builder::new()
///     .clock(scoro::testing::MockClock::autojump(Duration::ZERO))
///     .build()
///     .unwrap();
/// assert_eq!(rt.run(main_task()), Ok(vec![ms(10), ms(20), ms(30)]));
/// ```
pub fn interval(period: Duration) -> Result<Interval, IntervalError> {
    Interval::new(None, period)
}

/// Ticks every `period`, the first tick at `start` (a time of the runtime clock, see
/// [`current_time`](crate::current_time)): see [`Interval`]. A zero period is an
/// [`IntervalError`].
///
/// ```
/// use std::time::Duration;
///
/// #[scoro::structured]
/// async fn main_task() -> Result<bool, scoro::CancelRequested> {
///     let start = scoro::current_time() + Duration::from_millis(5);
///     let mut ticks = scoro::interval_at(start, Duration::from_millis(10)).unwrap();
///     Ok(ticks.tick().await? == start && scoro::current_time() >= start)
/// }
///
/// assert_eq!(scoro::run(main_task()), Ok(true));
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Result<Interval, IntervalError> {
    Interval::new(Some(start), period)
}

/// A schedule of ticks, one every period: [`tick`](Interval::tick) waits for the next one and
/// returns the instant it was due.
///
/// Made by [`interval`] or [`interval_at`]. What happens after the consumer falls behind by
/// more than a period is set with [`with_missed_ticks`](Interval::with_missed_ticks)
/// ([`MissedTicks::Skip`] unless told otherwise).
///
/// ```
/// use scoro::{Builder, testing::MockClock};
/// use std::time::Duration;
///
/// #[scoro::structured]
/// async fn heartbeat(beats: &mut u32) -> Result<(), scoro::CancelRequested> {
///     let mut every = scoro::interval(Duration::from_secs(1)).unwrap();
///     loop {
///         every.tick().await?;
///         *beats += 1;
///     }
/// }
///
/// #[scoro::structured]
/// async fn main_task() -> u32 {
///     let mut beats = 0;
///     // Ticks at 0, 1, .. 9 s; cancelled at 9.5 s.
///     scoro::move_on_after(Duration::from_millis(9500), heartbeat(&mut beats)).await;
///     beats
/// }
///
/// // A mock clock that jumps when every task sleeps: no real waiting.
/// let mut rt = Builder::new().clock(MockClock::autojump(Duration::ZERO)).build().unwrap();
/// assert_eq!(rt.run(main_task()), 10);
/// ```
#[derive(Clone, Debug)]
pub struct Interval {
    /// The next tick; `None` until the first `tick` of an [`interval`] (then it is now).
    next: Option<Instant>,
    started: bool,
    period: Duration,
    missed: MissedTicks,
}

impl Interval {
    fn new(start: Option<Instant>, period: Duration) -> Result<Interval, IntervalError> {
        if period.is_zero() {
            return Err(IntervalError);
        }
        Ok(Interval {
            next: start,
            started: start.is_some(),
            period,
            missed: MissedTicks::default(),
        })
    }

    /// The same interval with the policy `missed` for missed ticks.
    ///
    /// ```
    /// use scoro::MissedTicks;
    /// use std::time::Duration;
    ///
    /// let ticks = scoro::interval(Duration::from_secs(1))
    ///     .unwrap()
    ///     .with_missed_ticks(MissedTicks::Burst);
    /// assert_eq!(ticks.missed_ticks(), MissedTicks::Burst);
    /// ```
    #[must_use]
    pub fn with_missed_ticks(mut self, missed: MissedTicks) -> Interval {
        self.missed = missed;
        self
    }

    /// The policy for missed ticks.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ticks = scoro::interval(Duration::from_secs(1)).unwrap();
    /// assert_eq!(ticks.missed_ticks(), scoro::MissedTicks::Skip);
    /// ```
    pub fn missed_ticks(&self) -> MissedTicks {
        self.missed
    }

    /// The period.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let ticks = scoro::interval(Duration::from_secs(2)).unwrap();
    /// assert_eq!(ticks.period(), Duration::from_secs(2));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Waits for the next tick and returns the instant it was due (on the runtime clock). The
    /// first tick is due at once (at `start` for [`interval_at`]). A checkpoint, like
    /// [`sleep_until`](crate::sleep_until).
    ///
    /// Returns `Err(CancelRequested)` if the task is cancelled first; the tick is not lost:
    /// the next call returns it.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// #[scoro::structured]
    /// async fn main_task() -> Result<Duration, scoro::CancelRequested> {
    ///     let mut ticks = scoro::interval(Duration::from_millis(20)).unwrap();
    ///     let first = ticks.tick().await?;
    ///     // Cancelled before the second tick is due: the tick stays pending.
    ///     let cut = scoro::move_on_after(Duration::from_millis(5), ticks.tick()).await;
    ///     assert!(cut.is_none());
    ///     Ok(ticks.tick().await? - first)
    /// }
    ///
    /// let mut rt = scoro::Builder::new()
    ///     .clock(scoro::testing::MockClock::autojump(Duration::ZERO))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.run(main_task()), Ok(Duration::from_millis(20)));
    /// ```
    pub fn tick(
        &mut self,
    ) -> CoroutineCall<impl Future<Output = Result<Instant, CancelRequested>> + '_> {
        CoroutineCall::internal(
            async move {
                if !self.started {
                    self.next = Some(seam::now());
                    self.started = true;
                }
                let due = self.next;
                sleep_as(due, Waiting::IntervalTick).await?;
                let due = due.expect("a tick that never comes is not returned");
                self.next = self.after(due, seam::now());
                Ok(due)
            },
            "scoro",
            "Interval::tick",
        )
    }

    /// The tick after the one due at `due`, returned at `now`.
    fn after(&self, due: Instant, now: Instant) -> Option<Instant> {
        let next = due.checked_add(self.period)?;
        if now <= next {
            return Some(next);
        }
        match self.missed {
            MissedTicks::Burst => Some(next),
            MissedTicks::Delay => now.checked_add(self.period),
            MissedTicks::Skip => {
                // The first `due + k * period` at or after `now`.
                let period = self.period.as_nanos();
                let k = (now - due).as_nanos().div_ceil(period);
                let skip = k.checked_mul(period)?;
                let secs = u64::try_from(skip / 1_000_000_000).ok()?;
                let nanos = u32::try_from(skip % 1_000_000_000).ok()?;
                due.checked_add(Duration::new(secs, nanos))
            }
        }
    }
}
