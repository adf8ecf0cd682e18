//! The vDSO (`arch/x86/entry/vdso/vma.c: map_vdso`, `lib/vdso/datastore.c`): at exec the kernel maps, in one
//! `get_unmapped_area` request with no hint (so directly below the lowest mapping at that time, normally the
//! dynamic linker), the data pages `[vvar]` (4 pages), the clock pages `[vvar_vclock]` (2 pages) and the code
//! `[vdso]` (this kernel's image: 2 pages). Since 6.x the vDSO address has no randomization of its own: it
//! moves with mmap_base.
//!
//! Faults: `[vdso]` pages fault in the image pages (`KernelConfig::vdso_image`, zeros without one; they are
//! counted as file pages, like Linux's kernel pages mapped through `vmf->page`); `[vvar]` and `[vvar_vclock]`
//! are `VM_PFNMAP`: a read of a page that exists maps a raw PFN (the model maps the zero page through a special
//! PTE, so reads give zeros), which no Rss, pagemap or mincore counts; a page that does not exist raises
//! SIGBUS; writes fault with SIGSEGV (no VM_WRITE). The `[vsyscall]` gate line is printed by `procfs` for
//! 64-bit machines.

use crate::addr::Pfn;
use crate::addr::{VirtAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::errno::Errno;
use crate::fs::InodeId;
use crate::kernel::Kernel;
use crate::mm::fault::FaultError;
use crate::mm::vma::{SpecialMapping, VmFlags, Vma};
use crate::mm::MmId;
use crate::phys::PageFlags;
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

/// The bytes of a vDSO image (shown by length only in debug output).
#[derive(Clone, PartialEq, Eq)]
pub struct VdsoImage(pub std::sync::Arc<[u8]>);

impl std::fmt::Debug for VdsoImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VdsoImage({} bytes)", self.0.len())
    }
}

/// What a fault in a special mapping maps (the `fault` handler of its `vm_special_mapping`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SpecialFault {
    /// `vmf->page`: a page of the vDSO image, mapped and counted like a file page (MM_FILEPAGES, smaps Rss).
    Page(Pfn),
    /// `vmf_insert_pfn`: a raw kernel PFN in a `VM_PFNMAP` VMA, which no page count, smaps or pagemap sees.
    Pfn,
}

/// The page-cache key under which the model keeps the vDSO image pages (kernel pages in Linux, shared by
/// every process): an inode number no file gets.
pub const VDSO_IMAGE_INODE: InodeId = InodeId(u64::MAX - 0x7d50);

/// `vvar_fault` (`lib/vdso/datastore.c`) page offsets of this kernel: the time data, the time-namespace
/// page, the getrandom state; the fourth page (arch data) does not exist on x86.
const VDSO_TIME_PAGE: u64 = 0;
const VDSO_TIMENS_PAGE: u64 = 1;
const VDSO_RNG_PAGE: u64 = 2;

impl Kernel {
    /// The fault handlers of the vDSO's special mappings: `vdso_fault` (a page of the image), `vvar_fault`
    /// (time data and getrandom pages; no time namespaces, so the timens page is SIGBUS) and
    /// `vvar_vclock_fault` (the clock pages the machine has, [`crate::kernel::KernelConfig::vdso_vclock_pages`]).
    pub(crate) fn special_mapping_fault(
        &mut self,
        kind: SpecialMapping,
        pgoff: u64,
    ) -> Result<SpecialFault, FaultError> {
        match kind {
            SpecialMapping::Vdso if pgoff < VDSO_IMAGE_PAGES => self.vdso_image_page(pgoff).map(SpecialFault::Page),
            SpecialMapping::Vvar => match pgoff {
                VDSO_TIME_PAGE | VDSO_RNG_PAGE => Ok(SpecialFault::Pfn),
                VDSO_TIMENS_PAGE => Err(FaultError::SigBus),
                _ => Err(FaultError::SigBus),
            },
            SpecialMapping::VvarVclock => match self.cfg.vdso_vclock_pages.get(pgoff as usize) {
                Some(true) => Ok(SpecialFault::Pfn),
                _ => Err(FaultError::SigBus),
            },
            _ => Err(FaultError::SigBus),
        }
    }

    /// The page of the vDSO image at `pgoff`, created the first time any process faults it and then shared:
    /// the bytes of [`crate::kernel::KernelConfig::vdso_image`] when given, zeros otherwise. It lives in the page cache under [`VDSO_IMAGE_INODE`] so
    /// that the frame accounting holds (one cache reference plus one per mapping).
    fn vdso_image_page(&mut self, pgoff: u64) -> Result<Pfn, FaultError> {
        if let Some(p) = self.page_cache.find(VDSO_IMAGE_INODE, pgoff) {
            return Ok(p);
        }
        let pfn = self.phys.alloc().ok_or(FaultError::Oom)?;
        let pg = self.phys.page_mut(pfn);
        pg.flags = PageFlags::UPTODATE;
        pg.refcount = 1;
        pg.mapping = VDSO_IMAGE_INODE.0;
        pg.index = pgoff;
        let from = (pgoff * PAGE_SIZE) as usize;
        if let Some(bytes) = self.cfg.vdso_image.as_ref().and_then(|img| img.0.get(from..)) {
            let n = bytes.len().min(PAGE_SIZE as usize);
            if bytes[..n].iter().any(|&b| b != 0) {
                let mut data = crate::phys::PageData::zeroed();
                data.0[..n].copy_from_slice(&bytes[..n]);
                pg.data = Some(data);
            }
        }
        self.phys.lru_add(pfn);
        self.page_cache.insert(VDSO_IMAGE_INODE, pgoff, pfn);
        Ok(pfn)
    }
}
