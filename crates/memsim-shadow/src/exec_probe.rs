//! Post-exec layouts: run a real program up to its first instruction and hold the model's `execve` against it.
//!
//! The kernel side ([`exec_real`]) forks; the child turns address-space randomization off for itself
//! (`personality(ADDR_NO_RANDOMIZE)`, what `setarch -R` does), sets a fixed RLIMIT_STACK (the stack size
//! and `mmap_base` depend on it), asks to be traced (`PTRACE_TRACEME`) and calls `execve`. A traced process
//! that execs stops with SIGTRAP before it runs a single user instruction (`fs/exec.c: exec_binprm` →
//! `ptrace_event(PTRACE_EVENT_EXEC)`, which for a `PTRACE_TRACEME` tracee without options is a plain
//! SIGTRAP): its `/proc/PID/maps`, the mm boundaries in `/proc/PID/stat`, `/proc/PID/auxv` and its registers
//! are exactly what `load_elf_binary` left. The parent reads them, kills the child and reaps it.
//!
//! The model side ([`exec_model`]) builds a `Kernel` configured like this host (its `randomize_va_space`,
//! PID 1 with ADDR_NO_RANDOMIZE) and the same limits, calls `Kernel::sys_execve` on PID 1 with the same argv and envp, and renders the
//! same files. [`compare`] puts the two side by side, maps byte for byte (device and inode included);
//! [`compare_stacks`] compares the initial stacks (pointers, auxv and strings; the AT_RANDOM bytes masked).
//!
//! With `ExecSpec::randomize` the child keeps address-space randomization and the model runs with the host's
//! `randomize_va_space` and a seed: addresses then differ, and [`compare_shapes`] compares what must not
//! (each VMA's size, permissions, file and adjacency, and the mm boundaries' places within their VMAs).

use std::ffi::CString;
use std::io;

use memsim_core::task::Rlimit;
use memsim_core::uapi::RLIMIT_STACK;

use crate::host::HostConfig;

/// One exec to probe: the file, its argument and environment strings, and the stack limit to run it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecSpec {
    pub path: String,
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    /// The soft RLIMIT_STACK in bytes (the hard limit is left as it is).
    pub stack_limit: u64,
    /// Run with address-space randomization (the host's `randomize_va_space`, ADDR_NO_RANDOMIZE cleared)
    /// instead of without. Layouts then agree only in shape ([`shape`]).
    pub randomize: bool,
    /// The model's random seed (used when `randomize`).
    pub seed: u64,
}

