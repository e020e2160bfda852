//! A Jepsen-style operation history: every client operation is an `invoke`
//! followed by `ok`, `fail` or `info` (outcome unknown), with its time.
//!
//! [`History`] does two things as records arrive:
//! - streams each record as one JSON line to an attached sink
//!   ([`History::set_sink`]), written as it is produced;
//! - keeps only what the checkers need: one compact record per append
//!   (value, invoke and completion times, outcome, acknowledged index) and
//!   one per successful read. That is proportional to the number of operations of
//!   *one run* (run length x op rate), never to anything across runs.
//!
//! JSONL line format (one object per record, keys in this order):
//! `{"process":2,"type":"ok","f":"append","value":17,"index":5,"term":3,"time_ns":123}`

use std::cell::RefCell;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use crate::engine::SimTime;
use crate::error::Error;

/// The phase of a history record (Jepsen's `:type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpType {
    /// The client started the operation.
    Invoke,
    /// The operation took effect and the client knows it.
    Ok,
    /// The operation definitely did not take effect.
    Fail,
    /// Unknown outcome (timeout, crash): it may or may not have taken effect.
    Info,
}

impl OpType {
    /// The Jepsen name (`"invoke"`, `"ok"`, `"fail"`, `"info"`).
    pub const fn name(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

/// The function of an operation (Jepsen's `:f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpFn {
    /// Append a unique value to the replicated log.
    Append,
    /// Read the tail of the committed log.
    Read,
}

impl OpFn {
    /// The name (`"append"`, `"read"`).
    pub const fn name(self) -> &'static str {
        match self {
            OpFn::Append => "append",
            OpFn::Read => "read",
        }
    }
}

/// One history record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// The client process (a logical single-threaded client).
    pub process: u32,
    /// What the operation does.
    pub f: OpFn,
    /// Which phase this record is.
    pub ty: OpType,
    /// When (true simulated time).
    pub time: SimTime,
    /// Append: the appended value (unique per run, > 0). Read `ok`: the value
    /// of the last entry seen (0 for an empty log or a no-op entry).
    pub value: u32,
    /// Append `ok`: the 1-based log position. Read `ok`: the length of the
    /// committed log seen. Otherwise 0.
    pub index: u32,
    /// Read `ok`: the term of the last entry seen; otherwise 0.
    pub term: u32,
}

/// How an append ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Invoked, not completed (yet).
    Pending,
    /// Acknowledged.
    Ok,
    /// Definitely not applied.
    Fail,
    /// Unknown.
    Info,
}

impl Outcome {
    /// The Jepsen name (`"pending"`, `"ok"`, `"fail"`, `"info"`).
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }
}

/// What the checker keeps of one append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendOp {
    /// The client process.
    pub process: u32,
    /// The appended value.
    pub value: u32,
    /// Invocation time, ns.
    pub invoke_ns: u64,
    /// Completion time, ns (`u64::MAX` while pending).
    pub complete_ns: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// The 1-based log position the client was told its append holds
    /// (`ok` only; 0 otherwise).
    pub index: u32,
}

/// What the checker keeps of one successful read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOp {
    /// The client process.
    pub process: u32,
    /// Invocation time, ns.
    pub invoke_ns: u64,
    /// Completion time, ns.
    pub complete_ns: u64,
    /// Length of the committed log seen.
    pub len: u32,
    /// Term of the last entry seen (0 if `len == 0`).
    pub term: u32,
    /// Value of the last entry seen (0 if none or a no-op).
    pub value: u32,
}

#[derive(Clone, Copy, Debug)]
struct Open {
    f: OpFn,
    invoke_ns: u64,
    append_index: usize,
}

/// The recorder: streams records to an optional sink and keeps the compact
/// per-operation state the checker needs. See the [module docs](self).
#[derive(Default)]
pub struct History {
    sink: RefCell<Option<BufWriter<Box<dyn Write>>>>,
    error: RefCell<Option<io::Error>>,
    open: Vec<Option<Open>>,
    appends: Vec<AppendOp>,
    reads: Vec<ReadOp>,
    records: u64,
    malformed: u64,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("records", &self.records)
            .field("appends", &self.appends.len())
            .field("reads", &self.reads.len())
            .finish()
    }
}

