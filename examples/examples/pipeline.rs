//! A pipeline: a producer feeds four transformers, which feed one consumer; the producer
//! fails half-way, and the failure stops every stage.
//!
//! ```text
//! cargo run -p examples --example pipeline
//! ```
//!
//! Stages talk through bounded channels, so a slow stage holds the ones before it back instead
//! of letting work pile up. All five tasks are children of one nursery: when the producer
//! fails, the nursery cancels the others (their channel operations return the cancellation),
//! waits for them, and returns the producer's error. What the consumer collected until then
//! is in a `Vec` that `main` owns and the consumer borrows; no `Arc`, no `Mutex`.
//!
//! The error type is an enum of the program's own, with the three impls the book's
//! "Cancellation is an error" chapter shows: `From<CancelRequested>`, `MaybeCancelled`, and
//! `From<ErrorGroup<PipelineError>>` so that `?` on the nursery converts.

use scoro::channel::{Receiver, SendError, Sender, channel};
use scoro::{CancelRequested, ErrorGroup, MaybeCancelled, nursery, structured};
use std::fmt;
use std::time::Duration;

/// How many readings may wait between two stages.
const BUFFER: usize = 4;

/// How many transformers run in parallel.
const TRANSFORMERS: usize = 4;

/// What can go wrong in the pipeline.
#[derive(Debug)]
enum PipelineError {
    /// A stage was cancelled (the nursery stopping it because another stage failed, a
    /// timeout, Ctrl-C).
    Cancelled(CancelRequested),
    /// The sensor failed.
    Sensor { at: u64 },
    /// A stage's neighbour is gone although it should still be running: a bug.
    Broken(&'static str),
    /// More than one stage failed.
    Many(ErrorGroup<PipelineError>),
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineError::Cancelled(c) => write!(f, "{c}"),
            PipelineError::Sensor { at } => write!(f, "the sensor failed at reading {at}"),
            PipelineError::Broken(why) => write!(f, "pipeline broken: {why}"),
            PipelineError::Many(group) => write!(f, "{group}"),
        }
    }
}

impl std::error::Error for PipelineError {}

impl From<CancelRequested> for PipelineError {
    fn from(c: CancelRequested) -> Self {
        PipelineError::Cancelled(c)
    }
}

impl From<ErrorGroup<PipelineError>> for PipelineError {
    fn from(group: ErrorGroup<PipelineError>) -> Self {
        if group.len() == 1 {
            group.into_first()
        } else {
            PipelineError::Many(group)
        }
    }
}

impl MaybeCancelled for PipelineError {
    fn is_cancel_requested(&self) -> bool {
        match self {
            PipelineError::Cancelled(_) => true,
            PipelineError::Many(group) => group.is_cancel_requested(),
            PipelineError::Sensor { .. } | PipelineError::Broken(_) => false,
        }
    }
}

impl<T> From<SendError<T>> for PipelineError {
    fn from(e: SendError<T>) -> Self {
        match e {
            SendError::Cancelled(_, c) => PipelineError::Cancelled(c),
            _ => PipelineError::Broken("the next stage stopped receiving"),
        }
    }
}

/// One raw reading from the sensor.
#[derive(Debug)]
struct Reading {
    seq: u64,
    raw: u64,
}

/// A reading after a transformer calibrated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Calibrated {
    seq: u64,
    value: u64,
}

/// Reads the sensor every 10 ms; it fails at reading `fail_at`, if given. Ends (closing the
/// channel, since `tx` is dropped) after `count` readings.
#[structured]
async fn produce(
    count: u64,
    fail_at: Option<u64>,
    tx: Sender<Reading>,
) -> Result<(), PipelineError> {
    for seq in 0..count {
        scoro::sleep(Duration::from_millis(10)).await?;
        if fail_at == Some(seq) {
            return Err(PipelineError::Sensor { at: seq });
        }
        tx.send(Reading {
            seq,
            raw: seq * 7 % 100,
        })
        .await?;
    }
    Ok(())
}