/// The fixed environment every probe uses, so that stack contents do not depend on the caller's.
pub fn fixed_envp() -> Vec<Vec<u8>> {
    ["PATH=/usr/bin:/bin", "HOME=/", "LANG=C", "TERM=dumb"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

/// The default stack limit of the probes: 8 MiB, the usual default (`_STK_LIM`).
pub const STACK_LIMIT: u64 = 8 << 20;

impl ExecSpec {
    /// `path` with `argv` (argv\[0\] included) and the fixed environment, under an 8 MiB stack limit.
    pub fn new(path: &str, argv: &[&str]) -> ExecSpec {
        ExecSpec {
            path: path.to_string(),
            argv: argv.iter().map(|s| s.as_bytes().to_vec()).collect(),
            envp: fixed_envp(),
            stack_limit: STACK_LIMIT,
            randomize: false,
            seed: 0,
        }
    }
}

/// The mm boundaries `/proc/PID/stat` shows (fields 26-28 and 45-51), named as in `mm_struct`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmBounds {
    pub start_code: u64,
    pub end_code: u64,
    pub start_stack: u64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_brk: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
}

impl MmBounds {
    /// `(name, value)` in `mm_struct` order.
    pub fn fields(&self) -> [(&'static str, u64); 10] {
        [
            ("start_code", self.start_code),
            ("end_code", self.end_code),
            ("start_data", self.start_data),
            ("end_data", self.end_data),
            ("start_brk", self.start_brk),
            ("start_stack", self.start_stack),
            ("arg_start", self.arg_start),
            ("arg_end", self.arg_end),
            ("env_start", self.env_start),
            ("env_end", self.env_end),
        ]
    }

    /// Parse `/proc/PID/stat` (`fs/proc/array.c: do_task_stat`). Fields are counted from 1; the command
    /// name (field 2) may contain spaces and parentheses, so counting starts after the last `)`.
    pub fn from_stat(stat: &str) -> Result<MmBounds, String> {
        let rest = stat
            .rfind(')')
            .map(|i| &stat[i + 1..])
            .ok_or_else(|| format!("no `)` in stat: {stat:?}"))?;
        // `rest` starts with field 3.
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| -> Result<u64, String> {
            let s = f.get(n - 3).ok_or_else(|| format!("stat has no field {n}"))?;
            s.parse::<u64>()
                .map_err(|_| format!("stat field {n} `{s}` is not a number"))
        };
        Ok(MmBounds {
            start_code: field(26)?,
            end_code: field(27)?,
            start_stack: field(28)?,
            start_data: field(45)?,
            end_data: field(46)?,
            start_brk: field(47)?,
            arg_start: field(48)?,
            arg_end: field(49)?,
            env_start: field(50)?,
            env_end: field(51)?,
        })
    }
}

/// What one exec left, as `/proc` and the registers show it at the first instruction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecLayout {
    /// `/proc/PID/maps`.
    pub maps: String,
    pub bounds: MmBounds,
    /// The instruction pointer and stack pointer at the first instruction, when known.
    pub rip: Option<u64>,
    pub rsp: Option<u64>,
    /// `/proc/PID/auxv` as (type, value) pairs up to and excluding AT_NULL, when known.
    pub auxv: Vec<(u64, u64)>,
    /// The initial stack's bytes from `start_stack` (argc) to the end of the `[stack]` VMA.
    pub stack: Vec<u8>,
    /// `/proc/PID/smaps` and `/proc/PID/status` (empty when not read).
    pub smaps: String,
    pub status: String,
    /// Other `/proc/PID` files exec determines ([`PROC_FILES`]), by name; absent when not readable.
    pub proc: std::collections::BTreeMap<String, Vec<u8>>,
}

/// The `/proc/PID` files besides maps, smaps and status whose contents exec decides: the command line and
/// environment (the strings exec copied), the command name (the file's base name, `__set_task_comm`), and
/// `statm` (the page counts of the new mm).
pub const PROC_FILES: [&str; 4] = ["cmdline", "environ", "comm", "statm"];

/// `AT_*` auxv types used here (`include/uapi/linux/auxvec.h`).
pub const AT_BASE: u64 = 7;
pub const AT_ENTRY: u64 = 9;

impl ExecLayout {
    pub fn auxv_get(&self, ty: u64) -> Option<u64> {
        self.auxv.iter().find(|&&(t, _)| t == ty).map(|&(_, v)| v)
    }
}

/// Parse `/proc/PID/auxv`: native-endian u64 pairs, ending at AT_NULL.
pub fn parse_auxv(bytes: &[u8]) -> Vec<(u64, u64)> {
    let word = |c: &[u8]| c.try_into().map(u64::from_ne_bytes).unwrap_or(0);
    let mut out = Vec::new();
    for pair in bytes.chunks_exact(16) {
        let (t, v) = (word(&pair[..8]), word(&pair[8..]));
        if t == 0 {
            break;
        }
        out.push((t, v));
    }
    out
}

fn cstrings(v: &[Vec<u8>]) -> io::Result<Vec<CString>> {
    v.iter()
        .map(|s| CString::new(s.clone()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a string")))
        .collect()
}

/// The child's exit status when a step of its setup failed (it has no other way to report). `execve`'s own
/// errno is the exit status otherwise; it never returns these (EMEDIUMTYPE, ECANCELED, ENOKEY).
const FAILED_PERSONALITY: i32 = 124;
const FAILED_SETRLIMIT: i32 = 125;
const FAILED_TRACEME: i32 = 126;

/// How an exec ended, when it did not reach the first instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecFailure {
    /// `execve` returned -1 with this errno.
    Errno(i32),
    /// The process died of this signal inside `execve` (an error after the point of no return).
    Killed(i32),
    /// The harness failed (fork, setup, reading /proc).
    Harness(String),
}

impl std::fmt::Display for ExecFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecFailure::Errno(e) => match memsim_core::Errno::from_code(*e) {
                Some(e) => write!(f, "execve failed with {}", e.name()),
                None => write!(f, "execve failed with errno {e}"),
            },
            ExecFailure::Killed(sig) => write!(f, "killed by signal {sig} in execve"),
            ExecFailure::Harness(m) => f.write_str(m),
        }
    }
}

/// Run `spec` for real up to its first instruction (see the module documentation) and read its layout.
pub fn exec_real(spec: &ExecSpec) -> Result<ExecLayout, String> {
    exec_real_outcome(spec).map_err(|e| e.to_string())
}

