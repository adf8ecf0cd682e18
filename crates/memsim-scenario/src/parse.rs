//! The scenario parser: hand-written, one pass over each line's bytes, no regular expressions, no panics.
//!
//! Grammar (everything strace 6 and Valgrind Lackey print, plus memsim's own `poke`, `peek` and `cat`):
//!
//! ```text
//! line     := blank | '#'... | '=='... | 'strace: '... | lackey | prefix body
//! lackey   := ws? ('I' | 'L' | 'S' | 'M') ws HEX ',' DEC ws?
//! prefix   := ('[pid' ws DEC ']' ws | DEC ws)? (timestamp ws)*      -- -f, -t/-tt/-ttt/-r
//! body     := call | '<... ' NAME ' resumed>' rest | call-start '<unfinished ...>'
//!           | '--- ' SIGNAME struct? ' ---' | '+++ exited with ' DEC ' +++' | '+++ killed by ' SIGNAME ... '+++'
//!           | 'cat /proc/' (DEC | 'self') '/' FILE
//! call     := NAME '(' (arg (',' arg)*)? ')' (ws '=' ws result)? anything-after-ws   -- -T durations etc.
//! result   := '?' ... | INT decoration? | '-1' ws ERRNO ...
//! ```
//!
//! Arguments are parsed structurally where strace's form is known (numbers, `|`-joined flags, strings with C
//! escapes and a `...` truncation mark, arrays, structures with `key=value`, `-y` decorations, `/* comments */`);
//! anything else (`makedev(0x88, 0x1)`, `8192*1024`, `~[RTMIN RT_1]`, wait statuses) is kept verbatim as
//! [`Arg::Other`] as long as its brackets and quotes balance, so a real `strace -f` log parses as it is.
//! Whether an argument makes sense for the call is decided later ([`crate::args`]), with the argument's
//! position, so a bad value still gets a `FILE:LINE:COL` error.
//!
//! Two stages: [`Parser::scan_line`] produces a [`Scanned`] line whose system call arguments borrow the text
//! ([`ArgRef`]: no allocation for numbers, flags, strings or descriptors; escapes are checked but decoded only
//! on demand), and [`Parser::parse_line`] / [`parse_str`] turn that into the owned [`Line`] of [`crate::ast`].
//! `memsim run` decodes calls straight from the scan.
//!
//! Columns count bytes from 1 (strace output is ASCII: it escapes everything else).

use std::collections::BTreeMap;
use std::fmt;

use memsim_core::uapi;

use crate::ast::*;

/// A positioned syntax error: displays as `FILE:LINE:COL: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)
    }
}

impl std::error::Error for ParseError {}

/// Brackets nest at most this deep (strace never comes close; a fuzzer would otherwise overflow the stack).
const MAX_DEPTH: usize = 64;

/// An internal error: byte offset into the text being parsed, and the message.
type Fail = (usize, String);
type PResult<T> = Result<T, Fail>;

fn fail<T>(at: usize, msg: impl Into<String>) -> PResult<T> {
    Err((at, msg.into()))
}

/// Maps offsets of the text being parsed back to (line, column). A resumed call is parsed as the text of its
/// `<unfinished ...>` line joined with the rest of its `<... resumed>` line, so offsets before `split` belong
/// to the first line and the others to the second.
#[derive(Clone, Copy, Debug)]
struct PosMap {
    split: usize,
    first: (usize, usize),
    second: (usize, usize),
}

impl PosMap {
    fn single(line: usize, base: usize) -> PosMap {
        PosMap {
            split: usize::MAX,
            first: (line, base),
            second: (line, base),
        }
    }
    /// The inverse of [`PosMap::pos`] (for positions it produced).
    fn offset(&self, p: Pos) -> usize {
        let col0 = p.col.saturating_sub(1);
        if self.split != usize::MAX && p.line == self.second.0 && col0 >= self.second.1 {
            self.split + (col0 - self.second.1)
        } else {
            col0.saturating_sub(self.first.1)
        }
    }

    fn pos(&self, off: usize) -> Pos {
        if off < self.split {
            Pos {
                line: self.first.0,
                col: self.first.1 + off + 1,
            }
        } else {
            Pos {
                line: self.second.0,
                col: self.second.1 + (off - self.split) + 1,
            }
        }
    }
}

/// An argument as it appears in the line, borrowed: the parser's first stage, which allocates nothing for
/// numbers, flags, strings and descriptors. [`ArgRef::to_arg`] gives the owned [`Arg`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgRef<'a> {
    Int(Wide),
    /// The text of a `|`-joined flags expression or a single name, e.g. `PROT_READ|PROT_WRITE`,
    /// `MAP_PRIVATE | 0x40000`, `AT_FDCWD` (validated: atoms are names or whole numbers).
    Flags(&'a [u8]),
    /// A decorated descriptor: the descriptor atom (`3`, `AT_FDCWD`) and the raw, still escaped, path.
    Fd {
        fd: &'a [u8],
        path: &'a [u8],
    },
    /// A string's raw text between its quotes (escapes validated, not yet decoded).
    Str {
        raw: &'a [u8],
        truncated: bool,
    },
    Array(Vec<ArgRef<'a>>),
    Struct(Vec<(Option<&'a [u8]>, ArgRef<'a>)>),
    /// A top-level `key=value` (clone's `child_stack=NULL, flags=...`): which fields strace prints depends
    /// on the flags, so the decoder finds them by key.
    Keyed(&'a [u8], Box<ArgRef<'a>>),
    Other(&'a [u8]),
}

impl ArgRef<'_> {
    /// The owned form.
    pub fn to_arg(&self) -> Arg {
        match self {
            ArgRef::Int(n) => Arg::Int(n.get()),
            ArgRef::Flags(t) => Arg::Flags(flag_atoms(t).map(|a| a.to_atom()).collect()),
            ArgRef::Fd { fd, path } => Arg::Fd {
                fd: Box::new(match flag_atoms(fd).next() {
                    Some(AtomRef::Num(n)) => Arg::Int(n),
                    Some(AtomRef::Name(n)) => Arg::Flags(vec![FlagAtom::Name(lossy(n))]),
                    None => Arg::Other(lossy(fd)),
                }),
                path: unescape_lenient(path),
            },
            ArgRef::Str { raw, truncated } => Arg::Str {
                bytes: unescape(raw),
                truncated: *truncated,
            },
            ArgRef::Array(v) => Arg::Array(v.iter().map(ArgRef::to_arg).collect()),
            ArgRef::Struct(v) => Arg::Struct(v.iter().map(|(k, v)| (k.map(lossy), v.to_arg())).collect()),
            ArgRef::Keyed(k, v) => Arg::Keyed(lossy(k), Box::new(v.to_arg())),
            ArgRef::Other(t) => Arg::Other(lossy(t)),
        }
    }
}

/// An `i128` stored with 8-byte alignment, so that [`ArgRef`] stays 40 bytes (an `i128` field would make it
/// 48): the scan's memory traffic is a large part of its cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wide {
    lo: u64,
    hi: i64,
}

impl Wide {
    pub fn new(v: i128) -> Wide {
        Wide {
            lo: v as u64,
            hi: (v >> 64) as i64,
        }
    }
    pub fn get(self) -> i128 {
        ((self.hi as i128) << 64) | self.lo as i128
    }
}

/// One atom of a flags expression, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomRef<'a> {
    Name(&'a [u8]),
    Num(i128),
}

impl AtomRef<'_> {
    pub fn to_atom(self) -> FlagAtom {
        match self {
            AtomRef::Name(n) => FlagAtom::Name(lossy(n)),
            AtomRef::Num(n) => FlagAtom::Num(n),
        }
    }
}

