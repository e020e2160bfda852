//! Reports: links resolve, plots carry their titles and axis labels, PNGs are
//! valid, rendering is deterministic, unknown inputs are clear usage errors,
//! and the folds stay bounded.

use std::path::{Path, PathBuf};

use chaosim::Result;
use chaosim::engine::{Digest, SeedPath};
use chaosim::program::Programme;
use chaosim::program::year::{YearConfig, run_programme};
use chaosim::report::timeline::{MAX_POINTS, TimelineRow, TimelineWriter};
use chaosim::report::year::YearFold;
use chaosim::report::{self, ReportIndex, ReportKind};
use chaosim::safeguard::{Safeguard, SafeguardSet, Signal};
use chaosim::scenario::{
    Catalogue, Detection, Execution, Executor, FailureKind, FaultRef, Outcome,
};
use chaosim::sweep::runner::SUMMARY_HEADER;

/// Scripted executor (as in tests/programme.rs): passes iff every expected
/// safeguard is deployed; recovery times vary with the run's digest so the
/// distributions are not flat.
struct Scripted<'a> {
    cat: &'a Catalogue,
}

impl Executor for Scripted<'_> {
    fn execute(&self, exec: &Execution) -> Result<Vec<Outcome>> {
        Ok(exec
            .items
            .iter()
            .map(|it| {
                let spec = self.cat.get(&it.scenario).unwrap();
                let expected = spec.expected_safeguards;
                let fired = expected.intersection(exec.deployed);
                let missing = expected.difference(fired);
                let digest = Digest::from_value(
                    SeedPath::root(exec.seed)
                        .child_u64(exec.run)
                        .child(&it.scenario)
                        .seed(),
                );
                let limit_s = spec.recovery_limit_ns as f64 / 1e9;
                let v = digest.value();
                let recovered = missing.is_empty() || !v.is_multiple_of(3);
                let recovery = limit_s
                    * (0.1
                        + (v % 1000) as f64 / 1000.0 * if missing.is_empty() { 0.8 } else { 1.6 });
                let passed = missing.is_empty() && recovered && recovery <= limit_s;
                let mut kinds = vec![];
                if !missing.is_empty() {
                    kinds.push(FailureKind::SafeguardMissing);
                }
                if !recovered {
                    kinds.insert(0, FailureKind::NotRecovered);
                } else if recovery > limit_s {
                    kinds.insert(0, FailureKind::RecoveryExceeded);
                }
                Outcome {
                    id: it.scenario.clone(),
                    difficulty: it.difficulty,
                    passed,
                    recovery_s: recovered.then_some(recovery),
                    recovery_limit_s: limit_s,
                    failure_reason: (!passed).then(|| "scripted".to_string()),
                    failure_kinds: kinds,
                    safeguards_expected: expected,
                    safeguards_fired: fired,
                    safeguards_missing: missing,
                    safeguards_needed: missing
                        .iter()
                        .map(|sg| Detection {
                            safeguard: sg,
                            at_s: 5.0,
                            signal: Signal::QueueDepth,
                            value: 2,
                            threshold: 1,
                            cause: FaultRef {
                                scenario: it.scenario.clone(),
                                fault: 0,
                                kind: spec.faults[0].kind,
                            },
                            expected: true,
                        })
                        .collect(),
                    safeguards_firings: Vec::new(),
                    safeguards_not_exercised: SafeguardSet::EMPTY,
                    safeguards_deployed: exec.deployed,
                    anomalies: 0,
                    linearizability: None,
                    governance: Default::default(),
                    alerts: Default::default(),
                    events: 100 + v % 50,
                    digest,
                }
            })
            .collect())
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("report")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.parent().unwrap()).unwrap();
    d
}

/// A year folder of `days` days written by the real programme driver.
fn year_folder(name: &str, days: u64) -> PathBuf {
    let cat = Catalogue::embedded().unwrap();
    let prog = Programme::embedded();
    let dir = tmp(name);
    let cfg = YearConfig {
        seed: 11,
        runs_total: prog.slots.len() as u64 * days,
        out: dir.clone(),
        resume: false,
        force: false,
        initial_deployed: SafeguardSet::EMPTY
            .with(Safeguard::HeartbeatWatchdog)
            .with(Safeguard::KernelWatchdog),
        inputs_fingerprint: 1,
        handles: Default::default(),
    };
    run_programme(&cfg, &prog, &cat, &Scripted { cat: &cat }, &mut |_, _| {}).unwrap();
    dir
}

