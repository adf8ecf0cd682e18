//! The ELF loader (`fs/binfmt_elf.c`, 6.18): PT_LOAD segments, bss, PT_INTERP, the initial stack and auxv.
//!
//! [`Kernel::load_elf_binary`] mirrors `load_elf_binary` step by step (`linux-mm-rules.md` §5.5):
//! header checks (ENOEXEC: magic, e_type, e_machine, e_phentsize, the program-header table size; the
//! interpreter's problems are ELIBBAD, unreadable bytes EIO), PT_INTERP and PT_GNU_STACK, the point of no
//! return, the stack (`setup_arg_pages` at `randomize_stack_top(STACK_TOP)`), each PT_LOAD through
//! `elf_load`/`elf_map` (the first one of an ET_DYN maps the whole image size, then unmaps the tail; ET_DYN
//! with an interpreter is based at ELF_ET_DYN_BASE (+ `arch_mmap_rnd`) aligned to the largest p_align;
//! without one it goes where a top-down mmap puts it), bss (the partial page zeroed through a COW write fault
//! as `padzero`'s `clear_user` does, whole pages as an anonymous `vm_brk_flags` VMA), the interpreter
//! (`load_elf_interp`, top-down), the vDSO, `create_elf_tables` and the brk (moved to ELF_ET_DYN_BASE for
//! ET_DYN without interpreter; randomized with `randomize_va_space` 2).
//!
//! Headers are read with the `object` crate's raw `elf::FileHeader64/32` and `ProgramHeader64/32` structs,
//! field by field in little-endian as x86 does; like Linux, EI_CLASS, EI_DATA and EI_VERSION are not checked
//! (the architecture decides the layout, e_machine decides the acceptance).
//!
//! Differences from Linux: a 32-bit (EM_386) file on `--arch x86_64` would run as an ia32 compat task; the
//! model does not model compat tasks and returns ENOEXEC saying so. On `--arch i386` (a native 32-bit kernel,
//! 3 GiB user space) AT_SYSINFO points at an assumed offset of `__kernel_vsyscall` in the vDSO (not verified:
//! no 32-bit kernel to ask), AT_PLATFORM is "i686" and AT_MINSIGSTKSZ keeps the configured value.
//! READ_IMPLIES_EXEC (kept and, without PT_GNU_STACK, set for i386 programs; dropped for 64-bit ones) makes
//! every readable segment, the bss and the stack executable; MMAP_PAGE_ZERO maps page 0 `r-x` at the end.

use std::sync::Arc;

use object::elf::{
    FileHeader32, FileHeader64, ProgramHeader32, ProgramHeader64, EM_386, EM_X86_64, ET_DYN, ET_EXEC, PF_R, PF_W, PF_X,
    PT_GNU_STACK, PT_INTERP, PT_LOAD,
};
use object::LittleEndian as LE;

use crate::addr::{PAGE_SHIFT, PAGE_SIZE};
use crate::arch::aslr::{self, PF_RANDOMIZE};
use crate::arch::Arch;
use crate::errno::Errno;
use crate::fs::exec::{read_exact, BinprmBuf, Bprm, ExecError, ExecFile, ExecStack, PATH_MAX, VM_DATA_DEFAULT_FLAGS};
use crate::fs::File;
use crate::kernel::Kernel;
use crate::mm::vma::{VmFlags, Vma};
use crate::task::Pid;
use crate::uapi::*;

/// `ELF_MIN_ALIGN` (PAGE_SIZE on x86).
pub const ELF_MIN_ALIGN: u64 = PAGE_SIZE;
/// `EM_486`, accepted by the i386 loader too.
pub const EM_486: u16 = 6;

/// Auxiliary vector keys (`include/uapi/linux/auxvec.h`, `arch/x86/include/uapi/asm/auxvec.h`).
pub mod at {
    pub const NULL: u64 = 0;
    pub const PHDR: u64 = 3;
    pub const PHENT: u64 = 4;
    pub const PHNUM: u64 = 5;
    pub const PAGESZ: u64 = 6;
    pub const BASE: u64 = 7;
    pub const FLAGS: u64 = 8;
    pub const ENTRY: u64 = 9;
    pub const UID: u64 = 11;
    pub const EUID: u64 = 12;
    pub const GID: u64 = 13;
    pub const EGID: u64 = 14;
    pub const PLATFORM: u64 = 15;
    pub const HWCAP: u64 = 16;
    pub const CLKTCK: u64 = 17;
    pub const SECURE: u64 = 23;
    pub const RANDOM: u64 = 25;
    pub const HWCAP2: u64 = 26;
    pub const RSEQ_FEATURE_SIZE: u64 = 27;
    pub const RSEQ_ALIGN: u64 = 28;
    pub const EXECFN: u64 = 31;
    pub const SYSINFO: u64 = 32;
    pub const SYSINFO_EHDR: u64 = 33;
    pub const MINSIGSTKSZ: u64 = 51;
}

