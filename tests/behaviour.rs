//! Behaviour fingerprints: what a user can see of an execution (verdict,
//! failure kinds and reason, recovery time, the safeguards fired, missing,
//! needed and not exercised with their evidence and times, anomalies, the
//! linearizability verdict, governance and Layer-2 alerts), everything of
//! an [`Outcome`] except the two fields an event-economy change may move on
//! purpose: the event count and the digest.
//!
//! - `committed_fingerprints_hold` (normal suite) runs every catalogue
//!   scenario on seed 1 at levels 1, 5 and 10 with every safeguard deployed
//!   and at levels 1 and 5 with the default safeguards, and compares the rows
//!   with the committed fixture `tests/fixtures/behaviour.jsonl` (about 24 M
//!   events, a few seconds on 2 cores). The default set at level 10 and
//!   further seeds are left to `dump`: at level 10 with the default set
//!   `JEP04_concurrent_writes` alone handles about 18 M events per seed.
//! - `dump` (ignored) writes the rows of any seed range to a file; run it on
//!   two builds and diff them:
//!   `BEHAVIOUR_OUT=FILE BEHAVIOUR_SEEDS=1..=20 cargo test --release --test
//!   behaviour -- --ignored dump` (`BEHAVIOUR_FULL=1` keeps events and
//!   digest in each row, to check that a change moved neither).
//! - `census` (ignored) prints the events handled per event kind over the
//!   same executions (where the events of a run go).
//! - `compare` (ignored) reads two such dumps (`BEHAVIOUR_A`, `BEHAVIOUR_B`)
//!   and prints how far they differ when they are not equal: the rows that
//!   differ in each field, the paired verdicts with the exact McNemar
//!   p-value of the flips, and the flips per scenario. It is the evidence
//!   for a change that moves trajectories on purpose (a model fix), where
//!   the exact comparison can only say "differs".

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chaosim::engine::SimTime;
use chaosim::engine::trace::{EventRecord, Observer, observe_simulations};
use chaosim::model::stack::StackSpec;
use chaosim::safeguard::SafeguardSet;
use chaosim::scenario::run::Runner;
use chaosim::scenario::{Catalogue, Execution, Executor, Item, Outcome};
use chaosim::sweep::whatif::mcnemar_p;

const LEVELS: [u8; 3] = [1, 5, 10];
const FIXTURE: &str = "tests/fixtures/behaviour.jsonl";
/// Seeds of the committed fixture (the full comparison uses 1..=20).
const FIXTURE_SEEDS: [u64; 1] = [1];

/// The cases of the committed fixture: every level with every safeguard
/// deployed, levels below 10 with the default set (see the module docs).
fn fixture_case(level: u8, set_name: &str) -> bool {
    set_name == "all" || level < 10
}

/// The fingerprint of one outcome: its JSON without `events` and `digest`,
/// with every failure kind (the JSON of an outcome names only the first).
fn fingerprint(o: &Outcome) -> serde_json::Value {
    let mut v = serde_json::to_value(o).expect("an outcome serializes");
    let m = v.as_object_mut().expect("an outcome is an object");
    assert!(m.remove("events").is_some(), "outcome has events");
    assert!(m.remove("digest").is_some(), "outcome has a digest");
    let kinds: Vec<&str> = o.failure_kinds.iter().map(|k| k.name()).collect();
    m.insert("failure_kinds".into(), serde_json::json!(kinds));
    v
}

/// One row per (scenario, level, seed, safeguards) that `keep(level,
/// safeguards)` accepts, in catalogue order; with `full`, each row also
/// carries the event count and the digest.
fn rows(seeds: &[u64], keep: impl Fn(u8, &str) -> bool, full: bool) -> Vec<String> {
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    let runner = Runner {
        catalogue: &cat,
        stack: &stack,
        threads: 1,
    };
    let sets = [
        ("default", stack.default_safeguards()),
        (
            "all",
            SafeguardSet::from_spec("all", stack.default_safeguards()).unwrap(),
        ),
    ];
    let mut out = Vec::new();
    for spec in cat.scenarios() {
        for level in LEVELS {
            for &seed in seeds {
                for (set_name, deployed) in sets {
                    if !keep(level, set_name) {
                        continue;
                    }
                    let exec = Execution {
                        seed,
                        run: 0,
                        start: SimTime::from_day_time(0, 12, 0, 0).unwrap(),
                        concurrent: false,
                        items: vec![Item {
                            scenario: spec.id.clone(),
                            difficulty: level,
                            known_fixes: SafeguardSet::EMPTY,
                        }],
                        deployed,
                    };
                    let o = runner.execute(&exec).unwrap().remove(0);
                    let mut row = serde_json::json!({
                        "scenario": spec.id,
                        "level": level,
                        "seed": seed,
                        "safeguards": set_name,
                        "outcome": fingerprint(&o),
                    });
                    if full {
                        row["events"] = o.events.into();
                        row["digest"] = o.digest.to_string().into();
                    }
                    out.push(row.to_string());
                }
            }
        }
    }
    out
}

