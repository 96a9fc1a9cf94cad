//! `scoro::observe`: the task tree's shape and text, instruments (which hooks fire, in which
//! order, and that hooks may look at the runtime), and metrics.

use scoro::lowlevel::{TaskId, TaskInfo};
use scoro::observe::{Instrument, ScopeKind, TaskState, TaskTree, TreeNode};
use scoro::sync::Event;
use scoro::testing::{MockClock, wait_all_tasks_blocked};
use scoro::{Builder, CancelRequested, ErrorGroup, nursery, structured};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

// ----- the tree ---------------------------------------------------------------------------

#[structured]
async fn wait_for(event: &Event) -> Result<(), CancelRequested> {
    event.wait().await
}

#[structured]
async fn in_a_timeout(event: &Event) -> Result<(), CancelRequested> {
    scoro::move_on_after(Duration::from_secs(5), wait_for(event)).await;
    Ok(())
}

#[structured]
async fn shielded(event: &Event) -> Result<(), CancelRequested> {
    scoro::CancelScope::new()
        .with_shield(true)
        .run(wait_for(event))
        .await
        .unwrap_or(Ok(()))
}

#[structured]
async fn tree_of_a_small_program(
    seen: &RefCell<Option<TaskTree>>,
) -> Result<(), ErrorGroup<CancelRequested>> {
    let event = Event::new();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(wait_for(&event));
        n.start_soon(in_a_timeout(&event));
        n.start_soon(shielded(&event));
        wait_all_tasks_blocked().await?;
        scoro::sleep(Duration::from_secs(2)).await?;
        wait_all_tasks_blocked().await?;
        *seen.borrow_mut() = Some(scoro::observe::task_tree());
        event.set();
        Ok(())
    })
    .await
}

fn small_program_tree() -> TaskTree {
    let seen = RefCell::new(None);
    let mut rt = Builder::new()
        .clock(MockClock::autojump(Duration::ZERO))
        .build()
        .unwrap();
    rt.run(tree_of_a_small_program(&seen)).unwrap();
    seen.into_inner().unwrap()
}

#[test]
fn the_tree_nests_tasks_in_nurseries_and_scopes() {
    let tree = small_program_tree();
    let [TreeNode::Task(main)] = tree.roots() else {
        panic!("one root task: {tree}");
    };
    assert!(main.info().name().ends_with("tree_of_a_small_program"));
    assert_eq!(main.info().parent(), None);
    assert_eq!(
        main.state(),
        TaskState::Running,
        "the main task asked for the tree"
    );
    let [TreeNode::Scope(n)] = main.children() else {
        panic!("the main task is in its nursery: {tree}");
    };
    assert_eq!(n.kind(), ScopeKind::Nursery);
    let children: Vec<_> = n
        .children()
        .iter()
        .map(|c| match c {
            TreeNode::Task(t) => t,
            other => panic!("only tasks directly in the nursery, not {other}"),
        })
        .collect();
    assert_eq!(children.len(), 3, "{tree}");
    for c in &children {
        assert_eq!(c.state(), TaskState::Blocked);
        assert_eq!(c.info().parent(), Some(main.info().id()));
        let at = c
            .info()
            .started_at()
            .expect("children know where they were started");
        assert_eq!(at.file(), file!());
    }
    // The child in `move_on_after(5 s)`, two seconds later: 3 s left.
    let timeout = children[1];
    assert!(timeout.info().name().ends_with("in_a_timeout"));
    let [TreeNode::Scope(scope)] = timeout.children() else {
        panic!("the timeout's scope: {tree}");
    };
    assert_eq!(scope.kind(), ScopeKind::CancelScope);
    assert_eq!(scope.deadline_in(), Some(Duration::from_secs(3)));
    assert!(!scope.shield() && !scope.cancelled() && !scope.cancel_called());
    let shielded = children[2];
    let [TreeNode::Scope(scope)] = shielded.children() else {
        panic!("the shielded scope: {tree}");
    };
    assert!(scope.shield());
    assert_eq!(scope.deadline_in(), None);
    // `tasks()` lists parents before children; `find` looks names up by suffix.
    assert_eq!(tree.tasks().len(), 4);
    assert_eq!(
        tree.find("shielded").unwrap().info().id(),
        shielded.info().id()
    );
}

