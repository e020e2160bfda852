//! Bad scenario input gets one clear, located message and exit code 2;
//! never a panic.

use std::path::PathBuf;

use assert_cmd::Command;

const GOOD: &str = r#"(
    id: "X01_ok",
    family: Stress,
    layer: 1,
    severity: 2,
    duration_s: 30,
    recovery_limit_s: 30,
    faults: [(kind: PauseHeartbeat, target: Kernel("coding_agent"), start_s: 5, length_s: 5, intensity: 1.0)],
    expected_safeguards: ["heartbeat_watchdog"],
)
"#;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("bad_input")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Validate a file with `content`; return (exit code, stderr).
fn validate_bytes(name: &str, content: &[u8]) -> (i32, String) {
    let dir = scratch(name);
    let file = dir.join(format!("{name}.ron"));
    std::fs::write(&file, content).unwrap();
    let out = Command::cargo_bin("chaosim")
        .unwrap()
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{name}: panic: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

fn validate(name: &str, content: &str) -> (i32, String) {
    validate_bytes(name, content.as_bytes())
}

fn expect_error(name: &str, content: &str, needles: &[&str]) {
    let (code, err) = validate(name, content);
    assert_eq!(code, 2, "{name}: exit code, stderr: {err}");
    assert!(
        err.contains(&format!("{name}.ron")),
        "{name}: the message names the file: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "{name}: expected '{n}' in: {err}");
    }
}

#[test]
fn a_good_file_validates() {
    let (code, err) = validate("good", GOOD);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_good_file_has_no_warning_and_a_fault_past_the_window_warns() {
    let (code, err) = validate("quiet", GOOD);
    assert_eq!((code, err.as_str()), (0, ""));
    // 5 s + 40 s in a 30 s window: valid, but the runner cuts it to 25 s.
    let long = GOOD.replace("length_s: 5,", "length_s: 40,");
    let (code, err) = validate("long", &long);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: ")
            && err.contains("long.ron: faults[0] (PauseHeartbeat) runs from 5 s for 40 s, past the 30 s window: it runs 25 s"),
        "{err}"
    );
}

#[test]
fn syntax_error_gives_line_and_column() {
    let bad = GOOD.replace("layer: 1,", "layer: 1,,");
    expect_error("syntax", &bad, &["syntax.ron:4:14:"]);
}

#[test]
fn truncated_file_is_a_syntax_error() {
    expect_error("truncated", &GOOD[..GOOD.len() / 2], &["truncated.ron:"]);
}

#[test]
fn empty_file_is_refused() {
    expect_error("empty", "", &["empty file"]);
}

#[test]
fn binary_garbage_is_refused() {
    let (code, err) = validate_bytes(
        "garbage",
        &[0x7f, b'E', b'L', b'F', 0, 0, 0xff, 0xfe, 0x00, 0x13],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("garbage.ron") && err.contains("binary"),
        "{err}"
    );
    let (code, err) = validate_bytes("latin1", b"(id: \"caf\xe9\")");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("UTF-8"), "{err}");
}

#[test]
fn unknown_field_is_named() {
    let bad = GOOD.replace("layer: 1,", "layer: 1,\n    colour: \"red\",");
    expect_error("unknown_field", &bad, &["colour", "unknown_field.ron:5:5:"]);
}

#[test]
fn unknown_fault_kind_is_named() {
    let bad = GOOD.replace("kind: PauseHeartbeat", "kind: MeltCpu");
    expect_error("unknown_kind", &bad, &["MeltCpu"]);
}

#[test]
fn severity_out_of_range_lists_the_allowed_values() {
    let bad = GOOD.replace("severity: 2", "severity: 7");
    expect_error("severity", &bad, &["severity", "7", "1 to 5"]);
}

#[test]
fn negative_and_overflowing_durations_are_refused() {
    expect_error(
        "negative",
        &GOOD.replace("duration_s: 30", "duration_s: -30"),
        &["duration_s", "allowed"],
    );
    expect_error(
        "overflow",
        &GOOD.replace("duration_s: 30", "duration_s: 1e300"),
        &["duration_s", "allowed"],
    );
    expect_error(
        "nan_start",
        &GOOD.replace("start_s: 5,", "start_s: NaN,"),
        &["faults[0].start_s"],
    );
}

#[test]
fn rate_outside_zero_to_one_is_refused() {
    let bad = GOOD.replace("intensity: 1.0", "intensity: 1.5");
    expect_error("rate", &bad, &["faults[0].intensity", "0 to 1"]);
}

#[test]
fn unknown_safeguard_lists_the_known_ones() {
    let bad = GOOD.replace("heartbeat_watchdog\"]", "heartbeat_watchdogg\"]");
    expect_error(
        "safeguard",
        &bad,
        &[
            "expected_safeguards[0]",
            "heartbeat_watchdogg",
            "rate_limiter",
        ],
    );
}

#[test]
fn duplicate_ids_in_a_folder_name_both_files() {
    let dir = scratch("dup");
    std::fs::write(dir.join("a.ron"), GOOD).unwrap();
    std::fs::write(dir.join("b.ron"), GOOD).unwrap();
    let out = Command::cargo_bin("chaosim")
        .unwrap()
        .arg("validate")
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("duplicate id 'X01_ok'") && err.contains("a.ron") && err.contains("b.ron"),
        "{err}"
    );
}

#[test]
fn a_missing_scenario_folder_is_bad_input_naming_it() {
    let out = Command::cargo_bin("chaosim")
        .unwrap()
        .args(["list", "--scenarios", "/nonexistent/dir"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent/dir"), "{err}");
}
