//! Minimal signal state (`kernel/signal.c`): default actions, sending (`kill`, `group_send_sig_info`,
//! `prepare_signal`, `sig_ignored`, `complete_signal`), the permission check (`kill_ok_by_cred`), SIGCHLD to the
//! parent (`do_notify_parent`, `do_notify_parent_cldstop`) and fatal synchronous signals (`force_sig_fault`).
//!
//! There is no user code to run a handler: a caught or blocked signal stays pending (`SigPnd`/`ShdPnd`); a
//! signal whose default action terminates kills the whole thread group at once (the model does the
//! `get_signal` → `do_group_exit` of the receiver immediately); a stop signal stops every thread.
//!
//! Deliberate difference: the model's PID 1 stands in for a scenario's first process, so it is not protected
//! by `SIGNAL_UNKILLABLE` (Linux's init ignores every signal it has no handler for).

use crate::errno::{Errno, SysResult};
use crate::kernel::{Kernel, SigInfo};
use crate::task::{sigmask, Cred, ExitStatus, Pid, SigHandler, TaskState};
use crate::uapi::*;

pub const SIGTSTP: u32 = 20;
pub const SIGTTIN: u32 = 21;
pub const SIGTTOU: u32 = 22;
pub const SIGURG: u32 = 23;
pub const SIGXCPU: u32 = 24;
pub const SIGXFSZ: u32 = 25;
pub const SIGWINCH: u32 = 28;
pub const SIGSYS: u32 = 31;
/// `_NSIG`.
pub const NSIG: u32 = 64;
/// `CAP_KILL`.
pub const CAP_KILL: u32 = 5;
/// `binfmt->min_coredump` of ELF (`ELF_EXEC_PAGESIZE`): with `core_pattern` a file name (this machine's is
/// `core`), a smaller RLIMIT_CORE writes no core and the wait status has no 0x80.
pub const MIN_COREDUMP: u64 = 4096;
/// `sa_flags` bits the model reads.
pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 2;

/// What a signal does with `SIG_DFL` (`SIG_KERNEL_*_MASK` in `include/linux/signal.h`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SigDefault {
    Terminate,
    CoreDump,
    Stop,
    Continue,
    Ignore,
}

/// The default action of `sig`.
pub fn default_action(sig: u32) -> SigDefault {
    match sig {
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGFPE | SIGSEGV | SIGBUS | SIGSYS | SIGXCPU | SIGXFSZ => {
            SigDefault::CoreDump
        }
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => SigDefault::Stop,
        SIGCONT => SigDefault::Continue,
        SIGCHLD | SIGURG | SIGWINCH => SigDefault::Ignore,
        _ => SigDefault::Terminate,
    }
}

/// `sig_kernel_coredump(sig)`.
pub fn sig_kernel_coredump(sig: u32) -> bool {
    default_action(sig) == SigDefault::CoreDump
}

/// `valid_signal(sig)`: 0..=_NSIG.
pub fn valid_signal(sig: u32) -> bool {
    sig <= NSIG
}

/// `kill_ok_by_cred`: the sender's real or effective uid matches the target's real or saved uid, or the sender
/// has CAP_KILL.
pub fn kill_ok_by_cred(sender: &Cred, target: &Cred) -> bool {
    sender.euid == target.suid
        || sender.euid == target.uid
        || sender.uid == target.suid
        || sender.uid == target.uid
        || sender.capable(CAP_KILL)
}

