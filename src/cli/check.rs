//! `chaosim check FILE [--initial VALUE] [--steps-max N] [--json]`: the
//! linearizability verdict on a history file. Reading and printing only;
//! the work is in [`chaosim::check::linearizable`], [`chaosim::check::edn`]
//! and [`chaosim::check::history::read_jsonl`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value as Json, json};

use chaosim::check::consistency::Validity;
use chaosim::check::edn::{self, EdnHistory};
use chaosim::check::history::read_jsonl;
use chaosim::check::linearizable::{
    self, CheckOptions, KeyReport, LOG_STEPS_MAX_DEFAULT, LinReport, LinVerdict, Linearizability,
    LogOp, STEPS_MAX_DEFAULT, Value, fmt_value,
};
use chaosim::{Error, Result};

/// Largest history file read (the whole text is held while checking).
const HISTORY_BYTES_MAX: u64 = 1 << 30;

/// Keys listed one per line in the text output when there are at most this
/// many; beyond, only those that are not linearizable (`--json` lists all).
const KEYS_LISTED_MAX: usize = 32;

/// Arguments of `chaosim check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The history: the JSON lines `chaosim run ID --history FILE` writes
    /// (the replicated log, one write-once register per log position), or a
    /// Jepsen / Knossos EDN register history (`:f` :read, :write, :cas;
    /// `:type` :invoke, :ok, :fail, :info; `:value [k v]` for independent
    /// keys; `:process :nemesis` operations ignored), one operation map per
    /// line or one vector of maps. The format is detected from the text.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The register's value before the history (EDN histories; every key's):
    /// a non-negative integer, or nil.
    #[arg(long, value_name = "VALUE")]
    pub initial: Option<String>,
    /// Search steps per key (per log position for a chaosim history) before
    /// the key's verdict is unknown [default: 1000000 for EDN, 10000 for a
    /// chaosim history].
    #[arg(long, value_name = "N")]
    pub steps_max: Option<u64>,
    /// Read an ok read of nil as Knossos' cas-register does: it matches any
    /// value (by default nil is a value like any other).
    #[arg(long)]
    pub nil_reads_match_any: bool,
    /// Print the verdict as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Run `chaosim check`: exit 0 linearizable, 1 not linearizable or unknown.
