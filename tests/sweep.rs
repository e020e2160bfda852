//! Parametric sweeps: the A/B behaviour, the mechanisms behind it, and the
//! determinism guarantees of the parallel, sharded runner and of merge.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use chaosim::sweep::agent::{
    ApiModel, ApiModelConfig, ExperimentOutcome, Variant, experiment_seed, run_experiment,
};
use chaosim::sweep::merge::{CellSummary, merge};
use chaosim::sweep::proxy::ProxyConfig;
use chaosim::sweep::runner::{
    Shard, SweepOptions, SweepSpec, parse_rates, run_cell_range, run_sweep,
};

fn tmp(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("sweep")
        .join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

fn cell(model: &ApiModel, rate_ppm: u32, variant: Variant, n: u64) -> CellSummary {
    let (agg, _) = run_cell_range(model, 42, (0, rate_ppm, variant), 0..n, None).unwrap();
    agg.summarize(rate_ppm, variant)
}

#[test]
fn at_rate_zero_both_variants_always_succeed_with_one_call_per_step() {
    let model = ApiModel::default();
    for v in Variant::ALL {
        let s = cell(&model, 0, v, 400);
        assert_eq!(s.successes, 400, "{v:?}");
        assert_eq!(s.calls_mean, 5.0);
        assert_eq!(s.retries_mean, 0.0);
        assert_eq!(s.breaker_opens, 0);
        assert_eq!(s.partials, 0);
    }
}

#[test]
fn at_rate_0_3_the_playbook_ci_lies_clearly_above_the_baseline() {
    let model = ApiModel::default();
    let base = cell(&model, 300_000, Variant::Baseline, 800);
    let play = cell(&model, 300_000, Variant::Playbook, 800);
    assert!(
        play.success_ci.low > base.success_ci.high + 0.2,
        "playbook {:?} vs baseline {:?}",
        play.success_ci,
        base.success_ci
    );
    // Mechanisms: the playbook retries more (backoff, failover) and its
    // breaker opens; the baseline has no breaker and retries at most once per
    // call; compensation leaves the playbook with fewer half-done workflows.
    assert!(play.retries_mean > base.retries_mean, "{play:?} {base:?}");
    assert!(play.breaker_opens > 0 && play.rejected > 0, "{play:?}");
    assert_eq!(base.breaker_opens, 0);
    assert_eq!(base.rejected, 0);
    assert!(
        base.partials > 40,
        "baseline leaves half-done orders: {base:?}"
    );
    assert!(play.compensated > 0, "{play:?}");
    assert!(play.partials * 10 < base.partials, "{play:?} {base:?}");
}

#[test]
fn the_baseline_falls_much_faster_as_the_rate_grows() {
    let model = ApiModel::default();
    let rates = [0u32, 150_000, 300_000, 450_000];
    let b: Vec<f64> = rates
        .iter()
        .map(|&r| cell(&model, r, Variant::Baseline, 400).success_rate)
        .collect();
    let p: Vec<f64> = rates
        .iter()
        .map(|&r| cell(&model, r, Variant::Playbook, 400).success_rate)
        .collect();
    assert!(b.windows(2).all(|w| w[1] < w[0]), "baseline {b:?}");
    assert!(
        1.0 - b[3] > 3.0 * (1.0 - p[3]),
        "baseline {b:?} playbook {p:?}"
    );
}

fn only(weights: (u32, u32, u32)) -> ApiModel {
    ApiModel {
        config: ApiModelConfig {
            proxy: ProxyConfig {
                weight_503: weights.0,
                weight_429: weights.1,
                weight_timeout: weights.2,
                ..ProxyConfig::default()
            },
            ..ApiModelConfig::default()
        },
        ..ApiModel::default()
    }
}

fn one(model: &ApiModel, variant: Variant, rate_ppm: u32, e: u64) -> ExperimentOutcome {
    run_experiment(model, variant, rate_ppm, experiment_seed(5, 0, variant, e)).unwrap()
}

#[test]
fn the_baseline_retries_once_at_once_and_leaves_no_wait() {
    let o = one(&only((1, 0, 0)), Variant::Baseline, 1_000_000, 0);
    assert!(!o.success);
    assert_eq!((o.calls, o.retries, o.errors_503), (2, 1, 2));
    assert_eq!(o.wait_ns, 0);
    // Two fast 503 answers of 5 ms each, nothing else.
    assert_eq!(o.latency_ns, 10_000_000);
    assert_eq!(o.breaker_opens, 0);
}

#[test]
fn the_playbook_honours_retry_after_and_the_open_breaker_waits_in_simulated_time() {
    let model = only((0, 1, 0));
    let o = one(&model, Variant::Playbook, 1_000_000, 0);
    assert!(!o.success);
    assert_eq!(o.errors_429, 5, "first call plus 4 retries: {o:?}");
    assert_eq!(o.retries, 4);
    // The 4th failure fills the breaker's minimum of 4 calls at 100 %: it
    // opens. The next wait (at least the 1 s Retry-After) outlasts the 1 s
    // open state, so the 5th attempt is not rejected: it is a half-open trial.
    assert_eq!(o.breaker_opens, 1, "{o:?}");
    assert_eq!(o.rejected, 0, "{o:?}");
    // Each retry waited at least the 1 s Retry-After.
    let retry_after_ns = 1_000_000_000;
    assert!(o.wait_ns >= 4 * retry_after_ns, "{o:?}");
    assert!(o.latency_ns >= 4 * retry_after_ns + 5 * 5_000_000, "{o:?}");
}

#[test]
fn the_open_breaker_rejects_fast_and_the_agent_waits_out_the_open_state() {
    let model = only((1, 0, 0));
    let o = one(&model, Variant::Playbook, 1_000_000, 0);
    // Four 503s open the breaker (minimum 4 calls, 100 % failures); the 4th
    // backoff (full jitter, at most 800 ms) ends inside the 1 s open state, so
    // the 5th attempt is rejected fast, waits for the open state to end and
    // goes through as a half-open trial.
    assert_eq!((o.calls, o.errors_503, o.retries), (5, 5, 4), "{o:?}");
    assert_eq!(o.breaker_opens, 1, "{o:?}");
    assert_eq!(o.rejected, 1, "{o:?}");
    let open_wait_ns = 1_000_000_000;
    assert!(o.latency_ns >= 5 * 5_000_000 + open_wait_ns, "{o:?}");
    assert!(o.wait_ns >= open_wait_ns, "{o:?}");
}

#[test]
fn the_breaker_opening_is_logged_as_the_circuit_breaker_safeguard() {
    use chaosim::engine::{SimTime, Simulation};
    use chaosim::model::Solo;
    use chaosim::safeguard::Safeguard;
    use chaosim::sweep::agent::{ApiAgent, ApiEvent};

    let model = only((1, 0, 0));
    for v in Variant::ALL {
        let seed = experiment_seed(5, 0, v, 0);
        let agent = ApiAgent::new(&model, v, 1_000_000, seed);
        let mut sim = Simulation::starting_at(Solo(agent), seed, SimTime::ZERO);
        sim.schedule_at(SimTime::ZERO, ApiEvent::Start);
        sim.run().unwrap();
        let log = sim.model().0.safeguards();
        match v {
            Variant::Baseline => assert_eq!(log.count(Safeguard::CircuitBreaker), 0),
            Variant::Playbook => {
                assert_eq!(log.count(Safeguard::CircuitBreaker), 1);
                // It opened on the 4th failed call, after three backoff waits.
                let at = log.first_fired(Safeguard::CircuitBreaker).unwrap();
                assert!(at.as_nanos() >= 4 * 5_000_000, "{at}");
                assert_eq!(sim.model().0.outcome().breaker_opens, 1);
            }
        }
    }
}

#[test]
fn timeouts_are_retried_once_then_failed_over_to_the_standby() {
    let model = only((0, 0, 1));
    let o = one(&model, Variant::Playbook, 1_000_000, 0);
    // 1 call + 1 retry on the primary + 2 on the standby, each a 2 s timeout,
    // retried at once.
    assert_eq!((o.calls, o.timeouts, o.retries), (4, 4, 3), "{o:?}");
    assert_eq!(o.latency_ns, 4 * 2_000_000_000);
    assert!(!o.success && !o.partial);
}

#[test]
fn half_done_workflows_are_compensated_only_by_the_playbook() {
    // Find experiments at rate 0.3 where the baseline failed after placing an
    // order: the playbook variant of the same model compensates such cases.
    let model = ApiModel::default();
    let base_partial = (0..300)
        .map(|e| one(&model, Variant::Baseline, 300_000, e))
        .filter(|o| o.partial)
        .count();
    let play: Vec<_> = (0..300)
        .map(|e| one(&model, Variant::Playbook, 300_000, e))
        .collect();
    assert!(base_partial > 10, "{base_partial}");
    assert!(
        play.iter()
            .any(|o| o.compensated && !o.success && !o.partial)
    );
    assert!(play.iter().all(|o| !(o.compensated && o.partial)));
}

#[test]
fn malformed_calls_are_rejected_and_repaired_not_crashed() {
    let model = ApiModel {
        config: ApiModelConfig {
            malformed_ppm: 1_000_000,
            ..ApiModelConfig::default()
        },
        ..ApiModel::default()
    };
    let b = one(&model, Variant::Baseline, 0, 1);
    assert!(!b.success);
    assert_eq!(
        b.bad_requests, 2,
        "the naive retry resends the same bad call"
    );
    let p = one(&model, Variant::Playbook, 0, 1);
    assert!(p.success, "{p:?}");
    assert_eq!(p.bad_requests, 5, "one 400 per step, repaired");
}

fn spec(rates: &str, n: u64) -> SweepSpec {
    SweepSpec {
        seed: 7,
        n,
        rates_ppm: parse_rates(rates).unwrap(),
        variants: Variant::ALL.to_vec(),
    }
}

fn run(dir: &Path, spec: &SweepSpec, threads: usize, shard: Shard) {
    let opts = SweepOptions {
        threads,
        shard,
        out: dir.to_path_buf(),
        force: false,
        progress: Default::default(),
    };
    run_sweep(&ApiModel::default(), spec, &opts, &mut |_| {}).unwrap();
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    ["experiments.csv", "summary.csv", "shard.ron"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect()
}

#[test]
fn outputs_are_byte_identical_for_one_and_two_threads() {
    // n = 2500 gives three chunks per cell, so workers finish out of order.
    let s = spec("0:0.5:0.25", 2500);
    let (a, b) = (tmp("threads1"), tmp("threads2"));
    run(&a, &s, 1, Shard::WHOLE);
    run(&b, &s, 2, Shard::WHOLE);
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa[0].len(), fb[0].len());
    assert!(fa == fb, "outputs differ between 1 and 2 threads");
    let rows = fa[0].iter().filter(|&&c| c == b'\n').count();
    assert_eq!(rows, 1 + 3 * 2 * 2500);
}

#[test]
fn merged_shards_are_byte_identical_to_one_run() {
    let s = spec("0.1:0.3:0.1", 700);
    let whole = tmp("whole");
    run(&whole, &s, 2, Shard::WHOLE);
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| {
            let d = tmp(&format!("shard{k}"));
            run(&d, &s, 2, Shard { index: k, count: 3 });
            d
        })
        .collect();
    let merged = tmp("merged");
    // Any order of inputs.
    let inputs = vec![shards[2].clone(), shards[0].clone(), shards[1].clone()];
    let report = merge(&inputs, &merged, false).unwrap();
    assert_eq!(report.experiments, 3 * 2 * 700);
    assert!(
        files(&merged) == files(&whole),
        "merge differs from one run"
    );
}

