//! The runner: executes a scenario on the model ([`Kernel`]) line by line and checks every stated result.
//!
//! * Every line of a scenario is parsed and every modeled call decoded ([`prepare`]) before any output, so a
//!   malformed line is reported (`FILE:LINE:COL: message`) and nothing printed. [`Runner::run`] does it in one
//!   pass: lines run as they are parsed, and the first `cat` line (the only one that writes) first checks the
//!   rest of the scenario. A malformed line ends the run with [`RunError::Malformed`] whatever ran before it.
//! * A system call's result after `=` is an expectation: a value, or an errno name; `= ?` and a missing
//!   result are unchecked. mincore's printed vector is compared with the model's. Calls memsim does not model
//!   are counted ([`Stats::unmodeled`]) and skipped, so a real strace log can be fed as it is.
//! * An access (`I`, `L`, `S`, `M`), `poke` or `peek` that faults leaves the fault pending: the process's next
//!   line must be the signal line (`--- SIGSEGV {...} ---`, fields compared when given) or `+++ killed by`;
//!   anything else is a failure at the access line. With no handlers the fault kills the process, as Linux
//!   does; later lines for that process fail.
//! * PIDs: a line without a prefix runs in PID 1. strace logs carry the host's PIDs: the first prefix seen is
//!   PID 1, and a child's PID enters the map from the result of the fork, vfork, clone or clone3 that made it
//!   (never taken as a model PID: the model numbers its own tasks, kernel threads first). A child whose first
//!   line comes before its parent's `<... clone resumed>` (strace interleaves them) is created from the
//!   parent's unfinished clone at that line, and the resumed line must name it. PIDs in arguments (kill,
//!   wait4, waitid, prlimit64) and results (wait4's, waitid's `si_pid`) go through the map. A prefix that no
//!   clone made (a log that does not trace process creation) stands in for PID 1: its calls run there, but
//!   its exec, exit and signal lines are skipped and counted ([`Stats::skipped`]).
//! * A process of a log ends at its `+++ exited`/`+++ killed` line, not at its exit_group line: under ptrace
//!   the parent cannot reap it in between. An exit call is applied there (or earlier, when a wait's result
//!   shows it happened); a `+++` line with no exit call before it ends the process itself (a signal from
//!   outside the model), except for fault signals, which must come from a faulting access. Wait statuses,
//!   waitid's siginfo, SIGCHLD lines (the child must have ended that way) and rlimit outputs are checked.
//! * A real program's log (after its execve) is filtered (`-e trace=%file` has no close, dup or pipe):
//!   descriptor numbers follow the log. Before an openat or dup that returned N, N is made the lowest free
//!   descriptor (closing it, or filling lower ones with `/dev/null`); a descriptor closed or duplicated that
//!   the model never saw is put in place first ([`Stats::fd_syncs`]). The results are still checked.
//! * Descriptors 0, 1 and 2 of PID 1 are opened on `/dev/null` before the first line, so the descriptor
//!   numbers of a real program's log (whose first `openat` returns 3) line up.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use memsim_core::mm::fault::SI_KERNEL;
use memsim_core::mm::vma::VmFlags;
use memsim_core::task::{ExitStatus, Rlimit};
use memsim_core::uapi::{self, RLIMIT_STACK};
use memsim_core::{AccessKind, Errno, Kernel, Pid, SigInfo, VirtAddr};

use crate::args::{ArgError, ArgValue};
use crate::ast::{AccessOp, Expect, Line, LineKind, Pos, ProcPid};
use crate::call::{self, Call, Outcome};
use crate::parse::{ArgRef, ParseError, Parser, Scanned};

/// One prepared line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line number.
    pub line: usize,
    /// The PID prefix, if any.
    pub pid: Option<u32>,
    pub op: Op,
}

/// What a prepared line does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A modeled system call, decoded, and its expected result.
    Call { call: Call, expect: Expect },
    /// A system call memsim does not model: counted. The name is shared between the steps of one scenario that
    /// call it (a log repeats a few dozen names).
    Unmodeled { name: Arc<str> },
    /// Everything else: accesses, poke/peek, signal and exit lines, `cat`.
    Line(LineKind),
}

/// Parse a scenario and decode its modeled calls. Errors are positioned. System call lines are decoded
/// straight from the borrowed scan, so a modeled call costs no allocation beyond its argument list.
pub fn prepare(file: &str, text: &str) -> Result<Vec<Step>, ParseError> {
    let mut v = Vec::with_capacity(text.len() / 64);
    for s in steps(file, text) {
        v.push(s?);
    }
    Ok(v)
}

/// The prepared steps of a scenario, one at a time (see [`prepare`]).
pub fn steps<'t>(file: &'t str, text: &'t str) -> Steps<'t> {
    Steps {
        file,
        parser: Parser::new(file),
        lines: text.lines().enumerate(),
        spare: Vec::new(),
        names: Names::default(),
    }
}

/// Iterator behind [`steps`]. A clone continues from the same point independently (the runner validates
/// the rest of a scenario with one before its first output).
#[derive(Clone)]
pub struct Steps<'t> {
    file: &'t str,
    parser: Parser,
    lines: std::iter::Enumerate<std::str::Lines<'t>>,
    /// The last call's argument list, reused for the next.
    spare: Vec<(Pos, ArgRef<'t>)>,
    names: Names,
}

/// Names of unmodeled calls seen lately, so that a step shares its name instead of allocating one.
#[derive(Clone, Default)]
struct Names {
    slots: [Option<Arc<str>>; 32],
}

impl Names {
    fn get(&mut self, name: &str) -> Arc<str> {
        let b = name.as_bytes();
        let h =
            b.len().wrapping_mul(31) ^ b.first().map_or(0, |&c| c as usize * 7) ^ b.last().map_or(0, |&c| c as usize);
        let slot = &mut self.slots[h % 32];
        match slot {
            Some(n) if **n == *name => n.clone(),
            _ => slot.insert(Arc::from(name)).clone(),
        }
    }
}

impl Steps<'_> {
    /// The parser, for the calls it holds unfinished.
    pub fn parser(&self) -> &Parser {
        &self.parser
    }
}

impl Iterator for Steps<'_> {
    type Item = Result<Step, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (i, l) = self.lines.next()?;
            match self.parser.scan_line_reusing(i + 1, l, std::mem::take(&mut self.spare)) {
                Err(e) => return Some(Err(e)),
                Ok(None) => continue,
                Ok(Some(scanned)) => return Some(step_of(self.file, scanned, &mut self.spare, &mut self.names)),
            }
        }
    }
}

/// `spare` receives a call's argument list back, for the next line.
fn step_of<'t>(
    file: &str,
    scanned: Scanned<'t>,
    spare: &mut Vec<(Pos, ArgRef<'t>)>,
    names: &mut Names,
) -> Result<Step, ParseError> {
    Ok(match scanned {
        Scanned::Call { line, pid, call } => {
            let op = op_of(call.name(), &call.args, || call.expect.to_expect(), names).map_err(|e| {
                let pos = e
                    .index
                    .and_then(|i| call.args.get(i))
                    .or(call.args.first())
                    .map(|a| a.0);
                arg_error(file, line, call.name(), pos, &e)
            })?;
            *spare = call.args;
            Step { line, pid, op }
        }
        Scanned::Line(Line { line, pid, kind }) => {
            let op = match kind {
                LineKind::Syscall(sc) => op_of(&sc.name, &sc.args, || sc.expect.clone(), names)
                    .map_err(|e| arg_error(file, line, &sc.name, e.pos(&sc), &e))?,
                k => Op::Line(k),
            };
            Step { line, pid, op }
        }
    })
}

