//! Reading input files: size and line limits, RON parsing with located
//! errors.
//!
//! Every file a user can hand to chaosim (scenarios, playbooks, stack,
//! programme, the API model) goes through [`read_text`] (or
//! [`read_text_limited`] for the files chaosim wrote itself, such as
//! `checkpoint.ron` and `shard.ron`) and then [`parse_ron`] (or
//! [`parse_ron_without_empty_check`]), so:
//!
//! - a syntax error names the file and the line:column ron reports;
//! - a value that parses but is not allowed ([`Error::Invalid`], which names
//!   the field) gets the line:column of that field in the file
//!   ([`locate_error`], [`locate`]);
//! - binary garbage, text that is not UTF-8, a file larger than its limit or a
//!   line longer than its limit is one located error, read in bounded memory
//!   (a device such as `/dev/zero` or a FIFO is refused before any byte is
//!   read: only regular files are inputs);
//! - a missing or unreadable input is bad input (exit code 2), not a failure
//!   while running.
//!
//! Files read as streams (CSV rows, the audit log) go through
//! [`LineLimited`], which refuses a line longer than its limit with the
//! file, line and column instead of buffering it.

use std::fs::File;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Largest input file accepted, a guard against pointing chaosim at a huge
/// file (16 MiB; the catalogue's largest file is under 2 KiB).
pub const INPUT_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Longest line of an input text file (64 KiB).
pub const INPUT_LINE_BYTES_MAX: usize = 64 * 1024;
/// Longest line of a CSV file chaosim reads back (`runs.csv`,
/// `outcomes.csv`, sweep rows, timelines; 1 MiB; rows are under 4 KiB).
pub const CSV_LINE_BYTES_MAX: usize = 1024 * 1024;

/// Size limits of one text file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file, bytes.
    pub bytes_max: u64,
    /// Longest line, bytes (without its newline).
    pub line_max: usize,
}

impl Limits {
    /// The limits of user input files: [`INPUT_BYTES_MAX`],
    /// [`INPUT_LINE_BYTES_MAX`].
    pub const INPUT: Limits = Limits {
        bytes_max: INPUT_BYTES_MAX,
        line_max: INPUT_LINE_BYTES_MAX,
    };
}

/// Parse `text` (the content of `path`, or of an embedded default named by
/// `path`) as RON into `T`. Unknown fields, missing fields, wrong types and
/// syntax errors all become [`Error::Syntax`] with the position ron reports.
pub fn parse_ron<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    if text.trim().is_empty() {
        return Err(Error::Syntax {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: "empty file: expected a RON value".into(),
        });
    }
    parse_ron_without_empty_check(text, path)
}

/// [`parse_ron`] without its message for an empty text: an empty file gets
/// ron's own message, at 1:1 ("Expected opening `(` for struct ..."). For
/// the files that have always had it (recovery playbooks, the API sweep's
/// `--playbook` and `--model`), so that their messages stay as they are.
pub fn parse_ron_without_empty_check<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    ron::Options::default().from_str(text).map_err(|e| {
        let (line, column) = (e.span.start.line.max(1), e.span.start.col.max(1));
        Error::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: number_message(&e.code, text, line, column),
        }
    })
}

/// ron's message, with the field and what it takes when a number does not
/// fit it: ron names neither ("Integer is out of bounds" at the value).
fn number_message(code: &ron::Error, text: &str, line: usize, column: usize) -> String {
    let what = match code {
        ron::Error::IntegerOutOfBounds => {
            "the value does not fit this field (its type allows a smaller magnitude, and no sign if unsigned)"
        }
        ron::Error::InvalidIntegerDigit { .. } | ron::Error::ExpectedInteger => {
            "this field takes a whole number (no decimals or exponent)"
        }
        // `1.5` or `1e3` where a whole number goes: ron stops after the `1`.
        ron::Error::ExpectedComma if after_digits(text, line, column) => {
            return match field_before(text, line, column) {
                Some(field) => {
                    format!("{field}: a whole number was expected (no decimals or exponent)")
                }
                None => "a whole number was expected (no decimals or exponent)".into(),
            };
        }
        _ => return code.to_string(),
    };
    match field_before(text, line, column) {
        Some(field) => format!("{field}: {code}: {what}"),
        None => format!("{code}: {what}"),
    }
}

