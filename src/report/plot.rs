//! Shared plotting helpers: one figure drawn on the SVG and on the PNG
//! backend, a fixed colour palette, error mapping.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::PlotFile;
use super::font;
use crate::error::{Error, Result};

/// Plot width in pixels.
pub const WIDTH_PX: u32 = 1000;
/// Plot height in pixels.
pub const HEIGHT_PX: u32 = 480;

/// Caption font size (px).
pub const TITLE_PX: u32 = 24;
/// Axis description font size (px).
pub const LABEL_PX: u32 = 17;
/// Tick label font size (px).
pub const TICK_PX: u32 = 14;

/// Colour-blind-safe palette (Okabe-Ito), in series order.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// The palette colour for series `i` (wraps around).
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A drawing error as text (plotters' errors are generic over the backend).
pub type DrawResult = std::result::Result<(), String>;

/// `.d()?` turns any displayable error into a [`DrawResult`] error.
pub trait OrText<T> {
    /// Map the error to its text.
    fn d(self) -> std::result::Result<T, String>;
}

impl<T, E: std::fmt::Display> OrText<T> for std::result::Result<T, E> {
    fn d(self) -> std::result::Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Something that can draw itself on any plotters backend.
pub trait Figure {
    /// Draw on `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// Draw `fig` into `OUT/STEM.svg` and `OUT/STEM.png` (size in px).
pub fn save<F: Figure>(
    out: &Path,
    stem: &str,
    title: &str,
    caption: &str,
    size: (u32, u32),
    fig: &F,
) -> Result<PlotFile> {
    font::ensure_registered();
    let fail = |path: &Path, msg: String| {
        Error::io(
            path,
            std::io::Error::other(format!("drawing {stem}: {msg}")),
        )
    };
    let svg = out.join(format!("{stem}.svg"));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&svg, e.to_string()))?;
        fig.draw(&root).map_err(|e| fail(&svg, e))?;
        root.present().map_err(|e| fail(&svg, e.to_string()))?;
    }
    let png = out.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&png, e.to_string()))?;
        fig.draw(&root).map_err(|e| fail(&png, e))?;
        root.present().map_err(|e| fail(&png, e.to_string()))?;
    }
    Ok(PlotFile {
        stem: stem.to_string(),
        title: title.to_string(),
        caption: caption.to_string(),
    })
}

/// A "no data" panel with the title, for plots whose input is empty, so the
/// page never shows a blank image.
pub fn empty<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
) -> DrawResult {
    let mut chart = ChartBuilder::on(root)
        .caption(title, (font::FAMILY, TITLE_PX))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .d()?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((font::FAMILY, LABEL_PX))
        .label_style((font::FAMILY, TICK_PX))
        .draw()
        .d()?;
    root.draw(&Text::new(
        "no data",
        (
            root.dim_in_pixel().0 as i32 / 2 - 30,
            root.dim_in_pixel().1 as i32 / 2,
        ),
        (font::FAMILY, 22)
            .into_font()
            .color(&RGBColor(120, 120, 120)),
    ))
    .d()?;
    Ok(())
}

/// A range padded so that a flat series is still drawable.
pub fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    if !(lo.is_finite() && hi.is_finite()) {
        return 0.0..1.0;
    }
    if hi - lo < 1e-9 {
        let pad = if lo.abs() > 1.0 { lo.abs() * 0.1 } else { 1.0 };
        return (lo - pad)..(hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad)..(hi + pad)
}

