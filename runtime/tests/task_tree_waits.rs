//! The task tree names the scoro call every blocked task waits in (`TaskEntry::waiting_in`),
//! for each kind of wait.
//!
//! Each test blocks a task in one call, lets everything else block
//! (`wait_all_tasks_blocked`), and looks at the tree from another task.

use scoro::observe::{TaskState, TaskTree, task_tree};
use scoro::sync::Event;
use scoro::testing::wait_all_tasks_blocked;
use scoro::{CancelRequested, CoroutineCall, TaskStatus, nursery, structured};
use std::future::Future;

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

// ----- nurseries ---------------------------------------------------------------------------

#[structured]
async fn blocked_in_event(event: &Event) {
    let _ = event.wait().await;
}

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
}

#[scoro::test]
async fn shows_a_pending_start() {
    let event = Event::new();
    let tree = tree_with(blocked_in_start(&event)).await;
    assert_eq!(
        waiting_in(&tree, "blocked_in_start"),
        Some("scoro::Nursery::start (waiting for `started`)")
    );
}
