//! Side-by-side benchmarks: scoro against tokio (current_thread, and multi_thread with two
//! workers) and smol's `LocalExecutor`, and against a floor: for the scheduling cases a bare
//! single-threaded executor (`floor`), for TCP a hand-written mio loop (`raw`).
//!
//! Each case runs every peer in turn, round after round, in this one process, and reports the
//! median time per operation of each peer and its ratio to scoro. Run with
//! `cargo bench -p scoro --bench compare`; `SCORO_BENCH_QUICK=1` makes every case small and
//! fast (a smoke run); `SCORO_BENCH_FILTER=name` runs the cases whose name contains `name`,
//! and `SCORO_BENCH_PEERS=scoro,smol` only those peers (for profiling).
//!
//! Output: a table on stdout with one column per peer (`scoro`, `tokio_ct`, `tokio_mt`, `smol`,
//! `floor`, `raw`; `-` where a case has none) and three ratios of scoro's time: `ratio` over
//! `tokio_ct`, `ratio_best` over the fastest peer (floors excluded), and `ratio_floor` over the
//! case's floor (`floor`, or `raw` for TCP; how far scoro is from the least work). Unfiltered
//! runs also write `target/scoro-bench/results.json` (one object per case and size: each peer's
//! value, `ratio`, `ratio_best` and `ratio_floor`, `null` when missing) and
//! `target/scoro-bench/ratios.svg` (two bar charts, each on its own scale: `ratio_best`, then
//! `ratio_floor`).
//!
//! Layout: `harness` runs cases and prints them, `alloc` counts heap bytes, `runtimes` builds
//! the peers' executors, `floor` is the bare executor, `cases` holds the cases
//! (`server` the server-shaped ones).

mod alloc;
mod cases;
mod floor;
mod harness;
mod runtimes;
mod server;

fn main() {
    harness::main();
}
