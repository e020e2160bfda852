//! The what-if report (`chaosim whatif --out DIR`), from `candidates.csv`
//! (one row per candidate), `scenarios.csv` (one row per candidate, changed
//! scenario and direction) and `whatif.json` (the run's parameters): the
//! candidates ranked by the change in pass rate with its paired interval,
//! and per candidate the scenarios it changed with the first pair and the
//! handles of both sides. Both files hold one row per candidate or change,
//! so they are small whatever the number of seeds.
//!
//! A what-if over whole programmes (`chaosim whatif --days N --out DIR`:
//! `programme.csv`, `programme_scenarios.csv`, `whatif.json`) gets its own
//! page: the candidates ranked by the change in scenarios mastered, and the
//! scenarios each one mastered on one side only or on another day.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::html::{self, Page, Table};
use super::plot::{self, DrawResult, Figure, OrText, colour};
use super::{Columns, ReportIndex, ReportKind, csv_err, font, parse};
use crate::error::Result;
use crate::sweep::whatif::{CANDIDATES_FILE, REPORT_FILE, SCENARIOS_FILE};
use crate::sweep::whatif_programme::{
    PROGRAMME_FILE, PROGRAMME_SCENARIOS_FILE, PROGRAMME_SCENARIOS_HEADER,
};

/// The plots of the page.
pub const PLOTS: [&str; 1] = ["ranking"];

/// One row of `candidates.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateRow {
    /// Rank (1 = most net failures prevented).
    pub rank: u32,
    /// The candidate as written.
    pub candidate: String,
    /// Pairs run.
    pub pairs: u64,
    /// Failures prevented.
    pub prevented: u64,
    /// Failures introduced.
    pub introduced: u64,
    /// Change in pass rate and its interval.
    pub change: (f64, f64, f64),
    /// Exact McNemar p-value.
    pub mcnemar_p: f64,
    /// Median recovery saved, seconds (empty when no pair recovered on both sides).
    pub saved_p50_s: String,
}

/// Read `dir/candidates.csv`, in file (rank) order.
pub fn read_candidates(dir: &Path) -> Result<Vec<CandidateRow>> {
    const COLS: [&str; 9] = [
        "rank",
        "candidate",
        "pairs",
        "prevented",
        "introduced",
        "pass_rate_change",
        "ci_low",
        "ci_high",
        "mcnemar_p",
    ];
    let path = dir.join(CANDIDATES_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &COLS)?;
    let saved = Columns::find(&path, &header, &["saved_p50_s"])?;
    let mut out = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        let f = |i: usize, name: &str| parse::<f64>(&path, line, name, c.get(&rec, i));
        out.push(CandidateRow {
            rank: parse(&path, line, "rank", c.get(&rec, 0))?,
            candidate: c.get(&rec, 1).to_string(),
            pairs: parse(&path, line, "pairs", c.get(&rec, 2))?,
            prevented: parse(&path, line, "prevented", c.get(&rec, 3))?,
            introduced: parse(&path, line, "introduced", c.get(&rec, 4))?,
            change: (f(5, "pass_rate_change")?, f(6, "ci_low")?, f(7, "ci_high")?),
            mcnemar_p: f(8, "mcnemar_p")?,
            saved_p50_s: saved.get(&rec, 0).to_string(),
        });
    }
    Ok(out)
}

/// The candidates as horizontal bars of a paired change (rank 1 at the top)
/// with its interval as a whisker and a line at zero: green when the
/// interval lies above zero, red below, grey across.
struct Ranking<'a> {
    title: &'a str,
    x_desc: &'a str,
    /// Per candidate in rank order: its name and (change, low, high).
    rows: Vec<(String, (f64, f64, f64))>,
}