/// [`exec_real`], telling a failed `execve` (its errno, or the signal that killed the process) apart from a
/// failure of the harness.
pub fn exec_real_outcome(spec: &ExecSpec) -> Result<ExecLayout, ExecFailure> {
    let h = ExecFailure::Harness;
    let path = CString::new(spec.path.as_bytes()).map_err(|_| h("NUL in the path".to_string()))?;
    let argv = cstrings(&spec.argv).map_err(|e| h(e.to_string()))?;
    let envp = cstrings(&spec.envp).map_err(|e| h(e.to_string()))?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `old` is a valid out pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut old) } != 0 {
        return Err(h(format!("getrlimit: {}", io::Error::last_os_error())));
    }
    if spec.stack_limit > old.rlim_max {
        return Err(h(format!(
            "the stack limit {} exceeds this process's hard limit {}",
            spec.stack_limit, old.rlim_max
        )));
    }
    let stack = libc::rlimit {
        rlim_cur: spec.stack_limit,
        rlim_max: old.rlim_max,
    };
    // SAFETY: 0xffffffff only queries the persona (`kernel/exec_domain.c: ksys_personality`).
    let current = unsafe { libc::personality(0xffff_ffff) };
    if current == -1 {
        return Err(h(format!("personality: {}", io::Error::last_os_error())));
    }
    let persona = if spec.randomize {
        current as libc::c_ulong & !(libc::ADDR_NO_RANDOMIZE as libc::c_ulong)
    } else {
        // PER_LINUX | ADDR_NO_RANDOMIZE, as `setarch -R` sets it.
        libc::ADDR_NO_RANDOMIZE as libc::c_ulong
    };

    // SAFETY: fork has no memory-safety preconditions. The child only makes system calls on memory prepared
    // above (no allocation, no locks: this process may have other threads) and then execs or `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(h(format!("fork: {}", io::Error::last_os_error())));
    }
    if pid == 0 {
        // SAFETY: the freshly forked child; every pointer refers to memory made before fork and still valid
        // (argv/envp arrays end with NULL). The block never returns.
        unsafe {
            if libc::personality(persona) == -1 {
                libc::_exit(FAILED_PERSONALITY);
            }
            if libc::setrlimit(libc::RLIMIT_STACK, &stack) != 0 {
                libc::_exit(FAILED_SETRLIMIT);
            }
            let traceme = libc::ptrace(
                libc::PTRACE_TRACEME,
                0 as libc::pid_t,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            );
            if traceme != 0 {
                libc::_exit(FAILED_TRACEME);
            }
            // execve returned: its errno is the exit status. ETXTBSY is retried for a while: a file this test
            // process just wrote (a script) can still be open for writing in a child another test thread
            // forked meanwhile, until that child execs.
            let mut tries = 0;
            loop {
                libc::execve(path.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr());
                let e = *libc::__errno_location();
                if e != libc::ETXTBSY || tries == 100 {
                    libc::_exit(e);
                }
                tries += 1;
                let pause = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 2_000_000,
                };
                libc::nanosleep(&pause, std::ptr::null_mut());
            }
        }
    }
    let result = inspect_stopped(pid);
    // SAFETY: `pid` is our own child (stopped or already gone); SIGKILL ends a traced stop too.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let mut status = 0;
    // SAFETY: reaping our own child; `status` is a valid out pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    result
}

/// Wait for the exec stop of child `pid` and read its layout. The caller kills and reaps the child.
fn inspect_stopped(pid: libc::pid_t) -> Result<ExecLayout, ExecFailure> {
    let mut status = 0;
    // SAFETY: waiting for our own child; `status` is a valid out pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    if r != pid {
        return Err(ExecFailure::Harness(format!("waitpid: {}", io::Error::last_os_error())));
    }
    if libc::WIFEXITED(status) {
        return Err(match libc::WEXITSTATUS(status) {
            FAILED_PERSONALITY => ExecFailure::Harness(
                "personality(ADDR_NO_RANDOMIZE) failed in the child (a seccomp filter may forbid it)".into(),
            ),
            FAILED_SETRLIMIT => ExecFailure::Harness("setrlimit(RLIMIT_STACK) failed in the child".into()),
            FAILED_TRACEME => {
                ExecFailure::Harness("ptrace(PTRACE_TRACEME) failed in the child (ptrace may be forbidden here)".into())
            }
            e => ExecFailure::Errno(e),
        });
    }
    if libc::WIFSIGNALED(status) {
        return Err(ExecFailure::Killed(libc::WTERMSIG(status)));
    }
    // An error after the point of no return kills the process with SIGSEGV (`fs/exec.c: bprm_execve` →
    // `force_fatal_sig`); a tracee first stops to deliver that signal, before any exec SIGTRAP.
    if libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) != libc::SIGTRAP {
        return Err(ExecFailure::Killed(libc::WSTOPSIG(status)));
    }
    if !libc::WIFSTOPPED(status) || libc::WSTOPSIG(status) != libc::SIGTRAP {
        return Err(ExecFailure::Harness(format!(
            "unexpected wait status {status:#x} (expected the exec SIGTRAP stop)"
        )));
    }
    inspect_layout(pid).map_err(ExecFailure::Harness)
}