/// A tick label without noise: `10` rather than `10.0`, `0.25` rather than
/// `0.250000`.
pub fn tick(v: &f64) -> String {
    let v = *v;
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        return format!("{}", v.round() as i64);
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A tick label for an axis of whole numbers (counts, days, weeks): an
/// integer is labelled, a fractional tick stays blank.
pub fn int_tick(v: &f64) -> String {
    let v = *v;
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// A tick label for a log axis: only 1, 2 and 5 times a power of ten are
/// labelled (the others stay blank, so labels never crowd).
pub fn log_tick(v: &f64) -> String {
    let v = *v;
    if v <= 0.0 {
        return String::new();
    }
    let e = v.log10().floor();
    let m = v / 10f64.powf(e);
    if [1.0, 2.0, 5.0].iter().any(|k| (m - k).abs() < 1e-6) {
        tick(&v)
    } else {
        String::new()
    }
}

/// One named line of a [`BandLines`] plot: points `(x, y, low, high)`, the
/// band drawn from `low` to `high` under the line.
#[derive(Clone, Debug, PartialEq)]
pub struct BandSeries {
    /// Legend name.
    pub name: String,
    /// Points in x order: `(x, y, low, high)`.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// Lines with a shaded interval band each (a pass or success rate with its
/// Wilson band against a swept value).
pub struct BandLines<'a> {
    /// Caption.
    pub title: &'a str,
    /// X axis description (with its unit).
    pub x_desc: &'a str,
    /// Y axis description (with its unit).
    pub y_desc: &'a str,
    /// The x range drawn.
    pub x_range: std::ops::Range<f64>,
    /// The y range drawn.
    pub y_range: std::ops::Range<f64>,
    /// Text appended to each legend entry (e.g. ` (band: 95% CI)`).
    pub legend_suffix: &'a str,
    /// Where the legend goes.
    pub legend_at: SeriesLabelPosition,
    /// The lines.
    pub series: &'a [BandSeries],
}

impl Figure for BandLines<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        if self.series.iter().all(|s| s.points.is_empty()) {
            return empty(root, self.title, self.x_desc, self.y_desc);
        }
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (font::FAMILY, TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(self.x_range.clone(), self.y_range.clone())
            .d()?;
        value_mesh(&mut chart, self.x_desc, self.y_desc)?;
        for (i, s) in self.series.iter().enumerate() {
            let col = colour(i);
            let mut band: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.3)).collect();
            band.extend(s.points.iter().rev().map(|p| (p.0, p.2)));
            chart
                .draw_series(std::iter::once(Polygon::new(band, col.mix(0.2).filled())))
                .d()?;
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().map(|p| (p.0, p.1)),
                    col.stroke_width(2),
                ))
                .d()?
                .label(format!("{}{}", s.name, self.legend_suffix))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3))
                });
            chart
                .draw_series(
                    s.points
                        .iter()
                        .map(|p| Circle::new((p.0, p.1), 3, col.filled())),
                )
                .d()?;
        }
        chart
            .configure_series_labels()
            .position(self.legend_at.clone())
            .label_font((font::FAMILY, TICK_PX))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .d()?;
        Ok(())
    }
}

/// Horizontal stacked bars, one row per category (a scenario, a swept
/// value), one colour per part (an outcome kind), with a legend of the
/// parts that occur.
pub struct StackedRows<'a> {
    /// Caption.
    pub title: &'a str,
    /// X axis description (with its unit).
    pub x_desc: &'a str,
    /// Y axis description.
    pub y_desc: &'a str,
    /// Row names, top to bottom.
    pub rows: &'a [String],
    /// Part names, in stacking order (left to right).
    pub parts: &'a [String],
    /// `values[row][part]`, in the x axis' unit.
    pub values: &'a [Vec<f64>],
    /// Colour index (into [`PALETTE`]) of each part.
    pub part_colour: &'a [usize],
    /// Pixels kept left of the axis for the row names.
    pub label_px: u32,
}

