//! PID allocation (`kernel/pid.c`: `alloc_pid`). The task list in creation order (`for_each_process`) is in
//! `kernel/mod.rs`.

use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::task::Pid;

/// `PID_MAX_DEFAULT` (0x8000): `pid_max` on machines with at most 32 possible CPUs, as on this one.
pub const PID_MAX_DEFAULT: u32 = 0x8000;
/// `PID_MAX_LIMIT` on 64-bit (4 Mi), the largest `kernel.pid_max` accepts.
pub const PID_MAX_LIMIT: u32 = 4 * 1024 * 1024;
/// `RESERVED_PIDS`: after wrapping, allocation restarts here (low PIDs stay for daemons).
pub const RESERVED_PIDS: u32 = 300;

impl Kernel {
    /// `alloc_pid` → `idr_alloc_cyclic(&ns->idr, pid, pid_min, pid_max)`: the first free PID after the last
    /// one handed out; past `pid_max - 1` the search wraps to `RESERVED_PIDS` (`pid_min` once PID 1 exists).
    /// A PID stays taken while any task (zombies included) holds it. EAGAIN when every PID is taken
    /// (`idr_alloc_cyclic` returning -ENOSPC, which `alloc_pid` turns into -EAGAIN).
    pub fn alloc_pid(&mut self) -> Result<Pid, Errno> {
        let max = self.cfg.pid_max.clamp(RESERVED_PIDS + 1, PID_MAX_LIMIT);
        // pid_min is 1 until init exists (`RESERVED_PIDS` only applies once the cursor wrapped).
        let min = if self.tasks.is_empty() { 1 } else { RESERVED_PIDS };
        let start = self.last_pid.saturating_add(1);
        let taken = |p: u32| self.tasks.contains_key(&Pid(p));
        // idr_alloc_cyclic: [cursor, max) first, then [min, cursor).
        let first = (start.max(1)..max).find(|&p| !taken(p));
        let found = first.or_else(|| (min..start.min(max)).find(|&p| !taken(p)));
        let pid = found.ok_or(Errno::EAGAIN)?;
        self.last_pid = pid;
        Ok(Pid(pid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::MemFs;
    use crate::kernel::{KernelConfig, KTHREAD_WORKERS};
    use crate::task::Task;

    fn kernel(pid_max: u32) -> Kernel {
        let cfg = KernelConfig {
            pid_max,
            ..KernelConfig::default()
        };
        Kernel::new(cfg, Box::new(MemFs::new()))
    }

    fn occupy(k: &mut Kernel, p: u32) {
        let t = Task::blank(
            Pid(p),
            "x",
            crate::task::default_rlimits(1 << 30),
            crate::task::Cred::for_uid(0),
        );
        k.tasks.insert(Pid(p), t);
    }

    #[test]
    fn boot_pids_then_next() {
        let mut k = kernel(PID_MAX_DEFAULT);
        let n = 2 + KTHREAD_WORKERS.len() as u32;
        assert_eq!(k.last_pid, n);
        assert_eq!(k.alloc_pid(), Ok(Pid(n + 1)));
        assert_eq!(
            k.alloc_pid(),
            Ok(Pid(n + 2)),
            "increasing even though n+1 was never used"
        );
    }

    #[test]
    fn wraps_to_reserved_and_skips_live() {
        let mut k = kernel(400);
        k.last_pid = 398;
        assert_eq!(k.alloc_pid(), Ok(Pid(399)));
        occupy(&mut k, 300);
        occupy(&mut k, 301);
        assert_eq!(
            k.alloc_pid(),
            Ok(Pid(302)),
            "wrapped past pid_max to RESERVED_PIDS, skipping live ones"
        );
    }

    #[test]
    fn exhausted_is_eagain() {
        let mut k = kernel(310);
        for p in 300..310 {
            occupy(&mut k, p);
        }
        k.last_pid = 305;
        assert_eq!(k.alloc_pid(), Err(Errno::EAGAIN));
        k.tasks.remove(&Pid(303));
        assert_eq!(k.alloc_pid(), Ok(Pid(303)));
    }
}
