//! The year report, from a programme output folder.
//!
//! **One streaming pass, as a fold.** `runs.csv`, `outcomes.csv` and
//! `safeguards.csv` are each read once, record by record (one reused
//! `csv::StringRecord`), and every record is folded into a [`YearFold`]; no
//! file is collected. The fold holds: one pass/execution counter per *day*;
//! per scenario (the catalogue, small) a fixed-size recovery-time
//! [`LogSketch`] and one difficulty level per *week*; one counter per failure
//! kind; and the safeguard lifecycle events (a handful per safeguard, capped
//! at [`MAX_SAFEGUARD_EVENTS`]). So memory grows with what is drawn (days and
//! weeks), never with the number of runs or outcomes per day. `learning.ron`
//! is one record per scenario.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::html::{self, Page, Table};
use super::plot::{self, DrawResult, Figure, OrText, colour};
use super::{Columns, ReportIndex, ReportKind, csv_err, font, parse};
use crate::error::{Error, Result};
use crate::program::learning::LearningRecord;
use crate::record::stats::LogSketch;

/// Safeguard lifecycle events kept for the timeline (later ones are counted).
pub const MAX_SAFEGUARD_EVENTS: usize = 20_000;

/// Days in the rolling pass-rate window.
pub const ROLLING_DAYS: usize = 7;

/// The safeguard event kinds of `safeguards.csv`, in legend order.
pub const SAFEGUARD_EVENTS: [&str; 4] = ["generated", "validation_failed", "deployed", "verified"];

/// What the fold keeps per scenario.
#[derive(Clone, Debug)]
pub struct ScenarioFold {
    /// Scenario id.
    pub id: String,
    /// Recovery limit (s), from its latest outcome.
    pub recovery_limit_s: f64,
    /// Recovery times of the recovered executions, in milliseconds.
    pub recovery_ms: LogSketch,
    /// Executions.
    pub executions: u64,
    /// Passes.
    pub passes: u64,
    /// Executions that did not recover.
    pub not_recovered: u64,
    /// Difficulty at the last execution of each week (0: not executed that week).
    pub level_by_week: Vec<u8>,
}

/// One safeguard lifecycle event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SafeguardEvent {
    /// Day of the event.
    pub day: u64,
    /// Index into [`YearFold::safeguards`].
    pub safeguard: usize,
    /// Index into [`SAFEGUARD_EVENTS`].
    pub event: usize,
}

/// The streaming fold over a year folder (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct YearFold {
    /// `(passes, executions)` per day.
    pub per_day: Vec<(u64, u64)>,
    /// Scenarios in order of first appearance.
    pub scenarios: Vec<ScenarioFold>,
    index: BTreeMap<String, usize>,
    /// Failures per failure kind.
    pub failure_kinds: BTreeMap<String, u64>,
    /// Safeguard names in order of first event.
    pub safeguards: Vec<String>,
    /// Safeguard events (at most [`MAX_SAFEGUARD_EVENTS`]).
    pub safeguard_events: Vec<SafeguardEvent>,
    /// Events per kind of [`SAFEGUARD_EVENTS`] (all, also those not kept).
    pub safeguard_event_counts: [u64; 4],
    /// Runs in `runs.csv`.
    pub runs: u64,
    /// Simulation events, summed over `runs.csv`.
    pub sim_events: u64,
    /// Outcomes folded.
    pub executions: u64,
    /// Passing outcomes.
    pub passes: u64,
}

impl YearFold {
    fn scenario(&mut self, id: &str) -> &mut ScenarioFold {
        let i = match self.index.get(id) {
            Some(&i) => i,
            None => {
                let i = self.scenarios.len();
                self.index.insert(id.to_string(), i);
                self.scenarios.push(ScenarioFold {
                    id: id.to_string(),
                    recovery_limit_s: 0.0,
                    recovery_ms: LogSketch::new(),
                    executions: 0,
                    passes: 0,
                    not_recovered: 0,
                    level_by_week: Vec::new(),
                });
                i
            }
        };
        &mut self.scenarios[i]
    }

