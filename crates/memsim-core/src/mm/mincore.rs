//! mincore (`mm/mincore.c`). STUB.

use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    /// `mincore(start, len, vec)`: the residency vector, one byte per page.
    pub fn sys_mincore(&mut self, _pid: Pid, _start: u64, _len: u64) -> Result<Vec<u8>, Errno> {
        Err(Errno::ENOSYS)
    }
}
