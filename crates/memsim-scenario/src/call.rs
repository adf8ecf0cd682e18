//! The system calls memsim models, decoded from a [`SyscallLine`] into raw register values ([`Call`]), and
//! executed on the model ([`execute`], [`dispatch`]): memory calls, descriptors, and the process calls (execve,
//! fork, vfork, clone, clone3, exit, exit_group, wait4, waitid, kill, tgkill, tkill, the rlimit calls), whose
//! printed outputs (wait status, siginfo, old limits) are decoded as expectations. `memsim-shadow` decodes
//! with the same [`decode`] and issues memory calls to the real kernel, so both sides run exactly the same
//! operation; it refuses the process calls.

use memsim_core::fs::FileMeta;
use memsim_core::task::{ExitStatus, Rlimit};
use memsim_core::uapi::*;
use memsim_core::{Errno, Kernel, Pid, SysResult};

use crate::args::{arg_u64, ArgError, ArgValue, Args};
use crate::ast::{Arg, SyscallLine};
use crate::parse::signal_number;

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
    /// `fsync(fd)`, or `fdatasync(fd)` when `data_only`.
    Fsync {
        fd: i64,
        data_only: bool,
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
    /// `execve(path, argv, envp)`. `envp` is `None` when strace printed only its address (`0x7ffd... /* 25
    /// vars */`, no `-v`): the environment is unknown and the program runs with an empty one. `truncated`:
    /// strace cut a string or the list short (`-s`, `...`), so the new stack cannot be the real one.
    Execve {
        path: String,
        argv: Vec<Vec<u8>>,
        envp: Option<Vec<Vec<u8>>>,
        truncated: bool,
    },
    Fork,
    Vfork,
    /// `clone(flags, newsp, parent_tid, child_tid, tls)` in x86-64 register order.
    Clone {
        flags: u64,
        newsp: u64,
        parent_tid: u64,
        child_tid: u64,
        tls: u64,
    },
    /// `clone3(&args, size)`.
    Clone3 {
        args: Clone3Args,
        size: u64,
    },
    Exit {
        code: i32,
    },
    ExitGroup {
        code: i32,
    },
    /// `wait4(upid, &status, options, rusage)`. `status` is the wait status strace printed (an output,
    /// checked); `None` when it printed `NULL` or an address.
    Wait4 {
        upid: i64,
        options: u64,
        status: Option<i32>,
    },
    /// `waitid(idtype, id, &info, options, rusage)`. `info` is the siginfo strace printed (checked).
    Waitid {
        idtype: u64,
        id: i64,
        options: u64,
        info: Option<WaitInfo>,
    },
    Kill {
        pid: i64,
        sig: u32,
    },
    Tgkill {
        tgid: i64,
        tid: i64,
        sig: u32,
    },
    Tkill {
        tid: i64,
        sig: u32,
    },
    /// `getrlimit(resource, &old)`: `old` is the printed output (checked).
    Getrlimit {
        resource: u64,
        old: Option<Rlimit>,
    },
    Setrlimit {
        resource: u64,
        new: Rlimit,
    },
    /// `prlimit64(pid, resource, new, &old)`: `new` is an input, `old` the printed output (checked).
    Prlimit64 {
        pid: i64,
        resource: u64,
        new: Option<Rlimit>,
        old: Option<Rlimit>,
    },
    /// `faccessat2(dirfd, path, mode, flags)`; access and faccessat decode with `flags` 0.
    Faccessat2 {
        dirfd: i64,
        path: String,
        mode: u64,
        flags: u64,
    },
    /// `newfstatat(dirfd, path, &st, flags)`; stat, lstat and fstat decode onto it (fstat as AT_EMPTY_PATH).
    /// `st` is the printed structure (checked), `fd_path` the `-y` decoration of `dirfd`.
    Newfstatat {
        dirfd: i64,
        path: String,
        flags: u64,
        st: Option<Box<StatOut>>,
        fd_path: Option<String>,
    },
    /// `statx(dirfd, path, flags, mask, &stx)`.
    Statx {
        dirfd: i64,
        path: String,
        flags: u64,
        mask: u64,
        st: Option<Box<StatOut>>,
        fd_path: Option<String>,
    },
    /// `readlinkat(dirfd, path, buf, bufsiz)`; readlink decodes with AT_FDCWD. `target`: the printed output.
    Readlinkat {
        dirfd: i64,
        path: String,
        bufsiz: i64,
        target: Option<Vec<u8>>,
    },
    /// `getcwd(buf, size)`: `cwd` is the printed output.
    Getcwd {
        size: u64,
        cwd: Option<Vec<u8>>,
    },
    Chdir {
        path: String,
    },
    Fchdir {
        fd: i64,
    },
    /// `statfs(path, &buf)` and `fstatfs(fd, &buf)`: only the result is checked (the model keeps no
    /// file-system statistics).
    Statfs {
        path: String,
    },
    Fstatfs {
        fd: i64,
    },
    /// `personality(persona)`: `setarch -R` logs show `personality(PER_LINUX|ADDR_NO_RANDOMIZE) = 0`.
    Personality {
        persona: u64,
    },
}

/// The fields of a printed `struct stat` or `struct statx` the model knows (the rest are not checked).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatOut {
    pub dev: Option<(u32, u32)>,
    pub ino: Option<u64>,
    pub mode: Option<u32>,
    pub size: Option<u64>,
}

impl StatOut {
    /// The same fields of the model's answer.
    pub fn of(m: &FileMeta) -> StatOut {
        StatOut {
            dev: Some((m.dev_major, m.dev_minor)),
            ino: Some(m.ino),
            mode: Some(m.mode),
            size: Some(m.size),
        }
    }

    /// Does the model's answer agree on every printed field?
    pub fn matches(&self, m: &FileMeta) -> bool {
        self.dev.is_none_or(|d| d == (m.dev_major, m.dev_minor))
            && self.ino.is_none_or(|i| i == m.ino)
            && self.mode.is_none_or(|x| x == m.mode)
            && self.size.is_none_or(|x| x == m.size)
    }
}

/// File type names of `st_mode` (`include/uapi/linux/stat.h`).
pub const S_IF_NAMES: NameTable = &[
    ("S_IFSOCK", 0o140000),
    ("S_IFLNK", 0o120000),
    ("S_IFREG", 0o100000),
    ("S_IFBLK", 0o060000),
    ("S_IFDIR", 0o040000),
    ("S_IFCHR", 0o020000),
    ("S_IFIFO", 0o010000),
    ("S_ISUID", 0o4000),
    ("S_ISGID", 0o2000),
    ("S_ISVTX", 0o1000),
];

/// `makedev(0xfe, 0)` as strace prints a device number.
fn makedev(v: &Arg) -> Result<(u32, u32), ArgError> {
    let bad = || ArgError::new("expected `makedev(MAJOR, MINOR)`");
    let Arg::Other(t) = v else { return Err(bad()) };
    let inner = t
        .strip_prefix("makedev(")
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(bad)?;
    let (a, b) = inner.split_once(',').ok_or_else(bad)?;
    let num = |x: &str| {
        let x = x.trim();
        match x.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16),
            None => x.parse::<u32>(),
        }
        .map_err(|_| bad())
    };
    Ok((num(a)?, num(b)?))
}

