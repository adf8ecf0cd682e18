//! Checking a scenario for what can safely and comparably run in a real process, and turning it into steps.
//!
//! The rules (a scenario that breaks one is rejected with a message, never silently skipped):
//! - Every address a call may change must lie in the window (`window.rs`) or below it, or at or above
//!   `TASK_SIZE`, where the child has nothing; the child checks at start that nothing is mapped below the
//!   window's end. A call whose range reaches the rest of the address space (the test binary, libc, the
//!   heap) must state that it fails (`= -1 E...`): it is there to test argument checking.
//! - Mappings must land in the window: use `MAP_FIXED`/`MAP_FIXED_NOREPLACE`, or a hint inside it. A mapping
//!   that lands anywhere else (top-down from a randomized `mmap_base` in the real process) is rejected at run
//!   time, because the model's `mmap_base` differs.
//! - Files are opened read-only (`O_RDONLY`, no `O_CREAT`/`O_TRUNC`/`O_APPEND`); only `/dev/zero` and
//!   `/dev/null` may be opened for writing. A host file is never written.
//! - Only the memory system calls below run for real; `brk` is refused (the real heap is the test
//!   binary's), as is any other call.
//! - One process: lines may carry a PID prefix, but only one PID.

use std::ffi::CString;

use memsim_core::uapi::*;
use memsim_scenario::ast::{AccessOp, Expect, Line, LineKind, ProcPid, SyscallLine};
use memsim_scenario::{decode, Call};

use crate::window::{TASK_SIZE, WINDOW_END};

/// The largest `peek` a scenario may ask for.
pub const MAX_PEEK: u64 = 1 << 20;

/// A system call ready to be issued: the model's decoding of the line, and the same values as registers.
#[derive(Clone, Debug)]
pub struct SyscallStep {
    pub name: String,
    /// The call as `memsim_scenario::decode` reads it; the model runs exactly this.
    pub call: Call,
    /// The x86-64 system call number.
    pub nr: i64,
    /// Raw register values; a path argument is passed as the address of `path`.
    pub args: [u64; 6],
    /// The path argument (index, NUL-terminated bytes).
    pub path: Option<(usize, CString)>,
    /// `mincore`: the third argument is replaced by a buffer and the vector is reported.
    pub mincore: bool,
}

/// What one line does.
#[derive(Clone, Debug)]
pub enum Step {
    Syscall(SyscallStep),
    Access {
        op: AccessOp,
        addr: u64,
        size: u64,
    },
    Poke {
        addr: u64,
        bytes: Vec<u8>,
    },
    Peek {
        addr: u64,
        len: u64,
    },
    /// `cat /proc/self/maps` or `smaps`.
    Cat {
        file: String,
    },
    /// A line that only states an expectation, or a `cat` of a whole-process file (not compared).
    Nothing,
}

/// One scenario line and its step.
#[derive(Clone, Debug)]
pub struct PlannedLine {
    pub line: Line,
    pub step: Step,
}

/// A whole scenario, checked.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub lines: Vec<PlannedLine>,
}

/// Why a scenario cannot be run differentially: `(line number, message)`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PlanError {
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

/// Whether a call may touch `[addr, addr + len)` without reaching the child's own mappings.
fn range_is_safe(addr: u64, len: u64) -> bool {
    // PAGE_ALIGN as the kernel computes it: a length near 2^64 wraps to a small one.
    let len = len.wrapping_add(0xfff) & !0xfff;
    match addr.checked_add(len) {
        Some(end) => end <= WINDOW_END || addr >= TASK_SIZE,
        None => false,
    }
}

/// A system call number, its six registers, and the path argument (index and string), if any.
type Registers = (i64, [u64; 6], Option<(usize, CString)>);