/// The atoms of a validated flags text (`NULL` is the number 0).
pub fn flag_atoms(text: &[u8]) -> impl Iterator<Item = AtomRef<'_>> + '_ {
    text.split(|&b| b == b'|').filter_map(|part| {
        let t = trim_end(part);
        let t = &t[t.iter().take_while(|&&b| b == b' ' || b == b'\t').count()..];
        let mut c = Cur::new(t);
        match atom(&mut c) {
            Some(a) if c.i == t.len() => Some(a),
            _ => None,
        }
    })
}

/// A system call line, borrowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRef<'a> {
    pub name: &'a [u8],
    /// Each argument with the position where it starts.
    pub args: Vec<(Pos, ArgRef<'a>)>,
    pub expect: ExpectRef<'a>,
}

impl CallRef<'_> {
    /// The name as text (system call names are ASCII identifiers).
    pub fn name(&self) -> &str {
        std::str::from_utf8(self.name).unwrap_or("?")
    }

    pub fn to_syscall_line(&self) -> SyscallLine {
        SyscallLine {
            name: lossy(self.name),
            args: self.args.iter().map(|(_, a)| a.to_arg()).collect(),
            expect: self.expect.to_expect(),
            arg_pos: self.args.iter().map(|(p, _)| *p).collect(),
        }
    }
}

/// A stated result, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectRef<'a> {
    Value(i128),
    Error(&'a [u8]),
    Unchecked,
}

impl ExpectRef<'_> {
    pub fn to_expect(self) -> Expect {
        match self {
            ExpectRef::Value(v) => Expect::Value(v),
            ExpectRef::Error(e) => Expect::Error(lossy(e)),
            ExpectRef::Unchecked => Expect::Unchecked,
        }
    }
}

/// A scanned line: system calls borrow the line's text; everything else (and calls joined from
/// `<unfinished ...>` halves, whose text the parser owns) is already owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scanned<'a> {
    Call {
        line: usize,
        pid: Option<u32>,
        call: CallRef<'a>,
    },
    Line(Line),
}

impl Scanned<'_> {
    pub fn into_line(self) -> Line {
        match self {
            Scanned::Call { line, pid, call } => Line {
                line,
                pid,
                kind: LineKind::Syscall(call.to_syscall_line()),
            },
            Scanned::Line(l) => l,
        }
    }
}

/// What `call_line` found.
enum CallOut<'a> {
    Call(CallRef<'a>),
    Kind(LineKind),
}

impl CallOut<'_> {
    fn owned(self) -> LineKind {
        match self {
            CallOut::Call(c) => LineKind::Syscall(c.to_syscall_line()),
            CallOut::Kind(k) => k,
        }
    }
}

/// An `<unfinished ...>` call waiting for its `<... NAME resumed>` line.
#[derive(Clone, Debug)]
struct Pending {
    name: String,
    /// The call's text from its name up to (not including) ` <unfinished ...>`.
    text: String,
    line: usize,
    /// Byte offset of `text` in its line.
    base: usize,
    pid: Option<u32>,
}

/// A scenario parser. It is stateful only to join `<unfinished ...>` / `<... resumed>` pairs per PID; feed it
/// lines in order with [`Parser::parse_line`].
#[derive(Clone, Debug)]
pub struct Parser {
    file: String,
    pending: BTreeMap<Option<u32>, Pending>,
    /// The start of a call line cut by an attach notice, to be continued by the next line.
    carry: Option<String>,
}

/// Parse a whole scenario text.
pub fn parse_str(file_name: &str, text: &str) -> Result<Vec<Line>, ParseError> {
    let mut p = Parser::new(file_name);
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if let Some(line) = p.parse_line(i + 1, l)? {
            out.push(line);
        }
    }
    Ok(out)
}

/// Scan a whole scenario text: system call arguments borrow `text` (see [`Scanned`]).
pub fn scan_str<'a>(file_name: &str, text: &'a str) -> Result<Vec<Scanned<'a>>, ParseError> {
    let mut p = Parser::new(file_name);
    // strace lines average 60-120 bytes.
    let mut out = Vec::with_capacity(text.len() / 64);
    for (i, l) in text.lines().enumerate() {
        if let Some(line) = p.scan_line(i + 1, l)? {
            out.push(line);
        }
    }
    Ok(out)
}

impl Parser {
    pub fn new(file_name: &str) -> Parser {
        Parser {
            file: file_name.to_string(),
            pending: BTreeMap::new(),
            carry: None,
        }
    }

