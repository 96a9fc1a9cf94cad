// An `async` block meant for a `Future`-taking API: in a structured body it is a scoro call,
// so both its foreign `.await` and the call that wants a `Future` fail, and both errors name
// `compat::plain!`.
use scoro::structured;
use std::future::Future;

fn spawn_elsewhere<F: Future + 'static>(future: F) -> F {
    future
}

#[structured]
async fn main_task() {
    let _ = spawn_elsewhere(async {
        let _ = std::future::ready(1).await;
    });
}

fn main() {
    scoro::run(main_task());
}