    /// Fold one outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn outcome(
        &mut self,
        day: u64,
        scenario: &str,
        level: u8,
        passed: bool,
        recovery_s: Option<f64>,
        recovery_limit_s: f64,
        failure_kind: &str,
    ) {
        let d = day as usize;
        if self.per_day.len() <= d {
            self.per_day.resize(d + 1, (0, 0));
        }
        self.per_day[d].1 += 1;
        self.executions += 1;
        if passed {
            self.per_day[d].0 += 1;
            self.passes += 1;
        } else if !failure_kind.is_empty() {
            *self
                .failure_kinds
                .entry(failure_kind.to_string())
                .or_insert(0) += 1;
        }
        let s = self.scenario(scenario);
        s.executions += 1;
        s.passes += passed as u64;
        s.recovery_limit_s = recovery_limit_s;
        match recovery_s {
            Some(r) => s.recovery_ms.push((r.max(0.0) * 1000.0).round() as u64),
            None => s.not_recovered += 1,
        }
        let w = d / 7;
        if s.level_by_week.len() <= w {
            s.level_by_week.resize(w + 1, 0);
        }
        s.level_by_week[w] = level;
    }

    /// Fold one safeguard event.
    pub fn safeguard_event(&mut self, day: u64, safeguard: &str, event: &str) {
        let Some(e) = SAFEGUARD_EVENTS.iter().position(|k| *k == event) else {
            return;
        };
        self.safeguard_event_counts[e] += 1;
        let sg = match self.safeguards.iter().position(|s| s == safeguard) {
            Some(i) => i,
            None => {
                self.safeguards.push(safeguard.to_string());
                self.safeguards.len() - 1
            }
        };
        if self.safeguard_events.len() < MAX_SAFEGUARD_EVENTS {
            self.safeguard_events.push(SafeguardEvent {
                day,
                safeguard: sg,
                event: e,
            });
        }
    }

    /// Scenarios sorted by id.
    pub fn scenarios_by_id(&self) -> Vec<&ScenarioFold> {
        self.index.values().map(|&i| &self.scenarios[i]).collect()
    }

    /// Days covered.
    pub fn days(&self) -> usize {
        self.per_day.len()
    }

    /// Weeks covered.
    pub fn weeks(&self) -> usize {
        self.days().div_ceil(7).max(1)
    }
}

/// Largest day a year folder may hold (the programme runs at most 1000
/// years).
const DAY_MAX: u64 = 1_000_000;
/// Largest recovery time or limit drawn, seconds.
const RECOVERY_S_MAX: f64 = 1e9;

fn out_of_range(path: &Path, line: u64, field: &str, what: String) -> Error {
    Error::InvalidAt {
        path: path.to_path_buf(),
        line: line as usize,
        column: 1,
        field: field.into(),
        message: format!("{what} is out of range"),
    }
}

fn check_day(path: &Path, line: u64, day: u64) -> Result<()> {
    if day > DAY_MAX {
        return Err(out_of_range(
            path,
            line,
            "day",
            format!("{day} (allowed: 0 to {DAY_MAX})"),
        ));
    }
    Ok(())
}

/// Read the year folder `dir` in one streaming pass per file.
pub fn fold(dir: &Path) -> Result<YearFold> {
    let mut f = YearFold::default();
    let mut rec = csv::StringRecord::new();

    let path = dir.join("outcomes.csv");
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let names = [
        "day",
        "scenario",
        "difficulty",
        "passed",
        "recovery_s",
        "recovery_limit_s",
        "failure_kind",
    ];
    let c = Columns::find(&path, &header, &names)?;
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        let day: u64 = parse(&path, line, "day", c.get(&rec, 0))?;
        let level: u8 = parse(&path, line, "difficulty", c.get(&rec, 2))?;
        let passed: bool = parse(&path, line, "passed", c.get(&rec, 3))?;
        let r = c.get(&rec, 4);
        let recovery = if r.trim().is_empty() {
            None
        } else {
            Some(parse::<f64>(&path, line, "recovery_s", r)?)
        };
        let limit: f64 = parse(&path, line, "recovery_limit_s", c.get(&rec, 5))?;
        check_day(&path, line, day)?;
        if !(1..=10).contains(&level) {
            return Err(out_of_range(
                &path,
                line,
                "difficulty",
                format!("{level} (allowed: 1 to 10)"),
            ));
        }
        for (field, v) in [("recovery_s", recovery), ("recovery_limit_s", Some(limit))] {
            if let Some(v) = v
                && !(v.is_finite() && (0.0..=RECOVERY_S_MAX).contains(&v))
            {
                return Err(out_of_range(
                    &path,
                    line,
                    field,
                    format!("{v} (allowed: 0 to {RECOVERY_S_MAX} s)"),
                ));
            }
        }
        f.outcome(
            day,
            c.get(&rec, 1),
            level,
            passed,
            recovery,
            limit,
            c.get(&rec, 6),
        );
    }

    let path = dir.join("runs.csv");
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &["run", "events"])?;
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        f.runs += 1;
        f.sim_events += parse::<u64>(&path, line, "events", c.get(&rec, 1))?;
    }

    let path = dir.join("safeguards.csv");
    if path.is_file() {
        let mut rdr = crate::input::csv_reader(&path)?;
        let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
        let c = Columns::find(&path, &header, &["day", "safeguard", "event"])?;
        let mut line = 1u64;
        while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
            line += 1;
            let day: u64 = parse(&path, line, "day", c.get(&rec, 0))?;
            check_day(&path, line, day)?;
            f.safeguard_event(day, c.get(&rec, 1), c.get(&rec, 2));
        }
    }
    Ok(f)
}