/// A printed `struct stat` (`st_dev`, `st_ino`, `st_mode`, `st_size`) or `struct statx` (`stx_dev_major`,
/// `stx_dev_minor`, `stx_ino`, `stx_mode`, `stx_size`); `None` for an address (a failed call).
pub fn stat_out(arg: &Arg) -> Result<Option<StatOut>, ArgError> {
    let fields = match arg {
        Arg::Struct(f) => f,
        Arg::Int(_) => return Ok(None),
        _ => return Err(ArgError::new("expected `{st_dev=..., st_ino=..., ...}`")),
    };
    let mut o = StatOut::default();
    let (mut major, mut minor) = (None, None);
    for (k, v) in fields {
        match k.as_deref() {
            Some("st_dev") => o.dev = Some(makedev(v)?),
            Some("st_ino" | "stx_ino") => o.ino = Some(arg_u64(v, &[])?),
            Some("st_mode" | "stx_mode") => o.mode = Some(arg_u64(v, &[S_IF_NAMES])? as u32),
            Some("st_size" | "stx_size") => o.size = Some(arg_u64(v, &[])?),
            Some("stx_dev_major") => major = Some(arg_u64(v, &[])? as u32),
            Some("stx_dev_minor") => minor = Some(arg_u64(v, &[])? as u32),
            _ => {}
        }
    }
    if let (Some(a), Some(b)) = (major, minor) {
        o.dev = Some((a, b));
    }
    Ok(Some(o))
}

/// A printed output string (readlink's target, getcwd's directory); `None` for an address.
fn out_string(arg: &Arg) -> Option<Vec<u8>> {
    match arg {
        Arg::Str {
            bytes,
            truncated: false,
        } => Some(bytes.clone()),
        _ => None,
    }
}

/// The `-y` decoration of a descriptor argument (`3</usr/lib/libc.so.6>`, `AT_FDCWD</>`).
fn fd_decoration(arg: &Arg) -> Option<String> {
    match arg {
        Arg::Fd { path, .. } => Some(path.clone()),
        _ => None,
    }
}

/// `struct clone_args` (`include/uapi/linux/sched.h`), as clone3 receives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Clone3Args {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: Vec<i64>,
    pub cgroup: u64,
}

/// What waitid wrote into its siginfo, as strace prints it: `{}` (WNOHANG, nothing to report) is `pid` 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitInfo {
    /// `si_code`: CLD_EXITED, CLD_KILLED, CLD_DUMPED, ...
    pub code: u32,
    /// `si_pid`, in the log's PID numbering until the runner maps it.
    pub pid: i64,
    /// `si_status`: the exit code, or the signal.
    pub status: i32,
}

impl Call {
    /// Does strace print this call's result in hex (an address, or personality's flag word)?
    pub fn returns_address(&self) -> bool {
        matches!(
            self,
            Call::Mmap { .. } | Call::Mremap { .. } | Call::Brk { .. } | Call::Personality { .. }
        )
    }

    /// Is this one of the calls that look at files without opening them (stat family, access, readlink,
    /// getcwd, chdir, statfs), run by `files::execute`?
    pub fn is_file_lookup(&self) -> bool {
        matches!(
            self,
            Call::Faccessat2 { .. }
                | Call::Newfstatat { .. }
                | Call::Statx { .. }
                | Call::Readlinkat { .. }
                | Call::Getcwd { .. }
                | Call::Chdir { .. }
                | Call::Fchdir { .. }
                | Call::Statfs { .. }
                | Call::Fstatfs { .. }
        )
    }

    /// Does this call create a task and return its id (fork, vfork, clone, clone3)?
    pub fn creates_task(&self) -> bool {
        matches!(
            self,
            Call::Fork | Call::Vfork | Call::Clone { .. } | Call::Clone3 { .. }
        )
    }

    /// Does the call's result name a task (a new child, or the child wait4 reaped)?
    pub fn returns_pid(&self) -> bool {
        self.creates_task() || matches!(self, Call::Wait4 { .. })
    }

    /// Rewrite every PID argument (and PIDs in printed outputs) with `f`, which maps a positive PID of the
    /// log to the model's. Process-group forms (`kill(-PGID)`, `wait4(-PGID)`) map the group leader; 0 and
    /// -1 keep their meaning.
    pub fn map_pids(&mut self, mut f: impl FnMut(i64) -> i64) {
        let mut group = |v: &mut i64| {
            if *v > 0 {
                *v = f(*v);
            } else if *v < -1 {
                *v = -f(-*v);
            }
        };
        match self {
            Call::Kill { pid, .. } => group(pid),
            Call::Wait4 { upid, .. } => group(upid),
            Call::Tgkill { tgid, tid, .. } => {
                group(tgid);
                group(tid);
            }
            Call::Tkill { tid, .. } => group(tid),
            Call::Prlimit64 { pid, .. } => group(pid),
            Call::Waitid { idtype, id, info, .. } => {
                if matches!(*idtype, P_PID | P_PGID) {
                    group(id);
                }
                if let Some(i) = info {
                    group(&mut i.pid);
                }
            }
            _ => {}
        }
    }
}

/// `idtype_t` of waitid (`include/uapi/linux/wait.h`).
pub const P_ALL: u64 = 0;
pub const P_PID: u64 = 1;
pub const P_PGID: u64 = 2;
pub const P_PIDFD: u64 = 3;
pub const IDTYPE_NAMES: NameTable = &[("P_ALL", 0), ("P_PID", 1), ("P_PGID", 2), ("P_PIDFD", 3)];

/// wait options (`include/uapi/linux/wait.h`).
pub const WNOHANG: u64 = 1;
pub const WEXITED: u64 = 4;
pub const WNOWAIT: u64 = 0x0100_0000;
pub const WAIT_NAMES: NameTable = &[
    ("WNOHANG", 1),
    ("WUNTRACED", 2),
    ("WSTOPPED", 2),
    ("WEXITED", 4),
    ("WCONTINUED", 8),
    ("WNOWAIT", 0x0100_0000),
    ("__WNOTHREAD", 0x2000_0000),
    ("__WALL", 0x4000_0000),
    ("__WCLONE", 0x8000_0000),
];

/// `si_code` values of SIGCHLD (`include/uapi/asm-generic/siginfo.h`).
pub const CLD_EXITED: u32 = 1;
pub const CLD_KILLED: u32 = 2;
pub const CLD_DUMPED: u32 = 3;
pub const CLD_NAMES: NameTable = &[
    ("CLD_EXITED", 1),
    ("CLD_KILLED", 2),
    ("CLD_DUMPED", 3),
    ("CLD_TRAPPED", 4),
    ("CLD_STOPPED", 5),
    ("CLD_CONTINUED", 6),
];

/// Clone flags (`include/uapi/linux/sched.h`); clone's low byte is the exit signal, printed by name.
pub const CLONE_NAMES: NameTable = &[
    ("CLONE_NEWTIME", 0x80),
    ("CLONE_VM", 0x100),
    ("CLONE_FS", 0x200),
    ("CLONE_FILES", 0x400),
    ("CLONE_SIGHAND", 0x800),
    ("CLONE_PIDFD", 0x1000),
    ("CLONE_PTRACE", 0x2000),
    ("CLONE_VFORK", 0x4000),
    ("CLONE_PARENT", 0x8000),
    ("CLONE_THREAD", 0x10000),
    ("CLONE_NEWNS", 0x20000),
    ("CLONE_SYSVSEM", 0x40000),
    ("CLONE_SETTLS", 0x80000),
    ("CLONE_PARENT_SETTID", 0x10_0000),
    ("CLONE_CHILD_CLEARTID", 0x20_0000),
    ("CLONE_DETACHED", 0x40_0000),
    ("CLONE_UNTRACED", 0x80_0000),
    ("CLONE_CHILD_SETTID", 0x100_0000),
    ("CLONE_NEWCGROUP", 0x200_0000),
    ("CLONE_NEWUTS", 0x400_0000),
    ("CLONE_NEWIPC", 0x800_0000),
    ("CLONE_NEWUSER", 0x1000_0000),
    ("CLONE_NEWPID", 0x2000_0000),
    ("CLONE_NEWNET", 0x4000_0000),
    ("CLONE_IO", 0x8000_0000),
    ("CLONE_CLEAR_SIGHAND", 0x1_0000_0000),
    ("CLONE_INTO_CGROUP", 0x2_0000_0000),
];

