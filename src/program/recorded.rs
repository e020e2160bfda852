//! One run of a programme output folder, rebuilt from the rows of its
//! `runs.csv` and `outcomes.csv` (written by [`super::year`]): what
//! `chaosim replay` and `chaosim selfcheck year` re-execute.

use std::path::Path;

use super::spec::Programme;
use super::year::run_start;
use crate::error::{Error, Result};
use crate::safeguard::SafeguardSet;
use crate::scenario::Execution;
use crate::scenario::repro::item_from_fields;

/// One run of a programme output folder, rebuilt from its `runs.csv` and
/// `outcomes.csv` rows: the execution and the digests it recorded (one per
/// item). Shared by `replay` and `selfcheck year`; the fields are read by
/// the same code as a reproduction handle's ([`item_from_fields`]).
pub struct RecordedRun {
    /// What ran.
    pub exec: Execution,
    /// The recorded digests, in item order.
    pub digests: Vec<String>,
    /// Where each digest is in `outcomes.csv`: (line, column index).
    pub lines: Vec<(u64, usize)>,
    /// The recorded `outcomes.csv` rows of the run, in item order, and the
    /// file's header.
    pub rows: Vec<csv::StringRecord>,
    /// The header of `outcomes.csv`.
    pub header: csv::StringRecord,
    /// The run's recorded `runs.csv` row, and that file's header.
    pub run_row: (csv::StringRecord, csv::StringRecord),
}

/// Rebuild run `run` of the programme output in `dir`.
pub fn recorded_run(dir: &Path, run: u64, prog: &Programme) -> Result<RecordedRun> {
    let runs_path = dir.join("runs.csv");
    let outcomes_path = dir.join("outcomes.csv");
    let mut rdr = crate::input::csv_reader(&runs_path)?;
    let headers = rdr
        .headers()
        .map_err(|e| crate::input::csv_error(&runs_path, e))?
        .clone();
    let col = |h: &csv::StringRecord, n: &str, p: &Path| {
        h.iter()
            .position(|x| x == n)
            .ok_or_else(|| Error::InvalidAt {
                path: p.to_path_buf(),
                line: 1,
                column: 1,
                field: n.into(),
                message: "column missing from the header".into(),
            })
    };
    // An error about a field of a row, at the row's line and the field's
    // column.
    let at = |p: &Path, rec: &csv::StringRecord, k: usize, field: &str, message: String| {
        let line = rec.position().map_or(1, |pos| pos.line() as usize);
        let column = 1
            + (0..k)
                .map(|i| rec.get(i).map_or(0, |f| f.chars().count() + 1))
                .sum::<usize>();
        Error::InvalidAt {
            path: p.to_path_buf(),
            line,
            column,
            field: field.into(),
            message,
        }
    };
    let c_run = col(&headers, "run", &runs_path)?;
    let mut row = None;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| crate::input::csv_error(&runs_path, e))?;
        if rec.get(c_run) == Some(&run.to_string()) {
            row = Some(rec);
            break;
        }
    }
    let row = row.ok_or_else(|| Error::InvalidAt {
        path: runs_path.clone(),
        line: rdr.position().line() as usize,
        column: 1,
        field: "run".into(),
        message: format!("no row for run {run} (--run) before the end of the file"),
    })?;
    let get = |n: &str| -> Result<(String, usize)> {
        let k = col(&headers, n, &runs_path)?;
        Ok((row.get(k).unwrap_or("").to_string(), k))
    };
    let (seed, k) = get("seed")?;
    let seed: u64 = seed.parse().map_err(|_| {
        at(
            &runs_path,
            &row,
            k,
            "seed",
            format!("'{seed}' is not a number"),
        )
    })?;
    let (deployed, k) = get("deployed")?;
    let deployed = SafeguardSet::from_spec(&deployed.replace(';', ","), SafeguardSet::EMPTY)
        .map_err(|m| at(&runs_path, &row, k, "deployed", m))?;
    let perspective = get("perspective")?.0;
    // The outcome rows of this run: scenario, difficulty, known fixes, digest.
    let mut ordr = crate::input::csv_reader(&outcomes_path)?;
    let oh = ordr
        .headers()
        .map_err(|e| crate::input::csv_error(&outcomes_path, e))?
        .clone();
    let (c_run, c_sc, c_lv, c_kf, c_dg) = (
        col(&oh, "run", &outcomes_path)?,
        col(&oh, "scenario", &outcomes_path)?,
        col(&oh, "difficulty", &outcomes_path)?,
        col(&oh, "known_fixes", &outcomes_path)?,
        col(&oh, "digest", &outcomes_path)?,
    );
    let mut items = Vec::new();
    let mut digests = Vec::new();
    let mut lines = Vec::new();
    let mut rows = Vec::new();
    for rec in ordr.records() {
        let rec = rec.map_err(|e| crate::input::csv_error(&outcomes_path, e))?;
        if rec.get(c_run) != Some(&run.to_string()) {
            continue;
        }
        let item = item_from_fields(&rec[c_sc], &rec[c_lv], &rec[c_kf]).map_err(|m| {
            at(
                &outcomes_path,
                &rec,
                c_sc,
                "scenario/difficulty/known_fixes",
                m,
            )
        })?;
        items.push(item);
        lines.push((rec.position().map_or(1, |p| p.line()), c_dg));
        digests.push(rec[c_dg].to_string());
        rows.push(rec);
    }
    if items.is_empty() {
        return Err(Error::InvalidAt {
            path: outcomes_path.clone(),
            line: 1,
            column: 1,
            field: "run".into(),
            message: format!("no row of run {run} (runs.csv lists it): the file was cut or edited"),
        });
    }
    Ok(RecordedRun {
        exec: Execution {
            seed,
            run,
            start: run_start(prog, run),
            concurrent: perspective == "Mixed",
            items,
            deployed,
        },
        digests,
        lines,
        rows,
        header: oh,
        run_row: (row, headers),
    })
}