fn mesh_fonts<X, Y, DB>(m: &mut plotters::chart::MeshStyle<'_, '_, X, Y, DB>)
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
    DB: DrawingBackend,
{
    m.axis_desc_style((font::FAMILY, plot::LABEL_PX))
        .label_style((font::FAMILY, plot::TICK_PX));
}

struct PassRate<'a>(&'a YearFold);

impl Figure for PassRate<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let f = self.0;
        let title = "Scenario pass rate per day (rolling 7-day line)";
        if f.executions == 0 {
            return plot::empty(root, title, "day of the programme", "pass rate (fraction)");
        }
        let days = f.days() as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (font::FAMILY, plot::TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..(days - 0.5).max(1.0), 0f64..1.05f64)
            .d()?;
        let mut m = chart.configure_mesh();
        m.light_line_style(TRANSPARENT);
        m.x_desc("day of the programme")
            .y_desc("pass rate (fraction of executions)")
            .x_label_formatter(&plot::tick)
            .y_label_formatter(&plot::tick);
        mesh_fonts(&mut m);
        m.draw().d()?;
        let daily = colour(5);
        chart
            .draw_series(
                f.per_day
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.1 > 0)
                    .map(|(i, d)| {
                        Circle::new((i as f64, d.0 as f64 / d.1 as f64), 3, daily.filled())
                    }),
            )
            .d()?
            .label("daily pass rate")
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, daily.filled()));
        let mut roll = Vec::with_capacity(f.per_day.len());
        let (mut p, mut n) = (0u64, 0u64);
        for (i, d) in f.per_day.iter().enumerate() {
            p += d.0;
            n += d.1;
            if i >= ROLLING_DAYS {
                let old = f.per_day[i - ROLLING_DAYS];
                p -= old.0;
                n -= old.1;
            }
            if n > 0 {
                roll.push((i as f64, p as f64 / n as f64));
            }
        }
        let line = colour(0);
        chart
            .draw_series(LineSeries::new(roll, line.stroke_width(3)))
            .d()?
            .label("rolling 7-day pass rate")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], line.stroke_width(3))
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((font::FAMILY, plot::TICK_PX))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .d()?;
        Ok(())
    }
}

/// A sequential colour for difficulty level 1..=10 (light yellow to dark blue).
fn level_colour(level: u8) -> RGBColor {
    let t = (level.clamp(1, 10) - 1) as f64 / 9.0;
    let (a, b) = ((255.0, 237.0, 160.0), (8.0, 48.0, 107.0));
    let mid = (65.0, 182.0, 196.0);
    let lerp = |x: f64, y: f64, u: f64| (x + (y - x) * u).round() as u8;
    if t < 0.5 {
        let u = t * 2.0;
        RGBColor(
            lerp(a.0, mid.0, u),
            lerp(a.1, mid.1, u),
            lerp(a.2, mid.2, u),
        )
    } else {
        let u = (t - 0.5) * 2.0;
        RGBColor(
            lerp(mid.0, b.0, u),
            lerp(mid.1, b.1, u),
            lerp(mid.2, b.2, u),
        )
    }
}

struct Heatmap<'a>(&'a YearFold);