#[test]
fn the_tree_prints_as_an_indented_tree() {
    let text = small_program_tree().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "scoro task tree: 4 tasks (1 running, 0 runnable, 3 blocked)"
    );
    assert!(
        lines[1].starts_with("observe::tree_of_a_small_program [task 0.0] running"),
        "{text}"
    );
    assert_eq!(lines[2], "└── nursery", "{text}");
    assert!(
        lines[3].starts_with("    ├── observe::wait_for [task "),
        "{text}"
    );
    assert!(
        lines[3].contains(", started at runtime/tests/observe.rs:"),
        "{text}"
    );
    assert!(
        lines[4].starts_with("    ├── observe::in_a_timeout [task "),
        "{text}"
    );
    assert_eq!(
        lines[5], "    │   └── cancel scope: deadline in 3.000 s",
        "{text}"
    );
    assert!(
        lines[6].starts_with("    └── observe::shielded [task "),
        "{text}"
    );
    assert_eq!(lines[7], "        └── cancel scope: shielded", "{text}");
    assert_eq!(lines.len(), 8, "{text}");
}

#[structured]
async fn cancelled_but_shielded(
    seen: &RefCell<Option<TaskTree>>,
) -> Result<(), ErrorGroup<CancelRequested>> {
    let event = Event::new();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(shielded(&event));
        wait_all_tasks_blocked().await?;
        n.cancel();
        let tree = scoro::observe::task_tree();
        *seen.borrow_mut() = Some(tree);
        event.set();
        Ok(())
    })
    .await
}

#[test]
fn cancelled_scopes_and_shields_show() {
    let seen = RefCell::new(None);
    let _ = scoro::run(cancelled_but_shielded(&seen));
    let text = seen.into_inner().unwrap().to_string();
    assert!(text.contains("└── nursery: cancel called"), "{text}");
    assert!(text.contains("└── cancel scope: shielded\n"), "{text}");
}

#[structured]
async fn deep(depth: u32) -> Result<(), CancelRequested> {
    if depth == 0 {
        let tree = scoro::observe::task_tree();
        let text = tree.to_string();
        assert_eq!(text.matches("cancel scope").count(), 3000);
        return Ok(());
    }
    scoro::CancelScope::new()
        .run(deep_boxed(depth - 1))
        .await
        .unwrap_or(Ok(()))
}

#[structured(boxed)]
async fn deep_boxed(depth: u32) -> Result<(), CancelRequested> {
    deep(depth).await
}

#[test]
fn thousands_of_nested_scopes_build_and_print_without_deep_recursion() {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| scoro::run(deep(3000)).unwrap())
        .unwrap()
        .join()
        .unwrap();
}

// ----- instruments ------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Hook {
    BeforeRun,
    AfterRun,
    Spawned(String, Option<TaskId>),
    Scheduled(TaskId),
    Before(TaskId),
    After(TaskId),
    Exited(TaskId),
    IoWait,
    IoWaited,
}

#[derive(Clone, Default)]
struct Recorder(Rc<RefCell<Vec<Hook>>>);

impl Recorder {
    fn push(&self, h: Hook) {
        self.0.borrow_mut().push(h);
    }
}

