//! Core dumps (`fs/coredump.c: vfs_coredump, dump_vma_snapshot, vma_dump_size, dump_user_range`,
//! `fs/binfmt_elf.c: elf_core_dump, fill_note_info, write_note_info`): the bytes of the ELF core file Linux
//! writes for a simulated process. The core builds the bytes; the CLI writes the file
//! ([`core_file_name`] names it as `core_pattern` "core" with `core_uses_pid` does).
//!
//! Layout, as measured on a core of this kernel: the ELF header, one `PT_NOTE` program header (`p_align`
//! 4), one `PT_LOAD` per VMA in address order followed by the `[vsyscall]` gate, the notes, zero padding to
//! the next page, then each segment's dumped bytes. Notes, in `write_note_info`'s order: for the dumping
//! thread `NT_PRSTATUS`, `NT_PRPSINFO`, `NT_SIGINFO`, `NT_AUXV`, `NT_FILE`, then one `NT_PRSTATUS` per other
//! thread; all named "CORE", each name and descriptor padded to 4 bytes.
//!
//! What each segment holds follows `vma_dump_size` with the default `coredump_filter` 0x33: special mappings
//! (`[vdso]`, `[vvar]`, ...) and the gate whole; `VM_DONTDUMP` and `VM_IO` nothing; shared memory whole when
//! its inode is unlinked (shmem: shared anonymous, memfd, SysV), else nothing; private memory whole once it
//! has an `anon_vma` (written or faulted anonymously); a private file mapping otherwise only its first page
//! when it maps offset 0 of an executable file or of a file starting with the ELF magic. Inside a dumped
//! range, `get_dump_page` decides page by page: present pages and file pages are written (a file page not
//! mapped is read from the page cache or the file, without mapping it), the zero page, absent anonymous pages
//! and `VM_PFNMAP`/`VM_IO` pages are skipped, which leaves zeros (a hole in the file).
//!
//! RLIMIT_CORE: below one page (`min_coredump`) nothing is dumped ([`Errno::EFBIG`] here); otherwise every
//! write that would take the bytes written past the limit fails and ends the dump (`__dump_emit`), skipped
//! holes do not count, and the file ends after the last byte written. A core longer than
//! [`MAX_CORE_BYTES`] is not built (EFBIG): Linux writes sparse files of any size, memsim returns bytes.
//!
//! Deliberate differences: the model has no CPU state, so registers are zero except the user segment
//! selectors and `fs_base` (the TLS given to clone), times are zero, and the FPU notes (`NT_PRFPREG`,
//! `NT_X86_XSTATE`, `NT_X86_XSAVE_LAYOUT`, whose size depends on the CPU) are left out with `pr_fpvalid` 0.
//! `NT_AUXV` is read back from the initial stack exec built (Linux keeps a copy, `mm->saved_auxv`; they
//! differ only if the program overwrote its auxiliary vector). Threads other than the dumper are listed in
//! tid order (Linux's order depends on which thread reached `coredump_wait` first).
//! The model does not modify anything while dumping: the dump is a pure function of the state.

use std::collections::BTreeMap;

use crate::addr::{VirtAddr, PAGE_SIZE};
use crate::errno::Errno;
use crate::fs::InodeKind;
use crate::kernel::{Kernel, SigInfo};
use crate::mm::vma::{VmFlags, Vma};
use crate::mm::Mm;
use crate::procfs::task as pt;
use crate::task::{Pid, Task, PF_SIGNALED};
use crate::uapi::RLIMIT_CORE;

/// `PF_DUMPCORE`: set by `vfs_coredump` on the dumping task.
pub const PF_DUMPCORE: u32 = 0x0000_0200;
/// The default `/proc/PID/coredump_filter` (`MMF_DUMP_FILTER_DEFAULT`): anonymous private and shared, ELF
/// headers, private hugetlb.
pub const COREDUMP_FILTER_DEFAULT: u32 = 0x33;

const MMF_DUMP_ANON_PRIVATE: u32 = 1 << 0;
const MMF_DUMP_ANON_SHARED: u32 = 1 << 1;
const MMF_DUMP_MAPPED_PRIVATE: u32 = 1 << 2;
const MMF_DUMP_MAPPED_SHARED: u32 = 1 << 3;
const MMF_DUMP_ELF_HEADERS: u32 = 1 << 4;
const MMF_DUMP_HUGETLB_PRIVATE: u32 = 1 << 5;
const MMF_DUMP_HUGETLB_SHARED: u32 = 1 << 6;

