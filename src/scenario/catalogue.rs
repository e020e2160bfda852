//! The scenario catalogue: the embedded defaults (`scenarios/*.ron`, built
//! into the binary) or a user's directory.

use std::path::Path;

use super::spec::{ScenarioSpec, parse_scenario};
use crate::error::{Error, Result};

macro_rules! embedded {
    ($($file:literal),* $(,)?) => {
        /// The built-in catalogue: `(file name, RON text)`, in file-name order.
        pub const EMBEDDED: &[(&str, &str)] = &[
            $( ($file, include_str!(concat!("../../scenarios/", $file))), )*
        ];
    };
}

embedded![
    "DIRT01_critical_kernel_kill.ron",
    "DIRT02_snapshot_apocalypse.ron",
    "DIRT03_resource_siege.ron",
    "FIT01_api_flood.ron",
    "FIT02_production_load.ron",
    "FIT03_dependency_chaos.ron",
    "FIT04_combined_load_spike.ron",
    "JEP01_log_partition.ron",
    "JEP02_clock_skew.ron",
    "JEP03_snapshot_rollback.ron",
    "JEP04_concurrent_writes.ron",
    "JEP05_clock_strobe.ron",
    "JEP06_bridge_partition.ron",
    "L2_HTM_queue_flood_stress.ron",
    "L2_event_policy_cascade.ron",
    "L2_readiness_hang.ron",
    "L2_replica_failure_canary.ron",
    "L2_scheduler_pause_during_load.ron",
    "L2_subscription_loss.ron",
    "L2_trigger_mesh_storm.ron",
    "L2_worker_dropout_chaos.ron",
    "L3_approval_storm.ron",
    "L3_night_emergency_approval.ron",
    "MF01_triple_threat.ron",
    "MF02_bus_and_queue.ron",
    "MF03_partition_under_load.ron",
    "MF04_siege_and_kill.ron",
    "MF05_storm_and_dropout.ron",
    "MF06_skew_and_flood.ron",
    "S01_heartbeat_pause.ron",
    "S02_acl_spam.ron",
    "S03_cpu_spike.ron",
    "S04_memory_leak.ron",
];

/// A set of validated scenarios with unique ids, sorted by id.
#[derive(Clone, Debug)]
pub struct Catalogue {
    scenarios: Vec<ScenarioSpec>,
}

impl Catalogue {
    /// The built-in catalogue.
    pub fn embedded() -> Result<Catalogue> {
        let specs = EMBEDDED
            .iter()
            .map(|(name, text)| parse_scenario(text, &Path::new("<embedded>/scenarios").join(name)))
            .collect::<Result<Vec<_>>>()?;
        Catalogue::from_specs(specs)
    }

    /// Every `*.ron` file of `dir` (not recursive), in file-name order.
    pub fn load_dir(dir: &Path) -> Result<Catalogue> {
        let mut specs = Vec::new();
        for path in ron_files(dir)? {
            specs.push(load_file(&path)?);
        }
        if specs.is_empty() {
            return Err(Error::Invalid {
                path: dir.to_path_buf(),
                field: "(directory)".into(),
                message: "no *.ron scenario files".into(),
            });
        }
        Catalogue::from_specs(specs)
    }

    /// Build from validated specs, refusing duplicate ids (naming both files).
    pub fn from_specs(mut specs: Vec<ScenarioSpec>) -> Result<Catalogue> {
        specs.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.source.cmp(&b.source)));
        for w in specs.windows(2) {
            if w[0].id == w[1].id {
                return Err(Error::Invalid {
                    path: w[1].source.clone(),
                    field: "id".into(),
                    message: format!(
                        "duplicate id '{}' (also in {})",
                        w[1].id,
                        w[0].source.display()
                    ),
                });
            }
        }
        Ok(Catalogue { scenarios: specs })
    }

    /// All scenarios, sorted by id.
    pub fn scenarios(&self) -> &[ScenarioSpec] {
        &self.scenarios
    }

    /// The scenario with this id.
    pub fn get(&self, id: &str) -> Option<&ScenarioSpec> {
        self.scenarios
            .binary_search_by(|s| s.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.scenarios[i])
    }

    /// The scenario with this id, or a usage error listing near matches.
    pub fn require(&self, id: &str) -> Result<&ScenarioSpec> {
        self.get(id).ok_or_else(|| {
            let lower = id.to_ascii_lowercase();
            let near: Vec<&str> = self
                .scenarios
                .iter()
                .map(|s| s.id.as_str())
                .filter(|s| {
                    s.to_ascii_lowercase().contains(&lower)
                        || lower.contains(&s.to_ascii_lowercase())
                })
                .take(5)
                .collect();
            let hint = if near.is_empty() {
                "see `chaosim list`".to_string()
            } else {
                format!("did you mean {}?", near.join(", "))
            };
            Error::Usage {
                flag: "ID".into(),
                message: format!("unknown scenario '{id}'; {hint}"),
            }
        })
    }

    /// The scenarios a list of ids names, in its order. A list that names
    /// nothing, names an id twice (its runs would count twice) or names an
    /// unknown id is a usage error of `flag`.
    pub fn require_list(&self, ids: &[String], flag: &str) -> Result<Vec<&ScenarioSpec>> {
        let usage = |message: String| Error::Usage {
            flag: flag.into(),
            message,
        };
        if ids.is_empty() {
            return Err(usage(
                "names no scenario; give comma-separated ids (e.g. S02_acl_spam,JEP01_log_partition; see `chaosim list`)".into(),
            ));
        }
        let mut specs = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            match self.require(id) {
                Ok(spec) => specs.push(spec),
                Err(Error::Usage { message, .. }) => return Err(usage(message)),
                Err(e) => return Err(e),
            }
            if ids[..i].contains(id) {
                return Err(usage(format!("'{id}' is given twice")));
            }
        }
        Ok(specs)
    }

    /// A hash of every scenario's text, in id order: equal fingerprints mean
    /// the same catalogue.
    pub fn fingerprint(&self) -> u64 {
        self.scenarios.iter().fold(0x5eed_u64, |h, s| {
            crate::engine::rng::mix64(h ^ s.fingerprint)
        })
    }

    /// Number of scenarios.
    pub fn len(&self) -> usize {
        self.scenarios.len()
    }

    /// Whether the catalogue is empty.
    pub fn is_empty(&self) -> bool {
        self.scenarios.is_empty()
    }
}

/// Read and validate one scenario file.
pub fn load_file(path: &Path) -> Result<ScenarioSpec> {
    crate::input::load_with(path, parse_scenario)
}

pub use crate::input::ron_files;
