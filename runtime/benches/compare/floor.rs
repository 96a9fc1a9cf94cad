//! The floor: a bare single-threaded executor, the least work any executor must do to run the
//! cases' tasks. It has no cancellation, no timers, no I/O and no cross-thread wakes; it still
//! pays for everything a real executor cannot skip: a heap-allocated, type-erased future per
//! task, a run queue, a real `Waker` per task (built through `std::task::Wake`, refcounted, and
//! cloned by whoever stores it), and a de-duplicated wake.
//!
//! Design: the run loop owns a slab of tasks (`Vec<Slot>` plus a free list); the run queue lives
//! in a thread-local, so `spawn` and wakes reach it without a lock. `spawn` pushes the boxed
//! future on the queue; the loop gives it a slot when its turn comes and polls it then, so spawn
//! order and wake order are one FIFO. Each slot owns one `Arc<TaskWaker>` (its id, a "queued"
//! flag, and the run it belongs to) for its whole life: a new occupant reuses it, so a stale
//! waker at worst polls the new occupant spuriously, which the `Future` contract allows. No
//! `unsafe`.
//!
//! Primitives for the cases: `spawn` (detached), `WaitGroup` (the main task awaits a count, as a
//! nursery does), `yield_now`, and a capacity-1 `channel` for one sender and one receiver.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, Wake, Waker};

type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;

enum Entry {
    /// A task spawned but not yet given a slot.
    Spawn(BoxFuture),
    /// A slot to poll.
    Wake(usize),
}

struct Exec {
    /// The run in progress on this thread (0: none).
    run: Cell<u64>,
    queue: RefCell<VecDeque<Entry>>,
}

thread_local! {
    static EXEC: Exec = const {
        Exec {
            run: Cell::new(0),
            queue: RefCell::new(VecDeque::new()),
        }
    };
}

static NEXT_RUN: AtomicU64 = AtomicU64::new(1);

struct TaskWaker {
    id: usize,
    run: u64,
    /// Set while an `Entry::Wake(id)` is on the queue, so repeated wakes queue it once.
    /// Relaxed is enough: wakes come from the run's own thread only (checked in `wake_by_ref`).
    queued: AtomicBool,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.load(Relaxed) {
            return;
        }
        self.queued.store(true, Relaxed);
        EXEC.with(|e| {
            assert_eq!(
                e.run.get(),
                self.run,
                "floor: woken off its executor's thread, or after its run ended"
            );
            e.queue.borrow_mut().push_back(Entry::Wake(self.id));
        });
    }
}

struct Slot {
    future: Option<BoxFuture>,
    flag: Arc<TaskWaker>,
    waker: Waker,
}

/// Marks this thread as running `run`; on drop (also on unwind) empties the queue and unmarks.
struct Running(u64);

impl Running {
    fn enter() -> Running {
        let run = NEXT_RUN.fetch_add(1, Relaxed);
        EXEC.with(|e| {
            assert_eq!(e.run.get(), 0, "floor: block_on inside block_on");
            e.run.set(run);
        });
        Running(run)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Take the queue out before dropping it: dropping a spawned future may wake or spawn.
        let q = EXEC.with(|e| std::mem::take(&mut *e.queue.borrow_mut()));
        drop(q);
        EXEC.with(|e| e.run.set(0));
    }
}

/// Runs `fut` as the first task, and every task it spawns, until the queue is empty.
pub(crate) fn block_on<T: 'static>(fut: impl Future<Output = T> + 'static) -> T {
    let running = Running::enter();
    let out = Rc::new(Cell::new(None));
    let out2 = out.clone();
    spawn(async move { out2.set(Some(fut.await)) });
    let mut tasks: Vec<Slot> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    while let Some(entry) = EXEC.with(|e| e.queue.borrow_mut().pop_front()) {
        let id = match entry {
            Entry::Spawn(f) => {
                let id = free.pop().unwrap_or_else(|| {
                    let flag = Arc::new(TaskWaker {
                        id: tasks.len(),
                        run: running.0,
                        queued: AtomicBool::new(false),
                    });
                    let waker = Waker::from(flag.clone());
                    tasks.push(Slot {
                        future: None,
                        flag,
                        waker,
                    });
                    tasks.len() - 1
                });
                tasks[id].future = Some(f);
                id
            }
            Entry::Wake(id) => id,
        };
        let slot = &mut tasks[id];
        slot.flag.queued.store(false, Relaxed);
        let Some(f) = slot.future.as_mut() else {
            continue; // a stale wake of a freed slot
        };
        if f.as_mut()
            .poll(&mut Context::from_waker(&slot.waker))
            .is_ready()
        {
            slot.future = None;
            free.push(id);
        }
    }
    // Tasks still blocked are dropped while the run is current (their drops may wake).
    drop(tasks);
    drop(running);
    out.take()
        .expect("floor: the main task never finished (deadlock)")
}

