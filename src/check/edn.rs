//! Reading Jepsen / Knossos register histories written in EDN (Clojure's
//! data notation), for [`super::linearizable`].
//!
//! Two layers:
//! - [`Reader`]: a small EDN reader (maps, vectors, lists, sets, keywords,
//!   symbols, `nil`, booleans, integers, floats, strings, characters,
//!   comments, `#_` discards and tagged elements such as
//!   `#jepsen.history.Op{...}`, read as the element they tag). Every value
//!   carries its line:column; nesting deeper than [`DEPTH_MAX`] is refused.
//! - [`read_history`]: the operations of a register history, as
//!   [`RegisterCall`]s.
//!
//! # Accepted histories
//! Either one operation map per line (more generally: a sequence of maps) or
//! one vector (or list) of maps, as Jepsen's `history.edn` and Knossos'
//! `data/*.edn` are:
//!
//! ```text
//! {:process 0, :type :invoke, :f :write, :value 1, :time 123}
//! {:process 0, :type :ok,     :f :write, :value 1, :time 456}
//! {:process 1, :type :invoke, :f :cas,   :value [1 2]}
//! {:process 1, :type :fail,   :f :cas,   :value [1 2]}
//! {:process :nemesis, :type :info, :f :start, :value nil}
//! ```
//!
//! - `:process`: an integer (a client: single-threaded, invoke then
//!   complete) or a keyword such as `:nemesis`, whose operations are ignored;
//! - `:type`: `:invoke`, `:ok`, `:fail`, `:info`;
//! - `:f`: `:read`, `:write`, `:cas`;
//! - `:value`: a non-negative integer or `nil` (read, write), `[old new]`
//!   (cas); with Jepsen's independent keys, `[k v]` and `[k [old new]]`
//!   with `k` a non-negative integer. A history is keyed or not throughout.
//!
//! A read's value is the one its `:ok` completion reports; a write's or
//! cas's is its invocation's. An `:info` with no open invocation is
//! ignored (as Knossos does), and an invocation never completed counts as
//! `info`. The order of the lines is the history's real-time order (`:time`
//! is not read): an operation's times are its invocation's and
//! completion's positions among the client events. Other keys (`:index`,
//! `:time`, `:error`, ...) are ignored, except that `:index` names the
//! operation in reports when present.
//!
//! Every problem is an [`Error::Syntax`] with the file and the line:column
//! of the offending text; the reader never panics on any input.
//!
//! Memory: the text plus one [`RegisterCall`] and one [`OpSource`] per
//! client operation, and one open invocation per process; values are
//! dropped as soon as their operation map is read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::history::Outcome;
use super::linearizable::{RegisterCall, RegisterOp, Value};
use crate::error::{Error, Result};

/// Deepest nesting of collections the reader accepts.
pub const DEPTH_MAX: usize = 64;

/// A position in the text: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub column: usize,
}

/// An EDN value.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true`, `false`.
    Bool(bool),
    /// An integer (`N` suffix allowed).
    Int(i128),
    /// A floating-point number (`M` suffix allowed, `##Inf`, `##NaN`).
    Float(f64),
    /// A string.
    Str(String),
    /// A character (`\a`, `\newline`).
    Char(char),
    /// A keyword, without its colon (`:f` is `"f"`).
    Keyword(String),
    /// A symbol.
    Symbol(String),
    /// `( ... )`.
    List(Vec<Node>),
    /// `[ ... ]`.
    Vector(Vec<Node>),
    /// `{ k v ... }`, in text order.
    Map(Vec<(Node, Node)>),
    /// `#{ ... }`.
    Set(Vec<Node>),
    /// `#tag value`.
    Tagged(String, Box<Node>),
}

/// An EDN value and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the value starts.
    pub pos: Pos,
    /// The value.
    pub edn: Edn,
}

