//! An offline view of a trace written by `chaosim run ID --trace FILE`
//! (`chaosim report FILE`): one row per track (kernel process, kernel
//! control plane, kernel faults, Layer-2 component, nemesis fault, executor
//! slot, safeguards, replicated log), slices as bars, instants as ticks, in
//! one self-contained `index.html` with inline SVG. For the full interactive
//! view (zoom, counters, arguments) open the same file in
//! <https://ui.perfetto.dev> or `chrome://tracing`.
//!
//! The input is read twice, line by line (the writer puts one event per
//! line): once for the track names and the time extent, once to draw. Kept:
//! the track list, never the events.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde_json::Value;

use super::html::{create_out, escape};
use super::{ReportIndex, ReportKind};
use crate::error::{Error, Result};

/// The first line of a trace written by [`crate::record::trace::TraceWriter`].
pub const TRACE_MAGIC: &str = "{\"traceEvents\":[";

/// Whether `path` starts with [`TRACE_MAGIC`].
pub fn is_trace(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; TRACE_MAGIC.len()];
    let mut got = 0;
    while got < buf.len() {
        let n = f.read(&mut buf[got..]).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got == buf.len() && buf == TRACE_MAGIC.as_bytes())
}

/// Call `f` with every event line of the trace.
fn each_event(path: &Path, mut f: impl FnMut(&Value)) -> Result<()> {
    let file = crate::input::open_lines(path, crate::input::CSV_LINE_BYTES_MAX)?;
    let bad = |line: usize, message: String| Error::Syntax {
        path: path.to_path_buf(),
        line,
        column: 1,
        message,
    };
    // The layout `chaosim run --trace` writes: the opening line, one event
    // per line, the closing line; anything else is not such a trace (a
    // file cut short has no closing line).
    let mut closed = None;
    let mut lines = 0;
    for (i, line) in BufReader::with_capacity(64 * 1024, file)
        .lines()
        .enumerate()
    {
        let line = line.map_err(|e| crate::input::from_read_error(path, e))?;
        lines = i + 1;
        let t = line.trim().trim_end_matches(',');
        if i == 0 || t.is_empty() {
            continue; // the opening line, checked by is_trace
        }
        if let Some(at) = closed {
            return Err(bad(i + 1, format!("text after the closing line {at}")));
        }
        if t == TRACE_END {
            closed = Some(i + 1);
            continue;
        }
        if !t.starts_with("{\"ph\"") {
            return Err(bad(
                i + 1,
                "not a trace event line (expected {\"ph\":...})".into(),
            ));
        }
        let v: Value =
            serde_json::from_str(t).map_err(|e| bad(i + 1, format!("not a trace event: {e}")))?;
        f(&v);
    }
    if closed.is_none() {
        return Err(bad(
            lines.max(1),
            format!("cut short: no closing line {TRACE_END}"),
        ));
    }
    Ok(())
}

/// The closing line of a trace.
const TRACE_END: &str = "],\"displayTimeUnit\":\"ms\"}";

#[derive(Default)]
struct Track {
    name: String,
    sort: u64,
    used: bool,
}

/// A `ts`/`dur` in microseconds as nanoseconds (negative `ts` is the
/// boot lead-in before the scenario clock's zero).
fn ns(v: &Value) -> i64 {
    let us = v.as_f64().unwrap_or(0.0);
    if us.is_finite() {
        (us * 1000.0).round().clamp(-9.0e18, 9.0e18) as i64
    } else {
        0
    }
}

/// The colours of the page's key: `(names, colour)`, one entry per colour;
/// a slice whose name is in `names` takes that colour.
const STATE_COLOURS: [(&[&str], &str); 8] = [
    (&["running"], "#5cb85c"),
    (&["booting"], "#5bc0de"),
    (&["paused", "running (paused, unnoticed)"], "#d9534f"),
    (&["dead", "down", "running (dead, unnoticed)"], "#8b0000"),
    (&["unresponsive"], "#f0ad4e"),
    (&["restarting"], "#e38d13"),
    (&["failed"], "#000000"),
    (&["normal", "closed", "serving", "connected"], "#b8dcb8"),
];
/// A slice of category `fault` (a fault's active window).
const FAULT_COLOUR: &str = "#9467bd";
/// A slice of category `governance` (an approval or vote).
const GOVERNANCE_COLOUR: &str = "#ffd98a";

/// The key above the drawing: every fixed colour with what it means.
fn legend_html() -> String {
    let swatch = |c: &str, what: &str| {
        format!(
            "<span style=\"white-space:nowrap;margin-right:12px\"><span style=\"display:inline-block;width:12px;height:12px;background:{c};border:1px solid #999;vertical-align:middle\"></span> {}</span> ",
            escape(what)
        )
    };
    let mut h = String::from("<p>Key: ");
    for (names, c) in STATE_COLOURS {
        h.push_str(&swatch(c, &names.join(" / ")));
    }
    h.push_str(&swatch(FAULT_COLOUR, "fault window"));
    h.push_str(&swatch(GOVERNANCE_COLOUR, "governance (approval, vote)"));
    h.push_str("Any other slice (a playbook step, an executor slot): a colour of its own name. Red triangles: instants (injections, safeguard firings); hover a slice for its name and times.</p>");
    h
}

