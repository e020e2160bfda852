//! The ensemble report, from the files `chaosim ensemble` (or `merge`) wrote:
//! the distribution of mastered scenarios at the end (streamed from
//! `seeds.csv` into one counter per value), the day each safeguard was first
//! deployed as box plots (from `summary.csv`: p10, p25, p50, p75, p90), and
//! the pass rate per week as a p10–p90 band with the median (`weeks.csv`).
//! Memory is bounded by the number of scenarios, safeguards and weeks, not
//! by the number of seeds.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::html::{self, Page, Table};
use super::plot::{self, DrawResult, Figure, OrText, colour};
use super::{Columns, ReportIndex, ReportKind, csv_err, font, parse};
use crate::error::Result;

/// The file that marks an ensemble folder (with `summary.csv`).
pub const SEEDS_FILE: &str = "seeds.csv";

/// One `summary.csv` row of an ensemble.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantityRow {
    /// `mastered`, `deployed_day:NAME`, ...
    pub quantity: String,
    /// Values (seeds, or seeds that deployed the safeguard).
    pub n: u64,
    /// Mean, low and high of its 95 % interval; `None` when empty.
    pub mean_ci: Option<(f64, f64, f64)>,
    /// min, p10, p25, p50, p75, p90, max; `None` when empty (or a share row).
    pub quantiles: Option<[f64; 7]>,
}

/// One `weeks.csv` row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeekRow {
    /// Week index.
    pub week: u64,
    /// Seeds with executions that week.
    pub seeds: u64,
    /// p10, p50, p90 of the pass rate (0..=1); `None` without data.
    pub band: Option<(f64, f64, f64)>,
}

const SUMMARY_COLS: [&str; 12] = [
    "quantity", "n", "mean", "ci_low", "ci_high", "min", "p10", "p25", "p50", "p75", "p90", "max",
];

fn opt(path: &Path, line: u64, field: &str, s: &str) -> Result<Option<f64>> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse(path, line, field, s).map(Some)
    }
}

/// Read an ensemble's `summary.csv`.
pub fn read_quantities(dir: &Path) -> Result<Vec<QuantityRow>> {
    let path = dir.join(super::SWEEP_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &SUMMARY_COLS)?;
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        let f = |k: usize| opt(&path, line, SUMMARY_COLS[k], c.get(&rec, k));
        let mean_ci = match (f(2)?, f(3)?, f(4)?) {
            (Some(m), Some(l), Some(h)) => Some((m, l, h)),
            _ => None,
        };
        let mut q = [0.0; 7];
        let mut full = true;
        for (i, slot) in q.iter_mut().enumerate() {
            match f(5 + i)? {
                Some(v) => *slot = v,
                None => full = false,
            }
        }
        rows.push(QuantityRow {
            quantity: c.get(&rec, 0).to_string(),
            n: parse(&path, line, "n", c.get(&rec, 1))?,
            mean_ci,
            quantiles: full.then_some(q),
        });
    }
    Ok(rows)
}

/// Read `weeks.csv`.
pub fn read_weeks(dir: &Path) -> Result<Vec<WeekRow>> {
    const COLS: [&str; 5] = [
        "week",
        "seeds",
        "pass_rate_p10",
        "pass_rate_p50",
        "pass_rate_p90",
    ];
    let path = dir.join("weeks.csv");
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &COLS)?;
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        let f = |k: usize| opt(&path, line, COLS[k], c.get(&rec, k));
        rows.push(WeekRow {
            week: parse(&path, line, "week", c.get(&rec, 0))?,
            seeds: parse(&path, line, "seeds", c.get(&rec, 1))?,
            band: match (f(2)?, f(3)?, f(4)?) {
                (Some(a), Some(b), Some(h)) => Some((a, b, h)),
                _ => None,
            },
        });
    }
    Ok(rows)
}

/// Stream `seeds.csv`: the number of seeds per count of mastered scenarios.
pub fn read_mastered(dir: &Path) -> Result<BTreeMap<u64, u64>> {
    let path = dir.join(SEEDS_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &["mastered"])?;
    let mut counts = BTreeMap::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        let m: u64 = parse(&path, line, "mastered", c.get(&rec, 0))?;
        *counts.entry(m).or_insert(0u64) += 1;
    }
    Ok(counts)
}

struct Mastered<'a>(&'a BTreeMap<u64, u64>);