/// `offsetof(struct rseq, end)` and `__alignof__(struct rseq)` in 6.18.
const RSEQ_FEATURE_SIZE: u64 = 28;
const RSEQ_ALIGN: u64 = 32;
/// `CLOCKS_PER_SEC` (USER_HZ).
const CLOCKS_PER_SEC: u64 = 100;

#[inline]
fn pagestart(v: u64) -> u64 {
    v & !(ELF_MIN_ALIGN - 1)
}
#[inline]
fn pageoffset(v: u64) -> u64 {
    v & (ELF_MIN_ALIGN - 1)
}
#[inline]
fn pagealign(v: u64) -> u64 {
    v.wrapping_add(ELF_MIN_ALIGN - 1) & !(ELF_MIN_ALIGN - 1)
}

/// The ELF header fields the loader reads, independent of the class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElfHeader {
    pub class64: bool,
    pub magic_ok: bool,
    pub e_type: u16,
    pub e_machine: u16,
    pub e_entry: u64,
    pub e_phoff: u64,
    pub e_phentsize: u16,
    pub e_phnum: u16,
}

impl ElfHeader {
    /// `sizeof(struct elfhdr)` for the class.
    pub const fn size(class64: bool) -> usize {
        if class64 {
            64
        } else {
            52
        }
    }

    /// `sizeof(struct elf_phdr)` for the class.
    pub const fn phdr_size(class64: bool) -> u64 {
        if class64 {
            56
        } else {
            32
        }
    }

    /// Read the header from the start of a (zero-padded) buffer, in the layout of `class64`.
    pub fn parse(buf: &BinprmBuf, class64: bool) -> ElfHeader {
        let magic_ok = buf.0[..4] == *b"\x7fELF";
        if class64 {
            // The buffer is 8-byte aligned and long enough: from_bytes cannot fail.
            let Ok((h, _)) = object::pod::from_bytes::<FileHeader64<LE>>(&buf.0[..64]) else {
                unreachable!("aligned 64-byte header")
            };
            ElfHeader {
                class64,
                magic_ok,
                e_type: h.e_type.get(LE),
                e_machine: h.e_machine.get(LE),
                e_entry: h.e_entry.get(LE),
                e_phoff: h.e_phoff.get(LE),
                e_phentsize: h.e_phentsize.get(LE),
                e_phnum: h.e_phnum.get(LE),
            }
        } else {
            let Ok((h, _)) = object::pod::from_bytes::<FileHeader32<LE>>(&buf.0[..52]) else {
                unreachable!("aligned 52-byte header")
            };
            ElfHeader {
                class64,
                magic_ok,
                e_type: h.e_type.get(LE),
                e_machine: h.e_machine.get(LE),
                e_entry: u64::from(h.e_entry.get(LE)),
                e_phoff: u64::from(h.e_phoff.get(LE)),
                e_phentsize: h.e_phentsize.get(LE),
                e_phnum: h.e_phnum.get(LE),
            }
        }
    }
}

/// One program header, independent of the class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phdr {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

/// `elf_check_arch` of the machine's native loader.
pub fn elf_check_arch(arch: Arch, h: &ElfHeader) -> bool {
    if arch.is_64bit() {
        h.e_machine == EM_X86_64
    } else {
        h.e_machine == EM_386 || h.e_machine == EM_486
    }
}

/// The header checks at the top of `load_elf_binary` (all ENOEXEC).
pub fn check_elf_header(arch: Arch, h: &ElfHeader) -> Result<(), ExecError> {
    if !h.magic_ok {
        return Err(ExecError::noexec("bad ELF magic"));
    }
    if h.e_type != ET_EXEC && h.e_type != ET_DYN {
        return Err(ExecError::noexec(format!(
            "e_type {} is neither ET_EXEC nor ET_DYN",
            h.e_type
        )));
    }
    if !elf_check_arch(arch, h) {
        if arch.is_64bit() && (h.e_machine == EM_386 || h.e_machine == EM_486) {
            return Err(ExecError::noexec(
                "a 32-bit (EM_386) program would run as an ia32 compat task, which memsim does not model on \
                 x86_64; use --arch i386",
            ));
        }
        return Err(ExecError::noexec(format!(
            "e_machine {} is not {} (elf_check_arch)",
            h.e_machine,
            if arch.is_64bit() {
                "EM_X86_64 (62)"
            } else {
                "EM_386 (3)"
            }
        )));
    }
    Ok(())
}

