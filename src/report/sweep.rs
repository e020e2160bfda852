//! The sweep report, from `summary.csv` alone (one row per rate and variant,
//! so small): success rate vs failure rate with the Wilson 95 % band per
//! variant, latency percentiles vs rate, retries and breaker openings vs rate.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::html::{self, Page, Table};
use super::plot::{self, DrawResult, Figure, OrText, colour};
use super::{Columns, ReportIndex, ReportKind, SWEEP_FILE, csv_err, font, parse};
use crate::error::Result;

/// One `summary.csv` row, the fields the report uses.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// Injected failure rate (0..=1).
    pub rate: f64,
    /// Experiments in the cell.
    pub n: u64,
    /// Success rate.
    pub success_rate: f64,
    /// Wilson 95 % interval, low end.
    pub ci_low: f64,
    /// Wilson 95 % interval, high end.
    pub ci_high: f64,
    /// Median latency, ms.
    pub latency_p50_ms: f64,
    /// 95th percentile latency, ms.
    pub latency_p95_ms: f64,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: f64,
    /// Mean retries per experiment.
    pub retries_mean: f64,
    /// Breaker openings in the cell.
    pub breaker_opens: u64,
}

/// The points of one variant, in file (rate) order.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSeries {
    /// Variant name (`baseline`, `playbook`).
    pub variant: String,
    /// Its points.
    pub points: Vec<SweepPoint>,
}

const COLS: [&str; 11] = [
    "rate",
    "variant",
    "n",
    "success_rate",
    "ci_low",
    "ci_high",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "retries_mean",
    "breaker_opens",
];

/// Read `summary.csv` (streaming) into one series per variant, in order of
/// first appearance.
pub fn read_summary(dir: &Path) -> Result<Vec<SweepSeries>> {
    let path = dir.join(SWEEP_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &COLS)?;
    let mut series: Vec<SweepSeries> = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        let f = |k: usize| -> Result<f64> { parse(&path, line, COLS[k], c.get(&rec, k)) };
        let p = SweepPoint {
            rate: f(0)?,
            n: parse(&path, line, "n", c.get(&rec, 2))?,
            success_rate: f(3)?,
            ci_low: f(4)?,
            ci_high: f(5)?,
            latency_p50_ms: f(6)?,
            latency_p95_ms: f(7)?,
            latency_p99_ms: f(8)?,
            retries_mean: f(9)?,
            breaker_opens: parse(&path, line, "breaker_opens", c.get(&rec, 10))?,
        };
        let v = c.get(&rec, 1);
        match series.iter_mut().find(|s| s.variant == v) {
            Some(s) => s.points.push(p),
            None => series.push(SweepSeries {
                variant: v.to_string(),
                points: vec![p],
            }),
        }
    }
    Ok(series)
}

fn rate_range(series: &[SweepSeries]) -> std::ops::Range<f64> {
    let hi = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.rate))
        .fold(0.0f64, f64::max);
    0.0..(hi.max(0.01) * 1.02)
}

fn max_of(series: &[SweepSeries], f: impl Fn(&SweepPoint) -> f64) -> f64 {
    series
        .iter()
        .flat_map(|s| s.points.iter().map(&f))
        .fold(0.0f64, f64::max)
}

struct Latency<'a>(&'a [SweepSeries]);

impl Figure for Latency<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let title = "Workflow latency percentiles vs injected failure rate";
        let hi = max_of(self.0, |p| p.latency_p99_ms).max(1.0) * 1.05;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (font::FAMILY, plot::TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(rate_range(self.0), 0f64..hi)
            .d()?;
        plot::value_mesh(
            &mut chart,
            "injected failure rate (fraction of calls)",
            "latency (ms)",
        )?;
        type Pick = fn(&SweepPoint) -> f64;
        let pcts: [(&str, Pick, u32); 3] = [
            ("p50", |p| p.latency_p50_ms, 1),
            ("p95", |p| p.latency_p95_ms, 2),
            ("p99", |p| p.latency_p99_ms, 3),
        ];
        for (i, s) in self.0.iter().enumerate() {
            let col = colour(i);
            for (name, pick, w) in pcts {
                chart
                    .draw_series(LineSeries::new(
                        s.points.iter().map(|p| (p.rate, pick(p))),
                        col.stroke_width(w),
                    ))
                    .d()?
                    .label(format!("{} {name}", s.variant))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(w))
                    });
                let marker = |x: f64, y: f64| -> DynElement<'static, DB, (f64, f64)> {
                    match name {
                        "p50" => Circle::new((x, y), 3, col.filled()).into_dyn(),
                        "p95" => TriangleMarker::new((x, y), 4, col.filled()).into_dyn(),
                        _ => Cross::new((x, y), 4, col.stroke_width(2)).into_dyn(),
                    }
                };
                chart
                    .draw_series(s.points.iter().map(|p| marker(p.rate, pick(p))))
                    .d()?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((font::FAMILY, plot::TICK_PX))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .d()?;
        Ok(())
    }
}