/// The system call number and registers of a decoded call.
fn registers(call: &Call) -> Result<Registers, String> {
    let path = |p: &str| CString::new(p.as_bytes()).map_err(|_| "a path with a NUL byte".to_string());
    Ok(match call {
        Call::Mmap {
            addr,
            len,
            prot,
            flags,
            fd,
            off,
        } => (libc::SYS_mmap, [*addr, *len, *prot, *flags, *fd as u64, *off], None),
        Call::Munmap { addr, len } => (libc::SYS_munmap, [*addr, *len, 0, 0, 0, 0], None),
        Call::Mprotect { start, len, prot } => (libc::SYS_mprotect, [*start, *len, *prot, 0, 0, 0], None),
        Call::Mremap {
            old_addr,
            old_len,
            new_len,
            flags,
            new_addr,
        } => (
            libc::SYS_mremap,
            [*old_addr, *old_len, *new_len, *flags, *new_addr, 0],
            None,
        ),
        Call::Brk { .. } => {
            return Err("brk cannot run differentially: the real heap belongs to the test binary".to_string())
        }
        Call::Madvise { start, len, advice } => (libc::SYS_madvise, [*start, *len, *advice, 0, 0, 0], None),
        Call::Mlock { start, len } => (libc::SYS_mlock, [*start, *len, 0, 0, 0, 0], None),
        Call::Mlock2 { start, len, flags } => (libc::SYS_mlock2, [*start, *len, *flags, 0, 0, 0], None),
        Call::Munlock { start, len } => (libc::SYS_munlock, [*start, *len, 0, 0, 0, 0], None),
        Call::Mlockall { flags } => (libc::SYS_mlockall, [*flags, 0, 0, 0, 0, 0], None),
        Call::Munlockall => (libc::SYS_munlockall, [0; 6], None),
        // The vector's address is filled in by the child.
        Call::Mincore { start, len, .. } => (libc::SYS_mincore, [*start, *len, 0, 0, 0, 0], None),
        Call::Msync { start, len, flags } => (libc::SYS_msync, [*start, *len, *flags, 0, 0, 0], None),
        Call::Openat {
            dirfd,
            path: p,
            flags,
            mode,
        } => (
            libc::SYS_openat,
            [*dirfd as u64, 0, *flags, *mode, 0, 0],
            Some((1, path(p)?)),
        ),
        Call::Close { fd } => (libc::SYS_close, [*fd as u64, 0, 0, 0, 0, 0], None),
        Call::Fsync { fd, data_only } => {
            let nr = if *data_only {
                libc::SYS_fdatasync
            } else {
                libc::SYS_fsync
            };
            (nr, [*fd as u64, 0, 0, 0, 0, 0], None)
        }
        Call::Dup { fd } => (libc::SYS_dup, [*fd as u64, 0, 0, 0, 0, 0], None),
        Call::Dup2 { old, new } => (libc::SYS_dup2, [*old as u64, *new as u64, 0, 0, 0, 0], None),
        Call::Dup3 { old, new, flags } => (libc::SYS_dup3, [*old as u64, *new as u64, *flags, 0, 0, 0], None),
        // Process calls (exec, fork, exit, wait, signals, limits) would act on the differential child itself.
        _ => return Err("process calls are not supported natively: they would act on the test's own child".into()),
    })
}

fn plan_syscall(sc: &SyscallLine) -> Result<SyscallStep, String> {
    let name = sc.name.as_str();
    let call = decode(sc)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("`{name}` is not a call memsim models; it cannot run differentially"))?;
    let (nr, args, path) = registers(&call)?;
    let expects_error = matches!(sc.expect, Expect::Error(_));
    if let Call::Openat { path: p, flags, .. } = &call {
        let writable = flags & O_ACCMODE != O_RDONLY;
        let creating = flags & (O_CREAT | O_TRUNC | O_APPEND) != 0 || flags & O_TMPFILE == O_TMPFILE;
        let device = matches!(p.as_str(), "/dev/zero" | "/dev/null");
        if creating || (writable && !device) {
            return Err(format!(
                "{name} of {p:?} must be read-only (only /dev/zero and /dev/null may be opened for writing)"
            ));
        }
    }
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    match &call {
        Call::Munmap { addr: a, len: l }
        | Call::Mprotect { start: a, len: l, .. }
        | Call::Madvise { start: a, len: l, .. }
        | Call::Mlock { start: a, len: l }
        | Call::Mlock2 { start: a, len: l, .. }
        | Call::Munlock { start: a, len: l }
        | Call::Msync { start: a, len: l, .. } => ranges.push((*a, *l)),
        Call::Mmap { addr, len, flags, .. } if flags & MAP_FIXED != 0 => ranges.push((*addr, *len)),
        Call::Mremap {
            old_addr,
            old_len,
            new_len,
            flags,
            new_addr,
        } => {
            ranges.push((*old_addr, *old_len));
            if flags & MREMAP_FIXED != 0 {
                ranges.push((*new_addr, *new_len));
            }
        }
        _ => {}
    }
    for (a, l) in ranges {
        if !range_is_safe(a, l) && !expects_error {
            return Err(format!(
                "{name} range {a:#x}+{l:#x} reaches outside the window into the test process's own mappings; \
                 keep it inside 0x100000000..0x200000000 or state the error it fails with"
            ));
        }
    }
    Ok(SyscallStep {
        name: name.to_string(),
        mincore: matches!(call, Call::Mincore { .. }),
        call,
        nr,
        args,
        path,
    })
}

