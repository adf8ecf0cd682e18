//! Process exit and reaping (`kernel/exit.c`): `do_exit`, `do_group_exit`, `exit_notify`,
//! `forget_original_parent`, `release_task`, `wait4` and `waitid` (`do_wait`, `wait_consider_task`).
//!
//! Model rules (documented differences):
//! * A blocking wait with nothing to reap *now* would sleep until a child changes state; the model runs one
//!   call at a time and no other task can run meanwhile, so it returns `EAGAIN` (a value Linux's wait4 never
//!   returns) instead of blocking. `WNOHANG` gives 0 as in Linux.
//! * init (PID 1) is the scenario's first process and has no code of its own: children it *adopted* (whose
//!   parent died) are reaped as soon as they are zombies, as a real init's SIGCHLD handler would do, and its
//!   wait calls never report them. Its own children stay zombies until it waits for them.
//! * init may exit (it stands in for the first process of a scenario); its children then keep PID 1 as their
//!   parent.

use crate::errno::{Errno, SysResult};
use crate::fs::FdTable;
use crate::kernel::{Kernel, INIT_PID};
use crate::task::{ExitStatus, Pid, TaskState, PF_EXITING, PF_SIGNALED};
use crate::uapi::SIGCHLD;

pub const WNOHANG: u64 = 0x0000_0001;
pub const WUNTRACED: u64 = 0x0000_0002;
pub const WSTOPPED: u64 = WUNTRACED;
pub const WEXITED: u64 = 0x0000_0004;
pub const WCONTINUED: u64 = 0x0000_0008;
pub const WNOWAIT: u64 = 0x0100_0000;
pub const __WNOTHREAD: u64 = 0x2000_0000;
pub const __WALL: u64 = 0x4000_0000;
pub const __WCLONE: u64 = 0x8000_0000;
/// `idtype_t` of waitid.
pub const P_ALL: u32 = 0;
pub const P_PID: u32 = 1;
pub const P_PGID: u32 = 2;
pub const P_PIDFD: u32 = 3;
/// `si_code` values of SIGCHLD and waitid.
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_TRAPPED: i32 = 4;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

/// The wait status word of an exit (`exit_code` as wait4 stores it): the code in bits 8..15, or the signal
/// in bits 0..6 with 0x80 when a core was dumped.
pub fn wstatus(s: ExitStatus) -> i32 {
    match s {
        ExitStatus::Exited(code) => (code & 0xff) << 8,
        ExitStatus::Killed { signo, core_dumped } => (signo & 0x7f) as i32 | if core_dumped { 0x80 } else { 0 },
    }
}

/// What a successful wait reports (the fields of `siginfo_t` waitid fills, and wait4's status word).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct WaitInfo {
    /// 0 when `WNOHANG` found nothing.
    pub pid: Pid,
    pub uid: u32,
    /// `CLD_*`.
    pub code: i32,
    /// The exit code or signal number.
    pub status: i32,
    /// wait4's status word.
    pub wstatus: i32,
}

/// Which children a wait is for (`enum pid_type` with the id).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WaitWho {
    All,
    Pid(Pid),
    Pgid(Pid),
}

impl Kernel {
    /// `exit(code)`: this thread ends with status `code & 0xff`.
    pub fn sys_exit(&mut self, pid: Pid, code: i32) -> SysResult {
        self.task(pid)?;
        self.do_exit(pid, ExitStatus::Exited(code & 0xff));
        Ok(0)
    }

    /// `exit_group(code)`: every thread of the group ends (`do_group_exit`).
    pub fn sys_exit_group(&mut self, pid: Pid, code: i32) -> SysResult {
        self.task(pid)?;
        self.do_group_exit(pid, ExitStatus::Exited(code & 0xff));
        Ok(0)
    }

    /// `do_group_exit`: the other threads are killed (`zap_other_threads`) and exit with the group's status,
    /// then the caller exits.
    pub fn do_group_exit(&mut self, pid: Pid, status: ExitStatus) {
        let Some(t) = self.tasks.get(&pid) else { return };
        let others: Vec<Pid> = self.threads_of(t.tgid).map(|t| t.pid).filter(|&p| p != pid).collect();
        for p in others.iter().chain(std::iter::once(&pid)) {
            if let Some(x) = self.tasks.get_mut(p) {
                x.group_exit = Some(status);
            }
        }
        for p in others {
            self.do_exit(p, status);
        }
        self.do_exit(pid, status);
    }

