//! The system calls memsim models, decoded from a [`SyscallLine`] into raw register values ([`Call`]), and
//! executed on the model ([`execute`], [`dispatch`]). `memsim-shadow` decodes with the same [`decode`] and
//! issues the call to the real kernel, so both sides run exactly the same operation.

use memsim_core::uapi::*;
use memsim_core::{Errno, Kernel, Pid, SysResult};

use crate::args::{ArgError, ArgValue, Args};
use crate::ast::SyscallLine;

/// One modeled system call with its arguments as the kernel receives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Mmap {
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        fd: i64,
        off: u64,
    },
    Munmap {
        addr: u64,
        len: u64,
    },
    Mprotect {
        start: u64,
        len: u64,
        prot: u64,
    },
    Mremap {
        old_addr: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
        new_addr: u64,
    },
    Brk {
        addr: u64,
    },
    Madvise {
        start: u64,
        len: u64,
        advice: u64,
    },
    Mlock {
        start: u64,
        len: u64,
    },
    Mlock2 {
        start: u64,
        len: u64,
        flags: u64,
    },
    Munlock {
        start: u64,
        len: u64,
    },
    Mlockall {
        flags: u64,
    },
    Munlockall,
    /// `vec` is the residency vector strace printed (an output: checked, not passed in); `None` when strace
    /// printed an address instead. `vec_complete` is false when it ended in `...`.
    Mincore {
        start: u64,
        len: u64,
        vec: Option<Vec<u8>>,
        vec_complete: bool,
    },
    Msync {
        start: u64,
        len: u64,
        flags: u64,
    },
    /// `open(path, flags, mode)` decodes as `openat(AT_FDCWD, ...)`.
    Openat {
        dirfd: i64,
        path: String,
        flags: u64,
        mode: u64,
    },
    Close {
        fd: i64,
    },
    Dup {
        fd: i64,
    },
    Dup2 {
        old: i64,
        new: i64,
    },
    Dup3 {
        old: i64,
        new: i64,
        flags: u64,
    },
}

impl Call {
    /// Does this call return an address (strace prints the result in hex)?
    pub fn returns_address(&self) -> bool {
        matches!(self, Call::Mmap { .. } | Call::Mremap { .. } | Call::Brk { .. })
    }
}

/// Names of every call [`decode`] understands.
pub const MODELED: &[&str] = &[
    "mmap",
    "mmap2",
    "munmap",
    "mprotect",
    "mremap",
    "brk",
    "madvise",
    "mlock",
    "mlock2",
    "munlock",
    "mlockall",
    "munlockall",
    "mincore",
    "msync",
    "openat",
    "open",
    "close",
    "dup",
    "dup2",
    "dup3",
];

/// Decode a system call line. `Ok(None)` for calls memsim does not model (they are counted, not run).
pub fn decode(line: &SyscallLine) -> Result<Option<Call>, ArgError> {
    decode_args(&line.name, &line.args)
}

