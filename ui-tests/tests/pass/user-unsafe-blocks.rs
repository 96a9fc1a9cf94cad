//! Awaits inside the user's own `unsafe` block: the macro's `unsafe` blocks nested in it do not
//! trigger `unused_unsafe` (which stays on for the user's code).
#![deny(warnings)]

use scoro::structured;

#[structured]
async fn one() -> u32 {
    1
}

#[structured]
async fn read(pointer: *const u32) -> u32 {
    // SAFETY: `main` passes a pointer to a live local.
    unsafe { *pointer + one().await + async { 2 }.await }
}

fn main() {
    let value = 10;
    assert_eq!(scoro::run(read(&value)), 13);
}