    /// `do_exit(code)`: the task lets go of its address space (`exit_mm` → `mm_release`, `mmput`: the pages go
    /// when the last user goes), its descriptor table (`exit_files`) and its fs_struct, gives its children to
    /// a reaper and tells its parent (`exit_notify`). It stays a zombie until reaped, unless it is a thread
    /// (autoreaped) or its parent ignores SIGCHLD. A task that already ran `do_exit` is left alone; one that a
    /// fault only marked dead (`Kernel::access`) completes its exit here.
    pub fn do_exit(&mut self, pid: Pid, status: ExitStatus) {
        let Some(t) = self.tasks.get_mut(&pid) else { return };
        if t.flags & PF_EXITING != 0 {
            return;
        }
        t.flags |= PF_EXITING;
        let status = t.group_exit.unwrap_or(status);
        if matches!(status, ExitStatus::Killed { .. }) {
            t.flags |= PF_SIGNALED;
        }
        // exit_mm: mm_release (CLONE_CHILD_CLEARTID, vfork completion) happens while the mm is still ours.
        self.mm_release(pid);
        let Some(t) = self.tasks.get_mut(&pid) else { return };
        t.exit = Some(status);
        let mm = t.mm.take();
        let active = t.active_mm.take();
        // exit_files, exit_fs: drop our references (the shared structures live on in other users).
        t.files = FdTable::default();
        t.fs = crate::task::Shared::new(Default::default());
        match (mm, active) {
            (Some(m), _) => self.mmput(m),
            // A kernel thread only borrowed its active_mm (mm_count).
            (None, Some(a)) => self.mmdrop(a),
            (None, None) => {}
        }
        self.exit_notify(pid);
    }

    /// `exit_notify`: reparent the children, then become a zombie (a group leader with live threads waits for
    /// them before its parent is told), or be released at once.
    fn exit_notify(&mut self, pid: Pid) {
        self.forget_original_parent(pid);
        let Some(t) = self.tasks.get(&pid) else { return };
        let autoreap = if t.is_group_leader() {
            // thread_group_empty: the other threads were released when they exited.
            let group_empty = t.threads.len() <= 1;
            let sig = t.exit_signal;
            group_empty && self.do_notify_parent(pid, sig)
        } else {
            true // a thread never notifies: release_task right away
        };
        if let Some(t) = self.tasks.get_mut(&pid) {
            t.state = if autoreap { TaskState::Dead } else { TaskState::Zombie };
        }
        if autoreap {
            self.release_task(pid);
        }
    }

    /// `find_new_reaper`: a live thread of the same group, else init (`child_reaper`); none when init itself
    /// is the one exiting.
    fn find_new_reaper(&self, father: Pid) -> Option<Pid> {
        let f = self.tasks.get(&father)?;
        let live_thread = self
            .threads_of(f.tgid)
            .find(|t| t.pid != father && t.flags & PF_EXITING == 0)
            .map(|t| t.pid);
        if live_thread.is_some() {
            return live_thread;
        }
        if f.tgid == INIT_PID {
            return None;
        }
        self.tasks.contains_key(&INIT_PID).then_some(INIT_PID)
    }

    /// `forget_original_parent`: every child (and each of its threads) gets the reaper as parent; a zombie
    /// child whose group is empty is announced to the new parent (`reparent_leader`), which may reap it.
    fn forget_original_parent(&mut self, father: Pid) {
        let Some(reaper) = self.find_new_reaper(father) else {
            return;
        };
        let children = match self.tasks.get_mut(&father) {
            Some(f) => std::mem::take(&mut f.children),
            None => return,
        };
        let reaper_tgid = self.tasks.get(&reaper).map_or(reaper, |r| r.tgid);
        let father_tgid = self.tasks.get(&father).map_or(father, |f| f.tgid);
        let mut to_notify = Vec::new();
        for c in &children {
            let threads: Vec<Pid> = self.threads_of(*c).map(|t| t.pid).collect();
            for t in threads {
                if let Some(x) = self.tasks.get_mut(&t) {
                    x.real_parent = reaper;
                    x.ppid = reaper;
                }
            }
            if reaper_tgid != father_tgid {
                if let Some(x) = self.tasks.get_mut(c) {
                    // "We don't want people slaying init": an adopted child notifies with SIGCHLD.
                    x.exit_signal = SIGCHLD;
                    x.orphan = reaper == INIT_PID;
                    if x.state == TaskState::Zombie && x.threads.len() <= 1 {
                        to_notify.push(*c);
                    }
                }
            }
        }
        if let Some(r) = self.tasks.get_mut(&reaper) {
            r.children.extend(children.iter().copied());
        }
        for c in to_notify {
            if self.do_notify_parent(c, SIGCHLD) {
                self.release_task(c);
            }
        }
    }