/// Whether `column` of `line` is a `.` or an exponent right after a digit.
fn after_digits(text: &str, line: usize, column: usize) -> bool {
    let Some(l) = text.lines().nth(line - 1) else {
        return false;
    };
    let b = l.as_bytes();
    let at = column.saturating_sub(1);
    at > 0 && at < b.len() && matches!(b[at], b'.' | b'e' | b'E') && b[at - 1].is_ascii_digit()
}

/// The name of the field whose value starts before `column` of `line`
/// (1-based): the identifier before the last `:` there.
fn field_before(text: &str, line: usize, column: usize) -> Option<&str> {
    let l = text.lines().nth(line - 1)?;
    let upto = l.get(..column.saturating_sub(1).min(l.len()))?;
    let colon = upto.rfind(':')?;
    let name = upto[..colon].trim_end();
    let start = name
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let name = &name[start..];
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some(name)
}

/// Read a text file, refusing what is not a regular file, binary content,
/// text that is not UTF-8, oversized files and overlong lines with a
/// located error ([`Limits::INPUT`]).
pub fn read_text(path: &Path) -> Result<String> {
    read_text_limited(path, Limits::INPUT)
}

fn invalid_at(path: &Path, (line, column): (usize, usize), message: String) -> Error {
    Error::InvalidAt {
        path: path.to_path_buf(),
        line,
        column,
        field: "(file)".into(),
        message,
    }
}

/// [`read_text`] with other limits. At most `limits.bytes_max + 1` bytes are
/// read whatever the file claims to be, so a file that grows while it is
/// read cannot make the read unbounded either.
pub fn read_text_limited(path: &Path, limits: Limits) -> Result<String> {
    let file = open_input(path)?;
    let mut bytes = Vec::new();
    file.take(limits.bytes_max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limits.bytes_max {
        return Err(invalid_at(
            path,
            (1, 1),
            format!(
                "file is larger than {} bytes (the limit for this input)",
                limits.bytes_max
            ),
        ));
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(invalid_at(
            path,
            position_of(&bytes, at),
            "binary content (NUL bytes): expected RON text".into(),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        invalid_at(
            path,
            position_of(e.as_bytes(), at),
            format!("not UTF-8 text (invalid byte at offset {at})"),
        )
    })?;
    check_lines(&text, path, limits.line_max)?;
    Ok(text)
}

/// Refuse a line of `text` longer than `line_max` bytes.
fn check_lines(text: &str, path: &Path, line_max: usize) -> Result<()> {
    for (i, line) in text.split('\n').enumerate() {
        if line.len() > line_max {
            return Err(invalid_at(
                path,
                (i + 1, line_max + 1),
                format!("line is longer than {line_max} bytes (the limit for this input)"),
            ));
        }
    }
    Ok(())
}

/// Open an input file: it must exist and be a regular file (a device, a
/// FIFO or a folder is refused before anything is read). Every failure is
/// bad input (exit code 2) except an I/O error of the disk itself.
pub fn open_input(path: &Path) -> Result<File> {
    // Look before opening: opening a FIFO would block until a writer came.
    let named = std::fs::metadata(path).map_err(|e| not_found_is_input(path, e))?;
    let file = if named.is_file() {
        File::open(path).map_err(|e| not_found_is_input(path, e))?
    } else {
        return Err(not_regular(path, &named));
    };
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(not_regular(path, &meta));
    }
    Ok(file)
}

fn not_regular(path: &Path, meta: &std::fs::Metadata) -> Error {
    let what = if meta.is_dir() {
        "a folder, not a file"
    } else {
        "not a regular file (a device, FIFO or socket)"
    };
    Error::Invalid {
        path: path.to_path_buf(),
        field: "(path)".into(),
        message: what.into(),
    }
}

/// A missing input file or folder, or one chaosim may not read, is the
/// user's input error (exit 2); other I/O failures stay I/O errors.
pub fn not_found_is_input(path: &Path, e: std::io::Error) -> Error {
    let message = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        std::io::ErrorKind::NotADirectory => "a path component is not a folder",
        std::io::ErrorKind::IsADirectory => "a folder, not a file",
        std::io::ErrorKind::InvalidFilename => "not a valid file name",
        _ => return Error::io(path, e),
    };
    Error::Invalid {
        path: path.to_path_buf(),
        field: "(path)".into(),
        message: message.into(),
    }
}

