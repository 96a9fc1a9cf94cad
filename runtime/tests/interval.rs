//! `scoro::Interval` on the mock clock: ticks at exact multiples of the period, each policy
//! for missed ticks, a cancelled tick that is not lost, the zero period, and the name the task
//! tree gives a task waiting for a tick.

use scoro::observe::{TaskState, task_tree};
use scoro::testing::wait_all_tasks_blocked;
use scoro::{
    CancelRequested, ErrorGroup, IntervalError, MissedTicks, current_time, interval, interval_at,
    move_on_after, nursery, sleep, structured,
};
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[scoro::test(autojump)]
async fn ticks_at_exact_multiples_of_the_period() -> Result<(), CancelRequested> {
    let start = current_time();
    let mut ticks = interval(ms(10)).unwrap();
    for k in 0..5 {
        let due = ticks.tick().await?;
        assert_eq!(due, start + ms(10) * k);
        assert_eq!(current_time(), due);
    }
    Ok(())
}

#[scoro::test(autojump)]
async fn interval_at_starts_at_its_start() -> Result<(), CancelRequested> {
    let start = current_time() + ms(25);
    let mut ticks = interval_at(start, ms(10)).unwrap();
    assert_eq!(ticks.tick().await?, start);
    assert_eq!(current_time(), start);
    assert_eq!(ticks.tick().await?, start + ms(10));
    Ok(())
}

/// The ticks returned (as offsets from the start) and when, after the consumer took the tick
/// of 10 ms only at 35 ms: late by 3.5 periods.
#[structured]
async fn late_by_three_and_a_half_periods(
    missed: MissedTicks,
) -> Result<Vec<(Duration, Duration)>, CancelRequested> {
    let start = current_time();
    let mut ticks = interval(ms(10)).unwrap().with_missed_ticks(missed);
    assert_eq!(ticks.tick().await?, start);
    sleep(ms(35)).await?;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let due = ticks.tick().await?;
        seen.push((due - start, current_time() - start));
    }
    Ok(seen)
}

#[scoro::test(autojump)]
async fn burst_returns_every_missed_tick_at_once() -> Result<(), CancelRequested> {
    let seen = late_by_three_and_a_half_periods(MissedTicks::Burst).await?;
    assert_eq!(
        seen,
        [
            (ms(10), ms(35)),
            (ms(20), ms(35)),
            (ms(30), ms(35)),
            (ms(40), ms(40)),
            (ms(50), ms(50)),
        ]
    );
    Ok(())
}

#[scoro::test(autojump)]
async fn delay_moves_the_schedule_to_a_period_after_the_late_tick() -> Result<(), CancelRequested> {
    let seen = late_by_three_and_a_half_periods(MissedTicks::Delay).await?;
    assert_eq!(
        seen,
        [
            (ms(10), ms(35)),
            (ms(45), ms(45)),
            (ms(55), ms(55)),
            (ms(65), ms(65)),
            (ms(75), ms(75)),
        ]
    );
    Ok(())
}

#[scoro::test(autojump)]
async fn skip_drops_the_missed_ticks_and_keeps_the_schedule() -> Result<(), CancelRequested> {
    let seen = late_by_three_and_a_half_periods(MissedTicks::Skip).await?;
    assert_eq!(
        seen,
        [
            (ms(10), ms(35)),
            (ms(40), ms(40)),
            (ms(50), ms(50)),
            (ms(60), ms(60)),
            (ms(70), ms(70)),
        ]
    );
    Ok(())
}

#[scoro::test(autojump)]
async fn the_default_policy_is_skip() -> Result<(), CancelRequested> {
    let ticks = interval(ms(10)).unwrap();
    assert_eq!(ticks.missed_ticks(), MissedTicks::Skip);
    let default = late_by_three_and_a_half_periods(ticks.missed_ticks()).await?;
    assert_eq!(default[1], (ms(40), ms(40)));
    Ok(())
}

#[scoro::test(autojump)]
async fn late_by_less_than_a_period_misses_nothing() -> Result<(), CancelRequested> {
    for missed in [MissedTicks::Burst, MissedTicks::Delay, MissedTicks::Skip] {
        let start = current_time();
        let mut ticks = interval(ms(10)).unwrap().with_missed_ticks(missed);
        ticks.tick().await?;
        sleep(ms(15)).await?;
        assert_eq!(ticks.tick().await?, start + ms(10), "{missed:?}");
        assert_eq!(ticks.tick().await?, start + ms(20), "{missed:?}");
        assert_eq!(current_time(), start + ms(20), "{missed:?}");
    }
    Ok(())
}

#[scoro::test(autojump)]
async fn a_cancelled_tick_is_returned_by_the_next_call() -> Result<(), CancelRequested> {
    let start = current_time();
    let mut ticks = interval(ms(10)).unwrap();
    assert_eq!(ticks.tick().await?, start);
    assert_eq!(move_on_after(ms(4), ticks.tick()).await, None);
    assert_eq!(current_time(), start + ms(4));
    assert_eq!(ticks.tick().await?, start + ms(10));
    assert_eq!(current_time(), start + ms(10));
    assert_eq!(ticks.tick().await?, start + ms(20));
    Ok(())
}

#[scoro::test(autojump)]
async fn a_tick_cancelled_before_its_first_call_keeps_its_start() -> Result<(), CancelRequested> {
    let start = current_time();
    let mut ticks = interval(ms(10)).unwrap();
    // Cancelled before anything: the call returns the cancellation without a tick.
    let cancelled = scoro::CancelScope::new()
        .with_deadline(start)
        .run(ticks.tick())
        .await;
    assert!(cancelled.is_none());
    assert_eq!(ticks.tick().await?, start);
    Ok(())
}

#[test]
fn a_zero_period_is_an_error() {
    let err: IntervalError = interval(Duration::ZERO).unwrap_err();
    assert_eq!(
        interval_at(Instant::now(), Duration::ZERO).unwrap_err(),
        err
    );
    let err: Box<dyn std::error::Error> = Box::new(err);
    assert_eq!(
        err.to_string(),
        "the period of an interval must not be zero"
    );
    assert!(interval(Duration::from_nanos(1)).is_ok());
}

#[structured]
async fn waiting_for_a_tick() -> Result<(), CancelRequested> {
    let mut ticks = interval(Duration::from_secs(5)).unwrap();
    ticks.tick().await?;
    ticks.tick().await?;
    Ok(())
}

#[scoro::test(autojump)]
async fn the_task_tree_shows_a_task_waiting_in_tick() -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(waiting_for_a_tick());
        sleep(Duration::from_secs(2)).await?;
        wait_all_tasks_blocked().await?;
        let tree = task_tree();
        let task = tree.find("waiting_for_a_tick").expect("the task is there");
        assert_eq!(task.state(), TaskState::Blocked, "{tree}");
        assert_eq!(task.waiting_in(), Some("scoro::Interval::tick"), "{tree}");
        assert_eq!(task.wakes_in(), Some(Duration::from_secs(3)), "{tree}");
        n.cancel();
        Ok(())
    })
    .await
}

#[scoro::test(autojump)]
async fn a_tick_past_what_an_instant_holds_never_comes() -> Result<(), CancelRequested> {
    let start = current_time();
    let mut ticks = interval(Duration::MAX).unwrap();
    assert_eq!(ticks.tick().await?, start);
    assert_eq!(
        move_on_after(Duration::from_secs(60), ticks.tick()).await,
        None
    );
    assert_eq!(current_time(), start + Duration::from_secs(60));
    Ok(())
}
