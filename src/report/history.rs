//! The Jepsen-style timeline of an operation history
//! (`chaosim run ID --history FILE`, then `chaosim report FILE`).
//!
//! One lane per client process; each operation a bar from its invocation to
//! its completion, coloured by how it ended (ok, fail, info = unknown, or
//! still pending at the end); the fault windows shaded (partitions blue,
//! clock faults amber, other faults grey); the anomalies the consistency
//! checker reported marked on the operations involved:
//! - every acknowledged append missing from the final reference log (the
//!   checker's `lost_append` rule, applied to the `final_log` trailer line)
//!   gets a red tick above its bar;
//! - the first example of each anomaly kind the checker gives (lost append,
//!   stale read, duplicate, reordered, divergence) is circled and labelled.
//!
//! The page is one self-contained `index.html` with inline SVG (no script,
//! no external file): an overview of the whole run and a zoom on the first
//! anomaly (or the first fault window) where each bar is wide enough to read
//! and carries a tooltip.
//!
//! # Input
//! The file [`crate::scenario::run::RunOutputs::history`] writes: a header
//! line `{"chaosim_history":1,...}`, the history's JSON lines
//! ([`crate::check::history`]), then trailer lines: `{"nemesis":KIND,
//! "start_ns","end_ns"}` per fault window, `{"anomaly":KIND,"count",
//! "values","times_ns",...}` per anomaly kind found, `{"checker":{...}}`,
//! `{"final_log":{"node","values"}}` and `{"end_ns":N}`.
//!
//! # Memory
//! The file is read three times, streaming: once for the trailer and the
//! extent of the run, then once per view, writing each bar as it is paired
//! with its invocation. Kept: one open operation per process, the windows,
//! the checker's examples, and one bit per appended value (to tell lost
//! appends), i.e. proportional to one run's operations, like the checker.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde_json::Value;

use super::html::{create_out, escape};
use super::{ReportIndex, ReportKind};
use crate::error::{Error, Result};

/// The start of the first line of a history file.
pub const HISTORY_MAGIC: &str = "{\"chaosim_history\":";

/// Lanes drawn at most (processes beyond are counted, not drawn).
pub const MAX_LANES: usize = 64;

/// Whether `path` starts with [`HISTORY_MAGIC`].
pub fn is_history(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; HISTORY_MAGIC.len()];
    let mut got = 0;
    while got < buf.len() {
        let n = f.read(&mut buf[got..]).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got == buf.len() && buf == HISTORY_MAGIC.as_bytes())
}

/// A fault window of the history's run.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Fault kind (`Partition`, `ClockSkew`, ...).
    pub kind: String,
    /// Start, ns (true simulated time).
    pub start_ns: u64,
    /// End, ns.
    pub end_ns: u64,
}

/// An anomaly kind the checker reported, with its first example.
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// Kind (`lost_append`, `stale_read`, ...).
    pub kind: String,
    /// How many the checker found.
    pub count: u64,
    /// The example's values (append ids).
    pub values: [u64; 2],
    /// The example's times, ns.
    pub times_ns: [u64; 2],
}

/// What the first pass learns.
#[derive(Clone, Debug, Default)]
pub struct HistorySummary {
    /// Scenario ids of the run.
    pub scenarios: Vec<String>,
    /// The scenario clock's zero, ns.
    pub t0_ns: u64,
    /// Earliest record, ns.
    pub first_ns: u64,
    /// End of the run, ns.
    pub end_ns: u64,
    /// Client processes (highest id + 1).
    pub processes: usize,
    /// Records read.
    pub records: u64,
    /// Operations completed ok / fail / info.
    pub ok: u64,
    /// Failed operations.
    pub fail: u64,
    /// Operations of unknown outcome.
    pub info: u64,
    /// Fault windows.
    pub windows: Vec<Window>,
    /// Anomalies reported by the checker.
    pub anomalies: Vec<Anomaly>,
    /// The checker's verdict line, if present.
    pub checker: Option<String>,
    /// `in_final_log[v]`: value `v` is in the final reference log (empty if
    /// the file has no `final_log` line).
    pub in_final_log: Vec<bool>,
    /// Whether a `final_log` line was present.
    pub has_final_log: bool,
    /// Acknowledged appends missing from the final log (marked).
    pub lost_marked: u64,
}

fn bad(path: &Path, line: u64, message: impl Into<String>) -> Error {
    Error::Syntax {
        path: path.to_path_buf(),
        line: line as usize,
        column: 1,
        message: message.into(),
    }
}

