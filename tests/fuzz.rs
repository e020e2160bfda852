//! A seeded mutation fuzzer over chaosim's inputs and output folders
//! (issue 24).
//!
//! Each case takes a good file or folder, mutates it (bytes flipped,
//! inserted, deleted, duplicated or cut; numbers replaced with extreme
//! ones; tokens such as `Kernel("nonexistent")` or `Node(1000)` inserted;
//! lines swapped; files of a folder cut, deleted, replaced by links to a
//! file outside it, by folders or FIFOs), runs one command on it in a
//! sandbox folder of its own, and asserts:
//!
//! - exit code 0 or 2 (1 only for the verdicts of `audit verify` and
//!   `replay`: a broken chain, a digest or replay mismatch; and for a failed verdict
//!   of `run`, with no error line), within a time limit, no panic;
//! - on an error, exactly one `error:` line (other stderr lines only
//!   `note:`), and an error about a file's content names the file and the
//!   line:column;
//! - nothing outside the command's output folder changed (a file outside
//!   it, reachable through links the mutation planted, included);
//! - on an error, the output folder is as it was (no partial folder, no
//!   temporary file left).
//!
//! Targets: scenario files (`validate`, and `run --timeline --history` when
//! valid and short), stack files (`validate --stack`), playbook folders
//! (`validate --playbooks`), programme files (`year --programme --days 1`),
//! the API model and playbook (`sweep --model/--playbook`), and corrupted
//! output folders: an interrupted year (`year --resume`, `replay`, `audit
//! verify`, `report`) and sweep shards (`merge`, `report`).
//!
//! The test suite runs `FUZZ_CASES_DEFAULT` cases; for a larger run:
//!
//! ```sh
//! CHAOSIM_FUZZ_CASES=50000 CHAOSIM_FUZZ_SEED=7 cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! A failing case keeps its sandbox under `target/tmp/fuzz/` and the panic
//! message names the case, its seed and its command;
//! `CHAOSIM_FUZZ_ONLY=N` (with the same `CHAOSIM_FUZZ_CASES` above `N` and
//! seed) runs that case alone.

use std::collections::BTreeMap;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chaosim::Result;
use chaosim::model::stack::StackSpec;
use chaosim::program::Programme;
use chaosim::program::year::{YearConfig, run_programme};
use chaosim::scenario::repro::HandleContext;
use chaosim::scenario::run::Runner;
use chaosim::scenario::{Catalogue, Execution, Executor, Outcome};

/// Cases the test suite runs (a few seconds on 2 cores).
const FUZZ_CASES_DEFAULT: usize = 3000;
/// A case that runs longer than this hangs.
const CASE_TIME_LIMIT: Duration = Duration::from_secs(120);

/// SplitMix64: the fuzzer's own seeded random numbers.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }
}

const TOKENS: &[&str] = &[
    ",",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    "\"",
    "//",
    "/*",
    "*/",
    "Some(",
    "None",
    "true",
    "false",
    "Kernel(\"nonexistent\")",
    "Node(1000)",
    "Node(4)",
    "RandomKernels(30)",
    "RandomKernels(0)",
    "CriticalKernel",
    "Partition(Bridge)",
    "Nodes(All)",
    "Platform",
    "\"€€€€€€€€€€€€€€€€\"",
    "'x'",
    "r#\"raw\"#",
    "#![enable(implicit_some)]",
    "\\u{0}",
    "\u{0}",
    "\u{feff}",
    "é",
    "NaN",
    "inf",
    "-inf",
    "1e999",
    "-0",
    "0x10",
    "1_000",
    "kind: KillNode",
    "kind: ConcurrentWrites",
    "target: Node(9)",
    "intensity: 7",
    "duration_s: 86400",
    "recovery_limit_s: 86400",
    "length_s: 86400",
    "severity: 0",
    "layer: 9",
    "heartbeat_watchdogg",
    "\"rate_limiter\"",
    "steps: []",
    "nodes: 0",
    "nodes: 31",
    "clients: 60000",
    "\n",
    "\r\n",
    "\t",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "7",
    "9",
    "10",
    "11",
    "31",
    "32",
    "255",
    "256",
    "1000",
    "1001",
    "65535",
    "65536",
    "86400",
    "86401",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "9223372036854775808",
    "0.5",
    "1.5",
    "-0.0",
    "1e300",
    "1e-300",
    "NaN",
    "inf",
    "3.0e12",
];

