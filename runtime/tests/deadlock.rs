//! Deadlock reports: a run in which every task is blocked and nothing can ever wake one ends
//! with a panic that says so and prints the task tree, instead of hanging. And the other side:
//! while anything could still wake a task (another thread holding a handle or a waker, a
//! worker-thread job, a timer, a signal listener, I/O), nothing is reported.
//!
//! The tests that expect no report end when a std thread wakes the run; that thread waits
//! until the runtime is about to block for good (an instrument's `before_io_wait(None)`), so
//! the run is really idle when the wake comes. The tests that expect a report fail at that same
//! point instead of hanging, should the report not come.

use scoro::lowlevel::{Abort, RuntimeHandle, suspend};
use scoro::observe::Instrument;
use scoro::sync::{Event, Lock};
use scoro::{Builder, CancelRequested, ErrorGroup, nursery, structured};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Tells a channel each time the run is about to wait for I/O with no timeout (idle for good,
/// unless something from outside wakes it).
struct OnIdle(mpsc::Sender<()>);

impl Instrument for OnIdle {
    fn before_io_wait(&self, timeout: Option<Duration>) {
        if timeout.is_none() {
            let _ = self.0.send(());
        }
    }
}

/// Fails the run where a deadlock should have been reported but the runtime went to wait.
struct MustNotWaitForever;

impl Instrument for MustNotWaitForever {
    fn before_io_wait(&self, timeout: Option<Duration>) {
        assert!(
            timeout.is_some(),
            "the run went to wait forever instead of reporting the deadlock"
        );
    }
}

/// Runs `main` on a runtime that must report a deadlock; returns the panic message.
fn deadlock_message<F: Future>(main: scoro::CoroutineCall<F>) -> String {
    let mut rt = Builder::new()
        .instrument(MustNotWaitForever)
        .build()
        .unwrap();
    let Err(panic) = catch_unwind(AssertUnwindSafe(|| rt.run(main))) else {
        panic!("the run ended without a deadlock report");
    };
    panic
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| panic!("a message, not {:?}", panic.type_id()))
}

// ----- reported ---------------------------------------------------------------------------

#[structured]
async fn wait_then_set(wait: &Event, set: &Event) -> Result<(), CancelRequested> {
    wait.wait().await?;
    set.set();
    Ok(())
}

#[structured]
async fn two_tasks_wait_for_each_other() -> Result<(), ErrorGroup<CancelRequested>> {
    let a = Event::new();
    let b = Event::new();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(wait_then_set(&a, &b));
        n.start_soon(wait_then_set(&b, &a));
        Ok(())
    })
    .await
}

#[test]
fn two_tasks_waiting_for_each_other_are_reported_with_the_tree() {
    let msg = deadlock_message(two_tasks_wait_for_each_other());
    assert!(
        msg.starts_with("scoro: deadlock: every task is blocked"),
        "{msg}"
    );
    // The tree: the main task in its nursery, both children blocked in `Event::wait`.
    assert!(
        msg.contains("scoro task tree: 3 tasks (0 running, 0 runnable, 3 blocked)"),
        "{msg}"
    );
    assert!(
        msg.contains("deadlock::two_tasks_wait_for_each_other [task"),
        "{msg}"
    );
    assert_eq!(
        msg.matches("deadlock::wait_then_set [task").count(),
        2,
        "{msg}"
    );
    assert!(
        msg.contains("started at runtime/tests/deadlock.rs:"),
        "{msg}"
    );
    assert_eq!(
        msg.matches("] blocked in scoro::sync::Event::wait").count(),
        2,
        "{msg}"
    );
    assert!(
        msg.contains("] blocked in scoro::nursery (waiting for its children)"),
        "{msg}"
    );
}

#[structured]
async fn lock_twice() -> Result<(), CancelRequested> {
    let lock = Lock::new(0);
    let _first = lock.lock().await?;
    let _second = lock.lock().await?;
    Ok(())
}

#[test]
fn a_task_locking_a_lock_it_holds_is_reported() {
    let msg = deadlock_message(lock_twice());
    assert!(
        msg.contains("deadlock::lock_twice [task 0.0] blocked in scoro::sync::Lock::lock"),
        "{msg}"
    );
}

#[structured]
async fn receive_from_own_sender() -> Result<(), CancelRequested> {
    let (tx, rx) = scoro::channel::channel::<u32>(1);
    let _v = rx.recv().await;
    drop(tx);
    Ok(())
}

#[test]
fn a_receiver_whose_sender_is_held_by_the_same_blocked_task_is_reported() {
    let msg = deadlock_message(receive_from_own_sender());
    assert!(
        msg.contains(
            "receive_from_own_sender [task 0.0] blocked in scoro::channel::Receiver::recv"
        ),
        "{msg}"
    );
}