/// How strace prints unlimited rlimits.
const RLIM_NAMES_PRINTED: NameTable = &[("RLIM_INFINITY", u64::MAX), ("RLIM64_INFINITY", u64::MAX)];

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
    "fsync",
    "fdatasync",
    "dup",
    "dup2",
    "dup3",
    "execve",
    "fork",
    "vfork",
    "clone",
    "clone3",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "kill",
    "tgkill",
    "tkill",
    "getrlimit",
    "setrlimit",
    "prlimit64",
    "access",
    "faccessat",
    "faccessat2",
    "newfstatat",
    "fstat",
    "stat",
    "lstat",
    "statx",
    "readlink",
    "readlinkat",
    "getcwd",
    "chdir",
    "fchdir",
    "personality",
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
        "fsync" | "fdatasync" => {
            a.count(1, 1)?;
            Call::Fsync {
                fd: a.fd(0)?,
                data_only: name == "fdatasync",
            }
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
        "execve" => decode_execve(&a)?,
        "fork" => {
            a.count(0, 0)?;
            Call::Fork
        }
        "vfork" => {
            a.count(0, 0)?;
            Call::Vfork
        }
        "clone" => decode_clone(&a)?,
        "clone3" => {
            // The size arrives with the call's end; an `<unfinished ...>` head has only the structure.
            a.count(1, 2)?;
            Call::Clone3 {
                args: a.decode(0, clone3_args)?,
                size: if a.args.len() > 1 { a.u64(1, &[])? } else { 88 },
            }
        }
        "exit" | "exit_group" => {
            a.count(1, 1)?;
            let code = a.u64(0, &[])? as i32;
            if name == "exit" {
                Call::Exit { code }
            } else {
                Call::ExitGroup { code }
            }
        }
        "wait4" => {
            // A blocked wait4's head (`wait4(-1,  <unfinished ...>`) has only the pid.
            a.count(1, 4)?;
            Call::Wait4 {
                upid: a.u64(0, &[])? as i64,
                status: a.decode_opt(1, wait_status)?,
                options: a.u64_or_0(2, &[WAIT_NAMES])?,
            }
        }
        "waitid" => {
            a.count(2, 5)?;
            Call::Waitid {
                idtype: a.u64(0, &[IDTYPE_NAMES])?,
                id: a.u64(1, &[])? as i64,
                info: a.decode_opt(2, wait_info)?,
                options: a.u64_or_0(3, &[WAIT_NAMES])?,
            }
        }
        "kill" => {
            a.count(2, 2)?;
            Call::Kill {
                pid: a.u64(0, &[])? as i64,
                sig: signal(&a, 1)?,
            }
        }
        "tgkill" => {
            a.count(3, 3)?;
            Call::Tgkill {
                tgid: a.u64(0, &[])? as i64,
                tid: a.u64(1, &[])? as i64,
                sig: signal(&a, 2)?,
            }
        }
        "tkill" => {
            a.count(2, 2)?;
            Call::Tkill {
                tid: a.u64(0, &[])? as i64,
                sig: signal(&a, 1)?,
            }
        }
        "getrlimit" | "ugetrlimit" => {
            a.count(1, 2)?;
            Call::Getrlimit {
                resource: a.u64(0, &[RLIMIT_NAMES])?,
                old: a.decode_opt(1, rlimit)?,
            }
        }
        "setrlimit" => {
            a.count(2, 2)?;
            Call::Setrlimit {
                resource: a.u64(0, &[RLIMIT_NAMES])?,
                new: a
                    .decode(1, rlimit)?
                    .ok_or_else(|| ArgError::new("expected `{rlim_cur=..., rlim_max=...}`").at(1))?,
            }
        }
        "personality" => {
            a.count(1, 1)?;
            Call::Personality {
                persona: a.u64(0, &[PERSONALITY_NAMES])?,
            }
        }
        "prlimit64" => {
            a.count(3, 4)?;
            Call::Prlimit64 {
                pid: a.u64(0, &[])? as i64,
                resource: a.u64(1, &[RLIMIT_NAMES])?,
                new: a.decode(2, rlimit)?,
                old: a.decode_opt(3, rlimit)?,
            }
        }
        "access" | "faccessat" | "faccessat2" | "newfstatat" | "fstat" | "stat" | "lstat" | "statx" | "readlink"
        | "readlinkat" | "getcwd" | "chdir" | "fchdir" | "statfs" | "fstatfs" => match files::decode(name, &a)? {
            Some(c) => c,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(call))
}

/// Looking at files: the stat family, access, readlink, getcwd, chdir.
mod files {
    use super::*;
    use memsim_core::fs::stat::{ACCESS_NAMES, AT_EMPTY_PATH, AT_NAMES, AT_SYMLINK_NOFOLLOW, STATX_NAMES};

    /// A path under `/proc` is not looked up on the host: such a call stays unmodeled (counted).
    fn procfs(path: &str) -> bool {
        path == "/proc" || path.starts_with("/proc/")
    }

    pub(super) fn decode<A: ArgValue>(name: &str, a: &Args<A>) -> Result<Option<Call>, ArgError> {
        let owned = |i: usize| a.get(i).map(|v| v.to_owned_arg());
        let decoration = |i: usize| -> Result<Option<String>, ArgError> { Ok(fd_decoration(&owned(i)?)) };
        let call = match name {
            "access" => {
                a.count(2, 2)?;
                Call::Faccessat2 {
                    dirfd: AT_FDCWD,
                    path: a.path(0)?,
                    mode: a.u64(1, &[ACCESS_NAMES])?,
                    flags: 0,
                }
            }
            "faccessat" | "faccessat2" => {
                a.count(3, 4)?;
                Call::Faccessat2 {
                    dirfd: a.fd(0)?,
                    path: a.path(1)?,
                    mode: a.u64(2, &[ACCESS_NAMES])?,
                    flags: if name == "faccessat2" {
                        a.u64_or_0(3, &[AT_NAMES])?
                    } else {
                        0
                    },
                }
            }
            "newfstatat" => {
                // An `<unfinished ...>` head has no structure and no flags yet.
                a.count(2, 4)?;
                Call::Newfstatat {
                    dirfd: a.fd(0)?,
                    path: a.path(1)?,
                    st: a.decode_opt(2, stat_out)?.map(Box::new),
                    flags: a.u64_or_0(3, &[AT_NAMES])?,
                    fd_path: decoration(0)?,
                }
            }
            "fstat" => {
                a.count(1, 2)?;
                Call::Newfstatat {
                    dirfd: a.fd(0)?,
                    path: String::new(),
                    flags: AT_EMPTY_PATH,
                    st: a.decode_opt(1, stat_out)?.map(Box::new),
                    fd_path: decoration(0)?,
                }
            }
            "stat" | "lstat" => {
                a.count(1, 2)?;
                Call::Newfstatat {
                    dirfd: AT_FDCWD,
                    path: a.path(0)?,
                    flags: if name == "lstat" { AT_SYMLINK_NOFOLLOW } else { 0 },
                    st: a.decode_opt(1, stat_out)?.map(Box::new),
                    fd_path: None,
                }
            }
            "statx" => {
                a.count(4, 5)?;
                Call::Statx {
                    dirfd: a.fd(0)?,
                    path: a.path(1)?,
                    flags: a.u64(2, &[AT_NAMES])?,
                    mask: a.u64(3, &[STATX_NAMES])?,
                    st: a.decode_opt(4, stat_out)?.map(Box::new),
                    fd_path: decoration(0)?,
                }
            }
            "readlink" | "readlinkat" => {
                let k = usize::from(name == "readlinkat");
                a.count(2 + k, 3 + k)?;
                let bufsiz = if a.args.len() > 2 + k {
                    a.u64(2 + k, &[])? as i64
                } else {
                    4096
                };
                Call::Readlinkat {
                    dirfd: if k == 1 { a.fd(0)? } else { AT_FDCWD },
                    path: a.path(k)?,
                    bufsiz,
                    target: a.args.get(1 + k).and_then(|v| out_string(&v.to_owned_arg())),
                }
            }
            "getcwd" => {
                a.count(1, 2)?;
                Call::Getcwd {
                    size: a.u64_or_0(1, &[])?,
                    cwd: out_string(&owned(0)?),
                }
            }
            "chdir" => {
                a.count(1, 1)?;
                Call::Chdir { path: a.path(0)? }
            }
            "fchdir" => {
                a.count(1, 1)?;
                Call::Fchdir { fd: a.fd(0)? }
            }
            "statfs" => {
                a.count(1, 2)?;
                Call::Statfs { path: a.path(0)? }
            }
            "fstatfs" => {
                a.count(1, 2)?;
                if decoration(0)?.as_deref().is_some_and(procfs) {
                    return Ok(None);
                }
                Call::Fstatfs { fd: a.fd(0)? }
            }
            _ => return Ok(None),
        };
        let on_procfs = match &call {
            Call::Faccessat2 { path, .. }
            | Call::Readlinkat { path, .. }
            | Call::Chdir { path }
            | Call::Statfs { path } => procfs(path),
            Call::Newfstatat { path, fd_path, .. } | Call::Statx { path, fd_path, .. } => {
                procfs(path) || (path.is_empty() && fd_path.as_deref().is_some_and(procfs))
            }
            _ => false,
        };
        Ok((!on_procfs).then_some(call))
    }

