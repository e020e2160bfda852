//! Nothing of the default stack is inert: every default safeguard fires and
//! every Layer-2 watchdog alert is raised in some catalogue scenario at some
//! level; the control-plane dump and telemetry stream a row per kernel.

use std::collections::BTreeMap;

use assert_cmd::Command;
use chaosim::model::stack::StackSpec;
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::Catalogue;
use chaosim::scenario::shrink::{default_start, run_alone};

#[test]
fn every_default_safeguard_and_alert_acts_somewhere_in_the_catalogue() {
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    let default = stack.default_safeguards();
    let mut fired = SafeguardSet::EMPTY;
    let mut alerts: BTreeMap<&str, u32> = BTreeMap::new();
    for spec in cat.scenarios() {
        for level in [1, 5, 10] {
            let o = run_alone(&stack, spec, 42, level, default, default_start()).unwrap();
            fired = fired.union(o.safeguards_fired);
            let a = o.alerts;
            for (k, v) in [
                ("queue_critical", a.queue_critical),
                ("workers_zero", a.workers_zero),
                ("subscriptions_low", a.subscriptions_low),
                ("dispatch_low", a.dispatch_low),
                ("readiness_failed", a.readiness_failed),
            ] {
                *alerts.entry(k).or_default() += v;
            }
        }
    }
    let never = default.difference(fired);
    assert!(
        never.is_empty(),
        "default safeguards that never fire: {}",
        never.join(", ")
    );
    let silent: Vec<_> = alerts
        .iter()
        .filter(|(_, v)| **v == 0)
        .map(|(k, _)| *k)
        .collect();
    assert!(silent.is_empty(), "alerts never raised: {silent:?}");
}

#[test]
fn run_dump_streams_a_row_per_kernel_every_5s_and_the_layer2_telemetry() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("inert-dump");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dump = dir.join("dump.csv");
    let out = Command::cargo_bin("chaosim")
        .unwrap()
        .args(["run", "L2_worker_dropout_chaos", "--dump"])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&dump).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("t_s,kernel,state,restarts,heartbeat_age_ms")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let kernels = StackSpec::embedded().layer1.kernels.len();
    assert_eq!(rows.len() % kernels, 0);
    // The first dump is 5 s after boot: 5 s before the scenario clock's zero.
    assert_eq!(rows[0][0], "-5.000");
    let first: Vec<&str> = rows[..kernels].iter().map(|r| r[1]).collect();
    let names: Vec<String> = StackSpec::embedded()
        .layer1
        .kernels
        .iter()
        .map(|k| k.name.clone())
        .collect();
    assert_eq!(first, names.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(rows.iter().all(|r| r.len() == 13));
    let tele = std::fs::read_to_string(dir.join("dump.layer2.csv")).unwrap();
    let tl: Vec<&str> = tele.lines().collect();
    assert!(tl[0].starts_with("t_s,queue_depth,workers_alive"));
    assert!(tl.len() > 2, "{tele}");
}