impl Figure for Ranking<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let (title, xd) = (self.title, self.x_desc);
        if self.rows.is_empty() {
            return plot::empty(root, title, xd, "candidate");
        }
        let n = self.rows.len() as i32;
        let lo = self.rows.iter().map(|c| c.1.1).fold(0.0f64, f64::min);
        let hi = self.rows.iter().map(|c| c.1.2).fold(0.0f64, f64::max);
        let pad = ((hi - lo) * 0.08).max(0.01);
        let names: Vec<String> = self.rows.iter().map(|c| c.0.clone()).collect();
        let name_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names
                .get((n - 1 - *i) as usize)
                .cloned()
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        };
        let mut chart = ChartBuilder::on(root)
            .caption(title, (font::FAMILY, plot::TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(260)
            .build_cartesian_2d((lo - pad)..(hi + pad), (0..n - 1).into_segmented())
            .d()?;
        let mut m = chart.configure_mesh();
        m.light_line_style(TRANSPARENT);
        m.x_desc(xd)
            .x_label_formatter(&plot::tick)
            .y_desc("candidate")
            .y_labels(n as usize)
            .y_label_formatter(&name_of)
            .disable_y_mesh()
            .axis_desc_style((font::FAMILY, plot::LABEL_PX))
            .label_style((font::FAMILY, plot::TICK_PX));
        m.draw().d()?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, SegmentValue::Exact(0)), (0.0, SegmentValue::Exact(n))],
                BLACK.stroke_width(1),
            )))
            .d()?;
        for (i, c) in self.rows.iter().enumerate() {
            let y = n - 1 - i as i32;
            let (v, low, high) = c.1;
            // Green when the interval is above zero, red below, grey across.
            let col = if low > 0.0 {
                colour(2)
            } else if high < 0.0 {
                RGBColor(200, 30, 30)
            } else {
                RGBColor(150, 150, 150)
            };
            let mut bar = Rectangle::new(
                [
                    (v.min(0.0), SegmentValue::Exact(y)),
                    (v.max(0.0), SegmentValue::Exact(y + 1)),
                ],
                col.mix(0.7).filled(),
            );
            bar.set_margin(6, 6, 0, 0);
            chart.draw_series(std::iter::once(bar)).d()?;
            let yc = SegmentValue::CenterOf(y);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(low, yc.clone()), (high, yc.clone())],
                    BLACK.stroke_width(2),
                )))
                .d()?;
            chart
                .draw_series(std::iter::once(Circle::new(
                    (v, yc.clone()),
                    4,
                    BLACK.filled(),
                )))
                .d()?;
            chart
                .draw_series([low, high].map(|x| {
                    PathElement::new(
                        vec![(x, SegmentValue::Exact(y)), (x, SegmentValue::Exact(y + 1))],
                        BLACK.stroke_width(1),
                    )
                }))
                .d()?;
        }
        Ok(())
    }
}

