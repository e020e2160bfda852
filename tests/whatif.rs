//! `chaosim whatif`: candidates paired against the baseline on the same
//! seeds, with the evidence and handles of both sides.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn chaosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chaosim"))
        .args(args)
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = chaosim(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `chaosim merge SHARDS --out ROOT/merged` succeeds and gives each of
/// `files` byte for byte as the whole run wrote it in `ROOT/whole`.
fn merge_equals_whole(shards: &[&String], root: &std::path::Path, files: &[&str]) {
    let merged = root.join("merged");
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(|s| s.as_str()));
    args.extend(["--out", merged.to_str().unwrap()]);
    let out = chaosim(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in files {
        let a = std::fs::read(root.join("whole").join(f)).unwrap();
        let b = std::fs::read(merged.join(f)).unwrap();
        assert!(a == b, "{f} differs between the whole run and the merge");
    }
}

fn candidate<'v>(r: &'v Value, label: &str) -> &'v Value {
    r["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["candidate"] == label)
        .unwrap()
}

#[test]
fn the_acl_monitor_prevents_every_s02_failure_with_evidence_on_both_sides() {
    let r = json(&[
        "whatif",
        "--candidates",
        "+acl_violation_monitor",
        "--ids",
        "S02_acl_spam",
        "--seeds",
        "0:3",
        "--json",
    ]);
    let c = candidate(&r, "+acl_violation_monitor");
    assert_eq!(c["pairs"], 4);
    assert_eq!(c["baseline_passed"], 0);
    assert_eq!(c["prevented"], 4);
    assert_eq!(c["introduced"], 0);
    assert_eq!(c["pass_rate_change"], 1.0);
    // Exact McNemar: 4 of 4 discordant pairs one way, 2 * 0.5^4.
    assert!((c["mcnemar_p"].as_f64().unwrap() - 0.125).abs() < 1e-12);
    let change = &c["changed"][0];
    assert_eq!(change["id"], "S02_acl_spam");
    let ex = &change["prevented_example"];
    assert_eq!(ex["seed"], 0);
    let needed = ex["baseline"]["evidence"][0].as_str().unwrap();
    assert!(
        needed.starts_with("acl_violation_monitor needed at"),
        "{needed}"
    );
    let fired = ex["candidate"]["evidence"][0].as_str().unwrap();
    assert!(
        fired.starts_with("acl_violation_monitor fired at"),
        "{fired}"
    );
    // Both handles reproduce their side's run.
    for side in ["baseline", "candidate"] {
        let handle = ex[side]["repro"].as_str().unwrap();
        let words: Vec<&str> = handle.split_whitespace().skip(1).collect();
        let out = chaosim(&words);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("matches the handle"),
            "{side}: {handle}: {err}"
        );
    }
}