#[test]
fn merge_refuses_missing_duplicate_foreign_and_broken_shards_naming_them() {
    let s = spec("0.2", 300);
    let d: Vec<PathBuf> = (1..=3)
        .map(|k| {
            let d = tmp(&format!("refuse{k}"));
            run(&d, &s, 1, Shard { index: k, count: 3 });
            d
        })
        .collect();
    let out = tmp("refuse_out");
    let err = |inputs: Vec<PathBuf>| merge(&inputs, &out, false).unwrap_err().to_string();

    let e = err(vec![d[0].clone(), d[2].clone()]);
    assert!(e.contains("missing shard(s) 2/3"), "{e}");

    let e = err(vec![d[0].clone(), d[1].clone(), d[1].clone(), d[2].clone()]);
    assert!(e.contains("duplicate shard: 2/3"), "{e}");
    assert!(e.contains("refuse2"), "{e}");

    let foreign = tmp("refuse_foreign");
    run(
        &foreign,
        &SweepSpec {
            seed: 8,
            ..s.clone()
        },
        1,
        Shard { index: 2, count: 3 },
    );
    let e = err(vec![d[0].clone(), foreign.clone(), d[2].clone()]);
    assert!(e.contains("foreign shard") && e.contains("seed"), "{e}");
    assert!(e.contains("refuse_foreign"), "{e}");

    let incomplete = tmp("refuse_incomplete");
    std::fs::create_dir_all(&incomplete).unwrap();
    let e = err(vec![d[0].clone(), incomplete, d[2].clone()]);
    assert!(
        e.contains("refuse_incomplete") && e.contains("shard.ron"),
        "{e}"
    );

    let truncated = tmp("refuse_truncated");
    run(&truncated, &s, 1, Shard { index: 2, count: 3 });
    let csv = truncated.join("experiments.csv");
    let text = std::fs::read(&csv).unwrap();
    std::fs::write(&csv, &text[..text.len() - 10]).unwrap();
    let e = err(vec![d[0].clone(), truncated, d[2].clone()]);
    assert!(e.contains("truncated or modified"), "{e}");

    assert!(!out.exists(), "a refused merge writes nothing");
}