fn sweep_folder(name: &str) -> PathBuf {
    let dir = tmp(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = String::from(SUMMARY_HEADER);
    for (v, variant) in ["baseline", "playbook"].iter().enumerate() {
        for i in 0..6 {
            let rate = i as f64 * 0.1;
            let n = 200u64;
            let sr = (1.0 - rate * if v == 0 { 1.6 } else { 0.5 }).max(0.0);
            let succ = (sr * n as f64).round() as u64;
            let ci = (sr * (1.0 - sr) / n as f64).sqrt() * 1.96 + 0.01;
            s.push_str(&format!(
                "{rate},{variant},{n},{succ},{sr:.6},{:.6},{:.6},0,0,0,0,{:.6},1,1,1,{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{},0,0,0\n",
                (sr - ci).max(0.0),
                (sr + ci).min(1.0),
                100.0 + rate * 400.0,
                90.0 + rate * 300.0,
                150.0 + rate * 900.0,
                200.0 + rate * 1500.0,
                400.0 + rate * 2000.0,
                3.0 + rate * 5.0,
                rate * if v == 0 { 2.0 } else { 4.0 },
                i * 3 * v,
                i * 5 * v,
                i * 2 * v,
            ));
        }
    }
    std::fs::write(dir.join("summary.csv"), s).unwrap();
    dir
}

/// A synthetic timeline written with the public writer: 3 fault windows.
fn timeline_file(name: &str, samples: u32) -> PathBuf {
    let path = tmp(name).with_extension("csv");
    let f = std::fs::File::create(&path).unwrap();
    let mut w = TimelineWriter::new(std::io::BufWriter::new(f)).unwrap();
    for i in 0..samples {
        let t = i as f64;
        let faults = match i {
            60..=119 => "kernel_crash",
            200..=259 => "bus_partition;cpu_hog",
            400..=439 => "kernel_crash",
            _ => "",
        };
        let hit = !faults.is_empty();
        w.write(&TimelineRow {
            t_s: t,
            kernels_running: if faults.contains("kernel") { 6 } else { 8 },
            kernels_total: 8,
            queue_depth: if hit {
                40 + (i % 20) as u64 * 3
            } else {
                5 + (i % 7) as u64
            },
            cpu_utilisation: if faults.contains("cpu") {
                0.95
            } else {
                0.4 + (i % 10) as f64 / 100.0
            },
            memory_utilisation: 0.55,
            bus_latency_ms: if faults.contains("bus") { 80.0 } else { 4.0 },
            api_success_rate: if hit { 0.7 } else { 0.99 },
            healthy: !hit,
            faults_active: faults.to_string(),
        })
        .unwrap();
    }
    assert_eq!(w.rows(), samples as u64);
    w.finish().unwrap();
    path
}

/// Every href/src of index.html is relative and names an existing file.
fn check_links(index: &ReportIndex) {
    let html = std::fs::read_to_string(&index.html).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from the network"
    );
    let mut n = 0;
    for attr in ["href=\"", "src=\""] {
        for part in html.split(attr).skip(1) {
            let link = &part[..part.find('"').unwrap()];
            if link.starts_with('#') {
                continue;
            }
            assert!(
                !link.starts_with('/') && !link.contains(':'),
                "relative link {link}"
            );
            assert!(index.out.join(link).is_file(), "link {link} resolves");
            n += 1;
        }
    }
    assert!(
        n >= 3 * index.plots.len(),
        "every plot is linked as img, SVG and PNG"
    );
    let md = std::fs::read_to_string(&index.summary_md).unwrap();
    for p in &index.plots {
        assert!(md.contains(&format!("({}.png)", p.stem)));
    }
}