#[test]
fn a_change_that_does_not_act_leaves_every_pair_identical() {
    // The ACL monitor never acts in a heartbeat pause: with common random
    // numbers the two runs of every pair are the same run.
    let r = json(&[
        "whatif",
        "--candidates",
        "+acl_violation_monitor",
        "--ids",
        "S01_heartbeat_pause,DIRT01_critical_kernel_kill",
        "--seeds",
        "0:5",
        "--json",
    ]);
    let c = candidate(&r, "+acl_violation_monitor");
    assert_eq!(
        (c["prevented"].as_u64(), c["introduced"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(c["mcnemar_p"], 1.0);
    assert!(c["changed"].as_array().unwrap().is_empty());
    assert_eq!(c["recovered_pairs"], 12);
    for q in ["recovery_saved_p50_s", "recovery_saved_p90_s"] {
        assert_eq!(c[q]["value"], 0.0, "{q}");
    }
}

#[test]
fn a_stack_file_candidate_is_paired_too() {
    // The same stack with a slower restart of S01's kernel: every S01 run
    // recovers later, by about the boot time added (900 ms against 200 ms).
    let dir = std::env::temp_dir().join(format!("chaosim-whatif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stack = String::from_utf8(chaosim(&["stack"]).stdout).unwrap();
    let slow = stack.replacen("boot_ns: 200_000_000", "boot_ns: 900_000_000", 1);
    assert_ne!(slow, stack);
    let path: PathBuf = dir.join("slow.ron");
    std::fs::write(&path, slow).unwrap();
    let label = format!("stack={}", path.display());
    let r = json(&[
        "whatif",
        "--candidate",
        &label,
        "--ids",
        "S01_heartbeat_pause",
        "--seeds",
        "0:4",
        "--json",
    ]);
    let c = candidate(&r, &label);
    assert_eq!(c["recovered_pairs"], 5);
    let p50 = c["recovery_saved_p50_s"]["value"].as_f64().unwrap();
    assert!((-1.0..=-0.4).contains(&p50), "saved p50 {p50} s");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_report_does_not_depend_on_the_thread_count() {
    let args = |t: &'static str| {
        vec![
            "whatif",
            "--candidates",
            "+resource_pressure_monitor,-circuit_breaker",
            "--ids",
            "S03_cpu_spike,FIT03_dependency_chaos",
            "--seeds",
            "3:6",
            "--threads",
            t,
            "--json",
        ]
    };
    let one = chaosim(&args("1"));
    let three = chaosim(&args("3"));
    assert!(one.status.success());
    assert_eq!(one.stdout, three.stdout);
    // Ranked by net failures prevented.
    let r: Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(
        r["candidates"][0]["candidate"],
        "+resource_pressure_monitor"
    );
    assert_eq!(r["candidates"][0]["rank"], 1);
}

#[test]
fn bad_candidates_and_seeds_are_exit_2_naming_the_flag() {
    for (args, needle) in [
        (
            vec!["whatif", "--candidates", "acl_violation_monitor"],
            "--candidates",
        ),
        (
            vec!["whatif", "--candidates", "+no_such_safeguard"],
            "no_such_safeguard",
        ),
        (
            vec!["whatif", "--candidates", "+heartbeat_watchdog"],
            "changes nothing",
        ),
        (vec!["whatif"], "at least one candidate"),
        (
            vec!["whatif", "--candidates", "+rate_limiter", "--seeds", "6:5"],
            "--seeds",
        ),
        (
            vec!["whatif", "--candidates", "+rate_limiter", "--ids", "NOPE"],
            "NOPE",
        ),
        (
            vec!["whatif", "--candidate", "stack=/nonexistent/stack.ron"],
            "/nonexistent/stack.ron",
        ),
        // The same change twice (here spelt two ways).
        (
            vec![
                "whatif",
                "--candidates",
                "+rate_limiter",
                "--candidate",
                "+rate_limiter",
            ],
            "give each change once",
        ),
        // A programme file without --days (also beside --ids, where clap
        // does not enforce the requirement).
        (
            vec![
                "whatif",
                "--candidates",
                "+rate_limiter",
                "--ids",
                "S02_acl_spam",
                "--programme",
                "/nonexistent/p.ron",
            ],
            "--programme",
        ),
    ] {
        let out = chaosim(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn out_writes_the_files_and_a_ranked_report_and_refuses_to_overwrite_without_force() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("whatif-out");
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let args = [
        "whatif",
        "--candidates",
        "+quorum_ack,+acl_violation_monitor",
        "--ids",
        "S02_acl_spam",
        "--seeds",
        "0:3",
        "--threads",
        "1",
        "--out",
        d,
    ];
    let out = chaosim(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("report: "), "{text}");
    let cands = std::fs::read_to_string(dir.join("candidates.csv")).unwrap();
    let rows: Vec<&str> = cands.lines().collect();
    assert!(rows[0].starts_with("rank,candidate,pairs,baseline_passed,candidate_passed,prevented,introduced,pass_rate_change,ci_low,ci_high,"));
    // Ranked: the monitor first (4 prevented), quorum_ack second (none).
    assert!(
        rows[1].starts_with("1,+acl_violation_monitor,4,0,4,4,0,1.000000,"),
        "{cands}"
    );
    assert!(
        rows[2].starts_with("2,+quorum_ack,4,0,0,0,0,0.000000,"),
        "{cands}"
    );
    let changes = std::fs::read_to_string(dir.join("scenarios.csv")).unwrap();
    assert_eq!(
        changes.lines().count(),
        2,
        "one change, one example: {changes}"
    );
    assert!(changes.contains("+acl_violation_monitor,S02_acl_spam,4,0,prevented,0,"));
    // The JSON file is the --json object: candidate, ci_low, ci_high.
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("whatif.json")).unwrap()).unwrap();
    let c = candidate(&v, "+quorum_ack");
    assert_eq!(
        (c["prevented"].as_u64(), c["introduced"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(c["ci_low"].as_f64().unwrap() <= 0.0 && c["ci_high"].as_f64().unwrap() >= 0.0);
    // The report tells the folder apart and states the evidence.
    let idx = chaosim::report::render_any(&dir, Some(&dir.join("again"))).unwrap();
    assert_eq!(idx.kind, chaosim::report::ReportKind::Whatif);
    let html = std::fs::read_to_string(dir.join("report/index.html")).unwrap();
    assert!(
        html.contains("acl_violation_monitor needed at"),
        "evidence on the page"
    );
    assert!(
        html.contains("--safeguards=+acl_violation_monitor"),
        "candidate handle"
    );
    let svg = std::fs::read_to_string(dir.join("report/ranking.svg")).unwrap();
    assert!(svg.contains("Change in pass rate per candidate"));
    // Again without --force: refused before the run, nothing changed.
    let before = std::fs::read(dir.join("candidates.csv")).unwrap();
    let again = chaosim(&args);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    // With --force and 2 threads: the same bytes.
    let forced = chaosim(
        &[&args[..], &["--force"]]
            .concat()
            .iter()
            .map(|a| if *a == "1" { "2" } else { a })
            .collect::<Vec<_>>(),
    );
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_eq!(std::fs::read(dir.join("candidates.csv")).unwrap(), before);
}

#[test]
fn the_paired_interval_is_narrower_than_two_independent_samples_of_the_same_size() {
    // MF03 at level 5 depends on the seed; +rate_limiter prevents some
    // failures. Paired: baseline and candidate on seeds 0..19.
    let paired = json(&[
        "whatif",
        "--candidates",
        "+rate_limiter",
        "--ids",
        "MF03_partition_under_load",
        "--seeds",
        "0:19",
        "--difficulty",
        "5",
        "--json",
    ]);
    let c = candidate(&paired, "+rate_limiter");
    let paired_width = c["ci_high"].as_f64().unwrap() - c["ci_low"].as_f64().unwrap();
    assert!(c["prevented"].as_u64().unwrap() > 0, "{c}");
    // Independent: the baseline on seeds 0..19, the candidate on 20..39
    // (its pass count is the baseline count of a what-if deployed with it),
    // compared with Newcombe's hybrid score interval for a difference of
    // two proportions (from the two Wilson intervals).
    let n = 20;
    let k_base = paired["baseline_passed"].as_u64().unwrap();
    let other = json(&[
        "whatif",
        "--safeguards=+rate_limiter",
        "--candidates",
        "+quorum_ack",
        "--ids",
        "MF03_partition_under_load",
        "--seeds",
        "20:39",
        "--difficulty",
        "5",
        "--json",
    ]);
    let k_cand = other["baseline_passed"].as_u64().unwrap();
    let w = |k| chaosim::record::stats::wilson_interval(k, n, 0.95);
    let (p1, p2) = (k_base as f64 / n as f64, k_cand as f64 / n as f64);
    let (w1, w2) = (w(k_base), w(k_cand));
    let low = (p2 - p1) - ((p2 - w2.low).powi(2) + (w1.high - p1).powi(2)).sqrt();
    let high = (p2 - p1) + ((w2.high - p2).powi(2) + (p1 - w1.low).powi(2)).sqrt();
    let independent_width = high - low;
    assert!(
        paired_width < 0.8 * independent_width,
        "paired {paired_width:.3} vs independent {independent_width:.3}"
    );
}

#[test]
fn shards_merged_give_the_bytes_of_the_whole_run_whatever_the_threads() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("whatif-shards");
    let _ = std::fs::remove_dir_all(&root);
    let dir = |name: &str| root.join(name).to_str().unwrap().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "whatif",
            "--candidates",
            "+acl_violation_monitor,+quorum_ack",
            "--ids",
            "S02_acl_spam,S03_cpu_spike",
            "--seeds",
            "0:4",
            "--no-report",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let out = chaosim(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let whole = dir("whole");
    run(&["--threads", "1", "--out", &whole]);
    let shards: Vec<String> = (1..=3).map(|k| dir(&format!("s{k}"))).collect();
    for (k, s) in shards.iter().enumerate() {
        let spec = format!("{}/3", k + 1);
        let threads = if k == 1 { "1" } else { "2" };
        run(&["--shard", &spec, "--threads", threads, "--out", s]);
    }
    // Any order of the shard folders.
    merge_equals_whole(
        &[&shards[2], &shards[0], &shards[1]],
        &root,
        &[
            "pairs.csv",
            "candidates.csv",
            "scenarios.csv",
            "whatif.json",
            "shard.ron",
        ],
    );
    // Every run of every pair is a row: 2 scenarios x 5 seeds x 3 sides.
    let pairs = std::fs::read_to_string(root.join("whole/pairs.csv")).unwrap();
    assert_eq!(pairs.lines().count(), 1 + 2 * 5 * 3);
    assert!(pairs.starts_with("scenario,seed,side,passed,failure_kind,recovery_s,events,digest\n"));
    // A shard without --out has nowhere to put its pairs.
    let out = chaosim(&[
        "whatif",
        "--candidates",
        "+quorum_ack",
        "--ids",
        "S02_acl_spam",
        "--shard",
        "1/2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --out"));
    // A what-if shard does not merge with a shard of another kind.
    let swarm = dir("swarm");
    let out = chaosim(&[
        "swarm",
        "--ids",
        "S02_acl_spam",
        "--seeds",
        "2",
        "--quiet",
        "--no-report",
        "--out",
        &swarm,
    ]);
    // Exit 1: the swarm found failures (S02 fails on the default stack).
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = chaosim(&["merge", &shards[0], &swarm, "--out", &dir("mixed")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("foreign shard"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!root.join("mixed").join("pairs.csv").exists());
}

#[test]
fn the_programme_mode_writes_its_tables_and_a_ranked_report_page() {
    // A programme that masters a scenario after one pass at level 2 at
    // most: the cascade detector's effect shows within three days.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("whatif-programme");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let quick = chaosim::program::spec::DEFAULT_PROGRAMME_RON
        .replace("passes_min: 5", "passes_min: 1")
        .replace("level_max: 10", "level_max: 2");
    let prog = dir.join("quick.ron");
    std::fs::write(&prog, quick).unwrap();
    let out_dir = dir.join("out");
    let args = [
        "whatif",
        "--candidates",
        "+quorum_ack,+cascade_detector",
        "--days",
        "3",
        "--seeds",
        "0:1",
        "--programme",
        prog.to_str().unwrap(),
        "--threads",
        "2",
        "--out",
        out_dir.to_str().unwrap(),
    ];
    let out = chaosim(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("report: "), "{text}");
    assert!(
        text.contains("+cascade_detector: mastery changed in 1 scenario\n"),
        "{text}"
    );
    let table = std::fs::read_to_string(out_dir.join("programme.csv")).unwrap();
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].starts_with(
        "rank,candidate,seeds,baseline_mastered,candidate_mastered,mastered_change,ci_low,ci_high,"
    ));
    // Ranked by the change in scenarios mastered: the detector masters
    // L2_event_policy_cascade on both seeds, quorum_ack changes nothing.
    assert!(rows[1].starts_with("1,+cascade_detector,2,"), "{table}");
    assert!(rows[2].starts_with("2,+quorum_ack,2,"), "{table}");
    let changed = std::fs::read_to_string(out_dir.join("programme_scenarios.csv")).unwrap();
    assert!(
        changed.contains("+cascade_detector,L2_event_policy_cascade,2,0,0,"),
        "{changed}"
    );
    let html = std::fs::read_to_string(out_dir.join("report/index.html")).unwrap();
    assert!(html.contains("what-if report (whole programmes)"));
    assert!(
        html.contains("chaosim year --seed 0 --days 3 --safeguards=+cascade_detector"),
        "the candidate side's handle"
    );
    let svg = std::fs::read_to_string(out_dir.join("report/ranking.svg")).unwrap();
    assert!(svg.contains("Change in scenarios mastered per candidate"));
    // `chaosim report` tells the folder apart from a scenario what-if.
    let again = out_dir.join("again");
    let idx = chaosim::report::render_any(&out_dir, Some(&again)).unwrap();
    assert_eq!(idx.kind, chaosim::report::ReportKind::Whatif);
    assert_eq!(
        std::fs::read(again.join("index.html")).unwrap().len(),
        std::fs::read(out_dir.join("report/index.html"))
            .unwrap()
            .len()
    );
}

#[test]
fn programme_shards_merged_give_the_bytes_of_the_whole_run() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("whatif-programme-shards");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let quick = chaosim::program::spec::DEFAULT_PROGRAMME_RON
        .replace("passes_min: 5", "passes_min: 1")
        .replace("level_max: 10", "level_max: 2");
    let prog = root.join("quick.ron");
    std::fs::write(&prog, quick).unwrap();
    let dir = |name: &str| root.join(name).to_str().unwrap().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "whatif",
            "--candidates",
            "+cascade_detector",
            "--days",
            "2",
            "--seeds",
            "0:2",
            "--programme",
            prog.to_str().unwrap(),
            "--no-report",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let out = chaosim(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let whole = dir("whole");
    run(&["--threads", "2", "--out", &whole]);
    let shards = [dir("s1"), dir("s2")];
    run(&["--shard", "1/2", "--threads", "1", "--out", &shards[0]]);
    run(&["--shard", "2/2", "--threads", "2", "--out", &shards[1]]);
    merge_equals_whole(
        &[&shards[1], &shards[0]],
        &root,
        &[
            "programmes.csv",
            "programme.csv",
            "programme_scenarios.csv",
            "whatif.json",
            "shard.ron",
        ],
    );
    // One row per programme: 3 seeds x 2 sides, with the year's digest.
    let rows = std::fs::read_to_string(root.join("whole/programmes.csv")).unwrap();
    assert!(rows.starts_with(
        "seed,side,candidate,mastered,deployed,generated,executions,passes,events,digest\n"
    ));
    assert_eq!(rows.lines().count(), 1 + 3 * 2);
    assert!(rows.contains("\n0,0,baseline,") && rows.contains("\n2,1,+cascade_detector,"));
    // A programme what-if shard does not merge with a scenario what-if's.
    let scen = dir("scenarios");
    let out = chaosim(&[
        "whatif",
        "--candidates",
        "+cascade_detector",
        "--ids",
        "S02_acl_spam",
        "--seeds",
        "0:2",
        "--quiet",
        "--no-report",
        "--shard",
        "1/2",
        "--out",
        &scen,
    ]);
    assert!(out.status.success());
    let out = chaosim(&["merge", &shards[0], &scen, "--out", &dir("mixed")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("this one is a what-if over scenarios, the other a what-if over programmes"),
        "{err}"
    );
}

/// Replace the first `from` in `dir/shard.ron` by `to` and seal the file
/// again (a new `meta_fnv`): an edit the checksum cannot catch, which the
/// merge's own checks of the aggregates must.
fn edit_and_reseal<K: chaosim::shard::ShardKind>(dir: &str, from: &str, to: &str) {
    let path = std::path::Path::new(dir).join("shard.ron");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    let edited = text.replacen(from, to, 1);
    let meta: chaosim::shard::ShardFile<K> = ron::from_str(&edited).unwrap();
    let sealed = edited.replacen(
        &format!("meta_fnv: \"{}\"", meta.meta_fnv),
        &format!("meta_fnv: \"{}\"", meta.checksum()),
        1,
    );
    std::fs::write(&path, sealed).unwrap();
}

/// A merge of shards whose aggregates were edited and sealed again ends at
/// once with exit 2, naming the file: counts past the range of a sum (which
/// once wrapped round the check and then spun), counts that contradict
/// each other or the number of seeds.
#[test]
fn resealed_shards_with_impossible_counts_are_refused() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("whatif-resealed");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let dir = |name: &str| root.join(name).to_str().unwrap().to_string();
    let shards = |name: &str, mode: &[&str]| -> [String; 2] {
        let s = [dir(&format!("{name}1")), dir(&format!("{name}2"))];
        for (k, d) in s.iter().enumerate() {
            let shard = format!("{}/2", k + 1);
            let mut args = vec!["whatif", "--candidates", "+acl_violation_monitor"];
            args.extend_from_slice(mode);
            args.extend(["--quiet", "--no-report", "--shard", &shard, "--out", d]);
            let out = chaosim(&args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        s
    };
    let refused = |s: &[String; 2], merged: &str, what: &str| {
        let out = chaosim(&["merge", &s[0], &s[1], "--out", &dir(merged)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains("shard.ron"), "{what}: {err}");
        assert!(
            !root.join(merged).exists(),
            "{what}: a merge output was left"
        );
    };
    let scen = ["--ids", "S02_acl_spam", "--seeds", "0:3"];
    for (k, (from, to)) in [
        ("introduced: 0", "introduced: 18446744073709551615"),
        ("prevented: 2", "prevented: 1"),
    ]
    .iter()
    .enumerate()
    {
        let s = shards(&format!("scen{k}-"), &scen);
        edit_and_reseal::<chaosim::sweep::whatif::Whatif>(&s[1], from, to);
        refused(&s, &format!("scen{k}-merged"), to);
    }
    let prog = ["--days", "1", "--seeds", "0:1"];
    for (k, to) in ["n: 4294967295", "n: 1000000"].iter().enumerate() {
        let s = shards(&format!("prog{k}-"), &prog);
        edit_and_reseal::<chaosim::sweep::whatif_programme::WhatifProgramme>(
            &s[1],
            "n: 1,",
            &format!("{to},"),
        );
        refused(&s, &format!("prog{k}-merged"), to);
    }
    // A resealed place in the batch is refused at the line of its field.
    for (k, (from, to, needle)) in [
        (
            "shards: 2,",
            "shards: 0,",
            "shards: 0: a batch has at least 1 shard",
        ),
        (
            "shard: 2,",
            "shard: 3,",
            "shard: 3 is not one of the 2 shards",
        ),
        (
            "shards: 2,",
            "shards: 3,",
            "shards: foreign shard: it is one of 3 shards",
        ),
    ]
    .iter()
    .enumerate()
    {
        let s = shards(&format!("place{k}-"), &scen);
        edit_and_reseal::<chaosim::sweep::whatif::Whatif>(&s[1], from, to);
        refused(&s, &format!("place{k}-merged"), to);
        let out = chaosim(&["merge", &s[0], &s[1], "--out", &dir("place-m")]);
        let err = String::from_utf8_lossy(&out.stderr);
        let located = err
            .split("shard.ron:")
            .nth(1)
            .and_then(|rest| rest.split(": ").next())
            .is_some_and(|at| at.split(':').all(|n| n.parse::<u32>().is_ok()));
        assert!(located && err.contains(needle), "{to}: {err}");
    }
}