impl Kernel {
    /// `kill(pid, sig)`: `pid > 0` one process (any thread id names its group), `0` the caller's process
    /// group, `-1` every process but init and the caller, `< -1` the process group `-pid`. Signal 0 checks
    /// existence and permission only.
    pub fn sys_kill(&mut self, pid: Pid, target: i64, sig: u32) -> SysResult {
        if !valid_signal(sig) {
            return Err(Errno::EINVAL);
        }
        let caller = self.task(pid)?;
        let (my_pgid, my_tgid) = (caller.pgid, caller.tgid);
        // pid_t is an int.
        let target = target as i32;
        if target > 0 {
            // kill_proc_info → kill_pid_info: find the task (a thread id too), signal its group.
            let t = Pid(target as u32);
            if !self.tasks.contains_key(&t) {
                return Err(Errno::ESRCH);
            }
            self.group_send_sig_info(pid, t, sig)?;
            return Ok(0);
        }
        if target == -1 {
            // Every process with PID > 1 outside the caller's group; EPERM failures are not reported
            // unless nothing else happened.
            let targets: Vec<Pid> = self
                .for_each_process()
                .filter(|p| p.pid.0 > 1 && p.tgid != my_tgid)
                .map(|p| p.pid)
                .collect();
            let mut ret = Ok(0);
            for t in &targets {
                if let Err(e) = self.group_send_sig_info(pid, *t, sig) {
                    if e != Errno::EPERM {
                        ret = Err(e);
                    }
                }
            }
            return if targets.is_empty() { Err(Errno::ESRCH) } else { ret };
        }
        // __kill_pgrp_info: success if any member could be signalled, else the last error; ESRCH for an
        // empty group. `target == i32::MIN` has no valid negation: ESRCH.
        let pgid = if target == 0 {
            my_pgid
        } else {
            match target.checked_neg() {
                Some(g) => Pid(g as u32),
                None => return Err(Errno::ESRCH),
            }
        };
        let members: Vec<Pid> = self
            .for_each_process()
            .filter(|p| p.pgid == pgid && !p.is_kthread())
            .map(|p| p.pid)
            .collect();
        if members.is_empty() {
            return Err(Errno::ESRCH);
        }
        let mut success = false;
        let mut last = Ok(0);
        for m in members {
            match self.group_send_sig_info(pid, m, sig) {
                Ok(()) => success = true,
                Err(e) => last = Err(e),
            }
        }
        if success {
            Ok(0)
        } else {
            last
        }
    }

    /// `tgkill(tgid, tid, sig)`: a signal for one thread, which must belong to `tgid`. EINVAL for a bad signal
    /// or a non-positive id, ESRCH when no such thread is in that group, EPERM without permission.
    pub fn sys_tgkill(&mut self, pid: Pid, tgid: i64, tid: i64, sig: u32) -> SysResult {
        let (tgid, tid) = (tgid as i32, tid as i32);
        if !valid_signal(sig) || tid <= 0 || tgid <= 0 {
            return Err(Errno::EINVAL);
        }
        self.do_tkill(pid, Some(Pid(tgid as u32)), Pid(tid as u32), sig)
    }

    /// `tkill(tid, sig)`: like tgkill without the group check.
    pub fn sys_tkill(&mut self, pid: Pid, tid: i64, sig: u32) -> SysResult {
        let tid = tid as i32;
        if !valid_signal(sig) || tid <= 0 {
            return Err(Errno::EINVAL);
        }
        self.do_tkill(pid, None, Pid(tid as u32), sig)
    }

    /// `do_tkill` → `do_send_specific`: a thread-directed signal. A fatal one still kills the whole group; a
    /// caught or blocked one is pending on that thread (`SigPnd`).
    fn do_tkill(&mut self, pid: Pid, tgid: Option<Pid>, tid: Pid, sig: u32) -> SysResult {
        let t = self.task(tid).map_err(|_| Errno::ESRCH)?;
        if tgid.is_some_and(|g| g != t.tgid) {
            return Err(Errno::ESRCH);
        }
        let s = self.task(pid)?;
        let allowed = s.tgid == t.tgid || (sig == SIGCONT && s.sid == t.sid) || kill_ok_by_cred(&s.cred, &t.cred);
        if !allowed {
            return Err(Errno::EPERM);
        }
        if sig == 0 || !t.is_alive() {
            return Ok(0);
        }
        let action = t.sighand.get().get(sig);
        let blocked = t.sig_blocked & sigmask(sig) != 0;
        if matches!(action.handler, SigHandler::Handler(_)) || (blocked && sig != SIGKILL) {
            // Caught, or blocked (never ignored while blocked): it waits on that thread.
            if let Some(x) = self.tasks.get_mut(&tid) {
                x.sig_pending |= sigmask(sig);
            }
            return Ok(0);
        }
        // The default or ignore actions act on the whole group exactly as a process-directed signal does.
        self.send_signal(tid, sig);
        Ok(0)
    }

