//! Issue 24, one test per defect: touch nothing that is not ours, lose
//! nothing that is (output folders, resume, merge, bad input).
//!
//! Every test works in its own folder under the target's temporary folder;
//! device nodes are made with `mknod` inside it (never the machine's own
//! `/dev`), and the tests that need one say they skip where `mknod` is not
//! allowed.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command as Std, Output};

use chaosim::Result;
use chaosim::model::stack::StackSpec;
use chaosim::program::Programme;
use chaosim::program::year::{YearConfig, run_programme};
use chaosim::scenario::repro::HandleContext;
use chaosim::scenario::run::Runner;
use chaosim::scenario::{Catalogue, Execution, Executor, Outcome};

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("robust")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn chaosim<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Std::new(env!("CARGO_BIN_EXE_chaosim"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 2 with one `error:` line, no panic; returns the line.
fn bad_input(o: &Output) -> String {
    let e = stderr(o);
    assert!(!e.contains("panicked"), "panic: {e}");
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {e}");
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    assert!(e.starts_with("error: "), "{e}");
    e
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", stderr(o));
}

/// A run that completed: exit 0, or 1 for a failed verdict (no error).
fn ran(o: &Output) {
    let e = stderr(o);
    assert!(
        matches!(o.status.code(), Some(0 | 1)) && !e.contains("error:"),
        "{:?}: {e}",
        o.status
    );
}

/// A character device `major:minor` at `path`, or `false` (and a note) if
/// this machine does not let the test make one.
fn mknod(path: &Path, major: u32, minor: u32) -> bool {
    let made = Std::new("mknod")
        .arg(path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("note: mknod not allowed here; the device-node part of this test skips");
    }
    made
}

fn is_char_device(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device())
}

/// Every file under `dir` (relative path, content), sorted: a folder's
/// whole state.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                out.push((rel + "/", Vec::new()));
                stack.push(p);
            } else if ft.is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.push((rel, format!("-> {}", t.display()).into_bytes()));
            } else if ft.is_file() {
                out.push((rel, std::fs::read(&p).unwrap()));
            } else {
                out.push((rel, b"(special)".to_vec()));
            }
        }
    }
    out.sort();
    out
}

const YEAR_QUIET: [&str; 3] = ["--no-report", "--quiet", "--threads"];

fn year(out: &Path, days: &str, seed: &str, extra: &[&str]) -> Output {
    let mut args: Vec<String> = ["year", "--days", days, "--seed", seed]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(YEAR_QUIET.iter().map(|s| s.to_string()));
    args.push("1".into());
    args.push("--out".into());
    args.push(out.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    chaosim(args)
}

/// An executor that fails at run `stop` (an interrupted programme).
struct FailAt<'a>(Runner<'a>, u64);

impl Executor for FailAt<'_> {
    fn execute(&self, exec: &Execution) -> Result<Vec<Outcome>> {
        if exec.run == self.1 {
            return Err(chaosim::Error::Check("simulated crash".into()));
        }
        self.0.execute(exec)
    }
}

/// A programme of `days` days (seed 5, built-in inputs) interrupted at run
/// `stop`, exactly as `chaosim year --days DAYS --seed 5` would have left
/// it: `--resume` continues it.
fn interrupted_year(dir: &Path, days: u64, stop: u64) {
    let cat = Catalogue::embedded().unwrap();
    let prog = Programme::embedded();
    let stack = StackSpec::embedded();
    let cfg = YearConfig {
        seed: 5,
        runs_total: days * prog.slots.len() as u64,
        out: dir.to_path_buf(),
        resume: false,
        force: false,
        initial_deployed: stack.default_safeguards(),
        inputs_fingerprint: prog.fingerprint
            ^ cat.fingerprint()
            ^ StackSpec::embedded_fingerprint(),
        handles: HandleContext {
            files: Default::default(),
            baseline: stack.default_safeguards(),
        },
    };
    let runner = Runner {
        catalogue: &cat,
        stack: &stack,
        threads: 1,
    };
    let r = run_programme(&cfg, &prog, &cat, &FailAt(runner, stop), &mut |_, _| {});
    assert!(r.is_err(), "the programme was interrupted");
    assert!(dir.join("checkpoint.ron").is_file());
}

// 1. `run` deletes paths it never wrote.

