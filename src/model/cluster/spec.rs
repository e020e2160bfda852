//! [`ClusterSpec`]: the parameters of the replicated-log cluster, with the
//! defaults of `src/defaults/cluster.ron`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError};

/// The embedded default spec (`src/defaults/cluster.ron`).
pub const DEFAULT_RON: &str = include_str!("../../defaults/cluster.ron");

/// Parameters of the replicated-log cluster. All times in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    /// Number of replica nodes (1..=31).
    pub nodes: u16,
    /// Minimum one-way link delay.
    pub link_delay_min_ns: u64,
    /// Maximum one-way link delay (uniform in [min, max]).
    pub link_delay_max_ns: u64,
    /// Packet loss per million messages (0 = none).
    pub link_loss_per_million: u32,
    /// Leader heartbeat / replication interval.
    pub heartbeat_interval_ns: u64,
    /// Election timeout lower bound (uniform in [min, max)); must be at
    /// least `lease_ns` so a new leader can never be elected inside a lease.
    pub election_timeout_min_ns: u64,
    /// Election timeout upper bound.
    pub election_timeout_max_ns: u64,
    /// Leader lease length, measured from the send time of the heartbeat a
    /// majority acknowledged.
    pub lease_ns: u64,
    /// Maximum clock skew the lease bound assumes (`lease_skew_bound`):
    /// the lease is shortened by it, and followers refuse to extend the
    /// lease of a leader whose clock is further off than it.
    pub max_clock_skew_ns: u64,
    /// Bound of the per-node clock drift drawn at start, ppm.
    pub clock_drift_ppm_max: u32,
    /// Bound of the per-node clock offset drawn at start.
    pub initial_clock_offset_max_ns: u64,
    /// Interval between snapshots of each node.
    pub snapshot_interval_ns: u64,
    /// Snapshots each node keeps (the oldest is what a rollback restores).
    pub snapshots_kept: u8,
    /// Number of clients (processes) in the workload.
    pub clients: u16,
    /// Operations per second of each client (Poisson think times).
    pub client_op_rate_per_s: u32,
    /// Share of appends among client operations, per mille (rest: reads).
    pub append_per_mille: u32,
    /// Client request timeout (then retry; then `info`).
    pub client_timeout_ns: u64,
    /// Retries of a request after a timeout or redirect.
    pub client_retries_max: u8,
    /// Operations per second of each extra writer during a
    /// `ConcurrentWriters` fault.
    pub writer_op_rate_per_s: u32,
    /// Request timeout of those writers (aggressive: they retry fast).
    pub writer_timeout_ns: u64,
    /// Window of the probe's client success rate.
    pub probe_window_ns: u64,
    /// The tolerances of the default steady-state hypothesis.
    pub steady: ClusterSteadySpec,
}

/// Tolerances of the replicated log's default steady-state hypothesis (a
/// leader with a valid lease, a majority up and in sync, every clock within
/// `max_clock_skew_ns`, plus these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSteadySpec {
    /// Client operations completing `ok` over the probe window, at least
    /// this share, per mille (unavailability is harm).
    pub client_success_permille_min: u16,
    /// Acknowledged appends found lost (a committed entry where a client
    /// was told its append sits) within the probe window, at most this.
    pub acked_writes_lost_max: u32,
}

impl Default for ClusterSteadySpec {
    fn default() -> Self {
        ClusterSteadySpec {
            client_success_permille_min: 800,
            acked_writes_lost_max: 0,
        }
    }
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            nodes: 5,
            link_delay_min_ns: 1_000_000,
            link_delay_max_ns: 5_000_000,
            link_loss_per_million: 0,
            heartbeat_interval_ns: 50_000_000,
            election_timeout_min_ns: 300_000_000,
            election_timeout_max_ns: 600_000_000,
            lease_ns: 200_000_000,
            max_clock_skew_ns: 50_000_000,
            clock_drift_ppm_max: 100,
            initial_clock_offset_max_ns: 5_000_000,
            snapshot_interval_ns: 2_000_000_000,
            snapshots_kept: 3,
            clients: 5,
            client_op_rate_per_s: 20,
            append_per_mille: 600,
            client_timeout_ns: 250_000_000,
            client_retries_max: 3,
            writer_op_rate_per_s: 50,
            writer_timeout_ns: 15_000_000,
            probe_window_ns: 2_000_000_000,
            steady: ClusterSteadySpec::default(),
        }
    }
}

const SEC: u64 = 1_000_000_000;