const NT_PRSTATUS: u32 = 1;
const NT_PRPSINFO: u32 = 3;
const NT_AUXV: u32 = 6;
const NT_SIGINFO: u32 = 0x5349_4749;
const NT_FILE: u32 = 0x4649_4c45;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const PN_XNUM: u64 = 0xffff;
/// The largest core memsim builds in memory (1 GiB): Linux writes a sparse file of any size, but a process
/// that touched one page at each end of a terabyte of anonymous memory would need a terabyte here.
pub const MAX_CORE_BYTES: u64 = 1 << 30;

/// The name of the core file with `core_pattern` "core" and `core_uses_pid` 1 (`format_corename`): `core.PID`.
/// The comm would matter only for a pattern with `%e`.
pub fn core_file_name(pid: Pid, comm: &str) -> String {
    let _ = comm;
    format!("core.{}", pid.0)
}

/// The signals whose default action dumps core (`SIG_KERNEL_COREDUMP_MASK`).
pub fn sig_kernel_coredump(sig: u32) -> bool {
    use crate::uapi::*;
    // SIGQUIT SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGSEGV SIGXCPU(24) SIGXFSZ(25) SIGSYS(31)
    matches!(sig, SIGQUIT | SIGABRT | SIGBUS | SIGSEGV | 4 | 5 | 8 | 24 | 25 | 31)
}

/// Word size and machine of the core: ELF64 x86-64, or ELF32 i386 for the native 32-bit kernel.
#[derive(Clone, Copy)]
struct Class {
    is64: bool,
}

impl Class {
    fn word(self) -> usize {
        if self.is64 {
            8
        } else {
            4
        }
    }
    fn ehdr_size(self) -> u64 {
        if self.is64 {
            64
        } else {
            52
        }
    }
    fn phdr_size(self) -> u64 {
        if self.is64 {
            56
        } else {
            32
        }
    }
    /// Append an `unsigned long`.
    fn put_ulong(self, out: &mut Vec<u8>, v: u64) {
        if self.is64 {
            out.extend_from_slice(&v.to_le_bytes());
        } else {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
    }
}

/// The file as `dump_emit`, `dump_skip` and `dump_align` produce it, with RLIMIT_CORE's accounting.
struct Writer {
    /// What was written, at which file offset (the rest of the file is holes).
    chunks: Vec<(u64, Vec<u8>)>,
    pos: u64,
    to_skip: u64,
    written: u64,
    limit: u64,
    failed: bool,
}

impl Writer {
    /// `dump_emit`: first the pending skip (an lseek: it moves the position, writes nothing, costs nothing
    /// against the limit), then the bytes, unless they would take `written` past the limit.
    fn emit(&mut self, bytes: &[u8]) -> bool {
        if self.failed {
            return false;
        }
        self.pos += std::mem::take(&mut self.to_skip);
        let n = bytes.len() as u64;
        if self.written.saturating_add(n) > self.limit {
            self.failed = true;
            return false;
        }
        self.chunks.push((self.pos, bytes.to_vec()));
        self.pos += n;
        self.written += n;
        true
    }
    /// `dump_skip`.
    fn skip(&mut self, n: u64) {
        self.to_skip += n;
    }
    /// `dump_align`.
    fn align(&mut self, a: u64) {
        let m = (self.pos + self.to_skip) & (a - 1);
        if m != 0 {
            self.to_skip += a - m;
        }
    }
    /// `dump_skip_to`.
    fn skip_to(&mut self, pos: u64) {
        self.to_skip = pos.saturating_sub(self.pos);
    }
    /// The file's bytes: it ends after the last byte written. EFBIG past [`MAX_CORE_BYTES`].
    fn finish(self) -> Result<Vec<u8>, Errno> {
        let len = self.chunks.last().map_or(0, |(at, b)| at + b.len() as u64);
        if len > MAX_CORE_BYTES {
            return Err(Errno::EFBIG);
        }
        let mut buf = vec![0u8; len as usize];
        for (at, b) in self.chunks {
            buf[at as usize..at as usize + b.len()].copy_from_slice(&b);
        }
        Ok(buf)
    }
}

/// One segment: the VMA's bounds and flags and how many bytes of it the core holds.
struct Segment<'a> {
    vma: &'a Vma,
    is_gate: bool,
    dump_size: u64,
}

