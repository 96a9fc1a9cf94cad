//! A million timers, most of them cancelled before they fire, leave nothing behind: the heap
//! returns to its baseline once the run is over, and within the run the memory in use stays
//! bounded by what is alive at once (stale timer entries are pruned, not accumulated). Its own
//! test binary, because it measures the live heap with a global allocator.

use scoro::testing::MockClock;
use scoro::{Builder, CancelHandle, CancelRequested, CancelScope, ErrorGroup, nursery, structured};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::time::Duration;

struct Counting;

// Counted per thread: the run happens on the test's thread, and the test harness's own threads
// (which may allocate while a test runs) must not move the count.
thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn live() -> usize {
    LIVE.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only keeps count of live bytes (in
// const-initialised thread-locals without destructors, which never allocate).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|l| {
            let now = l.get().wrapping_add(layout.size());
            l.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| l.set(l.get().wrapping_sub(layout.size())));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A small deterministic generator (xorshift), so that the test is the same every run.
struct Rng(Cell<u64>);

impl Rng {
    fn below(&self, n: u64) -> u64 {
        let mut x = self.0.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.set(x);
        x % n
    }
}

/// What the tasks share: the random numbers, how many timeouts fired, the scopes waiting to
/// be cancelled from outside, and how many tasks are done.
struct Shared {
    rng: Rng,
    fired: Cell<u64>,
    to_cancel: RefCell<Vec<CancelHandle>>,
    done: Cell<u32>,
}

/// `rounds` timers, one after the other. Half are a sleep under a timeout, where either may
/// fire first (a quarter of those cancelled before they start); the other half wait under a
/// deadline an hour away until another task cancels them, which leaves that far deadline in
/// the timer heap as a stale entry (only pruning removes those).
#[structured]
async fn churn(shared: &Shared, rounds: u32) -> Result<(), CancelRequested> {
    let rng = &shared.rng;
    for _ in 0..rounds {
        if rng.below(2) == 0 {
            let scope = CancelScope::new().with_timeout(Duration::from_secs(3600));
            shared.to_cancel.borrow_mut().push(scope.handle());
            let r = scope.run(scoro::sleep_forever()).await;
            assert!(r.is_none(), "cancelled from outside");
            continue;
        }
        let timeout = Duration::from_millis(1 + rng.below(50));
        let sleep = Duration::from_millis(1 + rng.below(50));
        let scope = CancelScope::new().with_timeout(timeout);
        if rng.below(4) == 0 {
            scope.handle().cancel();
        }
        match scope.run(scoro::sleep(sleep)).await {
            Some(r) => r?,
            None => shared.fired.set(shared.fired.get() + 1),
        }
    }
    shared.done.set(shared.done.get() + 1);
    Ok(())
}

/// Cancels the waiting scopes every millisecond until every churning task is done.
#[structured]
async fn canceller(shared: &Shared, tasks: u32) -> Result<(), CancelRequested> {
    while shared.done.get() < tasks {
        scoro::sleep(Duration::from_millis(1)).await?;
        for handle in shared.to_cancel.borrow_mut().drain(..) {
            handle.cancel();
        }
    }
    Ok(())
}

#[structured]
async fn many_timers(tasks: u32, rounds: u32) -> Result<u64, ErrorGroup<CancelRequested>> {
    let shared = Shared {
        rng: Rng(Cell::new(0x9E37_79B9_7F4A_7C15)),
        fired: Cell::new(0),
        to_cancel: RefCell::new(Vec::new()),
        done: Cell::new(0),
    };
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(canceller(&shared, tasks));
        for _ in 0..tasks {
            n.start_soon(churn(&shared, rounds));
        }
        Ok(())
    })
    .await?;
    Ok(shared.fired.get())
}

fn run(tasks: u32, rounds: u32) -> u64 {
    let clock = MockClock::autojump(Duration::ZERO);
    let mut rt = Builder::new().clock(clock).build().unwrap();
    rt.run(many_timers(tasks, rounds)).unwrap()
}

#[test]
fn a_million_timers_leave_the_heap_as_they_found_it() {
    // Warm up: lazily made process-wide state (the signal pipe, thread-locals) exists after.
    run(10, 10);
    let baseline = live();
    PEAK.with(|p| p.set(baseline));
    let fired = run(1_000, 1_000);
    let after = live();
    let peak = PEAK.with(Cell::get) - baseline;
    assert!(
        fired > 50_000,
        "both outcomes of a race happen: {fired} timeouts fired"
    );
    assert_eq!(after, baseline, "live heap bytes after the run vs before");
    // What is alive at once: 1,000 tasks with their timers (about 0.7 MB here). Without pruning,
    // the stale far deadlines alone grow the heap by about 19 MB (checked by disabling it).
    assert!(
        peak < 4 << 20,
        "peak heap growth during the run: {peak} bytes"
    );
}