/// One mutation of `text` (bytes: the result need not be UTF-8).
fn mutate_once(rng: &mut Rng, b: &mut Vec<u8>) {
    let len = b.len();
    match rng.below(11) {
        0 if len > 0 => {
            let i = rng.below(len);
            b[i] = rng.next() as u8;
        }
        1 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below(32.min(len - i));
            b.drain(i..i + n);
        }
        2 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below(64.min(len - i));
            let copy = b[i..i + n].to_vec();
            let at = rng.below(len);
            b.splice(at..at, copy);
        }
        3 => {
            let t = rng.pick(TOKENS).as_bytes().to_vec();
            let at = rng.below(len + 1);
            b.splice(at..at, t);
        }
        4 | 5 => {
            // Replace one number with an extreme one.
            let starts: Vec<usize> = (0..len)
                .filter(|&i| b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()))
                .collect();
            if let Some(&i) = (!starts.is_empty()).then(|| rng.pick(&starts)) {
                let mut j = i;
                while j < len && (b[j].is_ascii_digit() || b[j] == b'.' || b[j] == b'_') {
                    j += 1;
                }
                let n = rng.pick(NUMBERS).as_bytes().to_vec();
                b.splice(i..j, n);
            }
        }
        6 if len > 0 => {
            let at = rng.below(len);
            b.truncate(at);
        }
        7 => {
            // Swap two lines.
            let text = String::from_utf8_lossy(b).into_owned();
            let mut lines: Vec<&str> = text.split('\n').collect();
            if lines.len() > 2 {
                let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(i, j);
                *b = lines.join("\n").into_bytes();
            }
        }
        8 => {
            // Replace a quoted string.
            let quotes: Vec<usize> = (0..len).filter(|&i| b[i] == b'"').collect();
            if quotes.len() >= 2 {
                let k = rng.below(quotes.len() - 1);
                let (i, j) = (quotes[k] + 1, quotes[k + 1]);
                let long = "x".repeat(70);
                let choices = [
                    "nonexistent",
                    "",
                    "€€€",
                    "a b",
                    "coding_agent",
                    "S02_acl_spam",
                    &long,
                ];
                let repl = rng.pick(&choices).as_bytes().to_vec();
                b.splice(i..j, repl);
            }
        }
        9 => {
            let at = rng.below(len + 1);
            let choices: [&[u8]; 4] = [b"\xff\xfe", b"\0", b"\xc3", b"\xe2\x82"];
            let junk = *rng.pick(&choices);
            b.splice(at..at, junk.iter().copied());
        }
        _ => {
            let at = rng.below(len + 1);
            let t = rng.pick(NUMBERS).as_bytes().to_vec();
            b.splice(at..at, t);
        }
    }
}

fn mutate(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let mut b = text.to_vec();
    for _ in 0..1 + rng.below(3) {
        mutate_once(rng, &mut b);
    }
    b
}

/// A folder's state: path -> kind and content.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let Ok(ft) = e.file_type() else { continue };
            let v = if ft.is_dir() {
                stack.push(p);
                b"(dir)".to_vec()
            } else if ft.is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display()).into_bytes()
            } else if ft.is_fifo() {
                b"(fifo)".to_vec()
            } else if ft.is_file() {
                std::fs::read(&p).unwrap_or_default()
            } else {
                b"(special)".to_vec()
            };
            out.insert(rel, v);
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// The regular files under `dir` (never a FIFO a previous corruption made:
/// opening it would block).
fn files_of(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = tree(dir)
        .into_keys()
        .map(|k| dir.join(k))
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file()))
        .collect();
    v.sort();
    v
}