#[test]
fn d01_run_never_removes_or_truncates_a_path_it_did_not_write() {
    let d = scratch("d01");
    let trace = d.join("trace.json");
    std::fs::write(&trace, "keep me").unwrap();
    // An unknown-kernel error: the existing --trace file stays.
    let sc = d.join("sc");
    std::fs::create_dir(&sc).unwrap();
    std::fs::write(
        sc.join("X01_bad.ron"),
        GOOD.replace("Kernel(\"coding_agent\")", "Kernel(\"nonexistent\")"),
    )
    .unwrap();
    let o = chaosim([
        "run".as_ref(),
        "X01_ok".as_ref(),
        "--scenarios".as_ref(),
        sc.as_os_str(),
        "--trace".as_ref(),
        trace.as_os_str(),
    ]);
    bad_input(&o);
    assert_eq!(std::fs::read_to_string(&trace).unwrap(), "keep me");
    // A full device as --timeline: refused, and the device node stays.
    let full = d.join("full");
    if mknod(&full, 1, 7) {
        let o = chaosim([
            "run".as_ref(),
            "S02_acl_spam".as_ref(),
            "--timeline".as_ref(),
            full.as_os_str(),
            "--trace".as_ref(),
            trace.as_os_str(),
        ]);
        let e = bad_input(&o);
        assert!(e.contains("full"), "{e}");
        assert!(is_char_device(&full), "the device node is still there");
        assert_eq!(std::fs::read_to_string(&trace).unwrap(), "keep me");
    }
    // Success (S02 fails its verdict: exit 1, outputs written) replaces the
    // regular file, and leaves no temporary file.
    let tl = d.join("tl.csv");
    ran(&chaosim([
        "run".as_ref(),
        "S02_acl_spam".as_ref(),
        "--timeline".as_ref(),
        tl.as_os_str(),
        "--trace".as_ref(),
        trace.as_os_str(),
    ]));
    assert!(std::fs::read_to_string(&trace).unwrap().starts_with('{'));
    let names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

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

// 2. `--resume` pads with NUL bytes and exits 0; prefixes not checksummed.

#[test]
fn d02_resume_refuses_a_file_shorter_than_its_checkpoint() {
    let d = scratch("d02_short");
    let dir = d.join("year");
    interrupted_year(&dir, 6, 23);
    let outcomes = dir.join("outcomes.csv");
    let text = std::fs::read(&outcomes).unwrap();
    std::fs::write(&outcomes, &text[..text.len() / 3]).unwrap();
    let before = tree(&d);
    let e = bad_input(&year(&dir, "6", "5", &["--resume"]));
    assert!(e.contains("outcomes.csv"), "{e}");
    assert!(
        e.contains(&(text.len() / 3).to_string()),
        "names the file's length: {e}"
    );
    assert_eq!(tree(&d), before, "nothing touched");
    assert!(
        !std::fs::read(&outcomes).unwrap().contains(&0),
        "no NUL padding"
    );
}

#[test]
fn d02_resume_refuses_an_edited_prefix() {
    let d = scratch("d02_edit");
    let dir = d.join("year");
    interrupted_year(&dir, 6, 23);
    let runs = dir.join("runs.csv");
    let text = std::fs::read_to_string(&runs).unwrap();
    let edited = text.replacen(",Layer1,", ",Layer2,", 1);
    assert_ne!(edited, text);
    std::fs::write(&runs, &edited).unwrap();
    let before = tree(&d);
    let e = bad_input(&year(&dir, "6", "5", &["--resume"]));
    assert!(e.contains("runs.csv") && e.contains("checksum"), "{e}");
    assert_eq!(tree(&d), before, "nothing touched");
    // Unedited, the same folder resumes to the bytes of a straight run.
    std::fs::write(&runs, &text).unwrap();
    ok(&year(&dir, "6", "5", &["--resume"]));
    let straight = d.join("straight");
    ok(&year(&straight, "6", "5", &[]));
    for f in ["runs.csv", "outcomes.csv", "safeguards.csv", "audit.jsonl"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(straight.join(f)).unwrap(),
            "{f}"
        );
    }
}

// 3. `--resume` without `checkpoint.ron` overwrites.