/// Read and parse a RON file; a value error names its line:column.
pub fn read_ron_file<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = read_text(path)?;
    parse_ron(&text, path).map_err(|e| locate_error(e, &text))
}

/// Read `path` with [`read_text`] and parse it with `parse`; an
/// [`Error::Invalid`] about `path` gets the line:column of its field.
pub fn load_with<T>(path: &Path, parse: impl FnOnce(&str, &Path) -> Result<T>) -> Result<T> {
    let text = read_text(path)?;
    parse(&text, path).map_err(|e| locate_error_in(e, &text, path))
}

/// 1-based line and column (in characters) of byte `offset` of `bytes`.
pub fn position_of(bytes: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

/// Give an [`Error::Invalid`] the position of its field in `text` (the
/// content of the error's file): it becomes an [`Error::InvalidAt`]. Other
/// errors pass through.
pub fn locate_error(e: Error, text: &str) -> Error {
    match e {
        Error::Invalid {
            path,
            field,
            message,
        } => {
            let (line, column) = locate(text, &field);
            Error::InvalidAt {
                path,
                line,
                column,
                field,
                message,
            }
        }
        other => other,
    }
}

/// [`locate_error`] only for an error about `path` (an error about another
/// file, such as the other half of a duplicate id, passes through).
pub fn locate_error_in(e: Error, text: &str, path: &Path) -> Error {
    match &e {
        Error::Invalid { path: p, .. } if p == path => locate_error(e, text),
        _ => e,
    }
}

/// One step of a field path: `name` or `[index]`.
#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    Field(&'a str),
    Index(usize),
}

