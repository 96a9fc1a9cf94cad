//! Runs the cases, peer after peer and round after round, and reports medians and ratios.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::cases::cases;

/// What one run of a peer measured: elapsed time for `n` operations, or a count per task.
#[derive(Clone, Copy)]
pub(crate) enum Sample {
    Time(Duration),
    Bytes(f64),
    /// A value already per operation (ns), such as a latency percentile.
    PerOp(f64),
}

pub(crate) type PeerFn = Box<dyn Fn(usize) -> Sample>;

pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) n: usize,
    pub(crate) peers: Vec<(&'static str, PeerFn)>,
}

struct Outcome {
    case: &'static str,
    n: usize,
    unit: &'static str,
    /// Median per operation (ns) or per task (bytes), by peer.
    values: BTreeMap<&'static str, f64>,
}

fn quick() -> bool {
    std::env::var_os("SCORO_BENCH_QUICK").is_some_and(|v| v != "0")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

fn run_case(case: &Case, rounds: usize) -> Outcome {
    let mut samples: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    let mut unit = "ns/op";
    let only = std::env::var("SCORO_BENCH_PEERS").ok();
    // One warm-up round, then `rounds` measured rounds, peers alternating.
    for round in 0..=rounds {
        for (peer, f) in &case.peers {
            if only
                .as_deref()
                .is_some_and(|o| !o.split(',').any(|p| p == *peer))
            {
                continue;
            }
            let s = f(case.n);
            if round == 0 {
                continue;
            }
            let v = match s {
                Sample::Time(d) => d.as_nanos() as f64 / case.n as f64,
                Sample::PerOp(v) => v,
                Sample::Bytes(b) => {
                    unit = "bytes/task";
                    b
                }
            };
            samples.entry(peer).or_default().push(v);
        }
    }
    Outcome {
        case: case.name,
        n: case.n,
        unit,
        values: samples.into_iter().map(|(k, v)| (k, median(v))).collect(),
    }
}

/// `floor` (a bare executor, `crate::floor`) and `raw` (a hand-written mio loop) are floors,
/// not peers: `ratio_best` leaves them out, `ratio_floor` is measured against them.
const PEERS: [&str; 6] = ["scoro", "tokio_ct", "tokio_mt", "smol", "floor", "raw"];
const FLOORS: [&str; 2] = ["floor", "raw"];

pub(crate) fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let quick = quick();
    let filter = std::env::var("SCORO_BENCH_FILTER").ok();
    let rounds = if quick { 3 } else { 9 };
    let started = Instant::now();
    let mut outcomes = Vec::new();
    println!(
        "{:<20} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>10} {:>11}",
        "case",
        "n",
        "scoro",
        "tokio_ct",
        "tokio_mt",
        "smol",
        "floor",
        "raw",
        "ratio",
        "ratio_best",
        "ratio_floor"
    );
    for case in cases(quick) {
        if filter.as_deref().is_some_and(|f| !case.name.contains(f)) {
            continue;
        }
        let o = run_case(&case, rounds);
        print_row(&o);
        outcomes.push(o);
    }
    println!(
        "\n{} cases in {:.1?} ({} rounds each)",
        outcomes.len(),
        started.elapsed(),
        rounds
    );
    if filter.is_some() || std::env::var_os("SCORO_BENCH_PEERS").is_some() {
        println!("(a filtered run: target/scoro-bench/ is left as it was)");
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scoro-bench");
    std::fs::create_dir_all(&dir).expect("create target/scoro-bench");
    std::fs::write(dir.join("results.json"), to_json(&outcomes)).expect("write results.json");
    std::fs::write(dir.join("ratios.svg"), to_svg(&outcomes)).expect("write ratios.svg");
    println!(
        "wrote {} and ratios.svg",
        dir.join("results.json").display()
    );
}

/// scoro's time over other columns' (any may be missing).
struct Ratios {
    /// Over `tokio_ct`.
    ratio: Option<f64>,
    /// Over the fastest peer, floors excluded.
    best: Option<f64>,
    /// Over the case's floor: `floor`, or `raw` where the case has no `floor` (TCP).
    floor: Option<f64>,
}

fn ratios(o: &Outcome) -> Ratios {
    let scoro = o.values.get("scoro").copied();
    let over = |v: Option<f64>| scoro.zip(v).map(|(s, t)| s / t);
    let best = o
        .values
        .iter()
        .filter(|(k, _)| **k != "scoro" && !FLOORS.contains(*k))
        .map(|(_, v)| *v)
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |a| a.min(v)))
        });
    let floor = FLOORS.iter().find_map(|f| o.values.get(f).copied());
    Ratios {
        ratio: over(o.values.get("tokio_ct").copied()),
        best: over(best),
        floor: over(floor),
    }
}