fn parse_seeds(s: &str) -> Vec<u64> {
    if let Some((a, b)) = s.split_once("..=") {
        (a.parse().unwrap()..=b.parse().unwrap()).collect()
    } else {
        s.split(',').map(|x| x.trim().parse().unwrap()).collect()
    }
}

#[test]
fn committed_fingerprints_hold() {
    // To regenerate (only on a deliberate change of behaviour):
    // BEHAVIOUR_FIXTURE=1 cargo test --release --test behaviour -- --ignored write_fixture
    let want = std::fs::read_to_string(FIXTURE).expect("the committed fixture");
    let want: Vec<&str> = want.lines().collect();
    let got = rows(&FIXTURE_SEEDS, fixture_case, false);
    assert_eq!(got.len(), want.len(), "rows in {FIXTURE}");
    let differ: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    assert!(
        differ.is_empty(),
        "{} of {} behaviour rows differ from {FIXTURE}; first:\n  want {}\n  got  {}",
        differ.len(),
        got.len(),
        want[differ[0]],
        got[differ[0]]
    );
}

#[test]
fn a_fingerprint_sees_a_changed_recovery() {
    // The comparison can fail: a moved recovery time is a different row.
    let cat = Catalogue::embedded().unwrap();
    let stack = StackSpec::embedded();
    let runner = Runner {
        catalogue: &cat,
        stack: &stack,
        threads: 1,
    };
    let exec = Execution {
        seed: 1,
        run: 0,
        start: SimTime::from_day_time(0, 12, 0, 0).unwrap(),
        concurrent: false,
        items: vec![Item {
            scenario: "S01_heartbeat_pause".into(),
            difficulty: 1,
            known_fixes: SafeguardSet::EMPTY,
        }],
        deployed: stack.default_safeguards(),
    };
    let mut o = runner.execute(&exec).unwrap().remove(0);
    let a = fingerprint(&o);
    o.events += 1;
    assert_eq!(a, fingerprint(&o), "the event count is not behaviour");
    o.recovery_s = Some(o.recovery_s.unwrap_or(0.0) + 0.1);
    assert_ne!(a, fingerprint(&o), "a recovery time is behaviour");
}

/// Write the rows of `BEHAVIOUR_SEEDS` (default `1..=20`, every level with
/// both safeguard sets) to `BEHAVIOUR_OUT`;
/// `BEHAVIOUR_FULL=1` adds the event count and the digest to each row.
#[test]
#[ignore = "long: the full comparison of two builds"]
fn dump() {
    let out = std::env::var("BEHAVIOUR_OUT").expect("BEHAVIOUR_OUT=FILE");
    let seeds = parse_seeds(&std::env::var("BEHAVIOUR_SEEDS").unwrap_or("1..=20".into()));
    let full = std::env::var("BEHAVIOUR_FULL").is_ok_and(|v| v == "1");
    let mut text = rows(&seeds, |_, _| true, full).join("\n");
    text.push('\n');
    std::fs::write(&out, text).unwrap();
}

/// Write the committed fixture from the current code.
#[test]
#[ignore = "rewrites tests/fixtures/behaviour.jsonl"]
fn write_fixture() {
    assert!(
        std::env::var("BEHAVIOUR_FIXTURE").is_ok_and(|v| v == "1"),
        "set BEHAVIOUR_FIXTURE=1 to rewrite {FIXTURE}"
    );
    let mut text = rows(&FIXTURE_SEEDS, fixture_case, false).join("\n");
    text.push('\n');
    std::fs::write(FIXTURE, text).unwrap();
}