/// `load_elf_phdrs`: the program headers, or why they cannot be used.
pub fn load_elf_phdrs(k: &Kernel, path: &str, h: &ElfHeader) -> Result<Vec<Phdr>, ExecError> {
    let psize = ElfHeader::phdr_size(h.class64);
    if u64::from(h.e_phentsize) != psize {
        return Err(ExecError::noexec(format!(
            "e_phentsize {} is not {psize}",
            h.e_phentsize
        )));
    }
    let size = psize * u64::from(h.e_phnum);
    if size == 0 || size > 65536 || size > ELF_MIN_ALIGN {
        return Err(ExecError::noexec(format!(
            "{} program headers ({size} bytes) are not within 1..={} headers",
            h.e_phnum,
            ELF_MIN_ALIGN / psize
        )));
    }
    // A u64 buffer keeps the bytes aligned for the object crate's structs.
    let mut words = vec![0u64; (size as usize).div_ceil(8)];
    let bytes = &mut object::pod::bytes_of_slice_mut(&mut words)[..size as usize];
    read_exact(k, path, h.e_phoff, bytes).map_err(|e| ExecError::noexec(format!("program headers: {}", e.reason)))?;
    let bytes = object::pod::bytes_of_slice(&words);
    let n = usize::from(h.e_phnum);
    let phdrs = if h.class64 {
        let Ok((ph, _)) = object::pod::slice_from_bytes::<ProgramHeader64<LE>>(bytes, n) else {
            unreachable!("aligned buffer of n headers")
        };
        ph.iter()
            .map(|p| Phdr {
                p_type: p.p_type.get(LE),
                p_flags: p.p_flags.get(LE),
                p_offset: p.p_offset.get(LE),
                p_vaddr: p.p_vaddr.get(LE),
                p_filesz: p.p_filesz.get(LE),
                p_memsz: p.p_memsz.get(LE),
                p_align: p.p_align.get(LE),
            })
            .collect()
    } else {
        let Ok((ph, _)) = object::pod::slice_from_bytes::<ProgramHeader32<LE>>(bytes, n) else {
            unreachable!("aligned buffer of n headers")
        };
        ph.iter()
            .map(|p| Phdr {
                p_type: p.p_type.get(LE),
                p_flags: p.p_flags.get(LE),
                p_offset: u64::from(p.p_offset.get(LE)),
                p_vaddr: u64::from(p.p_vaddr.get(LE)),
                p_filesz: u64::from(p.p_filesz.get(LE)),
                p_memsz: u64::from(p.p_memsz.get(LE)),
                p_align: u64::from(p.p_align.get(LE)),
            })
            .collect()
    };
    Ok(phdrs)
}

/// `total_mapping_size`: from the lowest page start to the highest end over all PT_LOADs (6.18; before 5.18 it
/// was first to last in table order, which wrapped for unsorted tables). 0 without PT_LOAD.
pub fn total_mapping_size(phdrs: &[Phdr]) -> u64 {
    // Since 5.18 the span from the lowest page start to the highest end over every PT_LOAD, whatever their
    // order in the table (an unsorted table no longer wraps around).
    let loads = phdrs.iter().filter(|p| p.p_type == PT_LOAD);
    let min = loads.clone().map(|p| pagestart(p.p_vaddr)).min();
    let max = loads.map(|p| p.p_vaddr.wrapping_add(p.p_memsz)).max();
    match (min, max) {
        (Some(lo), Some(hi)) => hi.wrapping_sub(lo),
        _ => 0,
    }
}

/// `maximum_alignment`: the largest power-of-two p_align of the PT_LOADs, at least a page.
pub fn maximum_alignment(phdrs: &[Phdr]) -> u64 {
    let a = phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_align.is_power_of_two())
        .map(|p| p.p_align)
        .max()
        .unwrap_or(0);
    pagealign(a)
}

/// `make_prot(p_flags)`.
fn make_prot(p_flags: u32) -> u64 {
    let mut prot = 0;
    if p_flags & PF_R != 0 {
        prot |= PROT_READ;
    }
    if p_flags & PF_W != 0 {
        prot |= PROT_WRITE;
    }
    if p_flags & PF_X != 0 {
        prot |= PROT_EXEC;
    }
    prot
}

/// The interpreter found through PT_INTERP, checked and with its program headers.
struct Interp {
    file: ExecFile,
    hdr: ElfHeader,
    phdrs: Vec<Phdr>,
}

impl Kernel {
    /// `BAD_ADDR(x)`: `x >= TASK_SIZE`.
    fn bad_addr(&self, x: u64) -> bool {
        x >= self.cfg.arch.task_size_max()
    }

    /// `vm_mmap` of a file, privately (`elf_map`'s call).
    #[allow(clippy::too_many_arguments)]
    fn elf_vm_mmap(
        &mut self,
        pid: Pid,
        file: &Arc<File>,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        off: u64,
    ) -> Result<u64, Errno> {
        // vm_mmap: the offset must not wrap and must be page aligned.
        if off.wrapping_add(pagealign(len)) < off || pageoffset(off) != 0 {
            return Err(Errno::EINVAL);
        }
        let mm = self.mm_id(pid)?;
        self.do_mmap(
            pid,
            mm,
            Some(file.clone()),
            addr,
            len,
            prot,
            flags,
            off >> PAGE_SHIFT,
            None,
        )
    }