fn fill_for(name: &str, cat: &str) -> String {
    if let Some((_, c)) = STATE_COLOURS
        .iter()
        .find(|(names, _)| names.contains(&name))
    {
        return c.to_string();
    }
    if cat == "fault" {
        return FAULT_COLOUR.into();
    }
    if cat == "governance" {
        return GOVERNANCE_COLOUR.into();
    }
    // A stable colour per name (FNV-1a over the bytes).
    let h = crate::engine::rng::fnv1a64(0x7a, name.as_bytes());
    const P: [&str; 6] = [
        "#1f77b4", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    ];
    P[(h % P.len() as u64) as usize].into()
}

/// Render the trace file `path` into `out/index.html`.
pub fn render(path: &Path, out: &Path) -> Result<ReportIndex> {
    let mut procs: BTreeMap<u64, (String, u64)> = BTreeMap::new();
    let mut tracks: BTreeMap<(u64, u64), Track> = BTreeMap::new();
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    let mut counts = [0u64; 4];
    each_event(path, |e| {
        let (pid, tid) = (
            e["pid"].as_u64().unwrap_or(0),
            e["tid"].as_u64().unwrap_or(0),
        );
        match e["ph"].as_str().unwrap_or("") {
            "M" => match e["name"].as_str().unwrap_or("") {
                "process_name" => {
                    procs.entry(pid).or_default().0 =
                        e["args"]["name"].as_str().unwrap_or("").to_string()
                }
                "process_sort_index" => {
                    procs.entry(pid).or_default().1 = e["args"]["sort_index"].as_u64().unwrap_or(0)
                }
                "thread_name" => {
                    tracks.entry((pid, tid)).or_default().name =
                        e["args"]["name"].as_str().unwrap_or("").to_string()
                }
                "thread_sort_index" => {
                    tracks.entry((pid, tid)).or_default().sort =
                        e["args"]["sort_index"].as_u64().unwrap_or(0)
                }
                _ => {}
            },
            ph @ ("X" | "i") => {
                let a = ns(&e["ts"]);
                let b = a.saturating_add(ns(&e["dur"]).max(0));
                lo = lo.min(a);
                hi = hi.max(b);
                tracks.entry((pid, tid)).or_default().used = true;
                counts[if ph == "X" { 0 } else { 1 }] += 1;
            }
            "C" => counts[2] += 1,
            _ => counts[3] += 1,
        }
    })?;
    if lo == i64::MAX {
        lo = 0;
    }
    let hi = hi.max(lo.saturating_add(1));
    // Row order: processes by sort index, threads by sort index.
    let mut rows: Vec<((u64, u64), String)> = tracks
        .iter()
        .filter(|(_, t)| t.used)
        .map(|(&k, t)| (k, t.name.clone()))
        .collect();
    rows.sort_by_key(|((pid, tid), _)| {
        (
            procs.get(pid).map(|p| p.1).unwrap_or(*pid),
            tracks.get(&(*pid, *tid)).map(|t| t.sort).unwrap_or(*tid),
        )
    });
    let row_of: BTreeMap<(u64, u64), usize> =
        rows.iter().enumerate().map(|(i, (k, _))| (*k, i)).collect();

    create_out(out)?;
    let html = out.join("index.html");
    let f = std::fs::File::create(&html).map_err(|e| Error::io(&html, e))?;
    let mut w = BufWriter::new(f);
    let io = |e| Error::io("index.html", e);
    const ROW: f64 = 18.0;
    const LEFT: f64 = 300.0;
    const WIDTH: f64 = 1100.0;
    const TOP: f64 = 10.0;
    let x = |t: i64| LEFT + (t as f64 - lo as f64) / (hi as f64 - lo as f64) * WIDTH;
    let height = TOP + rows.len() as f64 * ROW + 50.0;
    writeln!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>chaosim trace</title><style>body{{font-family:sans-serif;margin:20px;color:#222}}</style></head><body><h1>chaosim trace</h1><p>Source: <code>{}</code>. {} slices, {} instants, {} counter samples (counters: open the file in ui.perfetto.dev). Times: seconds on the trace's clock (a chaosim trace: the scenario clock, as in the scenario file and the timeline CSV; negative is the boot lead-in).</p>",
        escape(&path.display().to_string()),
        counts[0],
        counts[1],
        counts[2]
    )
    .map_err(io)?;
    writeln!(w, "{}", legend_html()).map_err(io)?;
    // Drawn in a fixed coordinate system, scaled to the window's width.
    writeln!(
        w,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {:.0} {height:.0}\" style=\"width:100%;height:auto\" font-family=\"sans-serif\" font-size=\"10\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
        LEFT + WIDTH + 20.0
    )
    .map_err(io)?;
    let mut last_pid = None;
    for (i, ((pid, _), name)) in rows.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        if i % 2 == 0 {
            writeln!(
                w,
                "<rect x=\"0\" y=\"{y:.1}\" width=\"{:.0}\" height=\"{ROW}\" fill=\"#f6f6f6\"/>",
                LEFT + WIDTH
            )
            .map_err(io)?;
        }
        if last_pid != Some(*pid) {
            writeln!(
                w,
                "<line x1=\"0\" x2=\"{:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#999\"/>",
                LEFT + WIDTH
            )
            .map_err(io)?;
            last_pid = Some(*pid);
        }
        let pname = procs.get(pid).map(|p| p.0.as_str()).unwrap_or("");
        let short: String = pname
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        writeln!(
            w,
            "<text x=\"4\" y=\"{:.1}\"><tspan fill=\"#888\">{}</tspan> {}</text>",
            y + ROW - 5.0,
            escape(&short),
            escape(name)
        )
        .map_err(io)?;
    }
    let mut err = None;
    each_event(path, |e| {
        if err.is_some() {
            return;
        }
        let key = (
            e["pid"].as_u64().unwrap_or(0),
            e["tid"].as_u64().unwrap_or(0),
        );
        let Some(&row) = row_of.get(&key) else {
            return;
        };
        let y = TOP + row as f64 * ROW;
        let name = e["name"].as_str().unwrap_or("");
        let cat = e["cat"].as_str().unwrap_or("");
        let a = ns(&e["ts"]);
        let sec = |t: i64| t as f64 / 1e9;
        let r = match e["ph"].as_str().unwrap_or("") {
            "X" => {
                let b = a.saturating_add(ns(&e["dur"]).max(0));
                let inner = matches!(cat, "step" | "governance");
                let (yy, hh) = if inner {
                    (y + 8.0, ROW - 10.0)
                } else {
                    (y + 2.0, ROW - 4.0)
                };
                let (x0, x1) = (x(a), x(b));
                let label = if x1 - x0 > 7.0 * name.len() as f64 + 4.0 && !inner {
                    format!(
                        "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"white\">{}</text>",
                        x0 + 2.0,
                        yy + hh - 3.0,
                        escape(name)
                    )
                } else {
                    String::new()
                };
                writeln!(
                    w,
                    "<rect x=\"{x0:.1}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"{hh:.1}\" fill=\"{}\" opacity=\"{}\"><title>{} [{:.3} s, {:.3} s] ({:.3} s)</title></rect>{label}",
                    (x1 - x0).max(0.8),
                    fill_for(name, cat),
                    if cat == "playbook" { "0.45" } else { "1" },
                    escape(name),
                    sec(a),
                    sec(b),
                    (b - a) as f64 / 1e9
                )
            }
            "i" => writeln!(
                w,
                "<path d=\"M{:.1},{:.1} l-4,-8 h8 z\" fill=\"#c00\"><title>{} at {:.3} s {}</title></path>",
                x(a),
                y + ROW - 2.0,
                escape(name),
                sec(a),
                escape(&e["args"].to_string())
            ),
            _ => Ok(()),
        };
        if let Err(e) = r {
            err = Some(e);
        }
    })?;
    if let Some(e) = err {
        return Err(io(e));
    }
    let axis = TOP + rows.len() as f64 * ROW;
    let (lo_s, hi_s) = (lo as f64 / 1e9, hi as f64 / 1e9);
    let span_s = hi_s - lo_s;
    let step = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0,
    ]
    .into_iter()
    .find(|s| span_s / s <= 15.0)
    .unwrap_or(1000.0);
    let mut t = (lo_s / step).ceil() * step;
    while t <= hi_s + 1e-9 {
        let xx = LEFT + (t - lo_s) / span_s * WIDTH;
        writeln!(
            w,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#ccc\" stroke-dasharray=\"2,3\"/><text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            axis + 4.0,
            axis + 16.0,
            super::plot::tick(&(t + 0.0))
        )
        .map_err(io)?;
        t += step;
    }
    writeln!(
        w,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time (s) on the trace's clock (chaosim: scenario time)</text></svg></body></html>",
        LEFT + WIDTH / 2.0,
        axis + 34.0
    )
    .map_err(io)?;
    w.flush().map_err(io)?;
    let summary_md = out.join("summary.md");
    std::fs::write(
        &summary_md,
        format!(
            "# chaosim trace\n\n- tracks drawn: {}\n- slices: {}\n- instants: {}\n- counter samples: {}\n",
            rows.len(),
            counts[0],
            counts[1],
            counts[2]
        ),
    )
    .map_err(|e| Error::io(&summary_md, e))?;
    Ok(ReportIndex {
        kind: ReportKind::Trace,
        out: out.to_path_buf(),
        plots: Vec::new(),
        html,
        summary_md,
    })
}
