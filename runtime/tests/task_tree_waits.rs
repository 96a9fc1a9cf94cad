//! The task tree names the scoro call every blocked task waits in (`TaskEntry::waiting_in`),
//! for each kind of wait, and says where each child was started, also for the children of
//! the combinators (the user's line, not one inside scoro).
//!
//! Each test blocks a task in one call, lets everything else block
//! (`wait_all_tasks_blocked`), and looks at the tree from another task.

use scoro::channel::watch;
use scoro::channel::{Receiver, Sender, channel};
use scoro::io::Read;
use scoro::lowlevel::{Abort, ParkingLot, Wakeup, suspend, wait_readable};
use scoro::net::{
    ReadHalf, TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream, serve_tcp,
};
use scoro::observe::{TaskState, TaskTree, task_tree};
use scoro::signal::{SIGUSR2, open_signal_receiver, wait_for_ctrl_c};
use scoro::sync::{Barrier, CapacityLimiter, Condition, Event, Lock, RwLock, Semaphore};
use scoro::testing::wait_all_tasks_blocked;
use scoro::{
    CancelRequested, CoroutineCall, TaskStatus, join, join_all, nursery, race, structured,
    to_thread,
};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Starts `blocked` as a child, waits until every task is blocked, and returns the task tree
/// of that moment; then cancels the child.
#[structured]
async fn tree_with<F: Future<Output = ()>>(blocked: CoroutineCall<F>) -> TaskTree {
    let tree = nursery(async |n| -> Result<TaskTree, CancelRequested> {
        n.start_soon(blocked);
        wait_all_tasks_blocked().await?;
        let tree = task_tree();
        n.cancel();
        Ok(tree)
    })
    .await;
    tree.expect("nothing but the nursery itself cancels it")
}

/// What the task tree says the (first) task named `name` waits in.
fn waiting_in(tree: &TaskTree, name: &str) -> Option<&'static str> {
    let task = tree
        .find(name)
        .unwrap_or_else(|| panic!("no task `{name}` in\n{tree}"));
    assert_eq!(task.state(), TaskState::Blocked, "{tree}");
    task.waiting_in()
}

// ----- sync --------------------------------------------------------------------------------

#[structured]
async fn blocked_in_lock(lock: &Lock<()>) {
    let _ = lock.lock().await;
}

#[structured]
async fn blocked_in_semaphore(sem: &Semaphore) {
    let _ = sem.acquire().await;
}

#[structured]
async fn blocked_in_limiter(limiter: &CapacityLimiter) {
    let _ = limiter.acquire().await;
}

#[structured]
async fn blocked_in_event(event: &Event) {
    let _ = event.wait().await;
}

#[structured]
async fn blocked_in_condition(lock: &Lock<()>, cond: &Condition) {
    let Ok(guard) = lock.lock().await else {
        return;
    };
    let _ = cond.wait(guard).await;
}

#[structured]
async fn blocked_in_parking_lot(lot: &ParkingLot) {
    let _ = lot.park().await;
}

#[scoro::test]
async fn shows_lock_lock() -> TestResult {
    let lock = Lock::new(());
    let held = lock.lock().await?;
    let tree = tree_with(blocked_in_lock(&lock)).await;
    drop(held);
    assert_eq!(
        waiting_in(&tree, "blocked_in_lock"),
        Some("scoro::sync::Lock::lock")
    );
    Ok(())
}

#[scoro::test]
async fn shows_semaphore_acquire() {
    let sem = Semaphore::new(0);
    let tree = tree_with(blocked_in_semaphore(&sem)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_semaphore"),
        Some("scoro::sync::Semaphore::acquire")
    );
}

#[scoro::test]
async fn shows_capacity_limiter_acquire() -> TestResult {
    let limiter = CapacityLimiter::new(1);
    let held = limiter.acquire().await?;
    let tree = tree_with(blocked_in_limiter(&limiter)).await;
    drop(held);
    assert_eq!(
        waiting_in(&tree, "blocked_in_limiter"),
        Some("scoro::sync::CapacityLimiter::acquire")
    );
    Ok(())
}

#[scoro::test]
async fn shows_event_wait() {
    let event = Event::new();
    let tree = tree_with(blocked_in_event(&event)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_event"),
        Some("scoro::sync::Event::wait")
    );
}

