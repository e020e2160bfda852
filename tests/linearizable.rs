//! Linearizability (issue 19): the register checker on hand-made Jepsen /
//! Knossos EDN and chaosim JSONL histories, good and bad, CAS included, and
//! its verdict on JEP01's history with and without the consistency
//! safeguards, through `chaosim check` and the library.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use chaosim::check::consistency::Validity;
use chaosim::check::edn;
use chaosim::check::history::read_jsonl;
use chaosim::check::linearizable::{
    self, CheckOptions, LOG_STEPS_MAX_DEFAULT, Linearizability, LogOp, RegisterOp,
};
use serde_json::Value;

const SAFEGUARDS_ON: &str =
    "--safeguards=+quorum_ack,+fencing_tokens,+lease_skew_bound,+compare_and_set";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/linearizable")
        .join(name)
}

fn chaosim(args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("chaosim")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn check(file: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["check", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = chaosim(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn check_json(file: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = check(file, &args);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    (code, v)
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("chaosim-lin-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---------------------------------------------------------------- EDN

#[test]
fn edn_register_with_cas_info_and_nemesis_ops_is_linearizable() {
    let (code, out, err) = check(&fixture("cas-good.edn"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("18 operations (2 by non-client processes, ignored)"),
        "{out}"
    );
    assert!(out.contains("register       linearizable"), "{out}");
    assert!(out.contains("verdict: linearizable"), "{out}");
    assert!(!out.contains("first operation"), "{out}");
}

#[test]
fn edn_cas_that_could_not_have_succeeded_is_named_with_its_line() {
    let (code, out, err) = check(&fixture("cas-bad.edn"), &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("verdict: not linearizable"), "{out}");
    assert!(
        out.contains(
            "first operation that cannot be linearized: register, op 7 by process 0: ok cas [1 3] ("
        ),
        "{out}"
    );
    assert!(out.contains("cas-bad.edn:10:1, invoked at 9:1)"), "{out}");
    let (code, v) = check_json(&fixture("cas-bad.edn"), &[]);
    assert_eq!(code, 1);
    assert_eq!(v["valid"], false);
    assert_eq!(v["first_failure"]["op"], "cas [1 3]");
    assert_eq!(v["first_failure"]["index"], 7);
    assert_eq!(v["first_failure"]["line"], 10);
    assert_eq!(v["first_failure"]["invoke_line"], 9);
}

#[test]
fn edn_independent_keys_need_their_initial_value_and_a_stale_key_is_named() {
    // Every key starts at 0: without --initial (nil) the reads of 0 fail.
    let (code, out, _) = check(&fixture("independent-good.edn"), &["--initial", "0"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 keys, initial value 0"), "{out}");
    for k in 1..=3 {
        assert!(
            out.contains(&format!("key {k}          linearizable")),
            "{out}"
        );
    }
    let (code, out, _) = check(&fixture("independent-good.edn"), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("key 1          linearizable"), "{out}");
    assert!(out.contains("key 2          NOT LINEARIZABLE"), "{out}");

    let (code, v) = check_json(&fixture("independent-bad.edn"), &["--initial", "0"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["keyed"], true);
    let keys = v["keys"].as_array().unwrap();
    let verdicts: Vec<(u64, &str)> = keys
        .iter()
        .map(|k| (k["key"].as_u64().unwrap(), k["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [
            (1, "linearizable"),
            (2, "not linearizable"),
            (3, "linearizable")
        ]
    );
    // The stale read of 0 on key 2 (after the info cas [0 7] was read).
    let f = &v["first_failure"];
    assert_eq!(f["key"], 2, "{f}");
    assert_eq!(f["op"], "read 0");
    assert_eq!(f["line"], 20);
}

#[test]
fn nil_reads_are_values_unless_knossos_reading_is_asked_for() {
    let dir = tempdir("nil");
    let f = dir.join("nil.edn");
    std::fs::write(
        &f,
        "{:process 0, :type :invoke, :f :write, :value 1}\n\
         {:process 0, :type :ok, :f :write, :value 1}\n\
         {:process 1, :type :invoke, :f :read, :value nil}\n\
         {:process 1, :type :ok, :f :read, :value nil}\n",
    )
    .unwrap();
    assert_eq!(check(&f, &[]).0, 1);
    assert_eq!(check(&f, &["--nil-reads-match-any"]).0, 0);
}

#[test]
fn the_search_budget_gives_unknown_and_exit_1() {
    // Twelve concurrent writes then a read of a value never written: proving
    // it takes every order of the writes.
    let dir = tempdir("budget");
    let f = dir.join("wide.edn");
    let mut text = String::from("[\n");
    for p in 0..12 {
        text += &format!("{{:process {p}, :type :invoke, :f :write, :value {p}}}\n");
    }
    for p in 0..12 {
        text += &format!("{{:process {p}, :type :ok, :f :write, :value {p}}}\n");
    }
    text += "{:process 20, :type :invoke, :f :read, :value nil}\n";
    text += "{:process 20, :type :ok, :f :read, :value 99}]\n";
    std::fs::write(&f, text).unwrap();
    let (code, out, _) = check(&f, &["--steps-max", "50"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unknown (search budget exhausted)"), "{out}");
    assert!(out.contains("verdict: unknown"), "{out}");
    let (_, v) = check_json(&f, &["--steps-max", "50"]);
    assert_eq!(v["valid"], "unknown");
    assert_eq!(v["steps"], 50);
    // A large enough budget decides it.
    let (code, v) = check_json(&f, &[]);
    assert_eq!((code, &v["valid"]), (1, &Value::from(false)), "{v}");
}

#[test]
fn bad_edn_exits_2_with_one_located_error_line() {
    for (name, at, msg) in [
        ("bad-syntax.edn", "bad-syntax.edn:2:1:", "unclosed `{`"),
        ("bad-op.edn", "bad-op.edn:3:32:", ":f :read, :write or :cas"),
    ] {
        let (code, out, err) = check(&fixture(name), &[]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(out.is_empty(), "{out}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].starts_with("error: "), "{err}");
        assert!(lines[0].contains(at) && lines[0].contains(msg), "{err}");
    }
    // A missing file, a bad flag value: exit 2 as well.
    assert_eq!(check(Path::new("/nonexistent/h.edn"), &[]).0, 2);
    assert_eq!(check(&fixture("cas-good.edn"), &["--initial", "x"]).0, 2);
    assert_eq!(check(&fixture("log-good.jsonl"), &["--initial", "0"]).0, 2);
}

#[test]
fn the_library_reads_the_same_histories() {
    let text = std::fs::read_to_string(fixture("cas-bad.edn")).unwrap();
    let h = edn::read_history(&text, Path::new("cas-bad.edn")).unwrap();
    let rep = linearizable::check(&h.calls, &CheckOptions::default());
    assert_eq!(rep.valid, Validity::False);
    let i = rep.first_failure.unwrap();
    assert_eq!(
        h.calls[i].op,
        RegisterOp::Cas {
            old: Some(1),
            new: Some(3)
        }
    );
    assert_eq!(h.sources[i].index, 7);
    assert!(matches!(
        rep.keys[0].verdict,
        Linearizability::NotLinearizable { op } if op == i
    ));
}

// ---------------------------------------------------------------- JSONL

#[test]
fn hand_made_log_histories_good_and_bad() {
    let (code, out, err) = check(&fixture("log-good.jsonl"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("chaosim replicated-log history, 4 appends (2 ok), 3 ok reads"),
        "{out}"
    );
    assert!(out.contains("verdict: linearizable"), "{out}");

    // A read that sees length 3 after another read saw the unknown append
    // 3 at position 4.
    let (code, out, _) = check(&fixture("log-bad.jsonl"), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("position 4        NOT LINEARIZABLE"), "{out}");
    assert!(out.contains("(as read nil)"), "{out}");
    assert!(
        out.contains("log-bad.jsonl:19, invoked at line 18"),
        "{out}"
    );
    let (_, v) = check_json(&fixture("log-bad.jsonl"), &[]);
    assert_eq!(v["format"], "chaosim_history");
    assert_eq!(v["positions_not_linearizable"], 1);
    assert_eq!(v["first_failure"]["position"], 4);
    assert_eq!(v["first_failure"]["line"], 19);
    assert_eq!(v["first_failure"]["op"]["f"], "read");
}

#[test]
fn bad_jsonl_exits_2_with_its_line() {
    let dir = tempdir("badjsonl");
    let f = dir.join("h.jsonl");
    std::fs::write(
        &f,
        "{\"chaosim_history\":1}\n\
         {\"process\":0,\"type\":\"ok\",\"f\":\"append\",\"value\":1,\"index\":1,\"term\":1,\"time_ns\":5}\n",
    )
    .unwrap();
    let (code, _, err) = check(&f, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("h.jsonl:2:"),
        "{err}"
    );
    std::fs::write(&f, "{\"process\":0,\"type\":\"begin\",\"f\":\"read\"}\n").unwrap();
    let (code, _, err) = check(&f, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("h.jsonl:1:14:"), "{err}");
}

// ---------------------------------------------------------------- JEP01

/// Run JEP01 (seed 42, the default) with `flags`, check its history with
/// `chaosim check --json` and with the library; both verdicts, the
/// library's search time.
fn jep01(dir: &Path, name: &str, flags: &[&str]) -> (i32, Value, linearizable::LinVerdict, f64) {
    let file = dir.join(name);
    let mut args = vec![
        "run",
        "JEP01_log_partition",
        "--history",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    let out = chaosim(&args);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, v) = check_json(&file, &[]);
    let text = std::fs::read_to_string(&file).unwrap();
    let h = read_jsonl(&text, &file).unwrap();
    let t = Instant::now();
    let lib = linearizable::check_log(&h, LOG_STEPS_MAX_DEFAULT);
    let secs = t.elapsed().as_secs_f64();
    (code, v, lib, secs)
}

#[test]
fn jep01_is_not_linearizable_without_the_consistency_safeguards_and_is_with_them() {
    let dir = tempdir("jep01");
    // Default stack: the consistency safeguards are off. The isolated
    // leader acknowledges appends it never commits; the new leader's
    // entries take their positions.
    let (code, v, lib, secs) = jep01(&dir, "off.jsonl", &[]);
    eprintln!("JEP01 off: {lib} ({secs:.3} s of search)");
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["valid"], false);
    assert_eq!(lib.valid, Validity::False);
    assert_eq!(
        lib.positions_not_linearizable,
        v["positions_not_linearizable"]
    );
    assert_eq!(lib.positions_unknown, 0);
    let first = lib.first_failure.expect("a culprit");
    // It is an observation of a position where an acknowledged append
    // (by the deposed leader) was replaced.
    assert!(
        matches!(first.op, LogOp::Read { .. } | LogOp::Append { .. }),
        "{first}"
    );
    assert_eq!(v["first_failure"]["position"], first.position);
    // Bounded: every position decided far inside its budget.
    assert!(lib.steps_key_max * 100 < LOG_STEPS_MAX_DEFAULT, "{lib}");

    // The consistency safeguards deployed: linearizable at every position,
    // CAS-carrying appends included.
    let (code, v, lib, secs) = jep01(&dir, "on.jsonl", &[SAFEGUARDS_ON]);
    eprintln!("JEP01 on: {lib} ({secs:.3} s of search)");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["valid"], true);
    assert_eq!(lib.valid, Validity::True);
    assert!(lib.positions > 1000 && lib.ops > 3000, "{lib}");
    assert_eq!(lib.positions_unknown, 0);
    assert!(lib.steps_key_max * 100 < LOG_STEPS_MAX_DEFAULT, "{lib}");
}

/// `check` as a CI gate never passes on nothing: an empty or blank file,
/// a history without operations (EDN or chaosim), a chaosim history of
/// another version and a line past the 1 MiB limit are bad input (exit 2,
/// one located line), not "linearizable".
#[test]
fn a_history_with_nothing_to_check_is_bad_input_not_a_pass() {
    let d = tempdir("nothing");
    let long_line = format!("[{}]\n", " ".repeat(1 << 21));
    for (name, text, says) in [
        ("empty.edn", "", "empty"),
        ("blank.edn", " \n\n\t\n", "empty"),
        ("none.edn", "[]\n", "no operations"),
        ("header.jsonl", "{\"chaosim_history\":1}\n", "no operations"),
        ("v99.jsonl", "{\"chaosim_history\":99}\n", "reads version 1"),
        ("long.edn", long_line.as_str(), "longer than 1048576 bytes"),
    ] {
        let f = d.join(name);
        std::fs::write(&f, text).unwrap();
        let (code, out, err) = check(&f, &[]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(out.is_empty(), "{name}: {out}");
        assert!(
            err.starts_with("error: ") && err.contains(name),
            "{name}: {err}"
        );
        assert!(err.contains(says), "{name}: {err}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}
