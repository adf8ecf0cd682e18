//! `/proc` renderers (`fs/proc/task_mmu.c`, `fs/proc/array.c`, `fs/proc/base.c`), one module per file, each
//! byte-identical to Linux 6.18 on x86-64. STUB.

use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::task::Pid;

impl Kernel {
    /// Render `/proc/PID/<name>` (`maps`, `smaps`, `smaps_rollup`, `status`, `statm`, `pagemap`, ...).
    pub fn proc_read(&self, pid: Pid, name: &str) -> Result<Vec<u8>, Errno> {
        let _ = (pid, name);
        Err(Errno::ENOENT)
    }
}