/// Default of [`Runner::prepare_whole_max`] (no longer used).
pub const PREPARE_WHOLE_MAX: usize = 1 << 20;

/// Finds a line's text for failure messages, scanning forward from the last line asked for.
struct LineFinder<'t> {
    text: &'t str,
    next_no: usize,
    off: usize,
}

impl<'t> LineFinder<'t> {
    fn get(&mut self, n: usize) -> &'t str {
        if n < self.next_no {
            self.next_no = 1;
            self.off = 0;
        }
        while self.off <= self.text.len() {
            let rest = &self.text[self.off..];
            let end = rest.find('\n').map_or(rest.len(), |k| k);
            let line = &rest[..end];
            if self.next_no == n {
                return line.trim_end();
            }
            self.next_no += 1;
            self.off += end + 1;
        }
        ""
    }
}

fn op_of<A: ArgValue>(
    name: &str,
    args: &[A],
    expect: impl FnOnce() -> Expect,
    names: &mut Names,
) -> Result<Op, ArgError> {
    Ok(match call::decode_args(name, args)? {
        Some(call) => Op::Call { call, expect: expect() },
        None => Op::Unmodeled { name: names.get(name) },
    })
}

fn arg_error(file: &str, line: usize, name: &str, pos: Option<Pos>, e: &ArgError) -> ParseError {
    let pos = pos.unwrap_or(Pos { line, col: 1 });
    ParseError {
        file: file.to_string(),
        line: pos.line,
        col: pos.col,
        msg: format!("{name}: {e}"),
    }
}

/// A stated result the model did not give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub file: String,
    pub line: usize,
    pub expected: String,
    pub got: String,
    /// The scenario line itself.
    pub context: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: expected {}, got {}\n    {}",
            self.file, self.line, self.expected, self.got, self.context
        )
    }
}

/// Why a run could not finish.
#[derive(Debug)]
pub enum RunError {
    /// A malformed line (exit status 2).
    Malformed(ParseError),
    /// Writing output failed.
    Io(io::Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Malformed(e) => e.fmt(f),
            RunError::Io(e) => write!(f, "output: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<io::Error> for RunError {
    fn from(e: io::Error) -> Self {
        RunError::Io(e)
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Meaningful lines executed.
    pub lines: u64,
    /// Modeled system calls run on the model.
    pub calls: u64,
    /// Calls memsim does not model, by name.
    pub unmodeled: BTreeMap<String, u64>,
    /// Accesses, pokes and peeks.
    pub accesses: u64,
    /// Signal lines for signals that are not raised by accesses (SIGCHLD, ...): accepted, not checked.
    pub async_signals: u64,
    /// Exit and signal lines of PIDs that stand in for PID 1: not applied.
    pub skipped: u64,
    /// Descriptors placed where the log says a real program got them: strace's `-e trace=%file` filter leaves
    /// out close, dup and pipe, so the model closes (or fills) descriptors the log shows were free (taken).
    pub fd_syncs: u64,
    /// Children created from their parent's unfinished clone when their first line came before its result.
    pub early_clones: u64,
    /// execve calls whose environment the log did not show (strace without `-v`): run with none.
    pub unknown_env: u64,
    /// execve calls whose strings strace cut short (`-s`): the new stack cannot be the real one.
    pub truncated_exec: u64,
    /// Processes the log shows ending for a reason the model does not see (a signal from outside, SIGPIPE).
    pub external_ends: u64,
    /// `+++` lines of tasks already gone from the model (reaped threads) whose status is not known.
    pub ends_unchecked: u64,
    /// Core files written to `--core-dir`.
    pub core_files: u64,
    /// Fault signal lines no traced access caused (a real program's log): replayed as an access at `si_addr`.
    pub untraced_faults: u64,
}

/// The result of a run: the failed expectations (at most one unless `keep_going`) and statistics.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub failures: Vec<Failure>,
    pub stats: Stats,
}

/// A failure before its file name and context are attached.
type Miss = (usize, String, String);

/// Per-process runner state.
#[derive(Clone, Debug, Default)]
struct ProcState {
    /// A fault raised by the access on the given line, waiting for its signal line.
    pending_fault: Option<(usize, SigInfo)>,
    /// "process is dead" was reported once already.
    dead_reported: bool,
    /// Runs a real program (it executed an execve of the log, or descends from one that did): its log is
    /// filtered, so descriptor numbers follow the log (see [`Stats::fd_syncs`]).
    real_program: bool,
}

/// Machine options as the command line gives them.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    pub cfg: memsim_core::KernelConfig,
    /// `(RLIMIT_*, limit)` pairs applied to PID 1.
    pub rlimits: Vec<(usize, Rlimit)>,
    /// `--seed`: the seed of the model's random generator (ASLR offsets, AT_RANDOM bytes).
    pub seed: u64,
    /// `--core-dir`: where a process killed by a fault leaves its core file (`core.PID`), when RLIMIT_CORE
    /// allows one.
    pub core_dir: Option<std::path::PathBuf>,
}

impl Machine {
    /// Build the kernel: one process, PID 1, with the given rlimits. The mmap base is recomputed from
    /// RLIMIT_STACK, as exec does (`arch_pick_mmap_layout`).
    pub fn build(&self, fs: Box<dyn memsim_core::fs::FileSource>) -> Kernel {
        let mut cfg = self.cfg.clone();
        cfg.seed = self.seed;
        let mut k = Kernel::new(cfg, fs);
        let init = memsim_core::kernel::INIT_PID;
        if let Ok(t) = k.task_mut(init) {
            for &(res, lim) in &self.rlimits {
                if let Some(slot) = t.rlimits.get_mut(res) {
                    *slot = lim;
                }
            }
        }
        if self.rlimits.iter().any(|&(r, _)| r == RLIMIT_STACK) {
            let stack = k.task(init).map(|t| t.rlimit(RLIMIT_STACK)).unwrap_or(8 << 20);
            let base = k.mmap_base(stack, 0);
            if let Ok(mm) = k.mm_mut(init) {
                mm.mmap_base = base;
            }
        }
        k
    }
}

/// Drives the model through scenarios.
pub struct Runner {
    pub kernel: Kernel,
    /// Log PIDs → model PIDs: the first prefix seen is PID 1; children get theirs from clone results.
    pids: BTreeMap<u32, Pid>,
    /// The first prefix (PID 1's) has been seen.
    first_seen: bool,
    /// Task-creating calls run early, by their caller's prefix: the child's log PID and model PID.
    early: BTreeMap<Option<u32>, (u32, Pid)>,
    /// Exit statuses of children reaped by wait, for `+++` lines that come after the reap.
    ended: BTreeMap<Pid, ExitStatus>,
    /// exit and exit_group calls of a log with PIDs, by caller, not yet applied: see [`Runner::defer_exit`].
    deferred: BTreeMap<Pid, Call>,
    /// See [`Machine::core_dir`].
    pub core_dir: Option<std::path::PathBuf>,
    /// Prefix PIDs other than the first that were mapped to PID 1 for want of a task of their own.
    stand_ins: std::collections::BTreeSet<u32>,
    procs: BTreeMap<Pid, ProcState>,
    pub stats: Stats,
    /// No longer used: runs are a single streaming pass (memory does not grow with the scenario, and a
    /// malformed line is still reported before any output). Kept so existing callers compile.
    pub prepare_whole_max: usize,
}

impl Runner {
    /// A runner on `kernel`, with descriptors 0, 1, 2 of PID 1 opened on `/dev/null` (when the model can).
    pub fn new(mut kernel: Kernel) -> Runner {
        let init = memsim_core::kernel::INIT_PID;
        for _ in 0..3 {
            if kernel
                .sys_openat(init, uapi::AT_FDCWD, "/dev/null", uapi::O_RDWR, 0)
                .is_err()
            {
                break;
            }
        }
        Runner {
            kernel,
            pids: BTreeMap::new(),
            first_seen: false,
            early: BTreeMap::new(),
            ended: BTreeMap::new(),
            deferred: BTreeMap::new(),
            core_dir: None,
            stand_ins: std::collections::BTreeSet::new(),
            procs: BTreeMap::new(),
            stats: Stats::default(),
            prepare_whole_max: PREPARE_WHOLE_MAX,
        }
    }