/// Read the layout of the stopped tracee `pid`.
fn inspect_layout(pid: libc::pid_t) -> Result<ExecLayout, String> {
    let read = |f: &str| std::fs::read(format!("/proc/{pid}/{f}")).map_err(|e| format!("/proc/{pid}/{f}: {e}"));
    let maps = String::from_utf8_lossy(&read("maps")?).into_owned();
    let smaps = String::from_utf8_lossy(&read("smaps")?).into_owned();
    let status = String::from_utf8_lossy(&read("status")?).into_owned();
    let proc = PROC_FILES
        .iter()
        .filter_map(|f| Some((f.to_string(), read(f).ok()?)))
        .collect();
    let bounds = MmBounds::from_stat(&String::from_utf8_lossy(&read("stat")?))?;
    let auxv = parse_auxv(&read("auxv")?);
    let stack = match stack_end(&maps) {
        Some(end) if end > bounds.start_stack => {
            use std::os::unix::fs::FileExt;
            let mem = std::fs::File::open(format!("/proc/{pid}/mem")).map_err(|e| format!("/proc/{pid}/mem: {e}"))?;
            let mut buf = vec![0u8; (end - bounds.start_stack) as usize];
            mem.read_exact_at(&mut buf, bounds.start_stack)
                .map_err(|e| format!("reading the stack from /proc/{pid}/mem: {e}"))?;
            buf
        }
        _ => Vec::new(),
    };
    // SAFETY: an all-zero `user_regs_struct` is a valid value (plain integers).
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our tracee, stopped; PTRACE_GETREGS writes one `user_regs_struct` to `regs`.
    let got = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGS,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            &mut regs as *mut libc::user_regs_struct as *mut libc::c_void,
        )
    };
    let (rip, rsp) = if got == 0 {
        (Some(regs.rip), Some(regs.rsp))
    } else {
        (None, None)
    };
    Ok(ExecLayout {
        maps,
        bounds,
        rip,
        rsp,
        auxv,
        stack,
        smaps,
        status,
        proc,
    })
}

/// The end of the `[stack]` VMA in a maps text.
pub fn stack_end(maps: &str) -> Option<u64> {
    let l = maps.lines().find(|l| l.ends_with("[stack]"))?;
    let (_, end) = l.split_whitespace().next()?.split_once('-')?;
    u64::from_str_radix(end, 16).ok()
}

/// `kernel.randomize_va_space` of this host (2 when it cannot be read, the default).
pub fn host_randomize_va_space() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/randomize_va_space")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(2)
}

/// The model configured like this host for a probe: the host's `randomize_va_space`, limits (with the
/// probe's RLIMIT_STACK), RAM, sysctls and uid, and the probe's seed.
pub fn probe_machine(spec: &ExecSpec, host: &HostConfig) -> memsim_scenario::Machine {
    let mut cfg = host.cfg.clone();
    cfg.randomize_va_space = host_randomize_va_space();
    cfg.seed = spec.seed;
    let mut rlimits: Vec<(usize, Rlimit)> = host.rlimits.iter().copied().enumerate().collect();
    if let Some(r) = rlimits.get_mut(RLIMIT_STACK) {
        r.1 = Rlimit::new(spec.stack_limit, host.rlimits[RLIMIT_STACK].max);
    }
    memsim_scenario::Machine {
        cfg,
        rlimits,
        seed: spec.seed,
        ..Default::default()
    }
}

/// The model's machine for a probe ([`probe_machine`]) with PID 1 in the persona the real child has:
/// ADDR_NO_RANDOMIZE unless the probe randomizes (as `setarch -R` leaves it; exec itself may clear it, e.g.
/// for a set-user-ID file).
pub fn probe_kernel(spec: &ExecSpec, host: &HostConfig) -> memsim_core::Kernel {
    let mut k = probe_machine(spec, host).build(Box::new(memsim_scenario::HostFs::new()));
    if let Ok(t) = k.task_mut(memsim_core::kernel::INIT_PID) {
        t.personality = if spec.randomize {
            t.personality & !memsim_core::arch::aslr::ADDR_NO_RANDOMIZE
        } else {
            memsim_core::arch::aslr::ADDR_NO_RANDOMIZE
        };
    }
    k
}