    /// The file name used in error messages.
    /// Calls started but not yet resumed (`<unfinished ...>`), by PID prefix: `(pid, name, text, line)`, the
    /// text running from the call's name up to its cut. A `strace -f` log shows a new child's first lines
    /// before the `<... clone resumed>` line that gives its PID; the runner creates the child from its parent's
    /// unfinished clone.
    pub fn unfinished(&self) -> impl Iterator<Item = (Option<u32>, &str, &str, usize)> + '_ {
        self.pending
            .values()
            .map(|p| (p.pid, p.name.as_str(), p.text.as_str(), p.line))
    }

    pub fn file_name(&self) -> &str {
        &self.file
    }

    /// Parse one line (`line_no` is 1-based). `Ok(None)` for lines that carry nothing to do: blank lines,
    /// comments, banners, attach notices, the first half of an unfinished call.
    pub fn parse_line(&mut self, line_no: usize, text: &str) -> Result<Option<Line>, ParseError> {
        Ok(self.scan_line(line_no, text)?.map(Scanned::into_line))
    }

    /// Like [`Parser::parse_line`], but a system call's arguments borrow `text` instead of being copied.
    pub fn scan_line<'a>(&mut self, line_no: usize, text: &'a str) -> Result<Option<Scanned<'a>>, ParseError> {
        self.scan_line_reusing(line_no, text, Vec::with_capacity(4))
    }

    /// Like [`Parser::scan_line`], with `spare` (emptied) as a system call's argument list, so a caller that
    /// hands each line's list back for the next saves an allocation per line.
    pub fn scan_line_reusing<'a>(
        &mut self,
        line_no: usize,
        text: &'a str,
        mut spare: Vec<(Pos, ArgRef<'a>)>,
    ) -> Result<Option<Scanned<'a>>, ParseError> {
        spare.clear();
        if let Some(head) = self.carry.take() {
            let joined = head + text;
            return Ok(self
                .scan_inner(line_no, &joined, Vec::with_capacity(4))?
                .map(Scanned::into_line)
                .map(Scanned::Line));
        }
        self.scan_inner(line_no, text, spare)
    }

    fn scan_inner<'a>(
        &mut self,
        line_no: usize,
        text: &'a str,
        args: Vec<(Pos, ArgRef<'a>)>,
    ) -> Result<Option<Scanned<'a>>, ParseError> {
        match self.line_inner(line_no, text, args) {
            Ok(l) => Ok(l),
            Err((pos, msg)) => {
                // strace -f writing to stderr prints its attach notices there too, possibly in the middle of
                // a call line; the call then continues on the next line. Only a line that fails to parse is
                // checked for this, so well-formed lines pay nothing.
                if let Some(head) = split_notice(text) {
                    self.carry = Some(head.to_string());
                    return Ok(None);
                }
                Err(ParseError {
                    file: self.file.clone(),
                    line: pos.line,
                    col: pos.col,
                    msg,
                })
            }
        }
    }

    fn line_inner<'a>(
        &mut self,
        line_no: usize,
        text: &'a str,
        args: Vec<(Pos, ArgRef<'a>)>,
    ) -> Result<Option<Scanned<'a>>, (Pos, String)> {
        let s = trim_end(text.as_bytes());
        let here = PosMap::single(line_no, 0);
        let at = |r: Fail| (here.pos(r.0), r.1);
        let first = s.iter().position(|&b| b != b' ' && b != b'\t');
        let Some(first) = first else { return Ok(None) };
        if s[first] == b'#' || s.starts_with(b"==") || s.starts_with(b"strace: ") || s.starts_with(b"SB ") {
            return Ok(None);
        }
        if let Some(kind) = lackey(s, first).map_err(at)? {
            return Ok(Some(Scanned::Line(Line {
                line: line_no,
                pid: None,
                kind,
            })));
        }
        let mut c = Cur::new(s);
        let pid = prefix(&mut c).map_err(at)?;
        let body_start = c.i;
        let body = &s[body_start..];
        if body.is_empty() {
            return Err(at((c.i, "expected something after the prefix".into())));
        }
        if body.starts_with(b"---") {
            return signal_line(&mut c).map_err(at).map(|k| {
                k.map(|kind| {
                    Scanned::Line(Line {
                        line: line_no,
                        pid,
                        kind,
                    })
                })
            });
        }
        if body.starts_with(b"+++") {
            // `P +++ superseded by execve in pid Q +++`: thread Q's execve finishes as P, the leader. When strace
            // printed that execve as `<unfinished ...>` (not `<pid changed to P ...>`: the leader was itself
            // inside a call), its `<... execve resumed>` comes under P: move the pending half there.
            if let Some(q) = superseded_by(body) {
                if let Some(mut p) = self.pending.remove(&Some(q)) {
                    p.pid = pid;
                    self.pending.insert(pid, p);
                }
            }
            let kind = end_line(&mut c).map_err(at)?;
            // A task's end drops its unfinished call; a notice (`+++ superseded by execve in pid N +++`) does
            // not: the exec'ing thread's call is resumed under this PID.
            if kind.is_some() {
                self.pending.remove(&pid);
            }
            return Ok(kind).map(|k| {
                k.map(|kind| {
                    Scanned::Line(Line {
                        line: line_no,
                        pid,
                        kind,
                    })
                })
            });
        }
        // `???(` is a call strace could not name (a task killed as it entered its first call): nothing to run.
        if body.starts_with(b"???(") || body.starts_with(b"<... ??? resumed>") {
            self.pending.remove(&pid);
            return Ok(None);
        }
        if body.starts_with(b"<...") {
            return Ok(self.resumed(line_no, s, body_start, pid)?.map(Scanned::Line));
        }
        if body.starts_with(b"cat ") {
            let kind = cat_line(&mut c).map_err(at)?;
            return Ok(Some(Scanned::Line(Line {
                line: line_no,
                pid,
                kind,
            })));
        }
        // An execve by a thread of a multi-threaded process: the thread takes over its leader's PID
        // (`de_thread`), and strace finishes the call under that PID: `2821 execve(... <pid changed to 2820
        // ...>`, then `2820 <... execve resumed>) = 0`. The call is joined under the new PID.
        let (body, new_pid) = match pid_changed(body) {
            Some((head, n)) => (head, Some(n)),
            None => (body, None),
        };
        if let Some(head) = body.strip_suffix(b"<unfinished ...>").or(new_pid.map(|_| body)) {
            let pid = new_pid.or(pid);
            let name_end = body.iter().position(|&b| !is_ident(b)).unwrap_or(body.len());
            if name_end == 0 || body.get(name_end) != Some(&b'(') {
                return Err(at((
                    body_start,
                    "expected a system call before `<unfinished ...>`".into(),
                )));
            }
            self.pending.insert(
                pid,
                Pending {
                    name: String::from_utf8_lossy(&body[..name_end]).into_owned(),
                    text: String::from_utf8_lossy(head).into_owned(),
                    line: line_no,
                    base: body_start,
                    pid,
                },
            );
            return Ok(None);
        }
        if body.ends_with(b"<detached ...>") {
            // strace let go of the process mid-call: the call's outcome is unknown.
            return Ok(None);
        }
        Ok(Some(match call_line(&mut c, &here, args).map_err(at)? {
            CallOut::Call(call) => Scanned::Call {
                line: line_no,
                pid,
                call,
            },
            CallOut::Kind(kind) => Scanned::Line(Line {
                line: line_no,
                pid,
                kind,
            }),
        }))
    }

    /// `<... NAME resumed>REST`: join with the pending half of the same PID's call and parse the whole.
    fn resumed(
        &mut self,
        line_no: usize,
        s: &[u8],
        body_start: usize,
        pid: Option<u32>,
    ) -> Result<Option<Line>, (Pos, String)> {
        let here = PosMap::single(line_no, 0);
        let at = |r: Fail| (here.pos(r.0), r.1);
        let mut c = Cur { s, i: body_start + 4 };
        c.skip_spaces();
        let name_start = c.i;
        let name = c.ident();
        if name.is_empty() {
            return Err(at((c.i, "expected a system call name after `<...`".into())));
        }
        let name = String::from_utf8_lossy(name).into_owned();
        c.skip_spaces();
        if !c.eat(b"resumed>") {
            return Err(at((c.i, "expected `resumed>`".into())));
        }
        // `<... NAME resumed> <unfinished ...>) = ?`: the call never returned (another thread's execve or a
        // fatal signal ended the tracee first). Its arguments are those printed when it started.
        c.skip_spaces();
        if s[c.i..].starts_with(b"<unfinished ...>") {
            c.i += b"<unfinished ...>".len();
        }
        let rest_start = c.i;
        // Without a PID prefix, strace -f (to stderr) means "the only tracee left", which may have been
        // prefixed when the call started: fall back to any pending call of that name.
        let key = if self.pending.contains_key(&pid) {
            Some(pid)
        } else if pid.is_none() {
            self.pending.iter().find(|(_, p)| p.name == name).map(|(k, _)| *k)
        } else {
            None
        };
        let Some(pending) = key.and_then(|k| self.pending.remove(&k)) else {
            // The call started before the log did (an excerpt, or strace attached mid-call): its arguments
            // are unknown, so there is nothing to run. Check the syntax of what there is and move on.
            let mut text = Vec::with_capacity(name.len() + 1 + s.len() - rest_start);
            text.extend_from_slice(name.as_bytes());
            text.push(b'(');
            text.extend_from_slice(&s[rest_start..]);
            let map = PosMap {
                split: name.len() + 1,
                first: (line_no, name_start),
                second: (line_no, rest_start),
            };
            let mut jc = Cur::new(&text);
            call_line(&mut jc, &map, Vec::with_capacity(4)).map_err(|(off, m)| (map.pos(off), m))?;
            return Ok(None);
        };
        if pending.name != name {
            return Err(at((
                name_start,
                format!(
                    "`<... {name} resumed>` but the unfinished call (line {}) is `{}`",
                    pending.line, pending.name
                ),
            )));
        }
        let mut joined = Vec::with_capacity(pending.text.len() + s.len() - rest_start);
        joined.extend_from_slice(pending.text.as_bytes());
        joined.extend_from_slice(&s[rest_start..]);
        let map = PosMap {
            split: pending.text.len(),
            first: (pending.line, pending.base),
            second: (line_no, rest_start),
        };
        let mut jc = Cur::new(&joined);
        let kind = call_line(&mut jc, &map, Vec::with_capacity(4))
            .map_err(|(off, m)| (map.pos(off), m))?
            .owned();
        Ok(Some(Line {
            line: line_no,
            pid: pid.or(pending.pid),
            kind,
        }))
    }
}

/// `+++ superseded by execve in pid N +++`: N.
fn superseded_by(body: &[u8]) -> Option<u32> {
    let rest = body.strip_prefix(b"+++ superseded by execve in pid ")?;
    let n = rest.strip_suffix(b" +++")?;
    std::str::from_utf8(n).ok()?.parse().ok()
}

/// `HEAD <pid changed to N ...>`: the head and N.
fn pid_changed(body: &[u8]) -> Option<(&[u8], u32)> {
    let rest = body.strip_suffix(b" ...>")?;
    let at = rest.windows(16).rposition(|w| w == b"<pid changed to ")?;
    let n = std::str::from_utf8(&rest[at + 16..]).ok()?.parse().ok()?;
    Some((&body[..at], n))
}