    /// Run one of them on the model.
    pub(super) fn execute(k: &mut Kernel, pid: Pid, call: &Call) -> Outcome {
        let stat = |r: Result<FileMeta, Errno>| match r {
            Ok(m) => Outcome {
                stat: Some(m),
                ..Outcome::of(Ok(0))
            },
            Err(e) => Outcome::of(Err(e)),
        };
        match *call {
            Call::Faccessat2 {
                dirfd,
                ref path,
                mode,
                flags,
            } => Outcome::of(k.sys_faccessat2(pid, dirfd, path, mode, flags)),
            Call::Newfstatat {
                dirfd, ref path, flags, ..
            } => stat(k.sys_newfstatat(pid, dirfd, path, flags)),
            Call::Statx {
                dirfd,
                ref path,
                flags,
                mask,
                ..
            } => stat(k.sys_statx(pid, dirfd, path, flags, mask)),
            Call::Readlinkat {
                dirfd,
                ref path,
                bufsiz,
                ..
            } => match k.sys_readlinkat(pid, dirfd, path, bufsiz) {
                Ok(t) => Outcome {
                    text: Some(t.clone()),
                    ..Outcome::of(Ok(t.len() as u64))
                },
                Err(e) => Outcome::of(Err(e)),
            },
            Call::Getcwd { size, .. } => match k.sys_getcwd(pid, size) {
                Ok(t) => Outcome {
                    result: Ok(t.len() as u64 + 1),
                    text: Some(t.into_bytes()),
                    ..Outcome::of(Ok(0))
                },
                Err(e) => Outcome::of(Err(e)),
            },
            Call::Chdir { ref path } => Outcome::of(k.sys_chdir(pid, path)),
            Call::Fchdir { fd } => Outcome::of(k.sys_fchdir(pid, fd)),
            Call::Statfs { ref path } => Outcome::of(k.sys_statfs(pid, path)),
            Call::Fstatfs { fd } => Outcome::of(k.sys_fstatfs(pid, fd)),
            _ => Outcome::of(Err(Errno::ENOSYS)),
        }
    }

    /// A printed output the model disagrees with: `(expected, got)`. Structures are compared only where the
    /// log shows the descriptor's file (`-y`) or names a path: a descriptor whose origin the log leaves out
    /// (a pipe the runner stood in for) has no known answer.
    pub fn check_outputs(call: &Call, out: &Outcome) -> Option<(String, String)> {
        if out.result.is_err() {
            return None;
        }
        match call {
            Call::Newfstatat {
                st: Some(want),
                path,
                fd_path,
                ..
            }
            | Call::Statx {
                st: Some(want),
                path,
                fd_path,
                ..
            } => {
                let known = !path.is_empty() || fd_path.as_deref().is_some_and(|p| p.starts_with('/'));
                match &out.stat {
                    Some(m) if known && !want.matches(m) => Some((fmt_stat(want), fmt_stat(&StatOut::of(m)))),
                    _ => None,
                }
            }
            Call::Readlinkat { target: Some(want), .. } | Call::Getcwd { cwd: Some(want), .. }
                if out.text.as_ref() != Some(want) =>
            {
                let q = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
                Some((q(want), q(out.text.as_deref().unwrap_or_default())))
            }
            _ => None,
        }
    }

    /// `AT_FDCWD</usr>`: `-y` shows the working directory a relative lookup starts from; the model's must
    /// be the same.
    pub fn check_cwd(k: &Kernel, pid: Pid, call: &Call) -> Option<(String, String)> {
        let (Call::Newfstatat {
            dirfd,
            fd_path: Some(want),
            ..
        }
        | Call::Statx {
            dirfd,
            fd_path: Some(want),
            ..
        }) = call
        else {
            return None;
        };
        if *dirfd as i32 != AT_FDCWD as i32 {
            return None;
        }
        let got = k.task(pid).ok()?.fs.with(|f| f.cwd.clone());
        (got != *want).then(|| (format!("AT_FDCWD<{want}>"), format!("AT_FDCWD<{got}>")))
    }

    fn fmt_stat(s: &StatOut) -> String {
        let mut v = Vec::new();
        if let Some((a, b)) = s.dev {
            v.push(format!("st_dev=makedev({a:#x}, {b:#x})"));
        }
        if let Some(i) = s.ino {
            v.push(format!("st_ino={i}"));
        }
        if let Some(m) = s.mode {
            v.push(format!("st_mode={m:#o}"));
        }
        if let Some(x) = s.size {
            v.push(format!("st_size={x}"));
        }
        format!("{{{}}}", v.join(", "))
    }
}

pub use files::{check_cwd, check_outputs};

fn signal<A: ArgValue>(a: &Args<A>, i: usize) -> Result<u32, ArgError> {
    let v = a.u64(i, &[SIGNAL_NAMES]).or_else(|e| match a.get(i)?.to_owned_arg() {
        // Real-time signals strace names (`SIGRTMIN`, `SIGRT_3`).
        Arg::Flags(f) if f.len() == 1 => match &f[0] {
            crate::ast::FlagAtom::Name(n) => signal_number(n.as_bytes()).map(u64::from).ok_or(e),
            _ => Err(e),
        },
        _ => Err(e),
    })?;
    u32::try_from(v).map_err(|_| ArgError::new(format!("{v} is not a signal number")).at(i))
}

/// `execve("/bin/ls", ["ls", "/"], ["HOME=/", ...])`, or with `0x7ffd... /* 25 vars */` for the environment.
fn decode_execve<A: ArgValue>(a: &Args<A>) -> Result<Call, ArgError> {
    a.count(3, 3)?;
    let mut truncated = false;
    let path_arg = a.get(0)?.to_owned_arg();
    let path = match &path_arg {
        Arg::Str { bytes, truncated: t } => {
            truncated |= *t;
            String::from_utf8(bytes.clone()).map_err(|_| ArgError::new("the path is not valid UTF-8").at(0))?
        }
        _ => return Err(ArgError::new("expected the program's path").at(0)),
    };
    if path.contains('\0') {
        return Err(ArgError::new("a path cannot contain a NUL byte").at(0));
    }
    let argv = match string_list(&a.get(1)?.to_owned_arg(), &mut truncated).map_err(|e| e.at(1))? {
        Some(v) => v,
        None => {
            // Only an address: the arguments are unknown.
            truncated = true;
            Vec::new()
        }
    };
    let envp = string_list(&a.get(2)?.to_owned_arg(), &mut truncated).map_err(|e| e.at(2))?;
    Ok(Call::Execve {
        path,
        argv,
        envp,
        truncated,
    })
}

