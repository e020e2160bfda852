//! `chaosim report PATH [--out DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use chaosim::Result;
use chaosim::report;

/// Arguments of `chaosim report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// What to report on, told apart by its files: a year folder (`chaosim
    /// year`: runs.csv + outcomes.csv), an API sweep folder (`chaosim sweep`:
    /// summary.csv), a scenario-sweep folder (`chaosim sweep --scenario`:
    /// summary.csv whose first column is `value`), an ensemble folder
    /// (`chaosim ensemble`: seeds.csv + summary.csv), a swarm folder
    /// (`chaosim swarm`: swarm.csv + summary.csv), a what-if folder
    /// (`chaosim whatif --out`: candidates.csv + scenarios.csv), a timeline CSV (`run --timeline`, with its
    /// .control.csv when `--control` wrote one), a trace (`run --trace`,
    /// Chrome JSON) or an operation history (`run --history`, JSON lines).
    #[arg(value_name = "DIR|FILE")]
    pub path: PathBuf,
    /// Output folder (default: DIR/report, or FILE.report for a timeline).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the report's files if they exist (other files in the folder
    /// are left alone).
    #[arg(long)]
    pub force: bool,
}

/// Render the report and print where it is.
pub fn report_cmd(args: ReportArgs) -> Result<ExitCode> {
    let index = report::render_to(&args.path, args.out.as_deref(), args.force)?;
    // What was written: a history or trace report is one page with its
    // drawing inline (no plot files).
    let plots = match index.plots.len() {
        0 => String::new(),
        1 => "1 plot (SVG + PNG), ".into(),
        n => format!("{n} plots (SVG + PNG), "),
    };
    outln!(
        "{} report: wrote {plots}index.html and summary.md in {}",
        index.kind.name(),
        index.out.display()
    );
    outln!("open {}", index.html.display());
    outln!("summary {}", index.summary_md.display());
    Ok(ExitCode::SUCCESS)
}
