//! Shared plotting helpers: one figure drawn on the SVG and on the PNG
//! backend, a fixed colour palette, error mapping.

use std::path::Path;

use plotters::coord::Shift;
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