impl Figure for Heatmap<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let f = self.0;
        let title = "Difficulty level per scenario and week";
        if f.scenarios.is_empty() {
            return plot::empty(root, title, "week of the programme", "scenario");
        }
        let (main, bar) = root.split_horizontally(root.dim_in_pixel().0 - 90);
        let n = f.scenarios.len() as i32;
        let weeks = f.weeks() as i32;
        let rows: Vec<&ScenarioFold> = f.scenarios_by_id().into_iter().rev().collect();
        let names: Vec<&str> = rows.iter().map(|s| s.id.as_str()).collect();
        let mut chart = ChartBuilder::on(&main)
            .caption(title, (font::FAMILY, plot::TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(250)
            .build_cartesian_2d((0..weeks - 1).into_segmented(), (0..n - 1).into_segmented())
            .d()?;
        let name_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names
                .get(*i as usize)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        let week_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => (i + 1).to_string(),
            SegmentValue::Last => String::new(),
        };
        let mut m = chart.configure_mesh();
        m.light_line_style(TRANSPARENT);
        m.x_desc("week of the programme (level at the week's last execution)")
            .y_desc("scenario")
            .y_labels(n as usize)
            .x_labels(weeks.min(26) as usize)
            .y_label_formatter(&name_of)
            .x_label_formatter(&week_of)
            .disable_x_mesh()
            .disable_y_mesh()
            .axis_desc_style((font::FAMILY, plot::LABEL_PX))
            .label_style((font::FAMILY, plot::TICK_PX - 1));
        m.draw().d()?;
        let mut cells = Vec::new();
        for (i, s) in rows.iter().enumerate() {
            for (w, &lv) in s.level_by_week.iter().enumerate() {
                if lv > 0 {
                    cells.push(Rectangle::new(
                        [
                            (SegmentValue::Exact(w as i32), SegmentValue::Exact(i as i32)),
                            (
                                SegmentValue::Exact(w as i32 + 1),
                                SegmentValue::Exact(i as i32 + 1),
                            ),
                        ],
                        level_colour(lv).filled(),
                    ));
                }
            }
        }
        chart.draw_series(cells).d()?;
        // Colour bar.
        let (_, h) = bar.dim_in_pixel();
        let top = 60i32;
        let step = ((h as i32 - 140) / 10).max(8);
        let style = (font::FAMILY, plot::TICK_PX).into_font();
        bar.draw(&Text::new("level", (10, top - 24), style.clone()))
            .d()?;
        for lv in 1..=10u8 {
            let y = top + (10 - lv as i32) * step;
            bar.draw(&Rectangle::new(
                [(10, y), (34, y + step)],
                level_colour(lv).filled(),
            ))
            .d()?;
            bar.draw(&Text::new(
                lv.to_string(),
                (40, y + step / 2 - 7),
                style.clone(),
            ))
            .d()?;
        }
        Ok(())
    }
}

/// `(p50, p90, max)` of a sketch, in seconds.
fn quartet(s: &LogSketch) -> Option<(f64, f64, f64)> {
    Some((
        s.quantile_ratio(50, 100)? / 1000.0,
        s.quantile_ratio(90, 100)? / 1000.0,
        s.quantile_ratio(1, 1)? / 1000.0,
    ))
}

struct Recovery<'a>(&'a YearFold);

