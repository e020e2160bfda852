//! Swarm runs (`chaosim swarm`) and shrinking (`chaosim shrink`): the fault
//! mix drawn from the seed finds failures of several kinds through the
//! mechanisms (fewer with every safeguard deployed), rows reproduce alone,
//! outputs do not depend on threads or shards, and a failing multi-fault
//! case shrinks to a smaller one that fails the same way and is written as
//! a scenario file that validates and reproduces.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use chaosim::Error;
use chaosim::engine::rng::fnv1a64;
use chaosim::model::stack::StackSpec;
use chaosim::safeguard::{Safeguard, SafeguardSet};
use chaosim::scenario::repro::{FileIds, HandleContext};
use chaosim::scenario::shrink::{
    STEPS_MAX_DEFAULT, default_start, fault_time_ns, run_alone, shrink, shrink_case,
};
use chaosim::scenario::spec::{parse_scenario, responders_of, scenario_ron};
use chaosim::scenario::{
    Catalogue, FailureKind, FailureSignature, FaultKind, Outcome, ScenarioSpec,
};
use chaosim::sweep::merge::merge;
use chaosim::sweep::runner::{Shard, SweepOptions};
use chaosim::sweep::swarm::{
    SwarmConfig, SwarmReport, config_short, draw, outcome_name, run_swarm, swarm_handle,
};

fn tmp(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("swarm")
        .join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

fn chaosim() -> Command {
    Command::cargo_bin("chaosim").unwrap()
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap()
}

const SCENARIOS: [&str; 3] = [
    "S02_acl_spam",
    "MF01_triple_threat",
    "FIT04_combined_load_spike",
];

fn stack_fp() -> u64 {
    fnv1a64(0x05, StackSpec::embedded_text().as_bytes())
}

fn swarm(
    seeds: u64,
    deployed: SafeguardSet,
    threads: usize,
    shard: Shard,
    out: &Path,
) -> SwarmReport {
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    let config = SwarmConfig {
        scenarios: SCENARIOS.iter().map(|s| s.to_string()).collect(),
        seeds,
        from: 0,
        difficulty: 1,
        deployed,
    };
    let opts = SweepOptions {
        threads,
        shard,
        out: out.to_path_buf(),
        force: false,
        progress: Default::default(),
    };
    run_swarm(
        &cat,
        &stack,
        stack_fp(),
        &FileIds::default(),
        &config,
        &opts,
        &mut |_, _| {},
    )
    .unwrap()
}

fn failures_by_kind(r: &SwarmReport) -> [u64; 7] {
    let mut k = [0u64; 7];
    for (_, a) in &r.cells {
        for (i, c) in a.counts.iter().enumerate() {
            k[i] += c;
        }
    }
    k
}

/// Re-run every failing row of a swarm directory alone (its digest must
/// match) and check that each safeguard it found missing or silent, and
/// each it expected, responds to a fault that was on in the row's draw.
/// Returns the rows with a missing or silent safeguard.
fn silent_safeguards_respond_to_faults_on(
    dir: &Path,
    stack: &StackSpec,
    deployed: SafeguardSet,
) -> u64 {
    let cat = Catalogue::embedded().unwrap();
    let mut r = csv::Reader::from_path(dir.join("swarm.csv")).unwrap();
    let mut rows = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        if &rec[3] == "1" {
            continue;
        }
        let seed: u64 = rec[0].parse().unwrap();
        let drawn = draw(cat.require(&rec[1]).unwrap(), seed);
        let on = responders_of(&drawn.faults);
        assert!(
            drawn.expected_safeguards.difference(on).is_empty(),
            "{} seed {seed}",
            &rec[1]
        );
        let o = run_alone(stack, &drawn, seed, 1, deployed, default_start()).unwrap();
        assert_eq!(o.digest.to_string(), &rec[7], "{} seed {seed}", &rec[1]);
        let silent = o.safeguards_missing;
        assert!(
            silent.difference(on).is_empty(),
            "{} seed {seed} ({}): {} silent without a fault it responds to",
            &rec[1],
            &rec[2],
            silent.difference(on).join(", ")
        );
        rows += u64::from(!silent.is_empty());
    }
    rows
}

