//! The cases: each builds one closure per peer that runs `n` operations.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scoro::sync::Event;
use scoro::{CancelRequested, Nursery, nursery, structured};

use crate::alloc::live_bytes;
use crate::floor;
use crate::harness::{Case, PeerFn, Sample, time};
use crate::runtimes::{in_task, smol_run, tokio_ct, tokio_mt};

/// A tokio peer that runs `body(n)` as `rt`'s `block_on` future.
fn on_tokio<F>(rt: fn() -> tokio::runtime::Runtime, body: fn(usize) -> F) -> PeerFn
where
    F: Future<Output = Duration> + 'static,
{
    Box::new(move |n| time(rt().block_on(body(n))))
}

/// A tokio peer that runs `body(n)` as a spawned task of `rt` (see `in_task`).
fn in_tokio_task<F>(rt: fn() -> tokio::runtime::Runtime, body: fn(usize) -> F) -> PeerFn
where
    F: Future<Output = Duration> + Send + 'static,
{
    Box::new(move |n| time(rt().block_on(in_task(body(n)))))
}

pub(crate) fn cases(quick: bool) -> Vec<Case> {
    let mut v = Vec::new();
    let spawn_sizes: &[usize] = if quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000, 1_000_000]
    };
    for &n in spawn_sizes {
        v.push(spawn_join(n));
    }
    v.push(chained_spawn(1_000));
    v.push(ping_pong(if quick { 10_000 } else { 100_000 }));
    v.push(yield_many(if quick { 50 } else { 200 }, 1_000));
    let t = if quick { 100_000 } else { 1_000_000 };
    v.push(checkpoint_bare(t));
    v.push(timeout_fast_path(t));
    for &n in if quick {
        &[10_000][..]
    } else {
        &[10_000, 100_000][..]
    } {
        v.push(cancel_fanout(n));
    }
    v.push(timers_many(if quick { 10_000 } else { 100_000 }));
    v.push(bytes_per_task(if quick { 10_000 } else { 100_000 }));
    v.push(tcp_echo(50, if quick { 200 } else { 2_000 }));
    v.push(process_spawn_wait(if quick { 50 } else { 300 }));
    v.extend(crate::server::cases(quick));
    v
}

/// n children, each checkpointing once, in one nursery.
fn spawn_join(n: usize) -> Case {
    #[structured]
    async fn child() -> Result<(), CancelRequested> {
        scoro::checkpoint().await
    }
    #[structured]
    async fn main_task(n: usize) -> Duration {
        let t0 = Instant::now();
        nursery(async |nur| -> Result<(), CancelRequested> {
            for _ in 0..n {
                nur.start_soon(child());
            }
            Ok(())
        })
        .await
        .unwrap();
        t0.elapsed()
    }
    async fn tokio_body(n: usize) -> Duration {
        let t0 = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            set.spawn(async { tokio::task::yield_now().await });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        t0.elapsed()
    }
    Case {
        name: "spawn_join",
        n,
        peers: vec![
            ("scoro", Box::new(|n| time(scoro::run(main_task(n))))),
            ("tokio_ct", on_tokio(tokio_ct, tokio_body)),
            ("tokio_mt", on_tokio(tokio_mt, tokio_body)),
            (
                "smol",
                Box::new(|n| {
                    time(smol_run(|ex| {
                        Box::pin(async move {
                            let t0 = Instant::now();
                            let tasks: Vec<_> = (0..n)
                                .map(|_| ex.spawn(smol::future::yield_now()))
                                .collect();
                            for t in tasks {
                                t.await;
                            }
                            t0.elapsed()
                        })
                    }))
                }),
            ),
            (
                "floor",
                Box::new(|n| {
                    time(floor::block_on(async move {
                        let t0 = Instant::now();
                        let wg = floor::WaitGroup::new();
                        for _ in 0..n {
                            let done = wg.add();
                            floor::spawn(async move {
                                floor::yield_now().await;
                                drop(done);
                            });
                        }
                        wg.wait().await;
                        t0.elapsed()
                    }))
                }),
            ),
        ],
    }
}