    /// Parse and run a scenario, writing `cat` output to `out`. Stops at the first failed expectation unless
    /// `keep_going`.
    pub fn run(&mut self, file: &str, text: &str, out: &mut dyn Write, keep_going: bool) -> Result<Summary, RunError> {
        let mut lines = LineFinder {
            text,
            next_no: 1,
            off: 0,
        };
        let mut failures = Vec::new();
        let mut it = steps(file, text);
        // Every line after the current one is known to parse.
        let mut checked = false;
        // Still executing (false after the first failure unless `keep_going`; the rest is only checked).
        let mut running = true;
        while let Some(s) = it.next() {
            let s = s.map_err(RunError::Malformed)?;
            if !running {
                continue;
            }
            if let Some(p) = s.pid {
                if !self.pids.contains_key(&p) && self.first_seen {
                    self.adopt(p, &it);
                }
            }
            if !checked && matches!(s.op, Op::Line(LineKind::Cat { .. })) {
                // The first output: nothing may be printed before every line parsed.
                for rest in it.clone() {
                    rest.map_err(RunError::Malformed)?;
                }
                checked = true;
            }
            if !self.run_one(&s, out, file, &mut lines, &mut failures)? && !keep_going {
                running = false;
                if checked {
                    break;
                }
            }
        }
        if failures.is_empty() || keep_going {
            for (line, expected, got) in self.finish() {
                failures.push(Failure {
                    file: file.to_string(),
                    line,
                    expected,
                    got,
                    context: lines.get(line).to_string(),
                });
            }
        }
        out.flush()?;
        Ok(Summary {
            failures,
            stats: self.stats.clone(),
        })
    }

    /// Run one step, collecting its failures; false when it failed.
    fn run_one(
        &mut self,
        step: &Step,
        out: &mut dyn Write,
        file: &str,
        lines: &mut LineFinder,
        failures: &mut Vec<Failure>,
    ) -> io::Result<bool> {
        let mut misses = Vec::new();
        self.exec(step, out, &mut misses, false)?;
        let ok = misses.is_empty();
        for (line, expected, got) in misses {
            failures.push(Failure {
                file: file.to_string(),
                line,
                expected,
                got,
                context: lines.get(line).to_string(),
            });
        }
        Ok(ok)
    }

    /// Faults still waiting for a signal line at the end of the scenario.
    fn finish(&mut self) -> Vec<Miss> {
        let pending: Vec<Pid> = self.deferred.keys().copied().collect();
        for p in pending {
            self.apply_exit(p);
        }
        let mut v = Vec::new();
        for st in self.procs.values_mut() {
            if let Some((line, sig)) = st.pending_fault.take() {
                v.push((line, "no signal".to_string(), fmt_siginfo(&sig)));
            }
        }
        v.sort();
        v
    }

    /// The model PID for a line's prefix. The first prefix seen is PID 1; a child's is set by the result of
    /// the clone that made it. A prefix that is neither (a log that does not trace process creation) stands
    /// in for PID 1. Log PIDs are never taken as model PIDs: the model's numbers differ (kernel threads take
    /// 2, 3, ...).
    pub fn model_pid(&mut self, prefix: Option<u32>) -> Pid {
        let init = memsim_core::kernel::INIT_PID;
        let Some(p) = prefix else { return init };
        if let Some(&m) = self.pids.get(&p) {
            return m;
        }
        if self.first_seen {
            self.stand_ins.insert(p);
        }
        self.first_seen = true;
        self.pids.insert(p, init);
        init
    }

    /// A log PID in a call's argument or output, as the model numbers it. Before any prefix (a hand-written
    /// scenario) PIDs are the model's own; an unknown PID becomes one no task can have.
    fn to_model(&self, p: i64) -> i64 {
        match u32::try_from(p).ok().and_then(|p| self.pids.get(&p)) {
            Some(m) => m.0 as i64,
            None if !self.first_seen => p,
            None => i32::MAX as i64,
        }
    }

    /// A line of `p`, a PID with no mapping yet, came while a parent's clone is unfinished: that clone made
    /// `p` (strace prints the child's first lines before the parent's `<... clone resumed>` when they
    /// interleave). Run the latest such clone now and map `p` to its child; the resumed line then checks
    /// that its result is `p`.
    ///
    /// With several parents in an unfinished clone at once, the log's later `<... clone resumed> ... = p`
    /// line tells which one made `p` (looked for ahead, on a copy of the parse); without it, the latest.
    fn adopt(&mut self, p: u32, rest: &Steps) {
        let mut candidates: Vec<(usize, Option<u32>, String)> = Vec::new();
        for (pid, name, text, line) in rest.parser().unfinished() {
            if !matches!(name, "clone" | "clone3" | "fork" | "vfork") || self.early.contains_key(&pid) {
                continue;
            }
            if pid.is_some_and(|q| !self.pids.contains_key(&q)) {
                continue;
            }
            candidates.push((line, pid, format!("{})", text.trim_end().trim_end_matches(','))));
        }
        candidates.sort_by_key(|c| c.0);
        let chosen = if candidates.len() > 1 {
            const LOOKAHEAD: usize = 100_000;
            let parents: Vec<Option<u32>> = candidates.iter().map(|c| c.1).collect();
            rest.clone()
                .take(LOOKAHEAD)
                .filter_map(Result::ok)
                .find_map(|st| match &st.op {
                    Op::Call {
                        call,
                        expect: Expect::Value(v),
                    } if call.creates_task() && *v == p as i128 && parents.contains(&st.pid) => {
                        candidates.iter().position(|c| c.1 == st.pid)
                    }
                    _ => None,
                })
        } else {
            None
        };
        let Some((line, parent, text)) = chosen.map(|i| candidates.swap_remove(i)).or_else(|| candidates.pop()) else {
            return;
        };
        let Ok(Some(crate::ast::Line {
            kind: LineKind::Syscall(sc),
            ..
        })) = crate::parse::parse_line("", line, &text)
        else {
            return;
        };
        let Ok(Some(call)) = call::decode(&sc) else { return };
        let ppid = self.model_pid(parent);
        let out = call::execute(&mut self.kernel, ppid, &call);
        if let Ok(child) = out.result {
            let child = Pid(child as u32);
            self.stats.early_clones += 1;
            self.pids.insert(p, child);
            self.inherit(ppid, child);
            self.early.insert(parent, (p, child));
        }
    }

