//! A worker pool: a producer feeds jobs through a bounded channel to a fixed number of
//! workers, which report results through a second channel; closing the job channel is the
//! whole shutdown protocol.
//!
//! ```text
//! cargo run -p examples --example worker_pool [WORKERS] [JOBS]
//! ```
//!
//! Press Ctrl-C while it runs: every task is cancelled at its next checkpoint, and the
//! producer reports which job it still held.

use scoro::channel::{Receiver, SendError, Sender, channel, unbounded};
use scoro::{CancelRequested, ErrorGroup, nursery, structured};
use std::time::Duration;

/// A job: compute the sum of `1..=n`, slowly.
#[derive(Debug)]
struct Job {
    id: u32,
    n: u64,
}

#[derive(Debug)]
struct Done {
    job: u32,
    worker: usize,
    sum: u64,
}

#[structured]
async fn worker(
    id: usize,
    jobs: Receiver<Job>,
    results: Sender<Done>,
) -> Result<(), CancelRequested> {
    while let Some(job) = jobs.next().await? {
        let mut sum = 0;
        for i in 1..=job.n {
            sum += i;
            if i % 1000 == 0 {
                // A long computation checkpoints now and then: it shares the thread and
                // notices cancellation.
                scoro::checkpoint().await?;
            }
        }
        scoro::sleep(Duration::from_millis(job.n % 50)).await?;
        let done = Done {
            job: job.id,
            worker: id,
            sum,
        };
        // Unbounded, and its receiver outlives the pool: only a cancellation can fail it.
        if let Err(SendError::Cancelled(_, c)) = results.send(done).await {
            return Err(c);
        }
    }
    Ok(())
}

#[structured]
async fn produce(jobs: Sender<Job>, count: u32) -> Result<(), CancelRequested> {
    for id in 0..count {
        let job = Job {
            id,
            n: 10_000 + u64::from(id) * 997,
        };
        match jobs.send(job).await {
            Ok(()) => {}
            Err(SendError::Cancelled(job, c)) => {
                // The job was not queued; we still own it and could save it somewhere.
                println!("cancelled while holding job {} (n = {})", job.id, job.n);
                return Err(c);
            }
            Err(e) => unreachable!("workers stop only when the job channel ends: {e}"),
        }
    }
    println!("producer: all {count} jobs queued; closing the job channel");
    Ok(()) // `jobs` is dropped here: the workers drain the queue and stop
}

#[structured]
async fn run_pool(workers: usize, count: u32) -> Result<Vec<Done>, ErrorGroup<CancelRequested>> {
    let (job_tx, job_rx) = channel::<Job>(workers);
    let (done_tx, done_rx) = unbounded::<Done>();
    nursery(async move |n| -> Result<(), CancelRequested> {
        for id in 0..workers {
            n.start_soon(worker(id, job_rx.clone(), done_tx.clone()));
        }
        n.start_soon(produce(job_tx, count));
        drop((job_rx, done_tx));
        Ok(())
    })
    .await?;
    let mut done = Vec::new();
    while let Ok(d) = done_rx.try_recv() {
        done.push(d);
    }
    Ok(done)
}

#[scoro::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let workers = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let count = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    match run_pool(workers, count).await {
        Ok(mut done) => {
            done.sort_by_key(|d| d.job);
            for d in &done {
                println!("job {:>3} by worker {}: {}", d.job, d.worker, d.sum);
            }
            assert_eq!(
                done.len(),
                count as usize,
                "every job was done exactly once"
            );
        }
        Err(e) => println!("the pool stopped early: {e}"),
    }
}
