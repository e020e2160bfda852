//! The CLI as a user meets it: `run --json`, streams, `stress`, playbooks.

use std::path::PathBuf;

use assert_cmd::Command;

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn chaosim(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("chaosim")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn run_json_has_the_documented_fields() {
    let out = chaosim(&["run", "FIT01_api_flood", "--json"]);
    assert_eq!(out.status.code(), Some(1), "a failed outcome exits 1");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for f in [
        "id",
        "passed",
        "recovery_s",
        "recovery_limit_s",
        "failure_reason",
        "safeguards_expected",
        "safeguards_fired",
        "safeguards_missing",
        "anomalies",
        "events",
        "digest",
    ] {
        assert!(v.get(f).is_some(), "missing {f} in {v}");
    }
    assert_eq!(v["passed"], false, "FIT01 fails without rate_limiter");
    let out = chaosim(&[
        "run",
        "FIT01_api_flood",
        "--json",
        "--safeguards=+rate_limiter",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], true);
    assert!(
        v["safeguards_fired"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "rate_limiter")
    );
}

#[test]
fn timeline_and_narrative_stream_without_changing_the_run() {
    let d = scratch("streams");
    let (tl, nar) = (d.join("t.csv"), d.join("n.jsonl"));
    let plain = chaosim(&["run", "L2_HTM_queue_flood_stress", "--json"]);
    let with = chaosim(&[
        "run",
        "L2_HTM_queue_flood_stress",
        "--json",
        "--timeline",
        tl.to_str().unwrap(),
        "--narrative",
        nar.to_str().unwrap(),
    ]);
    assert_eq!(
        plain.stdout, with.stdout,
        "outputs do not change the outcome or digest"
    );
    let timeline = std::fs::read_to_string(&tl).unwrap();
    assert!(timeline.starts_with("t_s,kernels_running"));
    assert!(
        timeline.lines().any(|l| l.ends_with("QueueFlood")),
        "the fault window is marked"
    );
    let narrative = std::fs::read_to_string(&nar).unwrap();
    let first: serde_json::Value = serde_json::from_str(narrative.lines().next().unwrap()).unwrap();
    for f in ["who", "what", "when_ns", "where", "why", "how"] {
        assert!(first.get(f).is_some(), "5W1H field {f}");
    }
    // Beside the timeline, the run's outcome, which its report states.
    let outcome: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("t.outcomes.jsonl")).unwrap())
            .unwrap();
    let run: serde_json::Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert_eq!(outcome["scenario"], "L2_HTM_queue_flood_stress");
    assert_eq!(outcome["passed"], run["passed"]);
    assert_eq!(outcome["digest"], run["digest"]);
    assert_eq!(outcome["recovery_limit_s"], run["recovery_limit_s"]);
    let r = chaosim(&["report", tl.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let html = std::fs::read_to_string(d.join("t.csv.report/index.html")).unwrap();
    for fact in [
        "<dt>scenario</dt><dd>L2_HTM_queue_flood_stress (difficulty 1, seed 42)</dd>",
        "<dt>verdict</dt>",
        "<dt>recovery</dt>",
    ] {
        assert!(html.contains(fact), "page states {fact}");
    }
}

#[test]
fn stress_shows_the_source_shape_and_safeguards_remove_it() {
    let out = chaosim(&["stress"]);
    assert_eq!(out.status.code(), Some(1), "failed rows exit 1");
    let text = String::from_utf8_lossy(&out.stdout);
    let row = |wave: &str, id: &str| {
        text.lines()
            .find(|l| l.starts_with(wave) && l.contains(id))
            .unwrap()
            .to_string()
    };
    assert!(
        row("1 ", "S01_heartbeat_pause").ends_with("passed"),
        "{text}"
    );
    assert!(row("2 ", "S02_acl_spam").contains("FAILED"), "{text}");
    assert!(row("2 ", "S03_cpu_spike").contains("FAILED"), "{text}");
    let final_line = text
        .lines()
        .find(|l| l.starts_with("final kernels"))
        .unwrap();
    let running: u32 = final_line
        .split_whitespace()
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(running < 10, "the platform degrades: {final_line}");

    let out = chaosim(&[
        "stress",
        "--safeguards=+acl_violation_monitor,+resource_pressure_monitor",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("failed             0"), "{text}");
    assert!(text.contains("final kernels      20/20"), "{text}");
}

#[test]
fn a_playbook_folder_missing_a_needed_playbook_is_refused() {
    let d = scratch("playbooks");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("playbooks");
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() != "critical_kernel_restart.ron" {
            std::fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
        }
    }
    let out = chaosim(&[
        "run",
        "S01_heartbeat_pause",
        "--playbooks",
        d.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("critical_kernel_restart"));
    // The shipped folder gives the same run as the embedded playbooks.
    let a = chaosim(&["run", "S01_heartbeat_pause", "--json"]);
    let b = chaosim(&[
        "run",
        "S01_heartbeat_pause",
        "--json",
        "--playbooks",
        src.to_str().unwrap(),
    ]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn unknown_scenario_and_bad_flags_are_usage_errors() {
    let out = chaosim(&["run", "S02_acl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean S02_acl_spam"));
    let out = chaosim(&["run", "S02_acl_spam", "--difficulty", "11"]);
    assert_eq!(out.status.code(), Some(2));
    let out = chaosim(&["run", "S02_acl_spam", "--safeguards=+nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown safeguard 'nope'"));
}

#[test]
fn a_partial_stack_file_takes_defaults_and_bad_values_are_located() {
    let d = scratch("stack");
    let partial = d.join("partial.ron");
    std::fs::write(
        &partial,
        "(layer1: (dump_interval_ns: 5000000000), cluster: (nodes: 5))",
    )
    .unwrap();
    let a = chaosim(&["run", "S01_heartbeat_pause", "--json"]);
    let b = chaosim(&[
        "run",
        "S01_heartbeat_pause",
        "--json",
        "--stack",
        partial.to_str().unwrap(),
    ]);
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(a.stdout, b.stdout, "defaults fill what the file leaves out");
    let bad = d.join("bad.ron");
    std::fs::write(&bad, "(layer1: (kernels: []))").unwrap();
    let out = chaosim(&[
        "run",
        "S01_heartbeat_pause",
        "--stack",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("layer1.kernels"));
    // The printed default stack is itself a valid stack file.
    let printed = chaosim(&["stack"]);
    let full = d.join("full.ron");
    std::fs::write(&full, &printed.stdout).unwrap();
    let c = chaosim(&[
        "run",
        "S01_heartbeat_pause",
        "--json",
        "--stack",
        full.to_str().unwrap(),
    ]);
    assert_eq!(a.stdout, c.stdout, "{}", String::from_utf8_lossy(&c.stderr));
}

/// `run`, `stress`, `swarm` and a scenario `sweep --fail-under` exit 1 when a
/// verdict fails, 0 when it passes; a replayed handle whose digest matches
/// exits 0 even for a failing outcome; bad input stays 2.
#[test]
fn a_failed_verdict_exits_1_a_pass_and_a_reproduced_handle_exit_0() {
    let d = scratch("exit-codes");
    // run: a failing scenario exits 1 and still writes its outputs.
    let tl = d.join("s02.csv");
    let out = chaosim(&[
        "run",
        "S02_acl_spam",
        "--json",
        "--timeline",
        tl.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert!(tl.exists(), "a failed verdict keeps its outputs");
    // Its handle reproduces: exit 0 (the question is "does it reproduce").
    let handle: Vec<String> = v["repro"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect();
    let refs: Vec<&str> = handle.iter().map(String::as_str).collect();
    let out = chaosim(&refs);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED"));
    // A digest that does not match: 1.
    let mut wrong = handle.clone();
    *wrong.last_mut().unwrap() = "0000000000000000".into();
    let refs: Vec<&str> = wrong.iter().map(String::as_str).collect();
    assert_eq!(chaosim(&refs).status.code(), Some(1));
    // A pass: 0; several scenarios, one failing: 1.
    let pass = chaosim(&["run", "S02_acl_spam", "--safeguards=+acl_violation_monitor"]);
    assert_eq!(pass.status.code(), Some(0), "{pass:?}");
    let some = chaosim(&[
        "run",
        "S02_acl_spam,S01_heartbeat_pause",
        "--safeguards=+acl_violation_monitor",
    ]);
    assert_eq!(some.status.code(), Some(0), "both pass: {some:?}");
    let some = chaosim(&["run", "S01_heartbeat_pause,S02_acl_spam"]);
    assert_eq!(some.status.code(), Some(1));
    // Bad input stays 2.
    assert_eq!(chaosim(&["run", "S02_nope"]).status.code(), Some(2));

    // stress: a failed row exits 1; every wave passing exits 0; its handle 0.
    let out = chaosim(&["stress"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let handle: Vec<String> = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("repro: chaosim "))
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    let refs: Vec<&str> = handle.iter().map(String::as_str).collect();
    assert_eq!(chaosim(&refs).status.code(), Some(0));
    let out = chaosim(&[
        "stress",
        "--safeguards=+acl_violation_monitor,+resource_pressure_monitor",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        chaosim(&["stress", "--safeguards=+nope"]).status.code(),
        Some(2)
    );

    // swarm: a failed row exits 1 (files written), all rows passing 0.
    let sw = d.join("swarm");
    let sws = sw.to_str().unwrap();
    let out = chaosim(&[
        "swarm",
        "--ids",
        "S02_acl_spam",
        "--seeds",
        "4",
        "--quiet",
        "--out",
        sws,
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(sw.join("swarm.csv").exists());
    let out = chaosim(&[
        "swarm",
        "--ids",
        "S02_acl_spam",
        "--seeds",
        "4",
        "--safeguards",
        "all",
        "--quiet",
        "--force",
        "--out",
        sws,
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // scenario sweep: exit 1 only with --fail-under and a value below it.
    let sweep = |extra: &[&str], name: &str| {
        let o = d.join(name);
        let mut a = vec![
            "sweep",
            "--scenario",
            "S02_acl_spam",
            "--param",
            "intensity",
            "--values",
            "0.5:1:0.5",
            "--n",
            "3",
            "--threads",
            "1",
            "--out",
            o.to_str().unwrap(),
        ];
        a.extend(extra);
        chaosim(&a)
    };
    let out = sweep(&[], "sweep-plain");
    assert_eq!(out.status.code(), Some(0), "no gate: {out:?}");
    let out = sweep(&["--fail-under", "0.9"], "sweep-gate");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fail-under 90.00 %: 2 of 2 values below: 0.5 (0.00 %), 1 (0.00 %)"),
        "{text}"
    );
    let out = sweep(
        &["--fail-under", "0.9", "--safeguards=+acl_violation_monitor"],
        "sweep-pass",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 of 2 values below"));
    for bad in ["1.5", "-0.1", "x"] {
        let out = sweep(&["--fail-under", bad], "sweep-bad");
        assert_eq!(out.status.code(), Some(2), "--fail-under {bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--fail-under"));
    }
    // The API sweep has no verdict: --fail-under needs --scenario.
    let out = chaosim(&["sweep", "--fail-under", "0.5", "--n", "5"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Results go to stdout, progress and notes to stderr, for every command:
/// each command's output is on stdout and its stderr is empty (progress
/// bars are hidden when stderr is not a terminal), but for `ensemble`'s
/// per-seed progress lines.
#[test]
fn every_command_prints_its_results_on_stdout_and_only_progress_on_stderr() {
    let d = scratch("streams-every-command");
    let p = |name: &str| d.join(name).to_string_lossy().into_owned();
    let history = p("jep01.jsonl");
    let commands: Vec<(Vec<String>, &str)> = vec![
        (vec!["list".into()], " scenarios"),
        (vec!["validate".into()], "ok: "),
        (vec!["stack".into()], "layer1"),
        (vec!["run".into(), "S01_heartbeat_pause".into()], "PASSED"),
        (vec!["run".into(), "S02_acl_spam".into(), "--json".into()], "\"passed\":false"),
        (
            vec![
                "run".into(),
                "JEP01_log_partition".into(),
                "--history".into(),
                history.clone(),
            ],
            "JEP01_log_partition",
        ),
        (vec!["check".into(), history.clone()], "verdict:"),
        (vec!["stress".into()], "success rate"),
        (
            vec!["phold".into(), "--lps".into(), "10".into(), "--seconds".into(), "10".into()],
            "events handled",
        ),
        (
            "sweep --rates 0:0.2:0.1 --n 5 --threads 1 --no-report --out"
                .split(' ')
                .map(String::from)
                .chain([p("sweep")])
                .collect(),
            "rate 0.1      playbook",
        ),
        (
            "sweep --rates 0:0.2:0.1 --n 5 --threads 1 --shard 1/2 --out"
                .split(' ')
                .map(String::from)
                .chain([p("s1")])
                .collect(),
            "shard 1/2",
        ),
        (
            "sweep --rates 0:0.2:0.1 --n 5 --threads 1 --shard 2/2 --out"
                .split(' ')
                .map(String::from)
                .chain([p("s2")])
                .collect(),
            "shard 2/2",
        ),
        (
            vec!["merge".into(), p("s1"), p("s2"), "--out".into(), p("merged")],
            "merged 2 shards",
        ),
        (vec!["report".into(), p("sweep")], "report"),
        (
            "sweep --scenario S02_acl_spam --param intensity --values 0.5:1:0.5 --n 2 --threads 1 --out"
                .split(' ')
                .map(String::from)
                .chain([p("scenario-sweep")])
                .collect(),
            "intensity 0.5 ",
        ),
        (
            "swarm --ids S02_acl_spam --seeds 2 --threads 1 --out"
                .split(' ')
                .map(String::from)
                .chain([p("swarm")])
                .collect(),
            "S02_acl_spam                     seeds",
        ),
        (
            "shrink MF01_triple_threat --seed 1 --swarm --out"
                .split(' ')
                .map(String::from)
                .chain([p("mf01.ron")])
                .collect(),
            "wrote",
        ),
        (
            "year --days 1 --threads 1 --no-report --out"
                .split(' ')
                .map(String::from)
                .chain([p("year")])
                .collect(),
            "digest of the run",
        ),
        (
            vec!["replay".into(), p("year"), "--run".into(), "0".into()],
            "every column matches",
        ),
        (vec!["audit".into(), "verify".into(), p("year")], "ok:"),
        (
            "selfcheck run S02_acl_spam".split(' ').map(String::from).collect(),
            "deterministic",
        ),
        (
            "ensemble --seeds 0:1 --days 1 --threads 1 --no-report --out"
                .split(' ')
                .map(String::from)
                .chain([p("ensemble")])
                .collect(),
            "still failing",
        ),
    ];
    for (args, result) in &commands {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = chaosim(&refs);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {:?} {stderr}",
            out.status
        );
        assert!(
            stdout.contains(result),
            "{args:?}: the result ({result:?}) is on stdout: {stdout}\nstderr: {stderr}"
        );
        let progress = args[0] == "ensemble";
        for line in stderr.lines() {
            // Progress, or a note (validate's warnings about faults cut
            // by the window).
            assert!(
                (progress && line.starts_with("seed ")) || line.starts_with("warning: "),
                "{args:?}: stderr holds a result or an unexpected line: {line}"
            );
        }
    }
}

/// Help and text (issue 22, item 12): examples everywhere, `report --help`
/// names its kinds, `sweep --help` has a heading per mode, `--scenarios` is a
/// folder for swarm too, `shrink -- HANDLE --force`, a missing `--timeline`
/// folder names the flag, "none" for empty lists, one stress handle, what
/// `report` wrote, "digest of the run" for a --days programme.
#[test]
fn help_and_messages_say_what_a_new_user_needs() {
    let d = scratch("help-and-text");
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    for cmd in [
        "year",
        "run",
        "stress",
        "replay",
        "selfcheck",
        "selfcheck run",
        "selfcheck year",
        "selfcheck sweep",
        "audit",
        "audit verify",
        "stack",
        "list",
        "validate",
        "phold",
        "sweep",
        "ensemble",
        "merge",
        "swarm",
        "shrink",
        "check",
        "report",
        "completions",
        "man",
    ] {
        let mut args: Vec<&str> = cmd.split(' ').collect();
        args.push("--help");
        let out = chaosim(&args);
        assert!(out.status.success(), "{cmd} --help");
        assert!(
            text(&out).contains("Example: chaosim "),
            "{cmd} --help has no example"
        );
    }
    let help = text(&chaosim(&["report", "--help"]));
    for kind in [
        "year folder",
        "API sweep folder",
        "ensemble folder",
        "timeline CSV",
        "trace",
        "operation history",
        "scenario-sweep folder",
        "swarm folder",
    ] {
        assert!(help.contains(kind), "report --help names {kind}: {help}");
    }
    let help = text(&chaosim(&["sweep", "--help"]));
    for heading in [
        "Scenario sweep (--scenario ID):",
        "API sweep (without --scenario):",
        "Both modes:",
    ] {
        assert!(help.contains(heading), "{help}");
    }

    // swarm: --scenarios is a folder; ids given to it get a hint.
    let out = chaosim(&["swarm", "--scenarios", "S02_acl_spam", "--seeds", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err(&out).contains("scenario ids go to --ids (--ids S02_acl_spam)"),
        "{}",
        err(&out)
    );
    let catalogue = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for flag in ["--scenarios", "--scenario-dir"] {
        let o = d.join(format!("swarm{flag}"));
        let out = chaosim(&[
            "swarm",
            "--ids",
            "S01_heartbeat_pause",
            "--seeds",
            "1",
            flag,
            catalogue.to_str().unwrap(),
            "--out",
            o.to_str().unwrap(),
        ]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{flag}: {out:?}");
    }

    // shrink -- HANDLE --force (shrink's own flags after the handle).
    let v: serde_json::Value = serde_json::from_slice(
        &chaosim(&[
            "run",
            "MF01_triple_threat",
            "--seed",
            "1",
            "--swarm",
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    let handle: Vec<String> = v["repro"]
        .as_str()
        .unwrap()
        .split(' ')
        .map(String::from)
        .collect();
    let ron = d.join("mf01.ron");
    for extra in [&[][..], &["--force"][..]] {
        let mut args = vec!["shrink".to_string(), "--".into()];
        args.extend(handle.iter().cloned());
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["--out".into(), ron.to_string_lossy().into_owned()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = chaosim(&refs);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", err(&out));
    }
    let mut args = vec!["shrink".to_string(), "--".into()];
    args.extend(handle.iter().cloned());
    args.extend(["--out".into(), ron.to_string_lossy().into_owned()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(chaosim(&refs).status.code(), Some(2), "exists, no --force");

    // A --timeline into a missing folder: exit 2 naming the flag.
    let missing = d.join("no-such-folder").join("t.csv");
    let out = chaosim(&[
        "run",
        "S02_acl_spam",
        "--timeline",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err(&out).starts_with("error: --timeline: "),
        "{}",
        err(&out)
    );
    assert!(err(&out).contains("does not exist"), "{}", err(&out));

    // "none" for an empty list; the stress handle once.
    let out = text(&chaosim(&["stress", "--safeguards", "none"]));
    assert!(out.contains("safeguards: none\n"), "{out}");
    assert_eq!(out.matches("repro: ").count(), 1, "{out}");

    // `report` says what it wrote.
    let h = d.join("h.jsonl");
    chaosim(&[
        "run",
        "JEP01_log_partition",
        "--history",
        h.to_str().unwrap(),
    ]);
    let out = text(&chaosim(&["report", h.to_str().unwrap()]));
    assert!(
        out.starts_with("history report: wrote index.html and summary.md in "),
        "{out}"
    );

    // A programme of --days is "the run".
    let y = d.join("year");
    let out = text(&chaosim(&[
        "year",
        "--days",
        "1",
        "--no-report",
        "--threads",
        "1",
        "--out",
        y.to_str().unwrap(),
    ]));
    assert!(out.contains("\ndigest of the run     "), "{out}");
    assert!(!out.contains("digest of the year"), "{out}");
}

/// Shell habits (issue 22, item 11): completion scripts, man pages, `-q`.
#[test]
fn completions_man_pages_and_q_for_quiet() {
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    for (shell, marker) in [
        ("bash", "_chaosim()"),
        ("zsh", "#compdef chaosim"),
        ("fish", "complete -c chaosim"),
    ] {
        let out = chaosim(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = text(&out);
        assert!(script.contains(marker), "{shell}: {script}");
        // Every command and a flag of each kind are completed.
        for word in ["sweep", "swarm", "completions", "fail-under", "known-fixes"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    let out = chaosim(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));

    let page = text(&chaosim(&["man"]));
    assert!(page.contains(".TH chaosim 1"), "{page}");
    assert!(page.contains("completions"), "the page lists the commands");
    let page = text(&chaosim(&["man", "run"]));
    assert!(page.contains(".TH chaosim-run 1"), "{page}");
    assert!(page.contains("Exit codes"), "{page}");
    let out = chaosim(&["man", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no command 'nope'"));

    // -q is --quiet wherever --quiet is.
    let d = scratch("quiet");
    for (cmd, extra) in [
        ("sweep", vec!["--n", "2", "--rates", "0.1"]),
        (
            "swarm",
            vec!["--ids", "S01_heartbeat_pause", "--seeds", "1"],
        ),
        ("year", vec!["--days", "1", "--no-report"]),
        (
            "ensemble",
            vec!["--seeds", "0", "--days", "1", "--no-report"],
        ),
    ] {
        let o = d.join(cmd);
        let mut args = vec![cmd, "-q", "--threads", "1", "--out", o.to_str().unwrap()];
        args.extend(extra);
        let out = chaosim(&args);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{cmd}: {out:?}");
        // year's --quiet only hides the progress bar; the others print
        // nothing but errors.
        assert!(
            (cmd == "year" || out.stdout.is_empty()) && out.stderr.is_empty(),
            "{cmd} -q: {out:?}"
        );
    }
}

/// `--json` (issue 22, item 8): list, validate, replay, audit verify, and
/// `run --json` with the seed and the anomaly counts by kind.
#[test]
fn json_output_of_list_validate_replay_audit_and_run() {
    let d = scratch("json");
    let lines = |o: &std::process::Output| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let list = lines(&chaosim(&["list", "--json"]));
    let text = String::from_utf8_lossy(&chaosim(&["list"]).stdout).into_owned();
    assert_eq!(
        text.lines().count(),
        list.len() + 2,
        "header and count lines"
    );
    let s02 = list.iter().find(|v| v["id"] == "S02_acl_spam").unwrap();
    assert_eq!(s02["family"], "Stress");
    assert!(s02["expected_safeguards"].is_array(), "{s02}");
    for f in [
        "title",
        "layer",
        "severity",
        "duration_s",
        "recovery_limit_s",
        "faults",
    ] {
        assert!(s02.get(f).is_some(), "{f}: {s02}");
    }

    let v = lines(&chaosim(&["validate", "--json"]));
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[0]["scenarios"].as_u64(), Some(list.len() as u64));
    let bad = d.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("X01_bad.ron"), "(id: \"X01_bad\",").unwrap();
    let out = chaosim(&["validate", "--json", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let v = lines(&out);
    assert_eq!(v[0]["ok"], false);
    assert!(
        v[0]["errors"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("X01_bad.ron")
    );
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));

    let y = d.join("year");
    let out = chaosim(&[
        "year",
        "--days",
        "1",
        "--threads",
        "1",
        "--no-report",
        "-q",
        "--out",
        y.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let v = lines(&chaosim(&[
        "replay",
        y.to_str().unwrap(),
        "--run",
        "1",
        "--json",
    ]));
    assert_eq!(v.len(), 3, "one object per item: {v:?}");
    assert!(v.iter().all(|r| r["matches"] == true && r["run"] == 1));
    let v = lines(&chaosim(&[
        "audit",
        "verify",
        y.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v[0]["ok"], true);
    assert!(v[0]["entries"].as_u64().unwrap() > 0);
    std::fs::write(y.join("audit.jsonl"), "{}\n").unwrap();
    let out = chaosim(&["audit", "verify", y.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = lines(&out);
    assert_eq!(v[0]["ok"], false);
    assert!(v[0]["error"].as_str().unwrap().contains("audit"), "{v:?}");

    // run --json: the seed and the checker's counts by kind, which add up
    // to `anomalies`; the digest is the one the text output prints.
    let out = chaosim(&["run", "JEP01_log_partition", "--json"]);
    let v = &lines(&out)[0];
    assert_eq!(v["seed"], 42);
    let by_kind = v["anomalies_by_kind"].as_object().unwrap();
    assert_eq!(by_kind.len(), 6, "{by_kind:?}");
    let sum: u64 = by_kind.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(sum, v["anomalies"].as_u64().unwrap());
    assert!(sum > 0, "JEP01 without its safeguards has anomalies");
    let plain =
        String::from_utf8_lossy(&chaosim(&["run", "JEP01_log_partition"]).stdout).into_owned();
    assert!(
        plain.contains(&format!(
            "digest          {}",
            v["digest"].as_str().unwrap()
        )),
        "{plain}"
    );
    let v = &lines(&chaosim(&["run", "S02_acl_spam", "--json", "--seed", "7"]))[0];
    assert_eq!(v["seed"], 7);
    assert!(v["anomalies_by_kind"].is_null(), "no replicated log: {v}");
}

/// `--json` summaries of selfcheck run, stress, year, swarm, sweep and
/// ensemble (issue 22, item 8): one object each, exit codes as without it.
#[test]
fn json_summaries_of_selfcheck_stress_year_swarm_sweep_and_ensemble() {
    let d = scratch("json-summaries");
    let one = |args: &[&str]| -> (Option<i32>, serde_json::Value) {
        let out = chaosim(args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(text.lines().count(), 1, "{args:?}: one line: {text}");
        (out.status.code(), serde_json::from_str(&text).unwrap())
    };
    let (code, v) = one(&[
        "selfcheck",
        "run",
        "S02_acl_spam,S01_heartbeat_pause",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(v["deterministic"], true);
    assert_eq!(v["outcomes"].as_array().unwrap().len(), 2);
    assert_eq!(v["outcomes"][0]["digest_a"], v["outcomes"][0]["digest_b"]);

    let (code, v) = one(&["stress", "--json"]);
    assert_eq!(code, Some(1), "failed rows");
    assert_eq!(v["report"]["waves"].as_array().unwrap().len(), 3);
    assert!(v["report"]["failed"].as_u64().unwrap() > 0);
    assert_eq!(v["compare"].as_array().unwrap().len(), 13);
    assert!(
        v["repro"]
            .as_str()
            .unwrap()
            .starts_with("chaosim stress --seed 42 ")
    );
    let text = String::from_utf8_lossy(&chaosim(&["stress"]).stdout).into_owned();
    assert!(text.contains(&format!(
        "digest             {}",
        v["report"]["digest"].as_str().unwrap()
    )));

    let y = d.join("year");
    let (code, v) = one(&[
        "year",
        "--days",
        "1",
        "--threads",
        "1",
        "--no-report",
        "--json",
        "--out",
        y.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(v["runs"], 5);
    assert_eq!(
        v["executions"].as_u64(),
        Some(v["passed"].as_u64().unwrap() + v["failed"].as_u64().unwrap())
    );
    assert!(v["report"].is_null());
    let (code, v) = one(&["selfcheck", "year", "--days", "1", "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(v["deterministic"], true);

    let sw = d.join("swarm");
    let (code, v) = one(&[
        "swarm",
        "--ids",
        "S02_acl_spam",
        "--seeds",
        "3",
        "--threads",
        "1",
        "--json",
        "--out",
        sw.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "S02 fails on the default stack");
    assert_eq!(v["rows"], 3);
    assert_eq!(v["failed"], 3);
    let counted: u64 = v["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["scenario"] == "S02_acl_spam")
        .map(|o| o["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 3);

    // sweep (both modes) and ensemble.
    let (code, v) = one(&[
        "sweep",
        "--rates",
        "0:0.2:0.1",
        "--n",
        "4",
        "--threads",
        "1",
        "--json",
        "--out",
        d.join("sweep").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(
        v["cells"].as_array().unwrap().len(),
        6,
        "3 rates x 2 variants"
    );
    assert_eq!(v["experiments"], 24);
    let (code, v) = one(&[
        "sweep",
        "--scenario",
        "S02_acl_spam",
        "--param",
        "intensity",
        "--values",
        "0.5:1:0.5",
        "--n",
        "2",
        "--threads",
        "1",
        "--fail-under",
        "0.9",
        "--json",
        "--out",
        d.join("scenario-sweep").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "below the gate");
    assert_eq!(v["values"].as_array().unwrap().len(), 2);
    assert_eq!(v["below"], serde_json::json!(["0.5", "1"]));
    let out = chaosim(&[
        "ensemble",
        "--seeds",
        "0:1",
        "--days",
        "1",
        "--threads",
        "1",
        "--no-report",
        "--json",
        "--out",
        d.join("ensemble").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["seeds"], 2);
    assert!(v["mastered"]["mean"].is_number());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .all(|l| l.starts_with("seed ")),
        "progress only on stderr"
    );
}

/// `--ids` of swarm and what-if: a list that names nothing, an id given
/// twice (its pairs would count twice) or an unknown id is bad input naming
/// `--ids`, and nothing is written. (`whatif --ids ""` once ran a what-if on
/// no scenario and exited 0; a doubled id was run and counted twice.)
#[test]
fn scenario_id_lists_name_something_once() {
    let dir = scratch("ids");
    let cases: [(&str, &str); 4] = [
        ("", "names no scenario"),
        (" , ", "names no scenario"),
        ("S02_acl_spam,S02_acl_spam", "'S02_acl_spam' is given twice"),
        ("S02_acl_spam,NOPE", "unknown scenario 'NOPE'"),
    ];
    for (k, (ids, needle)) in cases.iter().enumerate() {
        for command in ["swarm", "whatif"] {
            let out = dir.join(format!("{command}-{k}"));
            let mut args = vec![command, "--ids", ids, "--out", out.to_str().unwrap(), "-q"];
            if command == "whatif" {
                args.extend(["--candidates", "+quorum_ack", "--seeds", "0:1"]);
            } else {
                args.extend(["--seeds", "2"]);
            }
            let o = chaosim(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{command} --ids '{ids}': {err}");
            assert!(
                err.contains("--ids") && err.contains(needle),
                "{command} --ids '{ids}': {err}"
            );
            assert!(
                !out.exists(),
                "{command} --ids '{ids}' wrote {}",
                out.display()
            );
        }
    }
}

/// `--rates`: a negative step is named as the step; a positive rate below
/// the resolution is refused rather than swept as 0.
#[test]
fn rate_grids_name_the_part_that_is_wrong() {
    let o = chaosim(&["sweep", "--rates", "0:0.2:-0.1", "--n", "10", "-q"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("STEP -0.1 must be above 0"), "{err}");
    let o = chaosim(&["sweep", "--rates", "1e-320", "--n", "10", "-q"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("more than six decimals"), "{err}");
}

/// Shards of a swarm and of a what-if do not merge, and the refusal names
/// both kinds (it once called the swarm "a sweep").
#[test]
fn a_swarm_and_a_whatif_shard_are_named_by_kind() {
    let dir = scratch("kinds");
    let (sw, wi) = (dir.join("sw"), dir.join("wi"));
    let o = chaosim(&[
        "swarm",
        "--ids",
        "S02_acl_spam",
        "--seeds",
        "2",
        "--no-report",
        "-q",
        "--out",
        sw.to_str().unwrap(),
    ]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
    let o = chaosim(&[
        "whatif",
        "--ids",
        "S02_acl_spam",
        "--candidates",
        "+quorum_ack",
        "--seeds",
        "0:1",
        "--no-report",
        "-q",
        "--out",
        wi.to_str().unwrap(),
    ]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
    let merged = dir.join("m");
    let o = chaosim(&[
        "merge",
        sw.to_str().unwrap(),
        wi.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("this one is a what-if over scenarios, the other a swarm"),
        "{err}"
    );
    assert!(!merged.exists());
}