    /// A new task runs what its parent ran.
    fn inherit(&mut self, parent: Pid, child: Pid) {
        let real = self.procs.get(&parent).is_some_and(|s| s.real_program);
        self.procs.entry(child).or_default().real_program = real;
    }

    /// Make `fd` the lowest free descriptor of `pid`, as the log shows it was (see [`Stats::fd_syncs`]).
    fn sync_fd(&mut self, pid: Pid, fd: i128) {
        const MAX_FILL: i128 = 4096;
        if !(0..MAX_FILL).contains(&fd) {
            return;
        }
        let fd = fd as i32;
        let occupied = |k: &Kernel, f: i32| k.task(pid).is_ok_and(|t| t.files.get(f).is_some());
        if occupied(&self.kernel, fd) {
            let _ = self.kernel.sys_close(pid, fd as i64);
            self.stats.fd_syncs += 1;
        }
        for f in 0..fd {
            if !occupied(&self.kernel, f) {
                // A descriptor the program got from a call the log leaves out (pipe, dup, socket).
                if self
                    .kernel
                    .sys_openat(pid, uapi::AT_FDCWD, "/dev/null", uapi::O_RDONLY, 0)
                    .is_err()
                {
                    return;
                }
                self.stats.fd_syncs += 1;
            }
        }
    }

    /// Put a descriptor on `path` at `fd` if `pid` has none there (see [`Stats::fd_syncs`]).
    fn place_fd_on(&mut self, pid: Pid, fd: i64, path: &str) {
        if !(0..4096).contains(&fd) || self.kernel.task(pid).map_or(true, |t| t.files.get(fd as i32).is_some()) {
            return;
        }
        let Ok(low) = self.kernel.sys_openat(pid, uapi::AT_FDCWD, path, uapi::O_PATH, 0) else {
            return;
        };
        if low as i64 != fd {
            let _ = self.kernel.sys_dup3(pid, low as i64, fd, 0);
            let _ = self.kernel.sys_close(pid, low as i64);
        }
        self.stats.fd_syncs += 1;
    }

    /// Put a placeholder descriptor (on `/dev/null`) at `fd` if `pid` has none there (see
    /// [`Stats::fd_syncs`]).
    fn place_fd(&mut self, pid: Pid, fd: i64) {
        if !(0..4096).contains(&fd) || self.kernel.task(pid).map_or(true, |t| t.files.get(fd as i32).is_some()) {
            return;
        }
        let Ok(low) = self
            .kernel
            .sys_openat(pid, uapi::AT_FDCWD, "/dev/null", uapi::O_RDONLY, 0)
        else {
            return;
        };
        if low as i64 != fd {
            let _ = self.kernel.sys_dup3(pid, low as i64, fd, 0);
            let _ = self.kernel.sys_close(pid, low as i64);
        }
        self.stats.fd_syncs += 1;
    }

    /// Run a modeled call, check its result and outputs, and keep the PID map and per-process state.
    fn run_call(
        &mut self,
        n: usize,
        prefix: Option<u32>,
        pid: Pid,
        call: &Call,
        expect: &Expect,
        misses: &mut Vec<Miss>,
    ) -> Outcome {
        if call.creates_task() {
            if let Some((child_sp, child)) = self.early.remove(&prefix) {
                let out = Outcome::of(Ok(child.0 as u64));
                let want = match expect {
                    Expect::Value(v) => *v == child_sp as i128,
                    Expect::Error(_) => false,
                    Expect::Unchecked => true,
                };
                if !want {
                    misses.push((
                        n,
                        fmt_expect(expect, false),
                        format!("{child_sp} (whose lines came first)"),
                    ));
                }
                return out;
            }
        }
        let mapped;
        let call = if matches!(
            call,
            Call::Kill { .. }
                | Call::Tgkill { .. }
                | Call::Tkill { .. }
                | Call::Wait4 { .. }
                | Call::Waitid { .. }
                | Call::Prlimit64 { .. }
        ) {
            let mut c = call.clone();
            c.map_pids(|p| self.to_model(p));
            mapped = c;
            &mapped
        } else if let Call::Openat { path, .. } = call {
            // `/proc/<log PID>/...`: the process the log names is the model's process it maps to.
            match self.proc_path(path) {
                Some(p) => {
                    let mut c = call.clone();
                    if let Call::Openat { path, .. } = &mut c {
                        *path = p;
                    }
                    mapped = c;
                    &mapped
                }
                None => call,
            }
        } else {
            call
        };
        match call {
            Call::Exit { .. } | Call::ExitGroup { .. } if self.first_seen => {
                self.deferred.insert(pid, call.clone());
                return Outcome::of(Ok(0));
            }
            Call::Wait4 { .. } => {
                let child = match expect {
                    Expect::Value(v) if *v > 0 => Some(u32::try_from(*v).ok().and_then(|v| self.pids.get(&v).copied())),
                    Expect::Unchecked => None,
                    _ => Some(None),
                };
                self.reapable(pid, child);
            }
            Call::Waitid { info, .. } => {
                let child = match (expect, info) {
                    (Expect::Value(0), Some(i)) if i.pid > 0 => Some(u32::try_from(i.pid).ok().map(Pid)),
                    (Expect::Unchecked, _) | (Expect::Value(0), None) => None,
                    _ => Some(None),
                };
                self.reapable(pid, child);
            }
            Call::Openat { .. } => {
                if let Expect::Value(fd) = expect {
                    if self.procs.get(&pid).is_some_and(|s| s.real_program) {
                        self.sync_fd(pid, *fd);
                    }
                }
            }
            // fstat of such a descriptor (its structure is checked only where `-y` shows a path).
            // A descriptor shown with its file (`5</etc>`, from an fcntl(F_DUPFD) the filter left out) is put
            // in place on that file.
            Call::Newfstatat {
                dirfd, path, fd_path, ..
            }
            | Call::Statx {
                dirfd, path, fd_path, ..
            } if matches!(expect, Expect::Value(0)) && self.procs.get(&pid).is_some_and(|s| s.real_program) => {
                match fd_path.as_deref() {
                    Some(p) if p.starts_with('/') => self.place_fd_on(pid, *dirfd, p),
                    _ if path.is_empty() => self.place_fd(pid, *dirfd),
                    _ => {}
                }
            }
            // A descriptor a real program closes or duplicates successfully but the model never saw came from
            // a call the model does not run (pipe2, socket, eventfd): it is put in place first.
            Call::Close { fd } | Call::Dup { fd } | Call::Dup2 { old: fd, .. } | Call::Dup3 { old: fd, .. }
                if matches!(expect, Expect::Value(v) if *v >= 0)
                    && self.procs.get(&pid).is_some_and(|s| s.real_program) =>
            {
                self.place_fd(pid, *fd);
                if let (Call::Dup { .. }, Expect::Value(v)) = (call, expect) {
                    self.sync_fd(pid, *v);
                }
            }
            Call::Execve { envp, truncated, .. } => {
                self.stats.unknown_env += envp.is_none() as u64;
                self.stats.truncated_exec += *truncated as u64;
            }
            _ => {}
        }
        let out = call::execute(&mut self.kernel, pid, call);
        if call.returns_pid() {
            self.check_pid_result(n, call, expect, &out, misses);
        } else if let Some((want, got)) = check(call, expect, &out) {
            misses.push((n, want, got));
        }
        match (call, &out.result) {
            (Call::Wait4 { status: want, .. }, Ok(r)) if *r != 0 => {
                if let Some(got) = out.status {
                    self.ended.insert(Pid(*r as u32), status_of(got));
                    if let Some(want) = want {
                        if *want != got {
                            misses.push((n, fmt_wstatus(*want), fmt_wstatus(got)));
                        }
                    }
                }
            }
            (Call::Waitid { info: Some(want), .. }, Ok(_)) if *want != out.info.unwrap_or_default() => {
                misses.push((n, fmt_info(want), fmt_info(&out.info.unwrap_or_default())));
            }
            (Call::Getrlimit { old: Some(want), .. } | Call::Prlimit64 { old: Some(want), .. }, Ok(_))
                if out.rlim != Some(*want) =>
            {
                misses.push((n, fmt_rlim(Some(*want)), fmt_rlim(out.rlim)));
            }
            (Call::Newfstatat { .. } | Call::Statx { .. } | Call::Readlinkat { .. } | Call::Getcwd { .. }, Ok(_)) => {
                if let Some((want, got)) = call::check_outputs(call, &out) {
                    misses.push((n, want, got));
                }
                if let Some((want, got)) = call::check_cwd(&self.kernel, pid, call) {
                    misses.push((n, want, got));
                }
            }
            (Call::Execve { .. }, Ok(_)) => {
                let st = self.procs.entry(pid).or_default();
                st.real_program = true;
                st.pending_fault = None;
            }
            _ => {}
        }
        out
    }