/// Queues `fut` as a new task of the current run.
pub(crate) fn spawn(fut: impl Future<Output = ()> + 'static) {
    let fut: BoxFuture = Box::pin(fut);
    EXEC.with(|e| {
        assert_ne!(e.run.get(), 0, "floor: spawn outside block_on");
        e.queue.borrow_mut().push_back(Entry::Spawn(fut));
    });
}

/// Returns `Pending` once, waking itself first.
pub(crate) async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Stores `cx`'s waker in `slot`, cloning it only if a different one is stored there.
fn register(slot: &Cell<Option<Waker>>, cx: &Context<'_>) {
    let w = match slot.take() {
        Some(w) if w.will_wake(cx.waker()) => w,
        _ => cx.waker().clone(),
    };
    slot.set(Some(w));
}

fn wake(slot: &Cell<Option<Waker>>) {
    if let Some(w) = slot.take() {
        w.wake();
    }
}

/// A count of running tasks that one task awaits: it is woken once, when the count reaches 0.
pub(crate) struct WaitGroup(Rc<Group>);

struct Group {
    count: Cell<usize>,
    waiter: Cell<Option<Waker>>,
}

/// One unit of a `WaitGroup`'s count, released on drop.
pub(crate) struct Done(Rc<Group>);

impl WaitGroup {
    pub(crate) fn new() -> WaitGroup {
        WaitGroup(Rc::new(Group {
            count: Cell::new(0),
            waiter: Cell::new(None),
        }))
    }
    pub(crate) fn add(&self) -> Done {
        self.0.count.set(self.0.count.get() + 1);
        Done(self.0.clone())
    }
    pub(crate) async fn wait(self) {
        poll_fn(|cx| {
            if self.0.count.get() == 0 {
                Poll::Ready(())
            } else {
                register(&self.0.waiter, cx);
                Poll::Pending
            }
        })
        .await
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        let left = self.0.count.get() - 1;
        self.0.count.set(left);
        if left == 0 {
            wake(&self.0.waiter);
        }
    }
}

/// A capacity-1 channel between one sender and one receiver; dropping either end closes it.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let c = Rc::new(Chan {
        value: Cell::new(None),
        closed: Cell::new(false),
        recv_waker: Cell::new(None),
        send_waker: Cell::new(None),
    });
    (Sender(c.clone()), Receiver(c))
}

struct Chan<T> {
    value: Cell<Option<T>>,
    closed: Cell<bool>,
    recv_waker: Cell<Option<Waker>>,
    send_waker: Cell<Option<Waker>>,
}

pub(crate) struct Sender<T>(Rc<Chan<T>>);
pub(crate) struct Receiver<T>(Rc<Chan<T>>);

impl<T> Sender<T> {
    /// Waits for the slot to be free, then fills it; `Err(v)` if the receiver is gone.
    pub(crate) async fn send(&self, v: T) -> Result<(), T> {
        let c = &*self.0;
        let mut v = Some(v);
        poll_fn(|cx| {
            if c.closed.get() {
                return Poll::Ready(Err(v.take().unwrap()));
            }
            match c.value.take() {
                None => {
                    c.value.set(v.take());
                    wake(&c.recv_waker);
                    Poll::Ready(Ok(()))
                }
                full => {
                    c.value.set(full);
                    register(&c.send_waker, cx);
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl<T> Receiver<T> {
    /// Waits for a value; `None` once the sender is gone and the slot is empty.
    pub(crate) async fn recv(&self) -> Option<T> {
        let c = &*self.0;
        poll_fn(|cx| match c.value.take() {
            Some(v) => {
                wake(&c.send_waker);
                Poll::Ready(Some(v))
            }
            None if c.closed.get() => Poll::Ready(None),
            None => {
                register(&c.recv_waker, cx);
                Poll::Pending
            }
        })
        .await
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.0.closed.set(true);
        wake(&self.0.recv_waker);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.0.closed.set(true);
        wake(&self.0.send_waker);
    }
}