#[scoro::test]
async fn shows_condition_wait() {
    let lock = Lock::new(());
    let cond = Condition::new();
    let tree = tree_with(blocked_in_condition(&lock, &cond)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_condition"),
        Some("scoro::sync::Condition::wait")
    );
}

#[scoro::test]
async fn shows_parking_lot_park() {
    let lot = ParkingLot::new();
    let tree = tree_with(blocked_in_parking_lot(&lot)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_parking_lot"),
        Some("scoro::lowlevel::ParkingLot::park")
    );
}

#[structured]
async fn blocked_in_read(lock: &RwLock<()>) {
    let _ = lock.read().await;
}

#[structured]
async fn blocked_in_write(lock: &RwLock<()>) {
    let _ = lock.write().await;
}

#[structured]
async fn blocked_in_barrier(barrier: &Barrier) {
    let _ = barrier.wait().await;
}

#[structured]
async fn blocked_in_changed(rx: &watch::Receiver<u32>) {
    let _ = rx.changed().await;
}

#[scoro::test]
async fn shows_rwlock_read_and_write() -> TestResult {
    let lock = RwLock::new(());
    let held = lock.write().await?;
    let tree = tree_with(blocked_in_read(&lock)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_read"),
        Some("scoro::sync::RwLock::read")
    );
    let tree = tree_with(blocked_in_write(&lock)).await;
    drop(held);
    assert_eq!(
        waiting_in(&tree, "blocked_in_write"),
        Some("scoro::sync::RwLock::write")
    );
    Ok(())
}

#[scoro::test]
async fn shows_barrier_wait_and_watch_changed() {
    let barrier = Barrier::new(2);
    let tree = tree_with(blocked_in_barrier(&barrier)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_barrier"),
        Some("scoro::sync::Barrier::wait")
    );
    let (_tx, rx) = watch::channel(0);
    let tree = tree_with(blocked_in_changed(&rx)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_changed"),
        Some("scoro::channel::watch::Receiver::changed")
    );
}

// ----- channels ----------------------------------------------------------------------------

#[structured]
async fn blocked_in_send(tx: &Sender<u32>) {
    let _ = tx.send(2).await;
}

#[structured]
async fn blocked_in_recv(rx: &Receiver<u32>) {
    let _ = rx.recv().await;
}

#[structured]
async fn blocked_in_next(rx: &Receiver<u32>) {
    let _ = rx.next().await;
}

#[scoro::test]
async fn shows_channel_send_on_a_full_channel() {
    let (tx, _rx) = channel(1);
    tx.try_send(1).expect("room for one");
    let tree = tree_with(blocked_in_send(&tx)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_send"),
        Some("scoro::channel::Sender::send")
    );
}

#[scoro::test]
async fn shows_channel_recv_and_next_on_an_empty_channel() {
    let (_tx, rx) = channel::<u32>(1);
    let tree = tree_with(blocked_in_recv(&rx)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_recv"),
        Some("scoro::channel::Receiver::recv")
    );
    let tree = tree_with(blocked_in_next(&rx)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_next"),
        Some("scoro::channel::Receiver::next")
    );
}

// ----- I/O ---------------------------------------------------------------------------------

#[structured]
async fn blocked_in_tcp_accept(listener: &TcpListener) {
    let _ = listener.accept().await;
}

#[structured]
async fn blocked_in_tcp_read(stream: &mut TcpStream) {
    let mut buf = [0; 8];
    let _ = stream.read(&mut buf).await;
}

#[structured]
async fn blocked_in_unix_accept(listener: &UnixListener) {
    let _ = listener.accept().await;
}

#[structured]
async fn blocked_in_unix_read(stream: &mut UnixStream) {
    let mut buf = [0; 8];
    let _ = stream.read(&mut buf).await;
}

#[structured]
async fn blocked_in_half_read(half: &mut ReadHalf<'_>) {
    let mut buf = [0; 8];
    let _ = half.read(&mut buf).await;
}

#[structured]
async fn blocked_in_udp_recv(socket: &UdpSocket) {
    let mut buf = [0; 8];
    let _ = socket.recv_from(&mut buf).await;
}

#[structured]
async fn blocked_in_wait_readable(fd: std::os::fd::RawFd) {
    let _ = wait_readable(fd).await;
}

#[scoro::test]
async fn shows_tcp_accept_and_read() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let tree = tree_with(blocked_in_tcp_accept(&listener)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_tcp_accept"),
        Some("scoro::net::TcpListener::accept")
    );

    let _client = TcpStream::connect(listener.local_addr()?).await?;
    let (mut server, _) = listener.accept().await?;
    let tree = tree_with(blocked_in_tcp_read(&mut server)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_tcp_read"),
        Some("scoro::net::TcpStream::read")
    );
    Ok(())
}