impl Figure for Recovery<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let f = self.0;
        let title = "Recovery time per scenario against its limit";
        if f.scenarios.is_empty() {
            return plot::empty(root, title, "recovery time (s)", "scenario");
        }
        let n = f.scenarios.len() as i32;
        let mut lo = f64::INFINITY;
        let mut hi = 0f64;
        for s in &f.scenarios {
            if let Some((p50, p90, max)) = quartet(&s.recovery_ms) {
                for v in [p50, p90, max] {
                    if v > 0.0 {
                        lo = lo.min(v);
                    }
                }
                hi = hi.max(max);
            }
            if s.recovery_limit_s > 0.0 {
                lo = lo.min(s.recovery_limit_s);
                hi = hi.max(s.recovery_limit_s);
            }
        }
        if !lo.is_finite() {
            lo = 0.1;
            hi = 10.0;
        }
        // The axis starts at a power of ten at least a factor 2 below the
        // smallest positive time (not below RECOVERY_AXIS_FLOOR_S); a time
        // below it (a recovery of 0 s) is drawn at the left edge, marked.
        let lo = 10f64
            .powf((lo * 0.5).log10().floor())
            .max(RECOVERY_AXIS_FLOOR_S);
        let hi = (hi * 2.0).max(lo * 10.0);
        let at = |v: f64| v.max(lo);
        let rows: Vec<&ScenarioFold> = f.scenarios_by_id().into_iter().rev().collect();
        let names: Vec<&str> = rows.iter().map(|s| s.id.as_str()).collect();
        // The key in a strip below the plot, so that it hides no bar.
        let (_, height_px) = root.dim_in_pixel();
        let (root, key) = root.split_vertically(height_px.saturating_sub(KEY_STRIP_PX));
        let root = &root;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (font::FAMILY, plot::TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(250)
            .build_cartesian_2d((lo..hi).log_scale(), (0..n - 1).into_segmented())
            .d()?;
        let name_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names
                .get(*i as usize)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        let mut m = chart.configure_mesh();
        m.light_line_style(TRANSPARENT);
        m.x_desc("recovery time (s, log scale)")
            .x_labels(30)
            .x_label_formatter(&plot::log_tick)
            .y_desc("scenario")
            .y_labels(n as usize)
            .y_label_formatter(&name_of)
            .disable_y_mesh()
            .axis_desc_style((font::FAMILY, plot::LABEL_PX))
            .label_style((font::FAMILY, plot::TICK_PX - 1));
        m.draw().d()?;
        let box_c = colour(0);
        let lim_c = RGBColor(200, 30, 30);
        let mut below_axis = false;
        for (i, s) in rows.iter().enumerate() {
            let i = i as i32;
            let y0 = SegmentValue::Exact(i);
            let y1 = SegmentValue::Exact(i + 1);
            let yc = SegmentValue::CenterOf(i);
            if let Some((p50, p90, max)) = quartet(&s.recovery_ms) {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(at(p50), yc.clone()), (at(max), yc.clone())],
                        box_c.stroke_width(1),
                    )))
                    .d()?;
                if p90 > lo {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(at(p50), y0.clone()), (p90.max(at(p50) * 1.01), y1.clone())],
                            box_c.mix(0.5).filled(),
                        )))
                        .d()?;
                }
                for v in [p50, p90, max] {
                    if v < lo {
                        below_axis = true;
                        chart
                            .draw_series(std::iter::once(Rectangle::new(
                                [(lo, y0.clone()), (lo * 1.12, y1.clone())],
                                box_c.stroke_width(2),
                            )))
                            .d()?;
                        break;
                    }
                }
                if max >= lo {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (max, yc.clone()),
                            3,
                            box_c.filled(),
                        )))
                        .d()?;
                }
            }
            if s.recovery_limit_s > 0.0 {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(s.recovery_limit_s, y0), (s.recovery_limit_s, y1)],
                        lim_c.stroke_width(3),
                    )))
                    .d()?;
            }
        }
        let style = (font::FAMILY, plot::TICK_PX).into_font();
        let y = 12;
        key.draw(&Rectangle::new(
            [(260, y), (284, y + 14)],
            box_c.mix(0.5).filled(),
        ))
        .d()?;
        key.draw(&Text::new(
            "p50 to p90 (bar), whisker and dot at the maximum",
            (292, y),
            style.clone(),
        ))
        .d()?;
        key.draw(&PathElement::new(
            vec![(650, y - 2), (650, y + 16)],
            lim_c.stroke_width(3),
        ))
        .d()?;
        key.draw(&Text::new("recovery limit", (662, y), style.clone()))
            .d()?;
        if below_axis {
            key.draw(&Rectangle::new(
                [(790, y), (804, y + 14)],
                box_c.stroke_width(2),
            ))
            .d()?;
            key.draw(&Text::new("0 s (left of the log axis)", (812, y), style))
                .d()?;
        }
        Ok(())
    }
}

/// Height of the strip below a plot that holds its key.
const KEY_STRIP_PX: u32 = 40;

/// The recovery axis never starts below 1 ms (the outcomes hold times to
/// the millisecond).
const RECOVERY_AXIS_FLOOR_S: f64 = 0.001;

struct SafeguardTimeline<'a>(&'a YearFold);

impl Figure for SafeguardTimeline<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let f = self.0;
        let title = "Safeguard lifecycle: generated, deployed, verified";
        if f.safeguards.is_empty() {
            return plot::empty(root, title, "day of the programme", "safeguard");
        }
        let n = f.safeguards.len() as i32;
        let days = lifecycle_days_drawn(f) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (font::FAMILY, plot::TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(220)
            .build_cartesian_2d(-0.5f64..days, (0..n - 1).into_segmented())
            .d()?;
        let names = &f.safeguards;
        // Row n-1 (top) is the safeguard with the earliest event.
        let row = |sg: usize| n - 1 - sg as i32;
        let name_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names
                .get((n - 1 - *i) as usize)
                .cloned()
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        let mut m = chart.configure_mesh();
        m.light_line_style(TRANSPARENT);
        m.x_desc("day of the programme")
            .x_label_formatter(&plot::tick)
            .x_labels(12)
            .y_desc("safeguard")
            .y_labels(n as usize)
            .y_label_formatter(&name_of)
            .axis_desc_style((font::FAMILY, plot::LABEL_PX))
            .label_style((font::FAMILY, plot::TICK_PX - 1));
        m.draw().d()?;
        let cols = [colour(0), RGBColor(200, 30, 30), colour(2), colour(7)];
        for (k, kind) in SAFEGUARD_EVENTS.iter().enumerate() {
            let c = cols[k];
            let pts: Vec<(f64, SegmentValue<i32>)> = f
                .safeguard_events
                .iter()
                .filter(|e| e.event == k)
                .map(|e| (e.day as f64, SegmentValue::CenterOf(row(e.safeguard))))
                .collect();
            let label = format!(
                "{} ({})",
                kind.replace('_', " "),
                f.safeguard_event_counts[k]
            );
            let mk = move |p: (f64, SegmentValue<i32>)| -> DynElement<'static, DB, (f64, SegmentValue<i32>)> {
                match k {
                    0 => Circle::new(p, 6, c.stroke_width(2)).into_dyn(),
                    1 => Cross::new(p, 5, c.stroke_width(2)).into_dyn(),
                    2 => TriangleMarker::new(p, 6, c.filled()).into_dyn(),
                    _ => Circle::new(p, 3, c.filled()).into_dyn(),
                }
            };
            chart
                .draw_series(pts.into_iter().map(mk))
                .d()?
                .label(label)
                .legend(move |(x, y)| mk_legend::<DB>(k, (x + 10, y), c));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((font::FAMILY, plot::TICK_PX))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .d()?;
        Ok(())
    }
}

