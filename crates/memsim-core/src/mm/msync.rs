//! msync (`mm/msync.c`).
//!
//! Only the checks and the walk are modelled. `MS_SYNC` on a shared file mapping would write dirty pages back
//! (`vfs_fsync_range`); memsim never writes a host file, so dirty shared file pages simply stay dirty in the
//! model's page cache (a real kernel would show them clean in smaps afterwards). `MS_ASYNC` is a no-op in
//! Linux too, and `MS_INVALIDATE` only refuses locked VMAs.

use crate::addr::{VirtAddr, PAGE_MASK};
use crate::errno::{Errno, SysResult};
use crate::kernel::Kernel;
use crate::mm::vma::VmFlags;
use crate::task::Pid;
use crate::uapi::{MS_ASYNC, MS_INVALIDATE, MS_SYNC};

impl Kernel {
    /// `msync(start, len, flags)`.
    pub fn sys_msync(&mut self, pid: Pid, start: u64, len: u64, flags: u64) -> SysResult {
        let mm = self.mm_id(pid)?;
        if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 {
            return Err(Errno::EINVAL);
        }
        if start & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & MS_ASYNC != 0 && flags & MS_SYNC != 0 {
            return Err(Errno::EINVAL);
        }
        // len is rounded up with wrapping: −1 and −4095 become 0 (success), −8192 wraps below start.
        let len = len.wrapping_add(!PAGE_MASK) & PAGE_MASK;
        let end = start.wrapping_add(len);
        if end < start {
            return Err(Errno::ENOMEM);
        }
        if end == start {
            return Ok(0);
        }
        // Unmapped parts are skipped but reported as ENOMEM at the end; MS_ASYNC alone stops at the first.
        let mut start = start;
        let mut unmapped_error = None;
        loop {
            let Some(vma) = self.mms[&mm].vmas.find(VirtAddr(start)) else {
                return Err(Errno::ENOMEM);
            };
            if start < vma.start.as_u64() {
                if flags == MS_ASYNC {
                    return Err(Errno::ENOMEM);
                }
                start = vma.start.as_u64();
                if start >= end {
                    return Err(Errno::ENOMEM);
                }
                unmapped_error = Some(Errno::ENOMEM);
            }
            if flags & MS_INVALIDATE != 0 && vma.flags.contains(VmFlags::LOCKED) {
                return Err(Errno::EBUSY);
            }
            // MS_SYNC of a shared file mapping: vfs_fsync_range, which the model does not perform (see above).
            start = vma.end.as_u64();
            if start >= end {
                return match unmapped_error {
                    Some(e) => Err(e),
                    None => Ok(0),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::INIT_PID;
    use crate::mm::mprotect::testkit::*;

    fn msync(k: &mut Kernel, a: u64, n: u64, flags: u64) -> SysResult {
        k.sys_msync(INIT_PID, page(a), n * P, flags)
    }

    #[test]
    fn argument_errors_in_order() {
        let mut k = build("WWWW");
        // Invalid flags beat an unaligned start.
        assert_eq!(k.sys_msync(INIT_PID, page(0) + 1, P, 8), Err(Errno::EINVAL));
        assert_eq!(k.sys_msync(INIT_PID, page(0) + 1, P, MS_SYNC), Err(Errno::EINVAL));
        assert_eq!(msync(&mut k, 0, 1, MS_ASYNC | MS_SYNC), Err(Errno::EINVAL));
        // Length rounding: −8192 wraps (ENOMEM), −1, −4095 and 0 round to nothing (0), even unmapped.
        assert_eq!(
            k.sys_msync(INIT_PID, page(0), 0u64.wrapping_sub(8192), MS_SYNC),
            Err(Errno::ENOMEM)
        );
        for len in [0u64, u64::MAX, 0u64.wrapping_sub(4095)] {
            assert_eq!(k.sys_msync(INIT_PID, 0x7000_0000, len, MS_SYNC), Ok(0), "len {len:#x}");
        }
        assert_eq!(msync(&mut k, 0, 4, MS_SYNC | MS_INVALIDATE), Ok(0));
        assert_eq!(msync(&mut k, 0, 4, 0), Ok(0));
    }

    #[test]
    fn unmapped_ranges() {
        let mut k = build(" WW WW");
        // Start unmapped.
        assert_eq!(msync(&mut k, 0, 1, MS_SYNC), Err(Errno::ENOMEM));
        assert_eq!(msync(&mut k, 7, 1, MS_SYNC), Err(Errno::ENOMEM));
        // Holes: the rest is processed, then ENOMEM.
        assert_eq!(msync(&mut k, 1, 5, MS_SYNC), Err(Errno::ENOMEM));
        assert_eq!(msync(&mut k, 0, 3, 0), Err(Errno::ENOMEM));
        assert_eq!(msync(&mut k, 1, 2, MS_ASYNC), Ok(0));
        assert_eq!(msync(&mut k, 1, 4, MS_ASYNC), Err(Errno::ENOMEM));
    }

    #[test]
    fn invalidate_on_locked_is_ebusy_even_after_a_hole() {
        let mut k = build("WW LL");
        assert_eq!(msync(&mut k, 3, 2, MS_INVALIDATE), Err(Errno::EBUSY));
        assert_eq!(
            msync(&mut k, 0, 5, MS_INVALIDATE),
            Err(Errno::EBUSY),
            "EBUSY wins over the earlier hole"
        );
        assert_eq!(msync(&mut k, 0, 5, MS_SYNC), Err(Errno::ENOMEM));
        assert_eq!(msync(&mut k, 3, 2, MS_SYNC), Ok(0));
    }
}