/// If `text` ends with strace's `strace: Process N attached` (or `detached`) notice after other text, the text
/// before it.
fn split_notice(text: &str) -> Option<&str> {
    let t = text.trim_end();
    let at = t.rfind("strace: Process ")?;
    let tail = t[at + "strace: Process ".len()..].trim_start();
    let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
    let word = tail[digits..].trim();
    if at == 0 || digits == 0 || !(word == "attached" || word == "detached") {
        return None;
    }
    Some(&t[..at])
}

/// Parse one line on its own (no `<unfinished ...>` joining across lines).
pub fn parse_line(file_name: &str, line_no: usize, text: &str) -> Result<Option<Line>, ParseError> {
    Parser::new(file_name).parse_line(line_no, text)
}

fn trim_end(s: &[u8]) -> &[u8] {
    let mut n = s.len();
    while n > 0 && matches!(s[n - 1], b' ' | b'\t' | b'\r' | b'\n') {
        n -= 1;
    }
    &s[..n]
}

#[inline]
fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

#[inline]
fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A Lackey line (`lackey/lk_main.c` prints `"I  %08lx,%lu"`, `" L %08lx,%lu"`, ...). Leading spaces are
/// optional here so that hand-written and trimmed traces work too.
fn lackey(s: &[u8], first: usize) -> PResult<Option<LineKind>> {
    let op = match s[first] {
        b'I' => AccessOp::Instr,
        b'L' => AccessOp::Load,
        b'S' => AccessOp::Store,
        b'M' => AccessOp::Modify,
        _ => return Ok(None),
    };
    if !matches!(s.get(first + 1), Some(b' ' | b'\t')) {
        return Ok(None);
    }
    let mut c = Cur { s, i: first + 1 };
    c.skip_spaces();
    let a = c.i;
    let mut addr: u64 = 0;
    while let Some(d) = c.peek().and_then(hex_val) {
        addr = match addr.checked_mul(16).and_then(|x| x.checked_add(d as u64)) {
            Some(v) => v,
            None => return fail(a, "address does not fit in 64 bits"),
        };
        c.i += 1;
    }
    if c.i == a {
        return fail(
            c.i,
            "expected a hexadecimal address in an access line (`I  04013b70,3`)",
        );
    }
    if !c.eat(b",") {
        return fail(c.i, "expected `,` and a size after the address");
    }
    let z = c.i;
    let mut size: u64 = 0;
    while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
        size = match size.checked_mul(10).and_then(|x| x.checked_add((d - b'0') as u64)) {
            Some(v) => v,
            None => return fail(z, "size does not fit in 64 bits"),
        };
        c.i += 1;
    }
    if c.i == z {
        return fail(c.i, "expected a decimal size after `,`");
    }
    c.skip_spaces();
    if c.i != s.len() {
        return fail(c.i, "unexpected text after an access line");
    }
    Ok(Some(LineKind::Access { op, addr, size }))
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `[pid  1234] ` or `1234 `, then any `-t`/`-tt`/`-ttt`/`-r` timestamps.
fn prefix(c: &mut Cur) -> PResult<Option<u32>> {
    // Most lines start with the call's name: no PID, no timestamp, no spaces to skip.
    if matches!(c.peek(), Some(b) if is_ident_start(b)) {
        return Ok(None);
    }
    let mut pid = None;
    if c.rest().starts_with(b"[pid") {
        let open = c.i;
        c.i += 4;
        c.skip_spaces();
        let n = c.i;
        let v = c.decimal_u32().ok_or((n, "expected a PID after `[pid`".to_string()))?;
        if !c.eat(b"]") {
            return fail(open, "expected `]` to close `[pid N`");
        }
        pid = Some(v);
    } else {
        let save = c.i;
        if let Some(v) = c.decimal_u32() {
            if matches!(c.peek(), Some(b' ' | b'\t')) {
                pid = Some(v);
            } else {
                c.i = save;
            }
        }
    }
    // Timestamps: digit runs containing `:` or `.`, followed by white space.
    loop {
        let save = c.i;
        c.skip_spaces();
        let t = c.i;
        let mut punct = false;
        while let Some(b) = c.peek() {
            if b.is_ascii_digit() {
            } else if b == b':' || b == b'.' {
                punct = true;
            } else {
                break;
            }
            c.i += 1;
        }
        if c.i > t && punct && matches!(c.peek(), Some(b' ' | b'\t')) {
            continue;
        }
        c.i = save;
        break;
    }
    c.skip_spaces();
    Ok(pid)
}

/// `--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x1000ff000} ---`.
fn signal_line(c: &mut Cur) -> PResult<Option<LineKind>> {
    let start = c.i;
    c.i += 3;
    c.skip_spaces();
    if !c.rest().starts_with(b"SIG") {
        // `--- stopped by SIGSTOP ---` and the like: job-control notices, nothing to check.
        if c.s.ends_with(b"---") && c.s.len() >= start + 6 {
            return Ok(None);
        }
        return fail(c.i, "expected a signal name after `---`");
    }
    let name_at = c.i;
    let name = c.ident();
    let signo = signal_number(name).ok_or_else(|| (name_at, format!("unknown signal `{}`", lossy(name))))?;
    c.skip_ws()?;
    let mut code = None;
    let mut addr = None;
    let mut pid = None;
    if c.peek() == Some(b'{') {
        if let Some(ArgRef::Struct(fields)) = primary(c, 0)? {
            for (k, v) in &fields {
                match k {
                    Some(b"si_code") => code = si_code(signo, v).map_err(|m| (name_at, m))?,
                    Some(b"si_addr") => match v {
                        ArgRef::Int(n) => addr = Some(n.get() as u64),
                        _ => return fail(name_at, "`si_addr` must be an address"),
                    },
                    Some(b"si_pid") => {
                        pid = if let ArgRef::Int(n) = v {
                            u32::try_from(n.get()).ok()
                        } else {
                            None
                        }
                    }
                    _ => {}
                }
            }
        }
        c.skip_ws()?;
    }
    if !c.eat(b"---") {
        return fail(c.i, "expected `---` to end the signal line");
    }
    c.skip_spaces();
    if c.i != c.s.len() {
        return fail(c.i, "unexpected text after `---`");
    }
    Ok(Some(LineKind::Signal { signo, code, addr, pid }))
}

/// `si_code` names strace prints (`include/uapi/asm-generic/siginfo.h`). Unknown names are an error for the
/// fault signals memsim checks, and ignored for others.
fn si_code(signo: u32, v: &ArgRef) -> Result<Option<u32>, String> {
    const GENERIC: uapi::NameTable = &[
        ("SI_USER", 0),
        ("SI_KERNEL", 0x80),
        ("SI_QUEUE", -1i32 as u32 as u64),
        ("SI_TIMER", -2i32 as u32 as u64),
        ("SI_MESGQ", -3i32 as u32 as u64),
        ("SI_ASYNCIO", -4i32 as u32 as u64),
        ("SI_SIGIO", -5i32 as u32 as u64),
        ("SI_TKILL", -6i32 as u32 as u64),
    ];
    const CLD: uapi::NameTable = &[
        ("CLD_EXITED", 1),
        ("CLD_KILLED", 2),
        ("CLD_DUMPED", 3),
        ("CLD_TRAPPED", 4),
        ("CLD_STOPPED", 5),
        ("CLD_CONTINUED", 6),
    ];
    let table: uapi::NameTable = match signo {
        uapi::SIGSEGV => uapi::SEGV_CODE_NAMES,
        uapi::SIGBUS => uapi::BUS_CODE_NAMES,
        uapi::SIGCHLD => CLD,
        _ => &[],
    };
    let checked = matches!(signo, uapi::SIGSEGV | uapi::SIGBUS);
    let mut atoms = match v {
        ArgRef::Int(n) => return Ok(Some(n.get() as u32)),
        ArgRef::Flags(t) => flag_atoms(t),
        _ if checked => return Err("`si_code` must be a name or a number".into()),
        _ => return Ok(None),
    };
    match (atoms.next(), atoms.next()) {
        (Some(AtomRef::Num(n)), None) => Ok(Some(n as u32)),
        (Some(AtomRef::Name(name)), None) => {
            let name = std::str::from_utf8(name).unwrap_or("");
            match uapi::lookup(table, name).or_else(|| uapi::lookup(GENERIC, name)) {
                Some(v) => Ok(Some(v as u32)),
                None if checked => Err(format!("unknown si_code `{name}`")),
                None => Ok(None),
            }
        }
        _ if checked => Err("`si_code` must be a name or a number".into()),
        _ => Ok(None),
    }
}

