//! ELF core files of simulated processes (`Kernel::core_dump`): structure checked by parsing, by `readelf`
//! and `gdb` when installed, against what a real core of this kernel looks like, and RLIMIT_CORE handling.

use memsim_core::fs::MemFs;
use memsim_core::kernel::{Kernel, KernelConfig, SigInfo};
use memsim_core::task::Rlimit;
use memsim_core::uapi::*;
use memsim_core::{Errno, Pid};

const P: Pid = Pid(1);

struct Phdr {
    ty: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

struct NoteRec {
    name: Vec<u8>,
    ty: u32,
    desc: Vec<u8>,
}

fn u16_at(d: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(d[o..o + 2].try_into().unwrap())
}
fn u32_at(d: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(d[o..o + 4].try_into().unwrap())
}
fn u64_at(d: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap())
}

fn phdrs(d: &[u8]) -> Vec<Phdr> {
    let n = u16_at(d, 56) as usize;
    (0..n)
        .map(|i| {
            let o = 64 + i * 56;
            Phdr {
                ty: u32_at(d, o),
                flags: u32_at(d, o + 4),
                offset: u64_at(d, o + 8),
                vaddr: u64_at(d, o + 16),
                filesz: u64_at(d, o + 32),
                memsz: u64_at(d, o + 40),
                align: u64_at(d, o + 48),
            }
        })
        .collect()
}

fn notes(d: &[u8], ph: &Phdr) -> Vec<NoteRec> {
    let mut out = Vec::new();
    let mut p = ph.offset as usize;
    let end = p + ph.filesz as usize;
    while p < end {
        let (nsz, dsz, ty) = (u32_at(d, p) as usize, u32_at(d, p + 4) as usize, u32_at(d, p + 8));
        let name = d[p + 12..p + 12 + nsz].to_vec();
        let q = p + 12 + nsz.next_multiple_of(4);
        out.push(NoteRec {
            name,
            ty,
            desc: d[q..q + dsz].to_vec(),
        });
        p = q + dsz.next_multiple_of(4);
    }
    assert_eq!(p, end, "notes fill PT_NOTE exactly");
    out
}

fn elf_file() -> Vec<u8> {
    let mut v = vec![0u8; 3 * 4096];
    v[..4].copy_from_slice(b"\x7fELF");
    for (i, b) in v.iter_mut().enumerate().skip(4) {
        *b = (i % 251) as u8;
    }
    v
}

