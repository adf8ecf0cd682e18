//! Turning parsed arguments ([`Arg`]) into the raw register values a system call receives, using the name
//! tables of `memsim_core::uapi` for symbolic flags. Shared by the model runner and `memsim-shadow`, so both
//! give a call exactly the same numbers.

use std::borrow::Cow;
use std::fmt;

use memsim_core::uapi::{self, NameTable};

use crate::ast::{Arg, FlagAtom, Pos, SyscallLine};
use crate::parse::{flag_atoms, unescape, ArgRef, AtomRef};

/// A value that does not fit the argument it is given for. `index` is the 0-based argument number when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError {
    pub index: Option<usize>,
    pub msg: String,
}

impl ArgError {
    pub fn new(msg: impl Into<String>) -> ArgError {
        ArgError {
            index: None,
            msg: msg.into(),
        }
    }

    /// Attach the argument number.
    pub fn at(mut self, index: usize) -> ArgError {
        self.index.get_or_insert(index);
        self
    }

    /// Where in the scenario the offending argument starts (the call's first argument, or line start, if
    /// unknown).
    pub fn pos(&self, call: &SyscallLine) -> Option<Pos> {
        self.index
            .and_then(|i| call.arg_pos.get(i))
            .or_else(|| call.arg_pos.first())
            .copied()
    }
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "argument {}: {}", i + 1, self.msg),
            None => f.write_str(&self.msg),
        }
    }
}

impl std::error::Error for ArgError {}

/// Constants strace prints by name that are not flag bits of any one table.
pub const MISC_NAMES: NameTable = &[("AT_FDCWD", uapi::AT_FDCWD as u64)];

/// Look a name up in the given tables, then in [`MISC_NAMES`].
fn lookup(tables: &[NameTable], name: &[u8]) -> Option<u64> {
    tables
        .iter()
        .chain(std::iter::once(&MISC_NAMES))
        .find_map(|t| t.iter().find(|(n, _)| same_name(n.as_bytes(), name)).map(|&(_, v)| v))
}

/// Names of one table share a prefix (`MAP_`, `PROT_`): comparing the last byte first skips most full
/// comparisons.
#[inline]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.last() == b.last() && a == b
}

fn unknown_name(tables: &[NameTable], name: &[u8]) -> ArgError {
    let name = String::from_utf8_lossy(name);
    let expected: Vec<&str> = tables.iter().filter_map(|t| t.first().map(|e| e.0)).collect();
    if expected.is_empty() {
        ArgError::new(format!("unknown name `{name}`: expected a number"))
    } else {
        ArgError::new(format!(
            "unknown name `{name}` (expected names like {})",
            expected.join(", ")
        ))
    }
}

/// An argument in either form (owned [`Arg`] or borrowed [`ArgRef`]), as the decoder needs it.
pub trait ArgValue {
    /// The raw 64-bit register value of a number, flags expression or descriptor.
    fn to_u64(&self, tables: &[NameTable]) -> Result<u64, ArgError>;
    /// The bytes of a complete string.
    fn to_bytes(&self) -> Result<Cow<'_, [u8]>, ArgError>;
    /// A printed byte vector (`[1, 0, ...]`): its bytes and whether it was complete; `None` for an address.
    fn to_byte_vector(&self) -> Result<(Option<Vec<u8>>, bool), ArgError>;
    /// The key of a top-level `key=value` argument (clone's `flags=...`).
    fn key(&self) -> Option<&[u8]> {
        None
    }
    /// The owned form, for the rare calls whose arguments are structures, arrays or expressions (execve,
    /// clone3, wait4, the rlimit calls).
    fn to_owned_arg(&self) -> Arg;
}

impl ArgValue for Arg {
    fn to_u64(&self, tables: &[NameTable]) -> Result<u64, ArgError> {
        arg_u64(self, tables)
    }
    fn to_bytes(&self) -> Result<Cow<'_, [u8]>, ArgError> {
        arg_bytes(self).map(Cow::Borrowed)
    }
    fn key(&self) -> Option<&[u8]> {
        match self {
            Arg::Keyed(k, _) => Some(k.as_bytes()),
            _ => None,
        }
    }
    fn to_owned_arg(&self) -> Arg {
        self.clone()
    }
    fn to_byte_vector(&self) -> Result<(Option<Vec<u8>>, bool), ArgError> {
        match self {
            Arg::Keyed(_, v) => v.to_byte_vector(),
            Arg::Array(items) => byte_vector(items.iter().map(|it| match it {
                Arg::Int(n) => Item::Int(*n),
                Arg::Other(t) if t == "..." => Item::More,
                _ => Item::Bad,
            })),
            Arg::Int(_) => Ok((None, true)),
            _ => Err(ArgError::new("expected a vector `[0, 1, ...]` or an address")),
        }
    }
}