/// Run `spec` on the model: `execve` on PID 1 of a machine like this host's, then its `/proc/1/maps` and
/// mm boundaries. `Err` when the model's `execve` fails (with its errno) or is not available.
pub fn exec_model(spec: &ExecSpec, host: &HostConfig) -> Result<ExecLayout, String> {
    let mut k = probe_kernel(spec, host);
    let init = memsim_core::kernel::INIT_PID;
    model_execve(&mut k, init, spec)?;
    let maps = k
        .proc_read(init, "maps")
        .map_err(|e| format!("model /proc/1/maps: {e}"))?;
    let mm = k.mm(init).map_err(|e| format!("model mm: {e}"))?;
    let bounds = MmBounds {
        start_code: mm.start_code,
        end_code: mm.end_code,
        start_stack: mm.start_stack,
        start_data: mm.start_data,
        end_data: mm.end_data,
        start_brk: mm.start_brk,
        arg_start: mm.arg_start,
        arg_end: mm.arg_end,
        env_start: mm.env_start,
        env_end: mm.env_end,
    };
    let auxv = k.proc_read(init, "auxv").map(|b| parse_auxv(&b)).unwrap_or_default();
    let maps = String::from_utf8_lossy(&maps).into_owned();
    // Read before the stack is peeked (peeking faults pages in).
    let text = |f: &str| {
        k.proc_read(init, f)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let (smaps, status) = (text("smaps"), text("status"));
    let proc = PROC_FILES
        .iter()
        .filter_map(|f| Some((f.to_string(), k.proc_read(init, f).ok()?)))
        .collect();
    let stack = match stack_end(&maps) {
        Some(end) if end > bounds.start_stack => k
            .peek(init, bounds.start_stack, end - bounds.start_stack)
            .map_err(|e| format!("model: reading the initial stack: {e:?}"))?,
        _ => Vec::new(),
    };
    Ok(ExecLayout {
        maps,
        bounds,
        rip: None,
        rsp: Some(bounds.start_stack),
        auxv,
        stack,
        smaps,
        status,
        proc,
    })
}

/// Run `spec` on the model as far as `execve`: `Ok` when it succeeded, else how it failed, as
/// [`exec_real_outcome`] reports it (a task that `execve` killed counts as killed, whatever errno it got),
/// with the loader's reason.
pub fn exec_model_outcome(spec: &ExecSpec, host: &HostConfig) -> Result<(), (ExecFailure, String)> {
    let mut k = probe_kernel(spec, host);
    let init = memsim_core::kernel::INIT_PID;
    match k.sys_execve(init, &spec.path, &spec.argv, &spec.envp) {
        Ok(_) => Ok(()),
        Err(e) => {
            let why = k.last_exec_error(init).unwrap_or("").to_string();
            let killed = k.task(init).ok().and_then(|t| match t.exit {
                Some(memsim_core::task::ExitStatus::Killed { signo, .. }) => Some(signo as i32),
                _ => None,
            });
            match killed {
                Some(sig) => Err((ExecFailure::Killed(sig), why)),
                None => Err((ExecFailure::Errno(e.code()), why)),
            }
        }
    }
}

/// The model's `execve` (`Kernel::sys_execve`), with the loader's reason when it fails.
fn model_execve(k: &mut memsim_core::Kernel, pid: memsim_core::task::Pid, spec: &ExecSpec) -> Result<(), String> {
    k.sys_execve(pid, &spec.path, &spec.argv, &spec.envp)
        .map(|_| ())
        .map_err(|e| {
            let why = k.last_exec_error(pid).unwrap_or("");
            format!("{} ({}) {why}", e.name(), e.strerror())
        })
}

/// How the model's layout differs from the kernel's; empty when they agree.
pub fn compare(kernel: &ExecLayout, model: &ExecLayout) -> Vec<String> {
    let mut out = Vec::new();
    if kernel.maps != model.maps {
        out.push(format!(
            "/proc/PID/maps differs (- kernel, + model):\n{}",
            line_diff(&kernel.maps, &model.maps)
        ));
    }
    for ((name, k), (_, m)) in kernel.bounds.fields().iter().zip(model.bounds.fields().iter()) {
        if k != m {
            out.push(format!("{name}: kernel {k:#x}, model {m:#x}"));
        }
    }
    out
}

/// How the initial stacks differ (see [`stack_dump`]); empty when they agree.
pub fn compare_stacks(kernel: &ExecLayout, model: &ExecLayout) -> Vec<String> {
    let k = stack_dump(kernel.bounds.start_stack, &kernel.stack);
    let m = stack_dump(model.bounds.start_stack, &model.stack);
    if k == m {
        Vec::new()
    } else {
        vec![format!(
            "the initial stack differs (- kernel, + model):\n{}",
            changed_lines(&line_diff(&k, &m), 2)
        )]
    }
}

/// A layout without its random parts, for comparing a randomized exec with the model's: one line per VMA
/// with its size, permissions, offset, device, inode and name, and whether it starts where the previous one
/// ends (`=`) or after a gap (`~`); then the mm boundaries that ASLR moves only together with a VMA, each
/// as an offset in that VMA (code and data in the program's or interpreter's mappings, the argument and
/// environment strings from the stack's end). `start_stack` (randomized within the stack, `arch_align_stack`)
/// and `start_brk` (randomized, `arch_randomize_brk`) are left out.
pub fn shape(layout: &ExecLayout) -> String {
    let mut out = String::new();
    let mut vmas = Vec::new();
    let mut prev_end = None;
    for l in layout.maps.lines() {
        let mut f = l.split_whitespace();
        let Some((s, e)) = f.next().and_then(|r| r.split_once('-')) else {
            continue;
        };
        let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) else {
            continue;
        };
        let rest: Vec<&str> = f.collect();
        let adj = if prev_end == Some(s) { '=' } else { '~' };
        out.push_str(&format!("{adj} {:#x} {}\n", e - s, rest.join(" ")));
        vmas.push((s, e));
        prev_end = Some(e);
    }
    let b = &layout.bounds;
    let stack_end = stack_end(&layout.maps).unwrap_or(0);
    for (name, v) in [
        ("start_code", b.start_code),
        ("end_code", b.end_code),
        ("start_data", b.start_data),
        ("end_data", b.end_data),
    ] {
        // The VMA holding the address, or ending at it (an end marker may be a VMA's end).
        match vmas.iter().position(|&(s, e)| s <= v && v <= e) {
            Some(i) => out.push_str(&format!("{name} VMA {i} + {:#x}\n", v - vmas[i].0)),
            None => out.push_str(&format!("{name} outside every VMA\n")),
        }
    }
    for (name, v) in [
        ("arg_start", b.arg_start),
        ("arg_end", b.arg_end),
        ("env_start", b.env_start),
        ("env_end", b.env_end),
    ] {
        out.push_str(&format!("{name} stack end - {:#x}\n", stack_end.wrapping_sub(v)));
    }
    out
}

