//! Signal receivers and handlers with SIGUSR1 and SIGUSR2 (SIGINT has test binaries of its
//! own, because a SIGINT cancels every runtime of the process that does not listen for it).
//! Signals are process-wide, so these tests take turns.
#![allow(
    clippy::await_holding_lock,
    reason = "the turn lock serializes test threads; each test holds it for its whole run"
)]

use scoro::signal::{SIGUSR1, SIGUSR2, open_signal_receiver, set_handler};
use scoro::{move_on_after, testing::wait_all_tasks_blocked};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

static TURN: Mutex<()> = Mutex::new(());

fn take_turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn raise(sig: i32) {
    // SAFETY: raising a signal is always memory-safe; the tests hold a receiver or handler
    // for `sig` while they raise it.
    let r = unsafe { libc::raise(sig) };
    assert_eq!(r, 0);
}

/// The disposition of `sig` right now.
fn disposition(sig: i32) -> libc::sighandler_t {
    // SAFETY: a null `act` only reads the current action into `old`, a valid out-pointer.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

#[scoro::test]
async fn a_raised_signal_reaches_the_receiver() -> io::Result<()> {
    let _turn = take_turn();
    let mut rx = open_signal_receiver(&[SIGUSR1])?;
    raise(SIGUSR1);
    assert_eq!(rx.recv().await?, SIGUSR1);
    assert_eq!(rx.pending(), 0);
    Ok(())
}

#[scoro::test]
async fn duplicates_are_coalesced_and_order_is_kept() -> io::Result<()> {
    let _turn = take_turn();
    let mut rx = open_signal_receiver(&[SIGUSR1, SIGUSR2, SIGUSR1])?;
    raise(SIGUSR2);
    raise(SIGUSR1);
    raise(SIGUSR2);
    raise(SIGUSR1);
    assert_eq!(rx.pending(), 2);
    assert_eq!(rx.recv().await?, SIGUSR2);
    assert_eq!(rx.recv().await?, SIGUSR1);
    assert_eq!(rx.pending(), 0);
    Ok(())
}

/// Trio's `test_open_signal_receiver_no_starvation`: with two signals always pending, the
/// receiver alternates between them instead of reporting one over and over.
#[scoro::test]
async fn a_busy_signal_does_not_starve_another() -> io::Result<()> {
    let _turn = take_turn();
    let mut rx = open_signal_receiver(&[SIGUSR1, SIGUSR2])?;
    raise(SIGUSR1);
    raise(SIGUSR2);
    let mut previous = None;
    for _ in 0..10 {
        let sig = rx.recv().await?;
        assert!(sig == SIGUSR1 || sig == SIGUSR2);
        assert_ne!(Some(sig), previous);
        previous = Some(sig);
        raise(sig);
    }
    // Receive what is left, or dropping the receiver would raise it again.
    while rx.pending() > 0 {
        rx.recv().await?;
    }
    Ok(())
}

#[scoro::test]
async fn a_waiting_receiver_wakes_up() -> io::Result<()> {
    let _turn = take_turn();
    let mut rx = open_signal_receiver(&[SIGUSR2])?;
    let got = scoro::nursery(async |n| -> io::Result<i32> {
        n.start_soon(async {
            wait_all_tasks_blocked().await?;
            // From another thread, as a real signal would come.
            std::thread::spawn(|| raise(SIGUSR2)).join().unwrap();
            Ok::<(), scoro::CancelRequested>(())
        });
        Ok(rx.recv().await?)
    })
    .await?;
    assert_eq!(got, SIGUSR2);
    Ok(())
}

#[scoro::test(autojump)]
async fn a_cancelled_recv_loses_no_signal() -> io::Result<()> {
    let _turn = take_turn();
    let mut rx = open_signal_receiver(&[SIGUSR1])?;
    assert!(
        move_on_after(Duration::from_secs(1), rx.recv())
            .await
            .is_none()
    );
    raise(SIGUSR1);
    let scope = scoro::CancelScope::new();
    scope.handle().cancel();
    assert!(scope.run(rx.recv()).await.is_none(), "recv is a checkpoint");
    assert_eq!(rx.recv().await?, SIGUSR1, "the signal stayed queued");
    Ok(())
}

#[scoro::test]
async fn bad_signal_lists_are_errors() {
    let _turn = take_turn();
    for bad in [
        &[][..],
        &[libc::SIGKILL],
        &[libc::SIGSEGV],
        &[0],
        &[999],
        &[-3],
    ] {
        let e = open_signal_receiver(bad).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}: {e}");
        assert!(set_handler(bad, |_| {}).is_err());
    }
}

#[scoro::test]
async fn dropping_the_last_listener_restores_the_previous_disposition() -> io::Result<()> {
    let _turn = take_turn();
    let before = disposition(SIGUSR2);
    let rx = open_signal_receiver(&[SIGUSR2])?;
    let handler = set_handler(&[SIGUSR2], |_| {})?;
    assert_ne!(disposition(SIGUSR2), before);
    drop(rx);
    assert_ne!(disposition(SIGUSR2), before, "the handler still listens");
    drop(handler);
    assert_eq!(disposition(SIGUSR2), before);
    Ok(())
}

#[scoro::test]
async fn a_handler_runs_on_the_runtime_thread() -> io::Result<()> {
    let _turn = take_turn();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let runtime_thread = std::thread::current().id();
    let (tx, rx) = std::sync::mpsc::channel();
    let _handler = set_handler(&[SIGUSR1], move |sig| {
        assert_eq!(sig, SIGUSR1);
        tx.send(std::thread::current().id()).unwrap();
        seen.fetch_add(1, Ordering::SeqCst);
    })?;
    raise(SIGUSR1);
    while calls.load(Ordering::SeqCst) == 0 {
        scoro::sleep(Duration::from_millis(1)).await?;
    }
    assert_eq!(rx.recv().unwrap(), runtime_thread);
    Ok(())
}

#[scoro::test]
async fn pending_signals_are_raised_again_when_the_receiver_is_dropped() -> io::Result<()> {
    let _turn = take_turn();
    let mut outer = open_signal_receiver(&[SIGUSR1])?;
    let inner = open_signal_receiver(&[SIGUSR1])?;
    raise(SIGUSR1);
    assert_eq!(inner.pending(), 1);
    assert_eq!(outer.recv().await?, SIGUSR1);
    // Dropping `inner` raises its pending signal again, and `outer` hears it.
    drop(inner);
    assert_eq!(outer.recv().await?, SIGUSR1);
    Ok(())
}
