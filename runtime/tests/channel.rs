//! Trio's channel tests (`_tests/test_channel.py`) ported to scoro's public API, plus the
//! loss-free guarantees under cancellation.

use scoro::channel::{
    RecvError, SendError, Sender, TryRecvError, TrySendError, channel, unbounded,
};
use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelRequested, CancelScope, CoroutineCall, MaybeCancelled, nursery, structured};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Runs `op` while a sibling task waits for its turn; also reports whether the sibling ran
/// before `op` returned (whether `op` was a schedule point).
#[structured]
async fn with_sibling<F: Future>(op: CoroutineCall<F>) -> (F::Output, bool) {
    let ran = Cell::new(false);
    let out = nursery(async |n| -> Result<F::Output, CancelRequested> {
        n.start_soon(async { ran.set(true) });
        Ok(op.await)
    })
    .await;
    match out {
        Ok(v) => (v, ran.get()),
        Err(_) => unreachable!("nothing cancels this nursery"),
    }
}

#[scoro::test]
async fn test_channel() -> TestResult {
    let (s, r) = channel::<&str>(2);
    s.try_send("1")?;
    let (sent, yielded) = with_sibling(s.send("2")).await;
    sent?;
    assert!(yielded, "send is a checkpoint");
    assert_eq!(s.try_send("x"), Err(TrySendError::Full("x")));

    let (got, yielded) = with_sibling(r.recv()).await;
    assert_eq!(got, Ok("1"));
    assert!(yielded, "recv is a checkpoint");
    assert_eq!(r.try_recv(), Ok("2"));
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));

    s.try_send("last")?;
    s.close();
    assert_eq!(s.send("too late").await, Err(SendError::Closed("too late")));
    assert_eq!(
        s.try_send("too late"),
        Err(TrySendError::Closed("too late"))
    );
    // Cloning a closed handle gives a closed handle (Trio raises instead).
    assert_eq!(s.clone().try_send("x"), Err(TrySendError::Closed("x")));
    s.close();

    assert_eq!(r.try_recv(), Ok("last"));
    assert_eq!(r.recv().await, Err(RecvError::EndOfChannel));
    r.close();
    assert_eq!(r.recv().await, Err(RecvError::Closed));
    assert_eq!(r.try_recv(), Err(TryRecvError::Closed));
    r.close();
    Ok(())
}

#[scoro::test(autojump)]
async fn test_553() -> TestResult {
    let (s, r) = channel::<&str>(1);
    let scope = CancelScope::new().with_timeout(Duration::from_secs(10));
    let timeout = scope.handle();
    assert_eq!(scope.run(r.recv()).await, None);
    assert!(timeout.cancelled_caught());
    s.send("Test for PR #553").await?;
    assert_eq!(r.recv().await, Ok("Test for PR #553"));
    Ok(())
}

#[structured]
async fn producer(send_channel: Sender<u32>, i: u32) -> Result<(), SendError<u32>> {
    // The handle closes when this call drops it.
    for j in 3 * i..3 * (i + 1) {
        send_channel.send(j).await?;
    }
    Ok(())
}

#[scoro::test]
async fn test_channel_multiple_producers() -> TestResult {
    let (send_channel, receive_channel) = channel::<u32>(0);
    let got = nursery(async |n| -> Result<Vec<u32>, CancelRequested> {
        for i in 0..10 {
            // Each producer gets a clone; the original is closed below.
            let tx = send_channel.clone();
            n.start_soon(async move {
                producer(tx, i).await.map_err(|e| match e {
                    SendError::Cancelled(_, c) => c,
                    e => panic!("{e}"),
                })
            });
        }
        drop(send_channel);
        let mut got = Vec::new();
        while let Some(v) = receive_channel.next().await? {
            got.push(v);
        }
        Ok(got)
    })
    .await?;
    let mut got = got;
    got.sort();
    assert_eq!(got, (0..30).collect::<Vec<_>>());
    Ok(())
}

#[scoro::test]
async fn test_channel_multiple_consumers() -> TestResult {
    let successful_receivers = RefCell::new(BTreeSet::new());
    let received = RefCell::new(Vec::new());
    nursery(async |n| -> Result<(), CancelRequested> {
        let (send_channel, receive_channel) = channel::<u32>(1);
        for i in 0..5 {
            let (rx, successful_receivers, received) =
                (receive_channel.clone(), &successful_receivers, &received);
            n.start_soon(async move {
                while let Some(value) = rx.next().await? {
                    successful_receivers.borrow_mut().insert(i);
                    received.borrow_mut().push(value);
                }
                Ok::<(), CancelRequested>(())
            });
        }
        wait_all_tasks_blocked().await?;
        for i in 0..10 {
            send_channel.send(i).await.map_err(|e| match e {
                SendError::Cancelled(_, c) => c,
                e => panic!("{e}"),
            })?;
        }
        Ok(())
    })
    .await?;
    assert_eq!(successful_receivers.into_inner(), (0..5).collect());
    let received = received.into_inner();
    assert_eq!(received.len(), 10);
    assert_eq!(
        received.into_iter().collect::<BTreeSet<_>>(),
        (0..10).collect()
    );
    Ok(())
}

