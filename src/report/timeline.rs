//! The single-run timeline: its CSV format ([`TimelineRow`]), the streaming
//! [`TimelineWriter`] the scenario runner calls every sample, and the report
//! (kernels running, queue depth, resource use and bus latency over time,
//! fault windows shaded).
//!
//! # Format
//! A CSV file whose first line is exactly [`TIMELINE_HEADER`], then one row
//! per sample in time order. `faults_active` is the `;`-joined list of the
//! fault kinds active at `t_s` (empty when none); a fault window is a maximal
//! run of samples with the same non-empty `faults_active`.
//!
//! # Memory
//! The renderer reads the file once. It keeps at most [`MAX_POINTS`] samples:
//! when the buffer is full it drops every other kept sample and doubles the
//! stride (so a long run is drawn at a coarser, uniform resolution), and at
//! most [`MAX_WINDOWS`] fault windows (later windows are counted, not drawn).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::html::{self, Page, Table};
use super::plot::{self, DrawResult, Figure, OrText, colour};
use super::{ReportIndex, ReportKind, csv_err, font};
use crate::error::{Error, Result};

/// The x axis of every timeline plot: the scenario clock.
const X_DESC: &str = "scenario time (s), 0 = the scenario clock's start";

/// Shade the boot lead-in (scenario time below 0), if the plot shows it.
fn lead_in_band<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    t0: f64,
    y_hi: f64,
) -> DrawResult {
    if t0 < 0.0 {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(t0, 0.0), (0.0, y_hi)],
                RGBColor(120, 120, 120).mix(0.12).filled(),
            )))
            .d()?;
    }
    Ok(())
}

pub use crate::record::timeline::{TIMELINE_HEADER, TimelineRow, TimelineWriter};

/// Samples kept for drawing (see the module docs).
pub const MAX_POINTS: usize = 4096;
/// Fault windows kept for drawing.
pub const MAX_WINDOWS: usize = 512;

/// Where `chaosim run --control --timeline FILE` writes the control group's
/// timeline: `run.csv` -> `run.control.csv` (`FILE.control.csv` for a name
/// without the `.csv` extension). [`render`] plots experiment against
/// control when this file exists beside the timeline.
pub fn control_path(path: &Path) -> std::path::PathBuf {
    beside(path, "control.csv")
}

/// `s02.csv` -> `s02.SUFFIX`; a name without `.csv` gets `.SUFFIX` added.
fn beside(path: &Path, suffix: &str) -> std::path::PathBuf {
    match path.extension() {
        Some(e) if e == "csv" => path.with_extension(suffix),
        _ => {
            let mut s = path.as_os_str().to_owned();
            s.push(".");
            s.push(suffix);
            std::path::PathBuf::from(s)
        }
    }
}

/// The outcomes beside a timeline: `run --timeline FILE` writes one JSON
/// object per scenario run to `FILE.outcomes.jsonl` (`s02.csv` gives
/// `s02.outcomes.jsonl`), which the report shows on its page: the
/// scenario, its verdict and recovery against the limit, seed, digest and
/// the handle that replays it.
pub fn outcomes_path(path: &Path) -> std::path::PathBuf {
    beside(path, "outcomes.jsonl")
}

