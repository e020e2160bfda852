//! The programme what-if ([`chaosim::sweep::whatif_programme`]): whole
//! programmes paired over seeds, baseline against candidate initial
//! safeguards.
//!
//! The embedded programme masters nothing in a few days (ten levels of five
//! passes each), so these tests run a fast-escalation programme (the
//! embedded one with `passes_min: 1`, `level_max: 2`) for 3-4 days: scenarios
//! are mastered within days and a candidate's effect on mastery is
//! measurable. The asserted figures are the ones measured on that
//! programme, seeds 0-2, 4 days (see [`shared`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chaosim::model::stack::StackSpec;
use chaosim::program::Programme;
use chaosim::program::ensemble::{EnsembleSpec, run_seed};
use chaosim::program::spec::DEFAULT_PROGRAMME_RON;
use chaosim::program::year::{RunDetail, run_programme_observed, run_programme_quiet};
use chaosim::safeguard::{Safeguard, SafeguardSet};
use chaosim::scenario::Catalogue;
use chaosim::scenario::repro::FileIds;
use chaosim::scenario::run::Runner;
use chaosim::shard::Progress;
use chaosim::sweep::whatif::Candidate;
use chaosim::sweep::whatif_programme::{
    OUT_FILES, ProgrammeBaseline, ProgrammeCandidateReport, ProgrammeWhatifReport,
    ProgrammeWhatifSpec, programme_run, run_programme_whatif, write_out,
};

/// The embedded programme with a two-level, one-pass escalation rule.
fn quick_ron() -> String {
    let text = DEFAULT_PROGRAMME_RON
        .replace("passes_min: 5", "passes_min: 1")
        .replace("level_max: 10", "level_max: 2");
    assert_ne!(text, DEFAULT_PROGRAMME_RON);
    text
}

fn quick() -> Programme {
    Programme::parse(&quick_ron(), Path::new("quick.ron")).unwrap()
}

struct Inputs {
    prog: Programme,
    cat: Catalogue,
    stack: StackSpec,
}

fn inputs() -> &'static Inputs {
    static I: OnceLock<Inputs> = OnceLock::new();
    I.get_or_init(|| Inputs {
        prog: quick(),
        cat: Catalogue::embedded().unwrap(),
        stack: StackSpec::embedded(),
    })
}

fn candidates(specs: &[&str]) -> Vec<Candidate> {
    let default = inputs().stack.default_safeguards();
    specs
        .iter()
        .map(|s| Candidate {
            label: s.to_string(),
            deployed: SafeguardSet::from_spec(s, default).unwrap(),
            stack: None,
        })
        .collect()
}

fn run(specs: &[&str], seeds: (u64, u64), days: u64, threads: usize) -> ProgrammeWhatifReport {
    run_candidates(&candidates(specs), seeds, days, threads)
}

fn run_candidates(
    cands: &[Candidate],
    seeds: (u64, u64),
    days: u64,
    threads: usize,
) -> ProgrammeWhatifReport {
    let i = inputs();
    let base = ProgrammeBaseline {
        programme: &i.prog,
        catalogue: &i.cat,
        stack: &i.stack,
        deployed: i.stack.default_safeguards(),
        inputs_fingerprint: 0,
    };
    let spec = ProgrammeWhatifSpec {
        seeds,
        days,
        threads,
        progress: Progress::none(),
    };
    run_programme_whatif(&base, cands, &spec, None).unwrap()
}

/// The embedded stack with the cascade detector in Layer 2's default set
/// (a `stack=FILE` candidate).
fn cascade_stack() -> StackSpec {
    let mut s = StackSpec::embedded();
    s.layer2
        .default_safeguards
        .insert(Safeguard::CascadeDetector);
    s
}

const DAYS: u64 = 4;
const SEEDS: (u64, u64) = (0, 3);

