//! Unit tests of the channel that need the crate's internals (tear-down paths), plus quick
//! checks written without the macro. The Trio ports live in `tests/channel.rs`.

use super::*;
use crate::nursery::nursery_trusted;
use crate::sync::tests::{spawn_raw, tear_down};
use crate::testing::{MockClock, wait_all_tasks_blocked};
use crate::{Builder, CoroutineCall, ErrorGroup, Runtime, move_on_after};
use std::time::Duration;

macro_rules! aw {
    ($e:expr) => {
        $e.into_parts().0.await
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

type Res = Result<(), ErrorGroup<CancelRequested>>;

#[test]
fn basics_and_errors() {
    rt().run(call(async {
        let (s, r) = channel::<&str>(2);
        s.try_send("1").unwrap();
        aw!(s.send("2")).unwrap();
        assert_eq!(s.try_send("x"), Err(TrySendError::Full("x")));
        assert_eq!(aw!(r.recv()), Ok("1"));
        assert_eq!(r.try_recv(), Ok("2"));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        s.try_send("last").unwrap();
        s.close();
        assert_eq!(aw!(s.send("too late")), Err(SendError::Closed("too late")));
        assert_eq!(
            s.try_send("too late"),
            Err(TrySendError::Closed("too late"))
        );
        assert!(s.clone().is_closed());
        s.close();
        assert_eq!(r.try_recv(), Ok("last"));
        assert_eq!(aw!(r.recv()), Err(RecvError::EndOfChannel));
        r.close();
        assert_eq!(aw!(r.recv()), Err(RecvError::Closed));
        assert_eq!(r.try_recv(), Err(TryRecvError::Closed));
    }));
}

#[test]
fn a_waiting_receiver_owns_the_value_sent() {
    let (s, r) = channel::<u32>(1);
    let got = std::cell::Cell::new(None);
    let res: Res = rt().run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                let (r, got) = (&r, &got);
                n.start_soon(call(async move {
                    got.set(Some(aw!(r.recv()).unwrap()));
                }));
                aw!(wait_all_tasks_blocked())?;
                s.try_send(2).unwrap();
                assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
                Ok(())
            }
        )))
    }));
    res.unwrap();
    assert_eq!(got.get(), Some(2));
}

#[test]
fn a_cancelled_receive_loses_nothing() {
    rt().run(call(async {
        let (s, r) = channel::<&str>(1);
        assert_eq!(aw!(move_on_after(Duration::from_secs(10), r.recv())), None);
        aw!(s.send("x")).unwrap();
        assert_eq!(aw!(r.recv()), Ok("x"));
    }));
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
fn closing_the_last_receiver_gives_blocked_senders_their_value_back() {
    let (s, r) = channel::<String>(0);
    let res: Res = rt().run(call(async {
        aw!(call(nursery_trusted(
            async |n| -> Result<(), CancelRequested> {
                let s = &s;
                n.start_soon(call(async move {
                    let e = aw!(s.send("kept".to_string())).unwrap_err();
                    assert_eq!(e, SendError::Disconnected("kept".to_string()));
                }));
                aw!(wait_all_tasks_blocked())?;
                r.close();
                Ok(())
            }
        )))
    }));
    res.unwrap();
    assert_eq!(
        s.try_send("x".into()),
        Err(TrySendError::Disconnected("x".into()))
    );
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