impl Figure for StackedRows<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        if self.rows.is_empty() {
            return empty(root, self.title, self.x_desc, self.y_desc);
        }
        let (main, key) = root.split_horizontally(root.dim_in_pixel().0.saturating_sub(200));
        let root = &main;
        let n = self.rows.len() as i32;
        let hi = self
            .values
            .iter()
            .map(|r| r.iter().sum::<f64>())
            .fold(0.0f64, f64::max)
            .max(1e-9);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (font::FAMILY, TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(self.label_px)
            .build_cartesian_2d(0f64..hi * 1.02, (0..n - 1).into_segmented())
            .d()?;
        // Row 0 is drawn at the top.
        let name_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => self
                .rows
                .get((n - 1 - *i) as usize)
                .cloned()
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        let mut m = chart.configure_mesh();
        m.light_line_style(TRANSPARENT);
        m.x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .y_labels(n as usize)
            .y_label_formatter(&name_of)
            .x_label_formatter(&tick)
            .disable_y_mesh()
            .axis_desc_style((font::FAMILY, LABEL_PX))
            .label_style((font::FAMILY, TICK_PX));
        m.draw().d()?;
        let used: Vec<bool> = (0..self.parts.len())
            .map(|k| {
                self.values
                    .iter()
                    .any(|r| r.get(k).is_some_and(|v| *v > 0.0))
            })
            .collect();
        for k in 0..self.parts.len() {
            if !used[k] {
                continue;
            }
            let col = colour(self.part_colour.get(k).copied().unwrap_or(k));
            let bars = self.values.iter().enumerate().filter_map(|(r, vals)| {
                let v = vals.get(k).copied().unwrap_or(0.0);
                if v <= 0.0 {
                    return None;
                }
                let x0: f64 = vals[..k].iter().sum();
                let y = n - 1 - r as i32;
                let mut rect = Rectangle::new(
                    [
                        (x0, SegmentValue::Exact(y)),
                        (x0 + v, SegmentValue::Exact(y + 1)),
                    ],
                    col.mix(0.85).filled(),
                );
                rect.set_margin(3, 3, 0, 0);
                Some(rect)
            });
            chart.draw_series(bars).d()?;
        }
        // The key, beside the plot so that it hides no bar.
        let style = (font::FAMILY, TICK_PX).into_font();
        let mut y = 60i32;
        for (k, part) in self.parts.iter().enumerate() {
            if !used[k] {
                continue;
            }
            let col = colour(self.part_colour.get(k).copied().unwrap_or(k));
            key.draw(&Rectangle::new(
                [(8, y), (26, y + 14)],
                col.mix(0.85).filled(),
            ))
            .d()?;
            key.draw(&Text::new(part.replace('_', " "), (32, y), style.clone()))
                .d()?;
            y += 24;
        }
        Ok(())
    }
}

/// The mesh of a value-against-value chart: no minor grid, the two axis
/// descriptions, ticks by [`tick`], the bundled font.
pub fn value_mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    x_desc: &str,
    y_desc: &str,
) -> DrawResult {
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((font::FAMILY, LABEL_PX))
        .label_style((font::FAMILY, TICK_PX))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .draw()
        .d()
}

/// One named line of [`Lines`]: its name and `(x, y)` points, a `None` y
/// being a point with no value (skipped).
pub type NamedLine = (String, Vec<(f64, Option<f64>)>);

/// Named lines with point markers (recovery quantiles against a swept
/// value); a series whose points are all missing is left out.
pub struct Lines<'a> {
    /// Caption.
    pub title: &'a str,
    /// X axis description (with its unit).
    pub x_desc: &'a str,
    /// Y axis description (with its unit).
    pub y_desc: &'a str,
    /// The x range drawn.
    pub x_range: std::ops::Range<f64>,
    /// `(name, points)`; a `None` y breaks nothing, the point is skipped.
    pub series: &'a [NamedLine],
    /// A horizontal reference line `(y, label)` (a recovery limit).
    pub reference: Option<(f64, &'a str)>,
}

impl Figure for Lines<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.1.iter().filter_map(|p| p.1));
        let hi = ys
            .chain(self.reference.map(|r| r.0))
            .fold(f64::NEG_INFINITY, f64::max);
        if !hi.is_finite()
            || self
                .series
                .iter()
                .all(|s| s.1.iter().all(|p| p.1.is_none()))
        {
            return empty(root, self.title, self.x_desc, self.y_desc);
        }
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (font::FAMILY, TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(self.x_range.clone(), 0f64..(hi.max(1e-3) * 1.1))
            .d()?;
        value_mesh(&mut chart, self.x_desc, self.y_desc)?;
        if let Some((y, label)) = self.reference {
            let red = RGBColor(200, 30, 30);
            chart
                .draw_series(DashedLineSeries::new(
                    [(self.x_range.start, y), (self.x_range.end, y)],
                    8,
                    5,
                    red.stroke_width(2),
                ))
                .d()?
                .label(label.to_string())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2))
                });
        }
        for (i, (name, pts)) in self.series.iter().enumerate() {
            let col = colour(i);
            let have: Vec<(f64, f64)> = pts.iter().filter_map(|p| p.1.map(|y| (p.0, y))).collect();
            if have.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(have.iter().copied(), col.stroke_width(2)))
                .d()?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3))
                });
            chart
                .draw_series(have.iter().map(|p| Circle::new(*p, 4, col.filled())))
                .d()?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((font::FAMILY, TICK_PX))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .d()?;
        Ok(())
    }
}