#[test]
fn a_few_hundred_seeds_find_several_failure_kinds_and_fewer_with_every_safeguard() {
    let stack = StackSpec::embedded();
    let (dir_default, dir_all) = (tmp("kinds_default"), tmp("kinds_all"));
    let base = swarm(
        100,
        stack.default_safeguards(),
        2,
        Shard::WHOLE,
        &dir_default,
    );
    let all = swarm(100, SafeguardSet::all(), 2, Shard::WHOLE, &dir_all);
    let kb = failures_by_kind(&base);
    let ka = failures_by_kind(&all);
    let failed = |k: &[u64; 7]| k[1..].iter().sum::<u64>();
    let kinds = kb[1..].iter().filter(|&&c| c > 0).count();
    eprintln!(
        "default: {kb:?}, all: {ka:?} (passed, then {:?})",
        (1..7).map(outcome_name).collect::<Vec<_>>()
    );
    assert_eq!(kb.iter().sum::<u64>(), 300);
    assert_eq!(ka.iter().sum::<u64>(), 300);
    assert!(kinds >= 2, "only {kinds} failure kind(s): {kb:?}");
    assert!(
        failed(&ka) < failed(&kb),
        "all safeguards: {} failures, default: {}",
        failed(&ka),
        failed(&kb)
    );
    // With every safeguard deployed none can be missing; and since a drawn
    // configuration expects only the safeguards that respond to a fault
    // still on, none is silent for want of a trigger: every one of the 300
    // drawn configurations recovers (measured: default 14 passed, 60
    // recovery_exceeded, 164 not_recovered, 62 safeguard_missing).
    assert_eq!(ka[1 + FailureKind::SafeguardMissing.index()], 0);
    assert_eq!(ka[1 + FailureKind::SafeguardSilent.index()], 0);
    assert_eq!(failed(&ka), 0, "{ka:?}");
    assert!(kb[1 + FailureKind::SafeguardMissing.index()] > 0);
    // Row by row, on both stacks: every safeguard a failing row found
    // missing or silent responds to a fault that was on in its draw.
    let missing_rows =
        silent_safeguards_respond_to_faults_on(&dir_default, &stack, stack.default_safeguards());
    assert!(missing_rows > 0, "the check saw no missing safeguard");
    assert_eq!(
        silent_safeguards_respond_to_faults_on(&dir_all, &stack, SafeguardSet::all()),
        0
    );

    // The mechanism behind the difference, on S02's first failing seed: the
    // ACL-violation monitor is not in the default stack, so the flood is
    // not throttled and the steady state is not restored; deployed, it
    // fires and the same drawn flood is recovered from.
    let cat = Catalogue::embedded().unwrap();
    let s02 = cat.require("S02_acl_spam").unwrap();
    let line = base
        .summary()
        .into_iter()
        .find(|l| l.scenario == "S02_acl_spam" && l.outcome != 0)
        .expect("S02 fails on the default stack");
    let seed = line.first.1;
    let drawn = draw(s02, seed);
    assert!(drawn.faults.iter().all(|f| f.kind == FaultKind::AclFlood));
    let run = |d: SafeguardSet| run_alone(&stack, &drawn, seed, 1, d, default_start()).unwrap();
    let o = run(stack.default_safeguards());
    assert!(!o.passed);
    assert_eq!(
        o.digest, line.first.2,
        "the summary's first seed reproduces"
    );
    assert!(!o.safeguards_fired.contains(Safeguard::AclViolationMonitor));
    let o = run(SafeguardSet::all());
    assert!(
        o.safeguards_fired.contains(Safeguard::AclViolationMonitor),
        "{o:?}"
    );
    assert!(o.passed, "{o:?}");
}