/// One note (`struct memelfnote`).
struct Note {
    name: &'static str,
    ty: u32,
    desc: Vec<u8>,
}

impl Kernel {
    /// The ELF core file Linux writes when `pid` (a thread of a process) dies of `info`'s signal
    /// (`vfs_coredump` → `elf_core_dump`), see the module documentation. ESRCH for an unknown task or one
    /// without an address space (a kernel thread, a zombie); EFBIG when RLIMIT_CORE is below one page
    /// (the default 0 included): Linux writes no file then. Never changes the model.
    pub fn core_dump(&self, pid: Pid, info: &SigInfo) -> Result<Vec<u8>, Errno> {
        let task = self.tasks.get(&pid).ok_or(Errno::ESRCH)?;
        // do_coredump runs in the dying task before exit_mm: a task a fault has just marked dead still
        // holds its mm (a zombie's is gone).
        let mm = task.mm.and_then(|id| self.mms.get(&id)).ok_or(Errno::ESRCH)?;
        let limit = task.rlimit(RLIMIT_CORE);
        // binfmt->min_coredump = ELF_EXEC_PAGESIZE.
        if limit < PAGE_SIZE {
            return Err(Errno::EFBIG);
        }
        let class = Class {
            is64: self.cfg.arch.is_64bit(),
        };
        let gate = crate::procfs::gate_vma(self.cfg.arch);
        let filter = COREDUMP_FILTER_DEFAULT;
        // dump_vma_snapshot: every VMA, then the gate.
        let mut segs: Vec<Segment> = mm
            .vmas
            .iter()
            .map(|vma| Segment {
                vma,
                is_gate: false,
                dump_size: self.vma_dump_size(mm, vma, false, filter),
            })
            .collect();
        if let Some(g) = gate.as_ref() {
            segs.push(Segment {
                vma: g,
                is_gate: true,
                dump_size: PAGE_SIZE,
            });
        }
        let notes = self.core_notes(task, mm, info, class, &segs);
        let notes_size: u64 = notes
            .iter()
            .map(|n| 12 + pad4(n.name.len() + 1) + pad4(n.desc.len()))
            .sum();
        let nsegs = segs.len() as u64 + 1;
        let e_phnum = nsegs.min(PN_XNUM);
        let mut offset = class.ehdr_size() + nsegs * class.phdr_size();
        let note_off = offset;
        offset += notes_size;
        let dataoff = offset.next_multiple_of(PAGE_SIZE);
        let data_size: u64 = segs.iter().map(|s| s.dump_size).sum();
        let e_shoff = dataoff + data_size;

        let mut w = Writer {
            chunks: Vec::new(),
            pos: 0,
            to_skip: 0,
            written: 0,
            limit,
            failed: false,
        };
        let mut ok = w.emit(&elf_header(
            class,
            self.cfg.arch,
            e_phnum,
            if e_phnum == PN_XNUM { e_shoff } else { 0 },
        ));
        ok = ok && w.emit(&phdr(class, PT_NOTE, 0, note_off, 0, notes_size, 0, 4));
        let mut off = dataoff;
        for s in &segs {
            if !ok {
                break;
            }
            let f = s.vma.flags;
            // PF_R 4, PF_W 2, PF_X 1.
            let pflags = (u32::from(f.contains(VmFlags::READ)) << 2)
                | (u32::from(f.contains(VmFlags::WRITE)) << 1)
                | u32::from(f.contains(VmFlags::EXEC));
            ok = w.emit(&phdr(
                class,
                PT_LOAD,
                pflags,
                off,
                s.vma.start.0,
                s.dump_size,
                s.vma.end.0 - s.vma.start.0,
                PAGE_SIZE,
            ));
            off += s.dump_size;
        }
        for n in &notes {
            if !ok {
                break;
            }
            // writenote
            let mut head = Vec::with_capacity(12);
            head.extend_from_slice(&(n.name.len() as u32 + 1).to_le_bytes());
            head.extend_from_slice(&(n.desc.len() as u32).to_le_bytes());
            head.extend_from_slice(&n.ty.to_le_bytes());
            let mut name = n.name.as_bytes().to_vec();
            name.push(0);
            ok = w.emit(&head) && w.emit(&name);
            w.align(4);
            ok = ok && w.emit(&n.desc);
            w.align(4);
        }
        if ok {
            w.skip_to(dataoff);
            'segs: for s in &segs {
                let pages = if s.is_gate {
                    BTreeMap::new()
                } else {
                    self.dump_pages(mm, s.vma, s.dump_size)
                };
                // Pages in address order, the gaps between them skipped (holes).
                let mut a = s.vma.start.0;
                for (&addr, bytes) in &pages {
                    w.skip(addr - a);
                    if !w.emit(&bytes[..]) {
                        ok = false;
                        break 'segs;
                    }
                    a = addr + PAGE_SIZE;
                }
                w.skip(s.vma.start.0 + s.dump_size - a);
            }
        }
        if ok && e_phnum == PN_XNUM {
            w.emit(&extnum_shdr(class, nsegs));
        }
        // vfs_coredump: make the file as long as the position after a trailing skip.
        if w.to_skip > 0 {
            w.to_skip -= 1;
            w.emit(&[0]);
        }
        w.finish()
    }

    /// `vma_dump_size` with `filter` as `mm->flags`' dump bits.
    fn vma_dump_size(&self, mm: &Mm, vma: &Vma, is_gate: bool, filter: u32) -> u64 {
        let whole = vma.end.0 - vma.start.0;
        // always_dump_vma: the gate and any mapping named by its vm_ops ([vdso], [vvar], ...).
        if is_gate || vma.special.is_some() {
            return whole;
        }
        let f = vma.flags;
        if f.contains(VmFlags::DONTDUMP) {
            return 0;
        }
        if f.contains(VmFlags::HUGETLB) {
            let bit = if f.contains(VmFlags::SHARED) {
                MMF_DUMP_HUGETLB_SHARED
            } else {
                MMF_DUMP_HUGETLB_PRIVATE
            };
            return if filter & bit != 0 { whole } else { 0 };
        }
        if f.contains(VmFlags::IO) {
            return 0;
        }
        if f.contains(VmFlags::SHARED) {
            // Shared memory of an unlinked inode (i_nlink == 0) is "anonymous shared".
            let unlinked = vma
                .file
                .as_ref()
                .is_some_and(|file| file.inode.kind == InodeKind::Shmem);
            let bit = if unlinked {
                MMF_DUMP_ANON_SHARED
            } else {
                MMF_DUMP_MAPPED_SHARED
            };
            return if filter & bit != 0 { whole } else { 0 };
        }
        if vma.anon_vma.is_some() && filter & MMF_DUMP_ANON_PRIVATE != 0 {
            return whole;
        }
        let Some(file) = vma.file.as_ref() else {
            return 0;
        };
        if filter & MMF_DUMP_MAPPED_PRIVATE != 0 {
            return whole;
        }
        if filter & MMF_DUMP_ELF_HEADERS != 0 && vma.pgoff == 0 && f.contains(VmFlags::READ) {
            if file.inode.meta.mode & 0o111 != 0 {
                return PAGE_SIZE;
            }
            // DUMP_SIZE_MAYBE_ELFHDR_PLACEHOLDER, resolved by dump_vma_snapshot from the first bytes.
            let elf = crate::procfs::cmdline::read_page(self, mm, vma.start.0).is_some_and(|p| p[..4] == *b"\x7fELF");
            return if elf { PAGE_SIZE } else { 0 };
        }
        0
    }

    /// The pages of `[vma.start, vma.start + len)` that `get_dump_page` returns (see the module
    /// documentation), with their bytes; the others are holes.
    fn dump_pages(&self, mm: &Mm, vma: &Vma, len: u64) -> BTreeMap<u64, Box<[u8; PAGE_SIZE as usize]>> {
        let mut out = BTreeMap::new();
        if len == 0 || vma.flags.intersects(VmFlags::PFNMAP.union(VmFlags::IO)) {
            return out;
        }
        let end = vma.start.0 + len;
        let mut present: BTreeMap<u64, (u64, bool)> = BTreeMap::new();
        self.walk_pages(mm.id, vma.start, VirtAddr(end), &mut |ps| {
            if ps.present {
                present.insert(ps.addr.0, (ps.pfn, ps.zero_page));
            }
        });
        // A not-present page is faulted in only where the VMA has a fault handler and the file has data:
        // regular files, up to their end (past it the fault is SIGBUS and the page a hole). Shared
        // anonymous (shmem) holes would be allocated as zero pages by the fault; the model leaves them holes
        // (the same bytes; only RLIMIT_CORE's count of written bytes differs).
        let first = vma.pgoff;
        let file_end = match vma.file.as_ref() {
            Some(f) if f.inode.kind == InodeKind::Regular => {
                (first + (len >> 12)).min(f.inode.meta.size.div_ceil(PAGE_SIZE))
            }
            _ => first,
        };
        let file_pages = (first..file_end.max(first)).map(|idx| vma.start.0 + ((idx - first) << 12));
        for (&a, &(pfn, zero)) in &present {
            if !zero {
                let mut b = Box::new([0u8; PAGE_SIZE as usize]);
                self.phys.read(crate::addr::Pfn(pfn), 0, &mut b[..]);
                out.insert(a, b);
            }
        }
        for a in file_pages {
            if !present.contains_key(&a) {
                if let Some(b) = crate::procfs::cmdline::read_page(self, mm, a) {
                    out.insert(a, b);
                }
            }
        }
        out
    }

    /// `fill_note_info` + `write_note_info`'s order.
    fn core_notes(&self, task: &Task, mm: &Mm, info: &SigInfo, class: Class, segs: &[Segment]) -> Vec<Note> {
        let mut threads: Vec<&Task> = pt::thread_group(self, task)
            .into_iter()
            .filter(|t| t.pid != task.pid && t.is_alive())
            .collect();
        threads.sort_by_key(|t| t.pid);
        let mut notes = vec![Note {
            name: "CORE",
            ty: NT_PRSTATUS,
            desc: self.prstatus(task, info.signo, class),
        }];
        notes.push(Note {
            name: "CORE",
            ty: NT_PRPSINFO,
            desc: self.prpsinfo(task, mm, class),
        });
        notes.push(Note {
            name: "CORE",
            ty: NT_SIGINFO,
            desc: siginfo(info, class),
        });
        notes.push(Note {
            name: "CORE",
            ty: NT_AUXV,
            desc: self.saved_auxv(mm, class),
        });
        if let Some(files) = files_note(segs, class) {
            notes.push(Note {
                name: "CORE",
                ty: NT_FILE,
                desc: files,
            });
        }
        for t in threads {
            notes.push(Note {
                name: "CORE",
                ty: NT_PRSTATUS,
                desc: self.prstatus(t, info.signo, class),
            });
        }
        notes
    }

    /// `struct elf_prstatus` (`fill_prstatus`): 336 bytes on x86-64, 144 on i386.
    fn prstatus(&self, t: &Task, signr: u32, class: Class) -> Vec<u8> {
        let mut d = Vec::with_capacity(336);
        // pr_info: si_signo, si_code, si_errno (only the signal number is filled in).
        d.extend_from_slice(&(signr as i32).to_le_bytes());
        d.extend_from_slice(&0i32.to_le_bytes());
        d.extend_from_slice(&0i32.to_le_bytes());
        d.extend_from_slice(&(signr as i16).to_le_bytes());
        d.extend_from_slice(&[0, 0]); // pads pr_sigpend to offset 16
        class.put_ulong(&mut d, t.sig_pending);
        class.put_ulong(&mut d, t.sig_blocked);
        let (pgrp, sid) = pt::pgrp_session(self, t);
        for v in [t.pid.0, self.real_parent_pid(t), pgrp, sid] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        // pr_utime, pr_stime, pr_cutime, pr_cstime: the model has no clock.
        d.resize(d.len() + 4 * 2 * class.word(), 0);
        if class.is64 {
            // user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs
            // eflags rsp ss fs_base gs_base ds es fs gs.
            let mut regs = [0u64; 27];
            regs[17] = 0x33; // __USER_CS
            regs[20] = 0x2b; // __USER_DS as ss
            regs[21] = t.tls;
            for r in regs {
                d.extend_from_slice(&r.to_le_bytes());
            }
        } else {
            // ebx ecx edx esi edi ebp eax xds xes xfs xgs orig_eax eip xcs eflags esp xss.
            let mut regs = [0u32; 17];
            regs[7] = 0x7b;
            regs[8] = 0x7b;
            regs[13] = 0x73;
            regs[16] = 0x7b;
            for r in regs {
                d.extend_from_slice(&r.to_le_bytes());
            }
        }
        // pr_fpvalid: no FPU notes.
        d.extend_from_slice(&0i32.to_le_bytes());
        if class.is64 {
            d.extend_from_slice(&[0; 4]);
        }
        d
    }

    /// `task_pid_vnr(p->real_parent)`: a thread's real parent is its group leader's.
    fn real_parent_pid(&self, t: &Task) -> u32 {
        let t = match self.tasks.get(&t.tgid) {
            Some(leader) if t.pid != t.tgid => leader,
            _ => t,
        };
        if t.real_parent.0 != 0 {
            t.real_parent.0
        } else {
            t.ppid.0
        }
    }

    /// `struct elf_prpsinfo` (`fill_psinfo`): 136 bytes on x86-64, 124 on i386 (16-bit uid and gid).
    ///
    /// It describes the thread-group leader (`fill_psinfo(.., dump_task->group_leader, ..)`). When the leader
    /// is the dumping thread it is running (state 0, `R`) with `PF_SIGNALED | PF_DUMPCORE`; otherwise it
    /// was killed by the dump's group exit and waits in `coredump_task_exit` (`TASK_IDLE`: state 2, `D`) with
    /// `PF_SIGNALED | PF_EXITING | PF_POSTCOREDUMP`.
    fn prpsinfo(&self, dumper: &Task, mm: &Mm, class: Class) -> Vec<u8> {
        let t = self.tasks.get(&dumper.tgid).unwrap_or(dumper);
        let mut d = Vec::with_capacity(136);
        let nice = pt::nice(t);
        let (state, sname, extra) = if t.pid == dumper.pid {
            (0u8, b'R', PF_SIGNALED | PF_DUMPCORE)
        } else {
            (2u8, b'D', PF_SIGNALED | pt::PF_EXITING | pt::PF_POSTCOREDUMP)
        };
        d.extend_from_slice(&[state, sname, 0, nice as i8 as u8]);
        if class.is64 {
            d.extend_from_slice(&[0; 4]);
        }
        class.put_ulong(&mut d, u64::from(pt::pf_flags(t) | extra));
        if class.is64 {
            d.extend_from_slice(&t.cred.uid.to_le_bytes());
            d.extend_from_slice(&t.cred.gid.to_le_bytes());
        } else {
            // SET_UID with a 16-bit __kernel_uid_t: ids that do not fit read as the overflow id 65534.
            let short = |v: u32| if v > 0xffff { 65534u16 } else { v as u16 };
            d.extend_from_slice(&short(t.cred.uid).to_le_bytes());
            d.extend_from_slice(&short(t.cred.gid).to_le_bytes());
        }
        let (pgrp, sid) = pt::pgrp_session(self, t);
        for v in [t.pid.0, self.real_parent_pid(t), pgrp, sid] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        let mut fname = [0u8; 16];
        let comm = &t.comm.as_bytes()[..t.comm.len().min(15)];
        fname[..comm.len()].copy_from_slice(comm);
        d.extend_from_slice(&fname);
        // pr_psargs: the argument bytes (at most 79), NULs turned into spaces, NUL-terminated.
        const ELF_PRARGSZ: u64 = 80;
        let mut args = [0u8; ELF_PRARGSZ as usize];
        let len = mm.arg_end.saturating_sub(mm.arg_start).min(ELF_PRARGSZ - 1);
        let bytes = crate::procfs::cmdline::read_remote(self, mm, mm.arg_start, len);
        for (i, &b) in bytes.iter().enumerate() {
            args[i] = if b == 0 { b' ' } else { b };
        }
        d.extend_from_slice(&args);
        d
    }

    /// `NT_AUXV`: `mm->saved_auxv` up to and including `AT_NULL` ([`crate::procfs::cmdline::saved_auxv`]).
    fn saved_auxv(&self, mm: &Mm, class: Class) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in crate::procfs::cmdline::saved_auxv(self, mm, class.word() as u64) {
            class.put_ulong(&mut out, k);
            class.put_ulong(&mut out, v);
        }
        out
    }
}