fn print_row(o: &Outcome) {
    let cell = |peer: &str| {
        o.values
            .get(peer)
            .map_or("-".to_string(), |v| format!("{v:.1}"))
    };
    let r = ratios(o);
    let f = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}"));
    println!(
        "{:<20} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>10} {:>11}   ({})",
        o.case,
        o.n,
        cell("scoro"),
        cell("tokio_ct"),
        cell("tokio_mt"),
        cell("smol"),
        cell("floor"),
        cell("raw"),
        f(r.ratio),
        f(r.best),
        f(r.floor),
        o.unit
    );
}

fn to_json(outcomes: &[Outcome]) -> String {
    let mut s = String::from("[\n");
    for (i, o) in outcomes.iter().enumerate() {
        let r = ratios(o);
        let _ = write!(
            s,
            "  {{\"case\": \"{}\", \"n\": {}, \"unit\": \"{}\"",
            o.case, o.n, o.unit
        );
        for peer in PEERS {
            if let Some(v) = o.values.get(peer) {
                let _ = write!(s, ", \"{peer}\": {v:.3}");
            }
        }
        let num = |r: Option<f64>| r.map_or("null".to_string(), |r| format!("{r:.4}"));
        let _ = write!(
            s,
            ", \"ratio\": {}, \"ratio_best\": {}, \"ratio_floor\": {}}}",
            num(r.ratio),
            num(r.best),
            num(r.floor)
        );
        s.push_str(if i + 1 < outcomes.len() { ",\n" } else { "\n" });
    }
    s.push_str("]\n");
    s
}

/// Two bar charts, one above the other, each on its own scale: `ratio_best`, then `ratio_floor`.
fn to_svg(outcomes: &[Outcome]) -> String {
    let rows = |pick: fn(&Ratios) -> Option<f64>| -> Vec<(String, f64)> {
        outcomes
            .iter()
            .filter_map(|o| pick(&ratios(o)).map(|r| (format!("{} (n={})", o.case, o.n), r)))
            .collect()
    };
    let best = rows(|r| r.best);
    let floor = rows(|r| r.floor);
    let w = 760.0;
    let mut body = String::new();
    let mut y = 0.0;
    y = svg_section(
        &mut body,
        y,
        "scoro time / fastest peer (lower is better; line = 1.0)",
        &best,
        None,
    );
    y = svg_section(
        &mut body,
        y + 10.0,
        "scoro time / floor: a bare executor, for TCP a raw mio loop (lower is better)",
        &floor,
        Some("#4a6fa5"),
    );
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n{body}</svg>\n",
        y + 15.0
    )
}

/// Draws one titled bar chart from `top`, with a dashed line at 1.0; returns its bottom.
/// Bars are green at or below 1.0 and red above, unless `color` is given.
fn svg_section(
    s: &mut String,
    top: f64,
    title: &str,
    rows: &[(String, f64)],
    color: Option<&str>,
) -> f64 {
    let max = rows.iter().map(|r| r.1).fold(1.5f64, f64::max);
    let (w, bar_h, left) = (760.0, 22.0, 230.0);
    let scale = (w - left - 60.0) / max;
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"{:.0}\" font-size=\"14\">{title}</text>",
        top + 20.0
    );
    for (i, (label, r)) in rows.iter().enumerate() {
        let y = top + 35.0 + bar_h * i as f64;
        let fill = color.unwrap_or(if *r <= 1.0 { "#3a7d44" } else { "#b5543c" });
        let _ = writeln!(
            s,
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{label}</text>\
             <rect x=\"{left}\" y=\"{:.0}\" width=\"{:.1}\" height=\"{:.0}\" fill=\"{fill}\"/>\
             <text x=\"{:.1}\" y=\"{:.0}\">{r:.2}</text>",
            left - 6.0,
            y + 14.0,
            y + 2.0,
            r * scale,
            bar_h - 6.0,
            left + r * scale + 4.0,
            y + 14.0
        );
    }
    let bottom = top + 45.0 + bar_h * rows.len() as f64;
    let x1 = left + scale;
    let _ = writeln!(
        s,
        "<line x1=\"{x1:.1}\" y1=\"{:.0}\" x2=\"{x1:.1}\" y2=\"{:.0}\" stroke=\"#333\" stroke-dasharray=\"4 3\"/>",
        top + 30.0,
        bottom
    );
    bottom
}

pub(crate) fn time(d: Duration) -> Sample {
    Sample::Time(d)
}
