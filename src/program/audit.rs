//! The append-only, hash-chained audit log (`audit.jsonl`).
//!
//! Each line is one JSON object with the fields, in this order: `seq`,
//! `actor`, `action`, `resource`, `result`, `metadata`, `prev`, `hash`.
//! `hash` is the SHA-256 (hex) of `prev` + `"\n"` + the line's JSON *without*
//! the `hash` field; `prev` is the previous line's `hash` (64 zeros for the
//! first line). Editing, inserting, deleting or reordering any line breaks
//! the chain at that line, which [`verify`] reports.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// How an audit write error names its file when the sink does not know it
/// (a [`Sink::Tracked`] file names its full path instead).
const AUDIT_LABEL: &str = "audit.jsonl";

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize)]
struct Unsealed<'a> {
    seq: u64,
    actor: &'a str,
    action: &'a str,
    resource: &'a str,
    result: &'a str,
    metadata: serde_json::Value,
    prev: &'a str,
}

/// An entry as read back (owned: its strings may hold escapes).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    seq: u64,
    actor: String,
    action: String,
    resource: String,
    result: String,
    metadata: serde_json::Value,
    prev: String,
}

impl Entry {
    fn unsealed(&self) -> Unsealed<'_> {
        Unsealed {
            seq: self.seq,
            actor: &self.actor,
            action: &self.action,
            resource: &self.resource,
            result: &self.result,
            metadata: self.metadata.clone(),
            prev: &self.prev,
        }
    }
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
    /// An open file that tracks its length and checksum and names itself in
    /// its errors (the year's streamed files).
    Tracked(crate::record::outfile::TrackedFile),
    /// Discards every byte; its position stays 0.
    Discard,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Tracked(f) => f.write(buf),
            Sink::Discard => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Tracked(f) => f.flush(),
            Sink::Discard => Ok(()),
        }
    }
}