impl ArgValue for ArgRef<'_> {
    fn to_u64(&self, tables: &[NameTable]) -> Result<u64, ArgError> {
        match self {
            ArgRef::Int(n) => reg(n.get()),
            ArgRef::Flags(t) => memo::flags(t, tables, || flags_u64(t, tables)),
            ArgRef::Fd { fd: t, .. } => flags_u64(t, tables),
            ArgRef::Str { .. } => Err(ArgError::new("expected a number, found a string")),
            ArgRef::Array(_) => Err(ArgError::new("expected a number, found an array")),
            ArgRef::Struct(_) => Err(ArgError::new("expected a number, found a structure")),
            ArgRef::Keyed(_, v) => v.to_u64(tables),
            ArgRef::Other(t) => Err(ArgError::new(format!(
                "expected a number, found `{}`",
                String::from_utf8_lossy(t)
            ))),
        }
    }
    fn to_bytes(&self) -> Result<Cow<'_, [u8]>, ArgError> {
        match self {
            ArgRef::Str { raw, truncated: false } => Ok(if raw.contains(&b'\\') {
                Cow::Owned(unescape(raw))
            } else {
                Cow::Borrowed(*raw)
            }),
            ArgRef::Str { truncated: true, .. } => {
                Err(ArgError::new("the string is truncated (`...`): rerun strace with -s"))
            }
            ArgRef::Keyed(_, v) => v.to_bytes(),
            _ => Err(ArgError::new("expected a string")),
        }
    }
    fn key(&self) -> Option<&[u8]> {
        match self {
            ArgRef::Keyed(k, _) => Some(k),
            _ => None,
        }
    }
    fn to_owned_arg(&self) -> Arg {
        self.to_arg()
    }
    fn to_byte_vector(&self) -> Result<(Option<Vec<u8>>, bool), ArgError> {
        match self {
            ArgRef::Keyed(_, v) => v.to_byte_vector(),
            ArgRef::Array(items) => byte_vector(items.iter().map(|it| match it {
                ArgRef::Int(n) => Item::Int(n.get()),
                ArgRef::Other(t) if *t == b"..." => Item::More,
                _ => Item::Bad,
            })),
            ArgRef::Int(_) => Ok((None, true)),
            _ => Err(ArgError::new("expected a vector `[0, 1, ...]` or an address")),
        }
    }
}

impl<T: ArgValue> ArgValue for (Pos, T) {
    fn to_u64(&self, tables: &[NameTable]) -> Result<u64, ArgError> {
        self.1.to_u64(tables)
    }
    fn to_bytes(&self) -> Result<Cow<'_, [u8]>, ArgError> {
        self.1.to_bytes()
    }
    fn to_byte_vector(&self) -> Result<(Option<Vec<u8>>, bool), ArgError> {
        self.1.to_byte_vector()
    }
    fn key(&self) -> Option<&[u8]> {
        self.1.key()
    }
    fn to_owned_arg(&self) -> Arg {
        self.1.to_owned_arg()
    }
}

/// The value of a validated flags text (`PROT_READ|0x8`).
fn flags_u64(t: &[u8], tables: &[NameTable]) -> Result<u64, ArgError> {
    let mut v = 0u64;
    for a in flag_atoms(t) {
        v |= match a {
            AtomRef::Num(n) => reg(n)?,
            AtomRef::Name(name) => lookup(tables, name).ok_or_else(|| unknown_name(tables, name))?,
        };
    }
    Ok(v)
}

/// Flags expressions decoded lately. A log repeats a handful of them (`PROT_READ|PROT_WRITE`,
/// `MAP_PRIVATE|MAP_ANONYMOUS`) hundreds of thousands of times, and decoding one (split, scan, table searches)
/// costs more than the rest of its call's decoding; a hit costs one comparison. A pure cache: a value depends
/// only on the text and the tables, which are `'static` (so their addresses identify them), and only values
/// are kept, never errors.
mod memo {
    use std::cell::RefCell;

