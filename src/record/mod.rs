//! Streaming sinks and statistics: everything a long run writes or folds
//! without keeping its history.
//!
//! - [`csv`]: [`CsvSink`](csv::CsvSink), a buffered CSV file writer whose
//!   `finish` flushes and syncs and reports the path on error.
//! - [`outfile`]: the output rules (temporary file then rename, regular
//!   files only, nothing clobbered without `--force`, errors that name the
//!   file): [`OutFile`](outfile::OutFile), [`OutDir`](outfile::OutDir),
//!   [`write_atomic`](outfile::write_atomic).
//! - [`trace`]: the Chrome Trace Event export of one run ([`TraceWriter`](trace::TraceWriter), [`StackTracer`](trace::StackTracer)).
//! - [`stats`]: mergeable aggregates. [`Welford`](stats::Welford) (float
//!   mean/variance, Chan merge), [`IntMoments`](stats::IntMoments) (exact
//!   integer sums: merging in any grouping gives the same bits),
//!   [`LogSketch`](stats::LogSketch) (fixed-size log-bucket quantile sketch,
//!   relative error at most 1/256), [`wilson_interval`](stats::wilson_interval)
//!   and [`t_interval`](stats::t_interval) (via statrs).
//!
//! **Invariant:** nothing here grows with the number of values seen: every
//! aggregate has a fixed size and merges exactly, so shards of a run can be
//! merged into the aggregate of the whole run.

pub mod csv;
pub mod outfile;
pub mod stats;
pub mod timeline;
pub mod trace;
