//! Reports: plots (SVG and PNG, with plotters), a self-contained
//! `index.html` and a `summary.md`, rendered from the files a year, a sweep or
//! a single run wrote.
//!
//! A single run can also be seen through its operation history
//! ([`history`]: a Jepsen-style timeline, inline SVG) and its Chrome trace
//! ([`trace`]: one row per track, inline SVG); a timeline with a control
//! group beside it ([`timeline::control_path`]) gains an experiment-against-
//! control plot.
//!
//! Every renderer reads its input in **one streaming pass** with the `csv`
//! crate and folds each row into fixed-size accumulators (see
//! [`year::YearFold`]), so the memory used does not grow with the number of
//! rows, only with what is drawn (one point per day, one cell per scenario and
//! week).
//!
//! Text is drawn with a bundled font ([`font`]), so a machine without any
//! system font draws the same PNGs, byte for byte. Rendering the same input
//! twice gives byte-identical files.
//!
//! ```no_run
//! use std::path::Path;
//! let index = chaosim::report::render_any(Path::new("reports/sweep"), None)?;
//! println!("{}", index.html.display());
//! # Ok::<(), chaosim::Error>(())
//! ```

pub mod ensemble;
pub mod font;
pub mod history;
pub mod html;
pub mod plot;
pub mod scenario_sweep;
pub mod swarm;
pub mod sweep;
pub mod timeline;
pub mod trace;
pub mod whatif;
pub mod year;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What kind of input a report was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// A programme output folder (`runs.csv`, `outcomes.csv`, ...).
    Year,
    /// An API sweep output folder (`summary.csv` whose first column is `rate`).
    Sweep,
    /// A scenario sweep output folder (`chaosim sweep --scenario`:
    /// `summary.csv` whose first column is `value`).
    ScenarioSweep,
    /// A swarm output folder (`swarm.csv` + `summary.csv`).
    Swarm,
    /// A single-run timeline CSV file.
    Timeline,
    /// An operation history (`chaosim run ID --history FILE`).
    History,
    /// A Chrome trace (`chaosim run ID --trace FILE`).
    Trace,
    /// A seed ensemble folder (`seeds.csv` + `summary.csv`).
    Ensemble,
    /// A what-if folder (`chaosim whatif --out DIR`: `candidates.csv` +
    /// `scenarios.csv`).
    Whatif,
}

impl ReportKind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Year => "year",
            ReportKind::Sweep => "sweep",
            ReportKind::ScenarioSweep => "scenario sweep",
            ReportKind::Swarm => "swarm",
            ReportKind::Timeline => "timeline",
            ReportKind::History => "history",
            ReportKind::Trace => "trace",
            ReportKind::Ensemble => "ensemble",
            ReportKind::Whatif => "what-if",
        }
    }
}

/// One plot written as SVG and PNG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlotFile {
    /// File stem (`pass_rate`): the files are `STEM.svg` and `STEM.png`.
    pub stem: String,
    /// The plot's title (also drawn in the plot).
    pub title: String,
    /// One sentence for the reader, shown under the plot.
    pub caption: String,
}

/// What a renderer wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportIndex {
    /// The kind of input.
    pub kind: ReportKind,
    /// The output folder.
    pub out: PathBuf,
    /// The plots, in page order.
    pub plots: Vec<PlotFile>,
    /// `OUT/index.html`.
    pub html: PathBuf,
    /// `OUT/summary.md`.
    pub summary_md: PathBuf,
}

/// Files that mark a year folder.
pub const YEAR_FILES: [&str; 2] = ["runs.csv", "outcomes.csv"];
/// The file that marks a sweep folder.
pub const SWEEP_FILE: &str = "summary.csv";