/// The page's facts from [`outcomes_path`] beside `path` (none when the
/// file is absent: a timeline written before it existed, or by another
/// tool).
fn outcome_facts(path: &Path) -> Result<Vec<(String, String)>> {
    let file = outcomes_path(path);
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let text = crate::input::read_text_limited(
        &file,
        crate::input::Limits {
            bytes_max: 1 << 20,
            line_max: 64 * 1024,
        },
    )?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut facts = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::Syntax {
            path: file.clone(),
            line: i + 1,
            column: e.column(),
            message: e.to_string(),
        })?;
        // What `run --timeline` writes: no verdict is made up from a line
        // that lacks one.
        if !(v["scenario"].is_string() && v["passed"].is_boolean() && v["digest"].is_string()) {
            return Err(Error::Syntax {
                path: file.clone(),
                line: i + 1,
                column: 1,
                message: "not an outcome line: it needs \"scenario\", \"passed\" and \"digest\""
                    .into(),
            });
        }
        let s = |k: &str| v[k].as_str().unwrap_or("-").to_string();
        let f = |k: &str| v[k].as_f64();
        let id = s("scenario");
        // With several scenarios in the run, each fact names its scenario.
        let key = |what: &str| {
            if lines.len() > 1 {
                format!("{what} ({id})")
            } else {
                what.to_string()
            }
        };
        facts.push((
            "scenario".to_string(),
            format!(
                "{id} (difficulty {}, seed {})",
                v["difficulty"].as_u64().unwrap_or(0),
                v["seed"].as_u64().unwrap_or(0)
            ),
        ));
        let verdict = if v["passed"].as_bool() == Some(true) {
            "passed".to_string()
        } else {
            format!("FAILED ({}): {}", s("failure_kind"), s("failure_reason"))
        };
        facts.push((key("verdict"), verdict));
        let limit = f("recovery_limit_s").unwrap_or(0.0);
        facts.push((
            key("recovery"),
            match f("recovery_s") {
                Some(r) => format!("{r:.1} s (limit {limit:.0} s)"),
                None => format!("not recovered (limit {limit:.0} s)"),
            },
        ));
        facts.push((key("digest"), s("digest")));
        if let Some(h) = v["repro"].as_str() {
            facts.push((key("replay"), h.to_string()));
        }
    }
    Ok(facts)
}

/// Whether `path` starts with [`TIMELINE_HEADER`].
pub fn is_timeline(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; TIMELINE_HEADER.len()];
    let mut got = 0;
    while got < buf.len() {
        let n = f.read(&mut buf[got..]).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got == buf.len() && buf == TIMELINE_HEADER.as_bytes())
}

/// A drawn sample (the numeric fields of a row).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    t: f64,
    running: f64,
    total: f64,
    queue: f64,
    cpu: f64,
    mem: f64,
    bus: f64,
    api: f64,
}

/// A fault window: `[start_s, end_s)` with the faults active.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultWindow {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds (the first sample without these faults, or the last sample).
    pub end_s: f64,
    /// `;`-joined fault kinds.
    pub faults: String,
}

/// The fold over a timeline file.
#[derive(Debug, Default)]
pub struct TimelineFold {
    kept: Vec<Sample>,
    stride: u64,
    seen: u64,
    /// Fault windows (at most [`MAX_WINDOWS`]).
    pub windows: Vec<FaultWindow>,
    /// Windows beyond [`MAX_WINDOWS`], counted only.
    pub windows_dropped: u64,
    open: Option<(f64, String)>,
    last_t: f64,
    healthy_samples: u64,
    /// Samples where `healthy` was false.
    pub unhealthy_samples: u64,
    min_running: Option<u32>,
    max_queue: u64,
}

impl TimelineFold {
    fn push(&mut self, r: &TimelineRow) {
        if self.stride == 0 {
            self.stride = 1;
        }
        if self.seen.is_multiple_of(self.stride) {
            if self.kept.len() == MAX_POINTS {
                let mut i = 0;
                self.kept.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.stride *= 2;
            }
            if self.seen.is_multiple_of(self.stride) {
                self.kept.push(Sample {
                    t: r.t_s,
                    running: r.kernels_running as f64,
                    total: r.kernels_total as f64,
                    queue: r.queue_depth as f64,
                    cpu: r.cpu_utilisation,
                    mem: r.memory_utilisation,
                    bus: r.bus_latency_ms,
                    api: r.api_success_rate,
                });
            }
        }
        self.seen += 1;
        if r.healthy {
            self.healthy_samples += 1;
        } else {
            self.unhealthy_samples += 1;
        }
        self.min_running = Some(
            self.min_running
                .map_or(r.kernels_running, |m| m.min(r.kernels_running)),
        );
        self.max_queue = self.max_queue.max(r.queue_depth);
        let changed = match &self.open {
            Some((_, f)) => *f != r.faults_active,
            None => !r.faults_active.is_empty(),
        };
        if changed {
            self.close(r.t_s);
            if !r.faults_active.is_empty() {
                self.open = Some((r.t_s, r.faults_active.clone()));
            }
        }
        self.last_t = r.t_s;
    }