/// Split `faults[2].intensity` into `faults`, `[2]`, `intensity`; `None` if
/// `field` is not a path (`(file)`, `known_fixes/difficulty`).
fn segments(field: &str) -> Option<Vec<Segment<'_>>> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return None;
            }
            out.push(Segment::Field(name));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            out.push(Segment::Index(r[..close].parse().ok()?));
            rest = &r[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The 1-based line:column of the value of `field` (a dotted path such as
/// `faults[2].intensity` or `layer1.control_plane.restarts_max`) in the RON
/// `text`. A field that is not in the text (it took its default) gives the
/// position of the deepest enclosing value that is; a text that cannot be
/// walked gives the start of its first value.
pub fn locate(text: &str, field: &str) -> (usize, usize) {
    let mut w = Walker {
        s: text.as_bytes(),
        i: 0,
        steps: 0,
    };
    w.ws();
    let start = w.i;
    let at = match segments(field) {
        Some(segs) => w.descend(&segs),
        None => start,
    };
    position_of(text.as_bytes(), at)
}

/// A forgiving RON scanner: it only looks for field names, list positions
/// and value boundaries, never allocates, and stops (never panics or
/// spins) on text it does not understand.
struct Walker<'a> {
    s: &'a [u8],
    i: usize,
    /// Work done, bounded: a walk gives up after this many steps.
    steps: usize,
}

const WALK_STEPS_MAX: usize = 10_000_000;

impl Walker<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn tick(&mut self) -> bool {
        self.steps += 1;
        self.steps < WALK_STEPS_MAX
    }

    /// Skip whitespace, comments and `#![...]` attributes.
    fn ws(&mut self) {
        while self.tick() {
            match self.peek() {
                Some(b) if b.is_ascii_whitespace() => self.i += 1,
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'/') => {
                    while let Some(b) = self.peek() {
                        self.i += 1;
                        if b == b'\n' {
                            break;
                        }
                    }
                }
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'*') => {
                    self.i += 2;
                    let mut depth = 1;
                    while depth > 0 && self.i < self.s.len() && self.tick() {
                        if self.s[self.i..].starts_with(b"*/") {
                            depth -= 1;
                            self.i += 2;
                        } else if self.s[self.i..].starts_with(b"/*") {
                            depth += 1;
                            self.i += 2;
                        } else {
                            self.i += 1;
                        }
                    }
                }
                Some(b'#') if self.s.get(self.i + 1) == Some(&b'!') => {
                    self.i += 2;
                    self.skip_value();
                }
                _ => break,
            }
        }
    }

    fn ident(&mut self) -> Option<&str> {
        let start = self.i;
        if self.s[self.i..].starts_with(b"r#") {
            self.i += 2;
        }
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
            _ => {
                self.i = start;
                return None;
            }
        }
        let name_start = self.i;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b == b'_' {
                self.i += 1;
            } else {
                break;
            }
        }
        std::str::from_utf8(&self.s[name_start..self.i]).ok()
    }

    /// Skip a quoted string (or char) starting at the quote; returns its
    /// raw content.
    fn quoted(&mut self, quote: u8) -> &[u8] {
        self.i += 1;
        let start = self.i;
        while let Some(b) = self.peek() {
            if !self.tick() {
                break;
            }
            if b == b'\\' {
                self.i += 2;
            } else if b == quote {
                let content = &self.s[start..self.i];
                self.i += 1;
                return content;
            } else {
                self.i += 1;
            }
        }
        self.i = self.i.min(self.s.len());
        &self.s[start.min(self.s.len())..self.i]
    }

    /// Skip a raw string `r#"..."#` starting at `r`.
    fn raw_string(&mut self) {
        self.i += 1;
        let mut hashes = 0;
        while self.peek() == Some(b'#') {
            hashes += 1;
            self.i += 1;
        }
        if self.peek() != Some(b'"') {
            return;
        }
        self.i += 1;
        while self.i < self.s.len() && self.tick() {
            if self.s[self.i] == b'"'
                && self.s[self.i + 1..]
                    .iter()
                    .take(hashes)
                    .filter(|&&b| b == b'#')
                    .count()
                    == hashes
            {
                self.i += 1 + hashes;
                return;
            }
            self.i += 1;
        }
    }

    /// Skip one value (and nothing after it).
    fn skip_value(&mut self) {
        self.ws();
        match self.peek() {
            None => {}
            Some(q @ (b'"' | b'\'')) => {
                self.quoted(q);
            }
            Some(b'r') if matches!(self.s.get(self.i + 1), Some(b'#' | b'"')) => self.raw_string(),
            Some(b'b') if self.s.get(self.i + 1) == Some(&b'"') => {
                self.i += 1;
                self.quoted(b'"');
            }
            Some(b'(' | b'[' | b'{') => self.skip_group(),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                self.ident();
                let save = self.i;
                self.ws();
                if self.peek() == Some(b'(') {
                    self.skip_group();
                } else {
                    self.i = save;
                }
            }
            Some(_) => {
                while let Some(b) = self.peek() {
                    if b.is_ascii_whitespace() || b",)]}:".contains(&b) {
                        break;
                    }
                    self.i += 1;
                }
            }
        }
    }

    /// Skip a bracketed group starting at its opening bracket.
    fn skip_group(&mut self) {
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            if !self.tick() {
                return;
            }
            match b {
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    self.i += 1;
                }
                b')' | b']' | b'}' => {
                    self.i += 1;
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                b'"' | b'\'' => {
                    self.quoted(b);
                }
                b'r' if matches!(self.s.get(self.i + 1), Some(b'#' | b'"')) => self.raw_string(),
                b'/' if matches!(self.s.get(self.i + 1), Some(b'/' | b'*')) => self.ws(),
                _ => self.i += 1,
            }
        }
    }

    /// From the start of a value, follow `segs`; the offset of the deepest
    /// value found.
    fn descend(&mut self, segs: &[Segment<'_>]) -> usize {
        self.ws();
        let here = self.i;
        let Some((seg, rest)) = segs.split_first() else {
            return here;
        };
        // A struct or tuple may carry its name (`Layer1Spec(...)`), a value
        // may be wrapped in `Some(...)`.
        let save = self.i;
        if self.ident().is_some() {
            self.ws();
            if self.peek() != Some(b'(') {
                self.i = save;
                return here;
            }
        }
        match (seg, self.peek()) {
            (Segment::Field(name), Some(b'(' | b'{')) => {
                self.i += 1;
                loop {
                    self.ws();
                    let before = self.i;
                    let key: Option<Vec<u8>> = match self.peek() {
                        Some(b'"') => Some(self.quoted(b'"').to_vec()),
                        _ => self.ident().map(|k| k.as_bytes().to_vec()),
                    };
                    let Some(key) = key else {
                        return here;
                    };
                    self.ws();
                    if self.peek() != Some(b':') {
                        return here;
                    }
                    self.i += 1;
                    if key == name.as_bytes() {
                        return self.descend(rest);
                    }
                    self.skip_value();
                    self.ws();
                    if self.peek() == Some(b',') {
                        self.i += 1;
                    }
                    if self.i == before || !self.tick() {
                        return here;
                    }
                }
            }
            (Segment::Index(k), Some(b'[' | b'(')) => {
                self.i += 1;
                for j in 0.. {
                    self.ws();
                    let before = self.i;
                    if matches!(self.peek(), None | Some(b']' | b')')) {
                        return here;
                    }
                    if j == *k {
                        return self.descend(rest);
                    }
                    self.skip_value();
                    self.ws();
                    if self.peek() == Some(b',') {
                        self.i += 1;
                    }
                    if self.i == before || !self.tick() {
                        return here;
                    }
                }
                here
            }
            _ => here,
        }
    }
}

