//! Entering and leaving a cancel scope whose deadline never fires allocates nothing (API.md:
//! "no allocation, no timer insertion unless a task actually blocks under it"). Its own test
//! binary, because it replaces the global allocator. It counts the allocations of the
//! measuring thread only: the test harness's other threads allocate when they like.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts calls (in a const-initialised
// thread-local without destructor, which never allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
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
    let before = allocations();
    enter_and_leave(10_000).await.unwrap();
    allocations() - before
}

#[test]
fn scopes_whose_deadline_never_fires_allocate_nothing() {
    assert_eq!(
        scoro::run(measure()),
        0,
        "allocations during 20,000 scope entries"
    );
}