/// The days the lifecycle plot spans: a week past the last safeguard event
/// (or a tenth of the days before it, if more), within the programme; the
/// whole programme when nothing happened. A year whose fixes all land in
/// its first days is drawn over those days, not over 365.
pub fn lifecycle_days_drawn(f: &YearFold) -> u64 {
    let days = f.days().max(1) as u64;
    match f.safeguard_events.iter().map(|e| e.day).max() {
        Some(last) => (last + (last / 10).max(7)).clamp(1, days),
        None => days,
    }
}

/// One row per safeguard: the day of its first event of each kind (the
/// count of failed validations), in the order of the plot.
fn lifecycle_table(f: &YearFold) -> Table {
    let mut first: Vec<[Option<u64>; 4]> = vec![[None; 4]; f.safeguards.len()];
    let mut failed = vec![0u64; f.safeguards.len()];
    for e in &f.safeguard_events {
        let d = &mut first[e.safeguard][e.event];
        *d = Some(d.map_or(e.day, |x| x.min(e.day)));
        if e.event == 1 {
            failed[e.safeguard] += 1;
        }
    }
    let day = |d: Option<u64>| d.map_or_else(|| "-".to_string(), |d| d.to_string());
    Table {
        title: "Safeguard lifecycle (from safeguards.csv): the day of each step".into(),
        header: [
            "safeguard",
            "generated (day)",
            "validation failed (times)",
            "deployed (day)",
            "verified (day)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: f
            .safeguards
            .iter()
            .enumerate()
            .map(|(i, name)| {
                vec![
                    name.clone(),
                    day(first[i][0]),
                    failed[i].to_string(),
                    day(first[i][2]),
                    day(first[i][3]),
                ]
            })
            .collect(),
    }
}

fn mk_legend<DB: DrawingBackend>(
    k: usize,
    p: (i32, i32),
    c: RGBColor,
) -> DynElement<'static, DB, (i32, i32)> {
    match k {
        0 => Circle::new(p, 6, c.stroke_width(2)).into_dyn(),
        1 => Cross::new(p, 5, c.stroke_width(2)).into_dyn(),
        2 => TriangleMarker::new(p, 6, c.filled()).into_dyn(),
        _ => Circle::new(p, 3, c.filled()).into_dyn(),
    }
}

struct FailureModes<'a>(&'a YearFold);