/// Corrupt one file of `dir` (or several): the folder mutations.
fn corrupt_folder(rng: &mut Rng, dir: &Path, outside: &Path) -> String {
    let files = files_of(dir);
    if files.is_empty() {
        return "nothing left to corrupt".into();
    }
    let f = rng.pick(&files).clone();
    let name = f.strip_prefix(dir).unwrap().display().to_string();
    match rng.below(10) {
        0 => {
            let len = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
            let at = rng.below(len as usize + 1) as u64;
            let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
            file.set_len(at).unwrap();
            format!("cut {name} to {at}")
        }
        1..=4 => {
            let text = std::fs::read(&f).unwrap();
            std::fs::write(&f, mutate(rng, &text)).unwrap();
            format!("mutated {name}")
        }
        5 => {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new().append(true).open(&f).unwrap();
            let choices: [&[u8]; 4] = [b"garbage", b"\n", b"1,2,3\n", b"{\"seq\":"];
            let tail: &&[u8] = rng.pick(&choices);
            file.write_all(tail).unwrap();
            format!("appended to {name}")
        }
        6 => {
            std::fs::remove_file(&f).unwrap();
            format!("deleted {name}")
        }
        7 => {
            std::fs::remove_file(&f).unwrap();
            std::os::unix::fs::symlink(outside, &f).unwrap();
            format!("{name} -> outside")
        }
        8 => {
            std::fs::remove_file(&f).unwrap();
            std::fs::create_dir(&f).unwrap();
            format!("{name} is a folder")
        }
        _ => {
            std::fs::remove_file(&f).unwrap();
            let ok = Command::new("mkfifo")
                .arg(&f)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                std::fs::write(&f, "").unwrap();
            }
            format!("{name} is a FIFO")
        }
    }
}

/// What a case ran.
struct Case {
    target: &'static str,
    args: Vec<String>,
    /// The folder the command may write into (relative to the sandbox).
    writes: Option<String>,
    /// Exit code 1 is a verdict of this command.
    verdicts: bool,
    what: String,
}

struct Bases {
    scenarios: Vec<(String, String)>,
    stack: String,
    playbooks: Vec<(String, String)>,
    programme: String,
    model: String,
    api_playbook: String,
    year: PathBuf,
    shards: PathBuf,
}

const TINY_PROGRAMME_DAYS: u64 = 25;

fn tiny_programme() -> String {
    let p = chaosim::program::spec::DEFAULT_PROGRAMME_RON;
    let start = p.find("        (time: \"08:00\"").unwrap();
    let end = p.find("    ],\n    days_per_year").unwrap();
    let mut t = format!("{}{}", &p[..start], &p[end..]);
    t = t.replace("per_run: 3", "per_run: 1");
    t
}

struct FailAt<'a>(Runner<'a>, u64);

impl Executor for FailAt<'_> {
    fn execute(&self, exec: &Execution) -> Result<Vec<Outcome>> {
        if exec.run == self.1 {
            return Err(chaosim::Error::Check("simulated crash".into()));
        }
        self.0.execute(exec)
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_chaosim")
}

