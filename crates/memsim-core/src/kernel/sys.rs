//! Resource limits (`kernel/sys.c`): `getrlimit`, `setrlimit`, `prlimit64` (`do_prlimit`,
//! `check_prlimit_permission`). Limits live in `signal_struct`, so every thread of a group sees a change; fork
//! copies them and exec keeps them. A new RLIMIT_STACK only moves `mmap_base` at the next execve (the layout
//! is chosen there).

use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::task::{Pid, Rlimit, CAP_SYS_RESOURCE};
use crate::uapi::{RLIMIT_NOFILE, RLIM_NLIMITS};

impl Kernel {
    /// `getrlimit(resource)`: EINVAL for a resource number of 16 or more.
    pub fn sys_getrlimit(&mut self, pid: Pid, res: usize) -> Result<Rlimit, Errno> {
        self.do_prlimit(pid, pid, res, None)
    }

    /// `setrlimit(resource, new)`; returns the old limit (the call itself returns 0).
    pub fn sys_setrlimit(&mut self, pid: Pid, res: usize, new: Rlimit) -> Result<Rlimit, Errno> {
        self.do_prlimit(pid, pid, res, Some(new))
    }

    /// `prlimit64(pid, resource, new, old)`: `target_pid` 0 is the caller. ESRCH for no such task, EPERM when
    /// the caller's ids do not all match the target's real, effective and saved ids (uid and gid) and it lacks
    /// CAP_SYS_RESOURCE, then `do_prlimit`'s checks (a bad resource for a missing PID is ESRCH, as on this kernel). Returns the old limit.
    pub fn sys_prlimit64(
        &mut self,
        pid: Pid,
        target_pid: u32,
        res: usize,
        new: Option<Rlimit>,
    ) -> Result<Rlimit, Errno> {
        let target = if target_pid == 0 { pid } else { Pid(target_pid) };
        // find_task_by_vpid: a pid_t above INT_MAX names nothing.
        if target_pid > i32::MAX as u32 {
            return Err(Errno::ESRCH);
        }
        let t = self.task(target)?;
        let me = self.task(pid)?;
        // check_prlimit_permission (the same task is always allowed).
        if target != pid {
            let (c, tc) = (&me.cred, &t.cred);
            let id_match = c.uid == tc.euid
                && c.uid == tc.suid
                && c.uid == tc.uid
                && c.gid == tc.egid
                && c.gid == tc.sgid
                && c.gid == tc.gid;
            if !id_match && !me.capable(CAP_SYS_RESOURCE) {
                return Err(Errno::EPERM);
            }
        }
        self.do_prlimit(pid, target, res, new)
    }

    /// `do_prlimit(tsk, resource, new, old)`: EINVAL for a bad resource or soft above hard; EPERM for a
    /// NOFILE hard limit above `fs.nr_open` (even for root) and for raising a hard limit without
    /// CAP_SYS_RESOURCE (the *caller's* capability). The new value goes to every thread of the group.
    fn do_prlimit(&mut self, caller: Pid, target: Pid, res: usize, new: Option<Rlimit>) -> Result<Rlimit, Errno> {
        if res >= RLIM_NLIMITS {
            return Err(Errno::EINVAL);
        }
        if let Some(n) = new {
            if n.cur > n.max {
                return Err(Errno::EINVAL);
            }
            if res == RLIMIT_NOFILE && n.max > self.cfg.nr_open {
                return Err(Errno::EPERM);
            }
        }
        let t = self.task(target)?;
        let old = t.rlimits[res];
        let tgid = t.tgid;
        if let Some(n) = new {
            if n.max > old.max && !self.task(caller)?.capable(CAP_SYS_RESOURCE) {
                return Err(Errno::EPERM);
            }
            let threads: Vec<Pid> = self.threads_of(tgid).map(|t| t.pid).collect();
            for p in threads.into_iter().chain(std::iter::once(target)) {
                if let Some(x) = self.tasks.get_mut(&p) {
                    x.rlimits[res] = n;
                }
            }
        }
        Ok(old)
    }
}