impl ClusterSpec {
    /// Check every parameter; the error reads `field: message (allowed ...)`.
    pub fn validate(&self) -> Result<(), FieldError> {
        fn range(field: &str, v: u64, lo: u64, hi: u64, unit: &str) -> Result<(), FieldError> {
            if v < lo || v > hi {
                Err(FieldError::new(
                    field,
                    format!("{v} out of range (allowed {lo}..={hi}{unit})"),
                ))
            } else {
                Ok(())
            }
        }
        range("nodes", self.nodes as u64, 1, 31, "")?;
        range(
            "steady.client_success_permille_min",
            self.steady.client_success_permille_min as u64,
            0,
            1000,
            " permille",
        )?;
        range(
            "link_delay_min_ns",
            self.link_delay_min_ns,
            1,
            10 * SEC,
            " ns",
        )?;
        range(
            "link_delay_max_ns",
            self.link_delay_max_ns,
            self.link_delay_min_ns,
            10 * SEC,
            " ns, at least link_delay_min_ns",
        )?;
        range(
            "link_loss_per_million",
            self.link_loss_per_million as u64,
            0,
            1_000_000,
            "",
        )?;
        range(
            "heartbeat_interval_ns",
            self.heartbeat_interval_ns,
            1_000_000,
            60 * SEC,
            " ns",
        )?;
        range("lease_ns", self.lease_ns, 1_000_000, 600 * SEC, " ns")?;
        range(
            "election_timeout_min_ns",
            self.election_timeout_min_ns,
            self.lease_ns
                .max(self.heartbeat_interval_ns.saturating_mul(2)),
            3600 * SEC,
            " ns, at least lease_ns and 2 x heartbeat_interval_ns",
        )?;
        range(
            "election_timeout_max_ns",
            self.election_timeout_max_ns,
            self.election_timeout_min_ns + 1,
            3600 * SEC,
            " ns, above election_timeout_min_ns",
        )?;
        range(
            "max_clock_skew_ns",
            self.max_clock_skew_ns,
            0,
            self.lease_ns / 2,
            " ns, at most lease_ns / 2",
        )?;
        range(
            "clock_drift_ppm_max",
            self.clock_drift_ppm_max as u64,
            0,
            10_000,
            " ppm",
        )?;
        range(
            "initial_clock_offset_max_ns",
            self.initial_clock_offset_max_ns,
            0,
            3600 * SEC,
            " ns",
        )?;
        range(
            "snapshot_interval_ns",
            self.snapshot_interval_ns,
            1_000_000,
            3600 * SEC,
            " ns",
        )?;
        range("snapshots_kept", self.snapshots_kept as u64, 1, 16, "")?;
        range("clients", self.clients as u64, 0, 1000, "")?;
        range(
            "client_op_rate_per_s",
            self.client_op_rate_per_s as u64,
            1,
            100_000,
            "",
        )?;
        range(
            "append_per_mille",
            self.append_per_mille as u64,
            0,
            1000,
            "",
        )?;
        range(
            "client_timeout_ns",
            self.client_timeout_ns,
            1_000_000,
            600 * SEC,
            " ns",
        )?;
        range(
            "client_retries_max",
            self.client_retries_max as u64,
            0,
            20,
            "",
        )?;
        range(
            "writer_op_rate_per_s",
            self.writer_op_rate_per_s as u64,
            1,
            100_000,
            "",
        )?;
        range(
            "writer_timeout_ns",
            self.writer_timeout_ns,
            1_000_000,
            600 * SEC,
            " ns",
        )?;
        range(
            "probe_window_ns",
            self.probe_window_ns,
            SEC,
            600 * SEC,
            " ns",
        )?;
        Ok(())
    }

    /// Parse and validate a spec from RON text; `path` names the source in
    /// errors (`<embedded>/cluster.ron` for the default).
    pub fn from_ron(text: &str, path: &Path) -> Result<ClusterSpec, Error> {
        let spec: ClusterSpec = crate::input::parse_ron(text, path)?;
        spec.validate().map_err(|e| e.in_file(path))?;
        Ok(spec)
    }

    /// The embedded default, parsed.
    pub fn embedded_default() -> Result<ClusterSpec, Error> {
        ClusterSpec::from_ron(DEFAULT_RON, Path::new("<embedded>/cluster.ron"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_ron_parses_to_the_default() {
        assert_eq!(
            ClusterSpec::embedded_default().unwrap(),
            ClusterSpec::default()
        );
        ClusterSpec::default().validate().unwrap();
    }

    #[test]
    fn bad_values_name_the_field_and_the_range() {
        let s = ClusterSpec {
            election_timeout_min_ns: 100_000_000,
            ..ClusterSpec::default()
        };
        let e = s.validate().unwrap_err();
        assert!(
            e.field == "election_timeout_min_ns" && e.message.contains("allowed"),
            "{e}"
        );
        let err = ClusterSpec::from_ron("(nodes: 0)", Path::new("x.ron")).unwrap_err();
        assert!(
            matches!(err, Error::Invalid { ref field, .. } if field == "nodes"),
            "{err}"
        );
        let err = ClusterSpec::from_ron("(nodez: 3)", Path::new("x.ron")).unwrap_err();
        assert!(matches!(err, Error::Syntax { .. }), "{err}");
    }
}