/// `["a", "b", ...]` → its strings (`truncated` set when strace cut any short); an address (`NULL`,
/// `0x7ffd...`, the comment stripped) → `None`.
fn string_list(arg: &Arg, truncated: &mut bool) -> Result<Option<Vec<Vec<u8>>>, ArgError> {
    match arg {
        Arg::Array(items) => {
            let mut v = Vec::with_capacity(items.len());
            for it in items {
                match it {
                    Arg::Str { bytes, truncated: t } => {
                        *truncated |= *t;
                        v.push(bytes.clone());
                    }
                    // strace ends a long list with `...` (more than `-s`... entries).
                    Arg::Other(t) if t == "..." => *truncated = true,
                    _ => return Err(ArgError::new("expected a list of strings")),
                }
            }
            Ok(Some(v))
        }
        Arg::Int(_) => Ok(None),
        // `0x7ffd... /* 25 vars */` keeps its comment when it is not a plain number.
        Arg::Other(_) => Ok(None),
        _ => Err(ArgError::new("expected a list of strings or an address")),
    }
}

/// clone's arguments by name: strace prints `child_stack=`, `flags=`, then `parent_tid=`, `child_tidptr=`
/// and `tls=` only when the flags use them (their order has changed between strace versions).
fn decode_clone<A: ArgValue>(a: &Args<A>) -> Result<Call, ArgError> {
    a.count(1, 6)?;
    let (mut flags, mut newsp, mut parent_tid, mut child_tid, mut tls) = (None, 0, 0, 0, 0);
    for (i, arg) in a.args.iter().enumerate() {
        let key = arg
            .key()
            .ok_or_else(|| ArgError::new("expected `name=value` (`flags=CLONE_VM|...`)").at(i))?;
        match key {
            b"flags" => flags = Some(a.u64(i, &[CLONE_NAMES, SIGNAL_NAMES])?),
            b"child_stack" | b"stack" => newsp = a.u64(i, &[])?,
            // `stack_size=` is printed only where the ABI has it (ia64), not on x86.
            b"stack_size" => {}
            b"parent_tid" | b"parent_tidptr" => {
                parent_tid = parent_tid_value(&arg.to_owned_arg()).map_err(|e| e.at(i))?
            }
            b"child_tidptr" | b"child_tid" => child_tid = a.u64(i, &[])?,
            b"tls" => tls = a.u64(i, &[]).unwrap_or(0),
            _ => return Err(ArgError::new(format!("unknown clone argument `{}`", String::from_utf8_lossy(key))).at(i)),
        }
    }
    Ok(Call::Clone {
        flags: flags.ok_or_else(|| ArgError::new("clone needs `flags=`"))?,
        newsp,
        parent_tid,
        child_tid,
        tls,
    })
}

/// `parent_tid=0x7f...`, or `parent_tid=[1236]` when strace printed what the call stored there.
fn parent_tid_value(arg: &Arg) -> Result<u64, ArgError> {
    match arg {
        Arg::Keyed(_, v) => parent_tid_value(v),
        Arg::Array(_) => Ok(0),
        other => arg_u64(other, &[]),
    }
}

/// `{flags=CLONE_VM|..., child_tid=0x..., exit_signal=SIGCHLD, stack=0x..., stack_size=0x..., tls=0x...}`.
fn clone3_args(arg: &Arg) -> Result<Clone3Args, ArgError> {
    let Arg::Struct(fields) = arg else {
        return Err(ArgError::new("expected `{flags=..., ...}`"));
    };
    let mut c = Clone3Args::default();
    for (k, v) in fields {
        let Some(k) = k else { continue };
        match k.as_str() {
            "flags" => c.flags = arg_u64(v, &[CLONE_NAMES])?,
            "pidfd" => c.pidfd = arg_u64(v, &[]).unwrap_or(0),
            "child_tid" => c.child_tid = arg_u64(v, &[])?,
            "parent_tid" => c.parent_tid = parent_tid_value(v)?,
            "exit_signal" => c.exit_signal = arg_u64(v, &[SIGNAL_NAMES])?,
            "stack" => c.stack = arg_u64(v, &[])?,
            "stack_size" => c.stack_size = arg_u64(v, &[])?,
            "tls" => c.tls = arg_u64(v, &[]).unwrap_or(0),
            "set_tid" => {
                if let Arg::Array(items) = v {
                    for it in items {
                        c.set_tid.push(arg_u64(it, &[])? as i64);
                    }
                }
            }
            "set_tid_size" => {}
            "cgroup" => c.cgroup = arg_u64(v, &[])?,
            _ => return Err(ArgError::new(format!("unknown clone3 field `{k}`"))),
        }
    }
    Ok(c)
}

