//! The scenario catalogue as shipped: every file valid, embedded, unique.

use std::path::Path;

use chaosim::scenario::catalogue::{EMBEDDED, ron_files};
use chaosim::scenario::difficulty::{self, DifficultyTable};
use chaosim::scenario::spec::{Family, Target};
use chaosim::scenario::{Catalogue, FaultKind};

#[test]
fn the_catalogue_has_at_least_30_valid_scenarios() {
    let cat = Catalogue::embedded().expect("embedded catalogue validates");
    assert!(cat.len() >= 30, "{} scenarios", cat.len());
    for id in [
        "DIRT01_critical_kernel_kill",
        "DIRT02_snapshot_apocalypse",
        "DIRT03_resource_siege",
        "L2_HTM_queue_flood_stress",
        "L2_trigger_mesh_storm",
        "L2_scheduler_pause_during_load",
        "L2_event_policy_cascade",
        "L2_worker_dropout_chaos",
        "FIT01_api_flood",
        "FIT02_production_load",
        "FIT03_dependency_chaos",
        "FIT04_combined_load_spike",
        "JEP01_log_partition",
        "JEP02_clock_skew",
        "JEP03_snapshot_rollback",
        "JEP04_concurrent_writes",
        "S01_heartbeat_pause",
        "S02_acl_spam",
        "S03_cpu_spike",
        "MF01_triple_threat",
    ] {
        assert!(cat.get(id).is_some(), "{id} missing");
    }
    for fam in [
        Family::DiRT,
        Family::FIT,
        Family::Jepsen,
        Family::Layer2,
        Family::Layer3,
        Family::Stress,
        Family::MultiFault,
    ] {
        assert!(
            cat.scenarios().iter().any(|s| s.family == fam),
            "no {fam:?} scenario"
        );
    }
}

#[test]
fn every_file_in_scenarios_is_embedded_and_named_after_its_id() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let on_disk: Vec<String> = ron_files(&dir)
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let embedded: Vec<String> = EMBEDDED.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, embedded, "scenarios/ and the embedded list differ");
    let from_dir = Catalogue::load_dir(&dir).unwrap();
    for s in from_dir.scenarios() {
        assert_eq!(
            s.source.file_stem().unwrap().to_string_lossy(),
            s.id,
            "file name must be the id"
        );
    }
}

#[test]
fn difficulty_scales_window_targets_and_intensity() {
    let cat = Catalogue::embedded().unwrap();
    let mf01 = cat.get("MF01_triple_threat").unwrap();
    let kill = |lvl| {
        let s = difficulty::scale(mf01, lvl);
        let k = s
            .faults
            .iter()
            .find(|f| f.kind == FaultKind::KillKernel)
            .unwrap()
            .clone();
        let n = match k.target {
            Target::RandomKernels(n) => n,
            _ => 1,
        };
        (s.window_ns, n + k.extra_targets)
    };
    assert_eq!(kill(1), (60_000_000_000, 1));
    assert_eq!(kill(4), (120_000_000_000, 3));
    assert_eq!(
        kill(7),
        (300_000_000_000, 5),
        "MF01 at a high level kills 5 kernels at once"
    );
    assert_eq!(kill(10), (300_000_000_000, 7));
    let s02 = cat.get("S02_acl_spam").unwrap();
    let i1 = difficulty::scale(s02, 1).faults[0].intensity_permille;
    let i10 = difficulty::scale(s02, 10).faults[0].intensity_permille;
    assert_eq!(i1, 600);
    assert_eq!(i10, 1000, "capped at the top of the scale");
    assert!(difficulty::scale(s02, 5).faults[0].intensity_permille > i1);
    let s01 = cat.get("S01_heartbeat_pause").unwrap();
    let pause = |lvl| difficulty::scale(s01, lvl).faults[0].length_ns;
    assert_eq!(
        pause(1),
        5_000_000_000,
        "level 1 is the scenario as written"
    );
    assert_eq!(pause(2), 6_000_000_000, "lengths stretch at every level");
    assert_eq!(pause(4), 10_000_000_000);
    assert_eq!(pause(7), 25_000_000_000);
    assert_eq!(difficulty::scale(s01, 7).window_ns, 150_000_000_000);
    // Repeats: level 3 pauses twice, the copy 10 s after the first ends.
    let l3 = difficulty::scale(s01, 3);
    assert_eq!(l3.faults.len(), 2);
    assert_eq!(
        l3.faults[1].start_ns,
        5_000_000_000 + 7_000_000_000 + 10_000_000_000
    );
    assert_eq!(l3.origin, vec![0, 0]);
    // Less time to recover, more load, at every level.
    let t = DifficultyTable::embedded();
    for w in t.levels.windows(2) {
        assert!(w[1].recovery_limit_permille < w[0].recovery_limit_permille);
        assert!(w[1].load_permille > w[0].load_permille || w[1].window_x1000 > w[0].window_x1000);
    }
    assert_eq!(difficulty::scale(s01, 10).recovery_limit_ns, 16_500_000_000);
    assert_eq!(t.levels.len(), 10);
}
