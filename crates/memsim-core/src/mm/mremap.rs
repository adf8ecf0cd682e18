//! mremap (`mm/mremap.c`). STUB.

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    /// `mremap(old_addr, old_len, new_len, flags, new_addr)`.
    pub fn sys_mremap(
        &mut self,
        _pid: Pid,
        _old: u64,
        _old_len: u64,
        _new_len: u64,
        _flags: u64,
        _new_addr: u64,
    ) -> SysResult {
        Err(Errno::ENOSYS)
    }
}