fn bases(root: &Path) -> Bases {
    let scenarios = chaosim::scenario::catalogue::EMBEDDED
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let playbooks = chaosim::playbook::EMBEDDED
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let programme = tiny_programme();
    let model = ron::ser::to_string_pretty(
        &chaosim::sweep::agent::ApiModelConfig::default(),
        ron::ser::PrettyConfig::default(),
    )
    .unwrap();
    let api_playbook = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/api_pet_store.ron"),
    )
    .unwrap();
    // An interrupted year with the tiny programme (1 run a day), exactly as
    // `chaosim year --programme P --days 25 --seed 5` would leave it.
    let base = root.join("base");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let prog_path = base.join("programme.ron");
    std::fs::write(&prog_path, &programme).unwrap();
    let cat = Catalogue::embedded().unwrap();
    let prog = Programme::load(&prog_path).unwrap();
    let stack = StackSpec::embedded();
    let year = base.join("year");
    let cfg = YearConfig {
        seed: 5,
        runs_total: TINY_PROGRAMME_DAYS * prog.slots.len() as u64,
        out: year.clone(),
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
    assert!(run_programme(&cfg, &prog, &cat, &FailAt(runner, 23), &mut |_, _| {}).is_err());
    // Two sweep shards.
    let shards = base.join("shards");
    for k in 1..=2 {
        let o = Command::new(bin())
            .args([
                "sweep",
                "--n",
                "20",
                "--rates",
                "0:0.2:0.1",
                "--quiet",
                "--threads",
                "1",
            ])
            .args(["--shard", &format!("{k}/2"), "--out"])
            .arg(shards.join(format!("s{k}")))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    Bases {
        scenarios,
        stack: StackSpec::embedded_text(),
        playbooks,
        programme,
        model,
        api_playbook,
        year,
        shards,
    }
}

/// Build case `i` in the sandbox `sb`.
fn make_case(rng: &mut Rng, b: &Bases, sb: &Path) -> Case {
    let input = sb.join("in");
    let out = sb.join("out");
    let outside = sb.join("outside/keep.txt");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let s = |p: &Path| p.display().to_string();
    let roll = rng.below(100);
    if roll < 34 {
        let (name, text) = rng.pick(&b.scenarios).clone();
        let sc = input.join("sc");
        std::fs::create_dir_all(&sc).unwrap();
        let f = sc.join(&name);
        let m = mutate(rng, text.as_bytes());
        std::fs::write(&f, &m).unwrap();
        let id = name.trim_end_matches(".ron").to_string();
        // A valid short scenario also runs, writing its outputs.
        let short = std::str::from_utf8(&m)
            .ok()
            .and_then(|t| chaosim::scenario::spec::parse_scenario(t, &f).ok())
            .is_some_and(|spec| {
                spec.duration_ns <= 120_000_000_000 && spec.recovery_limit_ns <= 120_000_000_000
            });
        if short && rng.chance(1, 3) {
            return Case {
                target: "scenario (run)",
                args: vec![
                    "run".into(),
                    id,
                    "--scenarios".into(),
                    s(&sc),
                    "--timeline".into(),
                    s(&out.join("t.csv")),
                    "--history".into(),
                    s(&out.join("h.jsonl")),
                ],
                writes: Some("out".into()),
                verdicts: false,
                what: format!("mutated {name}"),
            };
        }
        return Case {
            target: "scenario (validate)",
            args: vec!["validate".into(), s(&f)],
            writes: None,
            verdicts: false,
            what: format!("mutated {name}"),
        };
    }
    if roll < 48 {
        let f = input.join("stack.ron");
        std::fs::write(&f, mutate(rng, b.stack.as_bytes())).unwrap();
        return Case {
            target: "stack",
            args: vec!["validate".into(), "--stack".into(), s(&f)],
            writes: None,
            verdicts: false,
            what: "mutated stack".into(),
        };
    }
    if roll < 55 {
        let dir = input.join("playbooks");
        std::fs::create_dir_all(&dir).unwrap();
        let k = rng.below(b.playbooks.len());
        for (j, (name, text)) in b.playbooks.iter().enumerate() {
            let t = if j == k {
                mutate(rng, text.as_bytes())
            } else {
                text.as_bytes().to_vec()
            };
            std::fs::write(dir.join(name), t).unwrap();
        }
        return Case {
            target: "playbooks",
            args: vec!["validate".into(), "--playbooks".into(), s(&dir)],
            writes: None,
            verdicts: false,
            what: format!("mutated {}", b.playbooks[k].0),
        };
    }
    if roll < 62 {
        let f = input.join("programme.ron");
        std::fs::write(&f, mutate(rng, b.programme.as_bytes())).unwrap();
        return Case {
            target: "programme",
            args: vec![
                "year".into(),
                "--days".into(),
                "1".into(),
                "--programme".into(),
                s(&f),
                "--no-report".into(),
                "--quiet".into(),
                "--threads".into(),
                "1".into(),
                "--out".into(),
                s(&out.join("y")),
            ],
            writes: Some("out".into()),
            verdicts: false,
            what: "mutated programme".into(),
        };
    }
    if roll < 69 {
        let (flag, text, name) = if rng.chance(1, 2) {
            ("--model", &b.model, "model.ron")
        } else {
            ("--playbook", &b.api_playbook, "api.ron")
        };
        let f = input.join(name);
        std::fs::write(&f, mutate(rng, text.as_bytes())).unwrap();
        return Case {
            target: "api model/playbook",
            args: vec![
                "sweep".into(),
                "--n".into(),
                "3".into(),
                "--rates".into(),
                "0.3".into(),
                "--quiet".into(),
                "--threads".into(),
                "1".into(),
                flag.into(),
                s(&f),
                "--out".into(),
                s(&out.join("s")),
            ],
            writes: Some("out".into()),
            verdicts: false,
            what: format!("mutated {name}"),
        };
    }
    if roll < 74 {
        return flag_case(rng, sb);
    }
    if roll < 90 {
        // A corrupted interrupted year.
        let y = out.join("year");
        copy_dir(&b.year, &y);
        let prog = input.join("programme.ron");
        std::fs::write(&prog, &b.programme).unwrap();
        let mut what = corrupt_folder(rng, &y, &outside);
        if rng.chance(1, 4) {
            what = format!("{what}; {}", corrupt_folder(rng, &y, &outside));
        }
        let days = TINY_PROGRAMME_DAYS.to_string();
        let (target, args, writes, verdicts) = match rng.below(4) {
            0 => (
                "year folder (resume)",
                vec![
                    "year".into(),
                    "--resume".into(),
                    "--days".into(),
                    days,
                    "--seed".into(),
                    "5".into(),
                    "--programme".into(),
                    s(&prog),
                    "--no-report".into(),
                    "--quiet".into(),
                    "--threads".into(),
                    "1".into(),
                    "--out".into(),
                    s(&y),
                ],
                Some("out".into()),
                false,
            ),
            1 => (
                "year folder (replay)",
                vec![
                    "replay".into(),
                    s(&y),
                    "--run".into(),
                    rng.below(22).to_string(),
                    "--programme".into(),
                    s(&prog),
                ],
                None,
                true,
            ),
            2 => (
                "year folder (audit verify)",
                vec!["audit".into(), "verify".into(), s(&y)],
                None,
                true,
            ),
            _ => (
                "year folder (report)",
                vec!["report".into(), s(&y)],
                Some("out".into()),
                false,
            ),
        };
        return Case {
            target,
            args,
            writes,
            verdicts,
            what,
        };
    }
    // Corrupted sweep shards.
    let sh = input.join("shards");
    copy_dir(&b.shards, &sh);
    let victim = sh.join(if rng.chance(1, 2) { "s1" } else { "s2" });
    let what = corrupt_folder(rng, &victim, &outside);
    if rng.chance(3, 4) {
        Case {
            target: "shards (merge)",
            args: vec![
                "merge".into(),
                s(&sh.join("s1")),
                s(&sh.join("s2")),
                "--quiet".into(),
                "--out".into(),
                s(&out.join("merged")),
            ],
            writes: Some("out".into()),
            verdicts: false,
            what,
        }
    } else {
        Case {
            target: "shards (report)",
            args: vec![
                "report".into(),
                s(&victim),
                "--out".into(),
                s(&out.join("rep")),
            ],
            writes: Some("out".into()),
            verdicts: false,
            what,
        }
    }
}

const FLAG_VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "2",
    "10",
    "11",
    "255",
    "256",
    "65536",
    "4294967296",
    "99999999999999999999",
    "1e9",
    "0.5",
    "abc",
    "12:00",
    "12:00:00.",
    "12:00:00.1",
    "25:00",
    "23:59:59.999999999",
    "+5:00",
    "1/0",
    "0/0",
    "3/2",
    "1/2",
    "a:b:c",
    "0:1:0",
    "0:0.5:0.05",
    "0.1",
    "1.5",
    "default",
    "none",
    "all",
    "+all",
    "-heartbeat_watchdog",
    "+nonexistent",
    "default,",
    "baseline,baseline",
    "playbook",
    "chaos",
    "-",
    "-,-",
    "rate_limiter+load_shedder",
    "0123456789abcdef",
    "xyz",
    "€",
    "\n",
    "--",
    "S02_acl_spam",
    "S02_acl_spam,S01_heartbeat_pause",
    "stack=00",
    "stack=zz,scenarios=1",
];

