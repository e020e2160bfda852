//! The single-run timeline file (`chaosim run --timeline FILE`): its
//! header, its row and the streaming writer the runner feeds. Rendering it
//! is [`crate::report::timeline`]'s (which re-exports these).

use std::io::Write;

use serde::{Deserialize, Serialize};

/// The first line of a timeline file.
pub const TIMELINE_HEADER: &str = "t_s,kernels_running,kernels_total,queue_depth,cpu_utilisation,memory_utilisation,bus_latency_ms,api_success_rate,healthy,faults_active\n";

/// One sample of a single run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineRow {
    /// Scenario time, seconds: 0 is the scenario clock's start (the times
    /// of the scenario file, the trace and the history count from it);
    /// negative during the boot lead-in before it.
    pub t_s: f64,
    /// Kernels up and serving.
    pub kernels_running: u32,
    /// Kernels configured.
    pub kernels_total: u32,
    /// Tasks waiting in the queue.
    pub queue_depth: u64,
    /// CPU utilisation, 0..=1.
    pub cpu_utilisation: f64,
    /// Memory utilisation, 0..=1.
    pub memory_utilisation: f64,
    /// Message-bus latency, milliseconds.
    pub bus_latency_ms: f64,
    /// Share of API calls that succeeded in the last sample interval, 0..=1.
    pub api_success_rate: f64,
    /// Whether the steady-state check holds.
    pub healthy: bool,
    /// `;`-joined fault kinds active at `t_s` (empty when none).
    pub faults_active: String,
}

/// Streams [`TimelineRow`]s as CSV to any writer: the header on creation,
/// one line per [`write`](TimelineWriter::write). Call
/// [`finish`](TimelineWriter::finish) to flush and surface write errors.
pub struct TimelineWriter<W: Write> {
    inner: csv::Writer<W>,
    rows: u64,
}

impl<W: Write> TimelineWriter<W> {
    /// Write the header to `w`.
    pub fn new(mut w: W) -> std::io::Result<TimelineWriter<W>> {
        w.write_all(TIMELINE_HEADER.as_bytes())?;
        Ok(TimelineWriter {
            inner: csv::WriterBuilder::new().has_headers(false).from_writer(w),
            rows: 0,
        })
    }

    /// Append one sample.
    pub fn write(&mut self, row: &TimelineRow) -> std::io::Result<()> {
        self.inner.serialize(row).map_err(std::io::Error::other)?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flush and return the inner writer.
    pub fn finish(self) -> std::io::Result<W> {
        self.inner
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