#[test]
fn a_draw_that_switches_the_acl_flood_off_no_longer_expects_the_acl_monitor() {
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    let base = cat.require("MF01_triple_threat").unwrap();
    assert!(
        base.expected_safeguards
            .contains(Safeguard::AclViolationMonitor)
    );
    let (seed, drawn) = (0..100)
        .map(|seed| (seed, draw(base, seed)))
        .find(|(_, d)| d.faults.iter().all(|f| f.kind != FaultKind::AclFlood))
        .expect("a draw without the ACL flood");
    // The drawn scenario keeps the safeguards of the faults still on.
    assert!(
        !drawn
            .expected_safeguards
            .contains(Safeguard::AclViolationMonitor)
    );
    assert_eq!(
        drawn.expected_safeguards,
        base.expected_safeguards
            .intersection(responders_of(&drawn.faults))
    );
    assert!(!drawn.expected_safeguards.is_empty());
    let o = run_alone(
        &stack,
        &drawn,
        seed,
        1,
        SafeguardSet::all(),
        default_start(),
    )
    .unwrap();
    // Nothing flooded the bus: the deployed monitor had nothing to fire on.
    assert!(!o.safeguards_fired.contains(Safeguard::AclViolationMonitor));
    assert!(o.passed, "{} seed {seed}: {o:?}", config_short(&drawn));
    // Held to the declared list, the same run (same digest: expectations
    // do not enter the simulation) still passes: no fault of the run met
    // the monitor's condition, so it was not exercised (a verdict is a
    // measurement, not a membership test).
    let mut decreed = drawn.clone();
    decreed.expected_safeguards = base.expected_safeguards;
    let d = run_alone(
        &stack,
        &decreed,
        seed,
        1,
        SafeguardSet::all(),
        default_start(),
    )
    .unwrap();
    assert_eq!(d.digest, o.digest);
    assert!(d.passed, "{d:?}");
    assert!(
        d.safeguards_not_exercised
            .contains(Safeguard::AclViolationMonitor)
    );
    assert_eq!(d.safeguards_missing, SafeguardSet::EMPTY);
}

#[test]
fn swarm_bytes_do_not_depend_on_threads_or_on_shards_and_merge() {
    let d = StackSpec::embedded().default_safeguards();
    let one = tmp("t1");
    let three = tmp("t3");
    swarm(12, d, 1, Shard::WHOLE, &one);
    swarm(12, d, 3, Shard::WHOLE, &three);
    for f in ["swarm.csv", "summary.csv", "shard.ron"] {
        assert_eq!(read(&one, f), read(&three, f), "{f}");
    }
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| {
            let dir = tmp(&format!("shard{k}"));
            swarm(12, d, 2, Shard { index: k, count: 3 }, &dir);
            dir
        })
        .collect();
    let merged = tmp("merged");
    let report = merge(
        &[shards[2].clone(), shards[0].clone(), shards[1].clone()],
        &merged,
        false,
    )
    .unwrap();
    assert_eq!(report.experiments, 36);
    for f in ["swarm.csv", "summary.csv", "shard.ron"] {
        assert_eq!(read(&one, f), read(&merged, f), "{f}");
    }
    // A shard of another swarm (other safeguards) is refused.
    let foreign = tmp("foreign");
    swarm(
        12,
        SafeguardSet::all(),
        1,
        Shard { index: 2, count: 3 },
        &foreign,
    );
    let err = merge(
        &[shards[0].clone(), foreign, shards[2].clone()],
        &tmp("m2"),
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("foreign shard"), "{err}");
    // The rows are in (scenario, seed) order.
    let text = String::from_utf8(read(&one, "swarm.csv")).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 36);
    assert!(rows[0].starts_with("0,S02_acl_spam,"));
    assert!(rows[12].starts_with("0,MF01_triple_threat,"));
}

fn handles(dir: &Path) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_path(dir.join("swarm.csv")).unwrap();
    r.records()
        .map(|x| x.unwrap())
        .filter(|x| &x[3] == "0")
        .map(|x| (x[8].to_string(), x[7].to_string()))
        .collect()
}