/// Seeds 0-2, 4 days, on 2 threads: a relevant candidate
/// (`+cascade_detector`), one the programme never needs in these days
/// (`+trigger_mesh_backpressure`), one that removes a safeguard
/// (`-circuit_breaker`), one identical to the baseline
/// (`+heartbeat_watchdog` is in the default set) and another stack
/// ([`cascade_stack`], with its default set). Computed once for the tests
/// that read it.
fn shared() -> &'static ProgrammeWhatifReport {
    static R: OnceLock<ProgrammeWhatifReport> = OnceLock::new();
    R.get_or_init(|| {
        let mut cands = candidates(&[
            "+trigger_mesh_backpressure",
            "+cascade_detector",
            "-circuit_breaker",
            "+heartbeat_watchdog",
        ]);
        let stack = cascade_stack();
        cands.push(Candidate {
            label: "stack=cascade.ron".into(),
            deployed: stack.default_safeguards(),
            stack: Some((stack, FileIds::default())),
        });
        run_candidates(&cands, SEEDS, DAYS, 2)
    })
}

fn candidate<'r>(r: &'r ProgrammeWhatifReport, label: &str) -> &'r ProgrammeCandidateReport {
    r.candidates.iter().find(|c| c.label == label).unwrap()
}

#[test]
fn the_report_does_not_depend_on_the_thread_count() {
    let specs = ["-circuit_breaker", "+cascade_detector"];
    let one = run(&specs, (0, 2), 3, 1);
    let two = run(&specs, (0, 2), 3, 2);
    assert_eq!(one, two);
    assert_eq!(
        serde_json::to_string(&one).unwrap(),
        serde_json::to_string(&two).unwrap()
    );
    assert_eq!(one.programmes, 6);
}

#[test]
fn a_relevant_candidate_changes_mastery_and_safeguards_an_irrelevant_one_nothing() {
    let r = shared();
    assert_eq!((r.seeds, r.days, r.runs_total), (SEEDS, DAYS, 20));
    // Measured: the baseline masters 6.67 scenarios and deploys 8 fixes
    // per seed on average.
    assert!((r.baseline_mastered - 20.0 / 3.0).abs() < 1e-9);
    assert_eq!(r.baseline_safeguards, 8.0);

    // +cascade_detector: L2_event_policy_cascade is mastered (day 2) on
    // every seed, never by the baseline, and the programme no longer has
    // to generate and deploy the cascade detector: one scenario more and
    // one deployment less on each seed, so both intervals have zero width.
    let c = candidate(r, "+cascade_detector");
    assert_eq!(c.rank, 1);
    assert_eq!(
        (
            c.mastered_change,
            c.mastered_change_low,
            c.mastered_change_high
        ),
        (1.0, 1.0, 1.0)
    );
    assert_eq!(
        (
            c.safeguards_change,
            c.safeguards_change_low,
            c.safeguards_change_high
        ),
        (-1.0, -1.0, -1.0)
    );
    assert_eq!(c.scenarios.len(), 1);
    let s = &c.scenarios[0];
    assert_eq!(s.id, "L2_event_policy_cascade");
    assert_eq!((s.candidate_only, s.baseline_only, s.both), (3, 0, 0));
    assert_eq!(s.days_saved, None);
    let ex = s.example.as_ref().unwrap();
    assert_eq!(ex.seed, 0);
    assert_eq!(ex.baseline.first_mastered_day, None);
    assert_eq!(ex.candidate.first_mastered_day, Some(2));
    assert_eq!(ex.candidate.safeguards, "+cascade_detector");
    assert_eq!(ex.baseline.safeguards, "default");
    let sg = c
        .safeguards
        .iter()
        .find(|t| t.safeguard == "cascade_detector")
        .unwrap();
    assert!(sg.candidate_initial && !sg.baseline_initial);
    assert_eq!((sg.baseline_deployed, sg.candidate_deployed), (3, 0));

    // -circuit_breaker: the programme generates it back on every seed.
    let c = candidate(r, "-circuit_breaker");
    assert_eq!(
        (
            c.generated_change,
            c.generated_change_low,
            c.generated_change_high
        ),
        (1.0, 1.0, 1.0)
    );
    let sg = c
        .safeguards
        .iter()
        .find(|t| t.safeguard == "circuit_breaker")
        .unwrap();
    assert!(sg.baseline_initial && !sg.candidate_initial);
    assert_eq!(sg.baseline_deployed, 0);
    assert!(sg.candidate_deployed >= 1, "{sg:?}");

    // +trigger_mesh_backpressure is never needed on these seeds and days:
    // the programmes are the baseline's, to the pass.
    let c = candidate(r, "+trigger_mesh_backpressure");
    for (x, lo, hi) in [
        (
            c.mastered_change,
            c.mastered_change_low,
            c.mastered_change_high,
        ),
        (
            c.safeguards_change,
            c.safeguards_change_low,
            c.safeguards_change_high,
        ),
        (
            c.generated_change,
            c.generated_change_low,
            c.generated_change_high,
        ),
        (
            c.pass_rate_change,
            c.pass_rate_change_low,
            c.pass_rate_change_high,
        ),
    ] {
        assert_eq!((x, lo, hi), (0.0, 0.0, 0.0));
    }
    assert!(c.scenarios.is_empty() && c.safeguards.is_empty());
    // Ranked after every candidate that gains scenarios.
    assert!(c.rank > candidate(r, "+cascade_detector").rank);
}