/// Signal numbers by strace's names, including `SIGRTMIN` and `SIGRT_N` (x86-64 numbering).
pub fn signal_number(name: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(name).ok()?;
    if let Some(v) = uapi::lookup(uapi::SIGNAL_NAMES, s) {
        return Some(v as u32);
    }
    match s {
        "SIGIOT" => Some(6),
        "SIGPOLL" => Some(29),
        "SIGRTMIN" => Some(32),
        "SIGRTMAX" => Some(64),
        _ => {
            let n: u32 = s.strip_prefix("SIGRT_")?.parse().ok()?;
            (n <= 32).then_some(32 + n)
        }
    }
}

/// `+++ exited with N +++`, `+++ killed by SIGSEGV (core dumped) +++`; other `+++` notices are ignored.
fn end_line(c: &mut Cur) -> PResult<Option<LineKind>> {
    c.i += 3;
    c.skip_spaces();
    let kind = if c.eat(b"exited with ") {
        c.skip_spaces();
        let n = c.i;
        let neg = c.eat(b"-");
        let v = c.decimal_u32().ok_or((n, "expected an exit status".to_string()))?;
        let code = if neg { -(v as i64) } else { v as i64 };
        let code = i32::try_from(code).map_err(|_| (n, "exit status out of range".to_string()))?;
        LineKind::Exited { code }
    } else if c.eat(b"killed by ") {
        c.skip_spaces();
        let n = c.i;
        let name = c.ident();
        let signo = signal_number(name).ok_or_else(|| (n, format!("unknown signal `{}`", lossy(name))))?;
        c.skip_spaces();
        let core_dumped = c.eat(b"(core dumped)");
        LineKind::Killed { signo, core_dumped }
    } else if c.s.ends_with(b"+++") && c.s.len() >= c.i + 3 {
        // `+++ superseded by execve in pid N +++` and future notices.
        return Ok(None);
    } else {
        return fail(c.i, "expected `exited with N` or `killed by SIGNAL` after `+++`");
    };
    c.skip_spaces();
    if !c.eat(b"+++") {
        return fail(c.i, "expected `+++` at the end of the line");
    }
    c.skip_spaces();
    if c.i != c.s.len() {
        return fail(c.i, "unexpected text after `+++`");
    }
    Ok(Some(kind))
}

/// `cat /proc/PID/FILE` or `cat /proc/self/FILE`.
fn cat_line(c: &mut Cur) -> PResult<LineKind> {
    c.i += 4;
    c.skip_spaces();
    if !c.eat(b"/proc/") {
        return fail(c.i, "expected `/proc/PID/FILE` after `cat`");
    }
    let p = c.i;
    let pid = if c.eat(b"self") {
        if !c.eat(b"/") {
            return fail(c.i, "expected `/FILE` after the PID");
        }
        ProcPid::SelfPid
    } else if matches!(c.peek(), Some(b) if b.is_ascii_digit()) {
        let pid = ProcPid::Pid(
            c.decimal_u32()
                .ok_or((p, "expected a PID or `self` after `/proc/`".to_string()))?,
        );
        if !c.eat(b"/") {
            return fail(c.i, "expected `/FILE` after the PID");
        }
        pid
    } else if matches!(c.peek(), Some(b) if b.is_ascii_alphabetic()) && !c.s[c.i..].contains(&b'/') {
        // A machine-wide file such as /proc/meminfo.
        ProcPid::System
    } else {
        return fail(p, "expected a PID or `self` after `/proc/`");
    };
    let f = c.i;
    while matches!(c.peek(), Some(b) if !b.is_ascii_whitespace()) {
        c.i += 1;
    }
    if c.i == f {
        return fail(f, "expected a file name after `/proc/PID/`");
    }
    let file = lossy(&c.s[f..c.i]);
    c.skip_spaces();
    if c.i != c.s.len() {
        return fail(c.i, "unexpected text after the file name");
    }
    Ok(LineKind::Cat { pid, file })
}

/// A system call line, or `poke`/`peek`.
/// `args` is an empty list to fill.
fn call_line<'a>(c: &mut Cur<'a>, map: &PosMap, mut args: Vec<(Pos, ArgRef<'a>)>) -> PResult<CallOut<'a>> {
    let name_at = c.i;
    let name = c.ident();
    if name.is_empty() {
        return fail(
            c.i,
            "expected a system call (`name(args) = result`), an access (`I`, `L`, `S`, `M`), \
             `poke`, `peek`, `cat /proc/...`, or a `---`/`+++` line",
        );
    }
    if c.peek() != Some(b'(') {
        return fail(c.i, format!("expected `(` after `{}`", lossy(name)));
    }
    let open = c.i;
    c.i += 1;
    c.skip_ws()?;
    if c.peek() == Some(b')') {
        c.i += 1;
    } else {
        loop {
            c.skip_ws()?;
            let at = c.i;
            let v = match simple_value(c) {
                Some(v) => v,
                None => match key(c) {
                    // Top-level `key=value` (clone's `child_stack=NULL, flags=...`).
                    Some(k) => ArgRef::Keyed(k, Box::new(value(c, 1)?)),
                    None => value(c, 1)?,
                },
            };
            args.push((map.pos(at), v));
            c.skip_ws()?;
            match c.peek() {
                Some(b',') => c.i += 1,
                Some(b')') => {
                    c.i += 1;
                    break;
                }
                None => return fail(open, "missing `)` to close the argument list"),
                Some(_) => return fail(c.i, "expected `,` or `)`"),
            }
        }
    }
    match name {
        b"poke" => return poke(c, name_at, &args, map).map(CallOut::Kind),
        b"peek" => return peek(c, name_at, &args, map).map(CallOut::Kind),
        _ => {}
    }
    let expect = result(c)?;
    Ok(CallOut::Call(CallRef { name, args, expect }))
}

/// The common argument forms, a number, a name or a `|`-joined set of them written without spaces and ended
/// by `,` or `)` (`0x7f0000000000`, `-1`, `PROT_READ|PROT_WRITE`), in one scan: exactly what `key` and `value`
/// give for them, without their general machinery. `None`, with the cursor back where it was, for anything
/// else.
#[inline]
fn simple_value<'a>(c: &mut Cur<'a>) -> Option<ArgRef<'a>> {
    let start = c.i;
    let first = atom(c);
    let v = match (first, c.peek()) {
        (Some(AtomRef::Num(n)), Some(b',' | b')')) => Some(ArgRef::Int(Wide::new(n))),
        (Some(AtomRef::Name(_)), Some(b',' | b')')) => Some(ArgRef::Flags(&c.s[start..c.i])),
        (Some(_), Some(b'|')) => loop {
            c.i += 1;
            if atom(c).is_none() {
                break None;
            }
            match c.peek() {
                Some(b'|') => {}
                Some(b',' | b')') => break Some(ArgRef::Flags(&c.s[start..c.i])),
                _ => break None,
            }
        },
        _ => None,
    };
    if v.is_none() {
        c.i = start;
    }
    v
}