#[test]
fn a_complete_output_is_not_overwritten_without_force() {
    let s = spec("0.1", 50);
    let d = tmp("overwrite");
    run(&d, &s, 1, Shard::WHOLE);
    let opts = SweepOptions {
        threads: 1,
        shard: Shard::WHOLE,
        out: d.clone(),
        force: false,
        progress: Default::default(),
    };
    let e = run_sweep(&ApiModel::default(), &s, &opts, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("--force"), "{e}");
    let forced = SweepOptions {
        force: true,
        ..opts
    };
    run_sweep(&ApiModel::default(), &s, &forced, &mut |_| {}).unwrap();
}

fn chaosim() -> Command {
    Command::cargo_bin("chaosim").unwrap()
}

#[test]
fn cli_bad_input_is_one_line_exit_2_and_no_output_dir() {
    let out = tmp("cli_bad");
    let cases: &[&[&str]] = &[
        &["--rates", "0.5:0.1:0.1"],
        &["--rates", "0:1.5:0.1"],
        &["--rates", "0:0.5:0"],
        &["--n", "0"],
        &["--variants", "baseline,chaos"],
        &["--shard", "5/4"],
        &["--shard", "x"],
        &["--threads", "0"],
        // The scenario mode's flags, which an API sweep would not read.
        &["--stack", "/nonexistent/stack.ron"],
        &["--scenarios", "/nonexistent"],
        &["--playbooks", "/nonexistent"],
        &["--safeguards=all"],
        &["--difficulty", "7"],
    ];
    for args in cases {
        let assert = chaosim()
            .arg("sweep")
            .args(*args)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2);
        let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} created the output directory");
    }
}