impl History {
    /// An empty history with no sink.
    pub fn new() -> History {
        History::default()
    }

    /// Stream every later record to `sink` as JSON lines (buffered; flushed
    /// by [`finish`](Self::finish)). Replaces (and flushes) a previous sink.
    pub fn set_sink(&mut self, sink: Box<dyn Write>) {
        let _ = self.finish();
        *self.sink.get_mut() = Some(BufWriter::with_capacity(64 * 1024, sink));
    }

    /// Record one operation record, in time order.
    pub fn record(&mut self, op: Op) {
        self.records += 1;
        self.write_line(&op);
        let p = op.process as usize;
        if self.open.len() <= p {
            self.open.resize(p + 1, None);
        }
        let t = op.time.as_nanos();
        match op.ty {
            OpType::Invoke => {
                if self.open[p].is_some() {
                    self.malformed += 1;
                }
                let append_index = if op.f == OpFn::Append {
                    self.appends.push(AppendOp {
                        process: op.process,
                        value: op.value,
                        invoke_ns: t,
                        complete_ns: u64::MAX,
                        outcome: Outcome::Pending,
                        index: 0,
                    });
                    self.appends.len() - 1
                } else {
                    usize::MAX
                };
                self.open[p] = Some(Open {
                    f: op.f,
                    invoke_ns: t,
                    append_index,
                });
            }
            ty => {
                let Some(open) = self.open[p].take() else {
                    self.malformed += 1;
                    return;
                };
                if open.f != op.f {
                    self.malformed += 1;
                    return;
                }
                match op.f {
                    OpFn::Append => {
                        let a = &mut self.appends[open.append_index];
                        a.complete_ns = t;
                        a.outcome = match ty {
                            OpType::Ok => Outcome::Ok,
                            OpType::Fail => Outcome::Fail,
                            _ => Outcome::Info,
                        };
                        if ty == OpType::Ok {
                            a.index = op.index;
                        }
                    }
                    OpFn::Read => {
                        if ty == OpType::Ok {
                            self.reads.push(ReadOp {
                                process: op.process,
                                invoke_ns: open.invoke_ns,
                                complete_ns: t,
                                len: op.index,
                                term: op.term,
                                value: op.value,
                            });
                        }
                    }
                }
            }
        }
    }

    fn write_line(&self, op: &Op) {
        let mut sink = self.sink.borrow_mut();
        let Some(w) = sink.as_mut() else { return };
        if self.error.borrow().is_some() {
            return;
        }
        let r = writeln!(
            w,
            "{{\"process\":{},\"type\":\"{}\",\"f\":\"{}\",\"value\":{},\"index\":{},\"term\":{},\"time_ns\":{}}}",
            op.process,
            op.ty.name(),
            op.f.name(),
            op.value,
            op.index,
            op.term,
            op.time.as_nanos()
        );
        if let Err(e) = r {
            *self.error.borrow_mut() = Some(e);
        }
    }