impl Seek for Sink {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match self {
            Sink::File(f) => f.seek(pos),
            Sink::Tracked(f) => f.seek(pos),
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
            .map_err(|e| Error::io(AUDIT_LABEL, e))?;
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
        self.out.flush().map_err(|e| Error::io(AUDIT_LABEL, e))?;
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

/// Longest line of an audit log (entries are under 2 KiB).
pub const AUDIT_LINE_BYTES_MAX: usize = 64 * 1024;

/// `,"hash":"` + 64 hex digits + `"}`: how every line ends.
const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

/// The content of `audit.head`: the number of entries and the last hash
/// (one JSON line).
pub fn head_line(entries: u64, head: &str) -> String {
    format!("{{\"entries\":{entries},\"head\":\"{head}\"}}\n")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadRecord {
    entries: u64,
    head: String,
}

/// Read an `audit.head` file: `(entries, head)`, `None` if there is none.
/// A file that is not one is bad input (exit code 2), located.
pub fn read_head(path: &Path) -> Result<Option<(u64, String)>> {
    match crate::record::outfile::check_output_path(path)? {
        crate::record::outfile::Existing::Absent => return Ok(None),
        crate::record::outfile::Existing::File => {}
    }
    let limits = crate::input::Limits {
        bytes_max: 4096,
        line_max: 4096,
    };
    let text = crate::input::read_text_limited(path, limits)?;
    // A JSON file, not RON: located here, not by input::parse_ron.
    let rec: HeadRecord = serde_json::from_str(&text).map_err(|e| Error::Syntax {
        path: path.to_path_buf(),
        line: e.line().max(1),
        column: e.column().max(1),
        message: format!("not an audit head ({e})"),
    })?;
    Ok(Some((rec.entries, rec.head)))
}

/// Check the whole chain of an audit file; the error names the first bad
/// line (and column).
pub fn verify(path: &Path) -> Result<Verified> {
    verify_heads(path, &[]).map(|(v, _)| v)
}

/// The first 16 characters of a (possibly non-hex, edited) hash, for
/// messages.
pub fn short(hash: &str) -> String {
    hash.chars().take(16).collect()
}

/// [`verify`], and the hash after each of `counts` entries (`None` where the
/// chain is shorter; after 0 entries: [`GENESIS`]).
///
/// Each line is checked as bytes: it must end with `,"hash":"<64 hex>"}` and
/// a newline, the rest with a closing `}` must be exactly the JSON chaosim
/// writes for the entry (field order, no whitespace, its escapes), and the
/// hash is computed over those exact bytes. So any edit shows, also one that
/// leaves the parsed JSON equal (whitespace, key order, `\u` escapes, a
/// CRLF line end). A line longer than [`AUDIT_LINE_BYTES_MAX`] is refused
/// without being buffered.
pub fn verify_heads(path: &Path, counts: &[u64]) -> Result<(Verified, Vec<Option<String>>)> {
    let file = crate::input::open_input(path)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut prev = GENESIS.to_string();
    let mut n = 0u64;
    let mut at: Vec<Option<String>> = counts
        .iter()
        .map(|&c| (c == 0).then(|| GENESIS.to_string()))
        .collect();
    let mut buf = Vec::new();
    loop {
        let lineno = n as usize + 1;
        if !crate::input::read_line_limited(
            &mut reader,
            &mut buf,
            AUDIT_LINE_BYTES_MAX,
            path,
            lineno,
        )? {
            break;
        }
        let bad = |column: usize, why: String| {
            Error::Check(format!(
                "{}:{lineno}:{column}: audit chain broken: {why}",
                path.display()
            ))
        };
        let Some(line) = buf.strip_suffix(b"\n") else {
            return Err(bad(
                buf.len() + 1,
                "the last line has no line end (the file was cut mid-line)".into(),
            ));
        };
        let text = std::str::from_utf8(line).map_err(|e| {
            bad(
                e.valid_up_to() + 1,
                "not UTF-8 text (the entry was edited)".into(),
            )
        })?;
        if text.len() < HASH_SUFFIX_LEN + 2 || !text.is_char_boundary(text.len() - HASH_SUFFIX_LEN)
        {
            return Err(bad(1, "not an audit entry (too short)".into()));
        }
        let (body, tail) = text.split_at(text.len() - HASH_SUFFIX_LEN);
        let hash = tail
            .strip_prefix(",\"hash\":\"")
            .and_then(|t| t.strip_suffix("\"}"))
            .filter(|h| {
                h.len() == 64
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
            .ok_or_else(|| {
                bad(
                    body.len() + 1,
                    "not an audit entry (it must end with its hash field, 64 lower-case hex digits)"
                        .into(),
                )
            })?;
        let unsealed = format!("{body}}}");
        let entry: Entry = serde_json::from_str(&unsealed)
            .map_err(|e| bad(e.column().max(1), format!("not an audit entry ({e})")))?;
        let canonical = serde_json::to_string(&entry.unsealed()).expect("audit entries serialize");
        if canonical != unsealed {
            let col = canonical
                .bytes()
                .zip(unsealed.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(canonical.len().min(unsealed.len()))
                + 1;
            return Err(bad(
                col,
                "the entry is not in the form chaosim writes (whitespace, field order or escapes were edited)".into(),
            ));
        }
        if entry.seq != n {
            return Err(bad(
                1,
                format!(
                    "sequence number {} where {n} was expected (a line was removed or moved)",
                    entry.seq
                ),
            ));
        }
        if entry.prev != prev {
            return Err(bad(
                1,
                "prev does not match the previous entry's hash".into(),
            ));
        }
        if seal(&prev, &unsealed) != hash {
            return Err(bad(
                body.len() + 2,
                "hash does not match the entry's content (the entry was edited)".into(),
            ));
        }
        prev = hash.to_string();
        n += 1;
        for (k, &c) in counts.iter().enumerate() {
            if c == n {
                at[k] = Some(prev.clone());
            }
        }
    }
    Ok((
        Verified {
            entries: n,
            head: prev,
        },
        at,
    ))
}
