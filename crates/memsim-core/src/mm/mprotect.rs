//! mprotect (`mm/mprotect.c: do_mprotect_pkey, mprotect_fixup`). STUB.

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    /// `mprotect(start, len, prot)`.
    pub fn sys_mprotect(&mut self, _pid: Pid, _start: u64, _len: u64, _prot: u64) -> SysResult {
        Err(Errno::ENOSYS)
    }
}