/// A reader that refuses lines longer than its limit: the error names the
/// file, the line and the column where the limit was passed, so a stream
/// read line by line (the audit log, CSV rows) never buffers a huge line.
pub struct LineLimited<R> {
    inner: R,
    path: PathBuf,
    line_max: usize,
    line: usize,
    column: usize,
}

/// The error a [`LineLimited`] reader raises (carried inside an
/// `std::io::Error`; [`from_read_error`] turns it back into a located
/// [`Error::InvalidAt`]).
#[derive(Debug)]
pub struct LineTooLong {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The limit, bytes.
    pub line_max: usize,
}

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: (file): line is longer than {} bytes",
            self.path.display(),
            self.line,
            self.line_max + 1,
            self.line_max
        )
    }
}

impl std::error::Error for LineTooLong {}

impl<R: Read> LineLimited<R> {
    /// Wrap `inner` (the content of `path`).
    pub fn new(inner: R, path: &Path, line_max: usize) -> Self {
        LineLimited {
            inner,
            path: path.to_path_buf(),
            line_max,
            line: 1,
            column: 0,
        }
    }
}

impl<R: Read> Read for LineLimited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Never hand out more than what is left of the current line's
        // budget plus one line end, so the limit is checked before the
        // bytes reach the caller.
        let room = (self.line_max + 1).saturating_sub(self.column).max(1);
        let want = buf.len().min(room.max(1));
        let n = self.inner.read(&mut buf[..want])?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.line += 1;
                self.column = 0;
            } else {
                self.column += 1;
                if self.column > self.line_max {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        LineTooLong {
                            path: self.path.clone(),
                            line: self.line,
                            line_max: self.line_max,
                        },
                    ));
                }
            }
        }
        Ok(n)
    }
}

/// Open `path` as an input stream whose lines are at most `line_max` bytes.
pub fn open_lines(path: &Path, line_max: usize) -> Result<LineLimited<File>> {
    Ok(LineLimited::new(open_input(path)?, path, line_max))
}

