//! Entering and leaving a cancel scope whose deadline never fires allocates nothing (API.md:
//! "no allocation, no timer insertion unless a task actually blocks under it"). Its own test
//! binary, because it counts every allocation of the process with a global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[scoro::structured]
async fn enter_and_leave(times: u32) -> Result<(), scoro::CancelRequested> {
    for _ in 0..times {
        let r = scoro::move_on_after(Duration::from_secs(60), scoro::checkpoint()).await;
        assert_eq!(r, Some(Ok(())));
        let r = scoro::CancelScope::new()
            .with_deadline(scoro::current_time() + Duration::from_secs(60))
            .run(scoro::checkpoint())
            .await;
        assert_eq!(r, Some(Ok(())));
    }
    Ok(())
}

#[scoro::structured]
async fn measure() -> usize {
    // Warm up: the scheduler's queues and slabs reach their working size.
    enter_and_leave(100).await.unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    enter_and_leave(10_000).await.unwrap();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn scopes_whose_deadline_never_fires_allocate_nothing() {
    assert_eq!(
        scoro::run(measure()),
        0,
        "allocations during 20,000 scope entries"
    );
}