/// The wait status strace prints (`[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]`,
/// `[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]`) as the `int` the kernel stores; `None`
/// for `NULL` or an address.
pub fn wait_status(arg: &Arg) -> Result<Option<i32>, ArgError> {
    let text = match arg {
        Arg::Int(_) => return Ok(None),
        Arg::Array(items) => match items.as_slice() {
            [Arg::Struct(f)] => match f.as_slice() {
                [(None, Arg::Other(t))] => t.clone(),
                [(None, Arg::Flags(atoms))] => atoms
                    .iter()
                    .map(|a| match a {
                        crate::ast::FlagAtom::Name(n) => n.clone(),
                        crate::ast::FlagAtom::Num(n) => n.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("|"),
                _ => return Err(ArgError::new("expected a wait status `[{WIFEXITED(s) && ...}]`")),
            },
            // `[0]`: a raw status.
            [Arg::Int(n)] => return Ok(Some(*n as i32)),
            _ => return Err(ArgError::new("expected a wait status `[{WIFEXITED(s) && ...}]`")),
        },
        _ => return Err(ArgError::new("expected a wait status `[{WIFEXITED(s) && ...}]`")),
    };
    parse_wait_status(&text)
        .map(Some)
        .ok_or_else(|| ArgError::new(format!("unknown wait status `{text}`")))
}

/// `include/uapi/linux/wait.h` encodings: exit code in bits 8..15; the killing signal in 0..6 with 0x80 for
/// a core dump; 0x7f plus the signal for a stop; 0xffff for continued.
fn parse_wait_status(text: &str) -> Option<i32> {
    let mut kind = "";
    let (mut code, mut sig, mut core) = (0i32, 0i32, false);
    for part in text.split("&&").map(str::trim) {
        let num = |s: &str| -> Option<i32> {
            let v = s.rsplit("==").next()?.trim();
            if let Some(n) = v.strip_prefix("0x") {
                return i32::from_str_radix(n, 16).ok();
            }
            v.parse::<i32>()
                .ok()
                .or_else(|| signal_number(v.as_bytes()).map(|s| s as i32))
        };
        match part {
            "WIFEXITED(s)" | "WIFSIGNALED(s)" | "WIFSTOPPED(s)" | "WIFCONTINUED(s)" => kind = part,
            "WCOREDUMP(s)" => core = true,
            p if p.starts_with("WEXITSTATUS(s)") => code = num(p)?,
            p if p.starts_with("WTERMSIG(s)") || p.starts_with("WSTOPSIG(s)") => sig = num(p)?,
            _ => return None,
        }
    }
    match kind {
        "WIFEXITED(s)" => Some((code & 0xff) << 8),
        "WIFSIGNALED(s)" => Some((sig & 0x7f) | if core { 0x80 } else { 0 }),
        "WIFSTOPPED(s)" => Some(((sig & 0xff) << 8) | 0x7f),
        "WIFCONTINUED(s)" => Some(0xffff),
        _ => None,
    }
}

/// waitid's siginfo: `{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=1235, si_uid=0, si_status=3, ...}`,
/// `{}` when nothing was waiting (WNOHANG); `None` for `NULL` or an address.
fn wait_info(arg: &Arg) -> Result<Option<WaitInfo>, ArgError> {
    let fields = match arg {
        Arg::Struct(f) => f,
        Arg::Int(_) => return Ok(None),
        _ => return Err(ArgError::new("expected a siginfo `{si_signo=SIGCHLD, ...}`")),
    };
    let mut info = WaitInfo::default();
    for (k, v) in fields {
        match k.as_deref() {
            Some("si_code") => info.code = arg_u64(v, &[CLD_NAMES])? as u32,
            Some("si_pid") => info.pid = arg_u64(v, &[])? as i64,
            Some("si_status") => info.status = arg_u64(v, &[SIGNAL_NAMES])? as i32,
            _ => {}
        }
    }
    Ok(Some(info))
}

/// `{rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}` (strace prints multiples of 1024 as `N*1024`); `None`
/// for `NULL` or an address.
pub fn rlimit(arg: &Arg) -> Result<Option<Rlimit>, ArgError> {
    let fields = match arg {
        Arg::Struct(f) => f,
        Arg::Int(_) => return Ok(None),
        _ => return Err(ArgError::new("expected `{rlim_cur=..., rlim_max=...}`")),
    };
    let (mut cur, mut max) = (None, None);
    for (k, v) in fields {
        let val = rlim_value(v)?;
        match k.as_deref() {
            Some("rlim_cur") => cur = Some(val),
            Some("rlim_max") => max = Some(val),
            _ => return Err(ArgError::new("expected the fields `rlim_cur` and `rlim_max`")),
        }
    }
    match (cur, max) {
        (Some(cur), Some(max)) => Ok(Some(Rlimit::new(cur, max))),
        _ => Err(ArgError::new("expected the fields `rlim_cur` and `rlim_max`")),
    }
}

fn rlim_value(v: &Arg) -> Result<u64, ArgError> {
    match v {
        Arg::Other(t) if t.contains('*') => {
            let mut acc: u64 = 1;
            for f in t.split('*') {
                let f = f.trim();
                let n = if let Some(h) = f.strip_prefix("0x") {
                    u64::from_str_radix(h, 16)
                } else {
                    f.parse::<u64>()
                }
                .map_err(|_| ArgError::new(format!("expected a limit, found `{t}`")))?;
                acc = acc
                    .checked_mul(n)
                    .ok_or_else(|| ArgError::new(format!("`{t}` does not fit in 64 bits")))?;
            }
            Ok(acc)
        }
        other => arg_u64(other, &[RLIM_NAMES_PRINTED]),
    }
}

/// What a call did in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: SysResult,
    /// mincore's residency vector, when it succeeded.
    pub vec: Option<Vec<u8>>,
    /// wait4's wait status, when it reaped a child.
    pub status: Option<i32>,
    /// waitid's siginfo, when it succeeded.
    pub info: Option<WaitInfo>,
    /// The old limit getrlimit/prlimit64 wrote, when they succeeded.
    pub rlim: Option<Rlimit>,
    /// What the stat family wrote.
    pub stat: Option<FileMeta>,
    /// What readlink and getcwd wrote.
    pub text: Option<Vec<u8>>,
}

impl Outcome {
    pub fn of(result: SysResult) -> Outcome {
        Outcome {
            result,
            vec: None,
            status: None,
            info: None,
            rlim: None,
            stat: None,
            text: None,
        }
    }
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
                    vec: Some(v),
                    ..Outcome::of(Ok(0))
                },
                Err(e) => Outcome::of(Err(e)),
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
        Call::Fsync { fd, data_only: false } => k.sys_fsync(pid, fd),
        Call::Fsync { fd, data_only: true } => k.sys_fdatasync(pid, fd),
        Call::Dup { fd } => k.sys_dup(pid, fd),
        Call::Dup2 { old, new } => k.sys_dup2(pid, old, new),
        Call::Dup3 { old, new, flags } => k.sys_dup3(pid, old, new, flags),
        _ if call.is_file_lookup() => return files::execute(k, pid, call),
        _ => return process::execute(k, pid, call),
    };
    Outcome::of(result)
}

/// The process calls: tasks, exec, exit and wait, signals, limits.
mod process {
    use super::*;
    use memsim_core::kernel::fork::CloneArgs;

    pub(super) fn execute(k: &mut Kernel, pid: Pid, call: &Call) -> Outcome {
        let result = match *call {
            // Without `-v` strace shows only the environment's address: it runs empty.
            Call::Execve {
                ref path,
                ref argv,
                ref envp,
                ..
            } => k.sys_execve(pid, path, argv, envp.as_deref().unwrap_or(&[])),
            Call::Fork => k.sys_fork(pid),
            Call::Vfork => k.sys_vfork(pid),
            Call::Clone {
                flags,
                newsp,
                parent_tid,
                child_tid,
                tls,
            } => k.sys_clone(pid, flags, newsp, parent_tid, child_tid, tls),
            Call::Clone3 { ref args, size } => clone3(k, pid, args, size),
            Call::Exit { code } => k.sys_exit(pid, code),
            Call::ExitGroup { code } => k.sys_exit_group(pid, code),
            Call::Wait4 { upid, options, .. } => {
                return match k.sys_wait4(pid, upid, options) {
                    Ok((p, ws)) => Outcome {
                        status: (p.0 != 0).then_some(ws),
                        ..Outcome::of(Ok(p.0 as u64))
                    },
                    Err(e) => Outcome::of(Err(e)),
                }
            }
            Call::Waitid {
                idtype, id, options, ..
            } => {
                let Ok(which) = u32::try_from(idtype) else {
                    return Outcome::of(Err(Errno::EINVAL));
                };
                return match k.sys_waitid(pid, which, id, options) {
                    Ok(i) => Outcome {
                        info: Some(WaitInfo {
                            code: if i.pid.0 == 0 { 0 } else { i.code as u32 },
                            pid: i.pid.0 as i64,
                            status: if i.pid.0 == 0 { 0 } else { i.status },
                        }),
                        ..Outcome::of(Ok(0))
                    },
                    Err(e) => Outcome::of(Err(e)),
                };
            }
            Call::Kill { pid: target, sig } => k.sys_kill(pid, target, sig),
            // tgkill/tkill address one thread; the model's signals act on whole processes (every signal it
            // delivers is fatal or ignored), so the thread's process gets it. tgkill checks the pairing.
            Call::Tgkill { tgid, tid, sig } => {
                let same = u32::try_from(tid)
                    .ok()
                    .and_then(|t| k.task(Pid(t)).ok())
                    .is_some_and(|t| t.tgid.0 as i64 == tgid);
                if tgid <= 0 || tid <= 0 {
                    Err(Errno::EINVAL)
                } else if !same {
                    Err(Errno::ESRCH)
                } else {
                    k.sys_kill(pid, tid, sig)
                }
            }
            Call::Tkill { tid, sig } => {
                if tid <= 0 {
                    Err(Errno::EINVAL)
                } else {
                    k.sys_kill(pid, tid, sig)
                }
            }
            Call::Getrlimit { resource, .. } => return rlimit_outcome(k.sys_getrlimit(pid, res(resource))),
            Call::Setrlimit { resource, new } => k.sys_setrlimit(pid, res(resource), new).map(|_| 0),
            Call::Prlimit64 {
                pid: target,
                resource,
                new,
                ..
            } => return rlimit_outcome(k.sys_prlimit64(pid, target as u32, res(resource), new)),
            Call::Personality { persona } => k.sys_personality(pid, persona),
            _ => Err(Errno::ENOSYS),
        };
        Outcome::of(result)
    }

    /// A resource number as the kernel's `unsigned int` (an out-of-range one fails there with EINVAL).
    fn res(r: u64) -> usize {
        usize::try_from(r).unwrap_or(usize::MAX)
    }

    fn rlimit_outcome(r: Result<Rlimit, Errno>) -> Outcome {
        match r {
            Ok(old) => Outcome {
                rlim: Some(old),
                ..Outcome::of(Ok(0))
            },
            Err(e) => Outcome::of(Err(e)),
        }
    }

