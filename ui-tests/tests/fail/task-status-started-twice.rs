// Trio's test_nursery_start: calling `task_status.started()` twice raises `RuntimeError`. In
// scoro `started` takes the `TaskStatus` by value, so the second call does not compile.
use scoro::{CancelRequested, TaskStatus, nursery, structured};

#[structured]
async fn double_started(status: TaskStatus<()>) -> Result<(), CancelRequested> {
    status.started(());
    status.started(());
    Ok(())
}

#[structured]
async fn parent() {
    let _ = nursery(async |n| -> Result<(), CancelRequested> {
        n.start(double_started).await?;
        Ok(())
    })
    .await;
}

fn main() {
    scoro::run(parent());
}