/// `fill_files_note`: count, page size, then (start, end, page offset) of every file-backed VMA, then their
/// paths, each NUL-terminated. None without file mappings.
fn files_note(segs: &[Segment], class: Class) -> Option<Vec<u8>> {
    let files: Vec<&Segment> = segs.iter().filter(|s| !s.is_gate && s.vma.file.is_some()).collect();
    if files.is_empty() {
        return None;
    }
    let mut d = Vec::new();
    class.put_ulong(&mut d, files.len() as u64);
    class.put_ulong(&mut d, PAGE_SIZE);
    for s in &files {
        class.put_ulong(&mut d, s.vma.start.0);
        class.put_ulong(&mut d, s.vma.end.0);
        class.put_ulong(&mut d, s.vma.pgoff);
    }
    for s in &files {
        if let Some(f) = s.vma.file.as_ref() {
            d.extend_from_slice(f.inode.display_name.as_bytes());
            d.push(0);
        }
    }
    Some(d)
}

/// The `siginfo_t` the signal was delivered with (128 bytes): signo, errno, code, then for the fault
/// signals the faulting address (`si_addr`, after 4 bytes of padding on x86-64).
fn siginfo(info: &SigInfo, class: Class) -> Vec<u8> {
    use crate::uapi::*;
    let mut d = Vec::with_capacity(128);
    d.extend_from_slice(&(info.signo as i32).to_le_bytes());
    d.extend_from_slice(&0i32.to_le_bytes());
    d.extend_from_slice(&(info.code as i32).to_le_bytes());
    if class.is64 {
        d.extend_from_slice(&[0; 4]);
    }
    // SIGILL, SIGTRAP, SIGFPE carry an address too.
    if matches!(info.signo, SIGSEGV | SIGBUS | 4 | 5 | 8) {
        class.put_ulong(&mut d, info.addr);
    }
    d.resize(128, 0);
    d
}

