//! Unit tests of what only the crate's internals can reach: calls torn down by the runtime in
//! the middle of an operation, and values whose destructors use their channel. The behaviour
//! tests (Trio's ports) live in `tests/channel.rs` and `tests/channel_proptest.rs`.

use super::*;
use crate::sync::tests::{spawn_raw, tear_down};
use crate::testing::{MockClock, wait_all_tasks_blocked};
use crate::{Builder, CoroutineCall, Runtime};
use std::time::Duration;

macro_rules! aw {
    ($e:expr) => {
        $e.inline().await
    };
}

fn call<F: Future>(f: F) -> CoroutineCall<F> {
    CoroutineCall::internal(f, "channel_tests", "call")
}

fn rt() -> Runtime {
    Builder::new()
        .clock(MockClock::autojump(Duration::ZERO))
        .build()
        .unwrap()
}

#[test]
fn a_receiver_handed_a_value_and_torn_down_puts_it_back() {
    rt().run(call(async {
        let (s, r) = channel::<u32>(0);
        let r2 = r.clone();
        let t = spawn_raw(async move {
            let _ = aw!(r2.recv());
        });
        aw!(wait_all_tasks_blocked()).unwrap();
        s.try_send(7).unwrap(); // handed to the raw task's receive
        tear_down(t);
        // Rendezvous channel, but the value that was taken is not lost.
        assert_eq!(r.try_recv(), Ok(7));
    }));
}

#[test]
fn a_receiver_torn_down_while_yielding_puts_the_value_back_to_the_front() {
    rt().run(call(async {
        let (s, r) = channel::<u32>(3);
        s.try_send(1).unwrap();
        s.try_send(2).unwrap();
        let r2 = r.clone();
        let t = spawn_raw(async move {
            let _ = aw!(r2.recv());
        });
        // Let the raw task take `1` and stop at its schedule point, then drop it.
        aw!(crate::checkpoint()).unwrap();
        assert_eq!(s.try_send(3), Ok(()));
        tear_down(t);
        assert_eq!(r.try_recv(), Ok(1));
        assert_eq!(r.try_recv(), Ok(2));
        assert_eq!(r.try_recv(), Ok(3));
    }));
}

#[test]
fn dropping_values_may_use_the_channel() {
    // A value whose destructor sends on its own channel: closing the last receiver drops the
    // buffer without holding a borrow of it.
    struct Echo(Sender<Option<Echo>>, std::rc::Rc<std::cell::Cell<u32>>);
    impl Drop for Echo {
        fn drop(&mut self) {
            assert!(matches!(
                self.0.try_send(None),
                Err(TrySendError::Disconnected(None))
            ));
            self.1.set(self.1.get() + 1);
        }
    }
    let dropped = std::rc::Rc::new(std::cell::Cell::new(0));
    let (s, r) = channel::<Option<Echo>>(4);
    s.try_send(Some(Echo(s.clone(), dropped.clone()))).unwrap();
    s.try_send(Some(Echo(s.clone(), dropped.clone()))).unwrap();
    drop(r);
    assert_eq!(dropped.get(), 2);
}