#[test]
fn a_rows_handle_reproduces_its_digest_alone() {
    let out = tmp("cli");
    chaosim()
        .args(["swarm", "--ids", "MF01_triple_threat,JEP01_log_partition"])
        .args(["--seeds", "6", "--from", "100", "--threads", "2", "--quiet"])
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1); // rows fail: a failed verdict
    let hs = handles(&out);
    assert!(hs.len() >= 3, "{hs:?}");
    for (handle, digest) in hs.iter().step_by(hs.len() / 3) {
        let words: Vec<&str> = handle.split(' ').collect();
        assert_eq!(&words[..2], ["chaosim", "run"]);
        assert!(words.contains(&"--swarm"));
        let at = words.iter().position(|w| *w == "--expect-digest").unwrap();
        assert_eq!(words[at + 1], digest);
        // Run as printed: `chaosim run` checks the digest itself.
        let got = chaosim().args(&words[1..]).assert().success();
        let err = String::from_utf8_lossy(&got.get_output().stderr).to_string();
        assert!(
            err.contains(&format!("reproduced: digest {digest} matches the handle")),
            "{handle}: {err}"
        );
        let got = chaosim().args(&words[1..]).arg("--json").assert().success();
        let v: serde_json::Value = serde_json::from_slice(&got.get_output().stdout).unwrap();
        assert_eq!(v["digest"], digest.as_str(), "{handle}");
        assert_eq!(v["passed"], false);
        // The row's handle is the one `chaosim run` prints for its outcome.
        assert_eq!(v["repro"], handle.as_str());
    }
    // A wrong digest is a mismatch (exit 1).
    let (handle, digest) = &hs[0];
    let wrong = handle.replace(digest.as_str(), "0123456789abcdef");
    let words: Vec<&str> = wrong.split(' ').collect();
    chaosim().args(&words[1..]).assert().code(1);
    // Without --swarm the same seed runs the catalogue scenario as written.
    let (handle, digest) = &hs[0];
    let words: Vec<&str> = handle.split(' ').collect();
    let got = chaosim()
        .args(["run", words[2], "--seed", words[4], "--json"])
        .output()
        .unwrap();
    assert!(
        matches!(got.status.code(), Some(0 | 1)),
        "a pass or a failed verdict: {got:?}"
    );
    let v: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_ne!(v["digest"], digest.as_str());
}

/// The first seed from 0 whose drawn MF01 has at least two faults and is
/// not restored in time (a failure of the dynamics, not of a missing
/// safeguard).
fn multi_fault_failure(stack: &StackSpec, base: &ScenarioSpec) -> (u64, ScenarioSpec, Outcome) {
    (0..100)
        .map(|seed| (seed, draw(base, seed)))
        .filter(|(_, d)| d.faults.len() >= 2)
        .map(|(seed, d)| {
            let o = run_alone(
                stack,
                &d,
                seed,
                1,
                stack.default_safeguards(),
                default_start(),
            )
            .unwrap();
            (seed, d, o)
        })
        .find(|(_, _, o)| {
            matches!(
                o.failure_kind(),
                Some(FailureKind::NotRecovered | FailureKind::RecoveryExceeded)
            )
        })
        .expect("a failing multi-fault case")
}