/// How the shapes ([`shape`]) of two layouts differ; empty when they agree.
pub fn compare_shapes(kernel: &ExecLayout, model: &ExecLayout) -> Vec<String> {
    let (k, m) = (shape(kernel), shape(model));
    if k == m {
        Vec::new()
    } else {
        vec![format!(
            "the layout's shape differs (- kernel, + model):\n{}",
            line_diff(&k, &m)
        )]
    }
}

/// The memory lines of `/proc/PID/status` (`Vm*`, `Rss*`, `HugetlbPages`): what exec left resident and
/// accounted.
pub fn status_memory(status: &str) -> String {
    status
        .lines()
        .filter(|l| l.starts_with("Vm") || l.starts_with("Rss") || l.starts_with("HugetlbPages"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// How the memory accounting after exec differs: `/proc/PID/smaps` (every VMA's resident, shared, private,
/// anonymous page counts and flags) and the memory lines of `status`; empty when they agree.
pub fn compare_memory(kernel: &ExecLayout, model: &ExecLayout) -> Vec<String> {
    let mut out = Vec::new();
    if kernel.smaps != model.smaps {
        out.push(format!(
            "/proc/PID/smaps differs (- kernel, + model):\n{}",
            changed_lines(&line_diff(&kernel.smaps, &model.smaps), 3)
        ));
    }
    let (k, m) = (status_memory(&kernel.status), status_memory(&model.status));
    if k != m {
        out.push(format!(
            "/proc/PID/status memory lines differ (- kernel, + model):\n{}",
            changed_lines(&line_diff(&k, &m), 0)
        ));
    }
    out
}

/// How the other `/proc/PID` files ([`PROC_FILES`]) differ; empty when they agree.
pub fn compare_proc(kernel: &ExecLayout, model: &ExecLayout) -> Vec<String> {
    let show = |b: Option<&Vec<u8>>| match b {
        Some(b) if b.len() > 300 => format!("{:?}... ({} bytes)", String::from_utf8_lossy(&b[..300]), b.len()),
        Some(b) => format!("{:?}", String::from_utf8_lossy(b)),
        None => "(cannot be read)".to_string(),
    };
    PROC_FILES
        .iter()
        .filter(|f| kernel.proc.get(**f) != model.proc.get(**f))
        .map(|f| {
            format!(
                "/proc/PID/{f}: kernel {}, model {}",
                show(kernel.proc.get(*f)),
                show(model.proc.get(*f))
            )
        })
        .collect()
}

/// Names of the auxv types (`include/uapi/linux/auxvec.h`, `arch/x86/include/uapi/asm/auxvec.h`).
fn at_name(t: u64) -> String {
    let n = match t {
        0 => "AT_NULL",
        3 => "AT_PHDR",
        4 => "AT_PHENT",
        5 => "AT_PHNUM",
        6 => "AT_PAGESZ",
        7 => "AT_BASE",
        8 => "AT_FLAGS",
        9 => "AT_ENTRY",
        11 => "AT_UID",
        12 => "AT_EUID",
        13 => "AT_GID",
        14 => "AT_EGID",
        15 => "AT_PLATFORM",
        16 => "AT_HWCAP",
        17 => "AT_CLKTCK",
        23 => "AT_SECURE",
        24 => "AT_BASE_PLATFORM",
        25 => "AT_RANDOM",
        26 => "AT_HWCAP2",
        27 => "AT_RSEQ_FEATURE_SIZE",
        28 => "AT_RSEQ_ALIGN",
        29 => "AT_HWCAP3",
        30 => "AT_HWCAP4",
        31 => "AT_EXECFN",
        33 => "AT_SYSINFO_EHDR",
        51 => "AT_MINSIGSTKSZ",
        _ => return format!("AT_{t}"),
    };
    n.to_string()
}

/// A readable picture of an initial stack (`fs/binfmt_elf.c: create_elf_tables`), one item per line with its
/// address: argc, the argv and envp pointers, the auxv entries, then the bytes above them (padding, the
/// AT_RANDOM bytes, the platform string, the argument and environment strings, the file name) in 16-byte
/// rows. The 16 AT_RANDOM bytes are random on the kernel side, so they are shown as `<random>`.
pub fn stack_dump(sp: u64, bytes: &[u8]) -> String {
    let word = |i: usize| -> Option<u64> {
        bytes
            .get(i..i + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let mut out = String::new();
    let mut i = 0usize;
    let Some(argc) = word(0) else {
        return format!("{sp:#x} (no stack)\n");
    };
    out.push_str(&format!("{sp:#x} argc {argc}\n"));
    i += 8;
    let mut random = None;
    for what in ["argv", "envp"] {
        let mut n = 0;
        while let Some(p) = word(i) {
            out.push_str(&format!("{:#x} {what}[{n}] {p:#x}\n", sp + i as u64));
            i += 8;
            n += 1;
            if p == 0 || n > 1 << 20 {
                break;
            }
        }
    }
    while let (Some(t), Some(v)) = (word(i), word(i + 8)) {
        out.push_str(&format!("{:#x} {} {v:#x}\n", sp + i as u64, at_name(t)));
        i += 16;
        if t == 25 {
            random = Some(v);
        }
        if t == 0 {
            break;
        }
    }
    while i < bytes.len() {
        let a = sp + i as u64;
        if random == Some(a) && i + 16 <= bytes.len() {
            out.push_str(&format!("{a:#x} <random>\n"));
            i += 16;
            continue;
        }
        // Rows end at the AT_RANDOM bytes so that they stay masked.
        let mut n = 16.min(bytes.len() - i);
        if let Some(r) = random {
            if r > a && r < a + n as u64 {
                n = (r - a) as usize;
            }
        }
        let row: String = bytes[i..i + n]
            .iter()
            .map(|&b| match b {
                0 => "\\0".to_string(),
                0x20..=0x7e if b != b'\\' => (b as char).to_string(),
                _ => format!("\\x{b:02x}"),
            })
            .collect();
        out.push_str(&format!("{a:#x} {row}\n"));
        i += n;
    }
    out
}

/// Only the changed lines of a [`line_diff`] and `context` lines around them (`...` between runs).
pub fn changed_lines(diff: &str, context: usize) -> String {
    let lines: Vec<&str> = diff.lines().collect();
    let keep: Vec<bool> = (0..lines.len())
        .map(|i| {
            let lo = i.saturating_sub(context);
            let hi = (i + context + 1).min(lines.len());
            lines[lo..hi].iter().any(|l| !l.starts_with("  "))
        })
        .collect();
    let mut out = String::new();
    let mut skipped = false;
    for (l, k) in lines.iter().zip(&keep) {
        if *k {
            if skipped {
                out.push_str("  ...\n");
            }
            out.push_str(l);
            out.push('\n');
            skipped = false;
        } else {
            skipped = true;
        }
    }
    if skipped {
        out.push_str("  ...\n");
    }
    out
}

/// A line diff of two texts (longest common subsequence; the texts are a few dozen lines).
pub fn line_diff(a: &str, b: &str) -> String {
    let x: Vec<&str> = a.lines().collect();
    let y: Vec<&str> = b.lines().collect();
    let (n, m) = (x.len(), y.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if x[i] == y[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            out.push_str(&format!("  {}\n", x[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("- {}\n", x[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", y[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_parenthesized_name() {
        // 52 fields; the name holds a space and a `)`.
        let mut f: Vec<String> = (1..=52).map(|n| n.to_string()).collect();
        f[1] = "(a b) c)".to_string();
        let b = MmBounds::from_stat(&f.join(" ")).unwrap();
        assert_eq!((b.start_code, b.end_code, b.start_stack), (26, 27, 28));
        assert_eq!((b.start_data, b.end_data, b.start_brk), (45, 46, 47));
        assert_eq!((b.arg_start, b.arg_end, b.env_start, b.env_end), (48, 49, 50, 51));
        assert!(MmBounds::from_stat("1 (x) R 2 3").is_err());
    }

    #[test]
    fn auxv_stops_at_null() {
        let mut b = Vec::new();
        for w in [AT_ENTRY, 0x401000, AT_BASE, 0, 0, 0, 5, 5] {
            b.extend_from_slice(&u64::to_ne_bytes(w));
        }
        assert_eq!(parse_auxv(&b), vec![(AT_ENTRY, 0x401000), (AT_BASE, 0)]);
    }

    #[test]
    fn stack_dump_masks_the_random_bytes() {
        let sp = 0x7fff_0000u64;
        let mut b = Vec::new();
        for w in [1u64, sp + 0x60, 0, sp + 0x63, 0, 25, sp + 0x48, 0, 0] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&[0xaa; 16]);
        b.extend_from_slice(b"ab\0x=1\0");
        let d = stack_dump(sp, &b);
        assert!(d.contains("argv[0] 0x7fff0060"), "{d}");
        assert!(d.contains("envp[0] 0x7fff0063"), "{d}");
        assert!(d.contains("AT_RANDOM 0x7fff0048"), "{d}");
        assert!(d.contains("0x7fff0048 <random>"), "{d}");
        assert!(d.contains("0x7fff0058 ab\\0x=1\\0"), "{d}");
        assert!(!d.contains("xaa"), "{d}");
        let mut b2 = b.clone();
        b2[0x48] = 0x55;
        assert_eq!(stack_dump(sp, &b2), d, "random bytes do not count");
        b2[0x59] = b'c';
        assert_ne!(stack_dump(sp, &b2), d, "string bytes count");
    }

    #[test]
    fn shapes_ignore_where_regions_lie() {
        let at = |base: u64, stack: u64| ExecLayout {
            maps: format!(
                "{:x}-{:x} r-xp 00000000 fe:00 7 /bin/x\n{:x}-{:x} rw-p 00001000 fe:00 7 /bin/x\n\
                 {:x}-{:x} rw-p 00000000 00:00 0 [stack]\n",
                base,
                base + 0x1000,
                base + 0x1000,
                base + 0x3000,
                stack - 0x21000,
                stack
            ),
            bounds: MmBounds {
                start_code: base,
                end_code: base + 0x10,
                start_data: base + 0x1010,
                end_data: base + 0x1020,
                start_brk: base + 0x9000,
                start_stack: stack - 0x800,
                arg_start: stack - 0x40,
                arg_end: stack - 0x20,
                env_start: stack - 0x20,
                env_end: stack - 0x8,
            },
            ..ExecLayout::default()
        };
        let a = at(0x5555_0000_0000, 0x7fff_0000_0000);
        let mut b = at(0x5600_0000_0000, 0x7ffe_0000_0000);
        b.bounds.start_stack -= 0x130;
        assert!(compare_shapes(&a, &b).is_empty(), "{:?}", compare_shapes(&a, &b));
        assert!(
            shape(&a).contains("= 0x2000 rw-p 00001000 fe:00 7 /bin/x"),
            "{}",
            shape(&a)
        );
        b.bounds.env_end -= 8;
        assert!(!compare_shapes(&a, &b).is_empty());
    }

    #[test]
    fn diff_marks_both_sides() {
        let d = line_diff("a\nb\nc\n", "a\nx\nc\n");
        assert_eq!(d, "  a\n- b\n+ x\n  c\n");
    }
}