impl Figure for FailureModes<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let f = self.0;
        let title = "Failures by kind (main kind of each failed execution)";
        if f.failure_kinds.is_empty() {
            return plot::empty(root, title, "failure kind", "failed executions (count)");
        }
        let kinds: Vec<(&String, &u64)> = f.failure_kinds.iter().collect();
        let n = kinds.len() as i32;
        let hi = kinds.iter().map(|k| *k.1).max().unwrap_or(1) as f64 * 1.15;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (font::FAMILY, plot::TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..hi.max(1.0))
            .d()?;
        let name_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => kinds
                .get(*i as usize)
                .map(|k| k.0.replace('_', " "))
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        let mut m = chart.configure_mesh();
        m.light_line_style(TRANSPARENT);
        m.x_desc("failure kind")
            .y_desc("failed executions (count)")
            .y_label_formatter(&plot::tick)
            .x_labels(n as usize)
            .x_label_formatter(&name_of)
            .disable_x_mesh()
            .axis_desc_style((font::FAMILY, plot::LABEL_PX))
            .label_style((font::FAMILY, plot::TICK_PX));
        m.draw().d()?;
        let c = colour(1);
        chart
            .draw_series(kinds.iter().enumerate().map(|(i, k)| {
                let mut r = Rectangle::new(
                    [
                        (SegmentValue::Exact(i as i32), 0.0),
                        (SegmentValue::Exact(i as i32 + 1), *k.1 as f64),
                    ],
                    c.mix(0.8).filled(),
                );
                r.set_margin(0, 0, 20, 20);
                r
            }))
            .d()?;
        chart
            .draw_series(kinds.iter().enumerate().map(|(i, k)| {
                Text::new(
                    k.1.to_string(),
                    (SegmentValue::CenterOf(i as i32), *k.1 as f64 + hi * 0.02),
                    TextStyle::from((font::FAMILY, plot::TICK_PX).into_font()).pos(
                        plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Center,
                            plotters::style::text_anchor::VPos::Bottom,
                        ),
                    ),
                )
            }))
            .d()?;
        Ok(())
    }
}

