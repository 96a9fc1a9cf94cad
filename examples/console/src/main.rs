//! A small scoro program to watch with tokio-console: two producers, a consumer and a
//! heartbeat, exchanging messages for about 20 seconds.
//!
//! ```text
//! cd examples/console
//! cargo run                      # serves the console on 127.0.0.1:6669
//! tokio-console                  # in another terminal (`cargo install --locked tokio-console`)
//! ```
//!
//! The console lists each scoro task under its function path (`Name`), with where it was
//! started (`Location`), its polls, wakes and busy, scheduled and idle times. scoro's
//! `tracing` feature emits the spans it reads (see `scoro::observe`); `.cargo/config.toml`
//! builds console-subscriber with `--cfg console_without_tokio_unstable`, without which it
//! refuses to start (it checks for tokio's own task instrumentation, which scoro does not use).

use scoro::channel::{Receiver, Sender, channel};
use scoro::{CancelRequested, ErrorGroup, move_on_after, nursery, sleep, structured};
use std::time::Duration;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[structured]
async fn producer(tx: Sender<u64>, every: Duration) -> Result<(), Error> {
    for i in 0.. {
        sleep(every).await?;
        tx.send(i).await?;
    }
    Ok(())
}

#[structured]
async fn consumer(rx: Receiver<u64>) -> Result<(), Error> {
    loop {
        let n = rx.recv().await?;
        // Some work per message, so that the task shows busy time.
        let mut x = n;
        for _ in 0..200_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        sleep(Duration::from_millis(50)).await?;
    }
}

#[structured]
async fn heartbeat() -> Result<(), CancelRequested> {
    loop {
        sleep(Duration::from_secs(1)).await?;
    }
}

#[structured]
async fn pipeline() -> Result<(), ErrorGroup<Error>> {
    let (tx, rx) = channel(4);
    nursery(async |n| -> Result<(), Error> {
        n.start_soon(producer(tx.clone(), Duration::from_millis(200)));
        n.start_soon(producer(tx, Duration::from_millis(700)));
        n.start_soon(consumer(rx));
        n.start_soon(heartbeat());
        Ok(())
    })
    .await
}

#[structured]
async fn demo(seconds: u64) {
    let _ = move_on_after(Duration::from_secs(seconds), pipeline()).await;
}

/// `console-demo [SECONDS [LINGER]]`: runs for SECONDS (20), then keeps the console server up
/// for LINGER more seconds (10), so that the console shows the tasks finished.
fn main() {
    console_subscriber::init();
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    scoro::run(demo(arg(1, 20)));
    eprintln!("run finished; the console server stays up a little longer");
    std::thread::sleep(Duration::from_secs(arg(2, 10)));
}
