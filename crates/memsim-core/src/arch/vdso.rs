//! The vDSO (`arch/x86/entry/vdso/vma.c: map_vdso`, `lib/vdso/datastore.c`): at exec the kernel maps, in one
//! `get_unmapped_area` request with no hint (so directly below the lowest mapping at that time, normally the
//! dynamic linker), the data pages `[vvar]` (4 pages), the clock pages `[vvar_vclock]` (2 pages) and the code
//! `[vdso]` (this kernel's image: 2 pages). Since 6.x the vDSO address has no randomization of its own: it
//! moves with mmap_base.
//!
//! The model has no vDSO image: the pages are not backed, so touching them raises SIGBUS (the model runs no
//! code that would read them). The `[vsyscall]` gate line is printed by `procfs` for 64-bit machines.

use crate::addr::{VirtAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::mm::vma::{SpecialMapping, VmFlags, Vma};
use crate::mm::MmId;
use crate::task::Pid;

/// `VDSO_NR_PAGES`-style sizes of this kernel (6.18.44, x86-64), in pages.
pub const VVAR_PAGES: u64 = 4;
pub const VVAR_VCLOCK_PAGES: u64 = 2;
/// `vdso64_image.size` / `vdso32_image.size` in pages (both 2 on the reference kernel).
pub const VDSO_IMAGE_PAGES: u64 = 2;

/// Offset of `__kernel_vsyscall` in the 32-bit vDSO image (AT_SYSINFO on i386). Assumed, not measured: the
/// reference machine has no 32-bit kernel.
pub const VDSO32_KERNEL_VSYSCALL: u64 = 0x570;

/// The flags `[vvar]` and `[vvar_vclock]` show: `rd mr pf io de dd`.
const VVAR_FLAGS: VmFlags = VmFlags::READ
    .union(VmFlags::MAYREAD)
    .union(VmFlags::PFNMAP)
    .union(VmFlags::IO)
    .union(VmFlags::DONTEXPAND)
    .union(VmFlags::DONTDUMP);
/// The flags `[vdso]` shows: `rd ex mr mw me de`.
const VDSO_FLAGS: VmFlags = VmFlags::READ
    .union(VmFlags::EXEC)
    .union(VmFlags::MAYREAD)
    .union(VmFlags::MAYWRITE)
    .union(VmFlags::MAYEXEC)
    .union(VmFlags::DONTEXPAND);

impl Kernel {
    /// `map_vdso(image, 0)`: returns the address of the vDSO text (`mm->context.vdso`, AT_SYSINFO_EHDR).
    pub fn map_vdso(&mut self, pid: Pid, mm: MmId) -> Result<u64, Errno> {
        let total = (VVAR_PAGES + VVAR_VCLOCK_PAGES + VDSO_IMAGE_PAGES) << PAGE_SHIFT;
        let addr = self.get_unmapped_area(pid, mm, None, 0, total, 0, 0)?;
        let vclock = addr + (VVAR_PAGES << PAGE_SHIFT);
        let text = vclock + (VVAR_VCLOCK_PAGES << PAGE_SHIFT);
        // The text is installed first, then the data pages (the order only matters for failure unwinding).
        self.install_special_mapping(mm, text, VDSO_IMAGE_PAGES, VDSO_FLAGS, SpecialMapping::Vdso);
        self.install_special_mapping(mm, addr, VVAR_PAGES, VVAR_FLAGS, SpecialMapping::Vvar);
        self.install_special_mapping(mm, vclock, VVAR_VCLOCK_PAGES, VVAR_FLAGS, SpecialMapping::VvarVclock);
        Ok(text)
    }

    /// `_install_special_mapping`: a VMA with pgoff 0, the mm's def_flags (minus the lock bits) and
    /// VM_DONTEXPAND, never merged (`VM_SPECIAL`); accounted in total_vm and its class.
    fn install_special_mapping(&mut self, mm: MmId, start: u64, pages: u64, flags: VmFlags, kind: SpecialMapping) {
        let m = self.mms.get_mut(&mm).expect("exec's mm exists");
        let flags = (flags | m.def_flags | VmFlags::DONTEXPAND) - VmFlags::LOCKED_MASK;
        let mut v = Vma::new_anon(VirtAddr(start), VirtAddr(start + pages * PAGE_SIZE), flags);
        v.pgoff = 0;
        v.special = Some(kind);
        m.vmas.insert(v);
        m.vm_stat_account(flags, pages as i64);
    }
}
