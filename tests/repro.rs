//! Reproduction handles: every failed outcome carries the one-line command
//! that re-executes it alone, and running it reproduces the digest.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chaosim::model::stack::StackSpec;
use chaosim::scenario::Repro;
use chaosim::scenario::run::RunOutputs;

fn chaosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chaosim"))
        .args(args)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("chaosim-repro-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The arguments of a handle (no shell quoting is needed for the built-in
/// files: checked), without the leading `chaosim`.
fn handle_args(handle: &str) -> Vec<String> {
    assert!(!handle.contains('\''), "needs no quoting: {handle}");
    let mut words: Vec<String> = handle.split_whitespace().map(String::from).collect();
    assert_eq!(words.remove(0), "chaosim");
    words
}

fn run_handle(handle: &str, extra: &[&str]) -> Output {
    let mut args = handle_args(handle);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    chaosim(&refs)
}

struct Row {
    run: u64,
    passed: bool,
    digest: String,
    repro: String,
}

fn outcome_rows(dir: &Path) -> Vec<Row> {
    let mut rdr = csv::Reader::from_path(dir.join("outcomes.csv")).unwrap();
    let h = rdr.headers().unwrap().clone();
    assert_eq!(
        h.iter().next_back(),
        Some("repro"),
        "repro is the last column"
    );
    assert_eq!(
        h.get(19),
        Some("digest"),
        "existing columns keep their positions"
    );
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (c_run, c_pass, c_dg, c_rp) = (col("run"), col("passed"), col("digest"), col("repro"));
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            Row {
                run: r[c_run].parse().unwrap(),
                passed: &r[c_pass] == "true",
                digest: r[c_dg].to_string(),
                repro: r[c_rp].to_string(),
            }
        })
        .collect()
}

fn mixed_runs(dir: &Path) -> Vec<u64> {
    let mut rdr = csv::Reader::from_path(dir.join("runs.csv")).unwrap();
    let h = rdr.headers().unwrap().clone();
    let (c_run, c_p) = (
        h.iter().position(|x| x == "run").unwrap(),
        h.iter().position(|x| x == "perspective").unwrap(),
    );
    rdr.records()
        .map(|r| r.unwrap())
        .filter(|r| &r[c_p] == "Mixed")
        .map(|r| r[c_run].parse().unwrap())
        .collect()
}

