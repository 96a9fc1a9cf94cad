//! Side-by-side benchmarks: scoro against tokio (current_thread, and multi_thread with two
//! workers), smol's `LocalExecutor`, and for TCP a hand-written mio loop.
//!
//! Each case runs every peer in turn, round after round, in this one process, and reports the
//! median time per operation of each peer and its ratio to scoro. Run with
//! `cargo bench -p scoro --bench compare`; `SCORO_BENCH_QUICK=1` makes every case small and
//! fast (a smoke run); `SCORO_BENCH_FILTER=name` runs the cases whose name contains `name`,
//! and `SCORO_BENCH_PEERS=scoro,smol` only those peers (for profiling).
//!
//! Output: a table on stdout and, for unfiltered runs, `target/scoro-bench/results.json` (one
//! object per case and size) and `target/scoro-bench/ratios.svg` (a bar chart of `ratio_best`).
//!
//! Layout: `harness` runs cases and prints them, `alloc` counts heap bytes, `runtimes` builds
//! the peers' executors, `cases` holds the cases.

mod alloc;
mod cases;
mod harness;
mod runtimes;

fn main() {
    harness::main();
}