/// Detect the kind of `path`: a folder with `runs.csv` and `outcomes.csv` is
/// a year, a folder with `seeds.csv` and `summary.csv` an ensemble, one with
/// `swarm.csv` and `summary.csv` a swarm, a folder with `summary.csv` a
/// scenario sweep (first column `value`) or an API sweep, a file whose first line is
/// [`timeline::TIMELINE_HEADER`] a timeline. Anything else is an
/// [`Error::Usage`] (exit code 2) that says what was expected.
pub fn detect(path: &Path) -> Result<ReportKind> {
    if path.is_dir() {
        if YEAR_FILES.iter().all(|f| path.join(f).is_file()) {
            return Ok(ReportKind::Year);
        }
        if whatif::is_whatif(path) {
            return Ok(ReportKind::Whatif);
        }
        if path.join(ensemble::SEEDS_FILE).is_file() && path.join(SWEEP_FILE).is_file() {
            return Ok(ReportKind::Ensemble);
        }
        if path.join(swarm::SWARM_FILE_NAME).is_file() && path.join(SWEEP_FILE).is_file() {
            return Ok(ReportKind::Swarm);
        }
        if path.join(SWEEP_FILE).is_file() {
            if scenario_sweep::is_scenario_summary(path)? {
                return Ok(ReportKind::ScenarioSweep);
            }
            return Ok(ReportKind::Sweep);
        }
        return Err(Error::Usage {
            flag: "DIR".into(),
            message: format!(
                "{} is not a folder chaosim writes: expected a year (runs.csv + outcomes.csv), a what-if over scenarios (candidates.csv + scenarios.csv) or over programmes (programme.csv + programme_scenarios.csv), an ensemble (seeds.csv + summary.csv), a swarm (swarm.csv + summary.csv) or a sweep (summary.csv)",
                path.display()
            ),
        });
    }
    if path.is_file() {
        if timeline::is_timeline(path)? {
            return Ok(ReportKind::Timeline);
        }
        if history::is_history(path)? {
            return Ok(ReportKind::History);
        }
        if trace::is_trace(path)? {
            return Ok(ReportKind::Trace);
        }
        return Err(Error::Usage {
            flag: "DIR".into(),
            message: format!(
                "{} is not a timeline CSV (expected the header `{}`) nor a history or trace file (chaosim run ID --history/--trace FILE)",
                path.display(),
                timeline::TIMELINE_HEADER.trim_end()
            ),
        });
    }
    let message = if std::fs::symlink_metadata(path).is_ok() {
        format!(
            "{} is neither a folder nor a regular file (a FIFO, a device or a dangling link)",
            path.display()
        )
    } else {
        format!("{} does not exist", path.display())
    };
    Err(Error::Usage {
        flag: "DIR".into(),
        message,
    })
}

/// The default output folder: `DIR/report` for a folder, `FILE.report` for a
/// timeline file.
pub fn default_out(path: &Path, kind: ReportKind) -> PathBuf {
    match kind {
        ReportKind::Year
        | ReportKind::Sweep
        | ReportKind::ScenarioSweep
        | ReportKind::Swarm
        | ReportKind::Ensemble
        | ReportKind::Whatif => path.join("report"),
        ReportKind::Timeline | ReportKind::History | ReportKind::Trace => {
            let mut s = path.as_os_str().to_owned();
            s.push(".report");
            PathBuf::from(s)
        }
    }
}

/// Detect the kind of `path` and render it into `out` (default:
/// [`default_out`]).
pub fn render_any(path: &Path, out: Option<&Path>) -> Result<ReportIndex> {
    let kind = detect(path)?;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_out(path, kind));
    render_kind(kind, path, &out)
}

/// Every file a report of `kind` can write into its folder (the plots as
/// SVG and PNG, `index.html`, `summary.md`): what `--force` replaces.
pub fn planned_files(kind: ReportKind) -> Vec<String> {
    let stems: &[&str] = match kind {
        ReportKind::Year => &year::PLOTS,
        ReportKind::Sweep => &["success_rate", "latency", "retries_breaker"],
        ReportKind::ScenarioSweep => &scenario_sweep::PLOTS,
        ReportKind::Swarm => &swarm::PLOTS,
        ReportKind::Ensemble => &["mastered", "deployment_day", "pass_rate_weekly"],
        ReportKind::Whatif => &whatif::PLOTS,
        ReportKind::Timeline => &["timeline", "control"],
        ReportKind::History | ReportKind::Trace => &[],
    };
    let mut v: Vec<String> = stems
        .iter()
        .flat_map(|s| [format!("{s}.svg"), format!("{s}.png")])
        .collect();
    v.push("summary.md".into());
    v.push("index.html".into());
    v
}

