//! openat, close, dup, dup2, dup3 (`fs/open.c`, `fs/file.c`). STUB.

use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    pub fn sys_openat(&mut self, _pid: Pid, _dirfd: i64, _path: &str, _flags: u64, _mode: u64) -> SysResult {
        Err(Errno::ENOSYS)
    }
    pub fn sys_close(&mut self, _pid: Pid, _fd: i64) -> SysResult {
        Err(Errno::ENOSYS)
    }
    pub fn sys_dup(&mut self, _pid: Pid, _fd: i64) -> SysResult {
        Err(Errno::ENOSYS)
    }
    pub fn sys_dup2(&mut self, _pid: Pid, _old: i64, _new: i64) -> SysResult {
        Err(Errno::ENOSYS)
    }
    pub fn sys_dup3(&mut self, _pid: Pid, _old: i64, _new: i64, _flags: u64) -> SysResult {
        Err(Errno::ENOSYS)
    }
}