    /// `rt_sigaction(sig, act, oact, sigsetsize)`: returns the old action. EINVAL for `sigsetsize != 8`, a
    /// signal outside 1..=64, or a new action for SIGKILL or SIGSTOP. Setting an action that ignores the
    /// signal discards its pending instances in every thread of the group (`do_sigaction`).
    pub fn sys_rt_sigaction(
        &mut self,
        pid: Pid,
        sig: u32,
        act: Option<crate::task::SigAction>,
        sigsetsize: u64,
    ) -> Result<crate::task::SigAction, Errno> {
        if sigsetsize != 8 {
            return Err(Errno::EINVAL);
        }
        if !(1..=NSIG).contains(&sig) || (act.is_some() && (sig == SIGKILL || sig == SIGSTOP)) {
            return Err(Errno::EINVAL);
        }
        let t = self.task(pid)?;
        let old = t.sighand.get().get(sig);
        let Some(mut new) = act else { return Ok(old) };
        // SIGKILL and SIGSTOP can never be blocked by a handler's mask.
        new.mask &= !(sigmask(SIGKILL) | sigmask(SIGSTOP));
        t.sighand.with(|h| h.action[sig as usize - 1] = new);
        let ignores = match new.handler {
            SigHandler::Ignore => true,
            SigHandler::Default => matches!(default_action(sig), SigDefault::Ignore | SigDefault::Continue),
            SigHandler::Handler(_) => false,
        };
        if ignores {
            let threads: Vec<Pid> = self.threads_of(pid).map(|t| t.pid).collect();
            for p in threads {
                if let Some(x) = self.tasks.get_mut(&p) {
                    x.sig_pending &= !sigmask(sig);
                    x.sig_shared_pending &= !sigmask(sig);
                }
            }
        }
        Ok(old)
    }