#[test]
fn a_stuck_run_on_a_mock_clock_with_autojump_is_reported() {
    // No deadline to jump to: the mock clock cannot help either.
    let mut rt = Builder::new()
        .clock(scoro::testing::MockClock::autojump(Duration::ZERO))
        .build()
        .unwrap();
    let panic = catch_unwind(AssertUnwindSafe(|| rt.run(two_tasks_wait_for_each_other())))
        .expect_err("a deadlock report");
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("the mock clock has no deadline to jump to"),
        "{msg}"
    );
}

#[structured]
async fn suspend_with_the_wakeup_dropped() -> Result<(), CancelRequested> {
    suspend::<(), _, _>(drop, || Abort::Succeeded).await
}

#[test]
fn a_suspended_task_whose_wakeup_is_gone_is_reported() {
    let msg = deadlock_message(suspend_with_the_wakeup_dropped());
    assert!(msg.contains("blocked in scoro::lowlevel::suspend"), "{msg}");
}

#[structured]
async fn deadlock_inside_a_timeout_that_never_fires() -> Result<(), ErrorGroup<CancelRequested>> {
    // A scope without a deadline around the deadlock: nothing armed.
    scoro::CancelScope::new()
        .run(two_tasks_wait_for_each_other())
        .await
        .unwrap_or(Ok(()))
}

#[test]
fn a_deadlock_under_a_cancel_scope_without_deadline_is_reported() {
    let msg = deadlock_message(deadlock_inside_a_timeout_that_never_fires());
    assert!(msg.contains("cancel scope"), "{msg}");
}

// ----- not reported -----------------------------------------------------------------------

/// A runtime that tells `idle` each time it is about to wait with no timeout.
fn runtime_telling(idle: mpsc::Sender<()>) -> scoro::Runtime {
    Builder::new().instrument(OnIdle(idle)).build().unwrap()
}

thread_local! {
    static EVENT: &'static Event = Box::leak(Box::new(Event::new()));
}

#[structured]
async fn wait_for_the_event(handle: mpsc::Sender<RuntimeHandle>) -> Result<(), CancelRequested> {
    let event = EVENT.with(|e| *e);
    handle.send(RuntimeHandle::current()).unwrap();
    event.wait().await
}

#[test]
fn a_task_woken_later_through_a_runtime_handle_on_another_thread_is_not_reported() {
    let (idle_tx, idle_rx) = mpsc::channel();
    let (handle_tx, handle_rx) = mpsc::channel::<RuntimeHandle>();
    let outside = std::thread::spawn(move || {
        let handle = handle_rx.recv().unwrap();
        idle_rx.recv().unwrap();
        // The run is idle; this handle is what can still wake it.
        handle.run_sync_soon(|| EVENT.with(|e| e.set())).unwrap();
    });
    runtime_telling(idle_tx)
        .run(wait_for_the_event(handle_tx))
        .unwrap();
    outside.join().unwrap();
}

#[structured]
async fn wait_for_a_wakeup(
    sent: mpsc::Sender<scoro::lowlevel::Wakeup<u32>>,
) -> Result<u32, CancelRequested> {
    suspend(|wakeup| sent.send(wakeup).unwrap(), || Abort::Failed).await
}

#[test]
fn a_task_woken_later_through_a_wakeup_on_another_thread_is_not_reported() {
    let (idle_tx, idle_rx) = mpsc::channel();
    let (wakeup_tx, wakeup_rx) = mpsc::channel::<scoro::lowlevel::Wakeup<u32>>();
    let outside = std::thread::spawn(move || {
        let wakeup = wakeup_rx.recv().unwrap();
        idle_rx.recv().unwrap();
        assert!(wakeup.wake(7));
    });
    let v = runtime_telling(idle_tx)
        .run(wait_for_a_wakeup(wakeup_tx))
        .unwrap();
    assert_eq!(v, 7);
    outside.join().unwrap();
}

/// A foreign future that hands its waker to another thread and is ready on its second poll.
struct HandsOutItsWaker {
    to: mpsc::Sender<Waker>,
    polled: bool,
}

impl Future for HandsOutItsWaker {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.polled {
            return Poll::Ready(9);
        }
        self.polled = true;
        self.to.send(cx.waker().clone()).unwrap();
        Poll::Pending
    }
}

#[structured]
async fn wait_for_a_foreign_future(to: mpsc::Sender<Waker>) -> Result<u32, CancelRequested> {
    scoro::compat::future(HandsOutItsWaker { to, polled: false }).await
}