#[test]
fn shrinking_a_failing_multi_fault_case_keeps_its_failure_kind_and_the_ron_reproduces() {
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    let base = cat.require("MF01_triple_threat").unwrap();
    let (seed, drawn, o) = multi_fault_failure(&stack, base);
    let kind = o.signature().unwrap();
    let case = shrink_case(
        &stack,
        &drawn,
        seed,
        1,
        stack.default_safeguards(),
        default_start(),
        STEPS_MAX_DEFAULT,
        Some(o.digest),
    )
    .unwrap();
    eprintln!(
        "seed {seed}: {} -> {} ({} steps)",
        config_short(&case.original),
        config_short(&case.shrunk),
        case.steps
    );
    assert_eq!(case.kind, kind);
    assert_eq!(case.original_outcome.digest, o.digest);
    assert_eq!(case.shrunk_outcome.signature(), Some(kind));
    assert!(case.steps <= STEPS_MAX_DEFAULT && case.steps > 0);
    let before = (drawn.faults.len(), fault_time_ns(&drawn));
    let after = (case.shrunk.faults.len(), fault_time_ns(&case.shrunk));
    assert!(
        after.0 <= before.0 && after.1 <= before.1,
        "{before:?} -> {after:?}"
    );
    assert!(after != before, "nothing shrank: {before:?}");
    assert_eq!(case.shrunk.id, format!("MF01_triple_threat_shrunk_s{seed}"));
    // Faults dropped take their responders out of the expected list, and
    // the written file carries the reduced list.
    let kept = drawn
        .expected_safeguards
        .intersection(responders_of(&case.shrunk.faults));
    assert_eq!(case.shrunk.expected_safeguards, kept);
    let parsed_expected = parse_scenario(&case.ron, Path::new("s.ron"))
        .unwrap()
        .expected_safeguards;
    assert_eq!(parsed_expected, kept);
    assert!(
        !drawn.expected_safeguards.difference(kept).is_empty(),
        "this case drops faults whose responders were expected"
    );
    for sg in drawn.expected_safeguards.difference(kept).iter() {
        assert!(!case.ron.contains(sg.name()), "{sg} in\n{}", case.ron);
    }

    // The text validates, and run as a catalogue scenario (as `chaosim run
    // NEW --scenarios DIR` runs it) it reproduces the shrunk run.
    let parsed = parse_scenario(&case.ron, Path::new("shrunk.ron")).unwrap();
    assert_eq!(parsed.faults, case.shrunk.faults);
    let again = run_alone(
        &stack,
        &parsed,
        seed,
        1,
        stack.default_safeguards(),
        default_start(),
    )
    .unwrap();
    assert_eq!(again.digest, case.shrunk_outcome.digest);
    assert_eq!(again.signature(), Some(kind));

    // The same case through the CLI, in its three spellings, gives the
    // same file; `chaosim validate` accepts it and `chaosim run` reproduces.
    let dir = tmp("shrink_cli");
    let a = dir.join("a").join("case.ron");
    chaosim()
        .args([
            "shrink",
            "MF01_triple_threat",
            "--seed",
            &seed.to_string(),
            "--swarm",
        ])
        .arg("--out")
        .arg(&a)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&a).unwrap(), case.ron);
    let ctx = HandleContext::default();
    let handle = swarm_handle("MF01_triple_threat", seed, 1, ctx.baseline, &ctx, o.digest);
    let b = dir.join("b.ron");
    chaosim()
        .args(["shrink", "--out"])
        .arg(&b)
        .arg("--")
        .args(handle.split(' '))
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&b).unwrap(), case.ron);
    let sw = dir.join("swarm");
    chaosim()
        .args(["swarm", "--ids", "MF01_triple_threat", "--quiet"])
        .args([
            "--seeds",
            "1",
            "--from",
            &seed.to_string(),
            "--threads",
            "1",
        ])
        .arg("--out")
        .arg(&sw)
        .assert()
        .code(1); // rows fail: a failed verdict
    let c = dir.join("c.ron");
    chaosim()
        .args(["shrink", "--from"])
        .arg(&sw)
        .args(["--seed", &seed.to_string(), "--out"])
        .arg(&c)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&c).unwrap(), case.ron);
    chaosim()
        .arg("validate")
        .arg(dir.join("a"))
        .assert()
        .success();
    let got = chaosim()
        .args([
            "run",
            &case.shrunk.id,
            "--seed",
            &seed.to_string(),
            "--json",
            "--scenarios",
        ])
        .arg(dir.join("a"))
        .assert()
        .code(1); // the shrunk case still fails
    let v: serde_json::Value = serde_json::from_slice(&got.get_output().stdout).unwrap();
    assert_eq!(v["digest"], case.shrunk_outcome.digest.to_string());
    assert_eq!(v["passed"], false);

    // A handle whose digest does not match is refused (exit 1), nothing written.
    let wrong = handle.replace(&o.digest.to_string(), "0123456789abcdef");
    let d = dir.join("d.ron");
    chaosim()
        .args(["shrink", "--out"])
        .arg(&d)
        .arg("--")
        .args(wrong.split(' '))
        .assert()
        .code(1);
    assert!(!d.exists());
    // An existing file is not overwritten without --force.
    chaosim()
        .args([
            "shrink",
            "MF01_triple_threat",
            "--seed",
            &seed.to_string(),
            "--swarm",
        ])
        .arg("--out")
        .arg(&a)
        .assert()
        .code(2);
}