    fn close(&mut self, end: f64) {
        if let Some((start, faults)) = self.open.take() {
            if self.windows.len() < MAX_WINDOWS {
                self.windows.push(FaultWindow {
                    start_s: start,
                    end_s: end,
                    faults,
                });
            } else {
                self.windows_dropped += 1;
            }
        }
    }

    /// Samples read.
    pub fn samples(&self) -> u64 {
        self.seen
    }
}

/// Read a timeline file in one pass.
pub fn fold(path: &Path) -> Result<TimelineFold> {
    if !is_timeline(path)? {
        return Err(Error::Usage {
            flag: "FILE".into(),
            message: format!("{} is not a timeline CSV", path.display()),
        });
    }
    let mut rdr = crate::input::csv_reader(path)?;
    let mut fold = TimelineFold::default();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| csv_err(path, e))? {
        let row: TimelineRow = rec.deserialize(None).map_err(|e| csv_err(path, e))?;
        fold.push(&row);
    }
    let end = fold.last_t;
    fold.close(end);
    Ok(fold)
}

struct Panels<'a>(&'a TimelineFold, Vec<String>);

impl Panels<'_> {
    fn fault_colour(&self, faults: &str) -> RGBColor {
        let i = self.1.iter().position(|f| f == faults).unwrap_or(0);
        // Skip the series colours 0..=2 so shading never looks like a line.
        let c = colour(3 + i % 4);
        RGBColor(c.0, c.1, c.2)
    }
}

impl Figure for Panels<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let f = self.0;
        let root = root
            .titled(
                "Single run: kernels, queue, resources and bus latency over time",
                (font::FAMILY, plot::TITLE_PX),
            )
            .d()?;
        let t_hi = f.kept.last().map(|s| s.t).unwrap_or(1.0).max(1e-9);
        let t0 = f.kept.first().map(|s| s.t).unwrap_or(0.0).min(t_hi);
        type Pick = fn(&Sample) -> f64;
        struct P {
            title: &'static str,
            y: &'static str,
            lines: &'static [(&'static str, Pick)],
            unit_range: bool,
        }
        let panels = [
            P {
                title: "Kernels",
                y: "kernels (count)",
                lines: &[("total", |s| s.total), ("running", |s| s.running)],
                unit_range: false,
            },
            P {
                title: QUEUE_PANEL,
                y: "tasks waiting (count)",
                lines: &[("queue depth", |s| s.queue)],
                unit_range: false,
            },
            P {
                title: "Resource use and API success",
                y: "fraction (0-1)",
                lines: &[
                    ("CPU", |s| s.cpu),
                    ("memory", |s| s.mem),
                    ("API success", |s| s.api),
                ],
                unit_range: true,
            },
            P {
                title: "Bus latency",
                y: "latency (ms)",
                lines: &[("bus latency", |s| s.bus)],
                unit_range: false,
            },
        ];
        // A queue that stayed empty the whole run gets no panel (the facts
        // above the plot say "deepest queue 0").
        let panels: Vec<&P> = panels
            .iter()
            .filter(|p| p.title != QUEUE_PANEL || f.max_queue > 0)
            .collect();
        let areas = root.split_evenly((panels.len(), 1));
        let last = panels.len() - 1;
        for (k, (area, p)) in areas.iter().zip(panels.iter()).enumerate() {
            let y_hi = if p.unit_range {
                1.05
            } else {
                f.kept
                    .iter()
                    .flat_map(|s| p.lines.iter().map(move |(_, g)| g(s)))
                    .fold(0.0f64, f64::max)
                    .max(1.0)
                    * 1.1
            };
            let mut chart = ChartBuilder::on(area)
                .caption(p.title, (font::FAMILY, plot::LABEL_PX))
                .margin(8)
                .x_label_area_size(if k == last { 45 } else { 25 })
                .y_label_area_size(80)
                .build_cartesian_2d(t0..t_hi, 0f64..y_hi)
                .d()?;
            let mut mesh = chart.configure_mesh();
            mesh.light_line_style(TRANSPARENT);
            mesh.y_desc(p.y)
                .y_labels(5)
                .x_label_formatter(&plot::tick)
                .y_label_formatter(&plot::tick)
                .axis_desc_style((font::FAMILY, plot::TICK_PX + 1))
                .label_style((font::FAMILY, plot::TICK_PX - 1));
            if k == last {
                mesh.x_desc(X_DESC);
            }
            mesh.draw().d()?;
            lead_in_band(&mut chart, t0, y_hi)?;
            for w in &f.windows {
                let c = self.fault_colour(&w.faults);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(w.start_s, 0.0), (w.end_s.max(w.start_s), y_hi)],
                        c.mix(0.18).filled(),
                    )))
                    .d()?;
            }
            for (i, (name, g)) in p.lines.iter().enumerate() {
                // The configured total is context, not data: grey, drawn first.
                let col = if *name == "total" {
                    RGBColor(150, 150, 150)
                } else {
                    colour(if p.lines[0].0 == "total" { i - 1 } else { i })
                };
                chart
                    .draw_series(LineSeries::new(
                        f.kept.iter().map(|s| (s.t, g(s))),
                        col.stroke_width(2),
                    ))
                    .d()?
                    .label(*name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3))
                    });
            }
            if k == 0 {
                for (i, faults) in self.1.iter().enumerate().take(4) {
                    let c = self.fault_colour(faults);
                    let _ = i;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(t0, 0.0), (t0, 0.0)],
                            c.mix(0.3).filled(),
                        )))
                        .d()?
                        .label(format!("fault: {faults}"))
                        .legend(move |(x, y)| {
                            Rectangle::new([(x, y - 6), (x + 20, y + 6)], c.mix(0.35).filled())
                        });
                }
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((font::FAMILY, plot::TICK_PX - 1))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .d()?;
        }
        Ok(())
    }
}