    /// clone3 with the structure strace printed, `size` bytes of it as the caller passed them. `set_tid` is
    /// shown as the array it points to; the model gets its length (the PIDs themselves are the log's).
    fn clone3(k: &mut Kernel, pid: Pid, a: &Clone3Args, size: u64) -> SysResult {
        let args = CloneArgs {
            flags: a.flags,
            pidfd: a.pidfd,
            child_tid: a.child_tid,
            parent_tid: a.parent_tid,
            exit_signal: a.exit_signal,
            stack: a.stack,
            stack_size: a.stack_size,
            tls: a.tls,
            set_tid: 0,
            set_tid_size: a.set_tid.len() as u64,
            cgroup: a.cgroup,
        };
        if size == 88 {
            return k.sys_clone3(pid, &args);
        }
        let len = usize::try_from(size).unwrap_or(usize::MAX).min(4097);
        k.sys_clone3_raw(pid, &args.to_bytes(len))
    }

    /// End a process (`do_exit`).
    pub fn do_exit(k: &mut Kernel, pid: Pid, status: ExitStatus) {
        k.do_exit(pid, status);
    }
}

pub use process::do_exit;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The file calls run on a MemFs machine: results, printed structures, targets and directories checked.
    #[test]
    fn file_calls_are_checked() {
        use memsim_core::fs::MemFs;
        let run = |text: &str| {
            let mut fs = MemFs::new();
            fs.add_dir("/");
            fs.add_dir("/usr");
            fs.add_dir("/usr/bin");
            let cat = fs.add_file("/usr/bin/cat", vec![0; 300]);
            fs.add_symlink("/bin", "usr/bin");
            let k = crate::Machine::default().build(Box::new(fs));
            let text = text.replace("INO", &cat.ino.to_string());
            let mut r = crate::Runner::new(k);
            let s = r.run("t", &text, &mut std::io::sink(), true).unwrap();
            s.failures
                .into_iter()
                .map(|f| (f.line, f.expected, f.got))
                .collect::<Vec<_>>()
        };
        let good = "getcwd(\"/\", 4096) = 2
access(\"/usr/bin/cat\", X_OK) = 0
access(\"/nope\", F_OK) = -1 ENOENT (No such file or directory)
readlink(\"/bin\", \"usr/bin\", 4096) = 7
readlink(\"/usr\", 0x7ffd0000, 4096) = -1 EINVAL (Invalid argument)
chdir(\"/bin\") = 0
getcwd(\"/usr/bin\", 4096) = 9
newfstatat(AT_FDCWD</usr/bin>, \"cat\", {st_dev=makedev(0xfe, 0), st_ino=INO, st_mode=S_IFREG|0755, st_nlink=1, st_size=300}, 0) = 0
openat(AT_FDCWD</usr/bin>, \"cat\", O_RDONLY|O_CLOEXEC) = 3</usr/bin/cat>
fstat(3</usr/bin/cat>, {st_mode=S_IFREG|0755, st_size=300, st_ino=INO}) = 0
statx(AT_FDCWD</usr/bin>, \"cat\", AT_STATX_SYNC_AS_STAT, STATX_ALL, {stx_mask=STATX_BASIC_STATS, stx_mode=S_IFREG|0755, stx_ino=INO, stx_size=300, stx_dev_major=254, stx_dev_minor=0}) = 0
lstat(\"/bin\", {st_mode=S_IFLNK|0777, st_size=7}) = 0
newfstatat(AT_FDCWD</usr/bin>, \"/proc/self/exe\", {st_mode=S_IFREG|0755, st_size=1}, 0) = 0
fchdir(3</usr/bin/cat>) = -1 ENOTDIR (Not a directory)
statfs(\"/selinux\", 0x7fffffffec60) = -1 ENOENT (No such file or directory)
statfs(\"/usr\", {f_type=EXT2_SUPER_MAGIC, f_bsize=4096}) = 0
fstatfs(3</usr/bin/cat>, {f_type=EXT2_SUPER_MAGIC, f_bsize=4096}) = 0
";
        assert_eq!(run(good), vec![]);
        let bad = |from: &str, to: &str| {
            assert!(good.contains(from), "{from}");
            run(&good.replacen(from, to, 1))
        };
        assert_eq!(
            bad("getcwd(\"/usr/bin\"", "getcwd(\"/usr/sbin\""),
            vec![(7, "\"/usr/sbin\"".into(), "\"/usr/bin\"".into())]
        );
        assert_eq!(bad("\"usr/bin\", 4096) = 7", "\"usr/bim\", 4096) = 7")[0].0, 4);
        assert_eq!(bad("st_size=300}, 0)", "st_size=301}, 0)")[0].0, 8);
        assert_eq!(bad("st_size=300, st_ino", "st_size=299, st_ino")[0].0, 10);
        assert_eq!(bad("stx_size=300", "stx_size=3")[0].0, 11);
        assert_eq!(bad("S_IFLNK|0777", "S_IFLNK|0755")[0].0, 12);
        assert_eq!(bad("X_OK) = 0", "X_OK) = -1 EACCES (Permission denied)")[0].0, 2);
        assert_eq!(bad("statfs(\"/usr\"", "statfs(\"/usx\"")[0].0, 16);
        // The working directory `-y` shows for AT_FDCWD is the model's.
        let f = bad("newfstatat(AT_FDCWD</usr/bin>", "newfstatat(AT_FDCWD</usr>");
        assert_eq!(f[0].0, 8);
        assert_eq!(f[0].1, "AT_FDCWD</usr>");
        // A relative path after chdir resolves against the new directory.
        let f = bad("chdir(\"/bin\") = 0", "chdir(\"/\") = 0");
        assert!(f.contains(&(7, "\"/usr/bin\"".into(), "\"/\"".into())), "{f:?}");
        assert!(
            f.contains(&(8, "0".into(), "-1 ENOENT (No such file or directory)".into())),
            "{f:?}"
        );
        assert!(
            f.contains(&(9, "3".into(), "-1 ENOENT (No such file or directory)".into())),
            "{f:?}"
        );
    }
    use crate::ast::LineKind;

    fn dec(text: &str) -> Call {
        let line = crate::parse::parse_line("t", 1, text).unwrap().unwrap();
        let LineKind::Syscall(sc) = line.kind else {
            panic!("{text}")
        };
        decode(&sc).unwrap_or_else(|e| panic!("{text}: {e}")).unwrap()
    }

    /// The decoder and the borrowed fast path agree on every process call (the runner decodes from the scan).
    fn dec_both(text: &str) -> Call {
        let owned = dec(text);
        let scanned = crate::run::prepare("t", text).unwrap();
        match &scanned[0].op {
            crate::run::Op::Call { call, .. } => assert_eq!(call, &owned, "{text}"),
            op => panic!("{text}: {op:?}"),
        }
        owned
    }

    #[test]
    fn execve_with_and_without_the_environment() {
        assert_eq!(
            dec_both(r#"execve("/usr/bin/wc", ["wc", "-l"], ["HOME=/", "LANG=C"]) = 0"#),
            Call::Execve {
                path: "/usr/bin/wc".into(),
                argv: vec![b"wc".to_vec(), b"-l".to_vec()],
                envp: Some(vec![b"HOME=/".to_vec(), b"LANG=C".to_vec()]),
                truncated: false,
            }
        );
        assert_eq!(
            dec_both(r#"execve("/usr/bin/sh", ["sh", "-c", "true"], 0x7ffc1d409e38 /* 35 vars */) = 0"#),
            Call::Execve {
                path: "/usr/bin/sh".into(),
                argv: vec![b"sh".to_vec(), b"-c".to_vec(), b"true".to_vec()],
                envp: None,
                truncated: false,
            }
        );
        let Call::Execve { truncated, argv, .. } =
            dec_both(r#"execve("/bin/echo", ["echo", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"...], []) = 0"#)
        else {
            panic!()
        };
        assert!(truncated);
        assert_eq!(argv[1].len(), 32);
    }

    #[test]
    fn clone_arguments_are_found_by_name() {
        assert_eq!(
            dec_both(
                "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, \
                 child_tidptr=0x7ffff7dd2a10) = 1235"
            ),
            Call::Clone {
                flags: 0x20_0000 | 0x100_0000 | SIGCHLD as u64,
                newsp: 0,
                parent_tid: 0,
                child_tid: 0x7ffff7dd2a10,
                tls: 0,
            }
        );
        // The older order (parent_tidptr, tls, child_tidptr) decodes the same way.
        let Call::Clone {
            flags,
            newsp,
            parent_tid,
            child_tid,
            tls,
        } = dec_both(
            "clone(child_stack=0x7f00ff0, flags=CLONE_VM|CLONE_THREAD|CLONE_SIGHAND|CLONE_SETTLS|CLONE_PARENT_SETTID, \
             parent_tidptr=0x7f009d0, tls=0x7f00700, child_tidptr=0x7f009d0) = 12302",
        )
        else {
            panic!()
        };
        assert_eq!(flags, 0x100 | 0x10000 | 0x800 | 0x80000 | 0x10_0000);
        assert_eq!(
            (newsp, parent_tid, child_tid, tls),
            (0x7f00ff0, 0x7f009d0, 0x7f009d0, 0x7f00700)
        );
        assert_eq!(dec_both("vfork() = 1236"), Call::Vfork);
        assert_eq!(dec_both("fork() = 1236"), Call::Fork);
    }

    #[test]
    fn clone3_structures() {
        let c = dec_both(
            "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|\
             CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7ffff7dd1990, parent_tid=0x7ffff7dd1990, \
             exit_signal=0, stack=0x7ffff75d1000, stack_size=0x7fff80, tls=0x7ffff7dd16c0} => \
             {parent_tid=[13539]}, 88) = 13539",
        );
        assert_eq!(
            c,
            Call::Clone3 {
                args: Clone3Args {
                    flags: 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000 | 0x10_0000 | 0x20_0000,
                    child_tid: 0x7ffff7dd1990,
                    parent_tid: 0x7ffff7dd1990,
                    stack: 0x7ffff75d1000,
                    stack_size: 0x7fff80,
                    tls: 0x7ffff7dd16c0,
                    ..Clone3Args::default()
                },
                size: 88,
            }
        );
        let Call::Clone3 { args, .. } =
            dec_both("clone3({flags=0, exit_signal=SIGCHLD, stack=NULL, stack_size=0}, 88) = 7")
        else {
            panic!()
        };
        assert_eq!(args.exit_signal, SIGCHLD as u64);
    }

    #[test]
    fn wait_statuses() {
        let st = |t: &str| match dec_both(t) {
            Call::Wait4 { status, .. } => status,
            c => panic!("{c:?}"),
        };
        assert_eq!(
            st("wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = 1235"),
            Some(0x300)
        );
        assert_eq!(
            st("wait4(7, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], 0, NULL) = 7"),
            Some(9)
        );
        assert_eq!(
            st("wait4(7, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}], __WALL, NULL) = 7"),
            Some(0x8b)
        );
        assert_eq!(
            st("wait4(-1, 0x7fffffffea0c, WNOHANG, NULL) = -1 ECHILD (No child processes)"),
            None
        );
        assert_eq!(st("wait4(-1, NULL, 0, NULL) = 5"), None);
        assert_eq!(
            dec_both("wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], WNOHANG|__WALL, NULL) = 5"),
            Call::Wait4 {
                upid: -1,
                options: 1 | 0x4000_0000,
                status: Some(0)
            }
        );
        let line = crate::parse::parse_line("t", 1, "wait4(-1, [{WHATEVER(s)}], 0, NULL) = 5")
            .unwrap()
            .unwrap();
        let LineKind::Syscall(sc) = line.kind else { panic!() };
        assert!(decode(&sc).is_err());
        assert_eq!(
            dec_both(
                "waitid(P_PID, 13553, {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=13553, si_uid=0, \
                 si_status=SIGKILL, si_utime=0, si_stime=0}, WEXITED, NULL) = 0"
            ),
            Call::Waitid {
                idtype: P_PID,
                id: 13553,
                options: WEXITED,
                info: Some(WaitInfo {
                    code: CLD_KILLED,
                    pid: 13553,
                    status: 9
                })
            }
        );
        let Call::Waitid { info, .. } = dec_both("waitid(P_ALL, 0, {}, WEXITED|WNOHANG, NULL) = 0") else {
            panic!()
        };
        assert_eq!(info, Some(WaitInfo::default()));
    }

    #[test]
    fn signals_exits_and_limits() {
        assert_eq!(dec_both("kill(13551, SIGKILL) = 0"), Call::Kill { pid: 13551, sig: 9 });
        assert_eq!(dec_both("kill(-5, 0) = 0"), Call::Kill { pid: -5, sig: 0 });
        assert_eq!(
            dec_both("tgkill(5, 6, SIGRTMIN) = 0"),
            Call::Tgkill {
                tgid: 5,
                tid: 6,
                sig: 32
            }
        );
        assert_eq!(dec_both("exit_group(3) = ?"), Call::ExitGroup { code: 3 });
        assert_eq!(dec_both("exit(0) = ?"), Call::Exit { code: 0 });
        assert_eq!(
            dec_both("prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0"),
            Call::Prlimit64 {
                pid: 0,
                resource: RLIMIT_STACK as u64,
                new: None,
                old: Some(Rlimit::new(8 << 20, RLIM_INFINITY))
            }
        );
        assert_eq!(
            dec_both("prlimit64(0, RLIMIT_CORE, {rlim_cur=0, rlim_max=0}, NULL) = 0"),
            Call::Prlimit64 {
                pid: 0,
                resource: RLIMIT_CORE as u64,
                new: Some(Rlimit::new(0, 0)),
                old: None
            }
        );
        assert_eq!(
            dec_both("getrlimit(RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=4*1024}) = 0"),
            Call::Getrlimit {
                resource: RLIMIT_NOFILE as u64,
                old: Some(Rlimit::new(1024, 4096))
            }
        );
        assert_eq!(
            dec_both("setrlimit(RLIMIT_AS, {rlim_cur=1024*1024*1024, rlim_max=RLIM_INFINITY}) = 0"),
            Call::Setrlimit {
                resource: RLIMIT_AS as u64,
                new: Rlimit::new(1 << 30, RLIM_INFINITY)
            }
        );
        for bad in [
            "setrlimit(RLIMIT_AS, NULL) = -1 EFAULT (Bad address)",
            "prlimit64(0, RLIMIT_AS, {rlim_cur=1*x}, NULL) = 0",
            "clone(flags=CLONE_BOGUS) = 1",
            "kill(1, SIGNOPE) = 0",
        ] {
            let line = crate::parse::parse_line("t", 1, bad).unwrap().unwrap();
            let LineKind::Syscall(sc) = line.kind else { panic!() };
            assert!(decode(&sc).is_err(), "{bad}");
        }
    }

    #[test]
    fn pids_are_mapped_in_arguments_and_outputs() {
        let f = |p: i64| p + 1000;
        let mut c = dec("kill(-7, SIGTERM) = 0");
        c.map_pids(f);
        assert_eq!(c, Call::Kill { pid: -1007, sig: 15 });
        let mut c = dec("wait4(-1, NULL, 0, NULL) = 5");
        c.map_pids(f);
        assert!(matches!(c, Call::Wait4 { upid: -1, .. }));
        let mut c =
            dec("waitid(P_PID, 3, {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=3, si_status=0}, WEXITED, NULL) = 0");
        c.map_pids(f);
        let Call::Waitid { id, info, .. } = c else { panic!() };
        assert_eq!((id, info.unwrap().pid), (1003, 1003));
        let mut c = dec("prlimit64(0, RLIMIT_NOFILE, NULL, NULL) = 0");
        c.map_pids(f);
        assert!(matches!(c, Call::Prlimit64 { pid: 0, .. }));
    }
}