#[test]
fn cli_bad_playbook_file_is_located_and_creates_nothing() {
    let out = tmp("cli_bad_playbook");
    let pb = tmp("bad_playbook.ron");
    std::fs::write(
        &pb,
        "ApiPlaybook(\n  name: \"api_x\",\n  rules: [(error: Http999, action: Fail)],\n)\n",
    )
    .unwrap();
    let assert = chaosim()
        .args(["sweep", "--n", "10", "--playbook"])
        .arg(&pb)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("bad_playbook.ron:3:"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn cli_sweep_sharded_by_slurm_and_kubernetes_then_merged_equals_one_run() {
    let common = ["sweep", "--rates", "0:0.4:0.2", "--n", "200", "--quiet"];
    let whole = tmp("cli_whole");
    chaosim()
        .args(common)
        .arg("--out")
        .arg(&whole)
        .assert()
        .success();
    // Slurm: --array=1-2 gives IDs 1 and 2, MIN 1, COUNT 2.
    let s1 = tmp("cli_slurm1");
    chaosim()
        .args(common)
        .arg("--out")
        .arg(&s1)
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_STEP", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .env_remove("JOB_COMPLETION_INDEX")
        .assert()
        .success();
    // Kubernetes: JOB_COMPLETION_INDEX 1 of 2 is the second shard.
    let s2 = tmp("cli_k8s2");
    chaosim()
        .args(common)
        .args(["--shard-count", "2", "--out"])
        .arg(&s2)
        .env("JOB_COMPLETION_INDEX", "1")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .assert()
        .success();
    let merged = tmp("cli_merged");
    chaosim()
        .arg("merge")
        .arg(&s2)
        .arg(&s1)
        .arg("--out")
        .arg(&merged)
        .arg("--quiet")
        .assert()
        .success();
    assert!(files(&merged) == files(&whole));
    // Merging into a complete directory needs --force.
    chaosim()
        .arg("merge")
        .arg(&s1)
        .arg(&s2)
        .arg("--out")
        .arg(&merged)
        .assert()
        .code(2);
}

#[test]
fn experiment_streams_and_rows_are_pinned() {
    // Pinned: the seed derivation, the model's draws and the row format. If
    // this changes, every recorded sweep changes: do it on purpose only.
    let d = tmp("pinned");
    run(&d, &spec("0:0.5:0.25", 100), 2, Shard::WHOLE);
    let meta = chaosim::sweep::merge::ShardMeta::read(&d).unwrap();
    assert_eq!(meta.experiments_bytes, 46_908);
    assert_eq!(meta.experiments_fnv, "00984de4573ebb67");
    assert_eq!(meta.params.model_fingerprint, "6e1a5273c7d95547");
    let text = std::fs::read_to_string(d.join("experiments.csv")).unwrap();
    assert_eq!(
        text.lines().nth(1).unwrap(),
        "0,baseline,0,1,0,0,187.761405,5,0,0,0,0,0,0,0,0.000000,6,441335b3478ca140"
    );
}

mod properties {
    use chaosim::engine::{SeedPath, SimDuration, SimTime};
    use chaosim::sweep::backoff::{Backoff, Jitter};
    use chaosim::sweep::breaker::{Breaker, BreakerConfig, BreakerState, Permit};
    use proptest::prelude::*;

    fn jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn backoff_waits_stay_within_their_formula_bounds(
            j in jitter(), base_ms in 1u64..2_000, extra_ms in 0u64..60_000,
            retry in 0u32..80, prev_ms in 0u64..100_000, seed in any::<u64>(),
        ) {
            let b = Backoff { jitter: j, base_ms, cap_ms: base_ms + extra_ms };
            let mut rng = SeedPath::root(seed).rng();
            let w = b.wait_ns(retry, prev_ms * 1_000_000, &mut rng);
            let e = b.expo_ns(retry);
            prop_assert!(e <= b.cap_ns() && e >= b.base_ns().min(b.cap_ns()));
            match j {
                Jitter::None => prop_assert_eq!(w, e),
                Jitter::Full => prop_assert!(w <= e),
                Jitter::Equal => prop_assert!(w >= e / 2 && w <= e),
                Jitter::Decorrelated => prop_assert!(w >= b.base_ns() && w <= b.cap_ns()),
            }
        }

        #[test]
        fn breaker_never_stays_closed_over_threshold_and_open_always_rejects(
            threshold in 1u32..=100, window in 1u32..=64, min_frac in 0.0f64..1.0,
            half_open in 1u32..8, ops in proptest::collection::vec((any::<bool>(), 0u64..3_000), 1..300),
        ) {
            let minimum = 1 + ((window - 1) as f64 * min_frac) as u32;
            let cfg = BreakerConfig {
                failure_rate_threshold_pct: threshold, window_calls: window,
                minimum_calls: minimum, open_wait_ms: 1_000, half_open_calls: half_open,
            };
            prop_assert!(cfg.validate().is_ok());
            let mut b = Breaker::new(cfg);
            let mut now = SimTime::ZERO;
            let mut opens = 0;
            for (failed, gap_ms) in ops {
                now += SimDuration::from_millis(gap_ms);
                match b.try_acquire(now) {
                    Permit::Rejected { retry_at } => {
                        prop_assert!(retry_at > now);
                        continue;
                    }
                    Permit::Allowed => {}
                }
                if b.record(now, failed) {
                    opens += 1;
                    prop_assert_eq!(b.state(), BreakerState::Open { until: now + SimDuration::from_millis(1_000) });
                }
                prop_assert_eq!(b.opens(), opens);
                let (f, len) = b.window_counts();
                prop_assert!(len <= window && f <= len);
                if b.state() == BreakerState::Closed {
                    prop_assert!(len < minimum || f * 100 < threshold * len,
                        "closed with {f}/{len} failures, threshold {threshold} %, minimum {minimum}");
                }
            }
        }
    }
}

#[test]
fn cli_model_file_with_the_defaults_gives_the_default_run() {
    let cfg = tmp("model_default.ron");
    std::fs::write(
        &cfg,
        ron::ser::to_string_pretty(&ApiModelConfig::default(), Default::default()).unwrap(),
    )
    .unwrap();
    let (a, b) = (tmp("model_builtin"), tmp("model_file"));
    let args = ["sweep", "--rates", "0.3", "--n", "100", "--quiet", "--out"];
    chaosim().args(args).arg(&a).assert().success();
    chaosim()
        .args(args)
        .arg(&b)
        .arg("--model")
        .arg(&cfg)
        .assert()
        .success();
    assert!(files(&a) == files(&b));
    // A bad value is located by field.
    std::fs::write(
        &cfg,
        ron::to_string(&ApiModelConfig {
            deadline_ms: 0,
            ..ApiModelConfig::default()
        })
        .unwrap(),
    )
    .unwrap();
    let assert = chaosim()
        .args(args)
        .arg(tmp("model_bad"))
        .arg("--model")
        .arg(&cfg)
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("deadline_ms"), "{stderr}");
}
