//! Helpers shared by several integration tests.

use scoro::{CancelRequested, CoroutineCall, nursery, structured};
use std::cell::Cell;
use std::future::Future;

/// Runs `op` in a nursery body next to a child that was started just before, and says whether
/// the child ran during `op` (that is, whether `op` yielded to the scheduler).
#[structured]
pub async fn yields<F: Future>(op: CoroutineCall<F>) -> bool {
    let ran = Cell::new(false);
    let r = nursery(async |n| -> Result<bool, CancelRequested> {
        n.start_soon(async {
            ran.set(true);
        });
        let _ = op.await;
        Ok(ran.get())
    })
    .await;
    r.unwrap()
}
