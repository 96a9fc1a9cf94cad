//! Ctrl-C while `run` is active (its own test binary: signal dispositions are process-wide, so
//! nothing else may run a runtime or install handlers at the same time).
//!
//! Trio delivers `KeyboardInterrupt` to the main task; scoro cancels the root scope with reason
//! `CancelReason::Interrupt`, so every task unwinds through its cleanup and `run` returns.

use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelReason, CancelRequested, ErrorGroup, nursery, sleep_forever, structured};
use std::cell::RefCell;
use std::io;

type Log = RefCell<Vec<(String, CancelReason)>>;

struct Cleanup<'a>(&'a RefCell<Vec<String>>, String);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        self.0.borrow_mut().push(self.1.clone());
    }
}

#[structured]
async fn blocked(name: String, seen: &Log, cleaned: &RefCell<Vec<String>>) -> io::Result<()> {
    let _cleanup = Cleanup(cleaned, name.clone());
    let Err(c) = sleep_forever().await;
    seen.borrow_mut().push((name, c.reason()));
    Err(c.into())
}

fn send_sigint_to_self() {
    std::thread::spawn(|| {
        // SAFETY: `getpid` and `kill` have no preconditions; SIGINT is handled by the runtime
        // while `run` is active.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGINT);
        }
    });
}

#[structured]
async fn interrupted(
    seen: &Log,
    cleaned: &RefCell<Vec<String>>,
) -> Result<(), ErrorGroup<io::Error>> {
    nursery(async |n| -> io::Result<()> {
        n.start_soon(blocked("child".to_owned(), seen, cleaned));
        n.start_soon(nursery(async |inner| -> io::Result<()> {
            inner.start_soon(blocked("grandchild".to_owned(), seen, cleaned));
            blocked("inner body".to_owned(), seen, cleaned).await
        }));
        wait_all_tasks_blocked().await?;
        send_sigint_to_self();
        blocked("body".to_owned(), seen, cleaned).await?;
        Ok(())
    })
    .await
}

fn sigint_disposition() -> libc::sighandler_t {
    // SAFETY: a zeroed `sigaction` is valid to be written by `sigaction`, which only reads the
    // current disposition here (no new action).
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

// Ctrl-C with every task blocked: each task sees `Err(CancelRequested)` with reason
// `Interrupt` and runs its cleanup; `run` returns the cancellation (the group of the outermost
// nursery holds it); afterwards SIGINT has its default disposition again.
#[test]
fn test_ctrl_c_cancels_every_task() {
    // A test run started as a background job of a non-interactive shell inherits SIGINT
    // ignored; this test is about the default disposition, so start from it.
    // SAFETY: `signal` has no memory-safety preconditions; SIG_DFL is a valid disposition.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
    assert_eq!(sigint_disposition(), libc::SIG_DFL);
    let seen = Log::default();
    let cleaned = RefCell::new(Vec::new());
    let r = scoro::run(interrupted(&seen, &cleaned));
    let group = r.unwrap_err();
    assert_eq!(group.len(), 1);
    let c = CancelRequested::try_from(group.first()).unwrap();
    assert_eq!(c.reason(), CancelReason::Interrupt);
    let mut seen = seen.into_inner();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let expected: Vec<_> = ["body", "child", "grandchild", "inner body"]
        .map(|name| (name.to_owned(), CancelReason::Interrupt))
        .into();
    assert_eq!(seen, expected);
    let mut cleaned = cleaned.into_inner();
    cleaned.sort();
    assert_eq!(cleaned, ["body", "child", "grandchild", "inner body"]);
    assert_eq!(
        sigint_disposition(),
        libc::SIG_DFL,
        "the handler is removed once the run is over"
    );
}