/// A process with: an anonymous region with one written page, an untouched anonymous region, shared
/// anonymous memory written, an executable file mapped privately (read only, and a written copy at offset 1),
/// an argument area, and RLIMIT_CORE unlimited.
fn process() -> (Kernel, [u64; 5]) {
    let mut fs = MemFs::new();
    fs.add_file("/bin/prog", elf_file());
    let mut k = Kernel::new(KernelConfig::default(), Box::new(fs));
    let rw = PROT_READ | PROT_WRITE;
    let anon = k
        .sys_mmap(P, 0, 3 * 4096, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap();
    k.poke(P, anon + 4096, b"written page").unwrap();
    let untouched = k
        .sys_mmap(P, 0x2000_0000, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap();
    let shared = k.sys_mmap(P, 0, 4096, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0).unwrap();
    k.poke(P, shared, b"shared!").unwrap();
    let fd = k.sys_openat(P, AT_FDCWD, "/bin/prog", O_RDONLY, 0).unwrap() as i64;
    let text = k.sys_mmap(P, 0x3000_0000, 4096, PROT_READ, MAP_PRIVATE, fd, 0).unwrap();
    let data = k.sys_mmap(P, 0x3000_4000, 8192, rw, MAP_PRIVATE, fd, 4096).unwrap();
    k.poke(P, data + 4096, b"cow").unwrap();
    let args = b"prog\0-x\0";
    k.poke(P, anon, args).unwrap();
    let mm = k.mm_mut(P).unwrap();
    mm.arg_start = anon;
    mm.arg_end = anon + args.len() as u64;
    k.task_mut(P).unwrap().rlimits[RLIMIT_CORE] = Rlimit::INFINITY;
    (k, [anon, untouched, shared, text, data])
}

fn segv(addr: u64) -> SigInfo {
    SigInfo {
        signo: SIGSEGV,
        code: 1,
        addr,
    }
}

#[test]
fn core_structure_and_segment_contents() {
    let (k, [anon, untouched, shared, text, data]) = process();
    let before = (
        k.proc_read(P, "smaps").unwrap(),
        k.proc_read(P, "status").unwrap(),
        k.page_cache.len(),
    );
    let core = k.core_dump(P, &segv(16)).unwrap();
    // Dumping changed nothing.
    assert_eq!(
        before,
        (
            k.proc_read(P, "smaps").unwrap(),
            k.proc_read(P, "status").unwrap(),
            k.page_cache.len()
        )
    );
    assert_eq!(&core[..4], b"\x7fELF");
    assert_eq!(core[4], 2, "ELFCLASS64");
    assert_eq!(u16_at(&core, 16), 4, "ET_CORE");
    assert_eq!(u16_at(&core, 18), 62, "EM_X86_64");
    let ph = phdrs(&core);
    let vmas = k.mm(P).unwrap().vmas.len();
    assert_eq!(ph.len(), vmas + 2, "PT_NOTE, one PT_LOAD per VMA, the gate");
    assert_eq!((ph[0].ty, ph[0].align, ph[0].offset), (4, 4, 64 + 56 * ph.len() as u64));
    let loads = &ph[1..];
    assert!(loads.iter().all(|p| p.ty == 1 && p.align == 4096));
    assert_eq!(loads[0].offset % 4096, 0, "data starts on a page");
    for w in loads.windows(2) {
        assert!(w[0].vaddr < w[1].vaddr);
        assert_eq!(w[1].offset, w[0].offset + w[0].filesz);
    }
    let seg = |va: u64| {
        loads
            .iter()
            .find(|p| p.vaddr == va)
            .unwrap_or_else(|| panic!("{va:#x}"))
    };
    // Anonymous written memory whole, with its bytes; untouched anonymous memory not at all.
    let a = seg(anon);
    assert_eq!((a.filesz, a.memsz, a.flags), (3 * 4096, 3 * 4096, 6));
    let at = (a.offset + 4096) as usize;
    assert_eq!(&core[at..at + 12], b"written page");
    assert!(core[at + 12..at + 4096].iter().all(|&b| b == 0));
    assert!(core[a.offset as usize + 8192..a.offset as usize + 12288]
        .iter()
        .all(|&b| b == 0));
    assert_eq!(seg(untouched).filesz, 0);
    // Shared anonymous (unlinked shmem) whole.
    let s = seg(shared);
    assert_eq!(s.filesz, 4096);
    assert_eq!(&core[s.offset as usize..s.offset as usize + 7], b"shared!");
    // The first page of an executable file mapped at offset 0: its ELF header.
    let t = seg(text);
    assert_eq!((t.filesz, t.flags), (4096, 4));
    assert_eq!(&core[t.offset as usize..t.offset as usize + 4096], &elf_file()[..4096]);
    // A written private file mapping (it has an anon_vma): whole, the COW copy and the file page.
    let d = seg(data);
    assert_eq!(d.filesz, 8192);
    let o = d.offset as usize;
    assert_eq!(
        &core[o..o + 4096],
        &elf_file()[4096..8192],
        "unmapped file page from the file"
    );
    assert_eq!(&core[o + 4096..o + 4099], b"cow");
    assert_eq!(&core[o + 4099..o + 8192], &elf_file()[8192 + 3..12288]);
    // The gate: last, whole, zeros (vsyscall=xonly is not readable).
    let g = loads.last().unwrap();
    assert_eq!((g.vaddr, g.filesz, g.flags), (0xffffffffff600000, 4096, 1));
    assert_eq!(
        core.len() as u64,
        g.offset + g.filesz,
        "the file ends with the last segment"
    );

    let ns = notes(&core, &ph[0]);
    let kinds: Vec<(u32, usize)> = ns.iter().map(|n| (n.ty, n.desc.len())).collect();
    assert_eq!(&kinds[..4], &[(1, 336), (3, 136), (0x53494749, 128), (6, 16)]);
    assert_eq!(kinds[4].0, 0x46494c45);
    assert_eq!(ns.len(), 5);
    assert!(ns.iter().all(|n| n.name == b"CORE\0"));
    // prstatus: signal, pid, ppid, pgrp, sid.
    let pr = &ns[0].desc;
    assert_eq!(u32_at(pr, 0), 11);
    assert_eq!(u16_at(pr, 12), 11);
    assert_eq!(
        (u32_at(pr, 32), u32_at(pr, 36), u32_at(pr, 40), u32_at(pr, 44)),
        (1, 0, 1, 1)
    );
    // prpsinfo: running, PF_SIGNALED|PF_DUMPCORE, the comm, the arguments with NULs as spaces.
    let ps = &ns[1].desc;
    assert_eq!(&ps[..2], &[0, b'R']);
    assert_eq!(u64_at(ps, 8) & 0x600, 0x600);
    assert_eq!(&ps[40..45], b"init\0");
    assert_eq!(&ps[56..65], b"prog -x \0");
    // siginfo: signo, errno, code, si_addr.
    let si = &ns[2].desc;
    assert_eq!(
        (u32_at(si, 0), u32_at(si, 4), u32_at(si, 8), u64_at(si, 16)),
        (11, 0, 1, 16)
    );
    // NT_FILE: the file mappings in address order (shared anonymous memory is a shmem file), with their page
    // offsets, then the names.
    let f = &ns[4].desc;
    assert!(text < data && data < shared);
    assert_eq!((u64_at(f, 0), u64_at(f, 8)), (3, 4096));
    assert_eq!((u64_at(f, 16), u64_at(f, 24), u64_at(f, 32)), (text, text + 4096, 0));
    assert_eq!((u64_at(f, 40), u64_at(f, 48), u64_at(f, 56)), (data, data + 8192, 1));
    assert_eq!(
        (u64_at(f, 64), u64_at(f, 72), u64_at(f, 80)),
        (shared, shared + 4096, 0)
    );
    assert_eq!(&f[88..], b"/bin/prog\0/bin/prog\0/dev/zero (deleted)\0");
    // Deterministic.
    assert_eq!(k.core_dump(P, &segv(16)).unwrap(), core);
}

#[test]
fn rlimit_core_gates_and_truncates() {
    let (mut k, _) = process();
    let full = k.core_dump(P, &segv(0)).unwrap();
    for small in [0, 1, 4095] {
        k.task_mut(P).unwrap().rlimits[RLIMIT_CORE] = Rlimit::new(small, RLIM_INFINITY);
        assert_eq!(k.core_dump(P, &segv(0)), Err(Errno::EFBIG), "limit {small}");
    }
    k.task_mut(P).unwrap().rlimits[RLIMIT_CORE] = Rlimit::new(3 * 4096, RLIM_INFINITY);
    let cut = k.core_dump(P, &segv(0)).unwrap();
    assert_eq!(&full[..cut.len()], &cut[..]);
    // Headers and notes (written), then the first two written pages fit; the third would pass the limit.
    // Holes (skipped pages) do not count, so the file may be longer than the limit.
    let ph = phdrs(&full);
    let headers = ph[0].offset + ph[0].filesz;
    let data = ph[1].offset;
    assert!(headers + 2 * 4096 <= 3 * 4096 && headers + 3 * 4096 > 3 * 4096);
    assert!(cut.len() as u64 > data);
    assert_eq!(cut.len() % 4096, 0, "ends after a whole page");
    let nonhole_pages = (data..cut.len() as u64).step_by(4096).count();
    assert!(nonhole_pages >= 2);
    assert!(cut.len() < full.len());
    // No task, or no address space: nothing to dump.
    assert_eq!(k.core_dump(Pid(999), &segv(0)), Err(Errno::ESRCH));
    assert_eq!(k.core_dump(Pid(2), &segv(0)), Err(Errno::ESRCH), "kthreadd has no mm");
}

fn tool(name: &str) -> bool {
    std::process::Command::new(name).arg("--version").output().is_ok()
}

fn write_core(core: &[u8], tag: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("memsim-core-{}-{tag}", std::process::id()));
    std::fs::write(&path, core).unwrap();
    path
}

#[test]
fn readelf_reads_the_core() {
    if !tool("readelf") {
        return;
    }
    let (k, [anon, ..]) = process();
    let path = write_core(&k.core_dump(P, &segv(16)).unwrap(), "readelf");
    let out = std::process::Command::new("readelf")
        .args(["-h", "-l", "-n", "-W"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("CORE (Core file)"), "{text}");
    assert!(text.contains("Advanced Micro Devices X86-64"), "{text}");
    let vmas = k.mm(P).unwrap().vmas.len();
    assert!(
        text.contains(&format!("Number of program headers:         {}", vmas + 2)),
        "{text}"
    );
    assert!(text.contains("LOAD           0x"), "{text}");
    assert!(text.contains(&format!("{anon:#018x}")), "{text}");
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("CORE"))
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        order,
        ["NT_PRSTATUS", "NT_PRPSINFO", "NT_SIGINFO", "NT_AUXV", "NT_FILE"],
        "{text}"
    );
}