/// Turn an I/O error met while reading `path` into a located error if a
/// [`LineLimited`] raised it, else into an [`Error::Io`].
pub fn from_read_error(path: &Path, e: std::io::Error) -> Error {
    if e.get_ref().is_some_and(|r| r.is::<LineTooLong>()) {
        let inner = e.into_inner().expect("checked");
        let t = inner.downcast::<LineTooLong>().expect("checked");
        return Error::InvalidAt {
            path: t.path,
            line: t.line,
            column: t.line_max + 1,
            field: "(file)".into(),
            message: format!("line is longer than {} bytes", t.line_max),
        };
    }
    Error::io(path, e)
}

/// A CSV reader over `path` (with headers) whose lines are at most
/// [`CSV_LINE_BYTES_MAX`] bytes; see [`csv_error`] for its errors.
pub fn csv_reader(path: &Path) -> Result<csv::Reader<LineLimited<File>>> {
    Ok(csv::Reader::from_reader(open_lines(
        path,
        CSV_LINE_BYTES_MAX,
    )?))
}

/// A `csv` error met while reading `path`, as a located error: the line
/// of the record (a row with the wrong number of fields, text that is not
/// UTF-8), or the line that is too long.
pub fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(1, |p| p.line() as usize).max(1);
    let at = |message: String| Error::InvalidAt {
        path: path.to_path_buf(),
        line,
        column: 1,
        field: "(row)".into(),
        message,
    };
    match e.into_kind() {
        csv::ErrorKind::Io(io) => match io.kind() {
            std::io::ErrorKind::InvalidData => from_read_error(path, io),
            _ => not_found_is_input(path, io),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => at(format!(
            "{len} fields where the header has {expected_len} (a cut or edited row)"
        )),
        csv::ErrorKind::Utf8 { err, .. } => {
            at(format!("field {} is not UTF-8 text", err.field() + 1))
        }
        csv::ErrorKind::Deserialize { err, .. } => at(format!("{err}")),
        other => at(format!("not a CSV row: {other:?}")),
    }
}