/// Each task starts the next, n deep.
fn chained_spawn(n: usize) -> Case {
    #[structured]
    async fn link<'s>(nur: &'s Nursery<'s, '_, CancelRequested>, left: usize) {
        if left > 0 {
            nur.start_soon(link(nur, left - 1));
        }
    }
    #[structured]
    async fn main_task(n: usize) -> Duration {
        let t0 = Instant::now();
        nursery(async |nur| -> Result<(), CancelRequested> {
            nur.start_soon(link(nur, n));
            Ok(())
        })
        .await
        .unwrap();
        t0.elapsed()
    }
    fn tokio_link(tx: tokio::sync::oneshot::Sender<()>, left: usize) {
        if left == 0 {
            let _ = tx.send(());
        } else {
            tokio::spawn(async move { tokio_link(tx, left - 1) });
        }
    }
    async fn tokio_body(n: usize) -> Duration {
        let t0 = Instant::now();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio_link(tx, n);
        rx.await.unwrap();
        t0.elapsed()
    }
    fn smol_link(
        ex: &Rc<smol::LocalExecutor<'static>>,
        tx: smol::channel::Sender<()>,
        left: usize,
    ) {
        if left == 0 {
            let _ = tx.try_send(());
        } else {
            let ex2 = ex.clone();
            ex.spawn(async move { smol_link(&ex2, tx, left - 1) })
                .detach();
        }
    }
    fn floor_link(done: floor::Done, left: usize) {
        if left == 0 {
            drop(done);
        } else {
            floor::spawn(async move { floor_link(done, left - 1) });
        }
    }
    Case {
        name: "chained_spawn",
        n,
        peers: vec![
            ("scoro", Box::new(|n| time(scoro::run(main_task(n))))),
            ("tokio_ct", on_tokio(tokio_ct, tokio_body)),
            ("tokio_mt", on_tokio(tokio_mt, tokio_body)),
            (
                "smol",
                Box::new(|n| {
                    let ex = Rc::new(smol::LocalExecutor::new());
                    let (tx, rx) = smol::channel::bounded(1);
                    let ex2 = ex.clone();
                    time(smol::block_on(ex.run(async move {
                        let t0 = Instant::now();
                        smol_link(&ex2, tx, n);
                        rx.recv().await.unwrap();
                        t0.elapsed()
                    })))
                }),
            ),
            (
                "floor",
                Box::new(|n| {
                    time(floor::block_on(async move {
                        let t0 = Instant::now();
                        let wg = floor::WaitGroup::new();
                        floor_link(wg.add(), n);
                        wg.wait().await;
                        t0.elapsed()
                    }))
                }),
            ),
        ],
    }
}

/// n round trips between two tasks over two capacity-1 channels.
fn ping_pong(n: usize) -> Case {
    use scoro::channel::{Receiver, Sender, channel};
    #[structured]
    async fn pinger(
        n: usize,
        ping: &Sender<usize>,
        pong: &Receiver<usize>,
    ) -> Result<(), CancelRequested> {
        for i in 0..n {
            ping.send(i).await.map_err(|_| ()).expect("ponger alive");
            let back = pong.recv().await.expect("ponger alive");
            debug_assert_eq!(back, i);
        }
        ping.close();
        Ok(())
    }
    #[structured]
    async fn ponger(ping: &Receiver<usize>, pong: &Sender<usize>) -> Result<(), CancelRequested> {
        while let Some(v) = ping.next().await? {
            pong.send(v).await.map_err(|_| ()).expect("pinger alive");
        }
        Ok(())
    }
    #[structured]
    async fn main_task(n: usize) -> Duration {
        let (ping_tx, ping_rx) = channel(1);
        let (pong_tx, pong_rx) = channel(1);
        let t0 = Instant::now();
        nursery(async |nur| -> Result<(), CancelRequested> {
            nur.start_soon(pinger(n, &ping_tx, &pong_rx));
            nur.start_soon(ponger(&ping_rx, &pong_tx));
            Ok(())
        })
        .await
        .unwrap();
        t0.elapsed()
    }
    async fn tokio_body(n: usize) -> Duration {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<usize>(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<usize>(1);
        let t0 = Instant::now();
        let ponger = tokio::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
            }
        });
        let pinger = tokio::spawn(async move {
            for i in 0..n {
                ping_tx.send(i).await.unwrap();
                assert_eq!(pong_rx.recv().await, Some(i));
            }
        });
        pinger.await.unwrap();
        ponger.await.unwrap();
        t0.elapsed()
    }
    Case {
        name: "ping_pong",
        n,
        peers: vec![
            ("scoro", Box::new(|n| time(scoro::run(main_task(n))))),
            ("tokio_ct", on_tokio(tokio_ct, tokio_body)),
            ("tokio_mt", on_tokio(tokio_mt, tokio_body)),
            (
                "smol",
                Box::new(|n| {
                    time(smol_run(|ex| {
                        Box::pin(async move {
                            let (ping_tx, ping_rx) = smol::channel::bounded::<usize>(1);
                            let (pong_tx, pong_rx) = smol::channel::bounded::<usize>(1);
                            let t0 = Instant::now();
                            let ponger = ex.spawn(async move {
                                while let Ok(v) = ping_rx.recv().await {
                                    pong_tx.send(v).await.unwrap();
                                }
                            });
                            let pinger = ex.spawn(async move {
                                for i in 0..n {
                                    ping_tx.send(i).await.unwrap();
                                    assert_eq!(pong_rx.recv().await, Ok(i));
                                }
                            });
                            pinger.await;
                            ponger.await;
                            t0.elapsed()
                        })
                    }))
                }),
            ),
            (
                "floor",
                Box::new(|n| {
                    time(floor::block_on(async move {
                        let (ping_tx, ping_rx) = floor::channel::<usize>();
                        let (pong_tx, pong_rx) = floor::channel::<usize>();
                        let t0 = Instant::now();
                        let wg = floor::WaitGroup::new();
                        let done = wg.add();
                        floor::spawn(async move {
                            while let Some(v) = ping_rx.recv().await {
                                pong_tx.send(v).await.unwrap();
                            }
                            drop(done);
                        });
                        let done = wg.add();
                        floor::spawn(async move {
                            for i in 0..n {
                                ping_tx.send(i).await.unwrap();
                                assert_eq!(pong_rx.recv().await, Some(i));
                            }
                            drop(done);
                        });
                        wg.wait().await;
                        t0.elapsed()
                    }))
                }),
            ),
        ],
    }
}

