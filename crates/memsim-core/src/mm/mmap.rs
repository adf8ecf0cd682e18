//! mmap and munmap (`mm/mmap.c: do_mmap`, `mm/vma.c: __mmap_region, do_vmi_munmap`), and
//! `get_unmapped_area` (`arch/x86/kernel/sys_x86_64.c`). STUB.

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    /// `mmap(addr, len, prot, flags, fd, offset)`.
    #[allow(clippy::too_many_arguments)]
    pub fn sys_mmap(
        &mut self,
        _pid: Pid,
        _addr: u64,
        _len: u64,
        _prot: u64,
        _flags: u64,
        _fd: i64,
        _off: u64,
    ) -> SysResult {
        Err(Errno::ENOSYS)
    }

    /// `munmap(addr, len)`.
    pub fn sys_munmap(&mut self, _pid: Pid, _addr: u64, _len: u64) -> SysResult {
        Err(Errno::ENOSYS)
    }
}