struct Retries<'a>(&'a [SweepSeries]);

impl Figure for Retries<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let root = root
            .titled(
                "Retries and circuit-breaker openings vs injected failure rate",
                (font::FAMILY, plot::TITLE_PX),
            )
            .d()?;
        let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
        type Pick = fn(&SweepPoint) -> f64;
        let panels: [(&DrawingArea<DB, Shift>, &str, &str, Pick); 2] = [
            (&left, "Retries", "mean retries per experiment", |p| {
                p.retries_mean
            }),
            (
                &right,
                "Breaker openings",
                "breaker openings per experiment",
                |p| p.breaker_opens as f64 / p.n.max(1) as f64,
            ),
        ];
        for (area, sub, ydesc, pick) in panels {
            let hi = max_of(self.0, pick).max(0.01) * 1.1;
            let mut chart = ChartBuilder::on(area)
                .caption(sub, (font::FAMILY, plot::LABEL_PX + 1))
                .margin(10)
                .x_label_area_size(50)
                .y_label_area_size(70)
                .build_cartesian_2d(rate_range(self.0), 0f64..hi)
                .d()?;
            plot::value_mesh(&mut chart, "injected failure rate (fraction)", ydesc)?;
            for (i, s) in self.0.iter().enumerate() {
                let col = colour(i);
                chart
                    .draw_series(LineSeries::new(
                        s.points.iter().map(|p| (p.rate, pick(p))),
                        col.stroke_width(2),
                    ))
                    .d()?
                    .label(s.variant.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3))
                    });
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(|p| Circle::new((p.rate, pick(p)), 3, col.filled())),
                    )
                    .d()?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font((font::FAMILY, plot::TICK_PX))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .d()?;
        }
        Ok(())
    }
}

/// Render the sweep folder `dir` into `out`.
pub fn render(dir: &Path, out: &Path) -> Result<ReportIndex> {
    let series = read_summary(dir)?;
    html::create_out(out)?;
    let size = (plot::WIDTH_PX, plot::HEIGHT_PX);
    let bands: Vec<plot::BandSeries> = series
        .iter()
        .map(|s| plot::BandSeries {
            name: s.variant.clone(),
            points: s
                .points
                .iter()
                .map(|p| (p.rate, p.success_rate, p.ci_low, p.ci_high))
                .collect(),
        })
        .collect();
    let plots = vec![
        plot::save(
            out,
            "success_rate",
            "Success rate vs failure rate",
            "Share of workflows that completed, per variant; the shaded band is the Wilson 95% interval.",
            size,
            &plot::BandLines {
                title: "Success rate vs injected failure rate (95% Wilson band)",
                x_desc: "injected failure rate (fraction of calls)",
                y_desc: "workflow success rate (fraction)",
                x_range: rate_range(&series),
                y_range: 0.0..1.02,
                legend_suffix: " (band: 95% CI)",
                legend_at: SeriesLabelPosition::LowerLeft,
                series: &bands,
            },
        )?,
        plot::save(
            out,
            "latency",
            "Latency percentiles vs failure rate",
            "p50 (thin, circles), p95 (medium, triangles) and p99 (thick, crosses) of the workflow latency, from the sweep's quantile sketch.",
            size,
            &Latency(&series),
        )?,
        plot::save(
            out,
            "retries_breaker",
            "Retries and breaker openings vs failure rate",
            "Mean retries per experiment (left) and circuit-breaker openings per experiment (right).",
            size,
            &Retries(&series),
        )?,
    ];
    let mut table = Table {
        title: "Summary per rate and variant".into(),
        header: [
            "rate",
            "variant",
            "n",
            "success rate",
            "95% CI",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "retries/exp",
            "breaker opens",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: Vec::new(),
    };
    for s in &series {
        for p in &s.points {
            table.rows.push(vec![
                format!("{}", p.rate),
                s.variant.clone(),
                p.n.to_string(),
                format!("{:.4}", p.success_rate),
                format!("[{:.4}, {:.4}]", p.ci_low, p.ci_high),
                format!("{:.1}", p.latency_p50_ms),
                format!("{:.1}", p.latency_p95_ms),
                format!("{:.1}", p.latency_p99_ms),
                format!("{:.3}", p.retries_mean),
                p.breaker_opens.to_string(),
            ]);
        }
    }
    let cells: usize = series.iter().map(|s| s.points.len()).sum();
    let experiments: u64 = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.n))
        .sum();
    let page = Page {
        title: "chaosim sweep report".into(),
        source: dir.display().to_string(),
        facts: vec![
            (
                "variants".into(),
                series
                    .iter()
                    .map(|s| s.variant.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            ("cells (rate x variant)".into(), cells.to_string()),
            ("experiments".into(), experiments.to_string()),
        ],
        plots,
        tables: vec![table],
    };
    html::finish(out, ReportKind::Sweep, page)
}
