//! msync (`mm/msync.c`). STUB.

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    pub fn sys_msync(&mut self, _pid: Pid, _start: u64, _len: u64, _flags: u64) -> SysResult {
        Err(Errno::ENOSYS)
    }
}