/// The learning table from `learning.ron` (one row per scenario plus totals).
fn learning_table(dir: &Path) -> Result<Option<Table>> {
    let path = dir.join("learning.ron");
    if !path.is_file() {
        return Ok(None);
    }
    let text = crate::input::read_text_limited(&path, crate::program::year::CHECKPOINT_LIMITS)?;
    let recs: Vec<LearningRecord> = crate::input::parse_ron(&text, &path)?;
    let mut t = Table {
        title: "Learning summary (learning.ron): lifetime counts, and the executions at its current level that the escalation rule reads (mastered: at the top level and passing it under the rule; still failing: below the rule's pass rate at its level)".into(),
        header: [
            "scenario",
            "executions",
            "passes",
            "failures",
            "pass rate",
            "level",
            "at its level (passes / executions)",
            "mean recovery (s)",
            "learned fixes",
            "main failure mode",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: Vec::new(),
    };
    let (mut e, mut p, mut fl, mut lv) = (0u64, 0u64, 0u64, 0u64);
    for r in &recs {
        e += r.execution_count;
        p += r.pass_count;
        fl += r.fail_count;
        lv += r.difficulty_level as u64;
        t.rows.push(vec![
            r.id.clone(),
            r.execution_count.to_string(),
            r.pass_count.to_string(),
            r.fail_count.to_string(),
            pct(r.pass_count, r.execution_count),
            r.difficulty_level.to_string(),
            format!("{} / {}", r.level_passes, r.level_executions),
            if r.recovered_count > 0 {
                format!("{:.2}", r.avg_recovery_time_s)
            } else {
                "-".into()
            },
            r.learned_fixes.join(", "),
            r.main_failure_mode()
                .map(|k| k.name().to_string())
                .unwrap_or_default(),
        ]);
    }
    t.rows.push(vec![
        format!("total ({} scenarios)", recs.len()),
        e.to_string(),
        p.to_string(),
        fl.to_string(),
        pct(p, e),
        format!("mean {:.2}", lv as f64 / recs.len().max(1) as f64),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    Ok(Some(t))
}

fn pct(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * a as f64 / b as f64)
    }
}

/// The plots of a year report, by file stem (each as SVG and PNG).
pub const PLOTS: [&str; 5] = [
    "pass_rate",
    "difficulty",
    "recovery",
    "safeguards",
    "failure_modes",
];

fn lifecycle_caption(f: &YearFold) -> String {
    let drawn = lifecycle_days_drawn(f);
    let mut c = "When each safeguard's fix was generated (after a failure that missed it), failed validation, was deployed and was verified by a passing run.".to_string();
    if drawn < f.days() as u64 {
        c.push_str(&format!(
            " Days 0 to {drawn} of {} are drawn: no safeguard event comes later (the table below has every day).",
            f.days()
        ));
    }
    c
}

/// What made the folder and how to check it, from its checkpoint: the
/// seed, the digest of the run, the inputs' fingerprint and the commands
/// (none when the folder has no checkpoint).
fn run_facts(dir: &Path, f: &YearFold) -> Result<Vec<(String, String)>> {
    let Some(cp) = crate::program::year::read_checkpoint(dir)? else {
        return Ok(Vec::new());
    };
    let c = &cp.checkpoint;
    let shown = dir.display();
    let mut facts = vec![
        ("seed".to_string(), c.seed.to_string()),
        (
            if c.complete {
                "digest of the run"
            } else {
                "digest so far (incomplete)"
            }
            .to_string(),
            format!("{:016x}", c.state.year_digest),
        ),
        (
            "inputs fingerprint".to_string(),
            format!(
                "{:016x} (programme, scenarios, stack)",
                c.inputs_fingerprint
            ),
        ),
        (
            "runs done".to_string(),
            format!("{} of {}", c.state.next_run, c.runs_total),
        ),
    ];
    facts.push((
        "made by".to_string(),
        format!(
            "chaosim year --seed {} --days {} (on the inputs of that fingerprint, with the same --safeguards)",
            c.seed,
            f.days()
        ),
    ));
    facts.push((
        "check it".to_string(),
        format!("chaosim replay {shown} --run 0; chaosim audit verify {shown}"),
    ));
    Ok(facts)
}

/// Render the year folder `dir` into `out` (one streaming pass, see the
/// module docs).
pub fn render(dir: &Path, out: &Path) -> Result<ReportIndex> {
    let f = fold(dir)?;
    let learning = learning_table(dir)?;
    html::create_out(out)?;
    let w = plot::WIDTH_PX;
    let rows_h = |n: usize| (140 + 26 * n as u32).max(plot::HEIGHT_PX);
    let plots = vec![
        plot::save(
            out,
            "pass_rate",
            "Pass rate per day",
            "Dots: share of the day's scenario executions that passed; line: the same over the last 7 days.",
            (w, plot::HEIGHT_PX),
            &PassRate(&f),
        )?,
        plot::save(
            out,
            "difficulty",
            "Difficulty per scenario over the year",
            "Colour: the scenario's difficulty level (1-10) at its last execution in the week; blank: not executed that week.",
            (w, rows_h(f.scenarios.len())),
            &Heatmap(&f),
        )?,
        plot::save(
            out,
            "recovery",
            "Recovery time per scenario against its limit",
            "Bar from p50 to p90 of the recovery time, whisker and dot at the maximum (quantile sketch, relative error under 0.4%); red tick: the scenario's recovery limit. An open square at the left edge: a quantile of 0 s, which a log axis cannot place. Executions that never recovered are counted in the table, not drawn.",
            (w, rows_h(f.scenarios.len())),
            &Recovery(&f),
        )?,
        plot::save(
            out,
            "safeguards",
            "Safeguard lifecycle over the year",
            &lifecycle_caption(&f),
            (w, rows_h(f.safeguards.len())),
            &SafeguardTimeline(&f),
        )?,
        plot::save(
            out,
            "failure_modes",
            "Failure modes by kind",
            "Failed executions counted by their failure kind (failure_kind of outcomes.csv).",
            (w, plot::HEIGHT_PX),
            &FailureModes(&f),
        )?,
    ];
    let mut rec_table = Table {
        title: "Recovery per scenario (from outcomes.csv)".into(),
        header: [
            "scenario",
            "executions",
            "pass rate",
            "not recovered",
            "p50 (s)",
            "p90 (s)",
            "max (s)",
            "limit (s)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: Vec::new(),
    };
    for s in f.scenarios_by_id() {
        let q = quartet(&s.recovery_ms);
        let g = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
        rec_table.rows.push(vec![
            s.id.clone(),
            s.executions.to_string(),
            pct(s.passes, s.executions),
            s.not_recovered.to_string(),
            g(q.map(|q| q.0)),
            g(q.map(|q| q.1)),
            g(q.map(|q| q.2)),
            format!("{:.1}", s.recovery_limit_s),
        ]);
    }
    let mut tables = Vec::new();
    if let Some(t) = learning {
        tables.push(t);
    }
    tables.push(rec_table);
    if !f.safeguards.is_empty() {
        tables.push(lifecycle_table(&f));
    }
    let mut facts = run_facts(dir, &f)?;
    facts.extend(vec![
        ("runs".into(), f.runs.to_string()),
        ("days".into(), f.days().to_string()),
        ("scenario executions".into(), f.executions.to_string()),
        (
            "passed".into(),
            format!("{} ({})", f.passes, pct(f.passes, f.executions)),
        ),
        ("simulation events".into(), f.sim_events.to_string()),
        (
            "safeguard fixes generated / deployed / verified / failed validation".into(),
            format!(
                "{} / {} / {} / {}",
                f.safeguard_event_counts[0],
                f.safeguard_event_counts[2],
                f.safeguard_event_counts[3],
                f.safeguard_event_counts[1]
            ),
        ),
    ]);
    let page = Page {
        title: "chaosim year report".into(),
        source: dir.display().to_string(),
        facts,
        plots,
        tables,
    };
    html::finish(out, ReportKind::Year, page)
}