#[scoro::test]
async fn shows_unix_accept_and_reads() -> TestResult {
    let dir = std::env::temp_dir().join(format!("scoro-tree-waits-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("accept.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).await?;
    let tree = tree_with(blocked_in_unix_accept(&listener)).await;
    drop(listener);
    std::fs::remove_dir_all(&dir)?;
    assert_eq!(
        waiting_in(&tree, "blocked_in_unix_accept"),
        Some("scoro::net::UnixListener::accept")
    );

    let (mut a, _b) = UnixStream::pair()?;
    let tree = tree_with(blocked_in_unix_read(&mut a)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_unix_read"),
        Some("scoro::net::UnixStream::read")
    );

    let (mut reader, _writer) = a.split();
    let tree = tree_with(blocked_in_half_read(&mut reader)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_half_read"),
        Some("scoro::net::ReadHalf::read")
    );
    Ok(())
}

#[scoro::test]
async fn shows_udp_recv_from() -> TestResult {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let tree = tree_with(blocked_in_udp_recv(&socket)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_udp_recv"),
        Some("scoro::net::UdpSocket::recv_from")
    );
    Ok(())
}

#[scoro::test]
async fn shows_wait_readable_on_a_pipe() -> TestResult {
    let (reader, _writer) = std::io::pipe()?;
    let tree = tree_with(blocked_in_wait_readable(reader.as_raw_fd())).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_wait_readable"),
        Some("scoro::lowlevel::wait_readable")
    );
    Ok(())
}

// ----- time --------------------------------------------------------------------------------

#[structured]
async fn blocked_in_sleep() {
    let _ = scoro::sleep(Duration::from_secs(5)).await;
}

#[structured]
async fn blocked_in_sleep_until() {
    let _ = scoro::sleep_until(scoro::current_time() + Duration::from_secs(7)).await;
}

#[structured]
async fn blocked_in_sleep_forever() {
    let _ = scoro::sleep_forever().await;
}

#[scoro::test(autojump)]
async fn shows_sleep_and_when_it_ends() -> TestResult {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(blocked_in_sleep());
        n.start_soon(blocked_in_sleep_until());
        // The mock clock jumps to this sleep's end: 2 s after the others started.
        scoro::sleep(Duration::from_secs(2)).await?;
        wait_all_tasks_blocked().await?;
        let tree = task_tree();
        assert_eq!(waiting_in(&tree, "blocked_in_sleep"), Some("scoro::sleep"));
        assert_eq!(
            tree.find("blocked_in_sleep").unwrap().wakes_in(),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            waiting_in(&tree, "blocked_in_sleep_until"),
            Some("scoro::sleep_until")
        );
        assert_eq!(
            tree.find("blocked_in_sleep_until").unwrap().wakes_in(),
            Some(Duration::from_secs(5))
        );
        n.cancel();
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test]
async fn shows_sleep_forever() {
    let tree = tree_with(blocked_in_sleep_forever()).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_sleep_forever"),
        Some("scoro::sleep_forever")
    );
}

// ----- nurseries ---------------------------------------------------------------------------

/// Runs a nursery whose body is done at once while its child waits for `event`.
#[structured]
async fn blocked_in_own_nursery(event: &Event) {
    let _ = nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(blocked_in_event(event));
        Ok(())
    })
    .await;
}

#[structured]
async fn not_started_yet(status: TaskStatus<()>, event: &Event) {
    let _ = event.wait().await;
    status.started(());
}

/// Starts a child that calls `started` only once `event` is set.
#[structured]
async fn blocked_in_start(event: &Event) {
    let _ = nursery(async |n| -> Result<(), CancelRequested> {
        n.start(|status| not_started_yet(status, event)).await?;
        Ok(())
    })
    .await;
}

#[scoro::test]
async fn shows_a_nursery_waiting_for_its_children() {
    let event = Event::new();
    let tree = tree_with(blocked_in_own_nursery(&event)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_own_nursery"),
        Some("scoro::nursery (waiting for its children)")
    );
    assert_eq!(
        waiting_in(&tree, "blocked_in_event"),
        Some("scoro::sync::Event::wait")
    );
}