    /// Apply the deferred exit of `pid`, or the deferred exit_group of its thread group. True when one ran.
    ///
    /// In a `strace -f` log a process ends at its `+++ exited` line, not at its exit_group line: ptrace
    /// reports a tracee's death to the tracer first, and only then can its parent reap it (so a parent's
    /// `wait4(-1)` between the two lines does not see it). The runner keeps the log's order: the exit runs at
    /// the `+++` line, or when a wait's result shows it had happened, or at the end of the log.
    fn apply_exit(&mut self, pid: Pid) -> bool {
        let key = if self.deferred.contains_key(&pid) {
            Some(pid)
        } else {
            let tgid = self.kernel.task(pid).map(|t| t.tgid).ok();
            self.deferred
                .iter()
                .find(|(p, c)| {
                    matches!(c, Call::ExitGroup { .. }) && self.kernel.task(**p).map(|t| t.tgid).ok() == tgid
                })
                .map(|(p, _)| *p)
        };
        let Some((caller, call)) = key.and_then(|k| self.deferred.remove(&k).map(|c| (k, c))) else {
            return false;
        };
        call::execute(&mut self.kernel, caller, &call);
        // A thread is released at once; its `+++` line is checked against the code it exited with.
        if let (Call::Exit { code }, Err(_)) = (&call, self.kernel.task(caller)) {
            self.ended.insert(caller, ExitStatus::Exited(code & 0xff));
        }
        true
    }

    /// Before a wait of `pid`: the children whose exits the log shows as done end now: `Some(child)`, the one
    /// the wait reaped (`Some(None)`: none), or, when the log does not say (`None`), every child.
    fn reapable(&mut self, pid: Pid, reaped: Option<Option<Pid>>) {
        let children: Vec<Pid> = match reaped {
            Some(c) => c.into_iter().collect(),
            None => self.kernel.task(pid).map(|t| t.children.clone()).unwrap_or_default(),
        };
        for c in children {
            self.apply_exit(c);
        }
    }

    /// A PID result (fork's child, wait4's reaped child) is compared through the PID map; a new child's PID
    /// enters it.
    fn check_pid_result(&mut self, n: usize, call: &Call, expect: &Expect, out: &Outcome, misses: &mut Vec<Miss>) {
        let got = match out.result {
            Ok(r) => r as i64,
            Err(e) => {
                if !matches!(expect, Expect::Unchecked | Expect::Error(_))
                    || matches!(expect, Expect::Error(name) if !call::errno_matches(name, e))
                {
                    misses.push((n, fmt_expect(expect, false), call::format_result(&out.result, false)));
                }
                return;
            }
        };
        let v = match expect {
            Expect::Unchecked => return,
            Expect::Error(_) => {
                misses.push((n, fmt_expect(expect, false), got.to_string()));
                return;
            }
            Expect::Value(v) => *v,
        };
        // A new child's PID is the log's numbering: it enters the map (from then on the log's PID names the
        // model's task); a wait's result must name the child the map says.
        let ok = if v <= 0 {
            v == got as i128
        } else if let Ok(v) = u32::try_from(v) {
            match self.pids.get(&v) {
                Some(m) if !self.stand_ins.contains(&v) => m.0 as i64 == got,
                _ if call.creates_task() => {
                    self.stand_ins.remove(&v);
                    self.pids.insert(v, Pid(got as u32));
                    true
                }
                None if !self.first_seen => v as i64 == got,
                _ => false,
            }
        } else {
            false
        };
        if !ok {
            misses.push((n, v.to_string(), format!("{got} (model PID)")));
        }
    }

    /// Run one prepared line. Returns what happened, as strace would print it (a call's result, a raised
    /// signal, bytes read), for narrating callers such as `memsim tour`.
    pub fn step(&mut self, step: &Step, out: &mut dyn Write, misses: &mut Vec<Miss>) -> io::Result<Option<String>> {
        self.exec(step, out, misses, true)
    }