/// Counts events per kind; merges them into the shared table when dropped.
struct Census {
    local: BTreeMap<&'static str, u64>,
    last: (&'static str, u64),
    shared: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl Observer for Census {
    fn observe(&mut self, r: &EventRecord) -> bool {
        if r.kind_name == self.last.0 {
            self.last.1 += 1;
        } else {
            *self.local.entry(self.last.0).or_default() += self.last.1;
            self.last = (r.kind_name, 1);
        }
        true
    }
}

impl Drop for Census {
    fn drop(&mut self) {
        *self.local.entry(self.last.0).or_default() += self.last.1;
        let mut s = self.shared.lock().unwrap();
        for (k, v) in &self.local {
            *s.entry(k).or_default() += v;
        }
    }
}

/// Print the events handled per kind over the catalogue at levels 1, 5, 10
/// (`BEHAVIOUR_SEEDS`, default `1..=2`; `CENSUS_SCENARIO` filters by prefix).
#[test]
#[ignore = "diagnostic: where the events go"]
fn census() {
    let seeds = parse_seeds(&std::env::var("BEHAVIOUR_SEEDS").unwrap_or("1..=2".into()));
    let filter = std::env::var("CENSUS_SCENARIO").unwrap_or_default();
    let shared = Arc::new(Mutex::new(BTreeMap::new()));
    let s2 = shared.clone();
    observe_simulations(
        move || {
            Box::new(Census {
                local: BTreeMap::new(),
                last: ("", 0),
                shared: s2.clone(),
            })
        },
        || {
            let cat = Catalogue::embedded().unwrap();
            let stack = StackSpec::embedded();
            let runner = Runner {
                catalogue: &cat,
                stack: &stack,
                threads: 1,
            };
            for spec in cat.scenarios() {
                if !spec.id.starts_with(&filter) {
                    continue;
                }
                for level in LEVELS {
                    for &seed in &seeds {
                        let exec = Execution {
                            seed,
                            run: 0,
                            start: SimTime::from_day_time(0, 12, 0, 0).unwrap(),
                            concurrent: false,
                            items: vec![Item {
                                scenario: spec.id.clone(),
                                difficulty: level,
                                known_fixes: SafeguardSet::EMPTY,
                            }],
                            deployed: stack.default_safeguards(),
                        };
                        runner.execute(&exec).unwrap();
                    }
                }
            }
        },
    );
    let s = shared.lock().unwrap();
    let total: u64 = s.values().sum();
    let mut v: Vec<_> = s.iter().filter(|(k, _)| !k.is_empty()).collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("{total} events");
    for (k, n) in v {
        println!("{k:40} {n:12} {:6.2}%", *n as f64 * 100.0 / total as f64);
    }
}

/// Compare two dumps (`BEHAVIOUR_A`, `BEHAVIOUR_B`, rows keyed by scenario,
/// level, seed and safeguard set) and print the size of their difference:
/// rows that differ per outcome field, the paired verdicts and McNemar's
/// exact p-value of the flips, and the flips per scenario.
#[test]
#[ignore = "diagnostic: how far two dumps differ"]
fn compare() {
    type Key = (String, u64, u64, String);
    let load = |var: &str| -> BTreeMap<Key, serde_json::Value> {
        let path = std::env::var(var).unwrap_or_else(|_| panic!("{var}=FILE (a dump)"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rows = BTreeMap::new();
        for line in text.lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = (
                r["scenario"].as_str().unwrap().to_string(),
                r["level"].as_u64().unwrap(),
                r["seed"].as_u64().unwrap(),
                r["safeguards"].as_str().unwrap().to_string(),
            );
            assert!(
                rows.insert(key, r["outcome"].clone()).is_none(),
                "{path}: a row twice"
            );
        }
        rows
    };
    let (a, b) = (load("BEHAVIOUR_A"), load("BEHAVIOUR_B"));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the dumps cover other rows"
    );
    let mut fields: BTreeMap<String, u64> = BTreeMap::new();
    let mut verdicts = [[0u64; 2]; 2];
    let mut flips: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (key, x) in &a {
        let y = &b[key];
        for (field, value) in x.as_object().unwrap() {
            if y.get(field) != Some(value) {
                *fields.entry(field.clone()).or_default() += 1;
            }
        }
        let (p, q) = (
            x["passed"].as_bool().unwrap(),
            y["passed"].as_bool().unwrap(),
        );
        verdicts[p as usize][q as usize] += 1;
        if p != q {
            let f = flips.entry(key.0.as_str()).or_default();
            if p { f.0 += 1 } else { f.1 += 1 }
        }
    }
    let differ = a.iter().filter(|(k, x)| b[*k] != **x).count();
    println!("{} rows, {differ} differ", a.len());
    let anomalies = |rows: &BTreeMap<Key, serde_json::Value>| -> (u64, usize) {
        let counts = rows.values().map(|o| o["anomalies"].as_u64().unwrap());
        (counts.clone().sum(), counts.filter(|&n| n > 0).count())
    };
    let ((sum_a, rows_a), (sum_b, rows_b)) = (anomalies(&a), anomalies(&b));
    println!("anomalies: {sum_a} in {rows_a} rows (A), {sum_b} in {rows_b} rows (B)");
    for (field, n) in &fields {
        println!("  {field:30} differs in {n} rows");
    }
    let (pf, fp) = (verdicts[1][0], verdicts[0][1]);
    println!(
        "verdicts: pass->pass {}, fail->fail {}, pass->fail {pf}, fail->pass {fp}; McNemar exact p = {:.3}",
        verdicts[1][1],
        verdicts[0][0],
        mcnemar_p(pf, fp)
    );
    for (scenario, (to_fail, to_pass)) in &flips {
        println!("  {scenario:40} pass->fail {to_fail}, fail->pass {to_pass}");
    }
}