#[test]
fn a_candidate_identical_to_the_baseline_changes_nothing() {
    let r = shared();
    let c = candidate(r, "+heartbeat_watchdog");
    assert_eq!(c.deployed, r.baseline);
    assert_eq!(c.seeds, 3);
    assert_eq!(c.candidate_mastered, r.baseline_mastered);
    assert_eq!(c.candidate_safeguards, r.baseline_safeguards);
    assert_eq!(c.candidate_generated, r.baseline_generated);
    assert_eq!(c.candidate_pass_rate, r.baseline_pass_rate);
    for v in [
        c.mastered_change,
        c.mastered_change_low,
        c.mastered_change_high,
        c.safeguards_change,
        c.safeguards_change_low,
        c.safeguards_change_high,
        c.generated_change,
        c.generated_change_low,
        c.generated_change_high,
        c.pass_rate_change,
        c.pass_rate_change_low,
        c.pass_rate_change_high,
    ] {
        assert_eq!(v, 0.0);
    }
    assert!(c.scenarios.is_empty() && c.safeguards.is_empty());
}

#[test]
fn a_stack_candidate_runs_on_its_stack_with_its_spec_against_its_own_default_set() {
    let r = shared();
    let s = candidate(r, "stack=cascade.ron");
    let c = candidate(r, "+cascade_detector");
    // The same initial safeguards as +cascade_detector, from its own
    // stack's default set: measured, the same programmes.
    assert_eq!(s.deployed, c.deployed);
    for (a, b) in [
        (s.mastered_change, c.mastered_change),
        (s.safeguards_change, c.safeguards_change),
        (s.generated_change, c.generated_change),
        (s.pass_rate_change, c.pass_rate_change),
    ] {
        assert_eq!(a, b);
    }
    let (es, ec) = (
        s.scenarios[0].example.as_ref().unwrap(),
        c.scenarios[0].example.as_ref().unwrap(),
    );
    assert_eq!(es.candidate.digest, ec.candidate.digest);
    // Its spec is against its stack's default set: `chaosim year --stack
    // cascade.ron --safeguards default`.
    assert_eq!(es.candidate.safeguards, "default");
    assert_eq!(ec.candidate.safeguards, "+cascade_detector");
}