    use memsim_core::uapi::NameTable;

    use super::ArgError;

    const SLOTS: usize = 32;
    /// Tables are identified by address and length; calls pass at most two.
    const MAX_TABLES: usize = 3;
    type Key = [(usize, usize); MAX_TABLES];

    struct Slot {
        tables: Key,
        text: Box<[u8]>,
        value: u64,
    }

    thread_local! {
        static MEMO: RefCell<Vec<Option<Slot>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
    }

    fn key(tables: &[NameTable]) -> Option<Key> {
        if tables.len() > MAX_TABLES {
            return None;
        }
        let mut k = [(0, 0); MAX_TABLES];
        for (slot, t) in k.iter_mut().zip(tables) {
            // A non-empty 'static slice's address is never 0; empty tables are all alike.
            *slot = if t.is_empty() {
                (1, 0)
            } else {
                (t.as_ptr() as usize, t.len())
            };
        }
        Some(k)
    }

    fn slot_of(text: &[u8]) -> usize {
        let n = text.len();
        let mid = text.get(n / 2).copied().unwrap_or(0) as usize;
        let last = text.last().copied().unwrap_or(0) as usize;
        (n.wrapping_mul(31) ^ mid.wrapping_mul(7) ^ last) % SLOTS
    }

    /// `compute()` for `text` under `tables`, remembered.
    pub fn flags(
        text: &[u8],
        tables: &[NameTable],
        compute: impl FnOnce() -> Result<u64, ArgError>,
    ) -> Result<u64, ArgError> {
        let Some(k) = key(tables) else { return compute() };
        let i = slot_of(text);
        let hit = MEMO.with(|m| match m.borrow().get(i) {
            Some(Some(s)) if s.tables == k && *s.text == *text => Some(s.value),
            _ => None,
        });
        if let Some(v) = hit {
            return Ok(v);
        }
        let value = compute()?;
        MEMO.with(|m| {
            if let Some(slot) = m.borrow_mut().get_mut(i) {
                *slot = Some(Slot {
                    tables: k,
                    text: text.into(),
                    value,
                });
            }
        });
        Ok(value)
    }
}

enum Item {
    Int(i128),
    More,
    Bad,
}

fn byte_vector(items: impl ExactSizeIterator<Item = Item>) -> Result<(Option<Vec<u8>>, bool), ArgError> {
    let n = items.len();
    let mut v = Vec::with_capacity(n);
    let mut complete = true;
    for (i, it) in items.enumerate() {
        match it {
            Item::More if i + 1 == n => complete = false,
            Item::Int(x) => v.push(u8::try_from(x).map_err(|_| ArgError::new(format!("{x} is not a byte")))?),
            _ => return Err(ArgError::new("the vector holds numbers")),
        }
    }
    Ok((Some(v), complete))
}

/// An integer that fits a 64-bit register: `-2^63 ..= 2^64-1` (negatives are two's complement).
fn reg(n: i128) -> Result<u64, ArgError> {
    if n < i64::MIN as i128 || n > u64::MAX as i128 {
        return Err(ArgError::new(format!("{n} does not fit in 64 bits")));
    }
    Ok(n as u64)
}

/// The raw 64-bit value of a numeric or symbolic argument: `4096`, `-1`, `NULL`, `0x7f..`, `PROT_READ|0x8`,
/// `MAP_PRIVATE|MAP_ANONYMOUS`, `3</path>` (the descriptor).
pub fn arg_u64(arg: &Arg, tables: &[NameTable]) -> Result<u64, ArgError> {
    match arg {
        Arg::Int(n) => reg(*n),
        Arg::Flags(atoms) => {
            let mut v = 0u64;
            for a in atoms {
                v |= match a {
                    FlagAtom::Num(n) => reg(*n)?,
                    FlagAtom::Name(name) => {
                        lookup(tables, name.as_bytes()).ok_or_else(|| unknown_name(tables, name.as_bytes()))?
                    }
                };
            }
            Ok(v)
        }
        Arg::Fd { fd, .. } => arg_u64(fd, tables),
        Arg::Str { .. } => Err(ArgError::new("expected a number, found a string")),
        Arg::Array(_) => Err(ArgError::new("expected a number, found an array")),
        Arg::Struct(_) => Err(ArgError::new("expected a number, found a structure")),
        Arg::Keyed(_, v) => arg_u64(v, tables),
        Arg::Other(t) => Err(ArgError::new(format!("expected a number, found `{t}`"))),
    }
}