#[test]
fn d03_resume_without_a_checkpoint_refuses() {
    let d = scratch("d03");
    let dir = d.join("year");
    ok(&year(&dir, "1", "5", &[]));
    std::fs::remove_file(dir.join("checkpoint.ron")).unwrap();
    let before = tree(&d);
    let e = bad_input(&year(&dir, "2", "9", &["--resume"]));
    assert!(e.contains("checkpoint.ron"), "{e}");
    assert_eq!(tree(&d), before);
}

// 4. Files clobbered without `--force`; `--force` removes exactly ours.

#[test]
fn d04_every_file_a_command_writes_counts() {
    let d = scratch("d04");
    for f in [
        "audit.jsonl",
        "safeguards.csv",
        "learning.ron",
        "report/index.html",
    ] {
        let dir = d.join(f.replace('/', "_"));
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "mine").unwrap();
        let o = chaosim([
            "year".as_ref(),
            "--days".as_ref(),
            "1".as_ref(),
            "--quiet".as_ref(),
            "--out".as_ref(),
            dir.as_os_str(),
        ]);
        let e = bad_input(&o);
        assert!(e.contains(f) && e.contains("--force"), "{f}: {e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "mine", "{f}");
    }
    for f in ["experiments.csv", "summary.csv"] {
        let dir = d.join(format!("sweep_{f}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(f), "mine").unwrap();
        let o = chaosim([
            "sweep".as_ref(),
            "--n".as_ref(),
            "3".as_ref(),
            "--rates".as_ref(),
            "0.1".as_ref(),
            "--quiet".as_ref(),
            "--out".as_ref(),
            dir.as_os_str(),
        ]);
        bad_input(&o);
        assert_eq!(std::fs::read_to_string(dir.join(f)).unwrap(), "mine");
    }
}

#[test]
fn d04_force_removes_exactly_this_commands_files() {
    let d = scratch("d04_force");
    let dir = d.join("year");
    ok(&year(&dir, "2", "5", &[]));
    // Stale generated playbooks of every safeguard, as another programme
    // would have left them: each is removed or written anew.
    let stale: Vec<PathBuf> = chaosim::safeguard::Safeguard::ALL
        .iter()
        .map(|s| dir.join(format!("playbooks/auto_generated_{}_fix.ron", s.name())))
        .collect();
    for p in &stale {
        std::fs::write(p, "// from another programme").unwrap();
    }
    std::fs::write(dir.join("playbooks/mine.ron"), "mine").unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    ok(&year(&dir, "1", "6", &["--force"]));
    for p in &stale {
        assert!(
            !p.exists() || std::fs::read_to_string(p).unwrap().contains("Generated by"),
            "{} is stale",
            p.display()
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("playbooks/mine.ron")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    // A sweep with --force replaces its files and keeps the others.
    let s = d.join("sweep");
    std::fs::create_dir_all(&s).unwrap();
    std::fs::write(s.join("summary.csv"), "old").unwrap();
    std::fs::write(s.join("notes.txt"), "mine").unwrap();
    let o = chaosim([
        "sweep".as_ref(),
        "--n".as_ref(),
        "3".as_ref(),
        "--rates".as_ref(),
        "0.1".as_ref(),
        "--quiet".as_ref(),
        "--force".as_ref(),
        "--out".as_ref(),
        s.as_os_str(),
    ]);
    ok(&o);
    assert!(
        std::fs::read_to_string(s.join("summary.csv"))
            .unwrap()
            .starts_with("rate,")
    );
    assert_eq!(
        std::fs::read_to_string(s.join("notes.txt")).unwrap(),
        "mine"
    );
}

// 5. Symlinks followed.

#[test]
fn d05_links_in_the_output_folder_are_never_written_through() {
    let d = scratch("d05");
    let outside = d.join("outside.txt");
    std::fs::write(&outside, "precious").unwrap();
    for name in ["audit.jsonl", "checkpoint.ron", "runs.csv"] {
        let dir = d.join(format!("year_{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join(name)).unwrap();
        for extra in [&[][..], &["--force"][..]] {
            let e = bad_input(&year(&dir, "1", "5", extra));
            assert!(e.contains(name) && e.contains("symbolic link"), "{e}");
        }
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
    }
    // The old temporary names are not used any more: a link there is left
    // alone and the year runs.
    let dir = d.join("year_tmp");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("checkpoint.tmp")).unwrap();
    ok(&year(&dir, "1", "5", &[]));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
    // A resumed folder whose file became a link is refused too.
    let dir = d.join("resumed");
    interrupted_year(&dir, 3, 12);
    std::fs::remove_file(dir.join("safeguards.csv")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("safeguards.csv")).unwrap();
    bad_input(&year(&dir, "3", "5", &["--resume"]));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
    // And a link given as a single-file output.
    let link = d.join("tl.csv");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    bad_input(&chaosim([
        "run".as_ref(),
        "S02_acl_spam".as_ref(),
        "--timeline".as_ref(),
        link.as_os_str(),
    ]));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
}

// 6. Unvalidated targets.

#[test]
fn d06_targets_are_checked_against_the_stack_before_anything_runs() {
    let d = scratch("d06");
    let f = d.join("X01_ok.ron");
    std::fs::write(
        &f,
        GOOD.replace("Kernel(\"coding_agent\")", "Kernel(\"nonexistent\")"),
    )
    .unwrap();
    let e = bad_input(&chaosim(["validate".as_ref(), f.as_os_str()]));
    assert!(
        e.contains("X01_ok.ron:8:") && e.contains("faults[0].target") && e.contains("nonexistent"),
        "{e}"
    );
    std::fs::write(
        &f,
        GOOD.replace(
            "kind: PauseHeartbeat, target: Kernel(\"coding_agent\")",
            "kind: KillNode, target: Node(1000)",
        ),
    )
    .unwrap();
    let e = bad_input(&chaosim(["validate".as_ref(), f.as_os_str()]));
    assert!(
        e.contains("faults[0].target") && e.contains("Node(1000)"),
        "{e}"
    );
    // A stack that renames a kernel a catalogue scenario names: refused
    // before the folder is made, naming the scenario that needs it.
    let stack = d.join("stack.ron");
    std::fs::write(
        &stack,
        StackSpec::embedded_text().replace("\"coding_agent\"", "\"coder\""),
    )
    .unwrap();
    let out = d.join("year");
    let o = chaosim([
        "year".as_ref(),
        "--days".as_ref(),
        "1".as_ref(),
        "--quiet".as_ref(),
        "--stack".as_ref(),
        stack.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let e = bad_input(&o);
    assert!(e.contains("coding_agent") && e.contains("target"), "{e}");
    assert!(!out.exists(), "no folder");
    let e = bad_input(&chaosim([
        "validate".as_ref(),
        "--stack".as_ref(),
        stack.as_os_str(),
    ]));
    assert!(e.contains("coding_agent"), "{e}");
}

// 7. `merge` trusts `shard.ron` aggregates.

#[test]
fn d07_merge_refuses_edited_aggregates() {
    let d = scratch("d07");
    for k in 1..=2 {
        ok(&chaosim([
            "sweep".as_ref(),
            "--n".as_ref(),
            "50".as_ref(),
            "--rates".as_ref(),
            "0.2".as_ref(),
            "--variants".as_ref(),
            "playbook".as_ref(),
            "--quiet".as_ref(),
            "--shard".as_ref(),
            format!("{k}/2").as_ref(),
            "--out".as_ref(),
            d.join(format!("s{k}")).as_os_str(),
        ]));
    }
    let meta = d.join("s1/shard.ron");
    let text = std::fs::read_to_string(&meta).unwrap();
    let edited = regex_replace_first(&text, "successes: ", "7");
    assert_ne!(edited, text);
    std::fs::write(&meta, edited).unwrap();
    let out = d.join("merged");
    let e = bad_input(&chaosim([
        "merge".as_ref(),
        d.join("s1").as_os_str(),
        d.join("s2").as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]));
    assert!(e.contains("shard.ron"), "{e}");
    assert!(!out.exists(), "no --out folder left");
}

/// Replace the number after the first `key` with `value`.
fn regex_replace_first(text: &str, key: &str, value: &str) -> String {
    let i = text.find(key).unwrap() + key.len();
    let j = i + text[i..].find(|c: char| !c.is_ascii_digit()).unwrap();
    format!("{}{value}{}", &text[..i], &text[j..])
}

// 8. Unbounded reads.

#[test]
fn d08_inputs_are_read_in_bounded_memory() {
    let d = scratch("d08");
    let zero = d.join("zero");
    if mknod(&zero, 1, 5) {
        for flag in ["--model", "--playbook"] {
            let e = bad_input(&chaosim([
                "sweep".as_ref(),
                "--n".as_ref(),
                "1".as_ref(),
                flag.as_ref(),
                zero.as_os_str(),
                "--out".as_ref(),
                d.join("out").as_os_str(),
            ]));
            assert!(e.contains("not a regular file"), "{e}");
        }
        let e = bad_input(&chaosim([
            "run".as_ref(),
            "S02_acl_spam".as_ref(),
            "--stack".as_ref(),
            zero.as_os_str(),
        ]));
        assert!(e.contains("zero"), "{e}");
    }
    // A FIFO with no writer: refused without blocking on it.
    let fifo = d.join("fifo");
    if Std::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let e = bad_input(&chaosim(["validate".as_ref(), fifo.as_os_str()]));
        assert!(e.contains("fifo"), "{e}");
    }
    // A huge line in the audit log.
    let dir = d.join("year");
    ok(&year(&dir, "1", "5", &[]));
    let audit = dir.join("audit.jsonl");
    let mut text = std::fs::read(&audit).unwrap();
    text.extend(std::iter::repeat_n(b'x', 8 << 20));
    std::fs::write(&audit, text).unwrap();
    let e = bad_input(&chaosim([
        "audit".as_ref(),
        "verify".as_ref(),
        dir.as_os_str(),
    ]));
    assert!(
        e.contains("audit.jsonl:") && e.contains("longer than"),
        "{e}"
    );
    // Oversized input files.
    let big = d.join("big.ron");
    std::fs::write(&big, vec![b' '; 17 << 20]).unwrap();
    let e = bad_input(&chaosim(["validate".as_ref(), big.as_os_str()]));
    assert!(
        e.contains("big.ron:1:1:") && e.contains("larger than"),
        "{e}"
    );
}

// 9. A panic.

#[test]
fn d09_a_non_ascii_audit_head_is_no_panic() {
    let d = scratch("d09");
    let dir = d.join("year");
    ok(&year(&dir, "1", "5", &[]));
    let cp = dir.join("checkpoint.ron");
    let text = std::fs::read_to_string(&cp).unwrap();
    let i = text.find("audit_head: \"").unwrap() + "audit_head: \"".len();
    let j = i + text[i..].find('"').unwrap();
    let edited = format!("{}{}{}", &text[..i], "€".repeat(12), &text[j..]);
    std::fs::write(&cp, edited).unwrap();
    let o = chaosim(["audit".as_ref(), "verify".as_ref(), dir.as_os_str()]);
    let e = stderr(&o);
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(o.status.code(), Some(1), "a mismatch: {e}");
    assert!(e.contains("€"), "{e}");
}

// 10. `audit verify` gaps.

#[test]
fn d10_audit_verify_checks_exact_bytes_and_knows_the_head() {
    let d = scratch("d10");
    let dir = d.join("year");
    ok(&year(&dir, "1", "5", &[]));
    let audit = dir.join("audit.jsonl");
    let good = std::fs::read_to_string(&audit).unwrap();
    let verify = || chaosim(["audit".as_ref(), "verify".as_ref(), dir.as_os_str()]);
    ok(&verify());
    let broken = |o: &Output, what: &str| {
        let e = stderr(o);
        assert_eq!(o.status.code(), Some(1), "{what}: {e}");
        assert!(!e.contains("panicked"), "{what}: {e}");
        assert_eq!(e.lines().count(), 1, "{what}: {e}");
        assert!(e.contains("audit.jsonl:"), "{what}: {e}");
    };
    // Edits that keep the JSON equal but change the bytes.
    for (what, text) in [
        (
            "whitespace",
            good.replacen("{\"seq\":3,", "{\"seq\": 3,", 1),
        ),
        (
            "key order",
            good.replacen("\"actor\":\"chaos_loop\",\"action\"", "\"action\"", 1)
                .replacen("\"resource\"", "\"actor\":\"chaos_loop\",\"resource\"", 1),
        ),
        (
            "escape",
            good.replacen("\"chaos_loop\"", "\"\\u0063haos_loop\"", 1),
        ),
        ("crlf", good.replacen('\n', "\r\n", 1)),
    ] {
        assert_ne!(text, good, "{what}");
        std::fs::write(&audit, &text).unwrap();
        broken(&verify(), what);
    }
    // A cut tail shows without the checkpoint (missing, garbage or
    // incomplete): the head is recorded in audit.head too.
    let lines: Vec<&str> = good.lines().collect();
    let cut: String = lines[..lines.len() - 2]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&audit, &cut).unwrap();
    let cp = dir.join("checkpoint.ron");
    let cp_text = std::fs::read_to_string(&cp).unwrap();
    std::fs::write(&cp, cp_text.replace("complete: true", "complete: false")).unwrap();
    broken(&verify(), "cut, incomplete checkpoint");
    std::fs::remove_file(&cp).unwrap();
    broken(&verify(), "cut, no checkpoint");
    std::fs::write(&audit, &good).unwrap();
    ok(&verify());
    // Garbage in the checkpoint is bad input, located.
    std::fs::write(&cp, "(version: 2, garbage").unwrap();
    let e = bad_input(&verify());
    assert!(e.contains("checkpoint.ron:1:"), "{e}");
}

// 11. Exit 1 for bad input.

#[test]
fn d11_bad_input_is_exit_2_and_io_errors_name_the_path() {
    let d = scratch("d11");
    let missing = d.join("missing.ron");
    let latin1 = d.join("latin1.ron");
    std::fs::write(&latin1, b"(name: \"caf\xe9\")").unwrap();
    for flag in ["--model", "--playbook"] {
        for f in [&missing, &latin1] {
            let e = bad_input(&chaosim([
                "sweep".as_ref(),
                "--n".as_ref(),
                "1".as_ref(),
                flag.as_ref(),
                f.as_os_str(),
                "--out".as_ref(),
                d.join("out").as_os_str(),
            ]));
            assert!(e.contains(&f.display().to_string()), "{e}");
        }
    }
    let file = d.join("file.ron");
    std::fs::write(&file, GOOD).unwrap();
    for flag in ["--scenarios", "--playbooks"] {
        let e = bad_input(&year(
            &d.join("y"),
            "1",
            "5",
            &[flag, file.to_str().unwrap()],
        ));
        assert!(e.contains("file.ron"), "{e}");
    }
    let e = bad_input(&year(&file, "1", "5", &[]));
    assert!(e.contains("file.ron") && e.contains("not a folder"), "{e}");
    let e = bad_input(&chaosim([
        "run".as_ref(),
        "S02_acl_spam".as_ref(),
        "--timeline".as_ref(),
        d.join("no/such/dir/t.csv").as_os_str(),
    ]));
    assert!(
        e.contains("no/such/dir") && e.contains("does not exist"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), GOOD);
    // A write that fails (here: the file-size limit, like a full disk)
    // names the whole path.
    let dir = d.join("small");
    let o = Std::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f 16; trap '' XFSZ; exec '{}' year --days 2 --no-report --quiet --threads 1 --out '{}'",
            env!("CARGO_BIN_EXE_chaosim"),
            dir.display()
        ))
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.contains(&dir.display().to_string()),
        "names the path: {e}"
    );
    assert!(
        e.contains(".csv") || e.contains(".jsonl") || e.contains(".ron"),
        "{e}"
    );
}

// 12. Resources within the allowed ranges.

#[test]
fn d12_accepted_input_runs_in_bounded_memory() {
    let d = scratch("d12");
    let text = include_str!("../scenarios/JEP06_bridge_partition.ron")
        .replace("duration_s: 60", "duration_s: 86400");
    std::fs::write(d.join("JEP06_bridge_partition.ron"), text).unwrap();
    let e = bad_input(&chaosim([
        "run".as_ref(),
        "JEP06_bridge_partition".as_ref(),
        "--scenarios".as_ref(),
        d.as_os_str(),
        "--difficulty".as_ref(),
        "10".as_ref(),
    ]));
    assert!(
        e.contains("JEP06_bridge_partition.ron:") && e.contains("duration_s"),
        "{e}"
    );
    let e = bad_input(&chaosim([
        "phold", "--lps", "10000000", "--events", "1000000",
    ]));
    assert!(e.contains("--events") || e.contains("--lps"), "{e}");
}

// 13. Located errors.

#[test]
fn d13_range_errors_name_the_line_and_column() {
    let d = scratch("d13");
    let f = d.join("X01_ok.ron");
    std::fs::write(&f, GOOD.replace("intensity: 1.0", "intensity: 5")).unwrap();
    let e = bad_input(&chaosim(["validate".as_ref(), f.as_os_str()]));
    assert!(
        e.contains("X01_ok.ron:8:") && e.contains("faults[0].intensity"),
        "{e}"
    );
    let stack = d.join("stack.ron");
    std::fs::write(
        &stack,
        StackSpec::embedded_text().replace("restarts_max: 3", "restarts_max: 5000"),
    )
    .unwrap();
    let e = bad_input(&chaosim([
        "run".as_ref(),
        "S02_acl_spam".as_ref(),
        "--stack".as_ref(),
        stack.as_os_str(),
    ]));
    let line = StackSpec::embedded_text()
        .lines()
        .position(|l| l.contains("restarts_max: 3"))
        .unwrap()
        + 1;
    assert!(
        e.contains(&format!("stack.ron:{line}:")) && e.contains("restarts_max"),
        "{e}"
    );
    let prog = d.join("programme.ron");
    std::fs::write(
        &prog,
        chaosim::program::spec::DEFAULT_PROGRAMME_RON.replace("severity: 2", "severity: 9"),
    )
    .unwrap();
    let e = bad_input(&year(
        &d.join("y"),
        "1",
        "5",
        &["--programme", prog.to_str().unwrap()],
    ));
    assert!(
        e.contains("programme.ron:") && e.contains("slots[0].severity"),
        "{e}"
    );
    let (l, c) = chaosim::input::locate(
        &std::fs::read_to_string(&prog).unwrap(),
        "slots[0].severity",
    );
    assert!(e.contains(&format!("programme.ron:{l}:{c}:")), "{e}");
}

// 14. Smaller ones.

#[test]
fn d14_smaller_refusals() {
    let d = scratch("d14");
    // A failed merge leaves no empty --out folder.
    let out = d.join("merged");
    bad_input(&chaosim([
        "merge".as_ref(),
        d.join("nope").as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]));
    assert!(!out.exists());
    // --resume --force, --resume on a missing folder.
    bad_input(&year(&d.join("y"), "1", "5", &["--resume", "--force"]));
    let e = bad_input(&year(&d.join("missing"), "1", "5", &["--resume"]));
    assert!(e.contains("missing"), "{e}");
    assert!(!d.join("missing").exists());
    // selfcheck --threads 0, --at 12:00:00.
    bad_input(&chaosim([
        "selfcheck",
        "sweep",
        "--threads",
        "0",
        "--n",
        "2",
    ]));
    bad_input(&chaosim([
        "selfcheck",
        "year",
        "--threads",
        "0",
        "--days",
        "1",
    ]));
    let e = bad_input(&chaosim(["run", "S02_acl_spam", "--at", "12:00:00."]));
    assert!(e.contains("12:00:00."), "{e}");
    // A huge length in the checkpoint.
    let dir = d.join("huge");
    interrupted_year(&dir, 3, 12);
    let cp = dir.join("checkpoint.ron");
    let text = std::fs::read_to_string(&cp).unwrap();
    let i = text.find("runs: ").unwrap() + "runs: ".len();
    let j = i + text[i..].find(',').unwrap();
    std::fs::write(
        &cp,
        format!("{}18446744073709551615{}", &text[..i], &text[j..]),
    )
    .unwrap();
    let e = bad_input(&year(&dir, "3", "5", &["--resume"]));
    assert!(
        e.contains("runs.csv") && e.contains("18446744073709551615"),
        "{e}"
    );
}

// A link as an output folder, and an output over an input.

/// An output folder that is a symbolic link is refused (the files would
/// land in the folder it names), for a batch's `--out` and for the
/// `report/` folder `chaosim report` renders into; a `chaosim run` output
/// that names one of the command's own inputs is refused too. Each time:
/// exit 2, one line, and the files outside hold what they held.
#[test]
fn d17_no_output_goes_through_a_folder_link_or_over_an_input() {
    let d = scratch("d17");
    let outside = d.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("index.html"), "precious").unwrap();
    let link = d.join("link");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let e = bad_input(&chaosim([
        "sweep".as_ref(),
        "--rates".as_ref(),
        "0.5".as_ref(),
        "--n".as_ref(),
        "2".as_ref(),
        "--quiet".as_ref(),
        "--no-report".as_ref(),
        "--out".as_ref(),
        link.as_os_str(),
    ]));
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    // A year folder whose report/ is a link elsewhere: report refuses it.
    let y = d.join("y");
    let out = year(&y, "1", "1", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::os::unix::fs::symlink(&outside, y.join("report")).unwrap();
    for force in [false, true] {
        let mut args = vec!["report".as_ref(), y.as_os_str()];
        if force {
            args.push("--force".as_ref());
        }
        let e = bad_input(&chaosim(args));
        assert!(e.contains("symbolic link"), "{e}");
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("index.html")).unwrap(),
        "precious"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    // run --trace over the stack file it reads, named another way.
    let stack = d.join("my-stack.ron");
    std::fs::write(&stack, chaosim::model::stack::StackSpec::embedded_text()).unwrap();
    let other_name = d.join("y").join("..").join("my-stack.ron");
    let e = bad_input(&chaosim([
        "run".as_ref(),
        "S02_acl_spam".as_ref(),
        "--stack".as_ref(),
        stack.as_os_str(),
        "--trace".as_ref(),
        other_name.as_os_str(),
    ]));
    assert!(e.contains("--trace") && e.contains("inputs"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&stack).unwrap(),
        chaosim::model::stack::StackSpec::embedded_text()
    );
}

/// A year that fails before its first checkpoint (here a file size limit,
/// `ulimit -f`) takes back what it wrote: no folder is left that neither a
/// new start nor `--resume` would accept.
#[test]
fn d18_a_year_that_cannot_write_its_first_checkpoint_leaves_nothing() {
    let d = scratch("d18");
    let dir = d.join("y");
    // A one-day year under a 10 KiB file size limit (SIGXFSZ ignored, so
    // the write fails with EFBIG instead of killing the process).
    let limited = || {
        Std::new("sh")
            .arg("-c")
            .arg("trap '' XFSZ; ulimit -f 20; exec \"$0\" year --days 1 --quiet --no-report --out \"$1\"")
            .arg(env!("CARGO_BIN_EXE_chaosim"))
            .arg(&dir)
            .output()
            .unwrap()
    };
    let out = limited();
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("File too large"), "{e}");
    assert!(
        !dir.exists(),
        "left: {:?}",
        std::fs::read_dir(&dir).map(|r| r.count())
    );
    // A folder that existed before keeps existing, emptied of our files.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let out = limited();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["notes.txt"]);
    assert!(year(&dir, "1", "1", &[]).status.success());
}

/// A `*.ron` entry of an input folder that is no regular file (a FIFO, a
/// link to a device, a dangling link, a folder) is refused, naming it,
/// instead of being skipped; a folder without any `*.ron` is refused by
/// `validate` as by `--scenarios`.
#[test]
fn d19_every_ron_of_an_input_folder_is_read_or_refused() {
    let d = scratch("d19");
    let dir = d.join("scen");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("X01_ok.ron"), GOOD).unwrap();
    let validate = || chaosim(["validate".as_ref(), dir.as_os_str()]);
    let list = || chaosim(["list".as_ref(), "--scenarios".as_ref(), dir.as_os_str()]);
    assert!(validate().status.success(), "{}", stderr(&validate()));
    let odd = dir.join("odd.ron");
    let makers: [(&str, &dyn Fn()); 4] = [
        ("not a regular file", &|| {
            assert!(Std::new("mkfifo").arg(&odd).status().unwrap().success())
        }),
        ("not a regular file", &|| {
            std::os::unix::fs::symlink("/dev/zero", &odd).unwrap()
        }),
        ("dangling", &|| {
            std::os::unix::fs::symlink(d.join("nowhere"), &odd).unwrap()
        }),
        ("a folder", &|| std::fs::create_dir(&odd).unwrap()),
    ];
    for (says, make) in makers {
        make();
        for out in [validate(), list()] {
            let e = bad_input(&out);
            assert!(e.contains("odd.ron") && e.contains(says), "{e}");
        }
        if odd.is_dir() {
            std::fs::remove_dir(&odd).unwrap();
        } else {
            std::fs::remove_file(&odd).unwrap();
        }
    }
    let empty = d.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = bad_input(&chaosim(["validate".as_ref(), empty.as_os_str()]));
    assert!(e.contains("no *.ron"), "{e}");
}