    /// [`Runner::step`]; the effect is formatted only when `narrate` (a plain run never prints it, and
    /// formatting every result would cost more than many calls do).
    fn exec(
        &mut self,
        step: &Step,
        out: &mut dyn Write,
        misses: &mut Vec<Miss>,
        narrate: bool,
    ) -> io::Result<Option<String>> {
        let n = step.line;
        let pid = self.model_pid(step.pid);
        self.stats.lines += 1;
        if step.pid.is_some_and(|p| self.stand_ins.contains(&p)) {
            let ends = match &step.op {
                Op::Line(LineKind::Exited { .. } | LineKind::Killed { .. } | LineKind::Signal { .. }) => true,
                // A stand-in's own program and end are not PID 1's.
                Op::Call {
                    call: Call::Exit { .. } | Call::ExitGroup { .. } | Call::Execve { .. },
                    ..
                } => true,
                _ => false,
            };
            if ends {
                self.stats.skipped += 1;
                return Ok(None);
            }
        }
        let st = self.procs.entry(pid).or_default();
        if let Some((at, sig)) = st.pending_fault {
            if !matches!(step.op, Op::Line(LineKind::Signal { .. } | LineKind::Killed { .. })) {
                st.pending_fault = None;
                misses.push((at, "no signal".into(), fmt_siginfo(&sig)));
            }
        }
        let alive = self.kernel.task(pid).map(|t| t.is_alive()).unwrap_or(false);
        let needs_life = !matches!(
            step.op,
            Op::Line(
                LineKind::Signal { .. } | LineKind::Killed { .. } | LineKind::Exited { .. } | LineKind::Cat { .. }
            )
        );
        if needs_life && !alive {
            let st = self.procs.entry(pid).or_default();
            if !st.dead_reported {
                st.dead_reported = true;
                misses.push((n, format!("process {pid} to be alive"), self.describe_end(pid)));
            }
            return Ok(None);
        }
        let mut effect = None;
        let kind = match &step.op {
            Op::Call { call, expect } => {
                self.stats.calls += 1;
                let out = self.run_call(n, step.pid, pid, call, expect, misses);
                if call.creates_task() {
                    if let Ok(child) = out.result {
                        self.inherit(pid, Pid(child as u32));
                    }
                }
                if !narrate {
                    return Ok(None);
                }
                let mut text = call::format_result(&out.result, call.returns_address());
                if let Some(v) = &out.vec {
                    text = format!("{text}, vector {}", fmt_vec(v, false));
                }
                return Ok(Some(text));
            }
            Op::Unmodeled { name } => {
                match self.stats.unmodeled.get_mut(&**name) {
                    Some(c) => *c += 1,
                    None => {
                        self.stats.unmodeled.insert(name.to_string(), 1);
                    }
                }
                return Ok(None);
            }
            Op::Line(k) => k,
        };
        match kind {
            LineKind::Syscall(_) => {}
            LineKind::Access { op, addr, size } => {
                self.stats.accesses += 1;
                let r = match op {
                    AccessOp::Instr => self.kernel.access(pid, *addr, *size, AccessKind::Exec),
                    AccessOp::Load => self.kernel.access(pid, *addr, *size, AccessKind::Read),
                    AccessOp::Store => self.kernel.access(pid, *addr, *size, AccessKind::Write),
                    AccessOp::Modify => self
                        .kernel
                        .access(pid, *addr, *size, AccessKind::Read)
                        .and_then(|()| self.kernel.access(pid, *addr, *size, AccessKind::Write)),
                };
                match r {
                    Ok(()) => effect = narrate.then(|| "ok".to_string()),
                    Err(sig) => {
                        self.fault(pid, n, sig, misses);
                        effect = narrate.then(|| fmt_siginfo(&sig));
                    }
                }
            }
            LineKind::Poke { addr, bytes, expect } => {
                self.stats.accesses += 1;
                match self.kernel.poke(pid, *addr, bytes) {
                    Ok(()) => {
                        effect = narrate.then(|| bytes.len().to_string());
                        if let Some(want) = expect {
                            if *want != bytes.len() as u64 {
                                misses.push((n, want.to_string(), bytes.len().to_string()));
                            }
                        }
                    }
                    Err(sig) => {
                        self.fault(pid, n, sig, misses);
                        effect = narrate.then(|| fmt_siginfo(&sig));
                    }
                }
            }
            LineKind::Peek { addr, len, expect } => {
                self.stats.accesses += 1;
                match self.kernel.peek(pid, *addr, *len) {
                    Ok(got) => {
                        effect = narrate.then(|| quote(&got));
                        if let Some(want) = expect {
                            if *want != got {
                                misses.push((n, quote(want), quote(&got)));
                            }
                        }
                    }
                    Err(sig) => {
                        self.fault(pid, n, sig, misses);
                        effect = narrate.then(|| fmt_siginfo(&sig));
                    }
                }
            }
            LineKind::Signal {
                signo,
                code,
                addr,
                pid: si_pid,
            } => {
                let st = self.procs.entry(pid).or_default();
                let want = fmt_signal(*signo, *code, *addr);
                match st.pending_fault.take() {
                    Some((_, got)) => {
                        let ok = got.signo == *signo
                            && code.is_none_or(|c| c == got.code)
                            && addr.is_none_or(|a| a == got.addr);
                        if !ok {
                            misses.push((n, want, fmt_siginfo(&got)));
                        }
                    }
                    None if is_fault_signal(*signo) => {
                        // A real program's log shows the fault but not the access that caused it (strace
                        // traces no loads or stores): replay an access that must raise it, or find the task
                        // already killed by the kernel (SI_KERNEL: a failed exec past the point of no return).
                        if *code == Some(SI_KERNEL) {
                            let dead = self.kernel.task(pid).ok().and_then(|t| t.exit);
                            if !matches!(dead, Some(ExitStatus::Killed { signo: s, .. }) if s == *signo) {
                                misses.push((n, want, format!("process {pid} {}", fmt_exit(dead))));
                            }
                        } else if let Some(got) = self.untraced_fault(pid, *signo, *code, *addr) {
                            self.fault(pid, n, got, misses);
                            self.procs.entry(pid).or_default().pending_fault = None;
                            let ok = got.signo == *signo
                                && code.is_none_or(|c| c == got.code)
                                && addr.is_none_or(|a| a == got.addr);
                            if !ok {
                                misses.push((n, want, fmt_siginfo(&got)));
                            }
                        } else {
                            misses.push((n, want, "no signal (no access at that address faults)".into()));
                        }
                    }
                    None => {
                        self.stats.async_signals += 1;
                        if let (uapi::SIGCHLD, Some(c), Some(p)) = (*signo, code, si_pid) {
                            self.check_sigchld(n, *c, *p, misses);
                        }
                    }
                }
            }
            LineKind::Killed { signo, core_dumped } => {
                self.procs.entry(pid).or_default().pending_fault = None;
                let want = ExitStatus::Killed {
                    signo: *signo,
                    core_dumped: *core_dumped,
                };
                self.end_line(n, pid, want, !is_fault_signal(*signo), misses);
            }
            LineKind::Exited { code } => {
                // A thread or process leaving without an exit line in the scenario is ended here.
                self.end_line(n, pid, ExitStatus::Exited(*code), true, misses);
            }
            LineKind::Cat {
                pid: ProcPid::System,
                file,
            } => match self.kernel.proc_read_system(file) {
                Ok(bytes) => out.write_all(&bytes)?,
                Err(e) => misses.push((n, format!("/proc/{file}"), fmt_errno(e))),
            },
            LineKind::Cat { pid: p, file } => {
                let (target, file) = self.cat_target(p, file, pid);
                let file = file.as_str();
                match self.kernel.proc_read(target, file) {
                    Ok(bytes) => out.write_all(&bytes)?,
                    Err(e) => misses.push((n, format!("/proc/{target}/{file}"), fmt_errno(e))),
                }
            }
        }
        Ok(effect)
    }