fn pad4(n: usize) -> u64 {
    n.next_multiple_of(4) as u64
}

/// `fill_elf_header`.
fn elf_header(class: Class, arch: crate::arch::Arch, e_phnum: u64, e_shoff: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(b"\x7fELF");
    // EI_CLASS, EI_DATA (little endian), EI_VERSION, EI_OSABI (System V), padding.
    h.push(if class.is64 { 2 } else { 1 });
    h.extend_from_slice(&[1, 1, 0]);
    h.resize(16, 0);
    let machine: u16 = if arch.is_64bit() { 62 } else { 3 }; // EM_X86_64, EM_386
    h.extend_from_slice(&4u16.to_le_bytes()); // ET_CORE
    h.extend_from_slice(&machine.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    class.put_ulong(&mut h, 0); // e_entry
    class.put_ulong(&mut h, class.ehdr_size()); // e_phoff
    class.put_ulong(&mut h, e_shoff);
    h.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    h.extend_from_slice(&(class.ehdr_size() as u16).to_le_bytes());
    h.extend_from_slice(&(class.phdr_size() as u16).to_le_bytes());
    h.extend_from_slice(&(e_phnum as u16).to_le_bytes());
    // With extended numbering there is one section header holding the real count (fill_extnum_info).
    let (shentsize, shnum): (u16, u16) = if e_phnum == PN_XNUM {
        (if class.is64 { 64 } else { 40 }, 1)
    } else {
        (0, 0)
    };
    h.extend_from_slice(&shentsize.to_le_bytes());
    h.extend_from_slice(&shnum.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    h
}

/// One program header.
#[allow(clippy::too_many_arguments)]
fn phdr(class: Class, ty: u32, flags: u32, off: u64, vaddr: u64, filesz: u64, memsz: u64, align: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(56);
    p.extend_from_slice(&ty.to_le_bytes());
    if class.is64 {
        p.extend_from_slice(&flags.to_le_bytes());
        for v in [off, vaddr, 0, filesz, memsz, align] {
            p.extend_from_slice(&v.to_le_bytes());
        }
    } else {
        for v in [off, vaddr, 0, filesz, memsz] {
            p.extend_from_slice(&(v as u32).to_le_bytes());
        }
        p.extend_from_slice(&flags.to_le_bytes());
        p.extend_from_slice(&(align as u32).to_le_bytes());
    }
    p
}

/// `fill_extnum_info`: section header 0 with `sh_info` = the real number of program headers.
fn extnum_shdr(class: Class, segs: u64) -> Vec<u8> {
    let mut s = Vec::new();
    if class.is64 {
        s.resize(64, 0);
        s[32..40].copy_from_slice(&1u64.to_le_bytes()); // sh_size = e_shnum
        s[44..48].copy_from_slice(&(segs as u32).to_le_bytes()); // sh_info
    } else {
        s.resize(40, 0);
        s[20..24].copy_from_slice(&1u32.to_le_bytes());
        s[28..32].copy_from_slice(&(segs as u32).to_le_bytes());
    }
    s
}