    /// `vm_munmap`, errors ignored as `elf_map` ignores them.
    fn elf_vm_munmap(&mut self, pid: Pid, start: u64, len: u64) {
        let end = start.wrapping_add(pagealign(len));
        if pageoffset(start) != 0 || end <= start || self.bad_addr(start) {
            return;
        }
        if let Ok(mm) = self.mm_id(pid) {
            let _ = self.do_munmap(mm, start, end);
        }
    }

    /// `elf_map`: map the file part of a segment; the first mapping of an image maps `total_size` and unmaps
    /// the tail, so a randomized or top-down placement leaves room for the whole image.
    #[allow(clippy::too_many_arguments)]
    fn elf_map(
        &mut self,
        pid: Pid,
        file: &Arc<File>,
        addr: u64,
        ph: &Phdr,
        prot: u64,
        flags: u64,
        total_size: u64,
    ) -> Result<u64, Errno> {
        let size = pagealign(ph.p_filesz.wrapping_add(pageoffset(ph.p_vaddr)));
        let off = ph.p_offset.wrapping_sub(pageoffset(ph.p_vaddr));
        let addr = pagestart(addr);
        if size == 0 {
            return Ok(addr);
        }
        if total_size != 0 {
            let total = pagealign(total_size);
            let map = self.elf_vm_mmap(pid, file, addr, total, prot, flags, off)?;
            if !self.bad_addr(map) && total > size {
                self.elf_vm_munmap(pid, map + size, total - size);
            }
            Ok(map)
        } else {
            self.elf_vm_mmap(pid, file, addr, size, prot, flags, off)
        }
    }

    /// `padzero(address)`: zero from `address` to the end of its page with a user write (`clear_user`).
    fn padzero(&mut self, pid: Pid, address: u64) -> Result<(), Errno> {
        let nbyte = pageoffset(address);
        if nbyte != 0 {
            let zeros = vec![0u8; (ELF_MIN_ALIGN - nbyte) as usize];
            self.exec_write(pid, address, &zeros)?;
        }
        Ok(())
    }

    /// `elf_load`: map a segment's file part, zero the rest of its last file page, and map the whole bss pages
    /// anonymously (`vm_brk_flags`, executable if the segment is).
    #[allow(clippy::too_many_arguments)]
    fn elf_load(
        &mut self,
        pid: Pid,
        file: &Arc<File>,
        addr: u64,
        ph: &Phdr,
        prot: u64,
        flags: u64,
        total_size: u64,
    ) -> Result<u64, Errno> {
        let (map_addr, mut zero_start, mut zero_end);
        if ph.p_filesz != 0 {
            map_addr = self.elf_map(pid, file, addr, ph, prot, flags, total_size)?;
            if self.bad_addr(map_addr) {
                return Ok(map_addr);
            }
            zero_start = map_addr.wrapping_add(pageoffset(ph.p_vaddr)).wrapping_add(ph.p_filesz);
            zero_end = map_addr.wrapping_add(pageoffset(ph.p_vaddr)).wrapping_add(ph.p_memsz);
            if ph.p_memsz > ph.p_filesz && self.padzero(pid, zero_start).is_err() && prot & PROT_WRITE != 0 {
                return Err(Errno::EFAULT);
            }
        } else {
            map_addr = pagestart(addr);
            zero_start = map_addr;
            zero_end = zero_start.wrapping_add(pageoffset(ph.p_vaddr)).wrapping_add(ph.p_memsz);
        }
        if ph.p_memsz > ph.p_filesz {
            zero_start = pagealign(zero_start);
            zero_end = pagealign(zero_end);
            let exec = prot & PROT_EXEC != 0;
            self.vm_brk_flags(pid, zero_start, zero_end.wrapping_sub(zero_start), exec)?;
        }
        Ok(map_addr)
    }

    /// `vm_brk_flags(addr, len, exec ? VM_EXEC : 0)`: an anonymous `rw` VMA (merged with a compatible neighbour
    /// as `do_brk_flags` does), charged to the commit.
    pub fn vm_brk_flags(&mut self, pid: Pid, addr: u64, request: u64, exec: bool) -> Result<(), Errno> {
        let len = pagealign(request);
        if len < request {
            return Err(Errno::ENOMEM);
        }
        if len == 0 {
            return Ok(());
        }
        let mm = self.mm_id(pid)?;
        // check_brk_limits
        self.get_unmapped_area(pid, mm, None, addr, len, 0, MAP_FIXED)?;
        let def = self.mms[&mm].def_flags;
        if !self.mlock_future_ok(pid, &self.mms[&mm], def, len) {
            return Err(Errno::EAGAIN);
        }
        self.do_munmap(mm, addr, addr + len)?;
        // do_brk_flags
        let mut flags = VM_DATA_DEFAULT_FLAGS | VmFlags::ACCOUNT | def;
        if exec || self.read_implies_exec(pid) {
            flags |= VmFlags::EXEC;
        }
        let pages = len >> PAGE_SHIFT;
        let m = &self.mms[&mm];
        if !self.may_expand_vm(pid, m, flags, pages) || m.map_count() > self.cfg.max_map_count {
            return Err(Errno::ENOMEM);
        }
        self.vm_enough_memory(pid, pages)?;
        self.vma_insert_merge(
            mm,
            Vma::new_anon(crate::VirtAddr(addr), crate::VirtAddr(addr + len), flags),
        );
        let m = self.mms.get_mut(&mm).expect("task's mm exists");
        m.vm_stat_account(flags, pages as i64);
        if flags.contains(VmFlags::LOCKED) {
            m.locked_vm += pages;
        }
        Ok(())
    }