#[test]
fn the_shrinker_drops_irrelevant_faults_and_shortens_to_the_threshold() {
    // A scripted evaluator: the case fails (not recovered) iff a CPU spike
    // of at least 5 s and intensity >= 0.3 is present, whatever else is.
    let cat = Catalogue::embedded().unwrap();
    let mut spec = cat.require("MF01_triple_threat").unwrap().clone();
    for f in &mut spec.faults {
        f.length_ns = 40_000_000_000;
        f.intensity_permille = 900;
        f.start_ns = 1_000_000_000;
    }
    let outcome = |fails: bool| {
        let mut o = run_alone(
            &StackSpec::embedded(),
            &spec,
            1,
            1,
            SafeguardSet::EMPTY,
            default_start(),
        )
        .unwrap();
        o.passed = !fails;
        o.failure_kinds = if fails {
            vec![FailureKind::NotRecovered]
        } else {
            Vec::new()
        };
        o
    };
    let template_fail = outcome(true);
    let template_pass = outcome(false);
    let mut calls = 0;
    let mut eval = |s: &ScenarioSpec| -> chaosim::Result<Outcome> {
        calls += 1;
        let fails = s.faults.iter().any(|f| {
            f.kind == FaultKind::CpuSpike
                && f.length_ns >= 5_000_000_000
                && f.intensity_permille >= 300
        });
        Ok(if fails {
            template_fail.clone()
        } else {
            template_pass.clone()
        })
    };
    let r = shrink(
        spec.clone(),
        template_fail.clone(),
        FailureSignature {
            kind: FailureKind::NotRecovered,
            safeguard: None,
        },
        500,
        &mut eval,
    )
    .unwrap();
    assert_eq!(r.spec.faults.len(), 1);
    let f = &r.spec.faults[0];
    assert_eq!(f.kind, FaultKind::CpuSpike);
    assert!(
        (5_000_000_000..5_400_000_000).contains(&f.length_ns),
        "{f:?}"
    );
    assert!((300..330).contains(&f.intensity_permille), "{f:?}");
    assert_eq!(f.length_ns % 100_000_000, 0);
    // Moved as late as the window allows.
    assert_eq!(
        f.start_ns + f.length_ns,
        spec.duration_ns / 100_000_000 * 100_000_000
    );
    assert!(!r.budget_exhausted);
    // Deterministic, and bounded by the budget.
    let mut eval2 = |s: &ScenarioSpec| eval(s);
    let again = shrink(
        spec.clone(),
        template_fail.clone(),
        FailureSignature {
            kind: FailureKind::NotRecovered,
            safeguard: None,
        },
        500,
        &mut eval2,
    )
    .unwrap();
    assert_eq!(again.spec, r.spec);
    let mut eval3 = |s: &ScenarioSpec| eval(s);
    let short = shrink(
        spec,
        template_fail.clone(),
        FailureSignature {
            kind: FailureKind::NotRecovered,
            safeguard: None,
        },
        7,
        &mut eval3,
    )
    .unwrap();
    assert_eq!(short.steps, 7);
    assert!(short.budget_exhausted);
}

const SWARM_RON: &str = r#"(
    id: "X_swarm",
    family: Jepsen,
    layer: 3,
    severity: 3,
    duration_s: 60,
    recovery_limit_s: 60,
    faults: [
        (kind: Partition, target: Partition(Bisect), start_s: 10, length_s: 20, intensity: 1.0),
        (kind: ClockSkew, target: Nodes(One), start_s: 5, length_s: 10, intensity: 0.5),
    ],
    swarm: (
        on: (1, 1),
        intensity_pct: (100, 100),
        start_pct: (100, 100),
        length_pct: (100, 100),
        partition_shapes: [Bridge],
        clock_faults: [ClockStrobe],
    ),
)"#;

#[test]
fn the_swarm_section_sets_the_ranges_and_is_validated_with_located_errors() {
    let spec = parse_scenario(SWARM_RON, Path::new("x.ron")).unwrap();
    for seed in 0..20 {
        let d = draw(&spec, seed);
        assert_eq!(d.faults.len(), 2);
        assert_eq!(
            config_short(&d),
            "partition(bridge)@10s/20s;strobe:0.5@5s/10s"
        );
    }
    let bad = |from: &str, to: &str| {
        let text = SWARM_RON.replace(from, to);
        assert_ne!(text, SWARM_RON);
        parse_scenario(&text, Path::new("x.ron")).unwrap_err()
    };
    let field = |e: Error| match e {
        Error::Invalid { field, .. } => field,
        other => panic!("not an Invalid error: {other}"),
    };
    assert_eq!(field(bad("on: (1, 1)", "on: (5, 4)")), "swarm.on");
    assert_eq!(field(bad("on: (1, 1)", "on: (0, 0)")), "swarm.on");
    assert_eq!(
        field(bad(
            "intensity_pct: (100, 100)",
            "intensity_pct: (200, 100)"
        )),
        "swarm.intensity_pct"
    );
    assert_eq!(
        field(bad("length_pct: (100, 100)", "length_pct: (100, 5000)")),
        "swarm.length_pct"
    );
    assert_eq!(
        field(bad("[ClockStrobe]", "[ClockStrobe, KillKernel]")),
        "swarm.clock_faults[1]"
    );
    assert_eq!(field(bad("[Bridge]", "[]")), "swarm.partition_shapes");
    match bad("on: (1, 1),", "on: (1, 1), colour: 3,") {
        Error::Syntax { line, .. } => assert_eq!(line, 13),
        other => panic!("{other}"),
    }
    // The default ranges: every catalogue scenario can be swarmed.
    let cat = Catalogue::embedded().unwrap();
    assert!(
        cat.scenarios()
            .iter()
            .all(|s| s.swarm == Default::default())
    );
}