impl Node {
    /// The value of keyword `key` in a map (`None` if not a map or absent).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.edn {
            Edn::Map(kv) => kv
                .iter()
                .find(|(k, _)| matches!(&k.edn, Edn::Keyword(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The tagged element for a tagged value, else itself.
    pub fn untagged(&self) -> &Node {
        match &self.edn {
            Edn::Tagged(_, inner) => inner.untagged(),
            _ => self,
        }
    }

    /// The elements of a vector or list.
    pub fn seq(&self) -> Option<&[Node]> {
        match &self.edn {
            Edn::Vector(v) | Edn::List(v) => Some(v),
            _ => None,
        }
    }
}

/// A short description of a value's kind, for error messages.
fn kind(e: &Edn) -> String {
    match e {
        Edn::Nil => "nil".into(),
        Edn::Bool(b) => b.to_string(),
        Edn::Int(i) => format!("integer {i}"),
        Edn::Float(x) => format!("number {x}"),
        Edn::Str(_) => "a string".into(),
        Edn::Char(_) => "a character".into(),
        Edn::Keyword(k) => format!(":{k}"),
        Edn::Symbol(s) => format!("symbol {s}"),
        Edn::List(_) => "a list".into(),
        Edn::Vector(_) => "a vector".into(),
        Edn::Map(_) => "a map".into(),
        Edn::Set(_) => "a set".into(),
        Edn::Tagged(t, _) => format!("a #{t} value"),
    }
}

/// An EDN reader over a text, one top-level value at a time.
#[derive(Debug)]
pub struct Reader<'a> {
    path: PathBuf,
    src: &'a str,
    i: usize,
    line: usize,
    column: usize,
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';')
}

impl<'a> Reader<'a> {
    /// A reader over `src`, the content of `path` (for errors).
    pub fn new(src: &'a str, path: &Path) -> Reader<'a> {
        Reader {
            path: path.to_path_buf(),
            src,
            i: 0,
            line: 1,
            column: 1,
        }
    }

    /// Where the reader is.
    pub fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    /// A located error.
    pub fn error(&self, pos: Pos, message: impl Into<String>) -> Error {
        // EDN, not RON: this reader knows the position, not input::parse_ron.
        Error::Syntax {
            path: self.path.clone(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.i..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.src[self.i..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// Skip whitespace, commas and `;` comments.
    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ',' {
                self.bump();
            } else if c == ';' {
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    /// Skip blanks and `#_` discarded values; then the next character.
    fn skip_to_value(&mut self, depth: usize) -> Result<Option<char>> {
        loop {
            self.skip_blank();
            if self.peek() == Some('#') && self.peek2() == Some('_') {
                self.bump();
                self.bump();
                let at = self.pos();
                // One level deeper: a chain of discards is nesting too.
                if depth >= DEPTH_MAX {
                    return Err(self.error(at, format!("nested deeper than {DEPTH_MAX} levels")));
                }
                if self.value(depth + 1)?.is_none() {
                    return Err(self.error(at, "`#_` discards nothing: the input ends"));
                }
                continue;
            }
            return Ok(self.peek());
        }
    }

    /// The next top-level value, `None` at the end of the text.
    pub fn next_value(&mut self) -> Result<Option<Node>> {
        self.value(0)
    }

    /// Open a top-level vector or list, if the next value is one: returns
    /// the position of its opening bracket and its closing character.
    fn open_top_seq(&mut self) -> Result<Option<(Pos, char)>> {
        match self.skip_to_value(0)? {
            Some(c @ ('[' | '(')) => {
                let at = self.pos();
                self.bump();
                Ok(Some((at, if c == '[' { ']' } else { ')' })))
            }
            _ => Ok(None),
        }
    }

    /// The next element of an opened top-level sequence, `None` after its
    /// closing character.
    fn next_in_seq(&mut self, open: Pos, close: char) -> Result<Option<Node>> {
        match self.skip_to_value(1)? {
            None => Err(self.error(
                open,
                format!("unclosed `{}`: the input ends", opener(close)),
            )),
            Some(c) if c == close => {
                self.bump();
                Ok(None)
            }
            Some(_) => self.value(1),
        }
    }

    /// A value at nesting `depth`; `None` at the end of the text.
    fn value(&mut self, depth: usize) -> Result<Option<Node>> {
        let Some(c) = self.skip_to_value(depth)? else {
            return Ok(None);
        };
        let pos = self.pos();
        if depth > DEPTH_MAX {
            return Err(self.error(pos, format!("nested deeper than {DEPTH_MAX} levels")));
        }
        let edn = match c {
            '(' | '[' | '{' => {
                self.bump();
                let close = match c {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                };
                let items = self.items(pos, c, close, depth)?;
                match c {
                    '(' => Edn::List(items),
                    '[' => Edn::Vector(items),
                    _ => self.map(pos, items)?,
                }
            }
            ')' | ']' | '}' => {
                return Err(self.error(pos, format!("unexpected `{c}`: nothing to close")));
            }
            '"' => {
                self.bump();
                Edn::Str(self.string(pos)?)
            }
            '\\' => {
                self.bump();
                Edn::Char(self.character(pos)?)
            }
            '#' => {
                self.bump();
                match self.peek() {
                    Some('{') => {
                        self.bump();
                        Edn::Set(self.items(pos, '{', '}', depth)?)
                    }
                    Some('#') => {
                        self.bump();
                        let tok = self.token();
                        match tok {
                            "Inf" => Edn::Float(f64::INFINITY),
                            "-Inf" => Edn::Float(f64::NEG_INFINITY),
                            "NaN" => Edn::Float(f64::NAN),
                            _ => return Err(self.error(pos, format!("unknown `##{tok}`"))),
                        }
                    }
                    Some(c) if !is_delimiter(c) && c.is_alphabetic() => {
                        let tag = self.token().to_string();
                        let at = self.pos();
                        let Some(inner) = self.value(depth + 1)? else {
                            return Err(
                                self.error(at, format!("`#{tag}` tags nothing: the input ends"))
                            );
                        };
                        Edn::Tagged(tag, Box::new(inner))
                    }
                    _ => {
                        return Err(self.error(
                            pos,
                            "`#` must start a set `#{`, a discard `#_` or a tag `#name`",
                        ));
                    }
                }
            }
            '\'' | '`' | '~' | '@' | '^' => {
                return Err(self.error(pos, format!("`{c}` is a Clojure reader macro, not EDN")));
            }
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return Err(self.error(pos, format!("unexpected `{c}`")));
                }
                atom(tok).map_err(|m| self.error(pos, m))?
            }
        };
        Ok(Some(Node { pos, edn }))
    }

    fn items(&mut self, open: Pos, opening: char, close: char, depth: usize) -> Result<Vec<Node>> {
        let mut items = Vec::new();
        loop {
            match self.skip_to_value(depth + 1)? {
                None => {
                    return Err(self.error(open, format!("unclosed `{opening}`: the input ends")));
                }
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(c @ (')' | ']' | '}')) => {
                    let at = self.pos();
                    return Err(self.error(
                        at,
                        format!(
                            "expected `{close}` to close the `{opening}` at {}:{}, found `{c}`",
                            open.line, open.column
                        ),
                    ));
                }
                Some(_) => match self.value(depth + 1)? {
                    Some(v) => items.push(v),
                    None => {
                        return Err(
                            self.error(open, format!("unclosed `{opening}`: the input ends"))
                        );
                    }
                },
            }
        }
    }

    fn map(&self, pos: Pos, items: Vec<Node>) -> Result<Edn> {
        if items.len() % 2 == 1 {
            let last = items.last().map_or(pos, |n| n.pos);
            return Err(self.error(
                last,
                "a map needs an even number of forms: this key has no value",
            ));
        }
        let mut kv = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            kv.push((k, v));
        }
        Ok(Edn::Map(kv))
    }

    /// The maximal run of non-delimiter characters.
    fn token(&mut self) -> &'a str {
        let start = self.i;
        while let Some(c) = self.peek() {
            if is_delimiter(c) {
                break;
            }
            self.bump();
        }
        &self.src[start..self.i]
    }

    fn string(&mut self, open: Pos) -> Result<String> {
        let mut s = String::new();
        loop {
            let at = self.pos();
            match self.bump() {
                None => return Err(self.error(open, "unclosed string: the input ends")),
                Some('"') => return Ok(s),
                Some('\\') => {
                    let c = match self.bump() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('u') => {
                            let mut code = 0u32;
                            for _ in 0..4 {
                                let Some(d) = self.bump().and_then(|c| c.to_digit(16)) else {
                                    return Err(self.error(at, "`\\u` needs four hex digits"));
                                };
                                code = code * 16 + d;
                            }
                            char::from_u32(code)
                                .ok_or_else(|| self.error(at, "`\\u` escape is not a character"))?
                        }
                        Some(c) => return Err(self.error(at, format!("unknown escape `\\{c}`"))),
                        None => return Err(self.error(open, "unclosed string: the input ends")),
                    };
                    s.push(c);
                }
                Some(c) => s.push(c),
            }
        }
    }

    fn character(&mut self, pos: Pos) -> Result<char> {
        // The first character is taken even if it is a delimiter (`\(`).
        let Some(first) = self.bump() else {
            return Err(self.error(pos, "`\\` names no character: the input ends"));
        };
        let start = self.i - first.len_utf8();
        while let Some(c) = self.peek() {
            if is_delimiter(c) {
                break;
            }
            self.bump();
        }
        let name = &self.src[start..self.i];
        let c = match name {
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "return" => '\r',
            "backspace" => '\u{8}',
            "formfeed" => '\u{c}',
            _ if name.chars().count() == 1 => first,
            _ if name.starts_with('u') && name.len() == 5 => u32::from_str_radix(&name[1..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| self.error(pos, format!("bad character `\\{name}`")))?,
            _ => return Err(self.error(pos, format!("unknown character `\\{name}`"))),
        };
        Ok(c)
    }
}

fn opener(close: char) -> char {
    match close {
        ']' => '[',
        ')' => '(',
        _ => '{',
    }
}

/// A number, keyword, symbol, `nil`, `true` or `false`.
fn atom(tok: &str) -> std::result::Result<Edn, String> {
    let first = tok.chars().next().unwrap_or(' ');
    let second = tok.chars().nth(1);
    let numeric = first.is_ascii_digit()
        || (matches!(first, '+' | '-') && second.is_some_and(|c| c.is_ascii_digit()));
    if numeric {
        return number(tok);
    }
    if let Some(k) = tok.strip_prefix(':') {
        if k.is_empty() || k.starts_with(':') {
            return Err(format!("bad keyword `{tok}`"));
        }
        return Ok(Edn::Keyword(k.to_string()));
    }
    Ok(match tok {
        "nil" => Edn::Nil,
        "true" => Edn::Bool(true),
        "false" => Edn::Bool(false),
        _ => Edn::Symbol(tok.to_string()),
    })
}

fn number(tok: &str) -> std::result::Result<Edn, String> {
    let int = tok.strip_suffix('N').unwrap_or(tok);
    let digits = int.strip_prefix(['+', '-']).unwrap_or(int);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return int
            .parse::<i128>()
            .map(Edn::Int)
            .map_err(|_| format!("integer `{tok}` is too large"));
    }
    let float = tok.strip_suffix('M').unwrap_or(tok);
    let ok_chars = float
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    match float.parse::<f64>() {
        Ok(x) if ok_chars => Ok(Edn::Float(x)),
        _ => Err(format!("invalid number `{tok}`")),
    }
}

// ---------------------------------------------------------------- histories

/// Where an operation of an EDN history is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpSource {
    /// Its `:index` if the invocation has one, else its position among all
    /// operation maps (nemesis ones included, as Jepsen numbers them), from 0.
    pub index: u64,
    /// Where its invocation is.
    pub invoke: Pos,
    /// Where its completion is (`None`: never completed).
    pub complete: Option<Pos>,
}

/// A register history read from EDN.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdnHistory {
    /// The client operations, in completion order (never-completed ones
    /// last); `fail` ones included (the checker drops them).
    pub calls: Vec<RegisterCall>,
    /// Where each call is, index for index.
    pub sources: Vec<OpSource>,
    /// Whether values are Jepsen's independent `[k v]` tuples.
    pub keyed: bool,
    /// Operation maps read (nemesis ones included).
    pub ops: u64,
    /// Operations of non-client processes (`:nemesis`), ignored.
    pub ignored: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum F {
    Read,
    Write,
    Cas,
}

impl F {
    const fn name(self) -> &'static str {
        match self {
            F::Read => "read",
            F::Write => "write",
            F::Cas => "cas",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Open {
    f: F,
    key: Option<u64>,
    op: RegisterOp,
    at: u64,
    src: OpSource,
}

/// Read an EDN register history (see the [module docs](self)). `path`
/// names `text` in errors.
pub fn read_history(text: &str, path: &Path) -> Result<EdnHistory> {
    let mut rd = Reader::new(text, path);
    let mut b = Builder {
        h: EdnHistory::default(),
        open: BTreeMap::new(),
        keyed: None,
        events: 0,
    };
    if let Some((open, close)) = rd.open_top_seq()? {
        while let Some(node) = rd.next_in_seq(open, close)? {
            b.op(&rd, &node)?;
        }
        if let Some(extra) = rd.next_value()? {
            return Err(rd.error(
                extra.pos,
                "unexpected value after the history's closing bracket",
            ));
        }
    } else {
        while let Some(node) = rd.next_value()? {
            b.op(&rd, &node)?;
        }
    }
    Ok(b.finish())
}

struct Builder {
    h: EdnHistory,
    open: BTreeMap<i128, Open>,
    keyed: Option<bool>,
    events: u64,
}

impl Builder {
    fn op(&mut self, rd: &Reader<'_>, node: &Node) -> Result<()> {
        let node = node.untagged();
        let err = |pos: Pos, m: String| rd.error(pos, m);
        if !matches!(node.edn, Edn::Map(_)) {
            return Err(err(
                node.pos,
                format!(
                    "expected an operation map `{{:process .., :type .., :f .., :value ..}}`, found {}",
                    kind(&node.edn)
                ),
            ));
        }
        let position = self.h.ops;
        self.h.ops += 1;
        let field = |name: &str| {
            node.get(name)
                .ok_or_else(|| err(node.pos, format!("operation has no :{name}")))
        };
        let process = field("process")?;
        let process = match &process.edn {
            Edn::Int(p) => *p,
            Edn::Keyword(_) => {
                self.h.ignored += 1;
                return Ok(());
            }
            other => {
                return Err(err(
                    process.pos,
                    format!(
                        ":process must be an integer (a client) or a keyword such as :nemesis, found {}",
                        kind(other)
                    ),
                ));
            }
        };
        let ty = field("type")?;
        let outcome = match &ty.edn {
            Edn::Keyword(k) if k == "invoke" => None,
            Edn::Keyword(k) if k == "ok" => Some(Outcome::Ok),
            Edn::Keyword(k) if k == "fail" => Some(Outcome::Fail),
            Edn::Keyword(k) if k == "info" => Some(Outcome::Info),
            other => {
                return Err(err(
                    ty.pos,
                    format!(
                        ":type must be :invoke, :ok, :fail or :info, found {}",
                        kind(other)
                    ),
                ));
            }
        };
        let fnode = field("f")?;
        let f = match &fnode.edn {
            Edn::Keyword(k) if k == "read" => F::Read,
            Edn::Keyword(k) if k == "write" => F::Write,
            Edn::Keyword(k) if k == "cas" => F::Cas,
            other => {
                return Err(err(
                    fnode.pos,
                    format!(
                        "a register history has :f :read, :write or :cas, found {}",
                        kind(other)
                    ),
                ));
            }
        };
        let value = node.get("value").cloned().unwrap_or(Node {
            pos: node.pos,
            edn: Edn::Nil,
        });
        let index = match node.get("index").map(|n| &n.edn) {
            Some(Edn::Int(i)) if *i >= 0 && *i <= u64::MAX as i128 => *i as u64,
            _ => position,
        };
        // Values of invocations and ok completions are read; a fail's or
        // an info's repeats its invocation's (or is absent) and is not.
        let parsed = match outcome {
            None | Some(Outcome::Ok) => Some(self.value(rd, f, outcome, &value)?),
            Some(_) => None,
        };
        let at = self.events;
        self.events += 1;
        match outcome {
            None => {
                let (key, op) = parsed.expect("read for invocations");
                if let Some(prev) = self.open.get(&process) {
                    return Err(err(
                        node.pos,
                        format!(
                            "process {process} invokes an operation while its {} invoked at {}:{} is still open",
                            prev.f.name(),
                            prev.src.invoke.line,
                            prev.src.invoke.column
                        ),
                    ));
                }
                let src = OpSource {
                    index,
                    invoke: node.pos,
                    complete: None,
                };
                self.open.insert(
                    process,
                    Open {
                        f,
                        key,
                        op,
                        at,
                        src,
                    },
                );
            }
            Some(outcome) => {
                let Some(open) = self.open.remove(&process) else {
                    if outcome == Outcome::Info {
                        return Ok(()); // an info of its own: nothing to check
                    }
                    return Err(err(
                        node.pos,
                        format!("process {process} completes an operation it never invoked"),
                    ));
                };
                if open.f != f {
                    return Err(err(
                        fnode.pos,
                        format!(
                            "process {process} completes a {} but invoked a {} at {}:{}",
                            f.name(),
                            open.f.name(),
                            open.src.invoke.line,
                            open.src.invoke.column
                        ),
                    ));
                }
                let op = match parsed {
                    Some((key, _)) if key != open.key => {
                        return Err(err(
                            value.pos,
                            format!(
                                "key {} differs from the key {} of the invocation at {}:{}",
                                fmt_key(key),
                                fmt_key(open.key),
                                open.src.invoke.line,
                                open.src.invoke.column
                            ),
                        ));
                    }
                    // A read's value is what it returned; a write's or
                    // cas's is what it was asked to do.
                    Some((_, op)) if f == F::Read => op,
                    _ => open.op,
                };
                self.h.calls.push(RegisterCall {
                    key: open.key,
                    process: process.clamp(0, u64::MAX as i128) as u64,
                    op,
                    outcome,
                    invoke_at: open.at,
                    complete_at: at,
                });
                self.h.sources.push(OpSource {
                    complete: Some(node.pos),
                    ..open.src
                });
            }
        }
        Ok(())
    }

    /// The key and register operation of `:value`.
    fn value(
        &mut self,
        rd: &Reader<'_>,
        f: F,
        outcome: Option<Outcome>,
        v: &Node,
    ) -> Result<(Option<u64>, RegisterOp)> {
        let v = v.untagged();
        let pair = v.seq().filter(|s| s.len() == 2);
        // Independent keys: [k v] for read/write, [k [old new]] for cas.
        let tuple = match f {
            F::Read | F::Write => pair.is_some(),
            F::Cas => pair.is_some_and(|p| p[1].untagged().seq().is_some()),
        };
        match self.keyed {
            None => self.keyed = Some(tuple),
            Some(k) if k != tuple => {
                return Err(rd.error(
                    v.pos,
                    if k {
                        "this history uses independent keys ([k v] values): expected a [k v] tuple"
                    } else {
                        "a [k v] tuple in a history whose earlier values had no key"
                    },
                ));
            }
            Some(_) => {}
        }
        self.h.keyed = self.keyed == Some(true);
        let (key, inner) = match pair.filter(|_| tuple) {
            Some(p) => {
                let k = register_value(rd, &p[0], "a key")?
                    .ok_or_else(|| rd.error(p[0].pos, "a key must be an integer, found nil"))?;
                (Some(k), &p[1])
            }
            None => (None, v),
        };
        let inner = inner.untagged();
        let op = match f {
            // An invocation of a read carries no value (nil, usually).
            F::Read if outcome.is_none() => RegisterOp::Read(None),
            F::Read => RegisterOp::Read(register_value(rd, inner, "a read value")?),
            F::Write => RegisterOp::Write(register_value(rd, inner, "a written value")?),
            F::Cas => match inner.seq() {
                Some([old, new]) => RegisterOp::Cas {
                    old: register_value(rd, old, "cas' old value")?,
                    new: register_value(rd, new, "cas' new value")?,
                },
                _ => {
                    return Err(rd.error(
                        inner.pos,
                        format!("a cas value is [old new], found {}", kind(&inner.edn)),
                    ));
                }
            },
        };
        Ok((key, op))
    }

    fn finish(mut self) -> EdnHistory {
        // Invocations never completed: unknown outcome (Knossos' synthetic
        // infos), in invocation order.
        let mut open: Vec<Open> = std::mem::take(&mut self.open).into_values().collect();
        open.sort_by_key(|o| o.at);
        for o in open {
            self.h.calls.push(RegisterCall {
                key: o.key,
                process: 0,
                op: o.op,
                outcome: Outcome::Pending,
                invoke_at: o.at,
                complete_at: u64::MAX,
            });
            self.h.sources.push(o.src);
        }
        self.h
    }
}

fn fmt_key(k: Option<u64>) -> String {
    k.map_or("(none)".into(), |k| k.to_string())
}

/// A register value: a non-negative integer or nil.
fn register_value(rd: &Reader<'_>, n: &Node, what: &str) -> Result<Value> {
    match &n.untagged().edn {
        Edn::Nil => Ok(None),
        Edn::Int(i) if *i >= 0 && *i <= u64::MAX as i128 => Ok(Some(*i as u64)),
        other => Err(rd.error(
            n.pos,
            format!(
                "{what} must be a non-negative integer or nil, found {}",
                kind(other)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(src: &str) -> Result<Vec<Node>> {
        let mut r = Reader::new(src, Path::new("t.edn"));
        let mut v = Vec::new();
        while let Some(n) = r.next_value()? {
            v.push(n);
        }
        Ok(v)
    }

    fn at(e: Error) -> (usize, usize, String) {
        match e {
            Error::Syntax {
                line,
                column,
                message,
                ..
            } => (line, column, message),
            other => panic!("not a syntax error: {other}"),
        }
    }

    #[test]
    fn reads_maps_keywords_vectors_nil_and_friends() {
        let v = read_all(
            "{:type :invoke, :f :cas, :value [1 2], :process 0} ; comment\n\
             #{1 2} (a \"s\\n\" \\c \\newline) -7 3N 1.5 1e3 2.5M ##Inf true false nil #_ {:x 1}\n\
             #jepsen.history.Op{:index 0}",
        )
        .unwrap();
        assert_eq!(v.len(), 13);
        assert_eq!(v[0].get("f").unwrap().edn, Edn::Keyword("cas".into()));
        assert_eq!(
            v[0].get("value").unwrap().seq().unwrap()[1].edn,
            Edn::Int(2)
        );
        assert_eq!(
            v[0].get("value").unwrap().pos,
            Pos {
                line: 1,
                column: 33
            }
        );
        assert!(matches!(&v[1].edn, Edn::Set(s) if s.len() == 2));
        assert_eq!(v[1].pos, Pos { line: 2, column: 1 });
        let Edn::List(l) = &v[2].edn else { panic!() };
        assert_eq!(l[1].edn, Edn::Str("s\n".into()));
        assert_eq!(l[2].edn, Edn::Char('c'));
        assert_eq!(l[3].edn, Edn::Char('\n'));
        assert_eq!(v[3].edn, Edn::Int(-7));
        assert_eq!(v[4].edn, Edn::Int(3));
        assert_eq!(v[5].edn, Edn::Float(1.5));
        assert_eq!(v[6].edn, Edn::Float(1000.0));
        assert_eq!(v[7].edn, Edn::Float(2.5));
        assert_eq!(v[8].edn, Edn::Float(f64::INFINITY));
        assert_eq!(v[11].edn, Edn::Nil);
        assert!(matches!(&v[12].edn, Edn::Tagged(t, _) if t == "jepsen.history.Op"));
        assert_eq!(v[12].untagged().get("index").unwrap().edn, Edn::Int(0));
    }

    #[test]
    fn bad_text_gives_line_and_column_never_a_panic() {
        let cases: &[(&str, usize, usize, &str)] = &[
            ("{:a 1", 1, 1, "unclosed `{`"),
            ("[1 2)", 1, 5, "expected `]`"),
            ("\n  )", 2, 3, "unexpected `)`"),
            ("{:a}", 1, 2, "even number"),
            ("\"abc", 1, 1, "unclosed string"),
            ("1.2.3", 1, 1, "invalid number"),
            (
                "99999999999999999999999999999999999999999",
                1,
                1,
                "too large",
            ),
            ("'x", 1, 1, "reader macro"),
            ("#", 1, 1, "`#` must start"),
            ("#_", 1, 3, "discards nothing"),
            ("\"\\q\"", 1, 2, "unknown escape"),
            ("\\", 1, 1, "names no character"),
            ("::", 1, 1, "bad keyword"),
        ];
        for &(src, line, column, msg) in cases {
            let (l, c, m) = at(read_all(src).unwrap_err());
            assert_eq!((l, c), (line, column), "{src:?}: {m}");
            assert!(m.contains(msg), "{src:?}: {m}");
        }
        let discards = "#_".repeat(100_000) + "1";
        let (_, _, m) = at(read_all(&discards).unwrap_err());
        assert!(m.contains("nested deeper"), "{m}");
        let tags = "#a ".repeat(100_000) + "1";
        let (_, _, m) = at(read_all(&tags).unwrap_err());
        assert!(m.contains("nested deeper"), "{m}");
        let deep = "[".repeat(DEPTH_MAX + 5);
        let (_, c, m) = at(read_all(&deep).unwrap_err());
        assert!(m.contains("nested deeper"), "{m}");
        assert_eq!(c, DEPTH_MAX + 2);
        // Arbitrary bytes-as-text never panic.
        for src in [
            "\u{0}", "#{", "[#_]", "\\u12", "{:a #t}", "é:é", "#x", "##x", "-", "+x",
        ] {
            let _ = read_all(src);
        }
    }

    fn hist(src: &str) -> Result<EdnHistory> {
        read_history(src, Path::new("h.edn"))
    }

    #[test]
    fn histories_pair_invocations_with_completions() {
        let h = hist(
            "{:process 0, :type :invoke, :f :write, :value 1}\n\
             {:process 1, :type :invoke, :f :read, :value nil}\n\
             {:process :nemesis, :type :info, :f :start, :value nil}\n\
             {:process 0, :type :ok, :f :write, :value 1}\n\
             {:process 1, :type :ok, :f :read, :value 1}\n\
             {:process 2, :type :invoke, :f :cas, :value [1 2]}\n\
             {:process 2, :type :fail, :f :cas, :value [1 2]}\n\
             {:process 3, :type :invoke, :f :write, :value 5}\n",
        )
        .unwrap();
        assert!(!h.keyed);
        assert_eq!(h.ops, 8);
        assert_eq!(h.ignored, 1);
        assert_eq!(h.calls.len(), 4);
        assert_eq!(h.calls[0].op, RegisterOp::Write(Some(1)));
        assert_eq!((h.calls[0].invoke_at, h.calls[0].complete_at), (0, 2));
        assert_eq!(h.calls[1].op, RegisterOp::Read(Some(1)));
        assert_eq!(h.calls[2].outcome, Outcome::Fail);
        assert_eq!(
            h.calls[2].op,
            RegisterOp::Cas {
                old: Some(1),
                new: Some(2)
            }
        );
        assert_eq!(h.calls[3].outcome, Outcome::Pending);
        assert_eq!(h.sources[1].index, 1);
        assert_eq!(h.sources[1].invoke, Pos { line: 2, column: 1 });
        assert_eq!(h.sources[1].complete, Some(Pos { line: 5, column: 1 }));
        assert_eq!(h.sources[3].index, 7);
    }

    #[test]
    fn a_vector_history_with_independent_keys() {
        let h = hist(
            "[{:process 0, :type :invoke, :f :cas, :value [7 [nil 1]]}\n \
              {:process 0, :type :ok, :f :cas, :value [7 [nil 1]]}\n \
              {:process 1, :type :invoke, :f :read, :value [8 nil]}\n \
              {:process 1, :type :ok, :f :read, :value [8 nil]}]",
        )
        .unwrap();
        assert!(h.keyed);
        assert_eq!(h.calls[0].key, Some(7));
        assert_eq!(
            h.calls[0].op,
            RegisterOp::Cas {
                old: None,
                new: Some(1)
            }
        );
        assert_eq!(h.calls[1].key, Some(8));
        assert_eq!(h.calls[1].op, RegisterOp::Read(None));
    }

    #[test]
    fn bad_histories_are_located() {
        let cases: &[(&str, usize, usize, &str)] = &[
            ("[1]", 1, 2, "expected an operation map"),
            ("{:type :ok, :f :read}", 1, 1, "no :process"),
            (
                "{:process 0, :type :done, :f :read}",
                1,
                20,
                ":type must be",
            ),
            (
                "{:process 0, :type :invoke, :f :add}",
                1,
                32,
                ":f :read, :write or :cas",
            ),
            (
                "{:process 0, :type :invoke, :f :write, :value -1}",
                1,
                47,
                "non-negative",
            ),
            (
                "{:process 0, :type :invoke, :f :cas, :value 3}",
                1,
                45,
                "[old new]",
            ),
            (
                "{:process 0, :type :ok, :f :write, :value 1}",
                1,
                1,
                "never invoked",
            ),
            (
                "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :invoke, :f :write, :value 2}",
                2,
                1,
                "still open",
            ),
            (
                "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :read, :value 1}",
                2,
                28,
                "invoked a write",
            ),
            (
                "{:process 0, :type :invoke, :f :write, :value [1 1]}\n{:process 1, :type :invoke, :f :write, :value 2}",
                2,
                47,
                "independent keys",
            ),
            (
                "{:process \"p\", :type :invoke, :f :read}",
                1,
                11,
                ":process must be",
            ),
            (
                "[{:process 0, :type :invoke, :f :read}] {}",
                1,
                41,
                "after the history",
            ),
        ];
        for &(src, line, column, msg) in cases {
            let (l, c, m) = at(hist(src).unwrap_err());
            assert_eq!((l, c), (line, column), "{src:?}: {m}");
            assert!(m.contains(msg), "{src:?}: {m}");
        }
    }
}