    /// `load_elf_binary`.
    pub fn load_elf_binary(&mut self, pid: Pid, bprm: &mut Bprm) -> Result<(), ExecError> {
        let arch = self.cfg.arch;
        let class64 = arch.is_64bit();
        let hdr = ElfHeader::parse(&bprm.buf, class64);
        check_elf_header(arch, &hdr).map_err(|e| {
            // The buffer is zero padded: a file shorter than a header fails on a zero field; say why.
            let need = ElfHeader::size(class64) as u64;
            if hdr.magic_ok && bprm.file.meta.size < need {
                ExecError::noexec(format!(
                    "{} bytes is shorter than an ELF header ({need}): {}",
                    bprm.file.meta.size, e.reason
                ))
            } else {
                e
            }
        })?;
        let path = bprm.file.meta.path.clone();
        let phdrs = load_elf_phdrs(self, &path, &hdr)?;

        // PT_INTERP: only the first one counts.
        let mut interp: Option<Interp> = None;
        if let Some(ph) = phdrs.iter().find(|p| p.p_type == PT_INTERP) {
            if ph.p_filesz > PATH_MAX || ph.p_filesz < 2 {
                return Err(ExecError::noexec(format!("PT_INTERP of {} bytes", ph.p_filesz)));
            }
            let mut name = vec![0u8; ph.p_filesz as usize];
            read_exact(self, &path, ph.p_offset, &mut name)?;
            if name.last() != Some(&0) {
                return Err(ExecError::noexec("PT_INTERP path is not NUL-terminated"));
            }
            let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
            let iname = String::from_utf8_lossy(&name[..end]).into_owned();
            let file = self
                .open_exec(pid, &iname)
                .map_err(|e| ExecError::new(e.errno, format!("interpreter {iname}: {}", e.reason)))?;
            let mut ibuf = BinprmBuf([0; crate::fs::exec::BINPRM_BUF_SIZE]);
            let isize = ElfHeader::size(class64);
            let ipath = file.meta.path.clone();
            read_exact(self, &ipath, 0, &mut ibuf.0[..isize])?;
            let ihdr = ElfHeader::parse(&ibuf, class64);
            interp = Some(Interp {
                file,
                hdr: ihdr,
                phdrs: Vec::new(),
            });
        }
        let mut exec_stack = ExecStack::Default;
        for ph in phdrs.iter().filter(|p| p.p_type == PT_GNU_STACK) {
            exec_stack = if ph.p_flags & PF_X != 0 {
                ExecStack::EnableX
            } else {
                ExecStack::DisableX
            };
        }
        if let Some(i) = &mut interp {
            let bad = |why: String| ExecError::new(Errno::ELIBBAD, format!("interpreter {}: {why}", i.file.meta.path));
            if !i.hdr.magic_ok {
                return Err(bad("bad ELF magic".into()));
            }
            if !elf_check_arch(arch, &i.hdr) {
                return Err(bad(format!("e_machine {} is not this architecture's", i.hdr.e_machine)));
            }
            let ipath = i.file.meta.path.clone();
            i.phdrs = load_elf_phdrs(self, &ipath, &i.hdr).map_err(|e| bad(e.reason))?;
        }
        // parse_elf_properties (PT_GNU_PROPERTY): x86 feature notes (IBT, shadow stacks) are not modelled.

        // ---- point of no return ----
        let pid = self.begin_new_exec(pid, bprm)?;
        let pf_randomize = self.setup_new_exec(pid, bprm, exec_stack)?;
        let stack_top = aslr::randomize_stack_top(&mut self.rng, arch, arch.stack_top(), pf_randomize);
        self.setup_arg_pages(pid, bprm, stack_top, exec_stack)?;

        let file = bprm.file.file.clone();
        let mut elf_brk: u64 = 0;
        let mut start_code: u64 = u64::MAX;
        let mut end_code: u64 = 0;
        let mut start_data: u64 = 0;
        let mut end_data: u64 = 0;
        let mut load_bias: u64 = 0;
        let mut phdr_addr: u64 = 0;
        let mut first_pt_load = true;
        let task_size = arch.task_size_max();
        let einval = |why: String| ExecError::new(Errno::EINVAL, why);

        for (idx, ph) in phdrs.iter().enumerate().filter(|(_, p)| p.p_type == PT_LOAD) {
            let prot = make_prot(ph.p_flags);
            let mut flags = MAP_PRIVATE;
            let vaddr = ph.p_vaddr;
            let mut total_size = 0;
            if !first_pt_load {
                flags |= MAP_FIXED;
            } else if hdr.e_type == ET_EXEC {
                flags |= MAP_FIXED_NOREPLACE;
            } else {
                // ET_DYN: the layout of the whole image is decided once, here.
                total_size = total_mapping_size(&phdrs);
                if total_size == 0 {
                    return Err(einval("the PT_LOAD segments span no memory".into()));
                }
                let alignment = maximum_alignment(&phdrs);
                if interp.is_some() {
                    // A program: ELF_ET_DYN_BASE (+ randomization), aligned as requested.
                    load_bias = arch.elf_et_dyn_base();
                    if self.task(pid)?.flags & PF_RANDOMIZE != 0 {
                        load_bias = load_bias.wrapping_add(aslr::arch_mmap_rnd(&mut self.rng, arch, true));
                    }
                    if alignment != 0 {
                        load_bias &= !(alignment - 1);
                    }
                    flags |= MAP_FIXED_NOREPLACE;
                } else if alignment > ELF_MIN_ALIGN {
                    // A loader with a large alignment: find room top-down for the whole image, then align.
                    let probe = self
                        .elf_load(pid, &file, 0, ph, prot, flags, total_size)
                        .map_err(|e| ExecError::new(e, "no room for the image"))?;
                    if self.bad_addr(probe) {
                        return Err(einval("no room for the image".into()));
                    }
                    self.elf_vm_munmap(pid, probe, total_size);
                    load_bias = probe & !(alignment - 1);
                    flags |= MAP_FIXED_NOREPLACE;
                } else {
                    load_bias = 0;
                }
                load_bias = pagestart(load_bias.wrapping_sub(vaddr));
            }
            let got = self
                .elf_load(pid, &file, load_bias.wrapping_add(vaddr), ph, prot, flags, total_size)
                .map_err(|e| {
                    ExecError::new(
                        e,
                        format!("mapping PT_LOAD #{idx} at {:#x}", load_bias.wrapping_add(vaddr)),
                    )
                })?;
            if self.bad_addr(got) {
                return Err(einval(format!("PT_LOAD #{idx} maps at {got:#x}, beyond the task size")));
            }
            if first_pt_load {
                first_pt_load = false;
                if hdr.e_type == ET_DYN {
                    load_bias = load_bias.wrapping_add(got.wrapping_sub(pagestart(load_bias.wrapping_add(vaddr))));
                }
            }
            // The segment holding the program headers gives AT_PHDR.
            if ph.p_offset <= hdr.e_phoff && hdr.e_phoff < ph.p_offset.wrapping_add(ph.p_filesz) {
                phdr_addr = hdr.e_phoff - ph.p_offset + ph.p_vaddr;
            }
            let k = ph.p_vaddr;
            if ph.p_flags & PF_X != 0 && k < start_code {
                start_code = k;
            }
            if start_data < k {
                start_data = k;
            }
            if self.bad_addr(k) || ph.p_filesz > ph.p_memsz || ph.p_memsz > task_size || task_size - ph.p_memsz < k {
                return Err(einval(format!(
                    "PT_LOAD #{idx}: vaddr {k:#x}, filesz {:#x}, memsz {:#x} do not fit the task size (or filesz > memsz)",
                    ph.p_filesz, ph.p_memsz
                )));
            }
            let k = ph.p_vaddr + ph.p_filesz;
            if ph.p_flags & PF_X != 0 && end_code < k {
                end_code = k;
            }
            if end_data < k {
                end_data = k;
            }
            let k = ph.p_vaddr + ph.p_memsz;
            if k > elf_brk {
                elf_brk = k;
            }
        }

        let e_entry = hdr.e_entry.wrapping_add(load_bias);
        phdr_addr = phdr_addr.wrapping_add(load_bias);
        elf_brk = elf_brk.wrapping_add(load_bias);
        start_code = start_code.wrapping_add(load_bias);
        end_code = end_code.wrapping_add(load_bias);
        start_data = start_data.wrapping_add(load_bias);
        end_data = end_data.wrapping_add(load_bias);

        let mut interp_load_addr = 0;
        if let Some(i) = &interp {
            let base = self.load_elf_interp(pid, i, load_bias)?;
            interp_load_addr = base;
            let entry = base.wrapping_add(i.hdr.e_entry);
            if self.bad_addr(entry) {
                return Err(einval(format!("interpreter entry {entry:#x} beyond the task size")));
            }
        } else if self.bad_addr(e_entry) {
            return Err(einval(format!("entry point {e_entry:#x} beyond the task size")));
        }

        // ARCH_SETUP_ADDITIONAL_PAGES
        let mm = self.mm_id(pid)?;
        let vdso = self
            .map_vdso(pid, mm)
            .map_err(|e| ExecError::new(e, "no room for the vDSO"))?;

        self.create_elf_tables(pid, bprm, &hdr, interp_load_addr, e_entry, phdr_addr, vdso)?;

        let start_stack = bprm.p;
        let m = self.mm_mut(pid)?;
        m.end_code = end_code;
        m.start_code = start_code;
        m.start_data = start_data;
        m.end_data = end_data;
        m.start_stack = start_stack;

        // brk: a loader run directly (ET_DYN without interpreter) gets its brk at ELF_ET_DYN_BASE.
        let mut brk_moved = false;
        if hdr.e_type == ET_DYN && interp.is_none() {
            elf_brk = arch.elf_et_dyn_base();
            brk_moved = true;
        }
        let mut brk = pagealign(elf_brk);
        if pf_randomize && self.cfg.randomize_va_space > 1 {
            if !brk_moved {
                // Leave a gap between .bss and brk.
                brk += PAGE_SIZE;
            }
            brk = aslr::arch_randomize_brk(&mut self.rng, arch, brk);
        }
        let m = self.mm_mut(pid)?;
        m.start_brk = brk;
        m.brk = brk;
        if self.task(pid)?.personality & aslr::MMAP_PAGE_ZERO != 0 {
            // SVr4 compatibility: page 0 read-only and executable. The result is ignored, as Linux ignores it
            // (without CAP_SYS_RAWIO the mmap_min_addr check refuses it).
            let _ = self.sys_mmap(
                pid,
                0,
                PAGE_SIZE,
                PROT_READ | PROT_EXEC,
                MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
                -1,
                0,
            );
        }
        Ok(())
    }

