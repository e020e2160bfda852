//! `chaosim report PATH [--out DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use chaosim::Result;
use chaosim::report;

/// Arguments of `chaosim report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A year folder (runs.csv + outcomes.csv), a sweep folder (summary.csv),
    /// an ensemble folder (seeds.csv + summary.csv) or a single-run timeline
    /// CSV file.
    #[arg(value_name = "DIR")]
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
    outln!(
        "{} report: {} plots (SVG + PNG) in {}",
        index.kind.name(),
        index.plots.len(),
        index.out.display()
    );
    outln!("open {}", index.html.display());
    outln!("summary {}", index.summary_md.display());
    Ok(ExitCode::SUCCESS)
}