/// The value as a signed 64-bit register (`-1`, `AT_FDCWD`).
pub fn arg_i64(arg: &Arg, tables: &[NameTable]) -> Result<i64, ArgError> {
    arg_u64(arg, tables).map(|v| v as i64)
}

/// A descriptor argument: `3`, `-1`, `3</usr/bin/cat>`, `AT_FDCWD`, `AT_FDCWD</>`.
pub fn arg_fd(arg: &Arg) -> Result<i64, ArgError> {
    arg_i64(arg, &[])
}

/// A complete string argument (a truncated `"..."...` is refused: the call's real argument is unknown).
pub fn arg_bytes(arg: &Arg) -> Result<&[u8], ArgError> {
    match arg {
        Arg::Str {
            bytes,
            truncated: false,
        } => Ok(bytes),
        Arg::Str { truncated: true, .. } => Err(ArgError::new("the string is truncated (`...`): rerun strace with -s")),
        Arg::Keyed(_, v) => arg_bytes(v),
        _ => Err(ArgError::new("expected a string")),
    }
}

/// A path argument: a complete string without NUL bytes, as UTF-8.
pub fn arg_path(arg: &Arg) -> Result<String, ArgError> {
    let b = arg_bytes(arg)?;
    if b.contains(&0) {
        return Err(ArgError::new("a path cannot contain a NUL byte"));
    }
    String::from_utf8(b.to_vec()).map_err(|_| ArgError::new("the path is not valid UTF-8"))
}

/// Typed access to the arguments of one call, attaching argument numbers to errors.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a, A> {
    pub args: &'a [A],
}

impl<'a, A: ArgValue> Args<'a, A> {
    pub fn new(args: &'a [A]) -> Args<'a, A> {
        Args { args }
    }

    pub fn get(&self, i: usize) -> Result<&'a A, ArgError> {
        self.args
            .get(i)
            .ok_or_else(|| ArgError::new(format!("missing argument {} (of {})", i + 1, self.args.len())).at(i))
    }

    /// Argument `i`, a structure or array, decoded by `f` with errors positioned at it.
    pub fn decode<T>(&self, i: usize, f: impl FnOnce(&Arg) -> Result<T, ArgError>) -> Result<T, ArgError> {
        f(&self.get(i)?.to_owned_arg()).map_err(|e| e.at(i))
    }

    /// An output argument decoded by `f`; `None` when strace did not print it (an `<unfinished ...>` head).
    pub fn decode_opt<T>(
        &self,
        i: usize,
        f: impl FnOnce(&Arg) -> Result<Option<T>, ArgError>,
    ) -> Result<Option<T>, ArgError> {
        match self.args.get(i) {
            Some(_) => self.decode(i, f),
            None => Ok(None),
        }
    }

