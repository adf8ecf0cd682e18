//! madvise (`mm/madvise.c`). STUB.

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    /// `madvise(start, len, advice)`.
    pub fn sys_madvise(&mut self, _pid: Pid, _start: u64, _len: u64, _advice: u64) -> SysResult {
        Err(Errno::ENOSYS)
    }
}
