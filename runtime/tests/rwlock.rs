//! `RwLock`: shared and exclusive access, the one-FIFO fairness (readers in batches, no
//! writer starvation), cancellation in the middle of the queue, and a seeded random schedule
//! of readers and writers with timeouts (after tokio's `rwlock` tests and Trio's lock tests).

use scoro::sync::{Event, RwLock};
use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelRequested, CancelScope, move_on_after, nursery, structured};
use std::cell::{Cell, RefCell};
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[structured]
async fn reader(
    lock: &RwLock<u32>,
    name: &'static str,
    log: &RefCell<Vec<&'static str>>,
    release: &Event,
) -> Result<(), CancelRequested> {
    let _g = lock.read().await?;
    log.borrow_mut().push(name);
    release.wait().await?;
    Ok(())
}

#[structured]
async fn writer(
    lock: &RwLock<u32>,
    name: &'static str,
    log: &RefCell<Vec<&'static str>>,
    release: &Event,
) -> Result<(), CancelRequested> {
    let mut g = lock.write().await?;
    *g += 1;
    log.borrow_mut().push(name);
    release.wait().await?;
    Ok(())
}

#[scoro::test]
async fn many_readers_hold_the_lock_at_once() -> TestResult {
    let lock = RwLock::new(0);
    let log = RefCell::new(Vec::new());
    let release = Event::new();
    nursery(async |n| -> Result<(), CancelRequested> {
        for name in ["r1", "r2", "r3"] {
            n.start_soon(reader(&lock, name, &log, &release));
        }
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), ["r1", "r2", "r3"]);
        assert_eq!(lock.readers(), 3);
        assert!(lock.try_read().is_some(), "nobody waits: a reader joins");
        assert!(lock.try_write().is_none());
        release.set();
        Ok(())
    })
    .await?;
    assert_eq!(lock.readers(), 0);
    assert!(lock.try_write().is_some());
    Ok(())
}

#[scoro::test]
async fn a_writer_excludes_readers_and_writers() -> TestResult {
    let lock = RwLock::new(0);
    let log = RefCell::new(Vec::new());
    let release = Event::new();
    let held = lock.try_write().expect("free");
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(reader(&lock, "r", &log, &release));
        n.start_soon(writer(&lock, "w", &log, &release));
        wait_all_tasks_blocked().await?;
        assert!(log.borrow().is_empty());
        assert_eq!(lock.waiting(), 2);
        assert!(lock.try_read().is_none());
        drop(held);
        // Handed straight to the reader: the lock was never free in between.
        assert_eq!(lock.readers(), 1);
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), ["r"]);
        assert_eq!(lock.waiting(), 1, "the writer waits for the reader");
        release.set();
        Ok(())
    })
    .await?;
    assert_eq!(*log.borrow(), ["r", "w"]);
    assert_eq!(lock.into_inner(), 1);
    Ok(())
}

#[scoro::test]
async fn a_queued_writer_is_not_overtaken_by_later_readers() -> TestResult {
    let lock = RwLock::new(0);
    let log = RefCell::new(Vec::new());
    let release_w = Event::new();
    let release_r = Event::new();
    let first = lock.try_read().expect("free");
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(writer(&lock, "w", &log, &release_w));
        wait_all_tasks_blocked().await?;
        // A reader arriving now queues behind the writer even though readers hold the lock.
        assert!(lock.try_read().is_none());
        n.start_soon(reader(&lock, "r", &log, &release_r));
        wait_all_tasks_blocked().await?;
        assert_eq!(lock.waiting(), 2);
        assert!(log.borrow().is_empty());
        drop(first);
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), ["w"]);
        release_w.set();
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), ["w", "r"]);
        release_r.set();
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test]
async fn readers_are_admitted_in_batches_up_to_the_next_writer() -> TestResult {
    let lock = RwLock::new(0);
    let log = RefCell::new(Vec::new());
    let release = Event::new();
    let held = lock.try_write().expect("free");
    nursery(async |n| -> Result<(), CancelRequested> {
        // Queue: r1 r2 w r3, started in that order.
        n.start_soon(reader(&lock, "r1", &log, &release));
        n.start_soon(reader(&lock, "r2", &log, &release));
        n.start_soon(writer(&lock, "w", &log, &release));
        n.start_soon(reader(&lock, "r3", &log, &release));
        wait_all_tasks_blocked().await?;
        assert_eq!(lock.waiting(), 4);
        drop(held);
        assert_eq!(lock.readers(), 2, "r1 and r2 go together");
        assert_eq!(lock.waiting(), 2);
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), ["r1", "r2"]);
        release.set();
        Ok(())
    })
    .await?;
    assert_eq!(*log.borrow(), ["r1", "r2", "w", "r3"]);
    Ok(())
}