fn year_digest_from_the_binary(seed: u64, days: u64, safeguards: &str, name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("whatif_programme");
    std::fs::create_dir_all(&dir).unwrap();
    let prog = dir.join("quick.ron");
    std::fs::write(&prog, quick_ron()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chaosim"))
        .args([
            "year",
            "--seed",
            &seed.to_string(),
            "--days",
            &days.to_string(),
        ])
        .arg(format!("--safeguards={safeguards}"))
        .arg("--programme")
        .arg(&prog)
        .arg("--out")
        .arg(dir.join(name))
        .args(["--force", "--no-report", "--quiet", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["digest"].as_str().unwrap().to_string()
}

#[test]
fn the_examples_digests_are_those_chaosim_year_and_the_ensemble_give() {
    let r = shared();
    let i = inputs();
    let c = candidate(r, "+cascade_detector");
    let ex = c.scenarios[0].example.as_ref().unwrap();
    let runner = Runner {
        catalogue: &i.cat,
        stack: &i.stack,
        threads: 1,
    };
    let default = i.stack.default_safeguards();
    for (side, deployed, name) in [
        (&ex.baseline, r.baseline, "baseline"),
        (&ex.candidate, c.deployed, "candidate"),
    ] {
        assert_eq!(
            SafeguardSet::from_spec(&side.safeguards, default).unwrap(),
            deployed
        );
        // What `chaosim year --seed S --days N --safeguards SPEC` prints.
        let year = year_digest_from_the_binary(ex.seed, ex.days, &side.safeguards, name);
        assert_eq!(side.digest, year, "{name}");
        // The ensemble's row of that seed with that initial set.
        let spec = EnsembleSpec {
            seed_from: ex.seed,
            seed_to: ex.seed,
            runs_total: r.runs_total,
            initial_deployed: deployed,
            inputs_fingerprint: 0,
        };
        let p = spec.params(&i.prog, &i.cat).ensemble.0;
        let row = run_seed(ex.seed, &p, deployed, &i.prog, &i.cat, &runner).unwrap();
        assert_eq!(side.digest, row.digest, "{name}");
    }
    assert_ne!(ex.baseline.digest, ex.candidate.digest);
}

#[test]
fn the_measurements_are_the_programmes_own() {
    let i = inputs();
    let runner = Runner {
        catalogue: &i.cat,
        stack: &i.stack,
        threads: 1,
    };
    let deployed = i.stack.default_safeguards();
    let (seed, runs) = (1, DAYS * i.prog.slots.len() as u64);
    let m = programme_run(seed, runs, deployed, &i.prog, &i.cat, &runner).unwrap();
    let quiet =
        run_programme_quiet(seed, runs, deployed, &i.prog, &i.cat, &runner, &mut |_| {}).unwrap();
    // The detailed observer runs the same programme.
    let mut last = None;
    let observed = run_programme_observed(
        seed,
        runs,
        deployed,
        &i.prog,
        &i.cat,
        &runner,
        &mut |d: &RunDetail<'_>| last = Some((d.observation.run, d.mastered)),
    )
    .unwrap();
    assert_eq!(observed, quiet);
    assert_eq!(m.digest, quiet.digest.to_string());
    // The mastered count after the last run is the summary's.
    assert_eq!(last, Some((runs - 1, quiet.mastered)));
    assert_eq!(m.mastered, quiet.mastered as u64);
    assert!(m.mastered > 0, "the quick programme masters scenarios");
    // Every scenario mastered at the end became mastered on some day.
    let ever = m.first_mastered_day.iter().filter(|d| d.is_some()).count();
    assert!(ever as u64 >= m.mastered, "{ever} < {}", m.mastered);
    // One first deployment per fix the programme deployed.
    let days = m.deployed_day.iter().filter(|d| d.is_some()).count();
    assert_eq!(days as u64, m.deployed);
    assert_eq!(m.deployed, quiet.totals.deployed);
    assert_eq!(m.generated, quiet.totals.generated);
    assert_eq!(
        (m.executions, m.passes),
        (quiet.totals.executions, quiet.totals.passes)
    );
}

#[test]
fn write_out_stages_the_tables_and_the_json_in_one_transaction() {
    let r = shared();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("whatif_programme_out");
    let _ = std::fs::remove_dir_all(&dir);
    write_out(r, &dir, false).unwrap();
    for f in OUT_FILES {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let table = std::fs::read_to_string(dir.join("programme.csv")).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("rank,candidate,seeds,baseline_mastered"));
    assert_eq!(lines.len(), 1 + r.candidates.len());
    for (line, c) in lines[1..].iter().zip(&r.candidates) {
        assert!(
            line.starts_with(&format!("{},{},", c.rank, c.label)),
            "{line}"
        );
    }
    let scen = std::fs::read_to_string(dir.join("programme_scenarios.csv")).unwrap();
    let changed: usize = r.candidates.iter().map(|c| c.scenarios.len()).sum();
    assert_eq!(scen.lines().count(), 1 + changed);
    assert!(scen.contains("+cascade_detector,L2_event_policy_cascade,3,0,0,"));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("whatif.json")).unwrap()).unwrap();
    let first = &v["candidates"][0];
    for key in [
        "candidate",
        "mastered_change",
        "ci_low",
        "ci_high",
        "safeguards_change",
        "pass_rate_change",
        "scenarios",
    ] {
        assert!(!first[key].is_null(), "{key}");
    }
    assert_eq!(first["candidate"], "+cascade_detector");
    // Refused without --force, replaced with it.
    let e = write_out(r, &dir, false).unwrap_err().to_string();
    assert!(e.contains("--force"), "{e}");
    write_out(r, &dir, true).unwrap();
}

#[test]
fn bad_arguments_are_usage_errors() {
    let i = inputs();
    let base = ProgrammeBaseline {
        programme: &i.prog,
        catalogue: &i.cat,
        stack: &i.stack,
        deployed: i.stack.default_safeguards(),
        inputs_fingerprint: 0,
    };
    let spec = |seeds, days, threads| ProgrammeWhatifSpec {
        seeds,
        days,
        threads,
        progress: Progress::none(),
    };
    let one = candidates(&["+rate_limiter"]);
    for (cands, s, flag) in [
        (&[][..], spec((0, 1), 1, 1), "--candidates"),
        (&one[..], spec((1, 1), 1, 1), "--seeds"),
        (&one[..], spec((0, 1), 0, 1), "--days"),
        (&one[..], spec((0, 1), 1, 0), "--threads"),
    ] {
        let e = run_programme_whatif(&base, cands, &s, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(flag), "{flag}: {e}");
    }
}

/// The figures of a real run, printed (not a check): 5 seeds x 5 days,
/// three candidates, on the embedded programme and on the fast-escalation
/// one, 2 threads. `cargo test --test whatif_programme -- --ignored
/// --nocapture`.
#[test]
#[ignore = "prints figures; takes a minute"]
fn figures_of_five_seeds_by_five_days() {
    use chaosim::sweep::whatif_programme::{programme_csv, programme_scenarios_csv};
    let i = inputs();
    let embedded = Programme::embedded();
    for (name, prog) in [("embedded", &embedded), ("quick", &i.prog)] {
        let base = ProgrammeBaseline {
            programme: prog,
            catalogue: &i.cat,
            stack: &i.stack,
            deployed: i.stack.default_safeguards(),
            inputs_fingerprint: 0,
        };
        let spec = ProgrammeWhatifSpec {
            seeds: (0, 5),
            days: 5,
            threads: 2,
            progress: Progress::none(),
        };
        let cands = candidates(&["+quorum_ack", "+rate_limiter", "+cascade_detector"]);
        let t = std::time::Instant::now();
        let r = run_programme_whatif(&base, &cands, &spec, None).unwrap();
        let wall = t.elapsed().as_secs_f64();
        println!(
            "{name}: {} programmes, {} events, {wall:.2} s wall",
            r.programmes, r.events
        );
        print!("{}", String::from_utf8(programme_csv(&r)).unwrap());
        print!(
            "{}",
            String::from_utf8(programme_scenarios_csv(&r)).unwrap()
        );
        println!("{}", serde_json::to_string(&r).unwrap());
    }
}
