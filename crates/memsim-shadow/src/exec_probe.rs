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
//! The model side ([`exec_model`]) builds a `Kernel` configured like this host with `randomize_va_space` 0
//! and the same limits, calls `Kernel::sys_execve` on PID 1 with the same argv and envp, and renders the
//! same files. [`compare`] puts the two side by side, maps byte for byte (device and inode included).

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
}

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

/// The child's exit status when its setup or `execve` failed (it has no other way to report).
const CHILD_FAILED: i32 = 127;

/// Run `spec` for real up to its first instruction (see the module documentation) and read its layout.
pub fn exec_real(spec: &ExecSpec) -> Result<ExecLayout, String> {
    let path = CString::new(spec.path.as_bytes()).map_err(|_| "NUL in the path".to_string())?;
    let argv = cstrings(&spec.argv).map_err(|e| e.to_string())?;
    let envp = cstrings(&spec.envp).map_err(|e| e.to_string())?;
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
        return Err(format!("getrlimit: {}", io::Error::last_os_error()));
    }
    if spec.stack_limit > old.rlim_max {
        return Err(format!(
            "the stack limit {} exceeds this process's hard limit {}",
            spec.stack_limit, old.rlim_max
        ));
    }
    let stack = libc::rlimit {
        rlim_cur: spec.stack_limit,
        rlim_max: old.rlim_max,
    };

    // SAFETY: fork has no memory-safety preconditions. The child only makes system calls on memory prepared
    // above (no allocation, no locks: this process may have other threads) and then execs or `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: the freshly forked child; every pointer refers to memory made before fork and still valid
        // (argv/envp arrays end with NULL). The block never returns.
        unsafe {
            // PER_LINUX | ADDR_NO_RANDOMIZE, as `setarch -R` sets it.
            if libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong) == -1
                || libc::setrlimit(libc::RLIMIT_STACK, &stack) != 0
                || libc::ptrace(
                    libc::PTRACE_TRACEME,
                    0 as libc::pid_t,
                    std::ptr::null_mut::<libc::c_void>(),
                    std::ptr::null_mut::<libc::c_void>(),
                ) != 0
            {
                libc::_exit(CHILD_FAILED);
            }
            libc::execve(path.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr());
            libc::_exit(CHILD_FAILED);
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
fn inspect_stopped(pid: libc::pid_t) -> Result<ExecLayout, String> {
    let mut status = 0;
    // SAFETY: waiting for our own child; `status` is a valid out pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    if r != pid {
        return Err(format!("waitpid: {}", io::Error::last_os_error()));
    }
    if libc::WIFEXITED(status) {
        return Err(format!(
            "the child exited with status {} before stopping (setup or execve failed)",
            libc::WEXITSTATUS(status)
        ));
    }
    if !libc::WIFSTOPPED(status) || libc::WSTOPSIG(status) != libc::SIGTRAP {
        return Err(format!(
            "unexpected wait status {status:#x} (expected the exec SIGTRAP stop)"
        ));
    }
    let read = |f: &str| std::fs::read(format!("/proc/{pid}/{f}")).map_err(|e| format!("/proc/{pid}/{f}: {e}"));
    let maps = String::from_utf8_lossy(&read("maps")?).into_owned();
    let bounds = MmBounds::from_stat(&String::from_utf8_lossy(&read("stat")?))?;
    let auxv = parse_auxv(&read("auxv")?);
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
    })
}

/// The model configured like this host for a probe: `randomize_va_space` 0 (the child ran with
/// ADDR_NO_RANDOMIZE, which clears PF_RANDOMIZE just as the sysctl 0 does), the host's limits with the
/// probe's RLIMIT_STACK, the host's RAM, sysctls and uid.
pub fn probe_machine(spec: &ExecSpec, host: &HostConfig) -> memsim_scenario::Machine {
    let mut cfg = host.cfg.clone();
    cfg.randomize_va_space = 0;
    let mut rlimits: Vec<(usize, Rlimit)> = host.rlimits.iter().copied().enumerate().collect();
    if let Some(r) = rlimits.get_mut(RLIMIT_STACK) {
        r.1 = Rlimit::new(spec.stack_limit, host.rlimits[RLIMIT_STACK].max);
    }
    memsim_scenario::Machine { cfg, rlimits }
}

/// Run `spec` on the model: `execve` on PID 1 of a machine like this host's, then its `/proc/1/maps` and
/// mm boundaries. `Err` when the model's `execve` fails (with its errno) or is not available.
pub fn exec_model(spec: &ExecSpec, host: &HostConfig) -> Result<ExecLayout, String> {
    let machine = probe_machine(spec, host);
    let mut k = machine.build(Box::new(memsim_scenario::HostFs::new()));
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
    Ok(ExecLayout {
        maps: String::from_utf8_lossy(&maps).into_owned(),
        bounds,
        rip: None,
        rsp: None,
        auxv: k.proc_read(init, "auxv").map(|b| parse_auxv(&b)).unwrap_or_default(),
    })
}

/// The model's `execve` (`Kernel::sys_execve`).
fn model_execve(_k: &mut memsim_core::Kernel, _pid: memsim_core::task::Pid, _spec: &ExecSpec) -> Result<(), String> {
    Err("the model has no execve yet (Kernel::sys_execve is not on main)".to_string())
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
    fn diff_marks_both_sides() {
        let d = line_diff("a\nb\nc\n", "a\nx\nc\n");
        assert_eq!(d, "  a\n- b\n+ x\n  c\n");
    }
}