/// `tasks` tasks each yielding `yields` times; n = tasks * yields.
fn yield_many(tasks: usize, yields: usize) -> Case {
    #[structured]
    async fn yielder(yields: usize) -> Result<(), CancelRequested> {
        for _ in 0..yields {
            scoro::checkpoint().await?;
        }
        Ok(())
    }
    #[structured]
    async fn main_task(tasks: usize, yields: usize) -> Duration {
        let t0 = Instant::now();
        nursery(async |nur| -> Result<(), CancelRequested> {
            for _ in 0..tasks {
                nur.start_soon(yielder(yields));
            }
            Ok(())
        })
        .await
        .unwrap();
        t0.elapsed()
    }
    async fn tokio_body(tasks: usize, yields: usize) -> Duration {
        let t0 = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..tasks {
            set.spawn(async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        t0.elapsed()
    }
    Case {
        name: "yield_many",
        n: tasks * yields,
        peers: vec![
            (
                "scoro",
                Box::new(move |_| time(scoro::run(main_task(tasks, yields)))),
            ),
            (
                "tokio_ct",
                Box::new(move |_| time(tokio_ct().block_on(tokio_body(tasks, yields)))),
            ),
            (
                "tokio_mt",
                Box::new(move |_| time(tokio_mt().block_on(tokio_body(tasks, yields)))),
            ),
            (
                "smol",
                Box::new(move |_| {
                    time(smol_run(|ex| {
                        Box::pin(async move {
                            let t0 = Instant::now();
                            let all: Vec<_> = (0..tasks)
                                .map(|_| {
                                    ex.spawn(async move {
                                        for _ in 0..yields {
                                            smol::future::yield_now().await;
                                        }
                                    })
                                })
                                .collect();
                            for t in all {
                                t.await;
                            }
                            t0.elapsed()
                        })
                    }))
                }),
            ),
            (
                "floor",
                Box::new(move |_| {
                    time(floor::block_on(async move {
                        let t0 = Instant::now();
                        let wg = floor::WaitGroup::new();
                        for _ in 0..tasks {
                            let done = wg.add();
                            floor::spawn(async move {
                                for _ in 0..yields {
                                    floor::yield_now().await;
                                }
                                drop(done);
                            });
                        }
                        wg.wait().await;
                        t0.elapsed()
                    }))
                }),
            ),
        ],
    }
}

/// A bare checkpoint (yield) in a loop: the reference for `timeout_fast_path`.
fn checkpoint_bare(n: usize) -> Case {
    #[structured]
    async fn main_task(n: usize) -> Duration {
        let t0 = Instant::now();
        for _ in 0..n {
            scoro::checkpoint().await.unwrap();
        }
        t0.elapsed()
    }
    async fn tokio_body(n: usize) -> Duration {
        let t0 = Instant::now();
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
        t0.elapsed()
    }
    Case {
        name: "checkpoint",
        n,
        peers: vec![
            ("scoro", Box::new(|n| time(scoro::run(main_task(n))))),
            ("tokio_ct", in_tokio_task(tokio_ct, tokio_body)),
            ("tokio_mt", in_tokio_task(tokio_mt, tokio_body)),
            (
                "smol",
                Box::new(|n| {
                    time(smol_run(|_ex| {
                        Box::pin(async move {
                            let t0 = Instant::now();
                            for _ in 0..n {
                                smol::future::yield_now().await;
                            }
                            t0.elapsed()
                        })
                    }))
                }),
            ),
        ],
    }
}

/// A one-second timeout around a checkpoint that never comes close to it.
fn timeout_fast_path(n: usize) -> Case {
    #[structured]
    async fn main_task(n: usize) -> Duration {
        let t0 = Instant::now();
        for _ in 0..n {
            let r = scoro::move_on_after(Duration::from_secs(1), scoro::checkpoint()).await;
            assert!(matches!(r, Some(Ok(()))));
        }
        t0.elapsed()
    }
    async fn tokio_body(n: usize) -> Duration {
        let t0 = Instant::now();
        for _ in 0..n {
            tokio::time::timeout(Duration::from_secs(1), tokio::task::yield_now())
                .await
                .unwrap();
        }
        t0.elapsed()
    }
    Case {
        name: "timeout_fast_path",
        n,
        peers: vec![
            ("scoro", Box::new(|n| time(scoro::run(main_task(n))))),
            ("tokio_ct", in_tokio_task(tokio_ct, tokio_body)),
            ("tokio_mt", in_tokio_task(tokio_mt, tokio_body)),
            (
                "smol",
                Box::new(|n| {
                    time(smol_run(|_ex| {
                        Box::pin(async move {
                            let t0 = Instant::now();
                            for _ in 0..n {
                                smol::future::or(
                                    async {
                                        smol::future::yield_now().await;
                                        Some(())
                                    },
                                    async {
                                        smol::Timer::after(Duration::from_secs(1)).await;
                                        None
                                    },
                                )
                                .await
                                .unwrap();
                            }
                            t0.elapsed()
                        })
                    }))
                }),
            ),
        ],
    }
}

/// n tasks blocked on an event, then cancelled; measures from the cancel until all returned.
fn cancel_fanout(n: usize) -> Case {
    #[structured]
    async fn main_task(n: usize) -> Duration {
        let event = Event::new();
        let elapsed = Cell::new(Duration::ZERO);
        let t0 = Cell::new(Instant::now());
        nursery(async |nur| -> Result<(), CancelRequested> {
            for _ in 0..n {
                nur.start_soon(event.wait());
            }
            scoro::testing::wait_all_tasks_blocked().await?;
            t0.set(Instant::now());
            nur.cancel();
            Ok(())
        })
        .await
        .unwrap();
        elapsed.set(t0.get().elapsed());
        elapsed.get()
    }
    async fn tokio_body(n: usize) -> Duration {
        let notify = Arc::new(tokio::sync::Notify::new());
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let notify = notify.clone();
            set.spawn(async move { notify.notified().await });
        }
        // Let every task start and block.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let t0 = Instant::now();
        set.abort_all();
        while set.join_next().await.is_some() {}
        t0.elapsed()
    }
    Case {
        name: "cancel_fanout",
        n,
        peers: vec![
            ("scoro", Box::new(|n| time(scoro::run(main_task(n))))),
            ("tokio_ct", on_tokio(tokio_ct, tokio_body)),
            ("tokio_mt", on_tokio(tokio_mt, tokio_body)),
            (
                "smol",
                Box::new(|n| {
                    time(smol_run(|ex| {
                        Box::pin(async move {
                            let (_tx, rx) = smol::channel::bounded::<()>(1);
                            let tasks: Vec<_> = (0..n)
                                .map(|_| {
                                    let rx = rx.clone();
                                    ex.spawn(async move {
                                        let _ = rx.recv().await;
                                    })
                                })
                                .collect();
                            for _ in 0..4 {
                                smol::future::yield_now().await;
                            }
                            let t0 = Instant::now();
                            for t in tasks {
                                t.cancel().await;
                            }
                            t0.elapsed()
                        })
                    }))
                }),
            ),
        ],
    }
}

/// n tasks sleeping distinct durations between 0 and 20 ms, until all woke.
fn timers_many(n: usize) -> Case {
    fn delay(i: usize, n: usize) -> Duration {
        Duration::from_nanos((i as u64 * 20_000_000) / n as u64)
    }
    #[structured]
    async fn sleeper(d: Duration) -> Result<(), CancelRequested> {
        scoro::sleep(d).await
    }
    #[structured]
    async fn main_task(n: usize) -> Duration {
        let t0 = Instant::now();
        nursery(async |nur| -> Result<(), CancelRequested> {
            for i in 0..n {
                nur.start_soon(sleeper(delay(i, n)));
            }
            Ok(())
        })
        .await
        .unwrap();
        t0.elapsed()
    }
    async fn tokio_body(n: usize) -> Duration {
        let t0 = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            set.spawn(tokio::time::sleep(delay(i, n)));
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        t0.elapsed()
    }
    Case {
        name: "timers_many",
        n,
        peers: vec![
            ("scoro", Box::new(|n| time(scoro::run(main_task(n))))),
            ("tokio_ct", on_tokio(tokio_ct, tokio_body)),
            ("tokio_mt", on_tokio(tokio_mt, tokio_body)),
            (
                "smol",
                Box::new(|n| {
                    time(smol_run(|ex| {
                        Box::pin(async move {
                            let t0 = Instant::now();
                            let tasks: Vec<_> = (0..n)
                                .map(|i| {
                                    ex.spawn(async move {
                                        smol::Timer::after(delay(i, n)).await;
                                    })
                                })
                                .collect();
                            for t in tasks {
                                t.await;
                            }
                            t0.elapsed()
                        })
                    }))
                }),
            ),
        ],
    }
}

/// Heap bytes held per blocked task (counting allocator; runtime setup excluded).
fn bytes_per_task(n: usize) -> Case {
    #[structured]
    async fn main_task(n: usize) -> f64 {
        let event = Event::new();
        let result = RefCell::new(0.0);
        nursery(async |nur| -> Result<(), CancelRequested> {
            let before = live_bytes();
            for _ in 0..n {
                nur.start_soon(event.wait());
            }
            scoro::testing::wait_all_tasks_blocked().await?;
            *result.borrow_mut() = (live_bytes() - before) as f64 / n as f64;
            nur.cancel();
            Ok(())
        })
        .await
        .unwrap();
        result.into_inner()
    }
    async fn tokio_body(n: usize) -> f64 {
        let notify = Arc::new(tokio::sync::Notify::new());
        let before = live_bytes();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let notify = notify.clone();
            set.spawn(async move { notify.notified().await });
        }
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let bytes = (live_bytes() - before) as f64 / n as f64;
        set.abort_all();
        while set.join_next().await.is_some() {}
        bytes
    }
    Case {
        name: "bytes_per_task",
        n,
        peers: vec![
            (
                "scoro",
                Box::new(|n| Sample::Bytes(scoro::run(main_task(n)))),
            ),
            (
                "tokio_ct",
                Box::new(|n| Sample::Bytes(tokio_ct().block_on(tokio_body(n)))),
            ),
            (
                "tokio_mt",
                Box::new(|n| Sample::Bytes(tokio_mt().block_on(tokio_body(n)))),
            ),
            (
                "smol",
                Box::new(|n| {
                    Sample::Bytes(smol_run(|ex| {
                        Box::pin(async move {
                            let (_tx, rx) = smol::channel::bounded::<()>(1);
                            let before = live_bytes();
                            let tasks: Vec<_> = (0..n)
                                .map(|_| {
                                    let rx = rx.clone();
                                    ex.spawn(async move {
                                        let _ = rx.recv().await;
                                    })
                                })
                                .collect();
                            for _ in 0..4 {
                                smol::future::yield_now().await;
                            }
                            let bytes = (live_bytes() - before) as f64 / n as f64;
                            for t in tasks {
                                t.cancel().await;
                            }
                            bytes
                        })
                    }))
                }),
            ),
        ],
    }
}