#[structured]
async fn send_block<E: Fn(&SendError<()>) -> bool>(s: &Sender<()>, expect: E) {
    let e = s.send(()).await.unwrap_err();
    assert!(expect(&e), "unexpected {e:?}");
}

#[scoro::test]
async fn test_close_basics() -> TestResult {
    // Closing a sender: a send blocked on it fails with Closed.
    let (s, r) = channel::<()>(0);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(send_block(&s, |e| *e == SendError::Closed(())));
        wait_all_tasks_blocked().await?;
        s.close();
        Ok(())
    })
    .await?;
    // ... and it's persistent,
    assert_eq!(s.try_send(()), Err(TrySendError::Closed(())));
    assert_eq!(s.send(()).await, Err(SendError::Closed(())));
    // ... and receivers get EndOfChannel.
    assert_eq!(r.try_recv(), Err(TryRecvError::EndOfChannel));
    assert_eq!(r.recv().await, Err(RecvError::EndOfChannel));

    // Closing the receiver: a blocked send fails with Disconnected.
    let (s, r) = channel::<()>(0);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(send_block(&s, |e| *e == SendError::Disconnected(())));
        wait_all_tasks_blocked().await?;
        r.close();
        Ok(())
    })
    .await?;
    assert_eq!(s.try_send(()), Err(TrySendError::Disconnected(())));
    assert_eq!(s.send(()).await, Err(SendError::Disconnected(())));

    // Closing a receiver: a receive blocked on it fails with Closed.
    let (_s2, r2) = channel::<u32>(0);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            assert_eq!(r2.recv().await, Err(RecvError::Closed));
        });
        wait_all_tasks_blocked().await?;
        r2.close();
        Ok(())
    })
    .await?;
    assert_eq!(r2.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(r2.recv().await, Err(RecvError::Closed));
    Ok(())
}

#[scoro::test]
async fn test_close_by_dropping() -> TestResult {
    // Dropping a handle is closing it (Trio's test_close_sync, with `drop` for `close`).
    let (s, r) = channel::<()>(0);
    let s2 = s.clone();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(send_block(&s, |e| *e == SendError::Disconnected(())));
        wait_all_tasks_blocked().await?;
        drop(r);
        Ok(())
    })
    .await?;
    assert_eq!(s2.try_send(()), Err(TrySendError::Disconnected(())));

    let (s, r) = channel::<()>(0);
    let r2 = r.clone();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            assert_eq!(r.recv().await, Err(RecvError::EndOfChannel));
        });
        wait_all_tasks_blocked().await?;
        drop(s);
        Ok(())
    })
    .await?;
    assert_eq!(r2.try_recv(), Err(TryRecvError::EndOfChannel));
    Ok(())
}

#[scoro::test]
async fn test_receive_channel_clone_and_close() -> TestResult {
    let (s, r) = channel::<()>(10);
    let r2 = r.clone();
    let r3 = r.clone();
    s.try_send(())?;
    r.close();
    drop(r2);
    // Clones of closed handles are closed.
    assert_eq!(r.clone().try_recv(), Err(TryRecvError::Closed));
    // Can still send: r3 is open.
    s.try_send(())?;
    r3.close();
    // Now the receiving side is really closed.
    assert_eq!(s.try_send(()), Err(TrySendError::Disconnected(())));
    Ok(())
}