    /// A `/proc/N/...` path whose N (or `task/N` within it) is a PID of the log, rewritten with the model's
    /// PIDs; `None` when nothing changes.
    pub fn proc_path(&self, path: &str) -> Option<String> {
        let rest = path.strip_prefix("/proc/")?;
        let (n, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let map = |x: &str| {
            x.parse::<u32>()
                .ok()
                .and_then(|v| self.pids.get(&v))
                .map(|p| p.to_string())
        };
        let pid = map(n);
        let (tid, after) = match tail.strip_prefix("task/") {
            Some(t) => {
                let (t, a) = t.split_once('/').map_or((t, None), |(t, a)| (t, Some(a)));
                (map(t), a)
            }
            None => (None, None),
        };
        if pid.is_none() && tid.is_none() {
            return None;
        }
        let pid = pid.unwrap_or_else(|| n.to_string());
        Some(match tid {
            Some(t) => match after {
                Some(a) => format!("/proc/{pid}/task/{t}/{a}"),
                None => format!("/proc/{pid}/task/{t}"),
            },
            None if tail.is_empty() => format!("/proc/{pid}"),
            None => format!("/proc/{pid}/{tail}"),
        })
    }

    /// What `cat /proc/PID/FILE` reads: a PID (and a `task/TID/` inside FILE) that the log named is mapped
    /// to the model's; any other number is a model PID as it is (so `/proc/2` is kthreadd); `self` is
    /// `current`.
    pub fn cat_target(&self, pid: &ProcPid, file: &str, current: Pid) -> (Pid, String) {
        let map = |x: u32| self.pids.get(&x).copied().unwrap_or(Pid(x));
        let target = match pid {
            ProcPid::Pid(x) => map(*x),
            _ => current,
        };
        let file = match file.strip_prefix("task/").and_then(|r| r.split_once('/')) {
            Some((tid, rest)) => match tid.parse::<u32>() {
                Ok(t) => format!("task/{}/{rest}", map(t)),
                Err(_) => file.to_string(),
            },
            None => file.to_string(),
        };
        (target, file)
    }

    /// The fault of a signal line that no traced access caused: an access at `si_addr` of the kind that
    /// would raise it — a load where nothing is mapped (SEGV_MAPERR) or for SIGBUS, else the first kind the VMA
    /// does not allow (SEGV_ACCERR) — run on the model; `None` when that access does not fault. The access is
    /// chosen from the VMA without running the others, so a replay never touches memory the program did not.
    fn untraced_fault(&mut self, pid: Pid, signo: u32, code: Option<u32>, addr: Option<u64>) -> Option<SigInfo> {
        let addr = addr?;
        let kind = match (signo, code) {
            (uapi::SIGSEGV, Some(uapi::SEGV_ACCERR)) => {
                let flags = self.kernel.mm(pid).ok()?.vma_at(VirtAddr(addr))?.flags;
                if !flags.contains(VmFlags::READ) {
                    AccessKind::Read
                } else if !flags.contains(VmFlags::WRITE) {
                    AccessKind::Write
                } else {
                    AccessKind::Exec
                }
            }
            (uapi::SIGSEGV | uapi::SIGBUS, _) => AccessKind::Read,
            _ => return None,
        };
        self.stats.untraced_faults += 1;
        self.kernel.access(pid, addr, 1, kind).err()
    }

    /// A `+++ exited with N +++` or `+++ killed by SIG +++` line: the task must have ended so. A live task is
    /// ended here when `may_end` (an exit the log does not show as a call, a signal from outside the model);
    /// a task already reaped is checked against the status its reaper saw, when one did.
    fn end_line(&mut self, n: usize, pid: Pid, want: ExitStatus, may_end: bool, misses: &mut Vec<Miss>) {
        if self.kernel.task(pid).is_ok_and(|t| t.exit.is_none()) {
            self.apply_exit(pid);
        }
        match self.kernel.task(pid).map(|t| t.exit) {
            Ok(None) if may_end => {
                self.stats.external_ends += matches!(want, ExitStatus::Killed { .. }) as u64;
                self.end(pid, want);
            }
            Ok(Some(got)) if got == want => {}
            Err(_) => match self.ended.get(&pid) {
                Some(got) if *got != want => misses.push((n, fmt_exit(Some(want)), fmt_exit(Some(*got)))),
                Some(_) => {}
                None => self.stats.ends_unchecked += 1,
            },
            _ => misses.push((n, fmt_exit(Some(want)), self.describe_end(pid))),
        }
    }

    /// `--- SIGCHLD {si_code=CLD_EXITED, si_pid=P, ...} ---`: the child P must have ended that way (it may be
    /// reaped already). Stops and continues are not modeled, so not checked.
    fn check_sigchld(&mut self, n: usize, code: u32, p: u32, misses: &mut Vec<Miss>) {
        if !self.first_seen || self.stand_ins.contains(&p) {
            return;
        }
        let Some(&child) = self.pids.get(&p) else { return };
        let end = match self.kernel.task(child) {
            Ok(t) => t.exit,
            Err(_) => match self.ended.get(&child) {
                Some(e) => Some(*e),
                None => return,
            },
        };
        let ok = match (code, end) {
            (call::CLD_EXITED, Some(ExitStatus::Exited(_))) => true,
            (call::CLD_KILLED, Some(ExitStatus::Killed { core_dumped: false, .. })) => true,
            (call::CLD_DUMPED, Some(ExitStatus::Killed { core_dumped: true, .. })) => true,
            (call::CLD_EXITED | call::CLD_KILLED | call::CLD_DUMPED, _) => false,
            _ => true,
        };
        if !ok {
            let what = uapi::name_of(call::CLD_NAMES, code as u64).unwrap_or("?");
            misses.push((n, format!("SIGCHLD {what} for {p}"), format!("{p} {}", fmt_exit(end))));
        }
    }

    /// An access faulted: the signal is pending for the next line to check, and with no handler it kills the
    /// process (`force_sig_fault` → `do_group_exit`), dumping core when RLIMIT_CORE allows it: with
    /// `--core-dir` the core file is written there as `core.PID` (the model's PID).
    fn fault(&mut self, pid: Pid, n: usize, sig: SigInfo, misses: &mut Vec<Miss>) {
        self.procs.entry(pid).or_default().pending_fault = Some((n, sig));
        // The core is taken before the exit releases the address space (`do_coredump` runs in the dying
        // task, before `do_group_exit`).
        let core = match &self.core_dir {
            Some(_) if sig_kernel_coredump(sig.signo) => self.kernel.core_dump(pid, &sig).ok(),
            _ => None,
        };
        self.kernel.force_sig_fault(pid, sig);
        let dumped = self
            .kernel
            .task(pid)
            .is_ok_and(|t| matches!(t.exit, Some(ExitStatus::Killed { core_dumped: true, .. })));
        if let (Some(dir), Some(bytes), true) = (&self.core_dir, core, dumped) {
            let comm = self.kernel.task(pid).map(|t| t.comm.clone()).unwrap_or_default();
            let path = dir.join(memsim_core::fs::coredump::core_file_name(pid, &comm));
            match std::fs::write(&path, bytes) {
                Ok(()) => self.stats.core_files += 1,
                Err(e) => misses.push((n, format!("{} written", path.display()), e.to_string())),
            }
        }
    }

    /// End a process through the core (`do_exit`).
    fn end(&mut self, pid: Pid, status: ExitStatus) {
        call::do_exit(&mut self.kernel, pid, status);
        if self.kernel.task(pid).is_err() {
            self.ended.insert(pid, status);
        }
    }

    fn describe_end(&self, pid: Pid) -> String {
        match self.kernel.task(pid) {
            Ok(t) => fmt_exit(t.exit),
            Err(_) => format!("no process {pid}"),
        }
    }
}

/// Compare a call's outcome with the expectation; `Some((expected, got))` on a mismatch.
pub fn check(call: &Call, expect: &Expect, out: &Outcome) -> Option<(String, String)> {
    let hex = call.returns_address();
    let ok = match (expect, &out.result) {
        (Expect::Unchecked, _) => true,
        (Expect::Value(v), Ok(r)) => *v >= i64::MIN as i128 && *v <= u64::MAX as i128 && *v as u64 == *r,
        (Expect::Error(name), Err(e)) => call::errno_matches(name, *e),
        _ => false,
    };
    if !ok {
        return Some((fmt_expect(expect, hex), call::format_result(&out.result, hex)));
    }
    if let (
        Call::Mincore {
            vec: Some(want),
            vec_complete,
            ..
        },
        Some(got),
    ) = (call, &out.vec)
    {
        let same = if *vec_complete {
            got == want
        } else {
            got.len() >= want.len() && got[..want.len()] == want[..]
        };
        if !same {
            return Some((fmt_vec(want, !*vec_complete), fmt_vec(got, false)));
        }
    }
    None
}

fn fmt_expect(e: &Expect, hex: bool) -> String {
    match e {
        Expect::Value(v) if hex && *v >= 0 => format!("{v:#x}"),
        Expect::Value(v) => v.to_string(),
        Expect::Error(name) => match Errno::from_name(name) {
            Some(e) => format!("-1 {} ({})", name, e.strerror()),
            None => format!("-1 {name}"),
        },
        Expect::Unchecked => "?".into(),
    }
}

/// A wait status (`include/uapi/linux/wait.h` encoding) as the end it records.
fn status_of(w: i32) -> ExitStatus {
    if w & 0x7f == 0 {
        ExitStatus::Exited((w >> 8) & 0xff)
    } else {
        ExitStatus::Killed {
            signo: (w & 0x7f) as u32,
            core_dumped: w & 0x80 != 0,
        }
    }
}

/// A wait status as strace prints it.
fn fmt_wstatus(w: i32) -> String {
    if w & 0x7f == 0 {
        format!("[{{WIFEXITED(s) && WEXITSTATUS(s) == {}}}]", (w >> 8) & 0xff)
    } else if w & 0xff == 0x7f {
        format!(
            "[{{WIFSTOPPED(s) && WSTOPSIG(s) == {}}}]",
            signal_name(((w >> 8) & 0xff) as u32)
        )
    } else {
        format!(
            "[{{WIFSIGNALED(s) && WTERMSIG(s) == {}{}}}]",
            signal_name((w & 0x7f) as u32),
            if w & 0x80 != 0 { " && WCOREDUMP(s)" } else { "" }
        )
    }
}

fn fmt_info(i: &call::WaitInfo) -> String {
    if i.pid == 0 {
        return "{}".into();
    }
    format!(
        "{{si_code={}, si_pid={}, si_status={}}}",
        uapi::name_of(call::CLD_NAMES, i.code as u64).map_or_else(|| i.code.to_string(), str::to_string),
        i.pid,
        i.status
    )
}

fn fmt_rlim(r: Option<Rlimit>) -> String {
    let v = |x: u64| {
        if x == uapi::RLIM_INFINITY {
            "RLIM64_INFINITY".to_string()
        } else {
            x.to_string()
        }
    };
    match r {
        Some(r) => format!("{{rlim_cur={}, rlim_max={}}}", v(r.cur), v(r.max)),
        None => "no limit written".into(),
    }
}

fn fmt_errno(e: Errno) -> String {
    format!("{} ({})", e.name(), e.strerror())
}

fn fmt_vec(v: &[u8], more: bool) -> String {
    let mut s: Vec<String> = v.iter().map(|b| b.to_string()).collect();
    if more {
        s.push("...".into());
    }
    format!("[{}]", s.join(", "))
}

fn signal_name(signo: u32) -> String {
    uapi::name_of(uapi::SIGNAL_NAMES, signo as u64).map_or_else(|| format!("signal {signo}"), str::to_string)
}

fn code_name(signo: u32, code: u32) -> String {
    let table = match signo {
        uapi::SIGSEGV => uapi::SEGV_CODE_NAMES,
        uapi::SIGBUS => uapi::BUS_CODE_NAMES,
        _ => &[],
    };
    uapi::name_of(table, code as u64).map_or_else(|| code.to_string(), str::to_string)
}

fn fmt_signal(signo: u32, code: Option<u32>, addr: Option<u64>) -> String {
    let mut fields = Vec::new();
    if let Some(c) = code {
        fields.push(format!("si_code={}", code_name(signo, c)));
    }
    if let Some(a) = addr {
        fields.push(format!("si_addr={a:#x}"));
    }
    if fields.is_empty() {
        signal_name(signo)
    } else {
        format!("{} {{{}}}", signal_name(signo), fields.join(", "))
    }
}

/// A raised signal as strace prints it (the fields memsim models).
pub fn fmt_siginfo(s: &SigInfo) -> String {
    fmt_signal(s.signo, Some(s.code), Some(s.addr))
}

fn fmt_exit(e: Option<ExitStatus>) -> String {
    match e {
        None => "alive".into(),
        Some(ExitStatus::Exited(c)) => format!("exited with {c}"),
        Some(ExitStatus::Killed { signo, core_dumped }) => {
            format!(
                "killed by {}{}",
                signal_name(signo),
                if core_dumped { " (core dumped)" } else { "" }
            )
        }
    }
}

/// `"bytes"` with C escapes, as strace prints strings.
pub fn quote(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// Signals an access raises synchronously (the ones a signal line checks against the previous access).
fn is_fault_signal(signo: u32) -> bool {
    matches!(
        signo,
        uapi::SIGSEGV | uapi::SIGBUS | uapi::SIGILL | uapi::SIGFPE | uapi::SIGTRAP
    )
}

/// `SIG_KERNEL_COREDUMP_MASK` (`include/linux/signal.h`).
fn sig_kernel_coredump(signo: u32) -> bool {
    matches!(
        signo,
        uapi::SIGQUIT
            | uapi::SIGILL
            | uapi::SIGTRAP
            | uapi::SIGABRT
            | uapi::SIGFPE
            | uapi::SIGSEGV
            | uapi::SIGBUS
            | 24
            | 25
            | 31
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use memsim_core::fs::MemFs;

    /// A process killed by a fault releases its address space (`exit_mmap`): its VMAs, page tables, pages and
    /// commit charge, as a process ending with exit_group does.
    #[test]
    fn a_killed_process_releases_its_memory() {
        for end in [
            " L 200000000,1\n--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x200000000} ---\n\
             +++ killed by SIGSEGV +++\n",
            "exit_group(0) = ?\n+++ exited with 0 +++\n",
        ] {
            let mut r = Runner::new(Machine::default().build(Box::new(MemFs::new())));
            let used = r.kernel.phys.nr_used();
            let committed = r.kernel.committed_pages;
            let text = format!(
                "mmap(0x100000000, 16384, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = \
                 0x100000000\n S 100000000,1\n S 100002000,8\n{end}"
            );
            let s = r.run("t.scn", &text, &mut io::sink(), false).unwrap();
            assert_eq!(s.failures, vec![], "{end}");
            // The zombie has no mm; an mm kept for its mm_count (kernel threads borrow it) is empty.
            assert!(
                r.kernel
                    .task(memsim_core::kernel::INIT_PID)
                    .map_or(true, |t| t.mm.is_none()),
                "{end}"
            );
            for mm in r.kernel.mms.values() {
                assert_eq!(mm.total_vm, 0, "{end}");
                assert!(mm.vmas.is_empty(), "{end}");
                assert!(mm.pgd.is_none(), "{end}");
            }
            assert_eq!(r.kernel.phys.nr_used(), used, "{end}");
            assert_eq!(r.kernel.committed_pages, committed, "{end}");
        }
    }

    /// Unmodeled calls are counted by name, however many names share the name cache's slots.
    #[test]
    fn unmodeled_calls_are_counted_by_name() {
        let names: Vec<String> = (0..100).map(|i| format!("call{i}")).collect();
        let mut text = String::new();
        for round in 0..3 {
            for (i, n) in names.iter().enumerate() {
                if i % 3 >= round {
                    text += &format!("{n}(1, 2) = 0\n");
                }
            }
        }
        let mut r = Runner::new(Machine::default().build(Box::new(MemFs::new())));
        let s = r.run("t.scn", &text, &mut io::sink(), false).unwrap();
        assert_eq!(s.stats.unmodeled.len(), 100);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(s.stats.unmodeled[n], (i % 3 + 1) as u64, "{n}");
        }
        let steps = prepare("t.scn", &text).unwrap();
        assert!(steps
            .iter()
            .zip(text.lines())
            .all(|(s, l)| matches!(&s.op, Op::Unmodeled { name, .. } if l.starts_with(&format!("{name}(")))));
    }
}