/// The title of the queue panel, left out when the queue stayed empty.
const QUEUE_PANEL: &str = "Queue depth";

/// Experiment (solid) against control (dashed grey), fault windows of the
/// experiment shaded.
struct ControlPanels<'a>(&'a TimelineFold, &'a TimelineFold, Vec<String>);

impl Figure for ControlPanels<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let (e, c) = (self.0, self.1);
        let root = root
            .titled(
                "Experiment against control (same seed, faults withheld)",
                (font::FAMILY, plot::TITLE_PX),
            )
            .d()?;
        type Pick = fn(&Sample) -> f64;
        let panels: [(&str, &str, Pick, bool); 5] = [
            ("Kernels running", "kernels (count)", |s| s.running, false),
            ("API success rate", "fraction (0-1)", |s| s.api, true),
            ("Bus latency", "latency (ms)", |s| s.bus, false),
            (QUEUE_PANEL, "tasks waiting (count)", |s| s.queue, false),
            ("CPU utilisation", "fraction (0-1)", |s| s.cpu, true),
        ];
        let panels: Vec<_> = panels
            .iter()
            .filter(|p| p.0 != QUEUE_PANEL || e.max_queue.max(c.max_queue) > 0)
            .collect();
        let areas = root.split_evenly((panels.len(), 1));
        let t_hi = e.kept.last().map(|s| s.t).unwrap_or(1.0).max(1e-9);
        let t0 = e.kept.first().map(|s| s.t).unwrap_or(0.0).min(t_hi);
        let shade = Panels(e, self.2.clone());
        let last = panels.len() - 1;
        for (k, (area, (title, y, g, unit))) in areas.iter().zip(panels.iter()).enumerate() {
            let y_hi = if *unit {
                1.05
            } else {
                e.kept
                    .iter()
                    .chain(c.kept.iter())
                    .map(g)
                    .fold(0.0f64, f64::max)
                    .max(1.0)
                    * 1.1
            };
            let mut chart = ChartBuilder::on(area)
                .caption(*title, (font::FAMILY, plot::LABEL_PX))
                .margin(8)
                .x_label_area_size(if k == last { 45 } else { 25 })
                .y_label_area_size(80)
                .build_cartesian_2d(t0..t_hi, 0f64..y_hi)
                .d()?;
            let mut mesh = chart.configure_mesh();
            mesh.light_line_style(TRANSPARENT);
            mesh.y_desc(*y)
                .y_labels(4)
                .x_label_formatter(&plot::tick)
                .y_label_formatter(&plot::tick)
                .axis_desc_style((font::FAMILY, plot::TICK_PX + 1))
                .label_style((font::FAMILY, plot::TICK_PX - 1));
            if k == last {
                mesh.x_desc(X_DESC);
            }
            mesh.draw().d()?;
            lead_in_band(&mut chart, t0, y_hi)?;
            for w in &e.windows {
                let col = shade.fault_colour(&w.faults);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(w.start_s, 0.0), (w.end_s.max(w.start_s), y_hi)],
                        col.mix(0.18).filled(),
                    )))
                    .d()?;
            }
            let grey = RGBColor(110, 110, 110);
            chart
                .draw_series(DashedLineSeries::new(
                    c.kept.iter().map(|s| (s.t, g(s))),
                    6,
                    4,
                    grey.stroke_width(2),
                ))
                .d()?
                .label("control")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(3))
                });
            let col = colour(1);
            chart
                .draw_series(LineSeries::new(
                    e.kept.iter().map(|s| (s.t, g(s))),
                    col.stroke_width(2),
                ))
                .d()?
                .label("experiment")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3))
                });
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((font::FAMILY, plot::TICK_PX - 1))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .d()?;
        }
        Ok(())
    }
}

