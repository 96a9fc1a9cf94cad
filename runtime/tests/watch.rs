//! `channel::watch`: receivers see the newest value, `changed` wakes every receiver, values
//! in between are skipped, the sender's drop ends `changed`, a send nobody can receive gives
//! the value back, and a cancelled `changed` loses nothing (after tokio's `sync_watch` tests).

use scoro::channel::watch::{self, RecvError, SendError};
use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelRequested, CancelScope, nursery, structured};
use std::cell::{Cell, RefCell};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[scoro::test]
async fn receivers_see_the_latest_value_and_skip_intermediate_ones() -> TestResult {
    let (tx, rx) = watch::channel(0);
    assert_eq!(*rx.borrow(), 0);
    assert!(!rx.borrow().has_changed());
    for v in 1..=5 {
        tx.send(v)?;
    }
    assert_eq!(*rx.borrow(), 5);
    rx.changed().await?; // one change reported for the five sends
    assert_eq!(*rx.borrow_and_update(), 5);
    let scope = CancelScope::new();
    let handle = scope.handle();
    let out = scope
        .run(async {
            handle.cancel();
            rx.changed().await
        })
        .await;
    assert!(out.is_none(), "nothing newer: it waits (until cancelled)");
    assert_eq!(*tx.borrow(), 5);
    Ok(())
}

#[structured]
async fn follow(
    rx: watch::Receiver<u32>,
    id: u32,
    log: &RefCell<Vec<(u32, u32)>>,
) -> Result<(), CancelRequested> {
    loop {
        match rx.changed().await {
            Ok(()) => log.borrow_mut().push((id, *rx.borrow())),
            Err(RecvError::Closed) => return Ok(()),
            Err(RecvError::Cancelled(c)) => return Err(c),
        }
    }
}

#[scoro::test]
async fn changed_wakes_every_receiver_and_the_senders_drop_ends_it() -> TestResult {
    let (tx, rx) = watch::channel(0);
    let log = RefCell::new(Vec::new());
    nursery(async |n| -> Result<(), CancelRequested> {
        for id in 1..=3 {
            n.start_soon(follow(rx.clone(), id, &log));
        }
        wait_all_tasks_blocked().await?;
        assert!(log.borrow().is_empty());
        tx.send(1).expect("receivers exist");
        wait_all_tasks_blocked().await?;
        assert_eq!(*log.borrow(), [(1, 1), (2, 1), (3, 1)]);
        // Two sends before the receivers run: they see only the newest.
        tx.send(2).expect("receivers exist");
        tx.send(3).expect("receivers exist");
        wait_all_tasks_blocked().await?;
        assert_eq!(log.borrow()[3..], [(1, 3), (2, 3), (3, 3)]);
        tx.send(4).expect("receivers exist");
        drop(tx); // the last value is still reported, then `changed` ends
        Ok(())
    })
    .await?;
    assert_eq!(log.borrow()[6..], [(1, 4), (2, 4), (3, 4)]);
    assert!(rx.is_closed());
    assert_eq!(rx.changed().await, Ok(()), "rx itself had not seen 4");
    assert_eq!(rx.changed().await, Err(RecvError::Closed));
    Ok(())
}

#[scoro::test]
async fn send_without_receivers_gives_the_value_back() -> TestResult {
    let (tx, rx) = watch::channel(String::from("a"));
    let rx2 = rx.clone();
    drop(rx);
    assert_eq!(tx.receiver_count(), 1);
    tx.send("b".into())?;
    drop(rx2);
    assert!(tx.is_closed());
    assert_eq!(tx.send("c".into()), Err(SendError(String::from("c"))));
    assert_eq!(*tx.borrow(), "b", "a failed send changes nothing");
    Ok(())
}

#[scoro::test]
async fn a_cancelled_changed_loses_nothing() -> TestResult {
    let (tx, rx) = watch::channel(0);
    let scope = CancelScope::new();
    let handle = scope.handle();
    let cancelled = Cell::new(false);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            cancelled.set(scope.run(rx.changed()).await.is_none());
        });
        wait_all_tasks_blocked().await?;
        handle.cancel();
        wait_all_tasks_blocked().await?;
        Ok(())
    })
    .await?;
    assert!(cancelled.get());
    tx.send(1)?;
    // Cancelled before it could wait: the change stays unseen.
    let scope = CancelScope::new();
    scope.handle().cancel();
    assert!(scope.run(rx.changed()).await.is_none());
    assert!(rx.borrow().has_changed());
    assert_eq!(rx.changed().await, Ok(()));
    assert_eq!(*rx.borrow(), 1);

    // Woken by a send and cancelled at the same time: the change is reported.
    let scope = CancelScope::new();
    let handle = scope.handle();
    let got = Cell::new(None);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(async {
            got.set(scope.run(rx.changed()).await);
        });
        wait_all_tasks_blocked().await?;
        tx.send(2).expect("rx exists");
        handle.cancel();
        Ok(())
    })
    .await?;
    assert_eq!(got.get(), Some(Ok(())));
    assert!(!rx.borrow().has_changed());
    Ok(())
}