/// [`render_any`] as one transaction: every file the report can write
/// into `out` is checked first (a folder or link in their place is
/// refused; an existing file only replaced with `force`), the report is
/// rendered into a staging folder inside `out` and its files renamed into
/// place at the end (`index.html` last). On an error nothing in `out`
/// changed, and a folder this call created is removed.
pub fn render_to(path: &Path, out: Option<&Path>, force: bool) -> Result<ReportIndex> {
    let kind = detect(path)?;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_out(path, kind));
    let mut tx =
        crate::record::outfile::OutDir::prepare(&out, &planned_files(kind), force, "--out")?;
    let stage = tx.staging()?;
    let mut index = render_kind(kind, path, &stage)?;
    tx.adopt_staging()?;
    tx.commit()?;
    index.out = out.clone();
    index.html = out.join("index.html");
    index.summary_md = out.join("summary.md");
    Ok(index)
}

fn render_kind(kind: ReportKind, path: &Path, out: &Path) -> Result<ReportIndex> {
    match kind {
        ReportKind::Year => year::render(path, out),
        ReportKind::Sweep => sweep::render(path, out),
        ReportKind::ScenarioSweep => scenario_sweep::render(path, out),
        ReportKind::Swarm => swarm::render(path, out),
        ReportKind::Timeline => timeline::render(path, out),
        ReportKind::History => history::render(path, out),
        ReportKind::Trace => trace::render(path, out),
        ReportKind::Ensemble => ensemble::render(path, out),
        ReportKind::Whatif => whatif::render(path, out),
    }
}

/// The parts of a folder's `shard.ron` a report shows, read as `T` (a
/// struct of the fields it needs; the others are skipped); `None` when the
/// folder has no `shard.ron`.
pub(crate) fn peek_shard<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<Option<T>> {
    if !dir.join(crate::shard::SHARD_FILE).is_file() {
        return Ok(None);
    }
    let (path, text) = crate::shard::read_shard_text(dir)?;
    crate::input::parse_ron(&text, &path).map(Some)
}

/// An error about a CSV input file's header (line 1).
pub(crate) fn bad_csv(path: &Path, field: &str, message: impl Into<String>) -> Error {
    Error::InvalidAt {
        path: path.to_path_buf(),
        line: 1,
        column: 1,
        field: field.to_string(),
        message: message.into(),
    }
}

/// Map a `csv` error to a located error.
pub(crate) fn csv_err(path: &Path, e: csv::Error) -> Error {
    crate::input::csv_error(path, e)
}

/// Column positions by name, checked against a header.
pub(crate) struct Columns {
    idx: Vec<usize>,
}

impl Columns {
    /// Find each of `names` in `header`, or say which one is missing.
    pub(crate) fn find(path: &Path, header: &csv::StringRecord, names: &[&str]) -> Result<Columns> {
        let mut idx = Vec::with_capacity(names.len());
        for n in names {
            match header.iter().position(|h| h == *n) {
                Some(i) => idx.push(i),
                None => return Err(bad_csv(path, n, "missing column in the header")),
            }
        }
        Ok(Columns { idx })
    }

    /// The field for column number `k` (in the order given to `find`).
    pub(crate) fn get<'r>(&self, rec: &'r csv::StringRecord, k: usize) -> &'r str {
        rec.get(self.idx[k]).unwrap_or("")
    }
}

/// Parse a field or give a located error.
pub(crate) fn parse<T: std::str::FromStr>(
    path: &Path,
    line: u64,
    field: &str,
    s: &str,
) -> Result<T> {
    s.trim().parse::<T>().map_err(|_| Error::InvalidAt {
        path: path.to_path_buf(),
        line: line.max(1) as usize,
        column: 1,
        field: field.to_string(),
        message: format!("cannot parse {s:?}"),
    })
}