/// Render the what-if folder `dir` into `out`.
pub fn render(dir: &Path, out: &Path) -> Result<ReportIndex> {
    if is_whatif_programme(dir) {
        return render_programme(dir, out);
    }
    let cands = read_candidates(dir)?;
    html::create_out(out)?;
    let ranking = Ranking {
        title: "Change in pass rate per candidate (paired, 95% interval)",
        x_desc: "change in pass rate (fraction of pairs; > 0: fewer failures)",
        rows: cands
            .iter()
            .map(|c| (c.candidate.clone(), c.change))
            .collect(),
    };
    let plots = vec![plot::save(
        out,
        "ranking",
        "Candidates ranked",
        "Bar: the change in pass rate against the baseline on the same seeds (common random numbers); whisker: its exact 95% interval, conditional on the discordant pairs. Green: the interval lies above zero (the candidate prevents failures); red: below; grey: it contains zero.",
        (plot::WIDTH_PX, ranking_height_px(cands.len())),
        &ranking,
    )?];
    // (+ 0.0 turns a negative zero into zero: no "-0.00 %".)
    let pct = |v: f64| format!("{:+.2} %", 100.0 * v + 0.0);
    let cand_table = Table {
        title: "Candidates (candidates.csv), in rank order".into(),
        header: [
            "rank",
            "candidate",
            "pairs",
            "prevented",
            "introduced",
            "pass rate change",
            "95% interval",
            "McNemar p",
            "recovery saved p50 (s)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: cands
            .iter()
            .map(|c| {
                vec![
                    c.rank.to_string(),
                    c.candidate.clone(),
                    c.pairs.to_string(),
                    c.prevented.to_string(),
                    c.introduced.to_string(),
                    pct(c.change.0),
                    format!("[{}, {}]", pct(c.change.1), pct(c.change.2)),
                    format!("{:.4}", c.mcnemar_p),
                    if c.saved_p50_s.is_empty() {
                        "-".into()
                    } else {
                        c.saved_p50_s.clone()
                    },
                ]
            })
            .collect(),
    };
    let mut changed = scenario_table(dir)?;
    if changed.rows.is_empty() {
        changed.rows.push(vec!["none".into(); changed.header.len()]);
    }
    let tables = vec![cand_table, changed];
    let mut facts = run_facts(dir)?;
    facts.push(("candidates".into(), cands.len().to_string()));
    let page = Page {
        title: "chaosim what-if report".into(),
        source: dir.display().to_string(),
        facts,
        plots,
        tables,
    };
    html::finish(out, ReportKind::Whatif, page)
}

/// The changed scenarios with the first pair of each direction.
fn scenario_table(dir: &Path) -> Result<Table> {
    const COLS: [&str; 10] = [
        "candidate",
        "scenario",
        "prevented",
        "introduced",
        "example",
        "seed",
        "baseline_failure",
        "baseline_evidence",
        "candidate_evidence",
        "candidate_repro",
    ];
    let path = dir.join(SCENARIOS_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &COLS)?;
    let base_repro = Columns::find(&path, &header, &["baseline_repro"])?;
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        let get = |i: usize| c.get(&rec, i).to_string();
        rows.push(vec![
            get(0),
            get(1),
            format!("{} / {}", get(2), get(3)),
            format!("{} (seed {})", get(4), get(5)),
            get(6),
            get(7),
            get(8),
            base_repro.get(&rec, 0).to_string(),
            get(9),
        ]);
    }
    Ok(Table {
        title: "What each candidate changed (scenarios.csv): the first pair each way, with the evidence and the handles of both sides".into(),
        header: [
            "candidate",
            "scenario",
            "prevented / introduced",
            "pair",
            "baseline failure",
            "baseline evidence",
            "candidate evidence",
            "baseline handle",
            "candidate handle",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    })
}

/// `dir/whatif.json` read as JSON (none when it is absent).
fn read_report_json(dir: &Path) -> Result<Option<serde_json::Value>> {
    let path = dir.join(REPORT_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = crate::input::read_text_limited(
        &path,
        crate::input::Limits {
            bytes_max: 64 << 20,
            line_max: 64 << 20,
        },
    )?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| crate::error::Error::Syntax {
            path: path.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
}

/// The run's parameters from `whatif.json` (none when it is absent).
fn run_facts(dir: &Path) -> Result<Vec<(String, String)>> {
    let Some(v) = read_report_json(dir)? else {
        return Ok(Vec::new());
    };
    let seeds = &v["seeds"];
    let scenarios = v["scenarios"].as_array().map_or(0, Vec::len);
    Ok(vec![
        (
            "seeds".into(),
            format!(
                "{} to {} ({} seeds)",
                seeds[0].as_u64().unwrap_or(0),
                seeds[1].as_u64().unwrap_or(1).saturating_sub(1),
                seeds[1]
                    .as_u64()
                    .unwrap_or(0)
                    .saturating_sub(seeds[0].as_u64().unwrap_or(0))
            ),
        ),
        ("scenarios".into(), scenarios.to_string()),
        (
            "difficulty level".into(),
            v["difficulty"].as_u64().unwrap_or(0).to_string(),
        ),
        (
            "pairs per candidate".into(),
            v["pairs"].as_u64().unwrap_or(0).to_string(),
        ),
        (
            "baseline passed".into(),
            v["baseline_passed"].as_u64().unwrap_or(0).to_string(),
        ),
        (
            "simulation events".into(),
            v["events"].as_u64().unwrap_or(0).to_string(),
        ),
    ])
}

/// Whether `dir` holds a what-if's files (over scenarios, or over whole
/// programmes: [`is_whatif_programme`]).
pub fn is_whatif(dir: &Path) -> bool {
    (dir.join(CANDIDATES_FILE).is_file() && dir.join(SCENARIOS_FILE).is_file())
        || is_whatif_programme(dir)
}

/// Whether `dir` holds the files of a what-if over whole programmes
/// (`chaosim whatif --days N --out DIR`).
pub fn is_whatif_programme(dir: &Path) -> bool {
    dir.join(PROGRAMME_FILE).is_file() && dir.join(PROGRAMME_SCENARIOS_FILE).is_file()
}

/// The height of a ranking of `n` candidates.
fn ranking_height_px(n: usize) -> u32 {
    (140 + 40 * n as u32).max(plot::HEIGHT_PX)
}

/// Render the folder of a what-if over whole programmes: the candidates
/// ranked by the change in scenarios mastered (paired over seeds, Student-t
/// interval), the table of `programme.csv`, and per candidate the scenarios
/// mastered on one side only or earlier, with the first seed that differed
/// and the year handles of both sides.
fn render_programme(dir: &Path, out: &Path) -> Result<ReportIndex> {
    const COLS: [&str; 20] = [
        "rank",
        "candidate",
        "seeds",
        "baseline_mastered",
        "candidate_mastered",
        "mastered_change",
        "ci_low",
        "ci_high",
        "safeguards_change",
        "safeguards_ci_low",
        "safeguards_ci_high",
        "generated_change",
        "generated_ci_low",
        "generated_ci_high",
        "pass_rate_change",
        "pass_rate_ci_low",
        "pass_rate_ci_high",
        "changed_scenarios",
        "changed_safeguards",
        "deployed",
    ];
    let path = dir.join(PROGRAMME_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &COLS)?;
    let mut rows = Vec::new();
    let mut ranking = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        let f = |i: usize| parse::<f64>(&path, line, COLS[i], c.get(&rec, i));
        let change = |i: usize| -> Result<(f64, f64, f64)> { Ok((f(i)?, f(i + 1)?, f(i + 2)?)) };
        let mastered = change(5)?;
        let signed = |(v, lo, hi): (f64, f64, f64), pct: bool| {
            // (+ 0.0 turns a negative zero into zero.)
            let k = if pct { 100.0 } else { 1.0 };
            let unit = if pct { " %" } else { "" };
            format!(
                "{:+.2}{unit} [{:+.2}, {:+.2}]",
                k * v + 0.0,
                k * lo + 0.0,
                k * hi + 0.0
            )
        };
        rows.push(vec![
            c.get(&rec, 0).to_string(),
            c.get(&rec, 1).to_string(),
            c.get(&rec, 2).to_string(),
            format!("{:.2} → {:.2}", f(3)?, f(4)?),
            signed(mastered, false),
            signed(change(8)?, false),
            signed(change(11)?, false),
            signed(change(14)?, true),
            format!("{} / {}", c.get(&rec, 17), c.get(&rec, 18)),
        ]);
        ranking.push((c.get(&rec, 1).to_string(), mastered));
    }
    html::create_out(out)?;
    let n = ranking.len();
    let figure = Ranking {
        title: "Change in scenarios mastered per candidate (paired, 95% interval)",
        x_desc: "change in scenarios mastered by the end of the programme (> 0: more)",
        rows: ranking,
    };
    let plots = vec![plot::save(
        out,
        "ranking",
        "Candidates ranked",
        "Bar: the mean change in scenarios mastered by the end of the programme against the baseline's programme on the same seeds (common random numbers); whisker: its Student-t 95% interval over the seeds. Green: the interval lies above zero; red: below; grey: it contains zero.",
        (plot::WIDTH_PX, ranking_height_px(n)),
        &figure,
    )?];
    let text = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cand_table = Table {
        title:
            "Candidates (programme.csv), in rank order: mean change per seed with its 95% interval"
                .into(),
        header: text(&[
            "rank",
            "candidate",
            "seeds",
            "scenarios mastered (baseline → candidate)",
            "mastered change",
            "safeguards deployed change",
            "safeguards generated change",
            "pass rate change",
            "changed scenarios / safeguards",
        ]),
        rows,
    };
    let mut changed = programme_scenario_table(dir)?;
    if changed.rows.is_empty() {
        changed.rows.push(vec!["none".into(); changed.header.len()]);
    }
    let page = Page {
        title: "chaosim what-if report (whole programmes)".into(),
        source: dir.display().to_string(),
        facts: programme_facts(dir, n)?,
        plots,
        tables: vec![cand_table, changed],
    };
    html::finish(out, ReportKind::Whatif, page)
}

/// The scenarios each candidate's programmes mastered on one side only or
/// on a different day, with the first seed that differed and both sides'
/// year handles.
fn programme_scenario_table(dir: &Path) -> Result<Table> {
    const COLS: [&str; 16] = PROGRAMME_SCENARIOS_HEADER;
    let path = dir.join(PROGRAMME_SCENARIOS_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &COLS)?;
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        let get = |i: usize| c.get(&rec, i);
        let day = |s: &str| {
            if s.is_empty() {
                "never".to_string()
            } else {
                format!("day {s}")
            }
        };
        // Days to one decimal (+ 0.0 turns a negative zero into zero).
        let days = |s: &str| match s.parse::<f64>() {
            Ok(d) => format!("{:+.1}", d + 0.0),
            Err(_) => s.to_string(),
        };
        let saved = match get(5) {
            "" => "-".to_string(),
            v if get(6).is_empty() => days(v),
            v => format!("{} [{}, {}]", days(v), days(get(6)), days(get(7))),
        };
        let handle = |safeguards: &str, digest: &str| {
            format!(
                "chaosim year --seed {} --days {} --safeguards={safeguards} → {digest}",
                get(8),
                get(9)
            )
        };
        rows.push(vec![
            get(0).to_string(),
            get(1).to_string(),
            format!("{} / {} / {}", get(2), get(3), get(4)),
            saved,
            format!(
                "seed {}: baseline {}, candidate {}",
                get(8),
                day(get(10)),
                day(get(11))
            ),
            handle(get(12), get(13)),
            handle(get(14), get(15)),
        ]);
    }
    Ok(Table {
        title: "What each candidate changed (programme_scenarios.csv): scenarios mastered on one side only or on another day, the first seed that differed and the year handles of both sides (add the what-if's --programme, --scenarios or --stack when it had them)".into(),
        header: [
            "candidate",
            "scenario",
            "mastered candidate only / baseline only / both",
            "days saved (mean, 95% interval)",
            "first seed that differed (day mastered)",
            "baseline handle",
            "candidate handle",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows,
    })
}

/// The programme what-if's parameters from `whatif.json` (none when absent).
fn programme_facts(dir: &Path, candidates: usize) -> Result<Vec<(String, String)>> {
    let Some(v) = read_report_json(dir)? else {
        return Ok(Vec::new());
    };
    let (from, to) = (
        v["seeds"][0].as_u64().unwrap_or(0),
        v["seeds"][1].as_u64().unwrap_or(0),
    );
    let num = |k: &str| v[k].as_u64().unwrap_or(0).to_string();
    Ok(vec![
        (
            "seeds".into(),
            format!(
                "{from} to {} ({} seeds)",
                to.saturating_sub(1),
                to.saturating_sub(from)
            ),
        ),
        ("days per programme".into(), num("days")),
        ("runs per programme".into(), num("runs_total")),
        ("catalogue scenarios".into(), num("catalogue_scenarios")),
        (
            "baseline scenarios mastered (mean)".into(),
            format!("{:.2}", v["baseline_mastered"].as_f64().unwrap_or(0.0)),
        ),
        ("programmes run".into(), num("programmes")),
        ("simulation events".into(), num("events")),
        ("candidates".into(), candidates.to_string()),
    ])
}