/// `poke(ADDR, "bytes") = N`.
fn poke(c: &mut Cur, name_at: usize, args: &[(Pos, ArgRef)], map: &PosMap) -> PResult<LineKind> {
    if args.len() != 2 {
        return fail(name_at, "`poke` takes two arguments: `poke(ADDR, \"bytes\")`");
    }
    let pos = [map.offset(args[0].0), map.offset(args[1].0)];
    let addr = match &args[0].1 {
        ArgRef::Int(n) => u64::try_from(n.get()).map_err(|_| (pos[0], "address out of range".to_string()))?,
        _ => return fail(pos[0], "expected an address"),
    };
    let bytes = match &args[1].1 {
        ArgRef::Str { raw, truncated: false } => unescape(raw),
        _ => return fail(pos[1], "expected a complete string (`\"...\"`)"),
    };
    let expect = match result(c)? {
        ExpectRef::Unchecked => None,
        ExpectRef::Value(n) => Some(u64::try_from(n).map_err(|_| (c.i, "byte count out of range".to_string()))?),
        ExpectRef::Error(_) => return fail(name_at, "`poke` returns a byte count, not an error"),
    };
    Ok(LineKind::Poke { addr, bytes, expect })
}

/// `peek(ADDR, LEN) = "bytes"`.
fn peek(c: &mut Cur, name_at: usize, args: &[(Pos, ArgRef)], map: &PosMap) -> PResult<LineKind> {
    if args.len() != 2 {
        return fail(name_at, "`peek` takes two arguments: `peek(ADDR, LEN)`");
    }
    let pos = [map.offset(args[0].0), map.offset(args[1].0)];
    let num = |i: usize, what: &str| match &args[i].1 {
        ArgRef::Int(n) => u64::try_from(n.get()).map_err(|_| (pos[i], format!("{what} out of range"))),
        _ => Err((pos[i], format!("expected {what}"))),
    };
    let addr = num(0, "an address")?;
    let len = num(1, "a length")?;
    c.skip_ws()?;
    let expect = if c.eat(b"=") {
        c.skip_spaces();
        if c.eat(b"?") {
            None
        } else if c.peek() == Some(b'"') {
            let at = c.i;
            let raw = c.string()?;
            if c.rest().starts_with(b"...") {
                return fail(at, "the expected bytes of `peek` must be complete, not truncated");
            }
            Some(unescape(raw))
        } else {
            return fail(c.i, "expected a string (`\"...\"`) or `?` after `=`");
        }
    } else {
        None
    };
    c.skip_ws()?;
    if c.i != c.s.len() {
        return fail(c.i, "unexpected text after `peek(...)`");
    }
    Ok(LineKind::Peek { addr, len, expect })
}

/// The result after `)`: nothing, `= ?`, `= N`, `= N<decoration>`, or `= -1 ERRNO (message)`. Whatever
/// follows the result after white space (`-T` durations, strace's parenthesized notes) is ignored.
fn result<'a>(c: &mut Cur<'a>) -> PResult<ExpectRef<'a>> {
    c.skip_ws()?;
    if c.i == c.s.len() {
        return Ok(ExpectRef::Unchecked);
    }
    if !c.eat(b"=") {
        return fail(c.i, "expected ` = RESULT` or the end of the line after `)`");
    }
    c.skip_spaces();
    match c.peek() {
        Some(b'?') => Ok(ExpectRef::Unchecked),
        Some(b'-' | b'0'..=b'9') => {
            let at = c.i;
            let n = c.number().ok_or((at, "expected a number as the result".to_string()))?;
            if n < 0 {
                let save = c.i;
                c.skip_spaces();
                if c.peek() == Some(b'E') {
                    let e = c.ident();
                    return Ok(ExpectRef::Error(e));
                }
                c.i = save;
            }
            if c.peek() == Some(b'<') {
                c.decoration()?;
            }
            match c.peek() {
                None | Some(b' ' | b'\t') => Ok(ExpectRef::Value(n)),
                Some(_) => fail(c.i, "unexpected text after the result"),
            }
        }
        None => fail(c.i, "expected a result after `=`"),
        Some(_) => fail(c.i, "expected a number, `-1 ERRNO` or `?` after `=`"),
    }
}

/// If the cursor is at `ident=` (not `==`), consume it and return the key.
#[inline]
fn key<'a>(c: &mut Cur<'a>) -> Option<&'a [u8]> {
    let save = c.i;
    let k = c.ident();
    if !k.is_empty() && c.peek() == Some(b'=') && c.s.get(c.i + 1) != Some(&b'=') {
        c.i += 1;
        return Some(k);
    }
    c.i = save;
    None
}

/// One value; stops before `,` or a closing bracket.
fn value<'a>(c: &mut Cur<'a>, depth: usize) -> PResult<ArgRef<'a>> {
    if depth > MAX_DEPTH {
        return fail(c.i, "brackets nest too deeply");
    }
    let start = c.i;
    if let Some(a) = primary(c, depth)? {
        c.skip_ws()?;
        if c.rest().starts_with(b"=>") {
            // `{flags=..., ...} => {parent_tid=[1236]}` (clone3): the fields the call wrote on exit. The
            // value on entry is the argument; the written ones repeat what the result says.
            let save = c.i;
            c.i += 2;
            c.skip_ws()?;
            if primary(c, depth + 1)?.is_some() {
                c.skip_ws()?;
                if matches!(c.peek(), None | Some(b',' | b')' | b']' | b'}')) {
                    return Ok(a);
                }
            }
            c.i = save;
        }
        if matches!(c.peek(), None | Some(b',' | b')' | b']' | b'}')) {
            return Ok(a);
        }
    }
    c.i = start;
    fallback(c)
}

/// The forms strace prints that memsim understands. `None` when the text is something else.
#[inline]
fn primary<'a>(c: &mut Cur<'a>, depth: usize) -> PResult<Option<ArgRef<'a>>> {
    match c.peek() {
        Some(b'"') => {
            let raw = c.string()?;
            let truncated = c.eat(b"...");
            Ok(Some(ArgRef::Str { raw, truncated }))
        }
        Some(b'[') => {
            let open = c.i;
            c.i += 1;
            let mut items = Vec::new();
            loop {
                c.skip_ws()?;
                match c.peek() {
                    Some(b']') => {
                        c.i += 1;
                        break;
                    }
                    None => return fail(open, "unterminated `[`"),
                    _ => {}
                }
                items.push(value(c, depth + 1)?);
                c.skip_ws()?;
                match c.peek() {
                    Some(b',') => c.i += 1,
                    Some(b']') => {}
                    None => return fail(open, "unterminated `[`"),
                    Some(_) => return fail(c.i, "expected `,` or `]`"),
                }
            }
            Ok(Some(ArgRef::Array(items)))
        }
        Some(b'{') => {
            let open = c.i;
            c.i += 1;
            let mut fields = Vec::new();
            loop {
                c.skip_ws()?;
                match c.peek() {
                    Some(b'}') => {
                        c.i += 1;
                        break;
                    }
                    None => return fail(open, "unterminated `{`"),
                    _ => {}
                }
                let k = key(c);
                fields.push((k, value(c, depth + 1)?));
                c.skip_ws()?;
                match c.peek() {
                    Some(b',') => c.i += 1,
                    Some(b'}') => {}
                    None => return fail(open, "unterminated `{`"),
                    Some(_) => return fail(c.i, "expected `,` or `}`"),
                }
            }
            Ok(Some(ArgRef::Struct(fields)))
        }
        Some(b'.') if c.rest().starts_with(b"...") => {
            c.i += 3;
            Ok(Some(ArgRef::Other(b"...")))
        }
        Some(b) if b == b'-' || b.is_ascii_digit() || is_ident_start(b) => flags(c),
        _ => Ok(None),
    }
}