/// Check a parsed scenario and turn each line into a step.
pub fn plan(lines: &[Line]) -> Result<Plan, PlanError> {
    let mut out = Plan::default();
    let mut pid = None;
    for l in lines {
        let err = |msg: String| PlanError { line: l.line, msg };
        if let Some(p) = l.pid {
            match pid {
                None => pid = Some(p),
                Some(q) if q != p => return Err(err(format!("a second process ({p}); only one is supported"))),
                _ => {}
            }
        }
        let step = match &l.kind {
            LineKind::Syscall(sc) => Step::Syscall(plan_syscall(sc).map_err(err)?),
            LineKind::Access { op, addr, size } => {
                if *size == 0 || *size > 4096 {
                    return Err(err(format!("access size {size} (1..=4096)")));
                }
                Step::Access {
                    op: *op,
                    addr: *addr,
                    size: *size,
                }
            }
            LineKind::Poke { addr, bytes, .. } => Step::Poke {
                addr: *addr,
                bytes: bytes.clone(),
            },
            LineKind::Peek { addr, len, .. } => {
                if *len > MAX_PEEK {
                    return Err(err(format!("peek of {len} bytes (at most {MAX_PEEK})")));
                }
                Step::Peek { addr: *addr, len: *len }
            }
            LineKind::Cat { pid: cpid, file } => {
                if let ProcPid::Pid(p) = cpid {
                    if pid.is_some_and(|q| q != *p) {
                        return Err(err(format!("cat of another process ({p})")));
                    }
                }
                match file.as_str() {
                    "maps" | "smaps" => Step::Cat { file: file.clone() },
                    _ => Step::Nothing,
                }
            }
            LineKind::Signal { .. } | LineKind::Killed { .. } | LineKind::Exited { .. } => Step::Nothing,
        };
        out.lines.push(PlannedLine { line: l.clone(), step });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use memsim_scenario::ast::{Arg, FlagAtom};

    fn call(name: &str, args: Vec<Arg>, expect: Expect) -> Line {
        Line {
            line: 1,
            pid: None,
            kind: LineKind::Syscall(SyscallLine {
                name: name.to_string(),
                args,
                expect,
                arg_pos: Vec::new(),
            }),
        }
    }
    fn f(n: &str) -> Arg {
        Arg::Flags(vec![FlagAtom::Name(n.to_string())])
    }
    fn s(p: &str) -> Arg {
        Arg::Str {
            bytes: p.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn ranges_outside_the_window_need_an_expected_error() {
        let line = call(
            "munmap",
            vec![Arg::Int(0x7f00_0000_0000), Arg::Int(4096)],
            Expect::Unchecked,
        );
        assert!(plan(&[line]).is_err());
        let line = call(
            "munmap",
            vec![Arg::Int(0x7f00_0000_0000), Arg::Int(4096)],
            Expect::Error("EINVAL".into()),
        );
        assert!(plan(&[line]).is_ok());
        let line = call(
            "munmap",
            vec![Arg::Int(0x1_0000_0000), Arg::Int(8192)],
            Expect::Unchecked,
        );
        assert!(plan(&[line]).is_ok());
    }

    #[test]
    fn files_open_read_only() {
        let ro = call(
            "openat",
            vec![f("AT_FDCWD"), s("/etc/passwd"), f("O_RDONLY")],
            Expect::Unchecked,
        );
        let p = plan(&[ro]).expect("read-only open is fine");
        let Step::Syscall(sc) = &p.lines[0].step else {
            panic!("not a syscall")
        };
        assert_eq!(sc.nr, libc::SYS_openat);
        assert_eq!(sc.args[0], -100i64 as u64);
        assert_eq!(
            sc.path.as_ref().map(|(i, p)| (*i, p.as_bytes())),
            Some((1, &b"/etc/passwd"[..]))
        );
        let rw = call(
            "openat",
            vec![f("AT_FDCWD"), s("/etc/passwd"), f("O_RDWR")],
            Expect::Unchecked,
        );
        assert!(plan(&[rw]).is_err());
        let zero = call(
            "openat",
            vec![f("AT_FDCWD"), s("/dev/zero"), f("O_RDWR")],
            Expect::Unchecked,
        );
        assert!(plan(&[zero]).is_ok());
        let creat = call(
            "open",
            vec![
                s("/tmp/x"),
                Arg::Flags(vec![
                    FlagAtom::Name("O_RDONLY".into()),
                    FlagAtom::Name("O_CREAT".into()),
                ]),
            ],
            Expect::Unchecked,
        );
        assert!(plan(&[creat]).is_err());
    }

    #[test]
    fn brk_and_unknown_calls_are_refused() {
        assert!(plan(&[call("brk", vec![Arg::Int(0)], Expect::Unchecked)]).is_err());
        assert!(plan(&[call("kill", vec![Arg::Int(1), Arg::Int(9)], Expect::Unchecked)]).is_err());
        assert!(plan(&[call("mmap", vec![Arg::Int(0)], Expect::Unchecked)]).is_err());
        assert!(plan(&[call("munmap", vec![Arg::Int(0x1_0000_0000)], Expect::Unchecked)]).is_err());
    }
}
