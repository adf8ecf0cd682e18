//! mlock, mlock2, munlock, mlockall, munlockall (`mm/mlock.c`). STUB.

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    pub fn sys_mlock(&mut self, pid: Pid, start: u64, len: u64) -> SysResult {
        self.sys_mlock2(pid, start, len, 0)
    }
    pub fn sys_mlock2(&mut self, _pid: Pid, _start: u64, _len: u64, _flags: u64) -> SysResult {
        Err(Errno::ENOSYS)
    }
    pub fn sys_munlock(&mut self, _pid: Pid, _start: u64, _len: u64) -> SysResult {
        Err(Errno::ENOSYS)
    }
    pub fn sys_mlockall(&mut self, _pid: Pid, _flags: u64) -> SysResult {
        Err(Errno::ENOSYS)
    }
    pub fn sys_munlockall(&mut self, _pid: Pid) -> SysResult {
        Err(Errno::ENOSYS)
    }
}