impl Instrument for Recorder {
    fn before_run(&self) {
        self.push(Hook::BeforeRun);
    }
    fn after_run(&self) {
        self.push(Hook::AfterRun);
    }
    fn task_spawned(&self, task: &TaskInfo) {
        self.push(Hook::Spawned(task.name(), task.parent()));
    }
    fn task_scheduled(&self, task: TaskId) {
        self.push(Hook::Scheduled(task));
    }
    fn before_task_step(&self, task: TaskId) {
        // Hooks may look at the runtime: the step is about to run this very task.
        assert_eq!(
            scoro::observe::task_tree().tasks().len() as u64,
            scoro::observe::metrics().live_tasks as u64
        );
        self.push(Hook::Before(task));
    }
    fn after_task_step(&self, task: TaskId) {
        self.push(Hook::After(task));
    }
    fn task_exited(&self, task: TaskId) {
        self.push(Hook::Exited(task));
    }
    fn before_io_wait(&self, _: Option<Duration>) {
        self.push(Hook::IoWait);
    }
    fn after_io_wait(&self, _: Option<Duration>) {
        self.push(Hook::IoWaited);
    }
}

#[structured]
async fn set_it(event: &Event) {
    event.set();
}

#[structured]
async fn one_child_sets_an_event() -> Result<(), ErrorGroup<CancelRequested>> {
    let event = Event::new();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(set_it(&event));
        event.wait().await
    })
    .await
}

#[test]
fn instruments_hear_every_step_in_order() {
    let rec = Recorder::default();
    let mut rt = Builder::new().instrument(rec.clone()).build().unwrap();
    rt.run(one_child_sets_an_event()).unwrap();
    let hooks = rec.0.borrow().clone();
    assert_eq!(hooks.first(), Some(&Hook::BeforeRun));
    assert_eq!(hooks.last(), Some(&Hook::AfterRun));
    let spawned: Vec<_> = hooks
        .iter()
        .filter_map(|h| match h {
            Hook::Spawned(name, parent) => Some((name.clone(), *parent)),
            _ => None,
        })
        .collect();
    assert_eq!(spawned.len(), 2);
    assert!(spawned[0].0.ends_with("one_child_sets_an_event") && spawned[0].1.is_none());
    assert!(spawned[1].0.ends_with("set_it") && spawned[1].1.is_some());
    // Every step is bracketed, one task at a time; every task that stepped exits once.
    let mut open = None;
    let mut exited = Vec::new();
    let mut stepped = Vec::new();
    for h in &hooks {
        match h {
            Hook::Before(t) => {
                assert_eq!(open, None, "steps do not overlap: {hooks:?}");
                open = Some(*t);
                stepped.push(*t);
            }
            Hook::After(t) => assert_eq!(open.take(), Some(*t), "{hooks:?}"),
            Hook::Exited(t) => {
                assert_eq!(open, None);
                assert!(!exited.contains(t));
                exited.push(*t);
            }
            _ => {}
        }
    }
    stepped.sort_by_key(|t| t.to_string());
    stepped.dedup();
    assert_eq!(exited.len(), 2);
    assert_eq!(stepped.len(), 2);
    // The main task blocks in `Event::wait`; the child's `set` schedules it, and the
    // scheduled report comes before its next step.
    let main = match hooks.iter().find(|h| matches!(h, Hook::Before(_))) {
        Some(Hook::Before(t)) => *t,
        _ => unreachable!(),
    };
    let scheduled = hooks
        .iter()
        .position(|h| *h == Hook::Scheduled(main))
        .expect("the main task is scheduled again");
    let next_step = hooks[scheduled..]
        .iter()
        .position(|h| *h == Hook::Before(main))
        .expect("and then steps");
    assert!(next_step > 0);
}

#[structured]
async fn sleep_a_little() -> Result<(), CancelRequested> {
    scoro::sleep(Duration::from_millis(1)).await
}