    /// `rt_sigprocmask(how, set, oset, sigsetsize)`: returns the old mask. EINVAL for `sigsetsize != 8` or an
    /// unknown `how` (checked only when a set is given). SIGKILL and SIGSTOP are silently never blocked.
    pub fn sys_rt_sigprocmask(&mut self, pid: Pid, how: u64, set: Option<u64>, sigsetsize: u64) -> Result<u64, Errno> {
        const SIG_BLOCK: u64 = 0;
        const SIG_UNBLOCK: u64 = 1;
        const SIG_SETMASK: u64 = 2;
        if sigsetsize != 8 {
            return Err(Errno::EINVAL);
        }
        let t = self.task_mut(pid)?;
        let old = t.sig_blocked;
        let Some(set) = set else { return Ok(old) };
        let set = set & !(sigmask(SIGKILL) | sigmask(SIGSTOP));
        t.sig_blocked = match how {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        Ok(old)
    }

    /// `group_send_sig_info`: the permission check (`check_kill_permission`), then delivery to the group.
    pub fn group_send_sig_info(&mut self, sender: Pid, target: Pid, sig: u32) -> Result<(), Errno> {
        let s = self.task(sender)?;
        let t = self.task(target)?;
        // The same thread group may always signal itself; SIGCONT within a session is also allowed.
        let same_group = s.tgid == t.tgid;
        let same_session_cont = sig == SIGCONT && s.sid == t.sid;
        if !same_group && !same_session_cont && !kill_ok_by_cred(&s.cred, &t.cred) {
            return Err(Errno::EPERM);
        }
        if sig != 0 {
            self.send_signal(target, sig);
        }
        Ok(())
    }

    /// `__send_signal_locked` for a thread-group-wide signal, after permission checks: `prepare_signal` (stop
    /// and continue side effects, ignored signals dropped), then `complete_signal` (fatal signals kill the
    /// group; default stops stop it; others stay pending in `ShdPnd`).
    pub fn send_signal(&mut self, target: Pid, sig: u32) {
        let Some(t) = self.tasks.get(&target) else { return };
        if !t.is_alive() || sig == 0 || !valid_signal(sig) {
            return; // an exiting group ignores new signals
        }
        let leader = t.tgid;
        let threads: Vec<Pid> = self.threads_of(leader).map(|t| t.pid).collect();
        let Some(l) = self.tasks.get(&leader) else { return };
        let action = l.sighand.get().get(sig);
        let blocked = l.sig_blocked & sigmask(sig) != 0;
        let core_limit = l.rlimit(RLIMIT_CORE);
        let def = default_action(sig);
        // prepare_signal: a stop signal cancels a pending SIGCONT; SIGCONT cancels pending stops and resumes a
        // stopped group (and tells the parent: CLD_CONTINUED).
        if def == SigDefault::Stop {
            for p in &threads {
                if let Some(x) = self.tasks.get_mut(p) {
                    x.sig_pending &= !sigmask(SIGCONT);
                    x.sig_shared_pending &= !sigmask(SIGCONT);
                }
            }
        }
        if sig == SIGCONT {
            let stop_mask = sigmask(SIGSTOP) | sigmask(SIGTSTP) | sigmask(SIGTTIN) | sigmask(SIGTTOU);
            let mut was_stopped = false;
            for p in &threads {
                if let Some(x) = self.tasks.get_mut(p) {
                    x.sig_pending &= !stop_mask;
                    x.sig_shared_pending &= !stop_mask;
                    if x.state == TaskState::Stopped {
                        x.state = TaskState::Running;
                        was_stopped = true;
                    }
                }
            }
            if was_stopped {
                if let Some(x) = self.tasks.get_mut(&leader) {
                    x.stop_report = None;
                    x.continue_report = true;
                }
                self.do_notify_parent_cldstop(leader);
            }
        }
        // sig_ignored (never for a blocked signal: it may be unblocked later).
        let ignored = !blocked
            && match action.handler {
                SigHandler::Ignore => true,
                SigHandler::Default => matches!(def, SigDefault::Ignore | SigDefault::Continue),
                SigHandler::Handler(_) => false,
            };
        if ignored {
            return;
        }
        // complete_signal: a fatal default action takes the group down now (SIGKILL even when blocked).
        let fatal =
            matches!(def, SigDefault::Terminate | SigDefault::CoreDump) && action.handler == SigHandler::Default;
        if fatal && (!blocked || sig == SIGKILL) {
            let core = def == SigDefault::CoreDump && core_limit >= MIN_COREDUMP;
            self.do_group_exit(
                leader,
                ExitStatus::Killed {
                    signo: sig,
                    core_dumped: core,
                },
            );
            return;
        }
        if def == SigDefault::Stop && action.handler == SigHandler::Default && !blocked {
            // do_signal_stop: every thread stops; the parent learns it (CLD_STOPPED).
            for p in &threads {
                if let Some(x) = self.tasks.get_mut(p) {
                    if x.is_alive() {
                        x.state = TaskState::Stopped;
                    }
                }
            }
            if let Some(x) = self.tasks.get_mut(&leader) {
                x.stop_report = Some(sig);
                x.continue_report = false;
            }
            self.do_notify_parent_cldstop(leader);
            return;
        }
        if let Some(x) = self.tasks.get_mut(&leader) {
            x.sig_shared_pending |= sigmask(sig);
        }
    }

    /// `do_notify_parent(tsk, sig)`: a child's death is announced to its parent with `sig` (its exit signal).
    /// Returns whether the child is reaped at once: the parent ignores SIGCHLD (SIG_IGN or SA_NOCLDWAIT), or,
    /// in the model, the parent is init and adopted the child (see [`crate::task::Task::orphan`]).
    pub fn do_notify_parent(&mut self, child: Pid, sig: u32) -> bool {
        let Some(c) = self.tasks.get(&child) else { return false };
        let (parent, orphan) = (c.ppid, c.orphan);
        let Some(p) = self.tasks.get(&parent) else {
            // No parent (PID 1, whose parent is the idle task): Linux panics when init dies; the model keeps
            // it as a zombie so that its end and final state stay readable (`/proc/1/status`).
            return false;
        };
        let act = p.sighand.get().get(SIGCHLD);
        let mut autoreap = false;
        let mut sig = sig;
        if sig == SIGCHLD && (act.handler == SigHandler::Ignore || act.flags & SA_NOCLDWAIT != 0) {
            autoreap = true;
            if act.handler == SigHandler::Ignore {
                sig = 0;
            }
        }
        if parent == crate::kernel::INIT_PID && orphan {
            autoreap = true;
        }
        if sig != 0 && valid_signal(sig) {
            self.send_signal(parent, sig);
        }
        autoreap
    }

    /// `do_notify_parent_cldstop`: SIGCHLD for a stop or continue, unless the parent asked for none
    /// (SA_NOCLDSTOP) or ignores SIGCHLD.
    fn do_notify_parent_cldstop(&mut self, leader: Pid) {
        let Some(parent) = self.tasks.get(&leader).map(|t| t.ppid) else {
            return;
        };
        let Some(p) = self.tasks.get(&parent) else { return };
        let act = p.sighand.get().get(SIGCHLD);
        if act.handler == SigHandler::Ignore || act.flags & SA_NOCLDSTOP != 0 {
            return;
        }
        self.send_signal(parent, SIGCHLD);
    }

    /// `force_sig_fault(sig, code, addr)` for a fault that user code caused: a blocked or ignored signal is
    /// unblocked and reset to the default first (`force_sig_info_to_task`), so unless a handler is installed
    /// the thread group dies of it; the core flag is set when the signal dumps core and RLIMIT_CORE is at least [`MIN_COREDUMP`]
    /// (the core file itself is written by `fs/coredump.rs`). A handler leaves the signal pending.
    ///
    /// The fault path (`Kernel::access`) already marks the faulting task dead; this completes the exit
    /// (address space released, parent notified, threads killed).
    pub fn force_sig_fault(&mut self, pid: Pid, info: SigInfo) {
        let Some(t) = self.tasks.get(&pid) else { return };
        let sig = info.signo;
        let leader = t.tgid;
        let handler = t.sighand.get().get(sig).handler;
        let already_dead = t.exit.is_some();
        if let SigHandler::Handler(_) = handler {
            if !already_dead && t.sig_blocked & sigmask(sig) == 0 {
                if let Some(x) = self.tasks.get_mut(&pid) {
                    x.sig_pending |= sigmask(sig);
                }
                return;
            }
        }
        // Reset to SIG_DFL and unblock (the handler was ignored or the signal blocked).
        if let Some(x) = self.tasks.get_mut(&pid) {
            x.sig_blocked &= !sigmask(sig);
            x.sighand.with(|h| {
                if (1..=64).contains(&sig) && h.action[sig as usize - 1].handler == SigHandler::Ignore {
                    h.action[sig as usize - 1].handler = SigHandler::Default;
                }
            });
        }
        let core = sig_kernel_coredump(sig)
            && self
                .tasks
                .get(&pid)
                .is_some_and(|t| t.rlimit(RLIMIT_CORE) >= MIN_COREDUMP);
        let status = ExitStatus::Killed {
            signo: sig,
            core_dumped: core,
        };
        self.do_group_exit(leader, status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_actions_match_signal_h() {
        assert_eq!(default_action(SIGSEGV), SigDefault::CoreDump);
        assert_eq!(default_action(SIGKILL), SigDefault::Terminate);
        assert_eq!(default_action(SIGTERM), SigDefault::Terminate);
        assert_eq!(default_action(SIGCHLD), SigDefault::Ignore);
        assert_eq!(default_action(SIGTSTP), SigDefault::Stop);
        assert_eq!(default_action(SIGCONT), SigDefault::Continue);
        assert_eq!(default_action(40), SigDefault::Terminate, "real-time signals terminate");
        assert!(sig_kernel_coredump(SIGXFSZ) && !sig_kernel_coredump(SIGPIPE));
    }

    #[test]
    fn cred_rules() {
        let root = Cred::for_uid(0);
        let a = Cred::for_uid(1000);
        let mut b = Cred::for_uid(1001);
        assert!(kill_ok_by_cred(&root, &a), "CAP_KILL");
        assert!(!kill_ok_by_cred(&a, &b));
        b.suid = 1000;
        assert!(kill_ok_by_cred(&a, &b), "sender uid == target saved uid");
        assert!(
            kill_ok_by_cred(&a, &root) == (root.uid == 1000),
            "no capability to signal root"
        );
    }
}