/// Read one line (up to and including `\n`) into `buf` from a buffered
/// reader, refusing lines longer than `line_max` bytes without buffering
/// them. `Ok(false)` at the end of the input. `line` is the 1-based number
/// of the line being read (for the error).
pub fn read_line_limited(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    line_max: usize,
    path: &Path,
    line: usize,
) -> Result<bool> {
    buf.clear();
    loop {
        let chunk = r.fill_buf().map_err(|e| from_read_error(path, e))?;
        if chunk.is_empty() {
            return Ok(!buf.is_empty());
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        buf.extend_from_slice(&chunk[..take]);
        r.consume(take);
        let len = buf.len() - usize::from(done);
        if len > line_max {
            return Err(Error::InvalidAt {
                path: path.to_path_buf(),
                line,
                column: line_max + 1,
                field: "(file)".into(),
                message: format!("line is longer than {line_max} bytes"),
            });
        }
        if done {
            return Ok(true);
        }
    }
}

/// The `*.ron` files of a directory, sorted by name.
pub fn ron_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| not_found_is_input(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "ron") {
            continue;
        }
        // Named like an input but not one: refused, not skipped (a user
        // would take the folder's verdict to cover it).
        let what = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => {
                files.push(path);
                continue;
            }
            Ok(m) if m.is_dir() => "a folder",
            Ok(_) => "not a regular file (a FIFO, a socket or a device)",
            Err(_) => "a dangling symbolic link",
        };
        return Err(Error::Invalid {
            path,
            field: "(file)".into(),
            message: format!(
                "is {what}; every *.ron of {} must be a regular file",
                dir.display()
            ),
        });
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: u32,
    }

    #[test]
    fn a_number_that_does_not_fit_names_its_field_and_what_it_takes() {
        let msg = |text: &str| {
            parse_ron::<T>(text, Path::new("n.ron"))
                .unwrap_err()
                .to_string()
        };
        let m = msg("(\n  a: 99999999999,\n)");
        assert!(
            m.starts_with("n.ron:2:6: a: Integer is out of bounds: the value does not fit"),
            "{m}"
        );
        let m = msg("(a: -1)");
        assert!(m.contains("a: Integer is out of bounds"), "{m}");
        let m = msg("(a: 1.5)");
        assert_eq!(
            m,
            "n.ron:1:6: a: a whole number was expected (no decimals or exponent)"
        );
        let m = msg("(a: 3e2)");
        assert!(
            m.contains("a: Invalid digit") && m.contains("whole number"),
            "{m}"
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = parse_ron::<T>("(\n  a: 1,\n  b: 2,\n)", Path::new("x.ron")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("x.ron:3:"), "{msg}");
        assert!(msg.contains('b'), "{msg}");
        let err = parse_ron::<T>("", Path::new("e.ron")).unwrap_err();
        assert!(err.to_string().contains("empty file"), "{err}");
        let err = parse_ron::<T>("(a: 1", Path::new("t.ron")).unwrap_err();
        assert!(matches!(err, Error::Syntax { line: 1, .. }), "{err}");
        let err = parse_ron_without_empty_check::<T>(" \n", Path::new("e.ron")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "e.ron:1:1: Expected opening `(` for struct `T`"
        );
    }

    const TEXT: &str = r#"// a comment
(
    id: "S02", /* (not: here) */
    faults: [
        (kind: AclFlood, target: Kernel("a,b)"), start_s: 5, length_s: 60, intensity: 0.6),
        (kind: CpuSpike,
         target: Platform, start_s: 1, length_s: 2, intensity: 1.5),
    ],
    layer1: Layer1Spec(control_plane: (restarts_max: 5000)),
    steady_state: [(probe: KernelsRunning, min: Some(18))],
)
"#;

    #[test]
    fn fields_are_located_in_the_text() {
        assert_eq!(locate(TEXT, "id"), (3, 9));
        assert_eq!(locate(TEXT, "faults"), (4, 13));
        assert_eq!(locate(TEXT, "faults[0].intensity"), (5, 87));
        assert_eq!(locate(TEXT, "faults[1].intensity"), (7, 64));
        assert_eq!(locate(TEXT, "faults[1].target"), (7, 18));
        assert_eq!(locate(TEXT, "layer1.control_plane.restarts_max"), (9, 54));
        assert_eq!(locate(TEXT, "steady_state[0].min"), (10, 49));
        // Absent fields and indexes: the deepest value that is there.
        assert_eq!(locate(TEXT, "faults[7].intensity"), (4, 13));
        assert_eq!(locate(TEXT, "faults[0].colour"), (5, 9));
        assert_eq!(locate(TEXT, "(file)"), (2, 1));
        assert_eq!(locate("", "a.b"), (1, 1));
        // Garbage never panics.
        for t in ["(((", "[a: (", "\"", "r#\"", "(a: [1, 2", "/*", "#!["] {
            let _ = locate(t, "a[1].b");
        }
    }

    #[test]
    fn value_errors_get_the_position_of_their_field() {
        let e = Error::Invalid {
            path: "s.ron".into(),
            field: "faults[1].intensity".into(),
            message: "1.5 is out of range (allowed: 0 to 1)".into(),
        };
        let e = locate_error(e, TEXT);
        assert_eq!(
            e.to_string(),
            "s.ron:7:64: faults[1].intensity: 1.5 is out of range (allowed: 0 to 1)"
        );
        assert!(e.is_input());
    }

    #[test]
    fn long_lines_are_refused_without_buffering_them() {
        let text = format!("ok\n{}\n", "x".repeat(100));
        let mut r = LineLimited::new(text.as_bytes(), Path::new("l.csv"), 10);
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).unwrap_err();
        let e = from_read_error(Path::new("l.csv"), e);
        assert_eq!(
            e.to_string(),
            "l.csv:2:11: (file): line is longer than 10 bytes"
        );
        assert!(out.len() <= 3 + 11, "{}", out.len());
        let mut r = std::io::BufReader::new(text.as_bytes());
        let mut buf = Vec::new();
        assert!(read_line_limited(&mut r, &mut buf, 10, Path::new("l"), 1).unwrap());
        assert_eq!(buf, b"ok\n");
        assert!(read_line_limited(&mut r, &mut buf, 10, Path::new("l"), 2).is_err());
    }
}
