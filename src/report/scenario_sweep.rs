//! The scenario-sweep report (`chaosim sweep --scenario ID --param P`), from
//! `summary.csv` (one row per swept value, so small) and the parameters in
//! `shard.ron`: the pass rate against the swept value with its Wilson 95 %
//! band, the recovery quantiles against the value, and the verdicts by kind
//! per value.

use std::path::Path;

use plotters::prelude::SeriesLabelPosition;
use serde::Deserialize;

use super::html::{self, Page, Table};
use super::plot;
use super::{Columns, ReportIndex, ReportKind, SWEEP_FILE, csv_err, parse};
use crate::error::Result;

/// One `summary.csv` row of a scenario sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueRow {
    /// The swept value, as written (`0.4`).
    pub value_text: String,
    /// The swept value.
    pub value: f64,
    /// Experiments (seeds) at this value.
    pub n: u64,
    /// Passed executions.
    pub passes: u64,
    /// Pass rate.
    pub pass_rate: f64,
    /// Wilson 95 % interval of the pass rate, low end.
    pub ci_low: f64,
    /// High end.
    pub ci_high: f64,
    /// Executions with a recovery time.
    pub recovered: u64,
    /// Recovery quantiles p50, p90, p99 in seconds (none when nothing
    /// recovered).
    pub recovery_s: [Option<f64>; 3],
    /// Failed executions by kind, in the order of [`SweepTable::kinds`].
    pub failures: Vec<u64>,
}

/// The whole summary: the failure kinds named by the header's `fail_*`
/// columns and one row per value.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepTable {
    /// Failure kind names (the `fail_` columns without the prefix).
    pub kinds: Vec<String>,
    /// The rows, in file order.
    pub rows: Vec<ValueRow>,
}

const COLS: [&str; 10] = [
    "value",
    "n",
    "passes",
    "pass_rate",
    "ci_low",
    "ci_high",
    "recovered",
    "recovery_p50_s",
    "recovery_p90_s",
    "recovery_p99_s",
];

/// True when `dir/summary.csv` is a scenario sweep's (its first column is
/// `value`; an API sweep's is `rate`).
pub fn is_scenario_summary(dir: &Path) -> Result<bool> {
    let path = dir.join(SWEEP_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?;
    Ok(header.get(0) == Some("value"))
}

/// Read `dir/summary.csv` (streaming).
pub fn read_summary(dir: &Path) -> Result<SweepTable> {
    let path = dir.join(SWEEP_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &COLS)?;
    let fail_cols: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.strip_prefix("fail_").map(|k| (i, k.to_string())))
        .collect();
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        let f = |k: usize| -> Result<f64> { parse(&path, line, COLS[k], c.get(&rec, k)) };
        let u = |k: usize| -> Result<u64> { parse(&path, line, COLS[k], c.get(&rec, k)) };
        let q = |k: usize| -> Result<Option<f64>> {
            let s = c.get(&rec, k);
            if s.trim().is_empty() {
                Ok(None)
            } else {
                parse(&path, line, COLS[k], s).map(Some)
            }
        };
        let mut failures = Vec::with_capacity(fail_cols.len());
        for (i, name) in &fail_cols {
            let field = format!("fail_{name}");
            failures.push(parse(&path, line, &field, rec.get(*i).unwrap_or(""))?);
        }
        rows.push(ValueRow {
            value_text: c.get(&rec, 0).to_string(),
            value: f(0)?,
            n: u(1)?,
            passes: u(2)?,
            pass_rate: f(3)?,
            ci_low: f(4)?,
            ci_high: f(5)?,
            recovered: u(6)?,
            recovery_s: [q(7)?, q(8)?, q(9)?],
            failures,
        });
    }
    Ok(SweepTable {
        kinds: fail_cols.into_iter().map(|(_, k)| k).collect(),
        rows,
    })
}

/// What `shard.ron` says about the sweep (the fields the page shows).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepFacts {
    /// Scenario id.
    pub scenario: String,
    /// Swept parameter.
    pub param: String,
    /// Difficulty level.
    pub difficulty: u8,
    /// Deployed safeguards.
    pub deployed: String,
    /// Root seed.
    pub seed: u64,
    /// Shard `K/N`.
    pub shard: String,
}

/// Read the facts from `dir/shard.ron`, or `None` when the folder has none.
pub fn read_facts(dir: &Path) -> Result<Option<SweepFacts>> {
    #[derive(Deserialize)]
    struct Peek {
        params: PeekParams,
        shard: u32,
        shards: u32,
    }
    #[derive(Deserialize)]
    struct PeekParams {
        seed: u64,
        scenario: Option<PeekScenario>,
    }
    #[derive(Deserialize)]
    struct PeekScenario {
        scenario: String,
        param: String,
        difficulty: u8,
        deployed: String,
    }
    let Some(p) = super::peek_shard::<Peek>(dir)? else {
        return Ok(None);
    };
    Ok(p.params.scenario.map(|s| SweepFacts {
        scenario: s.scenario,
        param: s.param,
        difficulty: s.difficulty,
        deployed: s.deployed,
        seed: p.params.seed,
        shard: format!("{}/{}", p.shard, p.shards),
    }))
}

/// The legend goes where the line is not: low when the pass rates are
/// mostly high, high otherwise.
fn legend_at(t: &SweepTable) -> SeriesLabelPosition {
    let mean = t.rows.iter().map(|r| r.pass_rate).sum::<f64>() / t.rows.len().max(1) as f64;
    if mean > 0.5 {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    }
}