pub fn check_cmd(args: CheckArgs) -> Result<ExitCode> {
    if args.steps_max == Some(0) {
        return Err(Error::Usage {
            flag: "--steps-max".into(),
            message: "must be at least 1".into(),
        });
    }
    let text = read_history_text(&args.file)?;
    let valid = if is_jsonl(&text) {
        if args.initial.is_some() || args.nil_reads_match_any {
            return Err(Error::Usage {
                flag: if args.initial.is_some() {
                    "--initial".into()
                } else {
                    "--nil-reads-match-any".into()
                },
                message: format!(
                    "{} is a chaosim log history (its positions start empty): the flag is for EDN register histories",
                    args.file.display()
                ),
            });
        }
        check_jsonl(&args, &text)?
    } else {
        let initial = match args.initial.as_deref() {
            None | Some("nil") => None,
            Some(s) => Some(s.parse::<u64>().map_err(|_| Error::Usage {
                flag: "--initial".into(),
                message: format!("{s:?}: expected a non-negative integer or nil"),
            })?),
        };
        check_edn(&args, &text, initial)?
    };
    Ok(if valid == Validity::True {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_history_text(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| chaosim::input::not_found_is_input(path, e))?;
    let invalid = |message: String| Error::Invalid {
        path: path.to_path_buf(),
        field: "(file)".into(),
        message,
    };
    if !meta.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    if meta.len() > HISTORY_BYTES_MAX {
        return Err(invalid(format!(
            "file is {} bytes; at most {HISTORY_BYTES_MAX} allowed",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.contains(&0) {
        return Err(invalid(
            "binary content (NUL bytes): expected a text history".into(),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        invalid(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let line_max = chaosim::input::CSV_LINE_BYTES_MAX;
    if let Some((i, _)) = text
        .split('\n')
        .enumerate()
        .find(|(_, l)| l.len() > line_max)
    {
        return Err(Error::Syntax {
            path: path.to_path_buf(),
            line: i + 1,
            column: line_max + 1,
            message: format!("line is longer than {line_max} bytes (the limit for a history)"),
        });
    }
    if text.trim().is_empty() {
        // A gate that passes on nothing would be a verdict without a
        // measurement.
        return Err(invalid("empty: no history to check".into()));
    }
    Ok(text)
}

/// JSON lines start with `{"`; EDN maps with `{:`, vectors with `[`.
fn is_jsonl(text: &str) -> bool {
    text.trim_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with('"'))
}

fn verdict_text(v: Linearizability) -> &'static str {
    match v {
        Linearizability::Linearizable => "linearizable",
        Linearizability::NotLinearizable { .. } => "NOT LINEARIZABLE",
        Linearizability::Unknown => "unknown (search budget exhausted)",
    }
}

fn summary_text(valid: Validity) -> &'static str {
    match valid {
        Validity::True => "linearizable",
        Validity::False => "not linearizable",
        Validity::Unknown => "unknown: the search budget ran out (raise --steps-max)",
    }
}

// ---------------------------------------------------------------- EDN

/// A history without operations: a gate that passed on it would pass on
/// nothing.
fn nothing_to_check(path: &Path) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        field: "(file)".into(),
        message: "no operations: nothing to check".into(),
    }
}

fn check_edn(args: &CheckArgs, text: &str, initial: Value) -> Result<Validity> {
    let path = &args.file;
    let h = edn::read_history(text, path)?;
    if h.calls.is_empty() {
        return Err(nothing_to_check(path));
    }
    let opts = CheckOptions {
        initial,
        steps_max: args.steps_max.unwrap_or(STEPS_MAX_DEFAULT),
        nil_reads_match_any: args.nil_reads_match_any,
        ..CheckOptions::default()
    };
    let report = linearizable::check(&h.calls, &opts);
    if args.json {
        outln!("{}", edn_json(path, &h, &report, initial));
    } else {
        print_edn(path, &h, &report, initial);
    }
    Ok(report.valid)
}

fn key_name(key: Option<u64>) -> String {
    key.map_or("register".into(), |k| format!("key {k}"))
}

fn print_edn(path: &Path, h: &EdnHistory, rep: &LinReport, initial: Value) {
    outln!(
        "{}: EDN register history, {} operations ({} by non-client processes, ignored), {} {}, initial value {}",
        path.display(),
        h.ops,
        h.ignored,
        rep.keys.len(),
        if h.keyed { "keys" } else { "register" },
        fmt_value(initial)
    );
    let all = rep.keys.len() <= KEYS_LISTED_MAX;
    for k in rep
        .keys
        .iter()
        .filter(|k| all || k.verdict != Linearizability::Linearizable)
    {
        outln!(
            "  {:<14} {:<34} {:>8} ops {:>10} steps",
            key_name(k.key),
            verdict_text(k.verdict),
            k.ops,
            k.steps
        );
    }
    let (good, bad, unknown) = rep.counts();
    if !all && good > 0 {
        outln!("  ... and {good} more keys linearizable (--json lists every key)");
    }
    outln!(
        "verdict: {} ({good} linearizable, {bad} not, {unknown} unknown; {} steps, {} at most for one key, budget {})",
        summary_text(rep.valid),
        rep.steps,
        rep.steps_key_max,
        rep.steps_max
    );
    if let Some(i) = rep.first_failure {
        let c = &h.calls[i];
        let s = &h.sources[i];
        let done = s.complete.unwrap_or(s.invoke);
        outln!(
            "first operation that cannot be linearized: {}, op {} by process {}: {} {} ({}:{}:{}, invoked at {}:{})",
            key_name(c.key),
            s.index,
            c.process,
            c.outcome.name(),
            c.op,
            path.display(),
            done.line,
            done.column,
            s.invoke.line,
            s.invoke.column
        );
    }
}

fn key_json(k: &KeyReport) -> Json {
    let mut v = serde_json::to_value(k).expect("key report serializes");
    v["verdict"] = json!(k.verdict.name());
    v
}

fn edn_json(path: &Path, h: &EdnHistory, rep: &LinReport, initial: Value) -> Json {
    let (good, bad, unknown) = rep.counts();
    let first = rep.first_failure.map(|i| {
        let c = &h.calls[i];
        let s = &h.sources[i];
        let done = s.complete.unwrap_or(s.invoke);
        json!({
            "key": c.key,
            "index": s.index,
            "process": c.process,
            "type": c.outcome.name(),
            "op": c.op.to_string(),
            "line": done.line,
            "column": done.column,
            "invoke_line": s.invoke.line,
            "invoke_column": s.invoke.column,
        })
    });
    json!({
        "file": path.display().to_string(),
        "format": "edn",
        "valid": rep.valid,
        "initial": initial,
        "operations": h.ops,
        "ignored": h.ignored,
        "keyed": h.keyed,
        "keys_linearizable": good,
        "keys_not_linearizable": bad,
        "keys_unknown": unknown,
        "ops": rep.ops,
        "steps": rep.steps,
        "steps_max": rep.steps_max,
        "first_failure": first,
        "keys": rep.keys.iter().map(key_json).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------- JSONL

fn check_jsonl(args: &CheckArgs, text: &str) -> Result<Validity> {
    let path = &args.file;
    let h = read_jsonl(text, path)?;
    if h.appends().is_empty() && h.reads().is_empty() {
        return Err(nothing_to_check(path));
    }
    let steps_max = args.steps_max.unwrap_or(LOG_STEPS_MAX_DEFAULT);
    let (v, keys) = linearizable::check_log_positions(&h, steps_max);
    let lines = v
        .first_failure
        .map(|f| op_lines(text, &f.op))
        .unwrap_or((None, None));
    let appends_ok = h
        .appends()
        .iter()
        .filter(|a| a.outcome == chaosim::check::history::Outcome::Ok)
        .count();
    if args.json {
        let mut j = serde_json::to_value(v).expect("verdict serializes");
        j["file"] = json!(path.display().to_string());
        j["format"] = json!("chaosim_history");
        j["appends"] = json!(h.appends().len());
        j["appends_ok"] = json!(appends_ok);
        j["reads_ok"] = json!(h.reads().len());
        if let Some(f) = j.get_mut("first_failure").filter(|f| !f.is_null()) {
            f["invoke_line"] = json!(lines.0);
            f["line"] = json!(lines.1);
        }
        j["positions_failed"] = keys
            .iter()
            .filter(|k| k.verdict != Linearizability::Linearizable)
            .map(key_json)
            .collect::<Vec<_>>()
            .into();
        outln!("{j}");
    } else {
        print_jsonl(path, &h, &v, &keys, appends_ok, lines);
    }
    Ok(v.valid)
}

fn print_jsonl(
    path: &Path,
    h: &chaosim::check::history::History,
    v: &LinVerdict,
    keys: &[KeyReport],
    appends_ok: usize,
    lines: (Option<usize>, Option<usize>),
) {
    outln!(
        "{}: chaosim replicated-log history, {} appends ({appends_ok} ok), {} ok reads; checked as {} log positions (write-once registers), {} register operations",
        path.display(),
        h.appends().len(),
        h.reads().len(),
        v.positions,
        v.ops
    );
    let failed: Vec<&KeyReport> = keys
        .iter()
        .filter(|k| k.verdict != Linearizability::Linearizable)
        .collect();
    for k in failed.iter().take(KEYS_LISTED_MAX) {
        outln!(
            "  position {:<8} {:<34} {:>8} ops {:>10} steps",
            k.key.unwrap_or(0),
            verdict_text(k.verdict),
            k.ops,
            k.steps
        );
    }
    if failed.len() > KEYS_LISTED_MAX {
        outln!(
            "  ... and {} more positions not linearizable or unknown (--json lists them)",
            failed.len() - KEYS_LISTED_MAX
        );
    }
    outln!(
        "verdict: {} ({} of {} positions not linearizable, {} unknown; {} steps, {} at most for one position, budget {})",
        summary_text(v.valid),
        v.positions_not_linearizable,
        v.positions,
        v.positions_unknown,
        v.steps,
        v.steps_key_max,
        v.steps_max
    );
    if let Some(f) = &v.first_failure {
        let at = match lines {
            (Some(i), Some(c)) => format!(" ({}:{c}, invoked at line {i})", path.display()),
            (Some(i), None) => format!(" ({}:{i})", path.display()),
            _ => String::new(),
        };
        outln!("first operation that cannot be linearized: {f}{at}");
    }
}

/// The lines (1-based) of `op`'s invocation and completion in the history
/// text: the invocation by process and time, the completion as the
/// process's next record.
fn op_lines(text: &str, op: &LogOp) -> (Option<usize>, Option<usize>) {
    let process = op.process() as u64;
    let invoke_ns = op.invoke_ns();
    let mut invoke = None;
    for (i, line) in text.lines().enumerate() {
        if !line.contains("\"process\"") {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Json>(line) else {
            continue;
        };
        if v.get("process").and_then(Json::as_u64) != Some(process) {
            continue;
        }
        match invoke {
            None => {
                if v.get("type").and_then(Json::as_str) == Some("invoke")
                    && v.get("time_ns").and_then(Json::as_u64) == Some(invoke_ns)
                {
                    invoke = Some(i + 1);
                }
            }
            Some(at) => return (Some(at), Some(i + 1)),
        }
    }
    (invoke, None)
}
