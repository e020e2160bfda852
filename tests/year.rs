//! `chaosim year` end to end with the real runner: determinism, replay of
//! single runs, audit tamper detection, resume after kill -9, refusals, and
//! bad input leaving nothing behind.

use std::path::{Path, PathBuf};
use std::process::Command as Std;

use assert_cmd::Command;

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("year")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.parent().unwrap()).unwrap();
    d
}

/// `chaosim year --days DAYS --seed SEED --no-report --quiet --out OUT EXTRA...`
fn year_with(out: &Path, days: &str, seed: &str, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("chaosim")
        .unwrap()
        .args([
            "year",
            "--days",
            days,
            "--seed",
            seed,
            "--no-report",
            "--quiet",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn year(out: &Path, extra: &[&str]) -> std::process::Output {
    year_with(out, "3", "11", extra)
}

const FILES: [&str; 5] = [
    "runs.csv",
    "outcomes.csv",
    "safeguards.csv",
    "audit.jsonl",
    "learning.ron",
];

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
}

#[test]
fn same_seed_same_bytes_any_thread_count() {
    let a = scratch("det_a");
    let b = scratch("det_b");
    assert!(year(&a, &["--threads", "1"]).status.success());
    assert!(year(&b, &["--threads", "3"]).status.success());
    for f in FILES {
        assert_eq!(read(&a, f), read(&b, f), "{f}");
    }
    assert_eq!(
        read(&a, "runs.csv").lines().count(),
        1 + 15,
        "5 runs a day for 3 days"
    );
    let c = scratch("det_c");
    let out = year_with(&c, "3", "12", &[]);
    assert!(out.status.success());
    assert_ne!(
        read(&a, "outcomes.csv"),
        read(&c, "outcomes.csv"),
        "another seed, other outcomes"
    );
}

#[test]
fn every_run_replays_alone_with_matching_digests() {
    let dir = scratch("replay");
    assert!(year(&dir, &[]).status.success());
    for run in [0u64, 3, 7, 14] {
        let out = Command::cargo_bin("chaosim")
            .unwrap()
            .arg("replay")
            .arg(&dir)
            .args(["--run", &run.to_string()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "run {run}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout.matches("every column matches").count(),
            3,
            "three scenarios per run: {stdout}"
        );
        assert!(stdout.contains("runs.csv row matches"), "{stdout}");
    }
    // The run's own row is checked too: a slot time the programme does not
    // have, or another scenario list than the outcome rows, is bad input
    // (exit 2) located in runs.csv.
    let runs = read(&dir, "runs.csv");
    let row3: Vec<&str> = runs.lines().nth(4).unwrap().split(',').collect();
    assert_eq!(row3[0], "3");
    // Replay run 3 with field `k` of its row set to `edit`.
    let replay_edited = |k: usize, edit: &str| {
        let mut edited = row3.clone();
        edited[k] = edit;
        let text = runs.replacen(&row3.join(","), &edited.join(","), 1);
        std::fs::write(dir.join("runs.csv"), &text).unwrap();
        Command::cargo_bin("chaosim")
            .unwrap()
            .arg("replay")
            .arg(&dir)
            .args(["--run", "3"])
            .output()
            .unwrap()
    };
    for (k, edit) in [(2usize, "25:99"), (5, "NOPE_x")] {
        let out = replay_edited(k, edit);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{edit}: {err}");
        assert!(
            err.contains("runs.csv:5:") && err.contains(edit),
            "{edit}: {err}"
        );
    }
    // A tally that the replay does not give is a mismatch (exit 1).
    let out = replay_edited(10, "1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("replay mismatch") && err.contains("events"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("MISMATCH in events"));
    std::fs::write(dir.join("runs.csv"), &runs).unwrap();
    // A tampered digest is a mismatch: exit 1, naming the run.
    let path = dir.join("outcomes.csv");
    let text = read(&dir, "outcomes.csv");
    // (The digest column, by name: `repro` now follows it.)
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let c_digest = rdr
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "digest")
        .unwrap();
    let first = rdr.records().next().unwrap().unwrap();
    let digest = &first[c_digest];
    std::fs::write(&path, text.replacen(digest, "0000000000000000", 1)).unwrap();
    let out = Command::cargo_bin("chaosim")
        .unwrap()
        .arg("replay")
        .arg(&dir)
        .args(["--run", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("MISMATCH"));
}

#[test]
fn the_audit_log_verifies_and_any_edit_fails_verification() {
    let dir = scratch("audit");
    assert!(year(&dir, &[]).status.success());
    let ok = Command::cargo_bin("chaosim")
        .unwrap()
        .args(["audit", "verify"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let text = read(&dir, "audit.jsonl");
    std::fs::write(
        dir.join("audit.jsonl"),
        text.replacen("\"failed\"", "\"passed\"", 1),
    )
    .unwrap();
    let bad = Command::cargo_bin("chaosim")
        .unwrap()
        .args(["audit", "verify"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("audit chain broken"));
    // Cutting the tail is caught against the checkpoint.
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(
        dir.join("audit.jsonl"),
        lines[..lines.len() - 2]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let cut = Command::cargo_bin("chaosim")
        .unwrap()
        .args(["audit", "verify"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        cut.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&cut.stderr)
    );
}

#[test]
fn resume_after_kill_9_ends_byte_identical() {
    let straight = scratch("straight");
    let out = year_with(&straight, "6", "5", &[]);
    assert!(out.status.success());
    for (i, delay_ms) in [60u64, 200, 500].into_iter().enumerate() {
        let dir = scratch(&format!("killed_{i}"));
        let mut child = Std::new(env!("CARGO_BIN_EXE_chaosim"))
            .args([
                "year",
                "--days",
                "6",
                "--seed",
                "5",
                "--no-report",
                "--quiet",
                "--out",
            ])
            .arg(&dir)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let out = year_with(&dir, "6", "5", &["--resume"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for f in FILES {
            assert_eq!(
                read(&straight, f),
                read(&dir, f),
                "{f} after kill at {delay_ms} ms"
            );
        }
    }
}

#[test]
fn a_complete_folder_is_not_overwritten_without_force() {
    let dir = scratch("force");
    assert!(year(&dir, &[]).status.success());
    let again = year(&dir, &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(year(&dir, &["--force"]).status.success());
}

#[test]
fn a_broken_input_file_is_refused_before_anything_is_written() {
    let dir = scratch("broken");
    let bad_stack = dir.with_extension("stack.ron");
    std::fs::write(&bad_stack, "(layer1: (kernels: [], bogus: 1))").unwrap();
    let out = year(&dir, &["--stack", bad_stack.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stack.ron:1:"), "{err}");
    assert!(!dir.exists(), "no output folder left behind");
    let bad_prog = dir.with_extension("programme.ron");
    std::fs::write(
        &bad_prog,
        chaosim::program::spec::DEFAULT_PROGRAMME_RON.replace("severity: 2", "severity: 9"),
    )
    .unwrap();
    let out = year(&dir, &["--programme", bad_prog.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("slots[0].severity"));
    assert!(!dir.exists());
}

/// The escalation rule, replayed independently over the real runner's
/// outcomes, predicts every recorded level and the final learning state.
#[test]
fn escalation_rule_holds_over_real_outcomes() {
    let dir = scratch("escalation");
    let out = year_with(&dir, "12", "3", &[]);
    assert!(out.status.success());
    let text = read(&dir, "outcomes.csv");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (c_sc, c_lv, c_ok) = (col("scenario"), col("difficulty"), col("passed"));
    let mut state: std::collections::BTreeMap<String, (u8, u32, u32)> = Default::default();
    let mut escalations = 0;
    for row in rdr.records() {
        let row = row.unwrap();
        let e = state.entry(row[c_sc].to_string()).or_insert((1, 0, 0));
        assert_eq!(
            row[c_lv].parse::<u8>().unwrap(),
            e.0,
            "level of {}",
            &row[c_sc]
        );
        e.1 += 1;
        e.2 += (&row[c_ok] == "true") as u32;
        if e.2 >= 5 && e.2 * 1000 >= 800 * e.1 && e.0 < 10 {
            *e = (e.0 + 1, 0, 0);
            escalations += 1;
        }
    }
    assert!(escalations > 0);
    let learning: Vec<chaosim::program::LearningRecord> =
        ron::from_str(&read(&dir, "learning.ron")).unwrap();
    for rec in learning {
        assert_eq!(
            rec.difficulty_level,
            state.get(&rec.id).map(|e| e.0).unwrap_or(1),
            "{}",
            rec.id
        );
    }
}

/// Constant memory, in the state that persists between runs: the checkpoint
/// after 20 days is no larger than a few percent over the one after 5 days.
#[test]
fn programme_state_does_not_grow_with_runs() {
    let size = |days: &str, name: &str| {
        let dir = scratch(name);
        let out = Command::cargo_bin("chaosim")
            .unwrap()
            .args([
                "year",
                "--days",
                days,
                "--seed",
                "9",
                "--no-report",
                "--quiet",
                "--out",
            ])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(out.status.success());
        std::fs::metadata(dir.join("checkpoint.ron")).unwrap().len()
    };
    let (small, large) = (size("5", "state_5"), size("20", "state_20"));
    assert!(
        large * 100 <= small * 110,
        "checkpoint grew from {small} to {large} bytes"
    );
}