    /// `release_task`: the task disappears (its PID becomes free). A thread leaves its group; the last one
    /// out lets a zombie leader be announced to its parent (and maybe reaped).
    pub fn release_task(&mut self, pid: Pid) {
        let Some(t) = self.tasks.remove(&pid) else { return };
        if !t.is_group_leader() {
            let leader = t.tgid;
            let mut notify_leader = None;
            if let Some(l) = self.tasks.get_mut(&leader) {
                l.threads.retain(|&p| p != pid);
                if l.threads.len() <= 1 && l.state == TaskState::Zombie {
                    notify_leader = Some(l.exit_signal);
                }
            }
            if let Some(sig) = notify_leader {
                if self.do_notify_parent(leader, sig) {
                    self.release_task(leader);
                }
            }
            return;
        }
        if let Some(p) = self.tasks.get_mut(&t.real_parent) {
            p.children.retain(|&c| c != pid);
        }
        // Children a released task still lists were reparented at its exit; drop stale links.
        for c in t.children {
            if let Some(x) = self.tasks.get_mut(&c) {
                if x.real_parent == pid {
                    x.real_parent = Pid(0);
                    x.ppid = Pid(0);
                }
            }
        }
    }

    /// `wait4(upid, &status, options, NULL)`: `(pid, wstatus)` of a child that exited (reaped), stopped
    /// (`WUNTRACED`, status `sig << 8 | 0x7f`) or continued (`WCONTINUED`, 0xffff); `(0, 0)` with `WNOHANG`
    /// when none has. EINVAL for unknown options, ECHILD without a matching child, EAGAIN when the call
    /// would block (see the module notes).
    pub fn sys_wait4(&mut self, pid: Pid, upid: i64, options: u64) -> Result<(Pid, i32), Errno> {
        // kernel_wait4
        if options & !(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL) != 0 {
            return Err(Errno::EINVAL);
        }
        let upid = upid as i32;
        // -INT_MIN is not defined.
        if upid == i32::MIN {
            return Err(Errno::ESRCH);
        }
        let who = if upid == -1 {
            WaitWho::All
        } else if upid < 0 {
            WaitWho::Pgid(Pid((-upid) as u32))
        } else if upid == 0 {
            WaitWho::Pgid(self.task(pid)?.pgid)
        } else {
            WaitWho::Pid(Pid(upid as u32))
        };
        let info = self.do_wait(pid, who, options | WEXITED)?;
        Ok((info.pid, info.wstatus))
    }

    /// `waitid(which, upid, &info, options, NULL)`: EINVAL for unknown options, for none of WEXITED, WSTOPPED
    /// and WCONTINUED, for a bad `which` or id; P_PIDFD needs a pidfd, which the model has none of (EBADF).
    /// A `WNOHANG` call that finds nothing returns a zeroed [`WaitInfo`].
    pub fn sys_waitid(&mut self, pid: Pid, which: u32, upid: i64, options: u64) -> Result<WaitInfo, Errno> {
        if options & !(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL) != 0 {
            return Err(Errno::EINVAL);
        }
        if options & (WEXITED | WSTOPPED | WCONTINUED) == 0 {
            return Err(Errno::EINVAL);
        }
        let upid = upid as i32;
        let who = match which {
            P_ALL => WaitWho::All,
            P_PID => {
                if upid <= 0 {
                    return Err(Errno::EINVAL);
                }
                WaitWho::Pid(Pid(upid as u32))
            }
            P_PGID => {
                if upid < 0 {
                    return Err(Errno::EINVAL);
                }
                if upid == 0 {
                    WaitWho::Pgid(self.task(pid)?.pgid)
                } else {
                    WaitWho::Pgid(Pid(upid as u32))
                }
            }
            P_PIDFD => {
                if upid < 0 {
                    return Err(Errno::EINVAL);
                }
                return Err(Errno::EBADF);
            }
            _ => return Err(Errno::EINVAL),
        };
        self.do_wait(pid, who, options)
    }