#[scoro::test]
async fn a_cancelled_writer_in_the_queue_lets_the_readers_behind_it_go() -> TestResult {
    let lock = RwLock::new(0);
    let log = RefCell::new(Vec::new());
    let release = Event::new();
    let first = lock.try_read().expect("free");
    let scope = CancelScope::new();
    let handle = scope.handle();
    let cancelled = Cell::new(false);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            let out = scope.run(lock.write()).await;
            cancelled.set(out.is_none());
        });
        wait_all_tasks_blocked().await?;
        n.start_soon(reader(&lock, "r1", &log, &release));
        n.start_soon(reader(&lock, "r2", &log, &release));
        wait_all_tasks_blocked().await?;
        assert_eq!(lock.waiting(), 3);
        assert!(log.borrow().is_empty());
        handle.cancel();
        wait_all_tasks_blocked().await?;
        assert!(cancelled.get(), "the writer never got the lock");
        assert_eq!(*log.borrow(), ["r1", "r2"]);
        assert_eq!(
            lock.readers(),
            3,
            "they share the lock with the first reader"
        );
        assert_eq!(lock.waiting(), 0);
        release.set();
        Ok(())
    })
    .await?;
    drop(first);
    assert!(lock.try_write().is_some());
    Ok(())
}

#[scoro::test]
async fn read_and_write_are_checkpoints() -> TestResult {
    let lock = RwLock::new(0);
    let scope = CancelScope::new();
    scope.handle().cancel();
    assert!(scope.run(lock.read()).await.is_none());
    let scope = CancelScope::new();
    scope.handle().cancel();
    assert!(scope.run(lock.write()).await.is_none());
    assert_eq!((lock.readers(), lock.is_write_locked()), (0, false));
    Ok(())
}

/// A small deterministic generator (64-bit LCG), so the schedule is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[derive(Clone, Copy, Debug)]
struct Op {
    write: bool,
    delay_ms: u64,
    hold_ms: u64,
    timeout_ms: Option<u64>,
}

#[derive(Default)]
struct Counters {
    readers: Cell<u32>,
    writers: Cell<u32>,
    done: Cell<u32>,
    timed_out: Cell<u32>,
}

#[structured]
async fn worker(lock: &RwLock<u64>, ops: Vec<Op>, c: &Counters) -> Result<(), CancelRequested> {
    for op in ops {
        scoro::sleep(Duration::from_millis(op.delay_ms)).await?;
        let body = async {
            if op.write {
                let mut g = lock.write().await?;
                assert_eq!((c.readers.get(), c.writers.get()), (0, 0));
                c.writers.set(1);
                *g += 1;
                let out = scoro::sleep(Duration::from_millis(op.hold_ms)).await;
                c.writers.set(0);
                out?;
            } else {
                let _g = lock.read().await?;
                assert_eq!(c.writers.get(), 0);
                c.readers.set(c.readers.get() + 1);
                let out = scoro::sleep(Duration::from_millis(op.hold_ms)).await;
                c.readers.set(c.readers.get() - 1);
                out?;
            }
            Ok::<(), CancelRequested>(())
        };
        let finished = match op.timeout_ms {
            Some(t) => move_on_after(Duration::from_millis(t), body).await,
            None => Some(body.await),
        };
        match finished {
            Some(r) => {
                r?;
                c.done.set(c.done.get() + 1);
            }
            None => {
                c.timed_out.set(c.timed_out.get() + 1);
            }
        }
    }
    Ok(())
}

#[scoro::test(autojump)]
async fn random_readers_and_writers_with_timeouts_lose_no_wakeup() -> TestResult {
    let mut timeouts = 0;
    for seed in 0..40u64 {
        let mut rng = Lcg(seed);
        let lock = RwLock::new(0);
        let counters = Counters::default();
        let workers: Vec<Vec<Op>> = (0..2 + rng.below(5))
            .map(|_| {
                (0..1 + rng.below(6))
                    .map(|_| Op {
                        write: rng.below(3) == 0,
                        delay_ms: rng.below(3),
                        hold_ms: rng.below(3),
                        timeout_ms: (rng.below(3) == 0).then(|| 1 + rng.below(3)),
                    })
                    .collect()
            })
            .collect();
        let total: usize = workers.iter().map(Vec::len).sum();
        nursery(async |n| -> Result<(), CancelRequested> {
            for ops in workers {
                n.start_soon(worker(&lock, ops, &counters));
            }
            Ok(())
        })
        .await?;
        let finished = counters.done.get() + counters.timed_out.get();
        assert_eq!(finished as usize, total, "seed {seed}");
        timeouts += counters.timed_out.get();
        assert_eq!(lock.waiting(), 0, "seed {seed}");
        assert_eq!((lock.readers(), lock.is_write_locked()), (0, false));
        assert!(
            lock.try_write().is_some(),
            "seed {seed}: the lock ends free"
        );
    }
    assert!(timeouts > 0, "the schedules include cancelled waits");
    Ok(())
}