    /// `load_elf_interp`: map the dynamic linker (an ET_DYN goes top-down, as an mmap without hint would),
    /// returning its load address (AT_BASE).
    fn load_elf_interp(&mut self, pid: Pid, i: &Interp, no_base: u64) -> Result<u64, ExecError> {
        let arch = self.cfg.arch;
        let fail = |e: Errno, why: String| ExecError::new(e, format!("interpreter {}: {why}", i.file.meta.path));
        // An unusable interpreter returns ~0UL, which the caller reports as -1 (EPERM).
        if i.hdr.e_type != ET_EXEC && i.hdr.e_type != ET_DYN {
            return Err(fail(
                Errno::EPERM,
                format!("e_type {} is neither ET_EXEC nor ET_DYN", i.hdr.e_type),
            ));
        }
        let mut total_size = total_mapping_size(&i.phdrs);
        if total_size == 0 {
            return Err(fail(Errno::EINVAL, "no PT_LOAD segment".into()));
        }
        let file = i.file.file.clone();
        let task_size = arch.task_size_max();
        let mut load_addr: u64 = 0;
        let mut load_addr_set = false;
        for (idx, ph) in i.phdrs.iter().enumerate().filter(|(_, p)| p.p_type == PT_LOAD) {
            let mut flags = MAP_PRIVATE;
            let prot = make_prot(ph.p_flags);
            let vaddr = ph.p_vaddr;
            if i.hdr.e_type == ET_EXEC || load_addr_set {
                flags |= MAP_FIXED;
            } else if no_base != 0 && i.hdr.e_type == ET_DYN {
                load_addr = vaddr.wrapping_neg();
            }
            let map_addr = self
                .elf_load(pid, &file, load_addr.wrapping_add(vaddr), ph, prot, flags, total_size)
                .map_err(|e| fail(e, format!("mapping PT_LOAD #{idx}")))?;
            total_size = 0;
            if self.bad_addr(map_addr) {
                return Err(fail(Errno::EINVAL, format!("PT_LOAD #{idx} maps beyond the task size")));
            }
            if !load_addr_set && i.hdr.e_type == ET_DYN {
                load_addr = map_addr.wrapping_sub(pagestart(vaddr));
                load_addr_set = true;
            }
            let k = load_addr.wrapping_add(ph.p_vaddr);
            if self.bad_addr(k) || ph.p_filesz > ph.p_memsz || ph.p_memsz > task_size || task_size - ph.p_memsz < k {
                return Err(fail(
                    Errno::ENOMEM,
                    format!("PT_LOAD #{idx} does not fit the task size"),
                ));
            }
        }
        Ok(load_addr)
    }