#[test]
fn instruments_hear_io_waits_in_pairs() {
    let rec = Recorder::default();
    let mut rt = Builder::new().instrument(rec.clone()).build().unwrap();
    rt.run(sleep_a_little()).unwrap();
    let hooks = rec.0.borrow();
    let waits = hooks.iter().filter(|h| **h == Hook::IoWait).count();
    let waited = hooks.iter().filter(|h| **h == Hook::IoWaited).count();
    assert!(waits >= 1, "the sleep waits: {hooks:?}");
    assert_eq!(waits, waited);
}

struct PanicsOnStep;

impl Instrument for PanicsOnStep {
    fn before_task_step(&self, _: TaskId) {
        panic!("instrument bug");
    }
}

#[test]
fn a_panicking_hook_ends_the_run_with_its_panic() {
    let mut rt = Builder::new().instrument(PanicsOnStep).build().unwrap();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.run(one_child_sets_an_event())
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"instrument bug"));
}

// ----- metrics ----------------------------------------------------------------------------

#[structured]
async fn metrics_of_a_busy_moment() -> Result<(), ErrorGroup<CancelRequested>> {
    let before = scoro::observe::metrics();
    assert_eq!(before.live_tasks, 1);
    assert_eq!(before.tasks_spawned, 1);
    let event = Event::new();
    nursery(async |n| -> Result<(), CancelRequested> {
        for _ in 0..3 {
            n.start_soon(wait_for(&event));
        }
        n.start_soon(sleep_a_little());
        let queued = scoro::observe::metrics();
        assert_eq!(queued.live_tasks, 5);
        assert_eq!(queued.tasks_spawned, 5);
        assert_eq!(queued.run_queue_depth, 4, "the children have not run yet");
        wait_all_tasks_blocked().await?;
        let blocked = scoro::observe::metrics();
        assert_eq!(blocked.run_queue_depth, 0);
        assert_eq!(blocked.timers_armed, 1, "the sleeping child's deadline");
        assert!(blocked.task_steps >= before.task_steps + 4);
        event.set();
        Ok(())
    })
    .await?;
    let after = scoro::observe::metrics();
    assert_eq!(after.live_tasks, 1);
    assert_eq!(after.tasks_spawned, 5);
    assert_eq!(after.timers_armed, 0);
    assert!(
        after.idle_time > Duration::ZERO,
        "the sleep blocked the thread"
    );
    assert!(after.idle_time <= after.uptime);
    Ok(())
}

#[test]
fn metrics_count_tasks_steps_queue_and_timers() {
    scoro::run(metrics_of_a_busy_moment()).unwrap();
}

#[structured]
async fn io_metrics() -> std::io::Result<()> {
    let listener = scoro::net::TcpListener::bind("127.0.0.1:0").await?;
    let m = scoro::observe::metrics();
    assert!(m.io_sources >= 1);
    let addr = listener.local_addr()?;
    let before = scoro::observe::metrics().io_events;
    let client = std::thread::spawn(move || std::net::TcpStream::connect(addr).unwrap());
    let _conn = listener.accept().await?;
    // The connection made the listener readable; if `accept` found it without waiting, the
    // event is still queued in the kernel, and the next look at I/O (the one that makes sure
    // nothing else is runnable) takes it.
    scoro::testing::wait_all_tasks_blocked().await?;
    assert!(scoro::observe::metrics().io_events > before);
    client.join().unwrap();
    Ok(())
}

#[test]
fn metrics_count_io_sources_and_events() {
    scoro::run(io_metrics()).unwrap();
}

#[structured]
async fn busy_worker() -> Result<(), ErrorGroup<CancelRequested>> {
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(scoro::to_thread::run_sync(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        }));
        // Wait on a second worker until the first one runs its function.
        scoro::to_thread::run_sync(move || started_rx.recv().unwrap()).await?;
        let m = scoro::observe::metrics();
        assert!(m.worker_threads_busy >= 1, "{m:?}");
        release_tx.send(()).unwrap();
        Ok(())
    })
    .await
}

#[test]
fn metrics_see_busy_worker_threads() {
    scoro::run(busy_worker()).unwrap();
}
