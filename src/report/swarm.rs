//! The swarm report (`chaosim swarm`), from `summary.csv` (one row per
//! scenario and outcome, so small), one streaming pass over `swarm.csv`
//! that keeps the first [`FAILING_ROWS_PER_SCENARIO`] failing seeds of each
//! scenario (bounded whatever the number of seeds), and the parameters in
//! `shard.ron`: outcomes per scenario and kind, and the failing seeds with
//! the fault mix drawn and the handle that replays each.

use std::path::Path;

use serde::Deserialize;

use super::html::{self, Page, Table};
use super::plot;
use super::{Columns, ReportIndex, ReportKind, SWEEP_FILE, csv_err, parse};
use crate::error::Result;
use crate::sweep::swarm::{OUTCOMES, SWARM_FILE, outcome_name};

/// The scenario name of `summary.csv`'s closing rows (every scenario together).
pub const ALL: &str = "all";

/// Failing seeds listed per scenario.
pub const FAILING_ROWS_PER_SCENARIO: usize = 5;

/// The outcome counts of one scenario, slots as [`outcome_name`].
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioOutcomes {
    /// Scenario id.
    pub id: String,
    /// Count per outcome slot.
    pub counts: [u64; OUTCOMES],
    /// `(outcome, first seed, handle)` per outcome that occurred, in file order.
    pub firsts: Vec<(String, u64, String)>,
}