/// Calibrates readings, taking 30 ms each; ends when the producer has ended.
#[structured]
async fn transform(rx: Receiver<Reading>, tx: Sender<Calibrated>) -> Result<(), PipelineError> {
    while let Some(r) = rx.next().await? {
        scoro::sleep(Duration::from_millis(30)).await?;
        tx.send(Calibrated {
            seq: r.seq,
            value: r.raw * 2 + 1,
        })
        .await?;
    }
    Ok(())
}

/// Collects calibrated readings into `out` until every transformer has ended.
#[structured]
async fn consume(rx: Receiver<Calibrated>, out: &mut Vec<Calibrated>) -> Result<(), PipelineError> {
    while let Some(c) = rx.next().await? {
        out.push(c);
    }
    Ok(())
}

/// Runs the pipeline over `count` readings; what arrived at the end is in `out`, also when
/// the pipeline failed.
#[structured]
async fn run_pipeline(
    count: u64,
    fail_at: Option<u64>,
    out: &mut Vec<Calibrated>,
) -> Result<(), PipelineError> {
    nursery(async |n| -> Result<(), PipelineError> {
        let (raw_tx, raw_rx) = channel(BUFFER);
        let (done_tx, done_rx) = channel(BUFFER);
        n.start_soon(produce(count, fail_at, raw_tx));
        for _ in 0..TRANSFORMERS {
            n.start_soon(transform(raw_rx.clone(), done_tx.clone()));
        }
        // The originals are dropped here, so each channel ends when its last sender does.
        drop((raw_rx, done_tx));
        n.start_soon(consume(done_rx, out));
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::main]
async fn main() -> Result<(), PipelineError> {
    let mut collected = Vec::new();
    let outcome = run_pipeline(100, Some(50), &mut collected).await;
    collected.sort();
    println!(
        "collected {} readings before the pipeline stopped (last: {:?})",
        collected.len(),
        collected.last()
    );
    match outcome {
        Err(e) => {
            println!("stopped: {e}");
            Ok(())
        }
        Ok(()) => Err(PipelineError::Broken("the sensor was supposed to fail")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoro::current_time;

    fn expected(seq: u64) -> Calibrated {
        Calibrated {
            seq,
            value: seq * 7 % 100 * 2 + 1,
        }
    }

    // Without a failure every reading arrives, calibrated, exactly once; four transformers
    // share the work (100 readings of 30 ms each take well under 3 s).
    #[scoro::test(autojump)]
    async fn every_reading_arrives_once() {
        let start = current_time();
        let mut out = Vec::new();
        run_pipeline(100, None, &mut out).await.unwrap();
        out.sort();
        assert_eq!(out, (0..100).map(expected).collect::<Vec<_>>());
        assert!(current_time() - start < Duration::from_millis(1200));
    }

    // The producer's failure stops every stage: the pipeline returns that error (not a
    // cancellation, not a group), and what reached the consumer before is kept and correct.
    #[scoro::test(autojump)]
    async fn a_failing_producer_stops_everything() {
        let mut out = Vec::new();
        let err = run_pipeline(100, Some(50), &mut out).await.unwrap_err();
        assert!(matches!(err, PipelineError::Sensor { at: 50 }), "{err:?}");
        assert!(!err.is_cancel_requested());
        out.sort();
        assert!(!out.is_empty() && out.len() < 50, "{} readings", out.len());
        for c in &out {
            assert_eq!(*c, expected(c.seq));
        }
    }

    // A timeout around the whole pipeline cancels every stage and is recognised through the
    // enum: `move_on_after` returns `None`.
    #[scoro::test(autojump)]
    async fn a_timeout_cancels_every_stage() {
        let mut out = Vec::new();
        let r = scoro::move_on_after(
            Duration::from_millis(205),
            run_pipeline(100, None, &mut out),
        )
        .await;
        assert!(r.is_none());
        assert!(!out.is_empty() && out.len() < 100);
    }
}