impl Figure for Mastered<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let title = "Scenarios mastered at the end, across seeds";
        let (xd, yd) = ("scenarios mastered", "seeds");
        if self.0.is_empty() {
            return plot::empty(root, title, xd, yd);
        }
        // Whole numbers on both axes, with at least 5 counts of room
        // around the values so that one bar is not the whole plot.
        let lo_x = *self.0.keys().next().unwrap_or(&0);
        let hi_x = *self.0.keys().next_back().unwrap_or(&0);
        let (lo_x, hi_x) = (lo_x.saturating_sub(2), (hi_x + 2).max(lo_x + 5));
        let hi_y = *self.0.values().max().unwrap_or(&1) as f64 * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (font::FAMILY, plot::TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(lo_x as f64 - 0.5..hi_x as f64 + 0.5, 0f64..hi_y.max(1.0))
            .d()?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc(xd)
            .y_desc(yd)
            .axis_desc_style((font::FAMILY, plot::LABEL_PX))
            .label_style((font::FAMILY, plot::TICK_PX))
            .x_labels((hi_x - lo_x + 1).min(25) as usize)
            .x_label_formatter(&plot::int_tick)
            .y_label_formatter(&plot::int_tick)
            .draw()
            .d()?;
        let col = colour(0);
        chart
            .draw_series(self.0.iter().map(|(&v, &c)| {
                let x = v as f64;
                Rectangle::new([(x - 0.4, 0.0), (x + 0.4, c as f64)], col.filled())
            }))
            .d()?;
        Ok(())
    }
}

struct Boxes<'a>(&'a [(String, u64, [f64; 7])]);

impl Figure for Boxes<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let title = "Day each safeguard was first deployed (box p25-p75, whiskers p10-p90)";
        let (xd, yd) = ("programme day", "");
        if self.0.is_empty() {
            return plot::empty(root, title, xd, "safeguard");
        }
        let hi = self.0.iter().map(|b| b.2[6]).fold(1.0f64, f64::max) * 1.05;
        let k = self.0.len();
        let names: Vec<String> = self
            .0
            .iter()
            .map(|b| format!("{} (n {})", b.0, b.1))
            .collect();
        let label = move |y: &f64| -> String {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                names[i as usize].clone()
            } else {
                String::new()
            }
        };
        let mut chart = ChartBuilder::on(root)
            .caption(title, (font::FAMILY, plot::TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(300)
            .build_cartesian_2d(0f64..hi, -0.5f64..k as f64 - 0.5)
            .d()?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc(xd)
            .y_desc(yd)
            .y_labels(k * 2 + 1)
            .axis_desc_style((font::FAMILY, plot::LABEL_PX))
            .label_style((font::FAMILY, plot::TICK_PX))
            .x_label_formatter(&plot::int_tick)
            .y_label_formatter(&label)
            .draw()
            .d()?;
        for (i, (_, _, q)) in self.0.iter().enumerate() {
            let y = i as f64;
            let col = colour(i);
            let [_, p10, p25, p50, p75, p90, _] = *q;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(p10, y), (p90, y)],
                    BLACK.stroke_width(1),
                )))
                .d()?;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(p25, y - 0.3), (p75, y + 0.3)],
                    col.mix(0.5).filled(),
                )))
                .d()?;
            chart
                .draw_series([
                    PathElement::new(vec![(p50, y - 0.3), (p50, y + 0.3)], BLACK.stroke_width(3)),
                    PathElement::new(
                        vec![(p10, y - 0.15), (p10, y + 0.15)],
                        BLACK.stroke_width(1),
                    ),
                    PathElement::new(
                        vec![(p90, y - 0.15), (p90, y + 0.15)],
                        BLACK.stroke_width(1),
                    ),
                ])
                .d()?;
        }
        Ok(())
    }
}

struct Weekly<'a>(&'a [WeekRow]);