impl ScenarioOutcomes {
    /// Seeds run.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Read `dir/summary.csv` of a swarm into one entry per scenario, in file order.
pub fn read_summary(dir: &Path) -> Result<Vec<ScenarioOutcomes>> {
    const COLS: [&str; 5] = ["scenario", "outcome", "count", "first_seed", "first_repro"];
    let path = dir.join(SWEEP_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &COLS)?;
    let mut out: Vec<ScenarioOutcomes> = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        let id = c.get(&rec, 0);
        let outcome = c.get(&rec, 1);
        let Some(slot) = (0..OUTCOMES).find(|&i| outcome_name(i) == outcome) else {
            return Err(crate::error::Error::InvalidAt {
                path: path.clone(),
                line: line as usize,
                column: 1,
                field: "outcome".into(),
                message: format!(
                    "unknown outcome {outcome:?}; expected one of {}",
                    (0..OUTCOMES)
                        .map(outcome_name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        };
        let count: u64 = parse(&path, line, "count", c.get(&rec, 2))?;
        let first: u64 = parse(&path, line, "first_seed", c.get(&rec, 3))?;
        let handle = c.get(&rec, 4).to_string();
        let entry = match out.iter().position(|s| s.id == id) {
            Some(i) => &mut out[i],
            None => {
                out.push(ScenarioOutcomes {
                    id: id.to_string(),
                    counts: [0; OUTCOMES],
                    firsts: Vec::new(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        entry.counts[slot] += count;
        entry.firsts.push((outcome.to_string(), first, handle));
    }
    Ok(out)
}

/// A failing row of `swarm.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailingSeed {
    /// Scenario id.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// The fault mix drawn (`config` column).
    pub config: String,
    /// Failure kind.
    pub reason: String,
    /// The handle that replays the row.
    pub repro: String,
}

/// Stream `dir/swarm.csv` and keep the first `per_scenario` failing rows of
/// each scenario in `ids` (memory bounded by `ids.len() * per_scenario`).
pub fn failing_seeds(dir: &Path, ids: &[String], per_scenario: usize) -> Result<Vec<FailingSeed>> {
    const COLS: [&str; 6] = [
        "seed",
        "scenario",
        "config",
        "passed",
        "failure_reason",
        "repro",
    ];
    let path = dir.join(SWARM_FILE);
    let mut rdr = crate::input::csv_reader(&path)?;
    let header = rdr.headers().map_err(|e| csv_err(&path, e))?.clone();
    let c = Columns::find(&path, &header, &COLS)?;
    let mut kept = vec![0usize; ids.len()];
    let mut out = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while rdr.read_record(&mut rec).map_err(|e| csv_err(&path, e))? {
        line += 1;
        if c.get(&rec, 3) == "1" {
            continue;
        }
        let Some(i) = ids.iter().position(|id| id == c.get(&rec, 1)) else {
            continue;
        };
        if kept[i] >= per_scenario {
            continue;
        }
        kept[i] += 1;
        out.push(FailingSeed {
            scenario: ids[i].clone(),
            seed: parse(&path, line, "seed", c.get(&rec, 0))?,
            config: c.get(&rec, 2).to_string(),
            reason: c.get(&rec, 4).to_string(),
            repro: c.get(&rec, 5).to_string(),
        });
    }
    // Scenario order, then seed order within a scenario.
    out.sort_by(|a, b| {
        let ia = ids.iter().position(|x| *x == a.scenario);
        let ib = ids.iter().position(|x| *x == b.scenario);
        ia.cmp(&ib).then(a.seed.cmp(&b.seed))
    });
    Ok(out)
}

/// What `shard.ron` says about the swarm (the fields the page shows).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwarmFacts {
    /// Seeds per scenario.
    pub seeds: u64,
    /// First seed.
    pub from: u64,
    /// Difficulty level.
    pub difficulty: u8,
    /// Deployed safeguards as a `--safeguards` spec.
    pub safeguards: String,
    /// Shard `K/N`.
    pub shard: String,
}

/// Read the facts from `dir/shard.ron`, or `None` when the folder has none.
pub fn read_facts(dir: &Path) -> Result<Option<SwarmFacts>> {
    #[derive(Deserialize)]
    struct Peek {
        params: PeekParams,
        shard: u32,
        shards: u32,
    }
    #[derive(Deserialize)]
    struct PeekParams {
        n: u64,
        swarm: Option<PeekSwarm>,
    }
    #[derive(Deserialize)]
    struct PeekSwarm {
        from: u64,
        difficulty: u8,
        safeguards: String,
    }
    let Some(p) = super::peek_shard::<Peek>(dir)? else {
        return Ok(None);
    };
    Ok(p.params.swarm.map(|s| SwarmFacts {
        seeds: p.params.n,
        from: s.from,
        difficulty: s.difficulty,
        safeguards: s.safeguards,
        shard: format!("{}/{}", p.shard, p.shards),
    }))
}

/// The rows file that marks a swarm folder.
pub const SWARM_FILE_NAME: &str = SWARM_FILE;

/// The plots of a swarm report, by file stem.
pub const PLOTS: [&str; 1] = ["outcomes"];

/// Render the swarm folder `dir` into `out`.
pub fn render(dir: &Path, out: &Path) -> Result<ReportIndex> {
    let mut scenarios = read_summary(dir)?;
    // summary.csv closes with the rows of all scenarios together.
    let all = scenarios
        .iter()
        .position(|s| s.id == ALL)
        .map(|i| scenarios.remove(i));
    let failing = failing_seeds(
        dir,
        &scenarios.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        FAILING_ROWS_PER_SCENARIO,
    )?;
    let shown: Vec<&ScenarioOutcomes> = scenarios.iter().chain(all.as_ref()).collect();
    let ids: Vec<String> = shown
        .iter()
        .map(|s| {
            if s.id == ALL {
                "all scenarios".into()
            } else {
                s.id.clone()
            }
        })
        .collect();
    let facts = read_facts(dir)?;
    html::create_out(out)?;
    let parts: Vec<String> = (0..OUTCOMES).map(|i| outcome_name(i).to_string()).collect();
    let shares: Vec<Vec<f64>> = shown
        .iter()
        .map(|s| {
            let n = s.total().max(1) as f64;
            s.counts.iter().map(|&c| c as f64 / n).collect()
        })
        .collect();
    // Passed in green, then a colour per failure kind.
    let part_colour: Vec<usize> = std::iter::once(2)
        .chain([1, 0, 3, 4, 5, 7, 6].into_iter().cycle().take(OUTCOMES - 1))
        .collect();
    let plots = vec![plot::save(
        out,
        "outcomes",
        "Outcomes per scenario",
        "Share of each scenario's seeds by verdict: passed, or the kind of the failure. Each seed draws its own fault mix.",
        (
            plot::WIDTH_PX,
            (160 + 30 * shown.len() as u32).max(plot::HEIGHT_PX),
        ),
        &plot::StackedRows {
            title: "Outcomes per scenario (share of its seeds)",
            x_desc: "share of the scenario's seeds",
            y_desc: "",
            rows: &ids,
            parts: &parts,
            values: &shares,
            part_colour: &part_colour,
            label_px: 250,
        },
    )?];
    let mut outcomes = Table {
        title: "Outcomes per scenario and kind (summary.csv), with the first seed of each".into(),
        header: [
            "scenario",
            "outcome",
            "seeds",
            "share",
            "first seed",
            "handle",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: Vec::new(),
    };
    for s in &shown {
        let n = s.total().max(1);
        for (outcome, first, handle) in &s.firsts {
            let slot = (0..OUTCOMES)
                .find(|&i| outcome_name(i) == outcome)
                .unwrap_or(0);
            outcomes.rows.push(vec![
                s.id.clone(),
                outcome.clone(),
                s.counts[slot].to_string(),
                format!("{:.1}%", 100.0 * s.counts[slot] as f64 / n as f64),
                first.to_string(),
                if handle.is_empty() {
                    "-".into()
                } else {
                    handle.clone()
                },
            ]);
        }
    }
    let mut failing_table = Table {
        title: format!(
            "Failing seeds (swarm.csv; the first {FAILING_ROWS_PER_SCENARIO} of each scenario), with the fault mix drawn and the handle that replays each"
        ),
        header: ["scenario", "seed", "failure", "fault mix", "handle"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: failing
            .iter()
            .map(|f| {
                vec![
                    f.scenario.clone(),
                    f.seed.to_string(),
                    f.reason.clone(),
                    f.config.clone(),
                    f.repro.clone(),
                ]
            })
            .collect(),
    };
    if failing_table.rows.is_empty() {
        failing_table.rows.push(vec![
            "none".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    let total: u64 = scenarios.iter().map(|s| s.total()).sum();
    let passed: u64 = scenarios.iter().map(|s| s.counts[0]).sum();
    let mut page_facts = vec![("scenarios".to_string(), scenarios.len().to_string())];
    if let Some(f) = &facts {
        page_facts.push((
            "seeds per scenario".into(),
            format!(
                "{} (from {} to {})",
                f.seeds,
                f.from,
                f.from + f.seeds.saturating_sub(1)
            ),
        ));
        page_facts.push(("difficulty level".into(), f.difficulty.to_string()));
        page_facts.push(("safeguards".into(), f.safeguards.clone()));
        page_facts.push(("shard".into(), f.shard.clone()));
    }
    page_facts.push((
        "executions".into(),
        format!(
            "{total} ({passed} passed, {:.1}%)",
            100.0 * passed as f64 / total.max(1) as f64
        ),
    ));
    let page = Page {
        title: "chaosim swarm report".into(),
        source: dir.display().to_string(),
        facts: page_facts,
        plots,
        tables: vec![outcomes, failing_table],
    };
    html::finish(out, ReportKind::Swarm, page)
}