/// `conns` connections over 127.0.0.1, each doing `rounds` 64-byte request/response round trips;
/// clients and server in the same runtime. n = conns * rounds.
fn tcp_echo(conns: usize, rounds: usize) -> Case {
    use scoro::io::{Read as _, Write as _};
    use scoro::net::{TcpListener, TcpStream};
    use std::net::SocketAddr;

    const MSG: usize = 64;

    #[structured]
    async fn echo_conn(mut s: TcpStream, rounds: usize) -> std::io::Result<()> {
        let mut buf = [0u8; MSG];
        for _ in 0..rounds {
            s.read_exact(&mut buf).await?;
            s.write_all(&buf).await?;
        }
        Ok(())
    }
    #[structured]
    async fn client(addr: SocketAddr, rounds: usize) -> std::io::Result<()> {
        let mut s = TcpStream::connect(addr).await?;
        let req = [7u8; MSG];
        let mut buf = [0u8; MSG];
        for _ in 0..rounds {
            s.write_all(&req).await?;
            s.read_exact(&mut buf).await?;
        }
        Ok(())
    }
    #[structured]
    async fn main_task(conns: usize, rounds: usize) -> Duration {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let t0 = Instant::now();
        nursery(async |n| -> std::io::Result<()> {
            n.start_soon(async {
                for _ in 0..conns {
                    let (s, _) = listener.accept().await?;
                    n.start_soon(echo_conn(s, rounds));
                }
                Ok::<(), std::io::Error>(())
            });
            for _ in 0..conns {
                n.start_soon(client(addr, rounds));
            }
            Ok(())
        })
        .await
        .unwrap();
        t0.elapsed()
    }

    async fn tokio_body(conns: usize, rounds: usize) -> Duration {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let t0 = Instant::now();
        let server = tokio::spawn(async move {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..conns {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                set.spawn(async move {
                    let mut buf = [0u8; MSG];
                    for _ in 0..rounds {
                        s.read_exact(&mut buf).await.unwrap();
                        s.write_all(&buf).await.unwrap();
                    }
                });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
        });
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..conns {
            clients.spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                let req = [7u8; MSG];
                let mut buf = [0u8; MSG];
                for _ in 0..rounds {
                    s.write_all(&req).await.unwrap();
                    s.read_exact(&mut buf).await.unwrap();
                }
            });
        }
        while let Some(r) = clients.join_next().await {
            r.unwrap();
        }
        server.await.unwrap();
        t0.elapsed()
    }

    Case {
        name: "tcp_echo",
        n: conns * rounds,
        peers: vec![
            (
                "scoro",
                Box::new(move |_| time(scoro::run(main_task(conns, rounds)))),
            ),
            (
                "tokio_ct",
                Box::new(move |_| time(tokio_ct().block_on(tokio_body(conns, rounds)))),
            ),
            (
                "tokio_mt",
                Box::new(move |_| time(tokio_mt().block_on(tokio_body(conns, rounds)))),
            ),
            (
                "smol",
                Box::new(move |_| {
                    time(smol_run(|ex| {
                        Box::pin(async move {
                            use smol::io::{AsyncReadExt, AsyncWriteExt};
                            let listener =
                                smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                            let addr = listener.local_addr().unwrap();
                            let t0 = Instant::now();
                            let clients: Vec<_> = (0..conns)
                                .map(|_| {
                                    ex.spawn(async move {
                                        let mut s =
                                            smol::net::TcpStream::connect(addr).await.unwrap();
                                        s.set_nodelay(true).unwrap();
                                        let req = [7u8; MSG];
                                        let mut buf = [0u8; MSG];
                                        for _ in 0..rounds {
                                            s.write_all(&req).await.unwrap();
                                            s.read_exact(&mut buf).await.unwrap();
                                        }
                                    })
                                })
                                .collect();
                            let mut handlers = Vec::new();
                            for _ in 0..conns {
                                let (mut s, _) = listener.accept().await.unwrap();
                                s.set_nodelay(true).unwrap();
                                handlers.push(ex.spawn(async move {
                                    let mut buf = [0u8; MSG];
                                    for _ in 0..rounds {
                                        s.read_exact(&mut buf).await.unwrap();
                                        s.write_all(&buf).await.unwrap();
                                    }
                                }));
                            }
                            for c in clients {
                                c.await;
                            }
                            for h in handlers {
                                h.await;
                            }
                            t0.elapsed()
                        })
                    }))
                }),
            ),
            ("raw", Box::new(move |_| time(raw_mio_echo(conns, rounds)))),
        ],
    }
}