#[test]
fn every_failed_row_of_a_short_programme_has_a_handle_that_reproduces_it() {
    let d = scratch("year");
    let out = chaosim(&[
        "year",
        "--days",
        "3",
        "--out",
        d.to_str().unwrap(),
        "--no-report",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = outcome_rows(&d);
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.passed).collect();
    assert!(
        failed.len() >= 5,
        "a short programme has failures: {}",
        failed.len()
    );
    for r in &rows {
        if r.passed {
            assert!(r.repro.is_empty(), "a pass has no handle: {}", r.repro);
        } else {
            assert!(r.repro.starts_with("chaosim run "), "{}", r.repro);
            assert!(r.repro.contains(&format!("--expect-digest {}", r.digest)));
            if r.run != 0 {
                assert!(
                    r.repro.contains(&format!("--run {} ", r.run)),
                    "{}",
                    r.repro
                );
            }
        }
    }
    // A sample of 5: the failures of a Mixed (concurrent) run first, then
    // spread over the rest.
    let mixed = mixed_runs(&d);
    let concurrent: Vec<&&Row> = failed.iter().filter(|r| mixed.contains(&r.run)).collect();
    assert!(
        !concurrent.is_empty(),
        "3 days include a Mixed slot with a failure"
    );
    assert!(concurrent.iter().all(|r| r.repro.contains("--together")));
    let mut sample: Vec<&Row> = vec![concurrent[0]];
    let step = failed.len() / 4;
    sample.extend((0..4).map(|k| failed[k * step]));
    for r in sample {
        let out = run_handle(&r.repro, &["--json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {err}", r.repro);
        assert!(
            err.contains(&format!("reproduced: digest {} matches", r.digest)),
            "{err}"
        );
        // The outcome the handle names failed again, with the same handle.
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(
            lines.iter().any(|v| v["repro"] == r.repro.as_str()),
            "{lines:?}"
        );
        // The library parses the handle back and re-executes it alike.
        let baseline = StackSpec::embedded().default_safeguards();
        let h = Repro::parse(&handle_args(&r.repro), baseline).unwrap();
        assert_eq!(h.to_string(), r.repro);
        let cat = chaosim::scenario::Catalogue::embedded().unwrap();
        let outs = h
            .execute(&cat, &StackSpec::embedded(), RunOutputs::default())
            .unwrap();
        assert_eq!(h.pick(&outs).unwrap().digest.to_string(), r.digest);
        assert!(!h.pick(&outs).unwrap().passed);
    }
    // The same handle against another stack file is refused, naming it.
    let stack = d.join("other-stack.ron");
    std::fs::write(&stack, "(cluster: (nodes: 7))").unwrap();
    let out = run_handle(&failed[0].repro, &["--stack", stack.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the stack file differs from the one the handle was recorded with (fingerprint built-in, now "),
        "{err}"
    );
    // A wrong digest is a failure (exit 1), with both digests named.
    let wrong = failed[0]
        .repro
        .replace(&failed[0].digest, "0000000000000000");
    let out = run_handle(&wrong, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("digest mismatch: the handle recorded 0000000000000000"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_handle_recorded_with_a_stack_file_names_it_and_reproduces_with_it() {
    let d = scratch("stack");
    let stack = d.join("stack.ron");
    std::fs::write(&stack, "(cluster: (nodes: 7))").unwrap();
    let out = chaosim(&[
        "run",
        "JEP01_log_partition",
        "--json",
        "--stack",
        stack.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed outcome: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], false);
    let handle = v["repro"].as_str().unwrap().to_string();
    assert!(
        handle.contains(&format!("--stack {}", stack.display())),
        "{handle}"
    );
    assert!(handle.contains("--files stack="), "{handle}");
    let out = run_handle(&handle, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The handle run with the built-in stack instead says so.
    let without: Vec<String> = handle_args(&handle)
        .into_iter()
        .filter(|a| a != "--stack" && *a != stack.display().to_string())
        .collect();
    let refs: Vec<&str> = without.iter().map(String::as_str).collect();
    let out = chaosim(&refs);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("now built-in)"));
    // A file that only spells out defaults is the built-in stack: no id.
    std::fs::write(&stack, "(cluster: (nodes: 5))").unwrap();
    let out = chaosim(&[
        "run",
        "JEP01_log_partition",
        "--json",
        "--stack",
        stack.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v["repro"].as_str().unwrap().contains("--files"), "{v}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn run_json_has_a_repro_field_null_for_a_pass() {
    let out = chaosim(&[
        "run",
        "FIT01_api_flood",
        "--json",
        "--safeguards=+rate_limiter",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], true);
    assert!(v["repro"].is_null(), "{v}");
    let out = chaosim(&[
        "run",
        "FIT01_api_flood",
        "--json",
        "--seed",
        "7",
        "--difficulty",
        "4",
        "--safeguards=-circuit_breaker",
        "--day",
        "3",
        "--at",
        "23:30",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], false);
    let handle = v["repro"].as_str().unwrap();
    assert_eq!(
        handle,
        format!(
            "chaosim run FIT01_api_flood --seed 7 --difficulty 4 --safeguards=-circuit_breaker --day 3 --at 23:30 --digest-format 2 --expect-digest {}",
            v["digest"].as_str().unwrap()
        )
    );
    assert!(run_handle(handle, &[]).status.success());
}

#[test]
fn stress_prints_a_handle_per_failed_row_that_reproduces_the_run() {
    let out = chaosim(&["stress"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let failed_rows = lines.iter().filter(|l| l.contains("FAILED")).count();
    let handles: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.trim_start().strip_prefix("repro: "))
        .collect();
    assert!(failed_rows > 1);
    // Every failed row reproduces with the whole stress run: the one handle
    // is printed once, under the first failed row.
    assert_eq!(handles.len(), 1, "{text}");
    let first = lines.iter().position(|l| l.contains("FAILED")).unwrap();
    assert!(
        lines[first + 1]
            .trim_start()
            .starts_with("repro: chaosim stress --seed 42 ")
    );
    let digest = lines.iter().find(|l| l.starts_with("digest")).unwrap();
    assert!(handles[0].ends_with(digest.split_whitespace().last().unwrap()));
    let out = run_handle(handles[0], &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reproduced"));
    // With the monitors deployed nothing fails: no handle.
    let out = chaosim(&[
        "stress",
        "--safeguards=+acl_violation_monitor,+resource_pressure_monitor",
    ]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("repro:"));
}