/// A command with one flag set to an odd value (the usage errors).
fn flag_case(rng: &mut Rng, sb: &Path) -> Case {
    let out = sb.join("out");
    let v = rng.pick(FLAG_VALUES).to_string();
    let s = |p: PathBuf| p.display().to_string();
    let (args, writes): (Vec<String>, bool) = match rng.below(4) {
        0 => {
            let flag = *rng.pick(&[
                "--difficulty",
                "--at",
                "--seed",
                "--day",
                "--item",
                "--run",
                "--known-fixes",
                "--expect-digest",
                "--files",
            ]);
            let id = rng
                .pick(&["S02_acl_spam", "S02_acl_spam,S01_heartbeat_pause"])
                .to_string();
            let mut a = vec!["run".to_string(), id, format!("{flag}={v}")];
            if rng.chance(1, 2) {
                a.push("--together".into());
            }
            if rng.chance(1, 2) {
                a.extend(["--timeline".into(), s(out.join("t.csv"))]);
            }
            (a, true)
        }
        1 => {
            let flag = *rng.pick(&[
                "--rates",
                "--n",
                "--variants",
                "--shard",
                "--threads",
                "--seed",
            ]);
            let mut a = vec![
                "sweep".to_string(),
                "--quiet".into(),
                "--out".into(),
                s(out.join("s")),
            ];
            if flag != "--n" {
                a.extend(["--n".into(), "2".into()]);
            }
            if flag != "--rates" {
                a.extend(["--rates".into(), "0.1".into()]);
            }
            if flag == "--n" && v.parse::<u64>().is_ok_and(|n| n > 1000) {
                a.extend(["--n".into(), "2".into()]);
            } else {
                a.push(format!("{flag}={v}"));
            }
            (a, true)
        }
        2 => {
            let flag = *rng.pick(&["--seed", "--safeguards", "--threads", "--days"]);
            let mut a = vec![
                "year".to_string(),
                "--quiet".into(),
                "--no-report".into(),
                "--out".into(),
                s(out.join("y")),
                "--programme".into(),
                s(sb.join("in/programme.ron")),
            ];
            std::fs::write(sb.join("in/programme.ron"), tiny_programme()).unwrap();
            let days_ok = v.parse::<u64>().is_ok_and(|d| d <= 3);
            if flag == "--days" && !days_ok {
                a.extend(["--days".into(), "1".into(), "--days".into(), v.clone()]);
            } else {
                a.push(format!("{flag}={v}"));
            }
            if flag != "--days" {
                a.extend(["--days".into(), "1".into()]);
            }
            (a, true)
        }
        _ => {
            let flag = *rng.pick(&["--lps", "--events", "--seed"]);
            let mut a = vec!["phold".to_string(), "--seconds".into(), "1".into()];
            a.push(format!("{flag}={v}"));
            if flag != "--events" {
                a.extend(["--events".into(), "1".into()]);
            }
            if flag != "--lps" {
                a.extend(["--lps".into(), "100".into()]);
            }
            (a, false)
        }
    };
    Case {
        target: "flags",
        what: format!("a flag set to {v:?}"),
        args,
        writes: writes.then(|| "out".into()),
        verdicts: true,
    }
}