/// Render the scenario-sweep folder `dir` into `out`.
pub fn render(dir: &Path, out: &Path) -> Result<ReportIndex> {
    let t = read_summary(dir)?;
    let facts = read_facts(dir)?;
    html::create_out(out)?;
    let size = (plot::WIDTH_PX, plot::HEIGHT_PX);
    let param = facts
        .as_ref()
        .map(|f| f.param.clone())
        .unwrap_or_else(|| "swept value".into());
    let x_desc = format!("{param} (swept value)");
    let (lo, hi) = t
        .rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |a, r| {
            (a.0.min(r.value), a.1.max(r.value))
        });
    let x_range = plot::padded(lo, hi);
    let band = [plot::BandSeries {
        name: facts
            .as_ref()
            .map(|f| f.scenario.clone())
            .unwrap_or_else(|| "pass rate".into()),
        points: t
            .rows
            .iter()
            .map(|r| (r.value, r.pass_rate, r.ci_low, r.ci_high))
            .collect(),
    }];
    let quantiles: Vec<plot::NamedLine> = ["p50", "p90", "p99"]
        .iter()
        .enumerate()
        .map(|(k, name)| {
            (
                format!("recovery {name}"),
                t.rows.iter().map(|r| (r.value, r.recovery_s[k])).collect(),
            )
        })
        .collect();
    let mut parts = vec!["passed".to_string()];
    parts.extend(t.kinds.iter().cloned());
    let row_names: Vec<String> = t
        .rows
        .iter()
        .map(|r| format!("{param} = {}", r.value_text))
        .collect();
    let values: Vec<Vec<f64>> = t
        .rows
        .iter()
        .map(|r| {
            std::iter::once(r.passes as f64)
                .chain(r.failures.iter().map(|&f| f as f64))
                .collect()
        })
        .collect();
    // Passed in green, then a colour per failure kind.
    let part_colour: Vec<usize> = std::iter::once(2)
        .chain(
            [1, 0, 3, 4, 5, 7, 6]
                .into_iter()
                .cycle()
                .take(t.kinds.len()),
        )
        .collect();
    let plots = vec![
        plot::save(
            out,
            "pass_rate",
            "Pass rate against the swept value",
            "Share of the value's seeds whose verdict passed; the band is the Wilson 95% interval, which stays within 0 and 1.",
            size,
            &plot::BandLines {
                title: "Pass rate against the swept value (95% Wilson band)",
                x_desc: &x_desc,
                y_desc: "pass rate (fraction of seeds)",
                x_range: x_range.clone(),
                y_range: 0.0..1.02,
                legend_suffix: " (band: 95% CI)",
                legend_at: legend_at(&t),
                series: &band,
            },
        )?,
        plot::save(
            out,
            "recovery",
            "Recovery time against the swept value",
            "p50, p90 and p99 of the recovery time (violation to steady state again) over the seeds that recovered; a value where none recovered has no point.",
            size,
            &plot::Lines {
                title: "Recovery time quantiles against the swept value",
                x_desc: &x_desc,
                y_desc: "recovery time (s)",
                x_range,
                series: &quantiles,
                reference: None,
            },
        )?,
        plot::save(
            out,
            "verdicts",
            "Verdicts by kind per value",
            "Seeds per swept value by verdict: passed, or the kind of the failure (failure_kind of experiments.csv).",
            (
                plot::WIDTH_PX,
                (140 + 40 * t.rows.len() as u32).max(plot::HEIGHT_PX),
            ),
            &plot::StackedRows {
                title: "Verdicts per swept value",
                x_desc: "seeds (count)",
                y_desc: "",
                rows: &row_names,
                parts: &parts,
                values: &values,
                part_colour: &part_colour,
                label_px: 190,
            },
        )?,
    ];
    let mut header: Vec<String> = [
        "value",
        "seeds",
        "passed",
        "pass rate",
        "95% CI",
        "recovered",
        "recovery p50 (s)",
        "p90 (s)",
        "p99 (s)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(t.kinds.iter().map(|k| k.replace('_', " ")));
    let mut table = Table {
        title: "Summary per swept value (summary.csv)".into(),
        header,
        rows: Vec::new(),
    };
    let secs = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
    for r in &t.rows {
        let mut row = vec![
            r.value_text.clone(),
            r.n.to_string(),
            r.passes.to_string(),
            format!("{:.3}", r.pass_rate),
            format!("[{:.3}, {:.3}]", r.ci_low, r.ci_high),
            r.recovered.to_string(),
            secs(r.recovery_s[0]),
            secs(r.recovery_s[1]),
            secs(r.recovery_s[2]),
        ];
        row.extend(r.failures.iter().map(|f| f.to_string()));
        table.rows.push(row);
    }
    let seeds: u64 = t.rows.iter().map(|r| r.n).sum();
    let passes: u64 = t.rows.iter().map(|r| r.passes).sum();
    let mut page_facts = Vec::new();
    if let Some(f) = &facts {
        page_facts.push(("scenario".to_string(), f.scenario.clone()));
        page_facts.push(("swept parameter".into(), f.param.clone()));
        page_facts.push(("difficulty level".into(), f.difficulty.to_string()));
        page_facts.push(("deployed safeguards".into(), f.deployed.replace(',', ", ")));
        page_facts.push(("root seed".into(), f.seed.to_string()));
        page_facts.push(("shard".into(), f.shard.clone()));
    }
    page_facts.push(("values".into(), t.rows.len().to_string()));
    page_facts.push((
        "seeds run (all values)".into(),
        format!("{seeds} ({passes} passed)"),
    ));
    let page = Page {
        title: "chaosim scenario sweep report".into(),
        source: dir.display().to_string(),
        facts: page_facts,
        plots,
        tables: vec![table],
    };
    html::finish(out, ReportKind::ScenarioSweep, page)
}

/// The plots of a scenario-sweep report, by file stem.
pub const PLOTS: [&str; 3] = ["pass_rate", "recovery", "verdicts"];