    /// `do_wait`: look at the children of every thread of the caller's group (only the caller's with
    /// `__WNOTHREAD`), in order, and take the first one with something to report.
    fn do_wait(&mut self, pid: Pid, who: WaitWho, options: u64) -> Result<WaitInfo, Errno> {
        let me = self.task(pid)?;
        let waiters: Vec<Pid> = if options & __WNOTHREAD != 0 {
            vec![pid]
        } else {
            self.threads_of(me.tgid).map(|t| t.pid).collect()
        };
        let mut any_eligible = false;
        for w in waiters {
            let children = self.tasks.get(&w).map(|t| t.children.clone()).unwrap_or_default();
            for c in children {
                let Some(ct) = self.tasks.get(&c) else { continue };
                // Adopted orphans belong to the model's own init logic (reaped at exit), not to the scenario's
                // first process that PID 1 stands for: its wait never sees them, as the real program's would not.
                if ct.orphan && w == INIT_PID {
                    continue;
                }
                // eligible_pid
                let pid_ok = match who {
                    WaitWho::All => true,
                    WaitWho::Pid(p) => ct.pid == p,
                    WaitWho::Pgid(g) => ct.pgid == g,
                };
                if !pid_ok {
                    continue;
                }
                // eligible_child: __WCLONE selects children with a non-SIGCHLD exit signal; __WALL takes all.
                if ((ct.exit_signal != SIGCHLD) ^ (options & __WCLONE != 0)) && options & __WALL == 0 {
                    continue;
                }
                any_eligible = true;
                let uid = ct.cred.uid;
                // wait_task_zombie (a leader with live threads is not reapable yet: delay_group_leader).
                if ct.state == TaskState::Zombie && options & WEXITED != 0 && ct.threads.len() <= 1 {
                    let status = ct.exit.unwrap_or(ExitStatus::Exited(0));
                    let (code, st) = match status {
                        ExitStatus::Exited(c) => (CLD_EXITED, c & 0xff),
                        ExitStatus::Killed { signo, core_dumped } => {
                            (if core_dumped { CLD_DUMPED } else { CLD_KILLED }, signo as i32)
                        }
                    };
                    if options & WNOWAIT == 0 {
                        if let Some(x) = self.tasks.get_mut(&c) {
                            x.state = TaskState::Dead;
                        }
                        self.release_task(c);
                    }
                    return Ok(WaitInfo {
                        pid: c,
                        uid,
                        code,
                        status: st,
                        wstatus: wstatus(status),
                    });
                }
                // wait_task_stopped
                if let Some(sig) = ct.stop_report {
                    if options & WSTOPPED != 0 && ct.state == TaskState::Stopped {
                        if options & WNOWAIT == 0 {
                            if let Some(x) = self.tasks.get_mut(&c) {
                                x.stop_report = None;
                            }
                        }
                        return Ok(WaitInfo {
                            pid: c,
                            uid,
                            code: CLD_STOPPED,
                            status: sig as i32,
                            wstatus: ((sig as i32) << 8) | 0x7f,
                        });
                    }
                }
                // wait_task_continued
                if ct.continue_report && options & WCONTINUED != 0 {
                    if options & WNOWAIT == 0 {
                        if let Some(x) = self.tasks.get_mut(&c) {
                            x.continue_report = false;
                        }
                    }
                    return Ok(WaitInfo {
                        pid: c,
                        uid,
                        code: CLD_CONTINUED,
                        status: crate::uapi::SIGCONT as i32,
                        wstatus: 0xffff,
                    });
                }
            }
        }
        if !any_eligible {
            return Err(Errno::ECHILD);
        }
        if options & WNOHANG != 0 {
            return Ok(WaitInfo::default());
        }
        Err(Errno::EAGAIN)
    }
}