#[derive(Default)]
struct Stats {
    by_target: BTreeMap<(String, String), usize>,
    kinds: BTreeMap<String, usize>,
}

/// Where a path appears in an error line and whether `path:line:col:`
/// follows it.
fn located_after(line: &str, at: usize) -> bool {
    let rest = &line[at..];
    let mut parts = rest.splitn(4, ':');
    parts.next();
    let l = parts.next().unwrap_or("");
    let c = parts.next().unwrap_or("");
    !l.is_empty()
        && !c.is_empty()
        && l.bytes().all(|b| b.is_ascii_digit())
        && c.bytes().all(|b| b.is_ascii_digit())
}

/// Check one finished case; `Err(why)` on a failure.
fn check(
    case: &Case,
    sb: &Path,
    code: Option<i32>,
    stderr: &str,
    before: &BTreeMap<String, Vec<u8>>,
) -> std::result::Result<String, String> {
    if stderr.contains("panicked") {
        return Err(format!("panic: {stderr}"));
    }
    let code = code.ok_or("killed by a signal")?;
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    for l in stderr.lines() {
        // warning: validate's notes on faults the window cuts.
        if !l.starts_with("error: ")
            && !l.starts_with("note: ")
            && !l.starts_with("warning: ")
            && !l.starts_with("reproduced: ")
        {
            return Err(format!("stray stderr line {l:?}"));
        }
    }
    // A command that judges a verdict exits 1 when it fails: a result,
    // with its outputs written and no error line.
    let failed_verdict = code == 1 && errors.is_empty() && judges_a_verdict(&case.args);
    match code {
        0 if errors.is_empty() => {}
        0 => return Err(format!("exit 0 with an error: {stderr}")),
        1 if failed_verdict => {}
        1 if case.verdicts
            && errors.len() == 1
            && (errors[0].contains("audit chain broken")
                || errors[0].contains("digest mismatch")
                || errors[0].contains("replay mismatch")
                || errors[0].contains("differ from the recorded ones")) => {}
        2 if errors.len() == 1 => {}
        _ => return Err(format!("exit {code}, stderr: {stderr}")),
    }
    let kind = if let Some(e) = errors.first() {
        // An error naming a regular file must give its line:column.
        let root = sb.display().to_string();
        let mut at = 0;
        while let Some(i) = e[at..].find(&root) {
            let start = at + i;
            let end = e[start..]
                .find([':', ' ', ','])
                .map_or(e.len(), |j| start + j);
            let p = Path::new(&e[start..end]);
            let regular = std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file());
            if regular && !located_after(e, end) && !e.contains("(path)") {
                return Err(format!(
                    "an error about a file without its line:column: {e}"
                ));
            }
            at = end;
            if located_after(e, end) {
                break;
            }
        }
        // A usage error names its flag (ours lead with it, clap's quote it
        // or the argument); a verdict (exit 1) is about the run.
        let names_an_argument = ["error: --", "error: ID:", "error: DIR:"]
            .iter()
            .any(|p| e.starts_with(p))
            || e.contains(" '--")
            || e.contains("argument '")
            || e.contains("--lps x --events");
        if code == 2 && !e.contains(&root) && !e.contains("<embedded>") && !names_an_argument {
            return Err(format!("the error names no file, folder or flag: {e}"));
        }
        // The kind: the message after the location, first words.
        let msg = e.rsplit(": ").next().unwrap_or(e);
        msg.split_whitespace().take(5).collect::<Vec<_>>().join(" ")
    } else {
        "ok".into()
    };
    let after = tree(sb);
    let inside = |k: &str| {
        case.writes.as_deref().is_some_and(|w| {
            (code == 0 || failed_verdict) && (k == w || k.starts_with(&format!("{w}/")))
        })
    };
    for (k, v) in before.iter() {
        if !inside(k) && after.get(k) != Some(v) {
            return Err(format!("{k} changed or vanished"));
        }
    }
    for k in after.keys() {
        if !inside(k) && !before.contains_key(k) {
            return Err(format!("{k} was created"));
        }
        if k.ends_with(".tmp") || k.contains("/.staging.") {
            return Err(format!("temporary {k} left behind"));
        }
    }
    Ok(kind)
}