/// The same echo work as a hand-written mio event loop: the floor a runtime can reach.
fn raw_mio_echo(conns: usize, rounds: usize) -> Duration {
    use mio::net::{TcpListener, TcpStream};
    use mio::{Events, Interest, Poll, Token};
    use std::io::{ErrorKind, Read, Write};

    const MSG: usize = 64;
    const LISTENER: Token = Token(usize::MAX);

    /// One end of a connection: a client sends then reads; a server reads then sends.
    struct Conn {
        stream: TcpStream,
        client: bool,
        buf: [u8; MSG],
        /// Bytes done of the current message, and whether we are sending it.
        done: usize,
        sending: bool,
        rounds_left: usize,
    }

    impl Conn {
        /// Makes as much progress as the socket allows; returns true when finished.
        fn drive(&mut self) -> bool {
            loop {
                if self.rounds_left == 0 {
                    return true;
                }
                let r = if self.sending {
                    self.stream.write(&self.buf[self.done..])
                } else {
                    self.stream.read(&mut self.buf[self.done..])
                };
                match r {
                    Ok(0) if !self.sending => panic!("peer closed"),
                    Ok(k) => {
                        self.done += k;
                        if self.done == MSG {
                            self.done = 0;
                            // A client finishes a round after reading; a server after sending.
                            let round_over = self.sending != self.client;
                            if round_over {
                                self.rounds_left -= 1;
                            }
                            self.sending = !self.sending;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                    Err(e) => panic!("echo failed: {e}"),
                }
            }
        }
    }

    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .unwrap();
    let t0 = Instant::now();
    let mut all: Vec<Conn> = Vec::with_capacity(2 * conns);
    for _ in 0..conns {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let token = Token(all.len());
        poll.registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .unwrap();
        all.push(Conn {
            stream,
            client: true,
            buf: [7u8; MSG],
            done: 0,
            sending: true,
            rounds_left: rounds,
        });
    }
    let mut finished = 0;
    let mut accepted = 0;
    while finished < 2 * conns {
        poll.poll(&mut events, None).unwrap();
        for ev in events.iter() {
            if ev.token() == LISTENER {
                while accepted < conns {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true).unwrap();
                            let token = Token(all.len());
                            poll.registry()
                                .register(
                                    &mut stream,
                                    token,
                                    Interest::READABLE | Interest::WRITABLE,
                                )
                                .unwrap();
                            let mut c = Conn {
                                stream,
                                client: false,
                                buf: [0u8; MSG],
                                done: 0,
                                sending: false,
                                rounds_left: rounds,
                            };
                            if c.drive() {
                                finished += 1;
                            }
                            all.push(c);
                            accepted += 1;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("accept failed: {e}"),
                    }
                }
                continue;
            }
            let c = &mut all[ev.token().0];
            if c.rounds_left > 0 && c.drive() {
                finished += 1;
            }
        }
    }
    t0.elapsed()
}

