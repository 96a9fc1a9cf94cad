//! Every name of the public API contract (API.md) resolves, with the signatures that outside
//! code relies on. A rename or a removed item fails to compile here.

#![allow(unused_imports, dead_code, clippy::type_complexity)]

use scoro::channel::{
    Receiver, RecvError, SendError, Sender, TryRecvError, TrySendError, channel, unbounded,
};
use scoro::io::{BufReader, Read, Write, copy};
use scoro::lowlevel::{
    Abort, ParkingLot, RunFinished, RuntimeHandle, TaskInfo, Wakeup, current_task, suspend,
    wait_readable, wait_writable,
};
use scoro::net::{
    TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream, open_tcp_stream, serve_tcp,
};
use scoro::signal::{SignalReceiver, open_signal_receiver, wait_for_ctrl_c};
use scoro::sync::{
    CapacityLimiter, CapacityPermit, Condition, Event, Lock, LockGuard, Semaphore, SemaphorePermit,
};
use scoro::testing::{MockClock, wait_all_tasks_blocked};
use scoro::{
    Builder, CancelHandle, CancelReason, CancelRequested, CancelScope, CoroutineCall, ErrorGroup,
    IntoTaskResult, MaybeCancelled, Nursery, Runtime, TaskStatus, TooSlow, checkpoint,
    checkpoint_if_cancelled, current_effective_deadline, current_time, fail_after, fail_at,
    join_all, move_on_after, move_on_at, nursery, race, run, sleep, sleep_forever, sleep_until,
};
use std::time::{Duration, Instant};

/// The cancel reasons of the contract.
fn reasons() -> [CancelReason; 5] {
    [
        CancelReason::Explicit,
        CancelReason::Deadline,
        CancelReason::SiblingFailed,
        CancelReason::Interrupt,
        CancelReason::Shutdown,
    ]
}

/// The error enums' variants of the contract.
fn variants(c: CancelRequested) {
    let _: [SendError<u8>; 3] = [
        SendError::Cancelled(1, c),
        SendError::Disconnected(1),
        SendError::Closed(1),
    ];
    let _: [RecvError; 3] = [
        RecvError::Cancelled(c),
        RecvError::EndOfChannel,
        RecvError::Closed,
    ];
    let _: [TrySendError<u8>; 3] = [
        TrySendError::Full(1),
        TrySendError::Disconnected(1),
        TrySendError::Closed(1),
    ];
    let _: [TryRecvError; 3] = [
        TryRecvError::Empty,
        TryRecvError::EndOfChannel,
        TryRecvError::Closed,
    ];
}

/// Conversions of the contract.
fn conversions(c: CancelRequested, g: ErrorGroup<std::io::Error>) {
    let e: std::io::Error = c.into();
    let _: Result<CancelRequested, ()> = CancelRequested::try_from(&e);
    let _: std::io::Error = TooSlow.into();
    let _: std::io::Error = g.into();
    fn is_error<E: std::error::Error>() {}
    is_error::<CancelRequested>();
    is_error::<TooSlow>();
    is_error::<ErrorGroup<std::io::Error>>();
    fn maybe_cancelled<M: MaybeCancelled>() {}
    maybe_cancelled::<CancelRequested>();
    maybe_cancelled::<std::io::Error>();
    maybe_cancelled::<Result<u8, CancelRequested>>();
    maybe_cancelled::<Option<CancelRequested>>();
    maybe_cancelled::<ErrorGroup<CancelRequested>>();
    maybe_cancelled::<RecvError>();
    maybe_cancelled::<SendError<u8>>();
    maybe_cancelled::<TooSlow>();
    maybe_cancelled::<std::convert::Infallible>();
    maybe_cancelled::<()>();
    maybe_cancelled::<Box<dyn std::error::Error + Send + Sync>>();
    fn task_result<T: IntoTaskResult<std::io::Error>>() {}
    task_result::<()>();
    task_result::<Result<(), std::io::Error>>();
    task_result::<Result<std::convert::Infallible, CancelRequested>>();
}

#[scoro::structured]
async fn uses(clock: &MockClock) -> Result<(), CancelRequested> {
    let _: Instant = current_time();
    let _: Option<Instant> = current_effective_deadline();
    checkpoint().await?;
    checkpoint_if_cancelled().await?;
    sleep(Duration::ZERO).await?;
    sleep_until(current_time()).await?;
    let scope = CancelScope::new()
        .with_deadline(current_time() + Duration::from_secs(1))
        .with_timeout(Duration::from_secs(1))
        .with_shield(false);
    let h: CancelHandle = scope.handle();
    let _: Option<Result<(), CancelRequested>> = scope.run(checkpoint()).await;
    let _ = (h.cancel_called(), h.cancelled_caught(), h.deadline());
    h.set_deadline(None);
    h.set_shield(false);
    h.cancel();
    let _: Option<Result<(), CancelRequested>> = move_on_after(Duration::ZERO, checkpoint()).await;
    let _: Option<Result<(), CancelRequested>> = move_on_at(current_time(), checkpoint()).await;
    let _: Result<Result<(), CancelRequested>, TooSlow> =
        fail_after(Duration::from_secs(1), checkpoint()).await;
    let _: Result<Result<(), CancelRequested>, TooSlow> =
        fail_at(current_time(), checkpoint()).await;
    let r: Result<u8, ErrorGroup<CancelRequested>> =
        nursery(async |n: &Nursery<'_, '_, CancelRequested>| {
            n.start_soon(checkpoint());
            let v: u8 = n
                .start(|status: TaskStatus<u8>| async move {
                    status.started(3);
                    Ok::<(), CancelRequested>(())
                })
                .await?;
            let _: CancelHandle = n.cancel_handle();
            n.cancel();
            Ok(v)
        })
        .await;
    let _ = r.map_err(|g| (g.first().reason(), g.len(), g.iter().count(), g.into_vec()));
    let _: Result<Vec<()>, ErrorGroup<CancelRequested>> = join_all([checkpoint()]).await;
    let _: Result<(), ErrorGroup<CancelRequested>> = race([checkpoint()]).await;
    wait_all_tasks_blocked().await?;
    clock.jump(Duration::ZERO);
    let _: TaskInfo = current_task();
    let _: RuntimeHandle = RuntimeHandle::current();
    let lot = ParkingLot::new();
    let _ = (lot.unpark(1), lot.unpark_all(), lot.len());
    let _: Result<u8, CancelRequested> = suspend(
        |w: Wakeup<u8>| {
            w.wake(1);
        },
        || Abort::Succeeded,
    )
    .await;
    Ok(())
}

#[test]
fn the_contract_runs() {
    let _ = reasons();
    let clock = MockClock::autojump(Duration::ZERO);
    let _also: MockClock = MockClock::new();
    let mut rt: Runtime = Builder::new().clock(clock.clone()).build().unwrap();
    rt.run(uses(&clock)).unwrap();
    let _: () = run(async_unit());
}

#[scoro::structured]
async fn async_unit() {}