/// Width and height from a PNG's IHDR, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert!(
        b.len() > 5_000,
        "{} is non-trivial ({} bytes)",
        path.display(),
        b.len()
    );
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&b[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

/// Each plot's SVG contains the given texts (title and axis labels).
fn check_plots(index: &ReportIndex, expect: &[(&str, &[&str])]) {
    assert_eq!(index.plots.len(), expect.len());
    for (p, (stem, texts)) in index.plots.iter().zip(expect) {
        assert_eq!(&p.stem, stem);
        let svg = std::fs::read_to_string(index.out.join(format!("{stem}.svg"))).unwrap();
        for t in *texts {
            assert!(svg.contains(t), "{stem}.svg contains {t:?}");
        }
        assert!(
            svg.matches("<text").count() >= 8,
            "{stem}.svg has tick labels"
        );
        let (w, h) = png_size(&index.out.join(format!("{stem}.png")));
        assert!(w >= 800 && h >= 400, "{stem}.png is {w}x{h}");
    }
}

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn year_report_has_all_plots_labelled_and_links_resolve() {
    let dir = year_folder("year60", 60);
    let index = report::render_any(&dir, None).unwrap();
    assert_eq!(index.kind, ReportKind::Year);
    assert_eq!(index.out, dir.join("report"));
    check_links(&index);
    check_plots(
        &index,
        &[
            (
                "pass_rate",
                &[
                    "Scenario pass rate per day",
                    "day of the programme",
                    "pass rate (fraction of executions)",
                    "rolling 7-day pass rate",
                ],
            ),
            (
                "difficulty",
                &[
                    "Difficulty level per scenario and week",
                    "week of the programme",
                    "scenario",
                    "level",
                ],
            ),
            (
                "recovery",
                &[
                    "Recovery time per scenario against its limit",
                    "recovery time (s, log scale)",
                    "recovery limit",
                ],
            ),
            (
                "safeguards",
                &[
                    "Safeguard lifecycle",
                    "day of the programme",
                    "safeguard",
                    "generated",
                    "deployed",
                ],
            ),
            (
                "failure_modes",
                &[
                    "Failures by kind",
                    "failure kind",
                    "failed executions (count)",
                    "safeguard missing",
                ],
            ),
        ],
    );
    // The mechanism behind the pictures: the fold saw what the files hold.
    let fold = report::year::fold(&dir).unwrap();
    assert_eq!(fold.days(), 60);
    assert!(fold.safeguard_event_counts[0] > 0 && fold.safeguard_event_counts[2] > 0);
    assert!(fold.failure_kinds.contains_key("safeguard_missing"));
    let html = std::fs::read_to_string(&index.html).unwrap();
    assert!(html.contains("Learning summary"), "learning table present");
    assert!(html.contains("total ("), "learning totals row");
    // What made the page and how to check it, from the checkpoint.
    for fact in [
        "<dt>seed</dt><dd>11</dd>",
        "<dt>digest of the run</dt>",
        "chaosim year --seed 11 --days 60",
        "chaosim replay ",
    ] {
        assert!(html.contains(fact), "page states {fact:?}");
    }
    assert!(
        html.contains("Safeguard lifecycle (from safeguards.csv)"),
        "lifecycle table"
    );
    // The lifecycle plot spans the days where safeguard events are.
    let last = fold.safeguard_events.iter().map(|e| e.day).max().unwrap();
    let drawn = report::year::lifecycle_days_drawn(&fold);
    assert!(
        drawn > last && drawn <= 60,
        "drawn {drawn}, last event day {last}"
    );
}

#[test]
fn sweep_report_has_all_plots_labelled_and_links_resolve() {
    let dir = sweep_folder("sweep");
    let out = dir.join("elsewhere");
    let index = report::render_any(&dir, Some(&out)).unwrap();
    assert_eq!(index.kind, ReportKind::Sweep);
    assert_eq!(index.out, out);
    check_links(&index);
    check_plots(
        &index,
        &[
            (
                "success_rate",
                &[
                    "Success rate vs injected failure rate",
                    "injected failure rate (fraction of calls)",
                    "workflow success rate (fraction)",
                    "baseline",
                    "playbook",
                ],
            ),
            (
                "latency",
                &["latency percentiles", "latency (ms)", "baseline p99"],
            ),
            (
                "retries_breaker",
                &[
                    "Retries and circuit-breaker openings",
                    "mean retries per experiment",
                    "breaker openings per experiment",
                ],
            ),
        ],
    );
}

#[test]
fn timeline_report_shades_fault_windows() {
    let path = timeline_file("timeline", 600);
    let index = report::render_any(&path, None).unwrap();
    assert_eq!(index.kind, ReportKind::Timeline);
    assert_eq!(
        index.out,
        PathBuf::from(format!("{}.report", path.display()))
    );
    check_links(&index);
    check_plots(
        &index,
        &[(
            "timeline",
            &[
                "Single run: kernels, queue",
                "scenario time (s)",
                "kernels (count)",
                "tasks waiting (count)",
                "fraction (0-1)",
                "latency (ms)",
                "fault: kernel_crash",
            ],
        )],
    );
    let f = report::timeline::fold(&path).unwrap();
    let w: Vec<(f64, f64, &str)> = f
        .windows
        .iter()
        .map(|w| (w.start_s, w.end_s, w.faults.as_str()))
        .collect();
    assert_eq!(
        w,
        vec![
            (60.0, 120.0, "kernel_crash"),
            (200.0, 260.0, "bus_partition;cpu_hog"),
            (400.0, 440.0, "kernel_crash")
        ]
    );
    assert_eq!(f.unhealthy_samples, 160);
}

#[test]
fn rendering_twice_gives_identical_bytes() {
    let dir = year_folder("year_det", 14);
    let a = report::year::render(&dir, &dir.join("a")).unwrap();
    let b = report::year::render(&dir, &dir.join("b")).unwrap();
    assert_eq!(a.plots, b.plots);
    assert_eq!(read_all(&a.out), read_all(&b.out));
    let t = timeline_file("timeline_det", 300);
    let ta = report::timeline::render(&t, &tmp("tl_a")).unwrap();
    let tb = report::timeline::render(&t, &tmp("tl_b")).unwrap();
    assert_eq!(read_all(&ta.out), read_all(&tb.out));
}

#[test]
fn neither_kind_is_a_clear_usage_error_with_exit_2() {
    let dir = tmp("neither");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "hello").unwrap();
    let e = report::render_any(&dir, None).unwrap_err();
    assert!(e.is_input());
    assert!(
        e.to_string().contains("is not a folder chaosim writes"),
        "{e}"
    );
    let e = report::render_any(&dir.join("notes.txt"), None).unwrap_err();
    assert!(e.to_string().contains("not a timeline CSV"), "{e}");
    let out = assert_cmd::Command::cargo_bin("chaosim")
        .unwrap()
        .args(["report", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    // A timeline with a broken row: a located syntax error, also exit 2.
    let bad = dir.join("bad_timeline.csv");
    std::fs::write(
        &bad,
        format!("{}1,2,3\n", chaosim::report::timeline::TIMELINE_HEADER),
    )
    .unwrap();
    let e = report::render_any(&bad, None).unwrap_err();
    assert!(e.is_input(), "{e}");
    assert!(e.to_string().contains("bad_timeline.csv:2:"), "{e}");
}

#[test]
fn cli_renders_a_sweep_folder() {
    let dir = sweep_folder("sweep_cli");
    let out = assert_cmd::Command::cargo_bin("chaosim")
        .unwrap()
        .args(["report", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("report/index.html").is_file());
    assert!(dir.join("report/summary.md").is_file());
}

fn chaosim(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("chaosim")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn swarm_writes_its_report_and_report_renders_the_folder_again() {
    let dir = tmp("swarm");
    let d = dir.to_str().unwrap();
    let out = chaosim(&[
        "swarm",
        "--ids",
        "S01_heartbeat_pause,MF01_triple_threat",
        "--seeds",
        "6",
        "--out",
        d,
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "MF01 fails some seeds: exit 1, outputs kept; {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("report: "), "{stdout}");
    let html = std::fs::read_to_string(dir.join("report/index.html")).unwrap();
    assert!(html.contains("Failing seeds"), "failing seeds table");
    assert!(
        html.contains("chaosim run MF01_triple_threat --seed"),
        "handles shown"
    );
    // `chaosim report` tells the folder apart and renders the same page.
    let again = dir.join("again");
    let index = report::render_any(&dir, Some(&again)).unwrap();
    assert_eq!(index.kind, ReportKind::Swarm);
    check_links(&index);
    check_plots(
        &index,
        &[(
            "outcomes",
            &["Outcomes per scenario", "share of the scenario", "passed"],
        )],
    );
    assert_eq!(
        std::fs::read(again.join("index.html")).unwrap(),
        html.into_bytes(),
        "the page depends on the folder alone"
    );
}

#[test]
fn scenario_sweep_writes_its_report_with_pass_rate_recovery_and_verdicts() {
    let dir = tmp("ssweep");
    let d = dir.to_str().unwrap();
    let out = chaosim(&[
        "sweep",
        "--scenario",
        "S02_acl_spam",
        "--param",
        "intensity",
        "--values",
        "0.2:1:0.4",
        "--n",
        "4",
        "--out",
        d,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = report::render_any(&dir, Some(&dir.join("again"))).unwrap();
    assert_eq!(index.kind, ReportKind::ScenarioSweep);
    check_links(&index);
    check_plots(
        &index,
        &[
            (
                "pass_rate",
                &[
                    "Pass rate against the swept value",
                    "intensity (swept value)",
                ],
            ),
            (
                "recovery",
                &["Recovery time quantiles", "recovery time (s)"],
            ),
            ("verdicts", &["Verdicts per swept value", "seeds (count)"]),
        ],
    );
    assert!(dir.join("report/index.html").is_file());
}

#[test]
fn no_report_writes_none_and_a_report_in_the_way_is_refused_before_the_run() {
    let dir = tmp("swarm_noreport");
    let d = dir.to_str().unwrap();
    let args = [
        "swarm",
        "--ids",
        "S01_heartbeat_pause",
        "--seeds",
        "2",
        "--out",
        d,
    ];
    let out = chaosim(&[&args[..], &["--no-report"]].concat());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("swarm.csv").is_file());
    assert!(!dir.join("report").exists(), "--no-report writes no report");

    let busy = tmp("swarm_busy");
    std::fs::create_dir_all(busy.join("report")).unwrap();
    std::fs::write(busy.join("report/index.html"), "mine").unwrap();
    let b = busy.to_str().unwrap();
    let out = chaosim(&[
        "swarm",
        "--ids",
        "S01_heartbeat_pause",
        "--seeds",
        "2",
        "--out",
        b,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("index.html"), "{err}");
    assert!(
        !busy.join("swarm.csv").exists(),
        "nothing run, nothing written"
    );
    assert_eq!(
        std::fs::read_to_string(busy.join("report/index.html")).unwrap(),
        "mine"
    );
}

#[test]
fn folds_are_bounded_by_what_is_drawn_not_by_rows() {
    // 200k outcomes over 14 days: the fold holds 14 day counters, 2 weeks per
    // scenario and two sketches, however many rows.
    let mut f = YearFold::default();
    for i in 0..200_000u64 {
        let sc = if i % 2 == 0 { "a" } else { "b" };
        f.outcome(
            i % 14,
            sc,
            1 + (i % 10) as u8,
            !i.is_multiple_of(3),
            Some((i % 997) as f64 / 10.0),
            60.0,
            "not_recovered",
        );
    }
    assert_eq!(f.per_day.len(), 14);
    assert_eq!(f.scenarios.len(), 2);
    assert!(f.scenarios.iter().all(|s| s.level_by_week.len() == 2));
    assert_eq!(
        f.scenarios[0].recovery_ms.count() + f.scenarios[1].recovery_ms.count(),
        200_000
    );
    assert_eq!(f.failure_kinds.len(), 1);
    // A long timeline is decimated to at most MAX_POINTS drawn samples, but
    // every sample counts and every window is found.
    let path = timeline_file("timeline_long", 3 * MAX_POINTS as u32 + 17);
    let t = report::timeline::fold(&path).unwrap();
    assert_eq!(t.samples(), 3 * MAX_POINTS as u64 + 17);
    assert_eq!(t.windows.len(), 3);
    let idx = report::timeline::render(&path, &tmp("tl_long")).unwrap();
    assert_eq!(idx.plots.len(), 1);
}

/// A trace cut short or with lines that are no events, and an outcomes
/// file beside a timeline whose line carries no verdict, are bad input
/// (exit 2, located), not a page drawn from what could be read.
#[test]
fn a_cut_trace_or_an_outcome_without_a_verdict_is_refused() {
    let d = tmp("refused-inputs");
    std::fs::create_dir_all(&d).unwrap();
    let bin = env!("CARGO_BIN_EXE_chaosim");
    let report = |file: &Path, out: &str| {
        std::process::Command::new(bin)
            .arg("report")
            .arg(file)
            .arg("--out")
            .arg(d.join(out))
            .output()
            .unwrap()
    };
    let trace = d.join("t.json");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin).args(args).output().unwrap();
        assert!(out.status.code().is_some_and(|c| c <= 1));
    };
    run(&[
        "run",
        "S01_heartbeat_pause",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(report(&trace, "ok").status.success());
    let text = std::fs::read_to_string(&trace).unwrap();
    let cut: String = text.lines().take(5).map(|l| format!("{l}\n")).collect();
    let junk = format!("{cut}not an event\n],\"displayTimeUnit\":\"ms\"}}\n");
    for (name, body, says) in [
        ("cut.json", cut.as_str(), "cut short"),
        ("junk.json", junk.as_str(), "not a trace event"),
    ] {
        let f = d.join(name);
        std::fs::write(&f, body).unwrap();
        let page = format!("{name}.page");
        let out = report(&f, &page);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(name) && err.contains(says), "{name}: {err}");
        assert!(!d.join(&page).exists(), "{name}: a page was written");
    }
    let timeline = d.join("s02.csv");
    run(&[
        "run",
        "S02_acl_spam",
        "--timeline",
        timeline.to_str().unwrap(),
    ]);
    std::fs::write(d.join("s02.outcomes.jsonl"), "{\"x\":1}\n").unwrap();
    let out = report(&timeline, "s02");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("s02.outcomes.jsonl:1:1") && err.contains("not an outcome line"),
        "{err}"
    );
}