    /// Flush the sink. Returns the first write error seen, if any (later
    /// records were not written after it).
    pub fn finish(&self) -> io::Result<()> {
        if let Some(w) = self.sink.borrow_mut().as_mut()
            && self.error.borrow().is_none()
            && let Err(e) = w.flush()
        {
            *self.error.borrow_mut() = Some(e);
        }
        match self.error.borrow().as_ref() {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }

    /// Every append invoked so far, in invocation order.
    pub fn appends(&self) -> &[AppendOp] {
        &self.appends
    }

    /// Every successful read so far, in completion order.
    pub fn reads(&self) -> &[ReadOp] {
        &self.reads
    }

    /// Number of records seen.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Records that broke the invoke-then-complete discipline of a process
    /// (ignored by the checker; nonzero means a recorder bug).
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

/// Read a history back from JSON lines: the file `chaosim run --history`
/// writes (its header and trailer lines, which have no `"process"`, are
/// skipped) or bare history records. Records must keep each process's
/// invoke-then-complete discipline. `path` names `text` in errors, which are
/// [`Error::Syntax`] with the line and column.
pub fn read_jsonl(text: &str, path: &Path) -> Result<History, Error> {
    let mut h = History::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        // JSON lines, not RON: located here, not by input::parse_ron.
        let bad = |column: usize, message: String| Error::Syntax {
            path: path.to_path_buf(),
            line: n,
            column,
            message,
        };
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| bad(e.column().max(1), format!("not JSON: {e}")))?;
        let Some(obj) = v.as_object() else {
            return Err(bad(1, "expected a JSON object".into()));
        };
        if let Some(version) = obj.get("chaosim_history")
            && version.as_u64() != Some(1)
        {
            return Err(bad(
                line.find("\"chaosim_history\"").map_or(1, |c| c + 1),
                format!("\"chaosim_history\" is {version}: this chaosim reads version 1"),
            ));
        }
        if !obj.contains_key("process") {
            continue; // header or trailer
        }
        let col = |key: &str| line.find(&format!("\"{key}\"")).map_or(1, |c| c + 1);
        let num = |key: &str, max: u64| -> Result<u64, Error> {
            match obj.get(key) {
                None => Ok(0),
                Some(x) => x.as_u64().filter(|&x| x <= max).ok_or_else(|| {
                    bad(
                        col(key),
                        format!("\"{key}\" must be an integer in 0..={max}, found {x}"),
                    )
                }),
            }
        };
        let ty = match obj.get("type").and_then(serde_json::Value::as_str) {
            Some("invoke") => OpType::Invoke,
            Some("ok") => OpType::Ok,
            Some("fail") => OpType::Fail,
            Some("info") => OpType::Info,
            _ => {
                return Err(bad(
                    col("type"),
                    "\"type\" must be \"invoke\", \"ok\", \"fail\" or \"info\"".into(),
                ));
            }
        };
        let f = match obj.get("f").and_then(serde_json::Value::as_str) {
            Some("append") => OpFn::Append,
            Some("read") => OpFn::Read,
            _ => {
                return Err(bad(col("f"), "\"f\" must be \"append\" or \"read\"".into()));
            }
        };
        let op = Op {
            process: num("process", u32::MAX as u64)? as u32,
            f,
            ty,
            time: SimTime::from_nanos(num("time_ns", u64::MAX)?),
            value: num("value", u32::MAX as u64)? as u32,
            index: num("index", u32::MAX as u64)? as u32,
            term: num("term", u32::MAX as u64)? as u32,
        };
        let malformed = h.malformed();
        h.record(op);
        if h.malformed() != malformed {
            return Err(bad(
                1,
                format!(
                    "process {} {} without a matching open invocation",
                    op.process,
                    if ty == OpType::Invoke {
                        "invokes again"
                    } else {
                        "completes"
                    }
                ),
            ));
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn op(process: u32, f: OpFn, ty: OpType, t: u64, value: u32, index: u32) -> Op {
        Op {
            process,
            f,
            ty,
            time: SimTime::from_nanos(t),
            value,
            index,
            term: 0,
        }
    }

    #[test]
    fn records_stream_as_jsonl_and_fold_into_compact_ops() {
        let buf = Shared::default();
        let mut h = History::new();
        h.set_sink(Box::new(buf.clone()));
        h.record(op(0, OpFn::Append, OpType::Invoke, 10, 7, 0));
        h.record(op(1, OpFn::Read, OpType::Invoke, 11, 0, 0));
        h.record(op(0, OpFn::Append, OpType::Ok, 20, 7, 1));
        h.record(op(1, OpFn::Read, OpType::Ok, 21, 7, 1));
        h.finish().unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        let v: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(v["type"], "ok");
        assert_eq!(v["f"], "append");
        assert_eq!(v["index"], 1);
        assert_eq!(v["time_ns"], 20);
        assert_eq!(h.appends().len(), 1);
        assert_eq!(h.appends()[0].outcome, Outcome::Ok);
        assert_eq!(h.appends()[0].complete_ns, 20);
        assert_eq!(h.reads().len(), 1);
        assert_eq!(h.reads()[0].invoke_ns, 11);
        assert_eq!(h.malformed(), 0);
    }

    #[test]
    fn completion_without_invoke_is_counted_as_malformed() {
        let mut h = History::new();
        h.record(op(3, OpFn::Append, OpType::Ok, 5, 1, 1));
        assert_eq!(h.malformed(), 1);
        assert!(h.appends().is_empty());
    }
}