    /// Require between `min` and `max` arguments.
    pub fn count(&self, min: usize, max: usize) -> Result<(), ArgError> {
        let n = self.args.len();
        if n < min || n > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(ArgError::new(format!("expected {want} arguments, found {n}")).at(n.min(max)));
        }
        Ok(())
    }

    pub fn u64(&self, i: usize, tables: &[NameTable]) -> Result<u64, ArgError> {
        self.get(i)?.to_u64(tables).map_err(|e| e.at(i))
    }

    /// Like [`Args::u64`], but 0 when the argument is absent.
    pub fn u64_or_0(&self, i: usize, tables: &[NameTable]) -> Result<u64, ArgError> {
        if i >= self.args.len() {
            return Ok(0);
        }
        self.u64(i, tables)
    }

    /// A descriptor: `3`, `-1`, `3</path>`, `AT_FDCWD`.
    pub fn fd(&self, i: usize) -> Result<i64, ArgError> {
        self.u64(i, &[]).map(|v| v as i64)
    }

    /// A path: a complete string without NUL bytes, as UTF-8.
    pub fn path(&self, i: usize) -> Result<String, ArgError> {
        let b = self.get(i)?.to_bytes().map_err(|e| e.at(i))?;
        if b.contains(&0) {
            return Err(ArgError::new("a path cannot contain a NUL byte").at(i));
        }
        String::from_utf8(b.into_owned()).map_err(|_| ArgError::new("the path is not valid UTF-8").at(i))
    }

    pub fn byte_vector(&self, i: usize) -> Result<(Option<Vec<u8>>, bool), ArgError> {
        self.get(i)?.to_byte_vector().map_err(|e| e.at(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::FlagAtom::{Name, Num};

    fn flags(v: &[FlagAtom]) -> Arg {
        Arg::Flags(v.to_vec())
    }

    #[test]
    fn numbers_and_names() {
        use memsim_core::uapi::*;
        assert_eq!(arg_u64(&Arg::Int(-1), &[]), Ok(u64::MAX));
        assert_eq!(arg_u64(&Arg::Int(0x7fff_0000), &[]), Ok(0x7fff_0000));
        assert!(arg_u64(&Arg::Int(1i128 << 64), &[]).is_err());
        assert!(arg_u64(&Arg::Int(i64::MIN as i128 - 1), &[]).is_err());
        let f = flags(&[Name("MAP_PRIVATE".into()), Num(0x40000), Name("MAP_FIXED".into())]);
        assert_eq!(arg_u64(&f, &[MAP_TYPE_NAMES, MAP_FLAG_NAMES]), Ok(0x40012));
        let e = arg_u64(&flags(&[Name("PROT_BOGUS".into())]), &[PROT_NAMES]).unwrap_err();
        assert!(e.msg.contains("PROT_BOGUS"), "{e}");
        assert_eq!(arg_fd(&flags(&[Name("AT_FDCWD".into())])), Ok(-100));
        let fd = Arg::Fd {
            fd: Box::new(Arg::Int(3)),
            path: "/usr/bin/cat".into(),
        };
        assert_eq!(arg_fd(&fd), Ok(3));
        assert!(arg_u64(&Arg::Other("8192*1024".into()), &[]).is_err());
    }

    /// The flags memo gives what decoding gives, per table set: the same text decoded again, under other
    /// tables, or refused, is never answered from another entry.
    #[test]
    fn flags_memo_is_keyed_by_text_and_tables() {
        use memsim_core::uapi::*;
        let rw = ArgRef::Flags(b"PROT_READ|PROT_WRITE");
        let r = ArgRef::Flags(b"PROT_READ");
        for _ in 0..3 {
            assert_eq!(rw.to_u64(&[PROT_NAMES]), Ok(PROT_READ | PROT_WRITE));
            assert_eq!(r.to_u64(&[PROT_NAMES]), Ok(PROT_READ));
            assert!(r.to_u64(&[MAP_TYPE_NAMES, MAP_FLAG_NAMES]).is_err());
            assert!(rw.to_u64(&[]).is_err());
            let m = ArgRef::Flags(b"MAP_PRIVATE|MAP_ANONYMOUS");
            assert_eq!(
                m.to_u64(&[MAP_TYPE_NAMES, MAP_FLAG_NAMES]),
                Ok(MAP_PRIVATE | MAP_ANONYMOUS)
            );
            assert!(m.to_u64(&[MAP_FLAG_NAMES]).is_err());
        }
        // Many distinct texts share the slots; each keeps its own value.
        let texts: Vec<String> = (0..200).map(|i| format!("PROT_READ|{i:#x}")).collect();
        for _ in 0..2 {
            for (i, t) in texts.iter().enumerate() {
                assert_eq!(
                    ArgRef::Flags(t.as_bytes()).to_u64(&[PROT_NAMES]),
                    Ok(PROT_READ | i as u64)
                );
            }
        }
    }

    #[test]
    fn strings() {
        let s = Arg::Str {
            bytes: b"/etc/passwd".to_vec(),
            truncated: false,
        };
        assert_eq!(arg_path(&s).as_deref(), Ok("/etc/passwd"));
        let t = Arg::Str {
            bytes: b"/etc".to_vec(),
            truncated: true,
        };
        assert!(arg_path(&t).is_err());
        let nul = Arg::Str {
            bytes: b"/a\0b".to_vec(),
            truncated: false,
        };
        assert!(arg_path(&nul).is_err());
        assert!(arg_path(&Arg::Int(0)).is_err());
    }
}