fn u(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn pair(v: &Value, k: &str) -> [u64; 2] {
    let a = v.get(k).and_then(Value::as_array);
    let g = |i: usize| {
        a.and_then(|a| a.get(i))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    [g(0), g(1)]
}

/// Call `f(line_number, value)` for every line of `path`.
fn each_line(path: &Path, mut f: impl FnMut(u64, &Value) -> Result<()>) -> Result<()> {
    let file = crate::input::open_lines(path, crate::input::CSV_LINE_BYTES_MAX)?;
    let rdr = BufReader::with_capacity(64 * 1024, file);
    for (i, line) in rdr.lines().enumerate() {
        let line = line.map_err(|e| crate::input::from_read_error(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let n = i as u64 + 1;
        let v: Value =
            serde_json::from_str(&line).map_err(|e| bad(path, n, format!("not JSON: {e}")))?;
        f(n, &v)?;
    }
    Ok(())
}

/// The first pass: header, extent, trailer.
pub fn summarize(path: &Path) -> Result<HistorySummary> {
    if !is_history(path)? {
        return Err(Error::Usage {
            flag: "FILE".into(),
            message: format!("{} is not a chaosim history file", path.display()),
        });
    }
    let mut s = HistorySummary {
        first_ns: u64::MAX,
        ..HistorySummary::default()
    };
    let mut oks: Vec<u32> = Vec::new();
    let mut last_ns = 0u64;
    each_line(path, |n, v| {
        if v.get("chaosim_history").is_some() {
            s.t0_ns = u(v, "t0_ns");
            s.scenarios = v
                .get("scenarios")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
        } else if let Some(p) = v.get("process").and_then(Value::as_u64) {
            let t = u(v, "time_ns");
            s.records += 1;
            s.first_ns = s.first_ns.min(t);
            last_ns = last_ns.max(t);
            s.processes = s.processes.max(p as usize + 1);
            match v.get("type").and_then(Value::as_str) {
                Some("ok") => {
                    s.ok += 1;
                    if v.get("f").and_then(Value::as_str) == Some("append") {
                        oks.push(u(v, "value") as u32);
                    }
                }
                Some("fail") => s.fail += 1,
                Some("info") => s.info += 1,
                Some("invoke") => {}
                other => return Err(bad(path, n, format!("unknown op type {other:?}"))),
            }
        } else if let Some(k) = v.get("nemesis").and_then(Value::as_str) {
            s.windows.push(Window {
                kind: k.to_string(),
                start_ns: u(v, "start_ns"),
                end_ns: u(v, "end_ns"),
            });
        } else if let Some(k) = v.get("anomaly").and_then(Value::as_str) {
            s.anomalies.push(Anomaly {
                kind: k.to_string(),
                count: u(v, "count"),
                values: pair(v, "values"),
                times_ns: pair(v, "times_ns"),
            });
        } else if let Some(c) = v.get("checker") {
            s.checker = Some(format!(
                "valid={} anomalies={} appends_ok={} reads_ok={}",
                match c.get("valid") {
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(Value::String(x)) => x.clone(),
                    _ => "?".to_string(),
                },
                u(c, "anomalies"),
                u(c, "appends_ok"),
                u(c, "reads_ok")
            ));
        } else if let Some(f) = v.get("final_log") {
            s.has_final_log = true;
            if let Some(vals) = f.get("values").and_then(Value::as_array) {
                for x in vals.iter().filter_map(Value::as_u64) {
                    let x = x as usize;
                    if s.in_final_log.len() <= x {
                        s.in_final_log.resize(x + 1, false);
                    }
                    s.in_final_log[x] = true;
                }
            }
        } else if v.get("end_ns").is_some() {
            s.end_ns = u(v, "end_ns");
        } else {
            return Err(bad(path, n, "unknown line"));
        }
        Ok(())
    })?;
    if s.first_ns == u64::MAX {
        s.first_ns = s.t0_ns;
    }
    s.end_ns = s.end_ns.max(last_ns).max(s.first_ns + 1);
    if s.has_final_log {
        s.lost_marked = oks
            .iter()
            .filter(|&&v| !s.in_final_log.get(v as usize).copied().unwrap_or(false))
            .count() as u64;
    }
    Ok(s)
}

/// One view: a time range drawn over a width.
struct View {
    from_ns: u64,
    to_ns: u64,
    width_px: f64,
    titles: bool,
}

const LANE_PX: f64 = 34.0;
const LEFT_PX: f64 = 70.0;
const TOP_PX: f64 = 28.0;

impl View {
    fn x(&self, t: u64) -> f64 {
        let span = (self.to_ns - self.from_ns).max(1) as f64;
        LEFT_PX + (t.clamp(self.from_ns, self.to_ns) - self.from_ns) as f64 / span * self.width_px
    }
}

fn window_fill(kind: &str) -> &'static str {
    if kind.contains("Partition") {
        "#9ec5ff"
    } else if kind.contains("Clock") {
        "#ffd98a"
    } else {
        "#d8d8d8"
    }
}

#[derive(Clone, Copy)]
struct OpenOp {
    append: bool,
    invoke_ns: u64,
    value: u64,
}

/// Draw one view as an `<svg>` (streamed: one pass over the file).
fn draw_view(path: &Path, s: &HistorySummary, view: &View, w: &mut dyn Write) -> Result<()> {
    let io = |e| Error::io("index.html", e);
    let lanes = s.processes.clamp(1, MAX_LANES);
    let height = TOP_PX + lanes as f64 * LANE_PX + 40.0;
    let width = LEFT_PX + view.width_px + 20.0;
    writeln!(
        w,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width:.0} {height:.0}\" style=\"width:100%;height:auto\" font-family=\"sans-serif\" font-size=\"11\">"
    )
    .map_err(io)?;
    writeln!(w, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>").map_err(io)?;
    let sec = |t: u64| (t as i64 - s.t0_ns as i64) as f64 / 1e9;
    // Fault windows first (under the bars).
    for win in &s.windows {
        if win.end_ns < view.from_ns || win.start_ns > view.to_ns {
            continue;
        }
        let (x0, x1) = (view.x(win.start_ns), view.x(win.end_ns));
        writeln!(
            w,
            "<rect x=\"{x0:.1}\" y=\"{TOP_PX}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" opacity=\"0.55\"><title>{} {:.3}..{:.3} s</title></rect><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#335\">{}</text>",
            (x1 - x0).max(1.0),
            lanes as f64 * LANE_PX,
            window_fill(&win.kind),
            escape(&win.kind),
            sec(win.start_ns),
            sec(win.end_ns),
            x0 + 3.0,
            TOP_PX - 6.0,
            escape(&win.kind)
        )
        .map_err(io)?;
    }
    // Lanes and the time axis.
    for l in 0..lanes {
        let y = TOP_PX + l as f64 * LANE_PX;
        writeln!(
            w,
            "<line x1=\"{LEFT_PX}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"6\" y=\"{:.1}\">client {l}</text>",
            LEFT_PX + view.width_px,
            y + LANE_PX,
            y + LANE_PX,
            y + LANE_PX / 2.0 + 4.0
        )
        .map_err(io)?;
    }
    let axis_y = TOP_PX + lanes as f64 * LANE_PX;
    let span_s = (view.to_ns - view.from_ns) as f64 / 1e9;
    let step = [
        0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
    ]
    .into_iter()
    .find(|st| span_s / st <= 15.0)
    .unwrap_or(200.0);
    let mut tick = (sec(view.from_ns) / step).ceil() * step;
    while tick <= sec(view.to_ns) + 1e-9 {
        let t_ns = (s.t0_ns as f64 + tick * 1e9).max(0.0) as u64;
        let x = view.x(t_ns);
        writeln!(
            w,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{axis_y:.1}\" y2=\"{:.1}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            axis_y + 5.0,
            axis_y + 18.0,
            super::plot::tick(&tick)
        )
        .map_err(io)?;
        tick += step;
    }
    writeln!(
        w,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time on the scenario clock (s)</text>",
        LEFT_PX + view.width_px / 2.0,
        axis_y + 34.0
    )
    .map_err(io)?;
    // Operations, paired invoke -> completion per process.
    let first_examples: Vec<&Anomaly> = s.anomalies.iter().collect();
    let mut open: Vec<Option<OpenOp>> = vec![None; s.processes];
    let mut marks: Vec<(f64, f64, String)> = Vec::new();
    let mut draw = |w: &mut dyn Write,
                    p: usize,
                    o: OpenOp,
                    done_ns: u64,
                    ty: &str|
     -> std::io::Result<()> {
        if p >= MAX_LANES || done_ns < view.from_ns || o.invoke_ns > view.to_ns {
            return Ok(());
        }
        let (x0, x1) = (view.x(o.invoke_ns), view.x(done_ns));
        let y = TOP_PX + p as f64 * LANE_PX + 6.0;
        let h = LANE_PX - 12.0;
        let fill = match (ty, o.append) {
            ("ok", true) => "#2e9e4f",
            ("ok", false) => "#7cc98f",
            ("fail", _) => "#d9534f",
            ("info", _) => "#f0a030",
            _ => "#9a9a9a",
        };
        let f = if o.append { "append" } else { "read" };
        write!(
            w,
            "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{fill}\"",
            (x1 - x0).max(1.0)
        )?;
        if view.titles {
            write!(
                w,
                "><title>client {p} {f} {} {ty} {:.4}..{:.4} s</title></rect>",
                if o.append {
                    o.value.to_string()
                } else {
                    format!("(saw {})", o.value)
                },
                sec(o.invoke_ns),
                sec(done_ns)
            )?;
            if x1 - x0 > 28.0 && o.append {
                write!(
                    w,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"white\" font-size=\"9\">{}</text>",
                    x0 + 2.0,
                    y + h / 2.0 + 3.0,
                    o.value
                )?;
            }
            writeln!(w)?;
        } else {
            writeln!(w, "/>")?;
        }
        let lost = ty == "ok"
            && o.append
            && s.has_final_log
            && !s
                .in_final_log
                .get(o.value as usize)
                .copied()
                .unwrap_or(false);
        if lost {
            writeln!(
                w,
                "<path d=\"M{:.1},{:.1} l-3,-6 h6 z\" fill=\"#c00\"><title>lost append {}: acknowledged, missing from the final log</title></path>",
                (x0 + x1) / 2.0,
                y - 1.0,
                o.value
            )?;
        }
        for a in &first_examples {
            let hit = match a.kind.as_str() {
                "lost_append" | "duplicate" => o.append && o.value == a.values[0],
                "reordered" | "divergence" => {
                    o.append && (o.value == a.values[0] || o.value == a.values[1])
                }
                "stale_read" => {
                    !o.append && o.invoke_ns == a.times_ns[0] && done_ns == a.times_ns[1]
                }
                _ => false,
            };
            if hit {
                let (mx, my) = ((x0 + x1) / 2.0, y + h / 2.0);
                match marks.iter_mut().find(|(x, y, _)| *x == mx && *y == my) {
                    Some(m) => {
                        m.2.push_str(", ");
                        m.2.push_str(&a.kind);
                    }
                    None => marks.push((mx, my, a.kind.clone())),
                }
            }
        }
        Ok(())
    };
    each_line(path, |_, v| {
        let Some(p) = v.get("process").and_then(Value::as_u64) else {
            return Ok(());
        };
        let p = p as usize;
        let t = u(v, "time_ns");
        let ty = v.get("type").and_then(Value::as_str).unwrap_or("");
        if ty == "invoke" {
            if let Some(o) = open[p].take() {
                draw(w, p, o, t, "info").map_err(io)?;
            }
            open[p] = Some(OpenOp {
                append: v.get("f").and_then(Value::as_str) == Some("append"),
                invoke_ns: t,
                value: u(v, "value"),
            });
        } else if let Some(mut o) = open[p].take() {
            if !o.append {
                o.value = u(v, "value");
            }
            draw(w, p, o, t, ty).map_err(io)?;
        }
        Ok(())
    })?;
    for (p, o) in open.iter().enumerate() {
        if let Some(o) = o {
            draw(w, p, *o, s.end_ns, "pending").map_err(io)?;
        }
    }
    for (x, y, kind) in &marks {
        writeln!(
            w,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"9\" fill=\"none\" stroke=\"#000\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">{}</text>",
            x + 11.0,
            y - 8.0,
            escape(kind)
        )
        .map_err(io)?;
    }
    writeln!(w, "</svg>").map_err(io)?;
    Ok(())
}

/// Render the history file `path` into `out/index.html` (+ `summary.md`).
pub fn render(path: &Path, out: &Path) -> Result<ReportIndex> {
    let s = summarize(path)?;
    create_out(out)?;
    let html = out.join("index.html");
    let f = std::fs::File::create(&html).map_err(|e| Error::io(&html, e))?;
    let mut w = BufWriter::new(f);
    let io = |e| Error::io("index.html", e);
    let sec = |t: u64| (t as i64 - s.t0_ns as i64) as f64 / 1e9;
    let title = format!("chaosim history timeline: {}", s.scenarios.join(", "));
    writeln!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>body{{font-family:sans-serif;margin:20px;color:#222}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}} .sw{{display:inline-block;width:14px;height:10px;margin:0 4px 0 12px}}</style></head><body>",
        escape(&title)
    )
    .map_err(io)?;
    writeln!(w, "<h1>{}</h1>", escape(&title)).map_err(io)?;
    writeln!(
        w,
        "<p>Source: <code>{}</code></p>",
        escape(&path.display().to_string())
    )
    .map_err(io)?;
    writeln!(w, "<table>").map_err(io)?;
    let anomalies: String = if s.anomalies.is_empty() {
        "none".into()
    } else {
        s.anomalies
            .iter()
            .map(|a| format!("{} {}", a.kind, a.count))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let facts = [
        ("client processes", s.processes.to_string()),
        ("records", s.records.to_string()),
        (
            "completed ok / fail / info",
            format!("{} / {} / {}", s.ok, s.fail, s.info),
        ),
        (
            "run (s, scenario clock)",
            format!("{:.1} to {:.1}", sec(s.first_ns), sec(s.end_ns)),
        ),
        (
            "checker",
            s.checker
                .clone()
                .unwrap_or_else(|| "no verdict in the file".into()),
        ),
        ("anomalies by kind", anomalies),
        (
            "lost appends marked",
            if s.has_final_log {
                s.lost_marked.to_string()
            } else {
                "- (no final log in the file)".into()
            },
        ),
    ];
    for (k, v) in &facts {
        writeln!(w, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v)).map_err(io)?;
    }
    writeln!(w, "</table>").map_err(io)?;
    writeln!(
        w,
        "<p>Legend:<span class=\"sw\" style=\"background:#2e9e4f\"></span>append ok<span class=\"sw\" style=\"background:#7cc98f\"></span>read ok<span class=\"sw\" style=\"background:#d9534f\"></span>fail<span class=\"sw\" style=\"background:#f0a030\"></span>info (unknown)<span class=\"sw\" style=\"background:#9a9a9a\"></span>pending<span class=\"sw\" style=\"background:#9ec5ff\"></span>partition<span class=\"sw\" style=\"background:#ffd98a\"></span>clock fault<span class=\"sw\" style=\"background:#d8d8d8\"></span>other fault. Red triangle: acknowledged append missing from the final log (lost). Circle: the checker's first example of an anomaly kind.</p>"
    )
    .map_err(io)?;
    writeln!(w, "<h2>Whole run</h2>").map_err(io)?;
    draw_view(
        path,
        &s,
        &View {
            from_ns: s.first_ns,
            to_ns: s.end_ns,
            width_px: 1300.0,
            titles: false,
        },
        &mut w,
    )?;
    // Zoom: around the first example of an anomaly, else the first window.
    let focus = s
        .anomalies
        .iter()
        .filter(|a| a.times_ns[0] > 0)
        .map(|a| a.times_ns[0])
        .min()
        .or_else(|| s.windows.first().map(|w| w.start_ns));
    if let Some(c) = focus {
        let from = c.saturating_sub(300_000_000).max(s.first_ns);
        let to = (from + 900_000_000).min(s.end_ns).max(from + 1);
        writeln!(
            w,
            "<h2>Zoom: {:.3} s to {:.3} s (around the first anomaly example)</h2><p>Hover a bar for its client, operation, value and times.</p>",
            sec(from),
            sec(to)
        )
        .map_err(io)?;
        draw_view(
            path,
            &s,
            &View {
                from_ns: from,
                to_ns: to,
                width_px: 1300.0,
                titles: true,
            },
            &mut w,
        )?;
    }
    if !s.anomalies.is_empty() {
        writeln!(
            w,
            "<h2>Anomalies</h2><table><tr><th>kind</th><th>count</th><th>first example: values</th><th>times (s)</th></tr>"
        )
        .map_err(io)?;
        for a in &s.anomalies {
            let times = if a.times_ns[0] > 0 {
                format!("{:.4}, {:.4}", sec(a.times_ns[0]), sec(a.times_ns[1]))
            } else {
                "-".into()
            };
            writeln!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{}, {}</td><td>{}</td></tr>",
                escape(&a.kind),
                a.count,
                a.values[0],
                a.values[1],
                times
            )
            .map_err(io)?;
        }
        writeln!(w, "</table>").map_err(io)?;
    }
    writeln!(w, "</body></html>").map_err(io)?;
    w.flush().map_err(io)?;
    let summary_md = out.join("summary.md");
    let mut md = format!("# {title}\n\n");
    for (k, v) in &facts {
        md.push_str(&format!("- {k}: {v}\n"));
    }
    std::fs::write(&summary_md, md).map_err(|e| Error::io(&summary_md, e))?;
    Ok(ReportIndex {
        kind: ReportKind::History,
        out: out.to_path_buf(),
        plots: Vec::new(),
        html,
        summary_md,
    })
}