/// Whether exit 1 without an error line is a failed verdict of the
/// command: `run`, `stress`, `swarm`, a scenario `sweep --fail-under`.
fn judges_a_verdict(args: &[String]) -> bool {
    match args.first().map(String::as_str) {
        Some("run" | "stress" | "swarm") => true,
        Some("sweep") => args.iter().any(|a| a.starts_with("--fail-under")),
        _ => false,
    }
}

fn run_case(
    i: usize,
    seed: u64,
    b: &Bases,
    root: &Path,
    stats: &Mutex<Stats>,
) -> std::result::Result<(), String> {
    let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let sb = root.join(format!("case-{i:06}"));
    let _ = std::fs::remove_dir_all(&sb);
    std::fs::create_dir_all(sb.join("outside")).unwrap();
    std::fs::write(sb.join("outside/keep.txt"), "precious").unwrap();
    let case = make_case(&mut rng, b, &sb);
    let before = tree(&sb);
    let mut child = Command::new(bin())
        .args(&case.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr while the command runs (a long message must not block it).
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > CASE_TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "case {i} (seed {seed}) hangs: {} {:?}",
                case.what, case.args
            ));
        }
        // Most commands end within milliseconds: poll often at first.
        let waited = t0.elapsed();
        std::thread::sleep(if waited < Duration::from_millis(50) {
            Duration::from_micros(200)
        } else {
            Duration::from_millis(5)
        });
    };
    let stderr = reader.join().unwrap();
    match check(&case, &sb, status.code(), &stderr, &before) {
        Ok(kind) => {
            let mut s = stats.lock().unwrap();
            let code = status.code().unwrap_or(-1);
            *s.by_target
                .entry((case.target.to_string(), format!("exit {code}")))
                .or_default() += 1;
            *s.kinds
                .entry(format!("{}: {kind}", case.target))
                .or_default() += 1;
            let _ = std::fs::remove_dir_all(&sb);
            Ok(())
        }
        Err(why) => Err(format!(
            "case {i} (CHAOSIM_FUZZ_SEED={seed}), {}: {} ({}); sandbox kept at {}",
            case.what,
            why,
            case.args.join(" "),
            sb.display()
        )),
    }
}

#[test]
fn mutated_inputs_and_corrupted_folders_are_refused_cleanly() {
    let cases: usize = std::env::var("CHAOSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(FUZZ_CASES_DEFAULT);
    let seed: u64 = std::env::var("CHAOSIM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    // One case alone, to look at a failure again.
    let only: Option<usize> = std::env::var("CHAOSIM_FUZZ_ONLY")
        .ok()
        .and_then(|v| v.parse().ok());
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let b = bases(&root);
    let stats = Mutex::new(Stats::default());
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= cases || failures.lock().unwrap().len() >= 5 {
                        break;
                    }
                    if only.is_some_and(|k| k != i) {
                        continue;
                    }
                    if let Err(e) = run_case(i, seed, &b, &root, &stats) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let s = stats.into_inner().unwrap();
    eprintln!(
        "fuzz: {cases} cases, seed {seed}, {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    for ((t, c), n) in &s.by_target {
        eprintln!("  {t:<28} {c:<7} {n}");
    }
    if std::env::var("CHAOSIM_FUZZ_KINDS").is_ok() {
        for (k, n) in &s.kinds {
            eprintln!("  {n:>6}  {k}");
        }
    }
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