#[scoro::test]
async fn shows_a_pending_start() {
    let event = Event::new();
    let tree = tree_with(blocked_in_start(&event)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_start"),
        Some("scoro::Nursery::start (waiting for `started`)")
    );
    assert_eq!(
        waiting_in(&tree, "not_started_yet"),
        Some("scoro::sync::Event::wait")
    );
}

// ----- worker threads, foreign futures, signals, suspend -----------------------------------

/// Runs a function on a worker that says it started, then waits to be released.
#[structured]
async fn blocked_in_run_sync(started: mpsc::Sender<()>, release: mpsc::Receiver<()>) {
    let _ = to_thread::run_sync(move || {
        started.send(()).unwrap();
        release.recv().unwrap();
    })
    .await;
}

#[scoro::test]
async fn shows_run_sync_and_how_long_its_worker_runs() -> TestResult {
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(blocked_in_run_sync(started_tx, release_rx));
        // `wait_all_tasks_blocked` waits for workers: learn from the worker that it runs.
        to_thread::run_sync(move || started_rx.recv().unwrap()).await?;
        let tree = task_tree();
        assert_eq!(
            waiting_in(&tree, "blocked_in_run_sync"),
            Some("scoro::to_thread::run_sync")
        );
        assert!(
            tree.find("blocked_in_run_sync")
                .unwrap()
                .worker_running_for()
                .is_some(),
            "{tree}"
        );
        release_tx.send(()).unwrap();
        Ok(())
    })
    .await?;
    Ok(())
}

/// A foreign future: pending until its gate is opened (from any thread, with its waker).
struct Gate(Arc<Mutex<(bool, Option<Waker>)>>);

impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.lock().unwrap();
        if state.0 {
            Poll::Ready(())
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[structured]
async fn blocked_in_compat(gate: Arc<Mutex<(bool, Option<Waker>)>>, done: &Cell<bool>) {
    if scoro::compat::future(Gate(gate)).await.is_ok() {
        done.set(true);
    }
}

#[scoro::test]
async fn shows_compat_future() -> TestResult {
    let gate = Arc::new(Mutex::new((false, None::<Waker>)));
    let done = Cell::new(false);
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(blocked_in_compat(gate.clone(), &done));
        wait_all_tasks_blocked().await?;
        let tree = task_tree();
        assert_eq!(
            waiting_in(&tree, "blocked_in_compat"),
            Some("scoro::compat::future")
        );
        let waker = {
            let mut state = gate.lock().unwrap();
            state.0 = true;
            state.1.take().expect("the foreign future left its waker")
        };
        waker.wake();
        Ok(())
    })
    .await?;
    assert!(done.get(), "the foreign future completed");
    Ok(())
}

#[structured]
async fn blocked_in_signal_recv() {
    let Ok(mut rx) = open_signal_receiver(&[SIGUSR2]) else {
        panic!("could not listen for SIGUSR2");
    };
    let _ = rx.recv().await;
}

#[structured]
async fn blocked_in_ctrl_c() {
    let _ = wait_for_ctrl_c().await;
}

#[scoro::test]
async fn shows_signal_waits() {
    let tree = tree_with(blocked_in_signal_recv()).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_signal_recv"),
        Some("scoro::signal::SignalReceiver::recv")
    );
    let tree = tree_with(blocked_in_ctrl_c()).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_ctrl_c"),
        Some("scoro::signal::wait_for_ctrl_c")
    );
}

#[structured]
async fn blocked_in_suspend(kept: &RefCell<Option<Wakeup<()>>>) {
    let _ = suspend(|w| *kept.borrow_mut() = Some(w), || Abort::Succeeded).await;
}

#[scoro::test]
async fn shows_suspend() {
    let kept = RefCell::new(None);
    let tree = tree_with(blocked_in_suspend(&kept)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_suspend"),
        Some("scoro::lowlevel::suspend")
    );
}

// ----- start locations ---------------------------------------------------------------------

/// Where the task named `name` was started, as (file, line).
fn started_at(tree: &TaskTree, name: &str) -> (&'static str, u32) {
    let at = tree
        .find(name)
        .unwrap_or_else(|| panic!("no task `{name}` in\n{tree}"))
        .info()
        .started_at()
        .unwrap_or_else(|| panic!("`{name}` has no start location in\n{tree}"));
    (at.file(), at.line())
}

