//! The model side: the same checked scenario run through `memsim_core::Kernel`, configured like the host.

use std::panic::{catch_unwind, AssertUnwindSafe};

use memsim_core::kernel::{AccessKind, Kernel, SigInfo, INIT_PID};
use memsim_core::task::TaskState;
use memsim_core::uapi::{AT_FDCWD, O_RDWR};
use memsim_core::Pid;
use memsim_scenario::ast::AccessOp;

use crate::host::HostConfig;
use crate::outcome::{Outcome, Snapshot};
use crate::plan::{Plan, Step, SyscallStep};

/// What the model did.
#[derive(Clone, Debug, Default)]
pub struct ModelRun {
    pub outcomes: Vec<Outcome>,
    pub snapshots: Vec<Snapshot>,
    /// The model panicked (a model bug, reported as a disagreement).
    pub panic: Option<String>,
}

/// A machine configured like the host, with PID 1's descriptors 0-2 open on `/dev/null` as a real process's
/// are, and its rlimits equal to this process's.
pub fn host_kernel(host: &HostConfig) -> Kernel {
    // The host file system as `memsim run` sees it.
    let mut k = Kernel::new(host.cfg.clone(), Box::new(memsim_scenario::HostFs::new()));
    if let Ok(t) = k.task_mut(INIT_PID) {
        t.rlimits = host.rlimits;
    }
    for _ in 0..3 {
        // If the model cannot open files yet, descriptor numbers will disagree and say so.
        let _ = k.sys_openat(INIT_PID, AT_FDCWD, "/dev/null", O_RDWR, 0);
    }
    k
}

fn signal(si: SigInfo) -> Outcome {
    Outcome::Signal {
        signo: si.signo,
        code: si.code,
        addr: si.addr,
    }
}

/// One system call, as the scenario crate's runner executes it.
fn syscall(k: &mut Kernel, pid: Pid, sc: &SyscallStep) -> Outcome {
    let out = memsim_scenario::execute(k, pid, &sc.call);
    // The harness reads every file a case opens before the real run (`warm_page_cache`): mirror that warm
    // page cache in the model, so faults on it are minor and mincore sees unmapped cached pages.
    if let (memsim_scenario::Call::Openat { .. }, Ok(fd)) = (&sc.call, &out.result) {
        let inode = k
            .task(pid)
            .ok()
            .and_then(|t| t.files.get(*fd as i32))
            .map(|e| e.file.inode.clone());
        if let Some(inode) = inode {
            k.page_cache_read_all(&inode);
        }
    }
    match (out.result, out.vec) {
        (Ok(v), Some(vec)) => Outcome::ValueWith(v, vec),
        (Ok(v), None) => Outcome::Value(v),
        (Err(e), _) => Outcome::Errno(e.code()),
    }
}

fn access(k: &mut Kernel, pid: Pid, op: AccessOp, addr: u64, size: u64) -> Result<(), SigInfo> {
    match op {
        AccessOp::Load => k.access(pid, addr, size, AccessKind::Read),
        AccessOp::Store => k.access(pid, addr, size, AccessKind::Write),
        AccessOp::Modify => {
            k.access(pid, addr, size, AccessKind::Read)?;
            k.access(pid, addr, size, AccessKind::Write)
        }
        AccessOp::Instr => k.access(pid, addr, size, AccessKind::Exec),
    }
}

fn render(k: &Kernel, pid: Pid, file: &str) -> String {
    match k.proc_read(pid, file) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => format!("<the model cannot render /proc/{pid}/{file}: {e}>\n"),
    }
}

/// Render `/proc/PID/<file>` as it was when a fatal signal was raised. The kernel side snapshots from its
/// signal handler, before the process dies; the model marks the task dead (a dead task shows no address
/// space) without tearing its `Mm` down, so the task is shown as alive for the rendering and marked dead again.
fn render_at_death(k: &mut Kernel, pid: Pid, file: &str) -> String {
    let saved = k.task_mut(pid).ok().map(|t| (t.exit.take(), t.state));
    if let Ok(t) = k.task_mut(pid) {
        t.state = TaskState::Running;
    }
    let text = render(k, pid, file);
    if let (Some((exit, state)), Ok(t)) = (saved, k.task_mut(pid)) {
        t.exit = exit;
        t.state = state;
    }
    text
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

/// Run a plan in the model.
pub fn run_model(plan: &Plan, host: &HostConfig) -> ModelRun {
    let mut run = ModelRun {
        outcomes: vec![Outcome::NotRun; plan.lines.len()],
        ..ModelRun::default()
    };
    let mut k = match catch_unwind(|| host_kernel(host)) {
        Ok(k) => k,
        Err(p) => {
            run.panic = Some(format!("while creating the machine: {}", panic_text(p)));
            return run;
        }
    };
    let pid = INIT_PID;
    let mut killed = false;
    for (i, pl) in plan.lines.iter().enumerate() {
        let step = catch_unwind(AssertUnwindSafe(|| match &pl.step {
            Step::Syscall(sc) => (syscall(&mut k, pid, sc), None),
            Step::Access { op, addr, size } => match access(&mut k, pid, *op, *addr, *size) {
                Ok(()) => (Outcome::Done, None),
                Err(si) => (signal(si), None),
            },
            Step::Poke { addr, bytes } => match k.poke(pid, *addr, bytes) {
                Ok(()) => (Outcome::Value(bytes.len() as u64), None),
                Err(si) => (signal(si), None),
            },
            Step::Peek { addr, len } => match k.peek(pid, *addr, *len) {
                Ok(b) => (Outcome::Bytes(b), None),
                Err(si) => (signal(si), None),
            },
            Step::Cat { file } => (
                Outcome::Nothing,
                Some(Snapshot {
                    at: Some(i),
                    file: file.clone(),
                    text: render(&k, pid, file),
                }),
            ),
            Step::Nothing => (Outcome::Nothing, None),
        }));
        match step {
            Ok((outcome, snap)) => {
                let fatal = matches!(outcome, Outcome::Signal { .. });
                run.outcomes[i] = outcome;
                run.snapshots.extend(snap);
                if fatal {
                    killed = true;
                    break;
                }
            }
            Err(p) => {
                run.panic = Some(format!("at line {}: {}", pl.line.line, panic_text(p)));
                return run;
            }
        }
    }
    for file in ["maps", "smaps"] {
        let at_end = AssertUnwindSafe(|| {
            if killed {
                render_at_death(&mut k, pid, file)
            } else {
                render(&k, pid, file)
            }
        });
        match catch_unwind(at_end) {
            Ok(text) => run.snapshots.push(Snapshot {
                at: None,
                file: file.to_string(),
                text,
            }),
            Err(p) => {
                run.panic = Some(format!("rendering {file} at the end: {}", panic_text(p)));
                return run;
            }
        }
    }
    run
}
