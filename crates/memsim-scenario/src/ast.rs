//! The parsed form of a scenario line. Shared by the model runner (this crate) and the real-kernel runner
//! (`memsim-shadow`), so both execute exactly the same operations.

/// A position in a scenario file (1-based line and column).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// One argument of a system call as strace prints it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Arg {
    /// A number (decimal, hex `0x..`, or octal `0..`), possibly negative. `NULL` parses as `Int(0)`.
    Int(i128),
    /// A `|`-joined set of symbolic names and numbers (`PROT_READ|PROT_WRITE`, `MAP_PRIVATE|0x40000`).
    /// A single bare identifier such as `MADV_DONTNEED` or `AT_FDCWD` is also a `Flags` of one atom.
    Flags(Vec<FlagAtom>),
    /// A descriptor with strace `-y` decoration: `3</usr/bin/cat>`, `AT_FDCWD</>`.
    Fd { fd: Box<Arg>, path: String },
    /// A C string, unescaped; `truncated` when strace printed `...` after it.
    Str { bytes: Vec<u8>, truncated: bool },
    /// `[a, b, ...]`
    Array(Vec<Arg>),
    /// `{key=value, ...}` (keys optional).
    Struct(Vec<(Option<String>, Arg)>),
    /// A top-level `key=value`, as clone prints its arguments (`child_stack=NULL`, `flags=...`).
    Keyed(String, Box<Arg>),
    /// Anything else kept verbatim (e.g. `0x7ffd... /* 20 vars */` after stripping the comment is an `Int`).
    Other(String),
}

/// One element of a flags expression.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FlagAtom {
    Name(String),
    Num(i128),
}

/// The result strace printed after ` = `, which memsim checks.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Expect {
    /// `= 0x7ffff7fc0000`, `= 3`, `= 3</path>` (the decoration is ignored).
    Value(i128),
    /// `= -1 ENOMEM (Cannot allocate memory)`: the errno name.
    Error(String),
    /// `= ?` or no result given.
    Unchecked,
}

/// A system call line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SyscallLine {
    pub name: String,
    pub args: Vec<Arg>,
    pub expect: Expect,
    /// Where each argument starts, for error messages.
    pub arg_pos: Vec<Pos>,
}

/// Lackey access kinds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AccessOp {
    /// `I`: instruction fetch.
    Instr,
    /// `L`: load.
    Load,
    /// `S`: store.
    Store,
    /// `M`: load then store.
    Modify,
}

/// The process a `cat /proc/PID/FILE` line names; `System` for a machine-wide file (`cat /proc/meminfo`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProcPid {
    SelfPid,
    Pid(u32),
    System,
}

/// What a scenario line does.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LineKind {
    Syscall(SyscallLine),
    Access {
        op: AccessOp,
        addr: u64,
        size: u64,
    },
    /// `poke(ADDR, "bytes") = N`
    Poke {
        addr: u64,
        bytes: Vec<u8>,
        expect: Option<u64>,
    },
    /// `peek(ADDR, LEN) = "bytes"`
    Peek {
        addr: u64,
        len: u64,
        expect: Option<Vec<u8>>,
    },
    /// `--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x1000ff000} ---`: the previous access
    /// raised exactly this. Fields strace omitted are `None`.
    Signal {
        signo: u32,
        code: Option<u32>,
        addr: Option<u64>,
        /// `si_pid`: for SIGCHLD, the child the signal is about.
        pid: Option<u32>,
    },
    /// `+++ killed by SIGSEGV +++` (`core_dumped` for `(core dumped)`).
    Killed {
        signo: u32,
        core_dumped: bool,
    },
    /// `+++ exited with N +++`
    Exited {
        code: i32,
    },
    /// `cat /proc/PID/FILE`
    Cat {
        pid: ProcPid,
        file: String,
    },
}

/// One meaningful scenario line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Line {
    /// 1-based line number in the file.
    pub line: usize,
    /// The PID prefix (`strace -f`), if any.
    pub pid: Option<u32>,
    pub kind: LineKind,
}