#[scoro::test]
async fn test_close_multiple_send_handles() -> TestResult {
    // Closing one send handle only fails the sends on that handle.
    let (s1, r) = channel::<&str>(0);
    let s2 = s1.clone();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            assert_eq!(s1.send("nope").await, Err(SendError::Closed("nope")));
        });
        n.start_soon(async {
            assert_eq!(s2.send("ok").await, Ok(()));
        });
        wait_all_tasks_blocked().await?;
        s1.close();
        assert_eq!(r.recv().await, Ok("ok"));
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test]
async fn test_close_multiple_receive_handles() -> TestResult {
    let (s, r1) = channel::<&str>(0);
    let r2 = r1.clone();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            assert_eq!(r1.recv().await, Err(RecvError::Closed));
        });
        n.start_soon(async {
            assert_eq!(r2.recv().await, Ok("ok"));
        });
        wait_all_tasks_blocked().await?;
        r1.close();
        s.send("ok").await.map_err(|e| match e {
            SendError::Cancelled(_, c) => c,
            e => panic!("{e}"),
        })?;
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test]
async fn test_inf_capacity() -> TestResult {
    let (send, receive) = unbounded::<u32>();
    for i in 0..10 {
        send.try_send(i)?;
    }
    drop(send);
    let mut got = Vec::new();
    while let Some(i) = receive.next().await? {
        got.push(i);
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    Ok(())
}

#[scoro::test]
async fn test_channel_fairness() -> TestResult {
    // We can take back what we just sent, and send again, when nobody else is waiting.
    let (s, r) = channel::<Option<u32>>(1);
    s.try_send(Some(1))?;
    assert_eq!(r.try_recv(), Ok(Some(1)));
    s.try_send(Some(2))?;
    assert_eq!(r.try_recv(), Ok(Some(2)));

    // But a waiting receiver owns the value we send, so we cannot receive it ourselves even
    // though we run first.
    let result = Cell::new(None);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            result.set(Some(r.recv().await));
        });
        wait_all_tasks_blocked().await?;
        s.try_send(Some(2)).unwrap();
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        Ok(())
    })
    .await?;
    assert_eq!(result.get(), Some(Ok(Some(2))));

    // And for sending: freeing a slot while a sender waits gives the slot to that sender.
    let (s, r) = channel::<Option<u32>>(1);
    s.try_send(Some(1))?;
    assert_eq!(s.try_send(None), Err(TrySendError::Full(None)));
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            assert_eq!(s.send(Some(2)).await, Ok(()));
        });
        wait_all_tasks_blocked().await?;
        assert_eq!(r.try_recv(), Ok(Some(1)));
        assert_eq!(s.try_send(Some(3)), Err(TrySendError::Full(Some(3))));
        assert_eq!(r.recv().await, Ok(Some(2)));
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test]
async fn test_unbuffered() -> TestResult {
    let (s, r) = channel::<u32>(0);
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(s.try_send(1), Err(TrySendError::Full(1)));
    let sender_done = Cell::new(false);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            assert_eq!(s.send(1).await, Ok(()));
            sender_done.set(true);
        });
        let (got, yielded) = with_sibling(r.recv()).await;
        assert_eq!(got, Ok(1));
        assert!(yielded, "recv is a checkpoint");
        Ok(())
    })
    .await?;
    assert!(sender_done.get());
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    Ok(())
}

#[scoro::test]
async fn a_cancelled_send_hands_the_value_back() -> TestResult {
    let (s, r) = channel::<String>(0);
    let scope = CancelScope::new().with_timeout(Duration::from_millis(1));
    // Handle the precious value inside the scope: the body's value is not a cancellation, so
    // the scope returns it.
    let back = scope
        .run(async {
            match s.send("precious".to_string()).await {
                Ok(()) => None,
                Err(SendError::Cancelled(v, _)) => Some(v),
                Err(e) => panic!("{e}"),
            }
        })
        .await;
    assert_eq!(back, Some(Some("precious".to_string())));
    assert_eq!(
        r.try_recv(),
        Err(TryRecvError::Empty),
        "nothing was delivered"
    );
    Ok(())
}

#[scoro::test]
async fn a_receiver_handed_a_value_keeps_it_when_cancelled_in_the_same_step() -> TestResult {
    let (s, r) = channel::<u32>(0);
    let scope = CancelScope::new();
    let handle = scope.handle();
    let got = Cell::new(None);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            got.set(scope.run(r.recv()).await);
        });
        wait_all_tasks_blocked().await?;
        s.try_send(7).unwrap();
        handle.cancel();
        Ok(())
    })
    .await?;
    assert_eq!(
        got.get(),
        Some(Ok(7)),
        "the value won over the cancellation"
    );
    Ok(())
}

#[scoro::test]
async fn errors_display_and_report_cancellation() -> TestResult {
    let e: SendError<u32> = SendError::Closed(1);
    assert!(!e.is_cancel_requested());
    assert_eq!(e.to_string(), "send on a closed sender handle");
    assert_eq!(e.into_inner(), 1);
    assert!(!RecvError::EndOfChannel.is_cancel_requested());
    let (_s, r) = channel::<u32>(0);
    let scope = CancelScope::new();
    scope.handle().cancel();
    let cancelled = scope
        .run(async {
            let e = r.recv().await.unwrap_err();
            assert!(e.is_cancel_requested());
            assert!(e.to_string().starts_with("receive did not happen"));
            let io: std::io::Error = e.into();
            assert!(io.is_cancel_requested());
            Err::<(), _>(e)
        })
        .await;
    assert_eq!(cancelled, None);
    let eof: std::io::Error = RecvError::EndOfChannel.into();
    assert_eq!(eof.kind(), std::io::ErrorKind::UnexpectedEof);
    Ok(())
}