#[scoro::test]
async fn a_child_was_started_where_start_soon_was_called() -> TestResult {
    let event = Event::new();
    nursery(async |n| -> Result<(), CancelRequested> {
        let line = line!() + 1;
        n.start_soon(blocked_in_event(&event));
        wait_all_tasks_blocked().await?;
        let tree = task_tree();
        assert_eq!(started_at(&tree, "blocked_in_event"), (file!(), line));
        event.set();
        Ok(())
    })
    .await?;
    Ok(())
}

#[structured]
async fn joined(event: &Event) -> Result<(), CancelRequested> {
    event.wait().await
}

#[structured]
async fn raced(event: &Event) -> Result<(), CancelRequested> {
    event.wait().await
}

#[structured]
async fn tupled(event: &Event) -> Result<(), CancelRequested> {
    event.wait().await
}

/// Calls each combinator on its own line, recording the lines.
#[structured]
async fn combine(events: &[Event; 3], lines: &RefCell<Vec<u32>>) {
    lines.borrow_mut().push(line!() + 1);
    let _ = join_all([joined(&events[0])]).await;
    lines.borrow_mut().push(line!() + 1);
    let _ = race([raced(&events[1])]).await;
    lines.borrow_mut().push(line!() + 1);
    let _ = join((tupled(&events[2]),)).await;
}

#[scoro::test]
async fn combinator_children_were_started_where_the_combinator_was_called() -> TestResult {
    let events = [Event::new(), Event::new(), Event::new()];
    let lines = RefCell::new(Vec::new());
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(combine(&events, &lines));
        for (event, name) in events.iter().zip(["joined", "raced", "tupled"]) {
            wait_all_tasks_blocked().await?;
            let tree = task_tree();
            let line = *lines.borrow().last().unwrap();
            assert_eq!(started_at(&tree, name), (file!(), line), "{tree}");
            event.set();
        }
        Ok(())
    })
    .await?;
    assert_eq!(lines.borrow().len(), 3);
    Ok(())
}

#[structured]
async fn served(mut stream: TcpStream) {
    let mut buf = [0; 8];
    let _ = stream.read(&mut buf).await;
}

#[structured]
async fn server(listener: TcpListener, line: &Cell<u32>) {
    line.set(line!() + 1);
    let _ = serve_tcp(listener, served).await;
}

#[scoro::test]
async fn serve_tcp_handlers_were_started_where_serve_tcp_was_called() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let line = Cell::new(0);
    nursery(async |n| -> Result<(), std::io::Error> {
        n.start_soon(server(listener, &line));
        let _client = TcpStream::connect(addr).await?;
        wait_all_tasks_blocked().await?;
        let tree = task_tree();
        assert_eq!(started_at(&tree, "served"), (file!(), line.get()), "{tree}");
        assert_eq!(
            waiting_in(&tree, "served"),
            Some("scoro::net::TcpStream::read")
        );
        assert_eq!(
            waiting_in(&tree, "server"),
            Some("scoro::net::TcpListener::accept")
        );
        n.cancel();
        Ok(())
    })
    .await?;
    Ok(())
}

#[structured]
async fn blocked_in_child_wait(child: &mut scoro::process::Child) {
    let _ = child.wait().await;
}

#[structured]
async fn blocked_in_child_read(stdout: &mut scoro::process::ChildStdout) {
    let mut buf = [0; 8];
    let _ = stdout.read(&mut buf).await;
}

#[structured]
async fn blocked_in_child_write(stdin: &mut scoro::process::ChildStdin) {
    // More than a pipe holds, to a child that reads nothing.
    let _ = scoro::io::Write::write_all(stdin, &[0; 1 << 20]).await;
}

#[scoro::test]
async fn shows_child_process_calls() -> TestResult {
    use std::process::Stdio;
    let mut child = scoro::process::Command::new("sleep")
        .arg("1000")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .await?;
    let mut stdout = child.stdout.take().unwrap();
    let tree = tree_with(blocked_in_child_read(&mut stdout)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_child_read"),
        Some("scoro::process::ChildStdout::read")
    );
    let mut stdin = child.stdin.take().unwrap();
    let tree = tree_with(blocked_in_child_write(&mut stdin)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_child_write"),
        Some("scoro::process::ChildStdin::write")
    );
    // The cancelled wait (`tree_with` cancels it) ends the child.
    let tree = tree_with(blocked_in_child_wait(&mut child)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_child_wait"),
        Some("scoro::process::Child::wait")
    );
    assert!(child.try_wait()?.is_some());
    Ok(())
}