impl Figure for Weekly<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let title = "Pass rate per week across seeds (band p10-p90, line p50)";
        let (xd, yd) = ("programme week", "pass rate (fraction of executions)");
        let pts: Vec<(f64, (f64, f64, f64))> = self
            .0
            .iter()
            .filter_map(|w| w.band.map(|b| (w.week as f64, b)))
            .collect();
        if pts.is_empty() {
            return plot::empty(root, title, xd, yd);
        }
        let hi_x = pts.last().map_or(0.0, |p| p.0);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (font::FAMILY, plot::TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..hi_x.max(1.0) + 0.5, 0f64..1.02f64)
            .d()?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc(xd)
            .y_desc(yd)
            .axis_desc_style((font::FAMILY, plot::LABEL_PX))
            .label_style((font::FAMILY, plot::TICK_PX))
            .x_labels((hi_x as usize + 2).min(27))
            .x_label_formatter(&plot::int_tick)
            .y_label_formatter(&plot::tick)
            .draw()
            .d()?;
        let col = colour(0);
        // p10-p90 of each week as a bar with caps (a programme of one week
        // is one bar, not a lone dot), joined by the band.
        for &(x, (p10, _, p90)) in &pts {
            chart
                .draw_series([
                    PathElement::new(vec![(x, p10), (x, p90)], col.stroke_width(2)),
                    PathElement::new(vec![(x - 0.08, p10), (x + 0.08, p10)], col.stroke_width(2)),
                    PathElement::new(vec![(x - 0.08, p90), (x + 0.08, p90)], col.stroke_width(2)),
                ])
                .d()?;
        }
        let mut band: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.1.2)).collect();
        band.extend(pts.iter().rev().map(|p| (p.0, p.1.0)));
        chart
            .draw_series(std::iter::once(Polygon::new(band, col.mix(0.25).filled())))
            .d()?;
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1.1)),
                col.stroke_width(2),
            ))
            .d()?;
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new((p.0, p.1.1), 3, col.filled())),
            )
            .d()?;
        Ok(())
    }
}

/// Render the ensemble folder `dir` into `out`.
pub fn render(dir: &Path, out: &Path) -> Result<ReportIndex> {
    let rows = read_quantities(dir)?;
    let weeks = read_weeks(dir)?;
    let mastered = read_mastered(dir)?;
    html::create_out(out)?;
    let boxes: Vec<(String, u64, [f64; 7])> = rows
        .iter()
        .filter_map(|r| {
            let name = r.quantity.strip_prefix("deployed_day:")?;
            Some((name.to_string(), r.n, r.quantiles?))
        })
        .collect();
    let size = (plot::WIDTH_PX, plot::HEIGHT_PX);
    let plots = vec![
        plot::save(
            out,
            "mastered",
            "Scenarios mastered at the end",
            "Number of seeds per count of scenarios mastered when the programme ends (exact, from seeds.csv).",
            size,
            &Mastered(&mastered),
        )?,
        plot::save(
            out,
            "deployment_day",
            "Safeguard deployment day",
            "Per safeguard the programme deployed, over the seeds that deployed it (n): the day of the first deployment; box p25-p75, thick line the median, whiskers p10-p90.",
            (
                plot::WIDTH_PX,
                plot::HEIGHT_PX.max(60 + 40 * boxes.len() as u32),
            ),
            &Boxes(&boxes),
        )?,
        plot::save(
            out,
            "pass_rate_weekly",
            "Pass rate per week",
            "Each seed's pass rate in each week (whole percent); the band spans p10 to p90 across seeds, the line is the median.",
            size,
            &Weekly(&weeks),
        )?,
    ];
    let f = |x: f64| format!("{x:.3}");
    let table = Table {
        title: "Distribution across seeds (summary.csv)".into(),
        header: [
            "quantity", "n", "mean", "95% CI", "p10", "p50", "p90", "min", "max",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: rows
            .iter()
            .map(|r| {
                let (m, ci) = r
                    .mean_ci
                    .map_or((String::new(), String::new()), |(m, l, h)| {
                        (f(m), format!("[{}, {}]", f(l), f(h)))
                    });
                let q = |i: usize| r.quantiles.map(|q| f(q[i])).unwrap_or_default();
                vec![
                    r.quantity.clone(),
                    r.n.to_string(),
                    m,
                    ci,
                    q(1),
                    q(3),
                    q(5),
                    q(0),
                    q(6),
                ]
            })
            .collect(),
    };
    let seeds: u64 = mastered.values().sum();
    let page = Page {
        title: "chaosim ensemble report".into(),
        source: dir.display().to_string(),
        facts: vec![
            ("seeds".into(), seeds.to_string()),
            ("weeks per seed".into(), weeks.len().to_string()),
            (
                "safeguards deployed by the programme".into(),
                boxes.len().to_string(),
            ),
        ],
        plots,
        tables: vec![table],
    };
    html::finish(out, ReportKind::Ensemble, page)
}