/// A number or name, possibly `|`-joined with more, or a descriptor with a `-y` decoration.
#[inline]
fn flags<'a>(c: &mut Cur<'a>) -> PResult<Option<ArgRef<'a>>> {
    let start = c.i;
    let Some(first) = atom(c) else { return Ok(None) };
    if c.peek() == Some(b'<') && c.s.get(c.i + 1) != Some(&b'<') {
        let fd = &c.s[start..c.i];
        let path = c.decoration()?;
        return Ok(Some(ArgRef::Fd { fd, path }));
    }
    let mut save = c.i;
    c.skip_spaces();
    if c.peek() != Some(b'|') {
        c.i = save;
        return Ok(Some(match first {
            AtomRef::Num(n) => ArgRef::Int(Wide::new(n)),
            AtomRef::Name(_) => ArgRef::Flags(&c.s[start..save]),
        }));
    }
    while c.peek() == Some(b'|') {
        c.i += 1;
        c.skip_spaces();
        if atom(c).is_none() {
            return Ok(None);
        }
        save = c.i;
        c.skip_spaces();
    }
    c.i = save;
    Ok(Some(ArgRef::Flags(&c.s[start..save])))
}

/// A number or a name; `NULL` is the number 0.
#[inline]
fn atom<'a>(c: &mut Cur<'a>) -> Option<AtomRef<'a>> {
    match c.peek() {
        Some(b) if b == b'-' || b.is_ascii_digit() => c.number().map(AtomRef::Num),
        Some(b) if is_ident_start(b) => {
            let id = c.ident();
            if id == b"NULL" {
                return Some(AtomRef::Num(0));
            }
            Some(AtomRef::Name(id))
        }
        _ => None,
    }
}

/// Anything else with balanced brackets and quotes, up to a `,` or closing bracket at its own level.
fn fallback<'a>(c: &mut Cur<'a>) -> PResult<ArgRef<'a>> {
    let start = c.i;
    let mut stack: Vec<(u8, usize)> = Vec::new();
    loop {
        match c.peek() {
            None => {
                if let Some(&(b, at)) = stack.last() {
                    return fail(at, format!("unbalanced `{}`", b as char));
                }
                break;
            }
            Some(b'"') => {
                c.string()?;
            }
            Some(b'/') if c.s.get(c.i + 1) == Some(&b'*') => c.skip_ws()?,
            Some(b @ (b'(' | b'[' | b'{')) => {
                if stack.len() >= MAX_DEPTH {
                    return fail(c.i, "brackets nest too deeply");
                }
                stack.push((b, c.i));
                c.i += 1;
            }
            Some(b @ (b')' | b']' | b'}')) => match stack.pop() {
                None => break,
                Some((o, at)) => {
                    let want = match o {
                        b'(' => b')',
                        b'[' => b']',
                        _ => b'}',
                    };
                    if b != want {
                        return fail(at, format!("unbalanced `{}`", o as char));
                    }
                    c.i += 1;
                }
            },
            Some(b',') if stack.is_empty() => break,
            Some(_) => c.i += 1,
        }
    }
    let text = trim_end(&c.s[start..c.i]);
    if text.is_empty() {
        return fail(start, "expected a value");
    }
    Ok(ArgRef::Other(text))
}

fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// A cursor over one line's bytes. Every read is bounds-checked.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn new(s: &'a [u8]) -> Self {
        Cur { s, i: 0 }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    #[inline]
    fn rest(&self) -> &'a [u8] {
        self.s.get(self.i..).unwrap_or(&[])
    }

    #[inline]
    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.rest().starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    #[inline]
    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Spaces and `/* comments */`.
    #[inline]
    fn skip_ws(&mut self) -> PResult<()> {
        loop {
            self.skip_spaces();
            if self.peek() != Some(b'/') {
                return Ok(());
            }
            if self.rest().starts_with(b"/*") {
                let open = self.i;
                match find2(&self.s[self.i + 2..], b'*', b'/') {
                    Some(k) => self.i += 2 + k + 2,
                    None => return fail(open, "unterminated `/*` comment"),
                }
            } else {
                return Ok(());
            }
        }
    }

    #[inline]
    fn ident(&mut self) -> &'a [u8] {
        let start = self.i;
        if matches!(self.peek(), Some(b) if is_ident_start(b)) {
            while matches!(self.peek(), Some(b) if is_ident(b)) {
                self.i += 1;
            }
        }
        &self.s[start..self.i]
    }

    fn decimal_u32(&mut self) -> Option<u32> {
        let start = self.i;
        let mut v: u32 = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            v = v.checked_mul(10)?.checked_add((d - b'0') as u32)?;
            self.i += 1;
        }
        (self.i > start).then_some(v)
    }

    /// `-`? then `0x` hex, `0` octal, or decimal. `None` (cursor unspecified) if it is not a whole number:
    /// no digits, a bad digit, overflow, or letters glued to it.
    #[inline]
    fn number(&mut self) -> Option<i128> {
        let neg = self.eat(b"-");
        let start = self.i;
        // u64 covers everything strace prints; i128 takes over only past it.
        let mut v: u64 = 0;
        let mut wide: Option<i128> = None;
        if self.rest().starts_with(b"0x") || self.rest().starts_with(b"0X") {
            self.i += 2;
            let d0 = self.i;
            // The first 16 digits cannot overflow: no checks for them.
            for &b in self.rest().iter().take(16) {
                let Some(d) = hex_val(b) else { break };
                v = v << 4 | d as u64;
                self.i += 1;
            }
            while let Some(d) = self.peek().and_then(hex_val) {
                match wide {
                    None if v >> 60 == 0 => v = v << 4 | d as u64,
                    None => wide = (v as i128).checked_mul(16)?.checked_add(d as i128),
                    Some(w) => wide = w.checked_mul(16)?.checked_add(d as i128),
                }
                self.i += 1;
            }
            if self.i == d0 {
                return None;
            }
        } else {
            let radix: u64 = if self.peek() == Some(b'0') { 8 } else { 10 };
            if radix == 10 {
                // The first 19 decimal digits cannot overflow a u64: no checks for them.
                for &b in self.rest().iter().take(19) {
                    if !b.is_ascii_digit() {
                        break;
                    }
                    v = v * 10 + (b - b'0') as u64;
                    self.i += 1;
                }
            }
            while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
                let d = (d - b'0') as u64;
                if d >= radix {
                    return None;
                }
                match wide {
                    None => match v.checked_mul(radix).and_then(|x| x.checked_add(d)) {
                        Some(x) => v = x,
                        None => wide = (v as i128).checked_mul(radix as i128)?.checked_add(d as i128),
                    },
                    Some(w) => wide = w.checked_mul(radix as i128)?.checked_add(d as i128),
                }
                self.i += 1;
            }
            if self.i == start {
                return None;
            }
        }
        if matches!(self.peek(), Some(b) if is_ident(b)) {
            return None;
        }
        let v = wide.unwrap_or(v as i128);
        Some(if neg { -v } else { v })
    }

    /// A C string literal; the cursor is at the opening quote. Returns the raw text between the quotes,
    /// with every escape checked (decode it with [`unescape`]).
    fn string(&mut self) -> PResult<&'a [u8]> {
        let open = self.i;
        self.i += 1;
        let start = self.i;
        loop {
            let rest = self.rest();
            let k = rest.iter().position(|&b| b == b'"' || b == b'\\').unwrap_or(rest.len());
            self.i += k;
            match self.peek() {
                None => return fail(open, "unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(&self.s[start..self.i - 1]);
                }
                _ => {
                    let esc = self.i;
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return fail(open, "unterminated string");
                    };
                    self.i += 1;
                    match e {
                        b'n' | b't' | b'r' | b'v' | b'f' | b'a' | b'b' | b'e' | b'\\' | b'"' | b'\'' | b'?' => {}
                        b'x' => {
                            if self.peek().and_then(hex_val).is_none() {
                                return fail(esc, "`\\x` needs hexadecimal digits");
                            }
                            self.i += 1;
                            if self.peek().and_then(hex_val).is_some() {
                                self.i += 1;
                            }
                        }
                        b'0'..=b'7' => {
                            let mut v: u32 = (e - b'0') as u32;
                            let d0 = self.i;
                            while self.i < d0 + 2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => v = v * 8 + (d - b'0') as u32,
                                    _ => break,
                                }
                                self.i += 1;
                            }
                            if v > 0xff {
                                return fail(esc, "octal escape above \\377");
                            }
                        }
                        other => {
                            return fail(esc, format!("unknown escape `\\{}`", other.escape_ascii()));
                        }
                    }
                }
            }
        }
    }

    /// A `-y` decoration `<...>`; the cursor is at `<`. Nested `<...>` (`-yy` devices) and `[...]` (sockets,
    /// `TCP:[1.2.3.4:22->5.6.7.8:9]`) are kept whole. strace escapes `<`, `>` and non-printables in paths.
    fn decoration(&mut self) -> PResult<&'a [u8]> {
        let open = self.i;
        self.i += 1;
        let start = self.i;
        let mut angle = 1usize;
        let mut square = 0usize;
        loop {
            match self.peek() {
                None => return fail(open, "unterminated `<` decoration"),
                Some(b'\\') => self.i += 1,
                Some(b'[') => square += 1,
                Some(b']') => square = square.saturating_sub(1),
                Some(b'<') if square == 0 => angle += 1,
                Some(b'>') if square == 0 => {
                    angle -= 1;
                    if angle == 0 {
                        break;
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        let raw = &self.s[start..self.i.min(self.s.len())];
        self.i += 1;
        Ok(raw)
    }
}

/// Decode a string literal's raw text (as `Cur::string` checked it): C escapes, `\xNN`, octal.
pub fn unescape(raw: &[u8]) -> Vec<u8> {
    if !raw.contains(&b'\\') {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&e) = raw.get(i) else { break };
        i += 1;
        out.push(match e {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'v' => 0x0b,
            b'f' => 0x0c,
            b'a' => 0x07,
            b'b' => 0x08,
            b'e' => 0x1b,
            b'x' => {
                let mut v = 0u8;
                let mut n = 0;
                while n < 2 {
                    match raw.get(i).copied().and_then(hex_val) {
                        Some(d) => v = v.wrapping_mul(16).wrapping_add(d),
                        None => break,
                    }
                    i += 1;
                    n += 1;
                }
                v
            }
            b'0'..=b'7' => {
                let mut v = (e - b'0') as u32;
                let mut n = 0;
                while n < 2 {
                    match raw.get(i) {
                        Some(&d @ b'0'..=b'7') => v = v * 8 + (d - b'0') as u32,
                        _ => break,
                    }
                    i += 1;
                    n += 1;
                }
                v as u8
            }
            other => other,
        });
    }
    out
}

/// Decode the escapes strace puts in `-y` paths; anything unrecognised is kept as written.
pub fn unescape_lenient(raw: &[u8]) -> String {
    if !raw.contains(&b'\\') {
        return lossy(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' && i + 1 < raw.len() {
            let e = raw[i + 1];
            if e == b'x' {
                let h = raw.get(i + 2).and_then(|&x| hex_val(x));
                let l = raw.get(i + 3).and_then(|&x| hex_val(x));
                if let (Some(h), Some(l)) = (h, l) {
                    out.push(h * 16 + l);
                    i += 4;
                    continue;
                }
            } else if e == b'\\' {
                out.push(b'\\');
                i += 2;
                continue;
            } else if (b'0'..=b'3').contains(&e) {
                let d: Vec<u8> = raw[i + 1..].iter().take(3).copied().collect();
                if d.len() == 3 && d.iter().all(|x| (b'0'..=b'7').contains(x)) {
                    out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    lossy(&out)
}

/// Offset of the first `a` immediately followed by `b`.
fn find2(s: &[u8], a: u8, b: u8) -> Option<usize> {
    s.windows(2).position(|w| w[0] == a && w[1] == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_round_trips() {
        for v in [
            0i128,
            1,
            -1,
            i64::MIN as i128,
            u64::MAX as i128,
            -(u64::MAX as i128),
            i128::MAX,
            i128::MIN,
        ] {
            assert_eq!(Wide::new(v).get(), v);
        }
        assert_eq!(std::mem::size_of::<ArgRef>(), 40);
    }

    /// The one-scan path for common arguments gives exactly what the general path (`key` then `value`) gives,
    /// cursor included, and declines everything else.
    #[test]
    fn simple_values_match_the_general_path() {
        let parts = [
            "0",
            "-1",
            "4096",
            "0x7f0000000000",
            "0755",
            "NULL",
            "PROT_READ",
            "AT_FDCWD",
            "MAP_PRIVATE|0x40000",
            "0x1|PROT_READ",
            "A|B|C",
            "A|NULL",
            "08",
            "0x",
            "12abc",
            "A |B",
            "A| B",
            "3</dev/null>",
            "flags=A",
            "A|",
            "|A",
            "\"s\"",
            "[1, 0]",
            "{a=1}",
            "A==B",
            "-",
            "A|0x",
            "99999999999999999999999",
            "-0x8000000000000000",
            "A|[1]",
            "A|B<x>",
        ];
        for p in parts {
            for end in [",", ")", " ,", "|"] {
                let text = format!("{p}{end}");
                let s = text.as_bytes();
                let mut fast = Cur::new(s);
                let got = simple_value(&mut fast);
                let mut slow = Cur::new(s);
                key(&mut slow);
                let want = value(&mut slow, 1);
                match got {
                    Some(v) => {
                        assert_eq!(Ok(v), want, "{text}");
                        assert_eq!(fast.i, slow.i, "{text}");
                    }
                    None => assert_eq!(fast.i, 0, "{text}"),
                }
            }
        }
        // The common forms take the fast path.
        for p in [
            "0",
            "-1",
            "0x7f0000000000",
            "NULL",
            "PROT_READ|PROT_WRITE",
            "MAP_PRIVATE|0x40000",
        ] {
            assert!(simple_value(&mut Cur::new(format!("{p},").as_bytes())).is_some(), "{p}");
        }
    }

    /// Numbers of every length around the points where the digit loops change (15/16 hex digits, 19/20
    /// decimal digits, u64 and i128 overflow) read as the standard library reads them.
    #[test]
    fn numbers_of_every_length() {
        let reference = |t: &str| -> Option<i128> {
            let (neg, t) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
            let v = if let Some(h) = t.strip_prefix("0x") {
                i128::from_str_radix(h, 16).ok()?
            } else if t.len() > 1 && t.starts_with('0') {
                i128::from_str_radix(t, 8).ok()?
            } else {
                t.parse::<i128>().ok()?
            };
            Some(if neg { -v } else { v })
        };
        let mut cases = Vec::new();
        for n in 1..=40 {
            cases.push(format!("0x{}", "f".repeat(n)));
            cases.push(format!("0x1{}", "0".repeat(n - 1)));
            cases.push("9".repeat(n));
            cases.push(format!("1{}", "0".repeat(n - 1)));
            cases.push(format!("-{}", "7".repeat(n)));
            cases.push(format!("0{}", "7".repeat(n)));
        }
        cases.extend(
            [
                "18446744073709551615",
                "18446744073709551616",
                "0x",
                "0",
                "-0x8000000000000000",
            ]
            .map(String::from),
        );
        for t in &cases {
            let got = Cur::new(t.as_bytes()).number();
            assert_eq!(got, reference(t), "{t}");
        }
    }
}
