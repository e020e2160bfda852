//! A buffered CSV file sink whose errors name the file and whose end is
//! checked: [`CsvSink::finish`] flushes and syncs, so a full disk is an error,
//! not a silently truncated file.
//!
//! Rows are written either as fields ([`CsvSink::write_record`], quoting a
//! field only when it needs it, RFC 4180) or as pre-formatted bytes
//! ([`CsvSink::write_raw`], for hot paths that format rows in worker threads).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Buffer size of a [`CsvSink`]: 1 MiB.
pub const CSV_BUFFER_BYTES: usize = 1 << 20;

/// A CSV file being written.
pub struct CsvSink {
    path: PathBuf,
    /// `None`: a [`CsvSink::discard`] sink (sizes and checksum only).
    out: Option<BufWriter<File>>,
    bytes: u64,
    fnv: Fnv64,
}

/// Streaming 64-bit FNV-1a, used as a checksum of written files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv64 {
    /// The hash of nothing.
    pub const fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    /// Continue a hash whose value so far is `value` (a stream checksummed
    /// up to a point, continued later: `--resume`).
    pub const fn from_value(value: u64) -> Fnv64 {
        Fnv64(value)
    }

    /// Fold `bytes` in.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }

    /// The hash so far.
    pub const fn value(self) -> u64 {
        self.0
    }
}

impl CsvSink {
    /// Create (truncate) the file at `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<CsvSink> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(CsvSink {
            path,
            out: Some(BufWriter::with_capacity(CSV_BUFFER_BYTES, file)),
            bytes: 0,
            fnv: Fnv64::new(),
        })
    }

    /// A sink writing into `file`, whose errors name `path` (the final name
    /// of a file written under a temporary one, see
    /// [`OutDir`](super::outfile::OutDir)).
    pub fn from_file(file: File, path: PathBuf) -> CsvSink {
        CsvSink {
            path,
            out: Some(BufWriter::with_capacity(CSV_BUFFER_BYTES, file)),
            bytes: 0,
            fnv: Fnv64::new(),
        }
    }

    /// A sink that writes nothing but counts the bytes and checksums them as
    /// a file sink would: the rows of a batch whose files are not asked for
    /// (`chaosim whatif` without `--out`). `path` names it in messages.
    pub fn discard(path: PathBuf) -> CsvSink {
        CsvSink {
            path,
            out: None,
            bytes: 0,
            fnv: Fnv64::new(),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// FNV-1a of all bytes written so far.
    pub fn checksum(&self) -> u64 {
        self.fnv.value()
    }

    /// Write one row of fields, quoting those that contain `,`, `"`, CR or LF.
    pub fn write_record<S: AsRef<str>>(&mut self, fields: &[S]) -> Result<()> {
        let mut line = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            push_field(&mut line, f.as_ref());
        }
        line.push('\n');
        self.write_raw(line.as_bytes())
    }

    /// Write pre-formatted bytes (whole rows ending in `\n`).
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(out) = self.out.as_mut() {
            out.write_all(bytes).map_err(|e| Error::io(&self.path, e))?;
        }
        self.bytes += bytes.len() as u64;
        self.fnv.update(bytes);
        Ok(())
    }

    /// Flush the buffer and sync the file to disk; returns the bytes written.
    pub fn finish(self) -> Result<u64> {
        let Some(mut out) = self.out else {
            return Ok(self.bytes);
        };
        out.flush().map_err(|e| Error::io(&self.path, e))?;
        let file = out
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        Ok(self.bytes)
    }
}

/// Append `field` to `line`, quoted if it needs quoting.
pub fn push_field(line: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        line.push('"');
        for ch in field.chars() {
            if ch == '"' {
                line.push('"');
            }
            line.push(ch);
        }
        line.push('"');
    } else {
        line.push_str(field);
    }
}

/// Format `ns` nanoseconds as milliseconds with six decimals, using integer
/// arithmetic only (so the text is exact and platform-independent).
pub fn fmt_ns_as_ms(out: &mut String, ns: u64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{}.{:06}", ns / 1_000_000, ns % 1_000_000);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut s = String::new();
        push_field(&mut s, "plain");
        s.push(',');
        push_field(&mut s, "a,\"b\"");
        assert_eq!(s, "plain,\"a,\"\"b\"\"\"");
    }

    #[test]
    fn ms_formatting_is_exact() {
        let mut s = String::new();
        fmt_ns_as_ms(&mut s, 1_234_567_891);
        assert_eq!(s, "1234.567891");
    }
}
