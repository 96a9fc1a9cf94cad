//! The signal handler leaves `errno` as it found it. In a test binary of its own, because
//! signal dispositions are process-wide.

use scoro::{CancelReason, sleep_forever, structured};

/// More signals than the self-pipe has room for (64 KiB on Linux unless changed): with the
/// runtime not looking, the handler's later writes fail with `EAGAIN`.
const MORE_THAN_THE_PIPE_HOLDS: usize = 1 << 17;

fn errno() -> &'static mut libc::c_int {
    // SAFETY: `__errno_location` returns this thread's `errno`, valid for the thread's life,
    // and only this thread uses the reference.
    unsafe { &mut *libc::__errno_location() }
}

/// Raises SIGINT without yielding to the runtime, until the pipe is full; then once more with
/// a known `errno`, and returns what `errno` was afterwards.
#[structured]
async fn errno_after_a_signal_whose_write_fails() -> (libc::c_int, CancelReason) {
    for _ in 0..MORE_THAN_THE_PIPE_HOLDS {
        // SAFETY: `raise` has no preconditions; the runtime handles SIGINT while it runs.
        assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
    }
    *errno() = 4242;
    // SAFETY: as above.
    let r = unsafe { libc::raise(libc::SIGINT) };
    let after = *errno();
    assert_eq!(r, 0);
    // The runtime still saw Ctrl-C (the counters record every signal, even when the pipe is
    // full) and cancels the run.
    let Err(c) = sleep_forever().await;
    (after, c.reason())
}

#[test]
fn the_signal_handler_preserves_errno() {
    let (after, reason) = scoro::run(errno_after_a_signal_whose_write_fails());
    assert_eq!(
        after, 4242,
        "the handler's failed write must not leak its errno"
    );
    assert_eq!(reason, CancelReason::Interrupt);
}