#[test]
fn gdb_opens_the_core() {
    if !tool("gdb") {
        return;
    }
    let (k, [anon, _, shared, ..]) = process();
    let path = write_core(&k.core_dump(P, &segv(16)).unwrap(), "gdb");
    let out = std::process::Command::new("gdb")
        .args([
            "-nx",
            "-batch",
            "-ex",
            "info files",
            "-ex",
            &format!("x/s {:#x}", anon + 4096),
        ])
        .arg("-c")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Program terminated with signal SIGSEGV"), "{text}");
    assert!(
        text.contains(&format!("{anon:#018x} - {:#018x} is load", anon + 3 * 4096)),
        "{text}"
    );
    assert!(text.contains(&format!("{shared:#018x}")), "{text}");
    assert!(text.contains("\"written page\""), "{text}");
}

/// A real core of this kernel for a program that faults, as far as the model can reproduce its shape: the
/// header fields, note order and sizes, the note program header, page alignment of the data.
#[test]
fn shape_matches_a_real_core() {
    let dir = std::env::temp_dir().join(format!("memsim-realcore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("seg.c");
    std::fs::write(&src, "int main(void) { *(volatile int *)16 = 1; return 0; }\n").unwrap();
    let ok = std::process::Command::new("gcc")
        .arg("-o")
        .arg(dir.join("seg"))
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    if !ok || pattern.trim() != "core" {
        let _ = std::fs::remove_dir_all(&dir);
        return; // no compiler, or cores go elsewhere (a pipe to a crash handler)
    }
    let _ = std::process::Command::new("sh")
        .args(["-c", "ulimit -c unlimited; ./seg"])
        .current_dir(&dir)
        .stderr(std::process::Stdio::null())
        .status();
    let Some(real) = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("core"))
        .and_then(|e| std::fs::read(e.path()).ok())
    else {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    };
    let _ = std::fs::remove_dir_all(&dir);
    let (k, _) = process();
    let model = k.core_dump(P, &segv(16)).unwrap();
    assert_eq!(&model[..20], &real[..20], "e_ident, e_type, e_machine");
    assert_eq!(&model[40..54], &real[40..54], "e_shoff, e_flags, e_ehsize, e_phentsize");
    let (rp, mp) = (phdrs(&real), phdrs(&model));
    assert_eq!(
        (mp[0].ty, mp[0].align, mp[0].vaddr),
        (rp[0].ty, rp[0].align, rp[0].vaddr)
    );
    assert_eq!(rp[1].offset % 4096, 0);
    let (rn, mn) = (notes(&real, &rp[0]), notes(&model, &mp[0]));
    let shape = |n: &[NoteRec]| -> Vec<(Vec<u8>, u32, usize)> {
        n.iter()
            .take(5)
            .map(|n| {
                (
                    n.name.clone(),
                    n.ty,
                    if n.ty == 1 || n.ty == 3 || n.ty == 0x53494749 {
                        n.desc.len()
                    } else {
                        0
                    },
                )
            })
            .collect()
    };
    assert_eq!(shape(&mn), shape(&rn));
    // The same signal information and psinfo flags a SIGSEGV at address 16 leaves.
    assert_eq!(&mn[2].desc[..24], &rn[2].desc[..24]);
    assert_eq!(u64_at(&mn[1].desc, 8) & 0x600, u64_at(&rn[1].desc, 8) & 0x600);
    // The gate is the last segment in both.
    let (rg, mg) = (rp.last().unwrap(), mp.last().unwrap());
    assert_eq!(
        (rg.vaddr, rg.filesz, rg.memsz, rg.flags),
        (mg.vaddr, mg.filesz, mg.memsz, mg.flags)
    );
}

/// A native i386 machine dumps an ELF32 i386 core with the 32-bit structure sizes.
#[test]
fn i386_core_is_elf32() {
    let cfg = KernelConfig {
        arch: memsim_core::arch::Arch::I386,
        ..KernelConfig::default()
    };
    let mut k = Kernel::new(cfg, Box::new(MemFs::new()));
    let a = k
        .sys_mmap(P, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap();
    k.poke(P, a, b"x").unwrap();
    k.task_mut(P).unwrap().rlimits[RLIMIT_CORE] = Rlimit::INFINITY;
    let core = k.core_dump(P, &segv(a + 8192)).unwrap();
    assert_eq!((core[4], u16_at(&core, 18)), (1, 3), "ELFCLASS32, EM_386");
    let phnum = u16_at(&core, 44) as usize;
    assert_eq!(phnum, 2, "PT_NOTE and the one VMA; no gate on a 32-bit kernel");
    let note_off = u32_at(&core, 52 + 4) as usize;
    let note_len = u32_at(&core, 52 + 16) as usize;
    let mut sizes = Vec::new();
    let mut p = note_off;
    while p < note_off + note_len {
        let (nsz, dsz) = (u32_at(&core, p) as usize, u32_at(&core, p + 4) as usize);
        sizes.push((u32_at(&core, p + 8), dsz));
        p += 12 + nsz.next_multiple_of(4) + dsz.next_multiple_of(4);
    }
    assert_eq!(sizes, [(1, 144), (3, 124), (0x53494749, 128), (6, 8)]);
    if tool("readelf") {
        let path = write_core(&core, "i386");
        let out = std::process::Command::new("readelf")
            .args(["-h", "-l", "-n"])
            .arg(&path)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && out.stderr.is_empty(), "{text}");
        assert!(text.contains("ELF32") && text.contains("Intel 80386"), "{text}");
    }
}

/// After a real exec (this machine's `/usr/bin/true` and its dynamic linker, loaded into the model): the
/// auxiliary vector exec built comes back in NT_AUXV, the arguments in pr_psargs, both ELF files in NT_FILE
/// with their ELF header pages dumped, and gdb names the program.
#[test]
fn core_after_exec_carries_auxv_files_and_arguments() {
    let (Ok(prog), Ok(ld)) = (
        std::fs::read("/usr/bin/true"),
        std::fs::read("/lib64/ld-linux-x86-64.so.2"),
    ) else {
        return;
    };
    let mut fs = MemFs::new();
    fs.add_file("/usr/bin/true", prog);
    fs.add_file("/lib64/ld-linux-x86-64.so.2", ld);
    let mut k = Kernel::new(KernelConfig::default(), Box::new(fs));
    let argv = [b"true".to_vec(), b"--x".to_vec()];
    let envp = [b"A=1".to_vec()];
    k.sys_execve(P, "/usr/bin/true", &argv, &envp).unwrap();
    k.task_mut(P).unwrap().rlimits[RLIMIT_CORE] = Rlimit::INFINITY;
    let core = k.core_dump(P, &segv(0)).unwrap();
    let ph = phdrs(&core);
    let ns = notes(&core, &ph[0]);
    // psargs.
    assert_eq!(&ns[1].desc[56..66], b"true --x \0");
    assert_eq!(&ns[1].desc[40..45], b"true\0");
    // auxv: pairs up to AT_NULL, with the page size and an entry point inside the program's mappings.
    let auxv: Vec<(u64, u64)> = ns[3].desc.chunks(16).map(|c| (u64_at(c, 0), u64_at(c, 8))).collect();
    assert_eq!(auxv.last(), Some(&(0, 0)));
    let get = |key: u64| auxv.iter().find(|(k, _)| *k == key).map(|&(_, v)| v);
    assert_eq!(get(6), Some(4096), "AT_PAGESZ");
    let mm = k.mm(P).unwrap();
    let entry = get(9).expect("AT_ENTRY");
    assert!(mm.vmas.iter().any(|v| v.start.0 <= entry && entry < v.end.0));
    let phdr = get(3).expect("AT_PHDR");
    let in_prog = |a: u64| {
        mm.vmas.iter().any(|v| {
            v.start.0 <= a && a < v.end.0 && v.file.as_ref().is_some_and(|f| f.inode.meta.path == "/usr/bin/true")
        })
    };
    assert!(
        in_prog(phdr) && in_prog(entry),
        "AT_PHDR {phdr:#x}, AT_ENTRY {entry:#x}"
    );
    // Both ELF files are named, and the first page of each is in the core (it starts with the ELF magic).
    let files = String::from_utf8_lossy(&ns[4].desc);
    assert!(
        files.contains("/usr/bin/true\0") && files.contains("/lib64/ld-linux-x86-64.so.2\0"),
        "{files}"
    );
    for p in &ph[1..] {
        let vma = mm.vmas.iter().find(|v| v.start.0 == p.vaddr);
        if let Some(v) = vma.filter(|v| v.file.is_some() && v.pgoff == 0) {
            assert_eq!(p.filesz, 4096, "{:#x}", v.start.0);
            assert_eq!(&core[p.offset as usize..p.offset as usize + 4], b"\x7fELF");
        }
    }
    if tool("gdb") {
        let path = write_core(&core, "exec");
        let out = std::process::Command::new("gdb")
            .args(["-nx", "-batch", "-ex", "info auxv"])
            .arg("-c")
            .arg(&path)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Core was generated by `true --x'."), "{text}");
        assert!(text.contains("AT_PAGESZ"), "{text}");
        assert!(text.contains(&format!("{entry:#x}")), "{text}");
    }
}

/// A process with a second thread: one NT_PRSTATUS per thread, the dumping thread's first and the other's
/// after the process-wide notes; NT_PRPSINFO describes the group leader.
#[test]
fn every_thread_has_its_prstatus() {
    let (mut k, _) = process();
    let mut thread = k.task(P).unwrap().clone();
    thread.pid = Pid(50);
    thread.threads.clear();
    thread.tls = 0x7f00_0000_1000;
    k.tasks.insert(Pid(50), thread);
    k.tasks.get_mut(&P).unwrap().threads.push(Pid(50));
    // The second thread faults.
    let core = k.core_dump(Pid(50), &segv(8)).unwrap();
    let ph = phdrs(&core);
    let ns = notes(&core, &ph[0]);
    let types: Vec<u32> = ns.iter().map(|n| n.ty).collect();
    assert_eq!(types, [1, 3, 0x53494749, 6, 0x46494c45, 1]);
    assert_eq!(u32_at(&ns[0].desc, 32), 50, "the dumping thread first");
    assert_eq!(u64_at(&ns[0].desc, 112 + 21 * 8), 0x7f00_0000_1000, "its fs_base");
    assert_eq!(u32_at(&ns[5].desc, 32), 1);
    assert_eq!(u16_at(&ns[5].desc, 12), 11, "every thread shows the signal");
    // psinfo: the leader, waiting for the dump to finish.
    let ps = &ns[1].desc;
    assert_eq!((ps[0], ps[1], u32_at(ps, 24)), (2, b'D', 1));
}

/// Holes cost nothing: a 16 MiB region with one page written at each end gives a core with the two pages
/// at the right offsets; a region whose dump would pass 1 GiB is refused (EFBIG) without building it.
#[test]
fn sparse_regions() {
    let mut k = Kernel::new(KernelConfig::default(), Box::new(MemFs::new()));
    k.task_mut(P).unwrap().rlimits[RLIMIT_CORE] = Rlimit::INFINITY;
    let len = 16 << 20;
    let rw = PROT_READ | PROT_WRITE;
    let a = k
        .sys_mmap(P, 0, len, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        .unwrap();
    k.poke(P, a, b"first").unwrap();
    k.poke(P, a + len - 4096, b"last").unwrap();
    let core = k.core_dump(P, &segv(0)).unwrap();
    let ph = phdrs(&core);
    let seg = ph.iter().find(|p| p.vaddr == a).unwrap();
    assert_eq!(seg.filesz, len);
    let o = seg.offset as usize;
    assert_eq!(&core[o..o + 5], b"first");
    assert!(core[o + 5..o + len as usize - 4096].iter().all(|&b| b == 0));
    assert_eq!(&core[o + len as usize - 4096..o + len as usize - 4092], b"last");
    let huge = 4u64 << 30;
    let h = k
        .sys_mmap(P, 0, huge, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        .unwrap();
    k.poke(P, h + huge - 4096, b"x").unwrap();
    assert_eq!(k.core_dump(P, &segv(0)), Err(Errno::EFBIG));
}
