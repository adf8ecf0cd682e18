//! The page-fault handler (`arch/x86/mm/fault.c: do_user_addr_fault`, `mm/memory.c: handle_mm_fault`) and
//! user memory access (`access`, `poke`, `peek`). STUB.

use crate::kernel::{AccessKind, Kernel, SigInfo};
use crate::task::Pid;
use crate::uapi::{SEGV_MAPERR, SIGSEGV};

impl Kernel {
    /// One user access of `len` bytes at `addr`; an access that straddles a page boundary touches both pages.
    pub fn access(&mut self, _pid: Pid, addr: u64, _len: u64, _kind: AccessKind) -> Result<(), SigInfo> {
        Err(SigInfo {
            signo: SIGSEGV,
            code: SEGV_MAPERR,
            addr,
        })
    }

    /// Store `bytes` at `addr` as user stores would.
    pub fn poke(&mut self, _pid: Pid, addr: u64, _bytes: &[u8]) -> Result<(), SigInfo> {
        Err(SigInfo {
            signo: SIGSEGV,
            code: SEGV_MAPERR,
            addr,
        })
    }

    /// Load `len` bytes at `addr` as user loads would.
    pub fn peek(&mut self, _pid: Pid, addr: u64, _len: u64) -> Result<Vec<u8>, SigInfo> {
        Err(SigInfo {
            signo: SIGSEGV,
            code: SEGV_MAPERR,
            addr,
        })
    }
}