/// Decode a call from its name and arguments, owned or borrowed.
pub fn decode_args<A: ArgValue>(name: &str, args: &[A]) -> Result<Option<Call>, ArgError> {
    let a = Args::new(args);
    let mmap_flags: &[NameTable] = &[MAP_TYPE_NAMES, MAP_FLAG_NAMES];
    let call = match name {
        "mmap" => {
            a.count(6, 6)?;
            Call::Mmap {
                addr: a.u64(0, &[])?,
                len: a.u64(1, &[])?,
                prot: a.u64(2, &[PROT_NAMES])?,
                flags: a.u64(3, mmap_flags)?,
                fd: a.fd(4)?,
                off: a.u64(5, &[])?,
            }
        }
        // 32-bit processes (`--arch i386`) call mmap2, whose offset counts 4 KiB units.
        "mmap2" => {
            a.count(6, 6)?;
            let pgoff = a.u64(5, &[])?;
            Call::Mmap {
                addr: a.u64(0, &[])?,
                len: a.u64(1, &[])?,
                prot: a.u64(2, &[PROT_NAMES])?,
                flags: a.u64(3, mmap_flags)?,
                fd: a.fd(4)?,
                off: pgoff
                    .checked_mul(4096)
                    .ok_or_else(|| ArgError::new("page offset too large").at(5))?,
            }
        }
        "munmap" => {
            a.count(2, 2)?;
            Call::Munmap {
                addr: a.u64(0, &[])?,
                len: a.u64(1, &[])?,
            }
        }
        "mprotect" => {
            a.count(3, 3)?;
            Call::Mprotect {
                start: a.u64(0, &[])?,
                len: a.u64(1, &[])?,
                prot: a.u64(2, &[PROT_NAMES])?,
            }
        }
        "mremap" => {
            // strace prints the fifth argument only when MREMAP_FIXED is set.
            a.count(4, 5)?;
            Call::Mremap {
                old_addr: a.u64(0, &[])?,
                old_len: a.u64(1, &[])?,
                new_len: a.u64(2, &[])?,
                flags: a.u64(3, &[MREMAP_NAMES])?,
                new_addr: a.u64_or_0(4, &[])?,
            }
        }
        "brk" => {
            a.count(1, 1)?;
            Call::Brk { addr: a.u64(0, &[])? }
        }
        "madvise" => {
            a.count(3, 3)?;
            Call::Madvise {
                start: a.u64(0, &[])?,
                len: a.u64(1, &[])?,
                advice: a.u64(2, &[MADV_NAMES])?,
            }
        }
        "mlock" => {
            a.count(2, 2)?;
            Call::Mlock {
                start: a.u64(0, &[])?,
                len: a.u64(1, &[])?,
            }
        }
        "mlock2" => {
            a.count(2, 3)?;
            Call::Mlock2 {
                start: a.u64(0, &[])?,
                len: a.u64(1, &[])?,
                flags: a.u64_or_0(2, &[MLOCK_NAMES])?,
            }
        }
        "munlock" => {
            a.count(2, 2)?;
            Call::Munlock {
                start: a.u64(0, &[])?,
                len: a.u64(1, &[])?,
            }
        }
        "mlockall" => {
            a.count(1, 1)?;
            Call::Mlockall {
                flags: a.u64(0, &[MCL_NAMES])?,
            }
        }
        "munlockall" => {
            a.count(0, 0)?;
            Call::Munlockall
        }
        "mincore" => {
            a.count(3, 3)?;
            let (vec, vec_complete) = a.byte_vector(2)?;
            Call::Mincore {
                start: a.u64(0, &[])?,
                len: a.u64(1, &[])?,
                vec,
                vec_complete,
            }
        }
        "msync" => {
            a.count(3, 3)?;
            Call::Msync {
                start: a.u64(0, &[])?,
                len: a.u64(1, &[])?,
                flags: a.u64(2, &[MS_NAMES])?,
            }
        }
        "openat" => {
            // strace prints the mode only with O_CREAT or O_TMPFILE.
            a.count(3, 4)?;
            Call::Openat {
                dirfd: a.fd(0)?,
                path: a.path(1)?,
                flags: a.u64(2, &[O_NAMES])?,
                mode: a.u64_or_0(3, &[])?,
            }
        }
        "open" => {
            a.count(2, 3)?;
            Call::Openat {
                dirfd: AT_FDCWD,
                path: a.path(0)?,
                flags: a.u64(1, &[O_NAMES])?,
                mode: a.u64_or_0(2, &[])?,
            }
        }
        "close" => {
            a.count(1, 1)?;
            Call::Close { fd: a.fd(0)? }
        }
        "dup" => {
            a.count(1, 1)?;
            Call::Dup { fd: a.fd(0)? }
        }
        "dup2" => {
            a.count(2, 2)?;
            Call::Dup2 {
                old: a.fd(0)?,
                new: a.fd(1)?,
            }
        }
        "dup3" => {
            a.count(3, 3)?;
            Call::Dup3 {
                old: a.fd(0)?,
                new: a.fd(1)?,
                flags: a.u64(2, &[O_NAMES])?,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(call))
}

/// What a call did in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: SysResult,
    /// mincore's residency vector, when it succeeded.
    pub vec: Option<Vec<u8>>,
}

/// Run a decoded call on the model as process `pid`.
pub fn execute(k: &mut Kernel, pid: Pid, call: &Call) -> Outcome {
    let result = match *call {
        Call::Mmap {
            addr,
            len,
            prot,
            flags,
            fd,
            off,
        } => k.sys_mmap(pid, addr, len, prot, flags, fd, off),
        Call::Munmap { addr, len } => k.sys_munmap(pid, addr, len),
        Call::Mprotect { start, len, prot } => k.sys_mprotect(pid, start, len, prot),
        Call::Mremap {
            old_addr,
            old_len,
            new_len,
            flags,
            new_addr,
        } => k.sys_mremap(pid, old_addr, old_len, new_len, flags, new_addr),
        Call::Brk { addr } => k.sys_brk(pid, addr),
        Call::Madvise { start, len, advice } => k.sys_madvise(pid, start, len, advice),
        Call::Mlock { start, len } => k.sys_mlock(pid, start, len),
        Call::Mlock2 { start, len, flags } => k.sys_mlock2(pid, start, len, flags),
        Call::Munlock { start, len } => k.sys_munlock(pid, start, len),
        Call::Mlockall { flags } => k.sys_mlockall(pid, flags),
        Call::Munlockall => k.sys_munlockall(pid),
        Call::Mincore { start, len, .. } => {
            return match k.sys_mincore(pid, start, len) {
                Ok(v) => Outcome {
                    result: Ok(0),
                    vec: Some(v),
                },
                Err(e) => Outcome {
                    result: Err(e),
                    vec: None,
                },
            };
        }
        Call::Msync { start, len, flags } => k.sys_msync(pid, start, len, flags),
        Call::Openat {
            dirfd,
            ref path,
            flags,
            mode,
        } => k.sys_openat(pid, dirfd, path, flags, mode),
        Call::Close { fd } => k.sys_close(pid, fd),
        Call::Dup { fd } => k.sys_dup(pid, fd),
        Call::Dup2 { old, new } => k.sys_dup2(pid, old, new),
        Call::Dup3 { old, new, flags } => k.sys_dup3(pid, old, new, flags),
    };
    Outcome { result, vec: None }
}

/// Decode and run one system call line on the model. `Ok(None)` for calls memsim does not model.
pub fn dispatch(k: &mut Kernel, pid: Pid, line: &SyscallLine) -> Result<Option<(Call, Outcome)>, ArgError> {
    let Some(call) = decode(line)? else { return Ok(None) };
    let out = execute(k, pid, &call);
    Ok(Some((call, out)))
}

/// Format a result as strace would: `0x7f..` for addresses, a decimal otherwise, `-1 ENOMEM (Cannot allocate
/// memory)` for errors.
pub fn format_result(result: &SysResult, hex: bool) -> String {
    match result {
        Ok(v) if hex => format!("{v:#x}"),
        Ok(v) => format!("{}", *v as i64),
        Err(e) => format!("-1 {} ({})", e.name(), e.strerror()),
    }
}

/// Does `expected` (an errno name as strace printed it) name `got`?
pub fn errno_matches(expected: &str, got: Errno) -> bool {
    match Errno::from_name(expected) {
        Some(e) => e == got,
        None => expected == got.name(),
    }
}
