//! `personality(2)` (`kernel/exec_domain.c`): the execution-domain word whose flag bits memory management reads
//! (ADDR_NO_RANDOMIZE, ADDR_COMPAT_LAYOUT, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO; `arch/aslr.rs`). It takes effect
//! at the next exec for the layout, at once for mmap/mprotect/brk.

use crate::errno::SysResult;
use crate::kernel::Kernel;
use crate::task::Pid;

/// `personality(0xffffffff)` only asks.
const PERSONALITY_QUERY: u32 = 0xffff_ffff;

impl Kernel {
    /// `personality(persona)`: returns the old personality and, unless `persona` is 0xffffffff, sets the new one
    /// (`set_personality`). The argument is an `unsigned int`: higher bits are dropped, as the syscall ABI does.
    pub fn sys_personality(&mut self, pid: Pid, persona: u64) -> SysResult {
        let persona = persona as u32;
        let t = self.task_mut(pid)?;
        let old = t.personality;
        if persona != PERSONALITY_QUERY {
            t.personality = persona;
        }
        Ok(u64::from(old))
    }
}

#[cfg(test)]
mod tests {
    use crate::fs::MemFs;
    use crate::kernel::{Kernel, KernelConfig, INIT_PID};

    #[test]
    fn returns_the_old_value_and_queries_with_all_ones() {
        let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
        assert_eq!(k.sys_personality(INIT_PID, 0x0040000), Ok(0));
        assert_eq!(k.sys_personality(INIT_PID, 0xffff_ffff), Ok(0x0040000));
        // Only the low 32 bits count: this is a query too.
        assert_eq!(k.sys_personality(INIT_PID, 0x1_ffff_ffff), Ok(0x0040000));
        assert_eq!(k.sys_personality(INIT_PID, 0), Ok(0x0040000));
        assert_eq!(k.task(INIT_PID).unwrap().personality, 0);
    }
}