    /// `create_elf_tables`: below the strings, the platform string, the 16 AT_RANDOM bytes, then (16-byte
    /// aligned) argc, argv, envp and the auxiliary vector; sets arg_end, env_start, env_end and `bprm.p` (the
    /// initial stack pointer).
    #[allow(clippy::too_many_arguments)]
    fn create_elf_tables(
        &mut self,
        pid: Pid,
        bprm: &mut Bprm,
        hdr: &ElfHeader,
        interp_load_addr: u64,
        e_entry: u64,
        phdr_addr: u64,
        vdso: u64,
    ) -> Result<(), ExecError> {
        let word = bprm.ptr_size;
        let efault = |what: &str| ExecError::new(Errno::EFAULT, format!("cannot write {what} on the new stack"));
        let randomize = self.align_stack_randomizes(pid);
        let mut p = aslr::arch_align_stack(&mut self.rng, bprm.p, randomize);
        // ELF_PLATFORM is utsname()->machine: "i686" on a native 32-bit kernel.
        let mut platform = if self.cfg.arch.is_64bit() {
            self.cfg.platform.clone().into_bytes()
        } else {
            b"i686".to_vec()
        };
        platform.push(0);
        p -= platform.len() as u64;
        let u_platform = p;
        self.exec_write(pid, u_platform, &platform)
            .map_err(|_| efault("the platform string"))?;
        let mut rand = [0u8; 16];
        self.rng.get_random_bytes(&mut rand);
        p -= 16;
        let u_rand = p;
        self.exec_write(pid, u_rand, &rand).map_err(|_| efault("AT_RANDOM"))?;

        let cred = self.task(pid)?.cred.clone();
        let cfg = &self.cfg;
        let mut auxv: Vec<(u64, u64)> = Vec::with_capacity(24);
        // ARCH_DLINFO (ARCH_DLINFO_IA32 on i386 adds the vsyscall entry point first).
        if !cfg.arch.is_64bit() {
            auxv.push((at::SYSINFO, vdso + crate::arch::vdso::VDSO32_KERNEL_VSYSCALL));
        }
        auxv.push((at::SYSINFO_EHDR, vdso));
        auxv.push((at::MINSIGSTKSZ, cfg.minsigstksz));
        auxv.push((at::HWCAP, cfg.hwcap));
        auxv.push((at::PAGESZ, PAGE_SIZE));
        auxv.push((at::CLKTCK, CLOCKS_PER_SEC));
        auxv.push((at::PHDR, phdr_addr));
        auxv.push((at::PHENT, ElfHeader::phdr_size(hdr.class64)));
        auxv.push((at::PHNUM, u64::from(hdr.e_phnum)));
        auxv.push((at::BASE, interp_load_addr));
        auxv.push((at::FLAGS, 0));
        auxv.push((at::ENTRY, e_entry));
        auxv.push((at::UID, u64::from(cred.uid)));
        auxv.push((at::EUID, u64::from(cred.euid)));
        auxv.push((at::GID, u64::from(cred.gid)));
        auxv.push((at::EGID, u64::from(cred.egid)));
        auxv.push((at::SECURE, u64::from(bprm.secureexec)));
        auxv.push((at::RANDOM, u_rand));
        auxv.push((at::HWCAP2, cfg.hwcap2));
        auxv.push((at::EXECFN, bprm.exec));
        auxv.push((at::PLATFORM, u_platform));
        auxv.push((at::RSEQ_FEATURE_SIZE, RSEQ_FEATURE_SIZE));
        auxv.push((at::RSEQ_ALIGN, RSEQ_ALIGN));
        auxv.push((at::NULL, 0));
        let ei_words = auxv.len() as u64 * 2;
        let sp = p.wrapping_sub(ei_words * word);
        let items = (bprm.argc + 1) + (bprm.envc + 1) + 1;
        let sp = sp.wrapping_sub(items * word) & !15;
        bprm.p = sp;

        // find_extend_vma(mm, sp): the tables may reach below the stack VMA.
        let mm = self.mm_id(pid)?;
        let below = match self.mms[&mm].vmas.find(crate::VirtAddr(sp)) {
            Some(v) if v.start.0 > sp && v.flags.contains(VmFlags::GROWSDOWN) => Some(v.start.0),
            Some(v) if v.start.0 <= sp => None,
            _ => return Err(efault("the argument tables (no stack)")),
        };
        if let Some(start) = below {
            self.expand_downwards(pid, mm, start, sp)
                .map_err(|_| efault("the argument tables (the stack cannot grow)"))?;
        }

        // argc, argv[], NULL, envp[], NULL, auxv: one contiguous block.
        let mut block: Vec<u8> = Vec::with_capacity(((items + ei_words) * word) as usize);
        let put = |v: u64, out: &mut Vec<u8>| {
            if word == 8 {
                out.extend_from_slice(&v.to_le_bytes());
            } else {
                out.extend_from_slice(&(v as u32).to_le_bytes());
            }
        };
        put(bprm.argc, &mut block);
        let arg_start = self.mms[&mm].arg_start;
        let mut q = arg_start;
        let mut lens = bprm.strings.iter().rev().map(|s| s.len() as u64);
        for _ in 0..bprm.argc {
            put(q, &mut block);
            q += lens.next().unwrap_or(0);
        }
        put(0, &mut block);
        let arg_end = q;
        for _ in 0..bprm.envc {
            put(q, &mut block);
            q += lens.next().unwrap_or(0);
        }
        put(0, &mut block);
        let env_end = q;
        for (key, val) in &auxv {
            put(*key, &mut block);
            put(*val, &mut block);
        }
        self.exec_write(pid, sp, &block)
            .map_err(|_| efault("argc, argv, envp and auxv"))?;
        let m = self.mms.get_mut(&mm).expect("task's mm exists");
        m.arg_end = arg_end;
        m.env_start = arg_end;
        m.env_end = env_end;
        Ok(())
    }
}