/// n child processes (`true`), one after the other: spawn, then wait for the exit.
fn process_spawn_wait(n: usize) -> Case {
    #[structured]
    async fn main_task(n: usize) -> Duration {
        let t0 = Instant::now();
        for _ in 0..n {
            let mut child = scoro::process::Command::new("true").spawn().await.unwrap();
            assert!(child.wait().await.unwrap().success());
        }
        t0.elapsed()
    }
    async fn tokio_body(n: usize) -> Duration {
        let t0 = Instant::now();
        for _ in 0..n {
            let mut child = tokio::process::Command::new("true").spawn().unwrap();
            assert!(child.wait().await.unwrap().success());
        }
        t0.elapsed()
    }
    Case {
        name: "process_spawn_wait",
        n,
        peers: vec![
            ("scoro", Box::new(|n| time(scoro::run(main_task(n))))),
            ("tokio_ct", on_tokio(tokio_ct, tokio_body)),
            ("tokio_mt", in_tokio_task(tokio_mt, tokio_body)),
            (
                "smol",
                Box::new(|n| {
                    time(smol_run(|_ex| {
                        Box::pin(async move {
                            let t0 = Instant::now();
                            for _ in 0..n {
                                let mut child =
                                    smol::process::Command::new("true").spawn().unwrap();
                                assert!(child.status().await.unwrap().success());
                            }
                            t0.elapsed()
                        })
                    }))
                }),
            ),
        ],
    }
}
