//! The append-only, hash-chained audit log (`audit.jsonl`).
//!
//! Each line is one JSON object with the fields, in this order: `seq`,
//! `actor`, `action`, `resource`, `result`, `metadata`, `prev`, `hash`.
//! `hash` is the SHA-256 (hex) of `prev` + `"\n"` + the line's JSON *without*
//! the `hash` field; `prev` is the previous line's `hash` (64 zeros for the
//! first line). Editing, inserting, deleting or reordering any line breaks
//! the chain at that line, which [`verify`] reports.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize, Deserialize)]
struct Unsealed<'a> {
    seq: u64,
    actor: &'a str,
    action: &'a str,
    resource: &'a str,
    result: &'a str,
    metadata: serde_json::Value,
    prev: &'a str,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    seq: u64,
    actor: String,
    action: String,
    resource: String,
    result: String,
    metadata: serde_json::Value,
    prev: String,
    hash: String,
}

fn seal(prev: &str, unsealed_json: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(unsealed_json.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a programme output goes: a file, or nowhere (the dry runs the
/// year driver makes to plan ahead; see `year::run_programme`).
#[derive(Debug)]
pub enum Sink {
    /// An open file.
    File(File),
    /// Discards every byte; its position stays 0.
    Discard,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Discard => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Discard => Ok(()),
        }
    }
}

impl Seek for Sink {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match self {
            Sink::File(f) => f.seek(pos),
            Sink::Discard => Ok(0),
        }
    }
}

/// An open audit log being appended to.
pub struct AuditLog {
    out: BufWriter<Sink>,
    head: String,
    seq: u64,
}

impl AuditLog {
    /// Continue a log whose last hash is `head` and next sequence number `seq`
    /// (a new log: [`GENESIS`], 0).
    pub fn new(file: File, head: String, seq: u64) -> Self {
        Self::to_sink(Sink::File(file), head, seq)
    }

    /// A log writing to `sink`.
    pub fn to_sink(sink: Sink, head: String, seq: u64) -> Self {
        AuditLog {
            out: BufWriter::with_capacity(1 << 16, sink),
            head,
            seq,
        }
    }

    /// Append one entry.
    pub fn append(
        &mut self,
        actor: &str,
        action: &str,
        resource: &str,
        result: &str,
        metadata: serde_json::Value,
    ) -> Result<()> {
        let unsealed = Unsealed {
            seq: self.seq,
            actor,
            action,
            resource,
            result,
            metadata,
            prev: &self.head,
        };
        let json = serde_json::to_string(&unsealed).expect("audit entries serialize");
        let hash = seal(&self.head, &json);
        // `json` ends with '}': splice the hash in as the last field.
        let line = format!("{},\"hash\":\"{}\"}}\n", &json[..json.len() - 1], hash);
        self.out
            .write_all(line.as_bytes())
            .map_err(|e| Error::io("audit.jsonl", e))?;
        self.head = hash;
        self.seq += 1;
        Ok(())
    }

    /// The hash of the last entry.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// Entries written so far (the next `seq`).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Flush and return the underlying sink.
    pub fn flush(&mut self) -> Result<&mut Sink> {
        self.out.flush().map_err(|e| Error::io("audit.jsonl", e))?;
        Ok(self.out.get_mut())
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// The final hash.
    pub head: String,
}

/// Check the whole chain of an audit file; the error names the first bad line.
pub fn verify(path: &Path) -> Result<Verified> {
    let file = File::open(path).map_err(|e| crate::input::not_found_is_input(path, e))?;
    let mut prev = GENESIS.to_string();
    let mut n = 0u64;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let lineno = i + 1;
        let bad = |why: String| {
            Error::Check(format!(
                "{}:{lineno}: audit chain broken: {why}",
                path.display()
            ))
        };
        let entry: Sealed =
            serde_json::from_str(&line).map_err(|e| bad(format!("not an audit entry ({e})")))?;
        if entry.seq != n {
            return Err(bad(format!(
                "sequence number {} where {n} was expected (a line was removed or moved)",
                entry.seq
            )));
        }
        if entry.prev != prev {
            return Err(bad("prev does not match the previous entry's hash".into()));
        }
        let unsealed = Unsealed {
            seq: entry.seq,
            actor: &entry.actor,
            action: &entry.action,
            resource: &entry.resource,
            result: &entry.result,
            metadata: entry.metadata.clone(),
            prev: &entry.prev,
        };
        let json = serde_json::to_string(&unsealed).expect("serializes");
        if seal(&prev, &json) != entry.hash {
            return Err(bad(
                "hash does not match the entry's content (the entry was edited)".into(),
            ));
        }
        prev = entry.hash;
        n += 1;
    }
    Ok(Verified {
        entries: n,
        head: prev,
    })
}