/// Render the timeline file `path` into `out` (with the experiment-against-
/// control plot when [`control_path`] exists beside it).
pub fn render(path: &Path, out: &Path) -> Result<ReportIndex> {
    let f = fold(path)?;
    let control_file = control_path(path);
    let control = if control_file.is_file() {
        Some(fold(&control_file)?)
    } else {
        None
    };
    html::create_out(out)?;
    let mut kinds: Vec<String> = Vec::new();
    for w in &f.windows {
        if !kinds.contains(&w.faults) {
            kinds.push(w.faults.clone());
        }
    }
    let mut plots = vec![plot::save(
        out,
        "timeline",
        "Kernels, queue, resources and bus latency over time",
        "Shaded spans are the fault windows (one colour per set of active faults, see the legend of the top panel). A queue that stayed empty the whole run has no panel.",
        (plot::WIDTH_PX, 1000),
        &Panels(&f, kinds.clone()),
    )?];
    if let Some(c) = &control {
        plots.push(plot::save(
            out,
            "control",
            "Experiment against control",
            "The same seed and stack with the faults withheld (dashed grey) against the experiment (orange); shaded spans are the experiment's fault windows. Every gap between the lines is caused by the faults.",
            (plot::WIDTH_PX, 1150),
            &ControlPanels(&f, c, kinds),
        )?);
    }
    let duration = f.last_t - f.kept.first().map(|s| s.t).unwrap_or(0.0);
    let mut facts = outcome_facts(path)?;
    facts.extend(vec![
        ("samples".into(), f.seen.to_string()),
        ("duration (s)".into(), format!("{duration:.1}")),
        (
            "unhealthy samples".into(),
            format!(
                "{} of {} ({:.1}%)",
                f.unhealthy_samples,
                f.seen,
                100.0 * f.unhealthy_samples as f64 / f.seen.max(1) as f64
            ),
        ),
        (
            "fewest kernels running".into(),
            f.min_running
                .map(|m| m.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        ("deepest queue (tasks)".into(), f.max_queue.to_string()),
        (
            "fault windows".into(),
            format!("{} (+{} not drawn)", f.windows.len(), f.windows_dropped),
        ),
    ]);
    let table = Table {
        title: "Fault windows".into(),
        header: vec![
            "faults".into(),
            "start (s)".into(),
            "end (s)".into(),
            "length (s)".into(),
        ],
        rows: f
            .windows
            .iter()
            .map(|w| {
                vec![
                    w.faults.clone(),
                    format!("{:.2}", w.start_s),
                    format!("{:.2}", w.end_s),
                    format!("{:.2}", w.end_s - w.start_s),
                ]
            })
            .collect(),
    };
    let page = Page {
        title: "chaosim single-run report".into(),
        source: path.display().to_string(),
        facts,
        plots,
        tables: vec![table],
    };
    html::finish(out, ReportKind::Timeline, page)
}