#[test]
fn a_foreign_future_whose_waker_another_thread_holds_is_not_reported() {
    let (idle_tx, idle_rx) = mpsc::channel();
    let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
    let outside = std::thread::spawn(move || {
        let waker = waker_rx.recv().unwrap();
        idle_rx.recv().unwrap();
        waker.wake();
    });
    let v = runtime_telling(idle_tx)
        .run(wait_for_a_foreign_future(waker_tx))
        .unwrap();
    assert_eq!(v, 9);
    outside.join().unwrap();
}

#[structured]
async fn wait_for_a_worker(release: mpsc::Receiver<u32>) -> Result<u32, CancelRequested> {
    scoro::to_thread::run_sync(move || release.recv().unwrap()).await
}

#[test]
fn a_task_waiting_for_a_worker_thread_is_not_reported() {
    let (idle_tx, idle_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let outside = std::thread::spawn(move || {
        idle_rx.recv().unwrap();
        release_tx.send(5).unwrap();
    });
    let v = runtime_telling(idle_tx)
        .run(wait_for_a_worker(release_rx))
        .unwrap();
    assert_eq!(v, 5);
    outside.join().unwrap();
}

#[structured]
async fn sleep_then_set(event: &Event) -> Result<(), CancelRequested> {
    scoro::sleep(Duration::from_secs(3600)).await?;
    event.set();
    Ok(())
}

#[structured]
async fn woken_by_a_timer() -> Result<(), ErrorGroup<CancelRequested>> {
    let event = Event::new();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(sleep_then_set(&event));
        event.wait().await
    })
    .await
}

#[test]
fn tasks_waiting_for_a_pending_timer_are_not_reported() {
    let mut rt = Builder::new()
        .clock(scoro::testing::MockClock::autojump(Duration::ZERO))
        .build()
        .unwrap();
    rt.run(woken_by_a_timer()).unwrap();
}

#[structured]
async fn wait_for_sigusr2(ready: mpsc::Sender<()>) -> std::io::Result<()> {
    let mut signals = scoro::signal::open_signal_receiver(&[scoro::signal::SIGUSR2])?;
    ready.send(()).unwrap();
    signals.recv().await?;
    Ok(())
}

#[test]
fn a_task_waiting_for_a_signal_is_not_reported() {
    let (idle_tx, idle_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let outside = std::thread::spawn(move || {
        ready_rx.recv().unwrap();
        idle_rx.recv().unwrap();
        // SAFETY: `getpid` and `kill` have no preconditions; SIGUSR2 is handled by the
        // runtime's receiver while it is open.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGUSR2);
        }
    });
    runtime_telling(idle_tx)
        .run(wait_for_sigusr2(ready_tx))
        .unwrap();
    outside.join().unwrap();
}

#[structured]
async fn accept_one(addr: mpsc::Sender<std::net::SocketAddr>) -> std::io::Result<()> {
    let listener = scoro::net::TcpListener::bind("127.0.0.1:0").await?;
    addr.send(listener.local_addr()?).unwrap();
    let (_stream, _) = listener.accept().await?;
    Ok(())
}

#[test]
fn a_task_waiting_for_io_is_not_reported() {
    let (idle_tx, idle_rx) = mpsc::channel();
    let (addr_tx, addr_rx) = mpsc::channel::<std::net::SocketAddr>();
    let outside = std::thread::spawn(move || {
        let addr = addr_rx.recv().unwrap();
        idle_rx.recv().unwrap();
        std::net::TcpStream::connect(addr).unwrap();
    });
    runtime_telling(idle_tx).run(accept_one(addr_tx)).unwrap();
    outside.join().unwrap();
}

/// A foreign future whose waker another thread uses (and drops) as soon as it gets it: the
/// wake races with the runtime's look at whether it is stuck.
struct WokenByAThread<'a> {
    to: &'a mpsc::Sender<Waker>,
    polled: bool,
}

impl Future for WokenByAThread<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            return Poll::Ready(());
        }
        self.polled = true;
        self.to.send(cx.waker().clone()).unwrap();
        Poll::Pending
    }
}

#[structured]
async fn many_thread_wakes(n: u32, to: mpsc::Sender<Waker>) -> Result<(), CancelRequested> {
    for _ in 0..n {
        scoro::compat::future(WokenByAThread {
            to: &to,
            polled: false,
        })
        .await?;
    }
    Ok(())
}

#[test]
fn a_wake_racing_with_the_stuck_check_is_never_taken_for_a_deadlock() {
    // The other thread wakes and drops each waker while the runtime may be looking: the look
    // must count wakers before it takes the injected wakes, or it can miss both.
    let (tx, rx) = mpsc::channel::<Waker>();
    let waker = std::thread::spawn(move || {
        for w in rx {
            w.wake();
        }
    });
    scoro::run(many_thread_wakes(if cfg!(miri) { 20 } else { 20_000 }, tx)).unwrap();
    waker.join().unwrap();
}
