//! Property test: random producers and consumers, with random delays and random timeouts
//! around every send and receive, under the mock clock. Whatever the schedule, every value a
//! producer offers is either received exactly once or handed back to that producer in
//! `SendError::Cancelled`, never both and never neither.

use proptest::prelude::*;
use scoro::channel::{Receiver, SendError, Sender, channel};
use scoro::testing::MockClock;
use scoro::{Builder, CancelRequested, MaybeCancelled, move_on_after, nursery, structured};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

/// One operation of a producer or consumer: wait `delay_ms`, then send (or receive) under a
/// timeout of `timeout_ms` (none: wait as long as it takes).
#[derive(Clone, Copy, Debug)]
struct Step {
    delay_ms: u64,
    timeout_ms: Option<u64>,
}

#[derive(Clone, Debug)]
struct Plan {
    capacity: usize,
    producers: Vec<Vec<Step>>,
    /// Consumer 0 runs until the channel ends; the others stop (closing their handle) after
    /// their steps.
    consumers: Vec<Vec<Step>>,
    /// Steps of consumer 0 are cycled through until the channel ends.
    cycle: Vec<Step>,
}

/// Timeouts are at least 1 ms: a zero timeout fails before it blocks, so a consumer looping
/// on it would never let the mock clock move (a livelock, in Trio as here).
fn step() -> impl Strategy<Value = Step> {
    (0u64..4, prop::option::weighted(0.6, 1u64..4)).prop_map(|(delay_ms, timeout_ms)| Step {
        delay_ms,
        timeout_ms,
    })
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        0usize..4,
        prop::collection::vec(prop::collection::vec(step(), 0..12), 1..4),
        prop::collection::vec(prop::collection::vec(step(), 0..12), 0..3),
        prop::collection::vec(step(), 1..6),
    )
        .prop_map(|(capacity, producers, consumers, cycle)| Plan {
            capacity,
            producers,
            consumers,
            cycle,
        })
}

/// What happened to each value.
#[derive(Debug, Default)]
struct Ledger {
    delivered: BTreeMap<u32, u32>,
    handed_back: BTreeMap<u32, u32>,
    received: BTreeMap<u32, u32>,
}

fn bump(map: &RefCell<Ledger>, pick: fn(&mut Ledger) -> &mut BTreeMap<u32, u32>, v: u32) {
    *pick(&mut map.borrow_mut()).entry(v).or_default() += 1;
}

#[structured]
async fn produce(tx: Sender<u32>, id: u32, steps: Vec<Step>, ledger: &RefCell<Ledger>) {
    for (i, s) in steps.into_iter().enumerate() {
        let v = id * 1000 + i as u32;
        if scoro::sleep(Duration::from_millis(s.delay_ms))
            .await
            .is_err()
        {
            unreachable!("nothing cancels the producers' scope");
        }
        let outcome = match s.timeout_ms {
            // The body handles the cancellation itself (it keeps the value), so the scope
            // hands back its real outcome.
            Some(t) => move_on_after(Duration::from_millis(t), send_one(&tx, v))
                .await
                .expect("a send that handles its cancellation returns a value"),
            None => send_one(&tx, v).await,
        };
        match outcome {
            Ok(()) => bump(ledger, |l| &mut l.delivered, v),
            Err(HandedBack(back)) => {
                assert_eq!(back, v, "the value handed back is the one sent");
                bump(ledger, |l| &mut l.handed_back, v);
            }
        }
    }
}

/// A value a cancelled send handed back. Not a cancellation itself: a scope around the send
/// passes it on instead of swallowing it.
#[derive(Debug, PartialEq)]
struct HandedBack(u32);

impl MaybeCancelled for HandedBack {
    fn is_cancel_requested(&self) -> bool {
        false
    }
}

/// Sends `v`, or hands it back when the send was cancelled.
#[structured]
async fn send_one(tx: &Sender<u32>, v: u32) -> Result<(), HandedBack> {
    match tx.send(v).await {
        Ok(()) => Ok(()),
        Err(SendError::Cancelled(v, _)) => Err(HandedBack(v)),
        Err(e) => panic!("consumer 0 keeps the channel open, yet: {e}"),
    }
}

enum Received {
    Value(u32),
    End,
    TimedOut,
}

/// Receives once, under the step's timeout if it has one.
#[structured]
async fn receive_one(rx: &Receiver<u32>, s: Step) -> Received {
    if scoro::sleep(Duration::from_millis(s.delay_ms))
        .await
        .is_err()
    {
        unreachable!("nothing cancels the consumers' scope");
    }
    let outcome = match s.timeout_ms {
        // A value that arrives as the timeout fires is still returned: the body's value is
        // not a cancellation, so the scope passes it on.
        Some(t) => move_on_after(Duration::from_millis(t), rx.next()).await,
        None => Some(rx.next().await),
    };
    match outcome {
        Some(Ok(Some(v))) => Received::Value(v),
        Some(Ok(None)) => Received::End,
        None => Received::TimedOut,
        Some(Err(_)) => unreachable!("only the timeout cancels"),
    }
}

#[structured]
async fn consume(rx: Receiver<u32>, steps: Vec<Step>, forever: bool, ledger: &RefCell<Ledger>) {
    for i in 0.. {
        if !forever && i == steps.len() {
            return; // dropping `rx` closes this consumer's handle
        }
        match receive_one(&rx, steps[i % steps.len()]).await {
            Received::Value(v) => bump(ledger, |l| &mut l.received, v),
            Received::End => return,
            Received::TimedOut => {}
        }
    }
}

#[structured]
async fn scenario(plan: Plan) -> Ledger {
    let ledger = RefCell::new(Ledger::default());
    let ledger_ref = &ledger;
    let (tx, rx) = channel::<u32>(plan.capacity);
    // The body owns the original handles and drops them when it ends: from then on the
    // children's clones are the only handles.
    let outcome = nursery(async move |n| -> Result<(), CancelRequested> {
        for (id, steps) in plan.producers.into_iter().enumerate() {
            n.start_soon(produce(tx.clone(), id as u32, steps, ledger_ref));
        }
        n.start_soon(consume(rx.clone(), plan.cycle, true, ledger_ref));
        for steps in plan.consumers.into_iter().filter(|s| !s.is_empty()) {
            n.start_soon(consume(rx.clone(), steps, false, ledger_ref));
        }
        Ok(())
    })
    .await;
    assert!(outcome.is_ok());
    ledger.into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_value_is_received_once_or_handed_back(plan in plan()) {
        let offered: Vec<u32> = plan
            .producers
            .iter()
            .enumerate()
            .flat_map(|(id, steps)| (0..steps.len() as u32).map(move |i| id as u32 * 1000 + i))
            .collect();
        let mut rt = Builder::new()
            .clock(MockClock::autojump(Duration::ZERO))
            .build()
            .unwrap();
        let ledger = rt.run(scenario(plan));
        for v in &offered {
            let delivered = ledger.delivered.get(v).copied().unwrap_or(0);
            let back = ledger.handed_back.get(v).copied().unwrap_or(0);
            let received = ledger.received.get(v).copied().unwrap_or(0);
            prop_assert_eq!(delivered + back, 1, "value {} was offered once", v);
            prop_assert_eq!(received, delivered, "value {}: received iff delivered", v);
        }
        let total_received: u32 = ledger.received.values().sum();
        let total_delivered: u32 = ledger.delivered.values().sum();
        prop_assert_eq!(total_received, total_delivered, "nothing received that was not sent");
    }
}