#[test]
fn bad_swarm_and_shrink_input_is_exit_2_and_writes_nothing() {
    let out = tmp("bad");
    for args in [
        vec!["swarm", "--ids", "NOPE", "--seeds", "3"],
        vec!["swarm", "--ids", "S02_acl_spam,S02_acl_spam"],
        vec!["swarm", "--ids", "S02_acl_spam", "--seeds", "0"],
        vec!["swarm", "--ids", "S02_acl_spam", "--difficulty", "11"],
        vec!["swarm", "--ids", "S02_acl_spam", "--safeguards=+nope"],
        vec![
            "swarm",
            "--ids",
            "S02_acl_spam",
            "--from",
            "18446744073709551615",
            "--seeds",
            "2",
        ],
    ] {
        chaosim()
            .args(&args)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2);
        assert!(!out.exists(), "{args:?}");
    }
    let file = out.join("x.ron");
    for args in [
        vec!["shrink", "S02_acl_spam"],
        vec!["shrink", "--seed", "1"],
        vec![
            "shrink",
            "--",
            "chaosim",
            "run",
            "S02_acl_spam",
            "--seed",
            "1",
            "--json",
        ],
        vec![
            "shrink",
            "S02_acl_spam",
            "--seed",
            "1",
            "--files",
            "scenarios=0123456789ab",
        ],
        vec![
            "shrink",
            "--",
            "chaosim",
            "run",
            "S02_acl_spam",
            "--seed",
            "1",
            "--scenarios-fp",
            "0123456789abcdef",
        ],
    ] {
        chaosim()
            .args(&args)
            .arg("--out")
            .arg(&file)
            .assert()
            .code(2);
        assert!(!file.exists(), "{args:?}");
    }
}

#[test]
fn every_drawn_configuration_writes_as_ron_that_reads_back_the_same() {
    let cat = Catalogue::embedded().unwrap();
    for base in cat.scenarios() {
        for seed in 0..5 {
            let d = draw(base, seed);
            let text = scenario_ron(&d.to_file()).unwrap();
            let back = parse_scenario(&text, Path::new("d.ron")).unwrap();
            assert_eq!(back.faults, d.faults, "{}", base.id);
            assert_eq!(back.steady_state, d.steady_state, "{}", base.id);
            assert_eq!(back.duration_ns, d.duration_ns);
            assert_eq!(back.recovery_limit_ns, d.recovery_limit_ns);
            assert_eq!(back.expected_safeguards, d.expected_safeguards);
            assert_eq!(
                (back.family, back.layer, back.severity),
                (d.family, d.layer, d.severity)
            );
        }
    }
}

