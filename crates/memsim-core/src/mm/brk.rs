//! brk (`mm/mmap.c: SYSCALL_DEFINE1(brk)`, `mm/vma.c: do_brk_flags`). STUB.

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    /// `brk(addr)`: returns the new (or, on failure, the unchanged) break.
    pub fn sys_brk(&mut self, _pid: Pid, _brk: u64) -> SysResult {
        Err(Errno::ENOSYS)
    }
}