#[test]
fn a_swarm_over_user_files_records_their_fingerprint_and_shrink_checks_it() {
    let dir = tmp("userdir");
    let scen = dir.join("scenarios");
    std::fs::create_dir_all(&scen).unwrap();
    let text = chaosim::scenario::catalogue::EMBEDDED
        .iter()
        .find(|(n, _)| *n == "MF01_triple_threat.ron")
        .unwrap()
        .1
        .trim_end()
        .trim_end_matches(')')
        .to_string()
        + "    swarm: (on: (1, 2), length_pct: (100, 300)),\n)\n";
    std::fs::write(scen.join("MF01_triple_threat.ron"), text).unwrap();
    let out = dir.join("out");
    chaosim()
        .args([
            "swarm",
            "--ids",
            "MF01_triple_threat",
            "--seeds",
            "8",
            "--quiet",
        ])
        .arg("--scenarios")
        .arg(&scen)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1); // rows fail: a failed verdict
    let hs = handles(&out);
    assert!(!hs.is_empty());
    // The handle names the folder with the flag `chaosim run` takes, and
    // its fingerprint as `chaosim run`/`year` compute it.
    let loaded_ids = chaosim::scenario::repro::file_ids(
        &StackSpec::embedded(),
        &Catalogue::load_dir(&scen).unwrap(),
        None,
        Some(&scen),
        None,
    )
    .unwrap();
    let want = format!(
        " --scenarios {} --files {} ",
        scen.display(),
        loaded_ids.spec()
    );
    assert!(loaded_ids.spec().starts_with("scenarios="));
    assert!(hs.iter().all(|(h, _)| h.contains(&want)), "{want} {hs:?}");
    assert!(hs.iter().all(|(h, _)| !h.contains("stack=")), "{hs:?}");
    let words: Vec<String> = hs[0].0.split(' ').map(String::from).collect();
    let seed = words[4].clone();
    // Run as printed, it reproduces the row's digest.
    let got = chaosim().args(&words[1..]).arg("--json").assert().success();
    let v: serde_json::Value = serde_json::from_slice(&got.get_output().stdout).unwrap();
    assert_eq!(v["digest"], hs[0].1.as_str());
    // Without the files the handle was recorded with: refused.
    let refused = chaosim()
        .args(["shrink", "--from"])
        .arg(&out)
        .args(["--seed", &seed, "--out"])
        .arg(dir.join("x.ron"))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(
        err.contains("the scenarios folder differs from the one the handle was recorded with"),
        "{err}"
    );
    assert!(!dir.join("x.ron").exists());
    // With them: shrunk, and the same through the handle as printed (it
    // names the folder itself).
    let a = dir.join("a.ron");
    chaosim()
        .args(["shrink", "--from"])
        .arg(&out)
        .args(["--seed", &seed, "--scenarios"])
        .arg(&scen)
        .arg("--out")
        .arg(&a)
        .assert()
        .success();
    let b = dir.join("b.ron");
    chaosim()
        .args(["shrink", "--out"])
        .arg(&b)
        .arg("--")
        .args(&words)
        .assert()
        .success();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn a_swarm_over_a_user_stack_prints_handles_that_reproduce_with_it() {
    let dir = tmp("userstack");
    std::fs::create_dir_all(&dir).unwrap();
    let stack = dir.join("stack.ron");
    std::fs::write(&stack, "(cluster: (nodes: 7))").unwrap();
    let out = dir.join("out");
    chaosim()
        .args([
            "swarm",
            "--ids",
            "MF01_triple_threat,JEP01_log_partition",
            "--seeds",
            "6",
            "--quiet",
        ])
        .arg("--stack")
        .arg(&stack)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1); // rows fail: a failed verdict
    let hs = handles(&out);
    assert!(!hs.is_empty());
    for (h, _) in &hs {
        assert!(
            h.contains(&format!(" --stack {} --files stack=", stack.display())),
            "{h}"
        );
    }
    let (handle, digest) = &hs[0];
    let words: Vec<&str> = handle.split(' ').collect();
    let got = chaosim().args(&words[1..]).assert().success();
    let err = String::from_utf8_lossy(&got.get_output().stderr).to_string();
    assert!(
        err.contains(&format!("reproduced: digest {digest} matches the handle")),
        "{err}"
    );
    // The same handle with the built-in stack says the files differ (exit 2).
    let at = words.iter().position(|w| *w == "--stack").unwrap();
    let mut other: Vec<&str> = words[1..at].to_vec();
    other.extend(&words[at + 2..]);
    let refused = chaosim().args(&other).assert().code(2);
    let err = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(err.contains("the stack file differs"), "{err}");
    // And so does shrink, writing nothing.
    let x = dir.join("x.ron");
    chaosim()
        .args(["shrink", "--out"])
        .arg(&x)
        .arg("--")
        .args(&other)
        .assert()
        .code(2);
    assert!(!x.exists());
}
