//! execve on [`MemFs`] with ELF images built here: placement, bss, the stack contents, every error path, scripts
//! and ASLR determinism. (The comparison with the real kernel for real binaries is
//! `memsim-scenario/tests/exec_host.rs`.)

use object::elf::{EM_X86_64, ET_DYN, ET_EXEC, PF_R, PF_W, PF_X, PT_GNU_STACK, PT_INTERP, PT_LOAD};

use crate::errno::Errno;
use crate::fs::binfmt_elf::Phdr;
use crate::fs::MemFs;
use crate::kernel::{Kernel, KernelConfig, INIT_PID};
use crate::mm::vma::VmFlags;
use crate::task::Pid;
use crate::uapi::*;

const P: Pid = INIT_PID;

/// A little-endian ELF64 image: header, program headers right after it, the rest filled with `fill`.
#[derive(Clone)]
struct Elf {
    e_type: u16,
    machine: u16,
    entry: u64,
    phentsize: u16,
    phdrs: Vec<Phdr>,
    size: usize,
    fill: u8,
    patches: Vec<(usize, Vec<u8>)>,
}

impl Elf {
    fn new(e_type: u16, phdrs: Vec<Phdr>, size: usize) -> Elf {
        Elf {
            e_type,
            machine: EM_X86_64,
            entry: 0x400100,
            phentsize: 56,
            phdrs,
            size,
            fill: 0xaa,
            patches: Vec::new(),
        }
    }

    fn patch(mut self, at: usize, bytes: &[u8]) -> Elf {
        self.patches.push((at, bytes.to_vec()));
        self
    }

    /// The same image as ELFCLASS32 / EM_386 (32-byte program headers).
    fn build32(&self) -> Vec<u8> {
        let phend = 52 + 32 * self.phdrs.len();
        let mut b = vec![self.fill; self.size.max(phend)];
        b[..16].copy_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut h = Vec::new();
        h.extend_from_slice(&self.e_type.to_le_bytes());
        h.extend_from_slice(&3u16.to_le_bytes()); // EM_386
        h.extend_from_slice(&1u32.to_le_bytes());
        h.extend_from_slice(&(self.entry as u32).to_le_bytes());
        h.extend_from_slice(&52u32.to_le_bytes()); // e_phoff
        h.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
        h.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        h.extend_from_slice(&52u16.to_le_bytes()); // e_ehsize
        h.extend_from_slice(&32u16.to_le_bytes());
        h.extend_from_slice(&(self.phdrs.len() as u16).to_le_bytes());
        h.extend_from_slice(&[40, 0, 0, 0, 0, 0]);
        b[16..52].copy_from_slice(&h);
        for (i, p) in self.phdrs.iter().enumerate() {
            let mut e = Vec::with_capacity(32);
            for v in [p.p_type, p.p_offset as u32, p.p_vaddr as u32, p.p_vaddr as u32] {
                e.extend_from_slice(&v.to_le_bytes());
            }
            for v in [p.p_filesz as u32, p.p_memsz as u32, p.p_flags, p.p_align as u32] {
                e.extend_from_slice(&v.to_le_bytes());
            }
            b[52 + 32 * i..52 + 32 * (i + 1)].copy_from_slice(&e);
        }
        for (at, bytes) in &self.patches {
            if b.len() < at + bytes.len() {
                b.resize(at + bytes.len(), self.fill);
            }
            b[*at..at + bytes.len()].copy_from_slice(bytes);
        }
        b
    }

    fn build(&self) -> Vec<u8> {
        let phend = 64 + 56 * self.phdrs.len();
        let mut b = vec![self.fill; self.size.max(phend)];
        b[..16].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut h = Vec::new();
        h.extend_from_slice(&self.e_type.to_le_bytes());
        h.extend_from_slice(&self.machine.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        h.extend_from_slice(&self.entry.to_le_bytes());
        h.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
        h.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        h.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        h.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        h.extend_from_slice(&self.phentsize.to_le_bytes());
        h.extend_from_slice(&(self.phdrs.len() as u16).to_le_bytes());
        h.extend_from_slice(&[64, 0, 0, 0, 0, 0]); // e_shentsize, e_shnum, e_shstrndx
        b[16..64].copy_from_slice(&h);
        for (i, p) in self.phdrs.iter().enumerate() {
            let mut e = Vec::with_capacity(56);
            e.extend_from_slice(&p.p_type.to_le_bytes());
            e.extend_from_slice(&p.p_flags.to_le_bytes());
            e.extend_from_slice(&p.p_offset.to_le_bytes());
            e.extend_from_slice(&p.p_vaddr.to_le_bytes());
            e.extend_from_slice(&p.p_vaddr.to_le_bytes());
            e.extend_from_slice(&p.p_filesz.to_le_bytes());
            e.extend_from_slice(&p.p_memsz.to_le_bytes());
            e.extend_from_slice(&p.p_align.to_le_bytes());
            b[64 + 56 * i..64 + 56 * (i + 1)].copy_from_slice(&e);
        }
        for (at, bytes) in &self.patches {
            if b.len() < at + bytes.len() {
                b.resize(at + bytes.len(), self.fill);
            }
            b[*at..at + bytes.len()].copy_from_slice(bytes);
        }
        b
    }
}

fn load(vaddr: u64, off: u64, filesz: u64, memsz: u64, flags: u32) -> Phdr {
    Phdr {
        p_type: PT_LOAD,
        p_flags: flags,
        p_offset: off,
        p_vaddr: vaddr,
        p_filesz: filesz,
        p_memsz: memsz,
        p_align: 0x1000,
    }
}

fn other(p_type: u32, flags: u32, off: u64, filesz: u64) -> Phdr {
    Phdr {
        p_type,
        p_flags: flags,
        p_offset: off,
        p_vaddr: 0,
        p_filesz: filesz,
        p_memsz: filesz,
        p_align: 1,
    }
}

/// A non-PIE static program: text at 0x400000, data at 0x401010 with 0x20 file bytes and bss to 0x404010.
fn static_exec() -> Elf {
    Elf::new(
        ET_EXEC,
        vec![
            load(0x400000, 0, 0x1000, 0x1000, PF_R | PF_X),
            load(0x401010, 0x1010, 0x20, 0x3000, PF_R | PF_W),
            other(PT_GNU_STACK, PF_R | PF_W, 0, 0),
        ],
        0x2000,
    )
}

/// A dynamic linker (ET_DYN, no interpreter): 5 pages, bss in its last.
fn ld_so() -> Elf {
    let mut e = Elf::new(
        ET_DYN,
        vec![
            load(0, 0, 0x1000, 0x1000, PF_R),
            load(0x1000, 0x1000, 0x2000, 0x2000, PF_R | PF_X),
            load(0x3000, 0x3000, 0x100, 0x2000, PF_R | PF_W),
            other(PT_GNU_STACK, PF_R | PF_W, 0, 0),
        ],
        0x3100,
    );
    e.entry = 0x1100;
    e
}

/// A PIE asking for `/lib/ld.so`.
fn pie() -> Elf {
    let interp = b"/lib/ld.so\0";
    let mut e = Elf::new(
        ET_DYN,
        vec![
            other(PT_INTERP, PF_R, 0x300, interp.len() as u64),
            load(0, 0, 0x1000, 0x1000, PF_R | PF_X),
            load(0x1e00, 0xe00, 0x300, 0x400, PF_R | PF_W),
            other(PT_GNU_STACK, PF_R | PF_W, 0, 0),
        ],
        0x1100,
    )
    .patch(0x300, interp);
    e.entry = 0x200;
    e
}

fn fs_with(files: &[(&str, Vec<u8>)]) -> MemFs {
    let mut fs = MemFs::new();
    fs.add_dir("/bin");
    for (p, c) in files {
        fs.add_file(p, c.clone());
    }
    fs
}

fn kernel_cfg(fs: MemFs, cfg: KernelConfig) -> Kernel {
    Kernel::new(cfg, Box::new(fs))
}

fn kernel(fs: MemFs) -> Kernel {
    kernel_cfg(fs, KernelConfig::default())
}

fn maps(k: &Kernel, pid: Pid) -> String {
    String::from_utf8(k.proc_read(pid, "maps").unwrap()).unwrap()
}

fn strs(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn exec(k: &mut Kernel, path: &str, argv: &[&str], envp: &[&str]) -> Result<(), Errno> {
    k.sys_execve(P, path, &strs(argv), &strs(envp)).map(|_| ())
}

fn word(k: &mut Kernel, addr: u64) -> u64 {
    u64::from_le_bytes(k.peek(P, addr, 8).unwrap().try_into().unwrap())
}

fn cstr(k: &mut Kernel, addr: u64) -> String {
    let mut out = Vec::new();
    let mut a = addr;
    loop {
        let b = k.peek(P, a, 1).unwrap()[0];
        if b == 0 {
            break;
        }
        out.push(b);
        a += 1;
    }
    String::from_utf8(out).unwrap()
}

/// argv, envp and auxv as the new program sees them at its stack pointer.
fn initial_stack(k: &mut Kernel) -> (Vec<String>, Vec<String>, Vec<(u64, u64)>) {
    let sp = k.mm(P).unwrap().start_stack;
    let argc = word(k, sp);
    let mut a = sp + 8;
    let mut argv = Vec::new();
    for _ in 0..argc {
        let p = word(k, a);
        argv.push(cstr(k, p));
        a += 8;
    }
    assert_eq!(word(k, a), 0, "argv is NULL-terminated");
    a += 8;
    let mut envp = Vec::new();
    loop {
        let p = word(k, a);
        a += 8;
        if p == 0 {
            break;
        }
        envp.push(cstr(k, p));
    }
    let mut auxv = Vec::new();
    loop {
        let (key, val) = (word(k, a), word(k, a + 8));
        a += 16;
        auxv.push((key, val));
        if key == 0 {
            break;
        }
    }
    (argv, envp, auxv)
}

fn aux(auxv: &[(u64, u64)], key: u64) -> u64 {
    auxv.iter().find(|(k, _)| *k == key).map(|&(_, v)| v).unwrap()
}

#[test]
fn static_non_pie_layout_bss_and_stack() {
    let fs = fs_with(&[("/bin/static", static_exec().build())]);
    let mut k = kernel(fs);
    exec(&mut k, "/bin/static", &["static", "x"], &["A=B"]).unwrap();
    let ino = k.fs.stat("/bin/static").unwrap().ino;
    let f = |range: &str, perms: &str, off: &str, dev: &str, ino: u64, name: &str| {
        format!("{:<72} {name}\n", format!("{range} {perms} {off} {dev} {ino} "))
    };
    let expected = [
        f("00400000-00401000", "r-xp", "00000000", "fe:00", ino, "/bin/static"),
        f("00401000-00402000", "rw-p", "00001000", "fe:00", ino, "/bin/static"),
        "00402000-00405000 rw-p 00000000 00:00 0 \n".to_string(),
        f("7ffff7ff7000-7ffff7ffb000", "r--p", "00000000", "00:00", 0, "[vvar]"),
        f(
            "7ffff7ffb000-7ffff7ffd000",
            "r--p",
            "00000000",
            "00:00",
            0,
            "[vvar_vclock]",
        ),
        f("7ffff7ffd000-7ffff7fff000", "r-xp", "00000000", "00:00", 0, "[vdso]"),
        f("7ffffffde000-7ffffffff000", "rw-p", "00000000", "00:00", 0, "[stack]"),
        f(
            "ffffffffff600000-ffffffffff601000",
            "--xp",
            "00000000",
            "00:00",
            0,
            "[vsyscall]",
        ),
    ]
    .concat();
    assert_eq!(maps(&k, P), expected);
    let m = k.mm(P).unwrap().clone();
    assert_eq!((m.start_code, m.end_code), (0x400000, 0x401000));
    assert_eq!((m.start_data, m.end_data), (0x401010, 0x401030));
    assert_eq!((m.start_brk, m.brk), (0x405000, 0x405000));
    // The file bytes of the data page survive, the rest of the page is zeroed through a COW write fault.
    assert_eq!(k.peek(P, 0x401010, 0x20).unwrap(), vec![0xaa; 0x20]);
    assert_eq!(k.peek(P, 0x401030, 0xfd0).unwrap(), vec![0; 0xfd0]);
    assert_eq!(k.peek(P, 0x401000, 0x10).unwrap(), vec![0xaa; 0x10]);
    let page = k.pte_at(m.id, crate::VirtAddr(0x401000));
    assert!(
        page.present() && page.write(),
        "padzero dirtied a private copy of the page"
    );
    // Stack: the strings and the tables were written; the stack VMA is 33 pages as Linux sizes it.
    let (argv, envp, auxv) = initial_stack(&mut k);
    assert_eq!(argv, ["static", "x"]);
    assert_eq!(envp, ["A=B"]);
    assert_eq!(aux(&auxv, 3), 0x400040, "AT_PHDR");
    assert_eq!(aux(&auxv, 5), 3, "AT_PHNUM");
    assert_eq!(aux(&auxv, 7), 0, "AT_BASE without interpreter");
    assert_eq!(aux(&auxv, 9), 0x400100, "AT_ENTRY");
    assert_eq!(aux(&auxv, 33), 0x7fff_f7ff_d000, "AT_SYSINFO_EHDR");
    assert_eq!(cstr(&mut k, aux(&auxv, 31)), "/bin/static", "AT_EXECFN");
    assert_eq!(cstr(&mut k, aux(&auxv, 15)), "x86_64", "AT_PLATFORM");
    let keys: Vec<u64> = auxv.iter().map(|&(k, _)| k).collect();
    assert_eq!(
        keys,
        [33, 51, 16, 6, 17, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 23, 25, 26, 31, 15, 27, 28, 0]
    );
    assert_eq!(m.start_stack % 16, 0);
    assert_eq!(k.task(P).unwrap().comm, "static");
    // The strings sit at the very top, below one zero word.
    assert_eq!(m.env_end, 0x7fff_ffff_f000 - 8 - "/bin/static\0".len() as u64);
    k.check_all_page_invariants().unwrap();
    let c = m.recount();
    assert_eq!((c.total_vm, c.stack_vm), (m.total_vm, m.stack_vm));
    assert_eq!(m.stack_vm, 33);
}

#[test]
fn pie_with_interpreter_and_the_interpreter_run_directly() {
    let fs = fs_with(&[("/bin/pie", pie().build()), ("/lib/ld.so", ld_so().build())]);
    let mut k = kernel(fs);
    exec(&mut k, "/bin/pie", &["pie"], &[]).unwrap();
    let text = maps(&k, P);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("555555554000-555555555000 r-xp 00000000 fe:00"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("555555555000-555555557000 rw-p 00000000 fe:00"),
        "{text}"
    );
    // ld.so ends exactly at mmap_base; the vDSO sits directly below it.
    assert!(
        lines[2].starts_with("7ffff7ff2000-7ffff7ff6000 r--p 00000000 00:00 0 "),
        "{text}"
    );
    assert!(
        lines[5].starts_with("7ffff7ffa000-7ffff7ffb000 r--p 00000000 fe:00"),
        "{text}"
    );
    assert!(
        lines[8].starts_with("7ffff7ffe000-7ffff7fff000 rw-p 00000000 00:00 0 "),
        "{text}"
    );
    let (_, _, auxv) = initial_stack(&mut k);
    assert_eq!(aux(&auxv, 7), 0x7fff_f7ff_a000, "AT_BASE");
    assert_eq!(aux(&auxv, 9), 0x5555_5555_4200, "AT_ENTRY is the program's");
    assert_eq!(k.mm(P).unwrap().start_brk, 0x5555_5555_7000);

    // The linker run directly: top-down, and the brk moves to ELF_ET_DYN_BASE.
    exec(&mut k, "/lib/ld.so", &["/lib/ld.so", "/bin/pie"], &[]).unwrap();
    let text = maps(&k, P);
    assert!(
        text.starts_with("7ffff7ff2000-7ffff7ff6000 r--p 00000000 00:00 0"),
        "{text}"
    );
    assert!(text.contains("7ffff7ffa000-7ffff7ffb000 r--p 00000000 fe:00"), "{text}");
    let m = k.mm(P).unwrap();
    assert_eq!(m.start_brk, 0x5555_5555_5000);
    assert_eq!(m.start_code, 0x7fff_f7ff_b000);
    k.check_all_page_invariants().unwrap();
}

#[test]
fn old_mm_is_released_and_close_on_exec_descriptors_close() {
    let fs = fs_with(&[("/bin/static", static_exec().build()), ("/lib/ld.so", ld_so().build())]);
    let mut k = kernel(fs);
    k.sys_mmap(
        P,
        0,
        1 << 20,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    )
    .unwrap();
    let a = k.mm(P).unwrap().mmap_base - (1 << 20);
    k.poke(P, a, &[1; 8192]).unwrap();
    let f = k.sys_openat(P, AT_FDCWD, "/lib/ld.so", O_RDONLY, 0).unwrap() as i32;
    let g = k
        .sys_openat(P, AT_FDCWD, "/lib/ld.so", O_RDONLY | O_CLOEXEC, 0)
        .unwrap() as i32;
    let before = k.phys.nr_used();
    let old = k.mm_id(P).unwrap();
    exec(&mut k, "/bin/static", &["s"], &[]).unwrap();
    assert_ne!(k.mm_id(P).unwrap(), old);
    assert!(k.mms.get(&old).is_none_or(|m| m.vmas.is_empty()), "old mm torn down");
    let files = &k.task(P).unwrap().files;
    assert!(files.get(f).is_some());
    assert!(files.get(g).is_none());
    k.check_all_page_invariants().unwrap();
    // The two anonymous pages went back; the new image holds a few stack and data pages.
    assert!(k.phys.nr_used() < before + 16);
}

#[test]
fn header_errors_are_enoexec_with_a_reason() {
    let good = static_exec();
    let mut bad_type = good.clone();
    bad_type.e_type = 1; // ET_REL
    let mut bad_machine = good.clone();
    bad_machine.machine = 40;
    let mut i386 = good.clone();
    i386.machine = 3;
    let mut bad_phentsize = good.clone();
    bad_phentsize.phentsize = 32;
    let mut no_phdrs = good.clone();
    no_phdrs.phdrs.clear();
    let mut many = good.clone();
    many.phdrs = vec![other(PT_GNU_STACK, 0, 0, 0); 74];
    let truncated: Vec<u8> = good.build()[..100].to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("magic", b"\x7fELG and then some".to_vec(), "not an ELF file"),
        ("empty", Vec::new(), "not an ELF file"),
        ("type", bad_type.build(), "e_type"),
        ("machine", bad_machine.build(), "e_machine 40"),
        ("i386", i386.build(), "ia32"),
        ("phentsize", bad_phentsize.build(), "e_phentsize"),
        ("phnum0", no_phdrs.build(), "program headers"),
        ("phnum74", many.build(), "program headers"),
        ("truncated", truncated, "program headers"),
    ];
    for (name, bytes, reason) in cases {
        let path = format!("/bin/{name}");
        let mut k = kernel(fs_with(&[(&path, bytes)]));
        let r = k.do_execve(P, &path, &strs(&["x"]), &[]);
        let e = r.expect_err(name);
        assert_eq!(e.errno(), Errno::ENOEXEC, "{name}: {e}");
        assert!(e.reason.contains(reason), "{name}: {e}");
        assert_eq!(k.last_exec_error(P), None, "do_execve does not record");
        assert!(
            k.task(P).unwrap().is_alive(),
            "{name}: failed before the point of no return"
        );
        assert_eq!(k.sys_execve(P, &path, &strs(&["x"]), &[]), Err(Errno::ENOEXEC));
        assert!(k.last_exec_error(P).unwrap().contains(reason));
    }
}

#[test]
fn interpreter_errors() {
    let mut unterminated = pie();
    unterminated.patches[0].1 = b"/lib/ld.soX".to_vec();
    type Files<'a> = Vec<(&'a str, Vec<u8>)>;
    let cases: Vec<(&str, Files, Errno)> = vec![
        ("missing", vec![("/bin/pie", pie().build())], Errno::ENOENT),
        ("unterminated", vec![("/bin/pie", unterminated.build())], Errno::ENOEXEC),
        (
            "bad magic",
            vec![
                ("/bin/pie", pie().build()),
                ("/lib/ld.so", [&b"#!/bin/sh\n"[..], &[0; 64]].concat()),
            ],
            Errno::ELIBBAD,
        ),
        (
            "short header",
            vec![("/bin/pie", pie().build()), ("/lib/ld.so", b"\x7fELF".to_vec())],
            Errno::EIO,
        ),
    ];
    for (name, files, errno) in cases {
        let mut k = kernel(fs_with(&files));
        let e = k.do_execve(P, "/bin/pie", &strs(&["p"]), &[]).expect_err(name);
        assert_eq!(e.errno(), errno, "{name}: {e}");
        assert!(k.task(P).unwrap().is_alive(), "{name}");
    }
}

#[test]
fn segment_errors_after_the_point_of_no_return_kill_the_task() {
    let mut big = static_exec();
    big.phdrs[1].p_filesz = 0x4000; // > p_memsz
    let mut misaligned = static_exec();
    misaligned.phdrs[1].p_offset = 0x1020; // not congruent with p_vaddr modulo the page size
    for (name, elf, errno) in [
        ("filesz", big, Errno::EINVAL),
        ("misaligned", misaligned, Errno::EINVAL),
    ] {
        let mut k = kernel(fs_with(&[("/bin/x", elf.build())]));
        let child = Pid(k.sys_fork(P).unwrap() as u32);
        assert_eq!(k.sys_execve(child, "/bin/x", &strs(&["x"]), &[]), Err(errno), "{name}");
        // bprm_execve: force_fatal_sig(SIGSEGV); the parent reaps a child killed by SIGSEGV.
        let (reaped, status) = k.sys_wait4(P, -1, 0).unwrap();
        assert_eq!((reaped, status & 0x7f), (child, SIGSEGV as i32), "{name}");
        k.check_all_page_invariants().unwrap();
    }
}

#[test]
fn vfork_parent_is_released_and_threads_die() {
    use crate::kernel::fork::{CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM};
    let mut k = kernel(fs_with(&[("/bin/static", static_exec().build())]));
    k.sys_mmap(P, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap();
    let parent_maps = maps(&k, P);
    let child = Pid(k.sys_vfork(P).unwrap() as u32);
    assert_eq!(k.task(P).unwrap().vfork_waiting_for, Some(child));
    k.sys_execve(child, "/bin/static", &strs(&["s"]), &[]).unwrap();
    assert_eq!(k.task(P).unwrap().vfork_waiting_for, None, "exec completes vfork_done");
    assert_eq!(maps(&k, P), parent_maps, "the parent keeps the shared mm");
    assert_ne!(k.mm_id(P).unwrap(), k.mm_id(child).unwrap());
    // A thread of the exec'ing process dies.
    let flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
    let thread = Pid(k.sys_clone(child, flags, 0, 0, 0, 0).unwrap() as u32);
    assert!(k.task(thread).is_ok_and(|t| t.is_alive()));
    k.sys_execve(child, "/bin/static", &strs(&["s"]), &[]).unwrap();
    assert!(k.task(thread).is_err() || !k.task(thread).unwrap().is_alive());
    k.check_all_page_invariants().unwrap();
}

#[test]
fn open_exec_errors() {
    let mut fs = fs_with(&[
        ("/bin/static", static_exec().build()),
        ("/bin/noexec", static_exec().build()),
        ("/bin/rw", static_exec().build()),
        ("/bin/mine", static_exec().build()),
    ]);
    fs.meta_mut("/bin/noexec").unwrap().noexec = true;
    fs.meta_mut("/bin/rw").unwrap().mode = crate::fs::S_IFREG | 0o644;
    let m = fs.meta_mut("/bin/mine").unwrap();
    m.mode = crate::fs::S_IFREG | 0o700;
    m.uid = 1000;
    let cfg = KernelConfig {
        uid: 1000,
        ..KernelConfig::default()
    };
    let mut k = kernel_cfg(fs.clone(), cfg);
    assert_eq!(exec(&mut k, "/bin/none", &["x"], &[]), Err(Errno::ENOENT));
    assert_eq!(exec(&mut k, "", &["x"], &[]), Err(Errno::ENOENT));
    assert_eq!(exec(&mut k, "/bin", &["x"], &[]), Err(Errno::EACCES));
    assert_eq!(exec(&mut k, "/dev/null", &["x"], &[]), Err(Errno::EACCES));
    assert_eq!(exec(&mut k, "/bin/noexec", &["x"], &[]), Err(Errno::EACCES));
    assert_eq!(exec(&mut k, "/bin/rw", &["x"], &[]), Err(Errno::EACCES));
    exec(&mut k, "/bin/mine", &["x"], &[]).unwrap();
    // root needs at least one exec bit, and the owner's 0o700 does not let others in.
    let mut root = kernel(fs.clone());
    assert_eq!(exec(&mut root, "/bin/rw", &["x"], &[]), Err(Errno::EACCES));
    exec(&mut root, "/bin/mine", &["x"], &[]).unwrap();
    let cfg = KernelConfig {
        uid: 1001,
        ..KernelConfig::default()
    };
    let mut other_user = kernel_cfg(fs, cfg);
    assert_eq!(exec(&mut other_user, "/bin/mine", &["x"], &[]), Err(Errno::EACCES));
}

#[test]
fn argument_limits_are_e2big() {
    let mut k = kernel(fs_with(&[("/bin/static", static_exec().build())]));
    let ok = "a".repeat(131071);
    let too_long = "a".repeat(131072);
    // Verified on this kernel: 131071 bytes + NUL pass, 131072 + NUL fail; fifteen such strings pass,
    // sixteen exceed the 2 MiB (RLIMIT_STACK / 4) total with their pointers.
    assert_eq!(
        exec(&mut k, "/bin/missing", &[&too_long], &[]),
        Err(Errno::ENOENT),
        "open first"
    );
    assert_eq!(
        exec(&mut k, "/bin/static", &["true", &too_long], &[]),
        Err(Errno::E2BIG)
    );
    assert!(k.task(P).unwrap().is_alive());
    let fifteen: Vec<&str> = std::iter::once("true").chain((0..15).map(|_| ok.as_str())).collect();
    let sixteen: Vec<&str> = std::iter::once("true").chain((0..16).map(|_| ok.as_str())).collect();
    assert_eq!(exec(&mut k, "/bin/static", &sixteen, &[]), Err(Errno::E2BIG));
    exec(&mut k, "/bin/static", &fifteen, &[]).unwrap();
    // The stack VMA holds the 2 MiB of strings plus 128 KiB.
    let m = k.mm(P).unwrap();
    assert!(m.stack_vm > 512, "{}", m.stack_vm);
    k.check_all_page_invariants().unwrap();
    // A smaller RLIMIT_STACK lowers the limit, but never below ARG_MAX (128 KiB).
    let mut k = kernel(fs_with(&[("/bin/static", static_exec().build())]));
    k.task_mut(P).unwrap().rlimits[RLIMIT_STACK].cur = 64 << 10;
    let half: String = "a".repeat(60_000);
    exec(&mut k, "/bin/static", &["x", &half, &half], &[]).unwrap();
    assert_eq!(
        exec(&mut k, "/bin/static", &["x", &half, &half, &half], &[]),
        Err(Errno::E2BIG)
    );
}

#[test]
fn empty_argv_gets_an_empty_string() {
    let mut k = kernel(fs_with(&[("/bin/static", static_exec().build())]));
    exec(&mut k, "/bin/static", &[], &["E=1"]).unwrap();
    let (argv, envp, _) = initial_stack(&mut k);
    assert_eq!(argv, [""]);
    assert_eq!(envp, ["E=1"]);
}

#[test]
fn scripts_rewrite_argv_and_nest_at_most_five_levels() {
    let mut files = vec![("/bin/static", static_exec().build())];
    files.push(("/bin/s1", b"#!/bin/static -x  \nbody\n".to_vec()));
    let names: Vec<String> = (2..=7).map(|i| format!("/bin/s{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        files.push((n.as_str(), format!("#!/bin/s{}\n", i + 1).into_bytes()));
    }
    let mut k = kernel(fs_with(&files));
    exec(&mut k, "/bin/s1", &["s1", "a", "b"], &["E=1"]).unwrap();
    let (argv, _, auxv) = initial_stack(&mut k);
    assert_eq!(argv, ["/bin/static", "-x", "/bin/s1", "a", "b"]);
    assert_eq!(cstr(&mut k, aux(&auxv, 31)), "/bin/s1", "AT_EXECFN is the script");
    assert_eq!(k.task(P).unwrap().comm, "s1");
    // Verified on this kernel: five scripts in a chain run, six are ELOOP.
    exec(&mut k, "/bin/s5", &["s5"], &[]).unwrap();
    let (argv, _, _) = initial_stack(&mut k);
    assert_eq!(
        argv,
        [
            "/bin/static",
            "-x",
            "/bin/s1",
            "/bin/s2",
            "/bin/s3",
            "/bin/s4",
            "/bin/s5"
        ]
    );
    assert_eq!(exec(&mut k, "/bin/s6", &["s6"], &[]), Err(Errno::ELOOP));
    assert!(k.task(P).unwrap().is_alive());
    let mut k = kernel(fs_with(&[("/bin/blank", b"#!   \n".to_vec())]));
    assert_eq!(exec(&mut k, "/bin/blank", &["b"], &[]), Err(Errno::ENOEXEC));
    assert!(
        k.last_exec_error(P).unwrap().contains("interpreter name"),
        "{:?}",
        k.last_exec_error(P)
    );
    let mut k = kernel(fs_with(&[("/bin/bad", b"#!/bin/nothing\n".to_vec())]));
    assert_eq!(exec(&mut k, "/bin/bad", &["bad"], &[]), Err(Errno::ENOENT));
    assert!(k.last_exec_error(P).unwrap().contains("/bin/nothing"));
}

#[test]
fn comm_is_the_basename_cut_to_15_bytes() {
    let mut k = kernel(fs_with(&[("/bin/a-very-long-program-name", static_exec().build())]));
    exec(&mut k, "/bin/a-very-long-program-name", &["x"], &[]).unwrap();
    assert_eq!(k.task(P).unwrap().comm, "a-very-long-pro");
}

#[test]
fn executable_stack_from_pt_gnu_stack() {
    let mut e = static_exec();
    e.phdrs[2].p_flags = PF_R | PF_W | PF_X;
    let mut k = kernel(fs_with(&[("/bin/x", e.build())]));
    exec(&mut k, "/bin/x", &["x"], &[]).unwrap();
    let m = k.mm(P).unwrap();
    let stack = m.vma_at(crate::VirtAddr(m.start_stack)).unwrap();
    assert!(stack
        .flags
        .contains(VmFlags::EXEC | VmFlags::GROWSDOWN | VmFlags::ACCOUNT));
}

fn layout_with(cfg: KernelConfig, personality: u32) -> (String, u64, [u8; 16]) {
    let fs = fs_with(&[("/bin/pie", pie().build()), ("/lib/ld.so", ld_so().build())]);
    let mut k = kernel_cfg(fs, cfg);
    k.task_mut(P).unwrap().personality = personality;
    exec(&mut k, "/bin/pie", &["pie"], &[]).unwrap();
    let (_, _, auxv) = initial_stack(&mut k);
    let rnd = k.peek(P, aux(&auxv, 25), 16).unwrap().try_into().unwrap();
    (maps(&k, P), k.mm(P).unwrap().start_brk, rnd)
}

#[test]
fn aslr_is_reproducible_per_seed_and_off_when_asked() {
    let cfg = |va: u32, seed: u64| KernelConfig {
        randomize_va_space: va,
        seed,
        ..KernelConfig::default()
    };
    let a = layout_with(cfg(2, 1), 0);
    let b = layout_with(cfg(2, 1), 0);
    let c = layout_with(cfg(2, 2), 0);
    assert_eq!(a, b, "same seed, same layout and AT_RANDOM bytes");
    assert_ne!(a.0, c.0, "another seed, another layout");
    assert_ne!(a.2, c.2);
    let off = layout_with(cfg(0, 1), 0);
    let off2 = layout_with(cfg(0, 2), 0);
    assert_eq!(
        off.0, off2.0,
        "no randomization: the seed does not matter for the layout"
    );
    assert_ne!(off.2, off2.2, "but AT_RANDOM still comes from the seed");
    assert!(off.0.starts_with("555555554000-"));
    let pers = layout_with(cfg(2, 1), crate::arch::aslr::ADDR_NO_RANDOMIZE);
    assert_eq!(pers.0, off.0, "ADDR_NO_RANDOMIZE");
    // randomize_va_space 1: mmap, stack and PIE randomized, brk right after the bss.
    let one = layout_with(cfg(1, 1), 0);
    let first = one.0.lines().next().unwrap().split('-').next().unwrap();
    let base = u64::from_str_radix(first, 16).unwrap();
    assert_ne!(base, 0x5555_5555_4000);
    assert_eq!(
        one.1,
        base + 0x3000,
        "brk follows the data segment with randomize_va_space 1"
    );
    let two = layout_with(cfg(2, 1), 0);
    let first = two.0.lines().next().unwrap().split('-').next().unwrap();
    let base = u64::from_str_radix(first, 16).unwrap();
    assert!(
        two.1 >= base + 0x4000 && two.1 < base + 0x4000 + (1 << 30),
        "brk randomized in 1 GiB"
    );
    // The PIE base has 28 bits of page entropy above ELF_ET_DYN_BASE.
    assert!((0x5555_5555_4000..0x5555_5555_4000 + (1u64 << 40)).contains(&base));
}

#[test]
fn pid1_without_exec_keeps_the_empty_layout() {
    let k = kernel(MemFs::new());
    // Only the gate line: no VMA at all.
    assert_eq!(maps(&k, P).lines().count(), 1);
    assert_eq!(k.mm(P).unwrap().mmap_base, 0x7fff_f7ff_f000);
}

/// Mutated images never panic: every outcome is Ok or an errno.
#[test]
fn corrupt_images_never_panic() {
    let images = [static_exec().build(), pie().build(), ld_so().build()];
    let mut rng = crate::random::KernelRng::new(77);
    for round in 0..300 {
        let mut img = images[round % 3].clone();
        let flips = 1 + rng.get_random_u32_below(8);
        for _ in 0..flips {
            let at = rng.get_random_u32_below(400.min(img.len() as u32)) as usize;
            img[at] = rng.get_random_u32() as u8;
        }
        if round % 7 == 0 {
            img.truncate(rng.get_random_u32_below(img.len() as u32) as usize);
        }
        let fs = fs_with(&[("/bin/x", img), ("/lib/ld.so", ld_so().build())]);
        let mut k = kernel(fs);
        let _ = k.do_execve(P, "/bin/x", &strs(&["x"]), &[]);
        k.check_all_page_invariants().unwrap();
    }
}

#[test]
fn i386_static_program_in_the_3gib_layout() {
    let mut e = static_exec();
    for p in e.phdrs.iter_mut().filter(|p| p.p_type == PT_LOAD) {
        p.p_vaddr += 0x0804_8000 - 0x40_0000;
    }
    e.entry = 0x0804_8100;
    let cfg = KernelConfig {
        arch: crate::arch::Arch::I386,
        ..KernelConfig::default()
    };
    let mut k = kernel_cfg(
        fs_with(&[("/bin/s32", e.build32()), ("/bin/s64", static_exec().build())]),
        cfg,
    );
    // A 64-bit program is refused by the i386 loader.
    assert_eq!(exec(&mut k, "/bin/s64", &["x"], &[]), Err(Errno::ENOEXEC));
    exec(&mut k, "/bin/s32", &["s32", "a"], &["E=1"]).unwrap();
    let text = maps(&k, P);
    let starts: Vec<&str> = text.lines().map(|l| &l[..26]).collect();
    assert_eq!(
        starts,
        [
            "08048000-08049000 r-xp 000",
            "08049000-0804a000 rw-p 000",
            "0804a000-0804d000 rw-p 000",
            // mmap_base = 3 GiB - 128 MiB; the vDSO's 8 pages end there.
            "b7ff8000-b7ffc000 r--p 000",
            "b7ffc000-b7ffe000 r--p 000",
            "b7ffe000-b8000000 r-xp 000",
            "bffdf000-c0000000 rw-p 000",
        ],
        "{text}"
    );
    assert!(
        text.lines().last().unwrap().ends_with("[stack]"),
        "no [vsyscall] gate on i386"
    );
    // 4-byte words: argc, argv, envp and an auxv starting with AT_SYSINFO, AT_SYSINFO_EHDR.
    let sp = k.mm(P).unwrap().start_stack;
    assert_eq!(sp % 16, 0);
    let words: Vec<u32> = k
        .peek(P, sp, 64 * 4)
        .unwrap()
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(words[0], 2);
    assert_eq!(cstr(&mut k, u64::from(words[1])), "s32");
    assert_eq!(words[3], 0);
    assert_eq!(cstr(&mut k, u64::from(words[4])), "E=1");
    assert_eq!(words[5], 0);
    assert_eq!((words[6], words[8], words[9]), (32, 33, 0xb7ff_e000));
    let auxv: Vec<(u32, u32)> = words[6..].chunks(2).map(|c| (c[0], c[1])).collect();
    let get = |key: u32| auxv.iter().find(|(k, _)| *k == key).map(|&(_, v)| v).unwrap();
    assert_eq!(get(4), 32, "AT_PHENT of ELFCLASS32");
    assert_eq!(get(3), 0x0804_8034, "AT_PHDR");
    assert_eq!(cstr(&mut k, u64::from(get(15))), "i686");
    assert_eq!(k.mm(P).unwrap().start_brk, 0x0804_d000);
    k.check_all_page_invariants().unwrap();
}

#[test]
fn la57_keeps_the_47_bit_layout() {
    let run = |arch| {
        let cfg = KernelConfig {
            arch,
            ..KernelConfig::default()
        };
        let fs = fs_with(&[("/bin/pie", pie().build()), ("/lib/ld.so", ld_so().build())]);
        let mut k = kernel_cfg(fs, cfg);
        exec(&mut k, "/bin/pie", &["pie"], &["E=1"]).unwrap();
        let sp = k.mm(P).unwrap().start_stack;
        (maps(&k, P), sp)
    };
    // STACK_TOP and the mmap window stay at 47 bits without a high hint (only STACK_TOP_MAX differs).
    assert_eq!(run(crate::arch::Arch::X86_64La57), run(crate::arch::Arch::X86_64));
}

#[test]
fn a_thread_that_execs_takes_over_the_leaders_pid() {
    use crate::kernel::fork::{CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM};
    let mut k = kernel(fs_with(&[("/bin/static", static_exec().build())]));
    let c = Pid(k.sys_fork(P).unwrap() as u32);
    let g = Pid(k.sys_fork(c).unwrap() as u32);
    let flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
    let t1 = Pid(k.sys_clone(c, flags, 0, 0, 0, 0).unwrap() as u32);
    let t2 = Pid(k.sys_clone(c, flags, 0, 0, 0, 0).unwrap() as u32);
    let old_mm = k.mm_id(c).unwrap();
    k.sys_execve(t2, "/bin/static", &strs(&["s"]), &[]).unwrap();
    // t2 now is the process c; t1 and the old thread t2 are gone.
    assert!(k.task(t2).is_err() && k.task(t1).is_err_or_dead());
    let me = k.task(c).unwrap();
    assert!(me.is_alive());
    assert_eq!((me.pid, me.tgid, me.real_parent), (c, c, P));
    assert_eq!(me.threads, vec![c]);
    assert_eq!(me.comm, "static");
    assert_ne!(k.mm_id(c).unwrap(), old_mm);
    assert_eq!(
        k.task(g).unwrap().real_parent,
        c,
        "the leader's child stays with the process"
    );
    assert!(k.task(P).unwrap().children.contains(&c));
    // The parent was not told anything: nothing to reap until c really exits.
    assert_eq!(k.sys_wait4(P, -1, crate::kernel::exit::WNOHANG).unwrap(), (Pid(0), 0));
    k.sys_exit_group(c, 3).unwrap();
    assert_eq!(k.sys_wait4(P, c.0 as i64, 0).unwrap(), (c, 3 << 8));
    k.check_all_page_invariants().unwrap();
}

trait DeadOrGone {
    fn is_err_or_dead(&self) -> bool;
}

impl DeadOrGone for Result<&crate::task::Task, Errno> {
    fn is_err_or_dead(&self) -> bool {
        self.as_ref().map_or(true, |t| !t.is_alive())
    }
}

#[test]
fn no_pt_load_still_execs() {
    // Verified on this kernel: an ELF without PT_LOAD execs (execve returns 0) and dies at its entry point;
    // only the stack and the vDSO are mapped.
    for e_type in [ET_EXEC, ET_DYN] {
        let e = Elf::new(e_type, vec![other(PT_GNU_STACK, PF_R | PF_W, 0, 0)], 0x1000);
        let mut k = kernel(fs_with(&[("/bin/x", e.build())]));
        exec(&mut k, "/bin/x", &["x"], &[]).unwrap();
        let text = maps(&k, P);
        assert_eq!(
            text.lines().count(),
            5,
            "vvar, vvar_vclock, vdso, stack, vsyscall:\n{text}"
        );
        let (_, _, auxv) = initial_stack(&mut k);
        assert_eq!(aux(&auxv, 9), 0x400100);
        assert_eq!(
            k.access(P, 0x400100, 1, crate::kernel::AccessKind::Exec)
                .unwrap_err()
                .signo,
            SIGSEGV
        );
    }
}

/// The range of the VMA named `name` in the maps of `pid`.
fn vma_named(k: &Kernel, pid: Pid, name: &str) -> (u64, u64) {
    let m = maps(k, pid);
    let l = m.lines().find(|l| l.ends_with(&format!(" {name}"))).unwrap();
    let (a, b) = l.split_once(' ').unwrap().0.split_once('-').unwrap();
    (u64::from_str_radix(a, 16).unwrap(), u64::from_str_radix(b, 16).unwrap())
}

#[test]
fn vdso_pages_are_shared_file_pages_and_vvar_pages_raw_pfns() {
    let fs = fs_with(&[("/bin/static", static_exec().build())]);
    let mut k = kernel(fs);
    exec(&mut k, "/bin/static", &["s"], &[]).unwrap();
    let (vdso, vdso_end) = vma_named(&k, P, "[vdso]");
    let (vvar, _) = vma_named(&k, P, "[vvar]");
    let file_before = k.mm(P).unwrap().rss[crate::mm::RssCounter::FilePages as usize];
    assert_eq!(
        k.peek(P, vdso, vdso_end - vdso).unwrap(),
        vec![0; (vdso_end - vdso) as usize]
    );
    assert_eq!(k.peek(P, vvar, 8).unwrap(), vec![0; 8]);
    let m = k.mm(P).unwrap();
    // The two image pages count as file pages; the vvar PFN mapping counts nowhere.
    assert_eq!(m.rss[crate::mm::RssCounter::FilePages as usize], file_before + 2);
    k.check_all_page_invariants().unwrap();
    // A second process maps the same image pages (one frame each, mapped twice).
    let child = k.sys_fork(P).unwrap() as u32;
    let child = Pid(child);
    exec(&mut k, "/bin/static", &["s"], &[]).unwrap();
    let (cv, _) = vma_named(&k, child, "[vdso]");
    k.peek(child, cv, 1).unwrap();
    let (pv, _) = vma_named(&k, P, "[vdso]");
    k.peek(P, pv, 1).unwrap();
    let pa = k.pte_at(k.mm_id(P).unwrap(), crate::VirtAddr(pv)).pfn(k.cfg.arch);
    let ca = k.pte_at(k.mm_id(child).unwrap(), crate::VirtAddr(cv)).pfn(k.cfg.arch);
    assert_eq!(pa, ca);
    assert_eq!(k.phys.page(crate::addr::Pfn(pa)).mapcount, 2);
    k.check_all_page_invariants().unwrap();
    // The timens page of [vvar] does not exist: SIGBUS.
    let (vvar, _) = vma_named(&k, P, "[vvar]");
    assert_eq!(k.peek(P, vvar + 4096, 1).unwrap_err().signo, SIGBUS);
}

#[test]
fn i386_program_without_pt_gnu_stack_reads_implies_exec() {
    let mut e = static_exec();
    e.phdrs.retain(|p| p.p_type != PT_GNU_STACK);
    for p in e.phdrs.iter_mut().filter(|p| p.p_type == PT_LOAD) {
        p.p_vaddr += 0x0804_8000 - 0x40_0000;
    }
    e.entry = 0x0804_8100;
    let cfg = KernelConfig {
        arch: crate::arch::Arch::I386,
        ..KernelConfig::default()
    };
    let mut k = kernel_cfg(fs_with(&[("/bin/s32", e.build32())]), cfg);
    exec(&mut k, "/bin/s32", &["s32"], &[]).unwrap();
    assert_ne!(k.task(P).unwrap().personality & crate::arch::aslr::READ_IMPLIES_EXEC, 0);
    let text = maps(&k, P);
    let perms: Vec<&str> = text.lines().map(|l| &l[18..22]).collect();
    // Data, bss and stack are executable; the vDSO's data pages are not mapped through mmap.
    assert_eq!(
        perms,
        ["r-xp", "rwxp", "rwxp", "r--p", "r--p", "r-xp", "rwxp"],
        "{text}"
    );
    // An anonymous PROT_READ mapping is executable too.
    let a = k
        .sys_mmap(P, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap();
    assert!(k
        .mm(P)
        .unwrap()
        .vmas
        .lookup(crate::VirtAddr(a))
        .unwrap()
        .flags
        .contains(VmFlags::EXEC));
}

#[test]
fn mmap_page_zero_maps_page_zero_for_root_only() {
    for (uid, mapped) in [(0, true), (1000, false)] {
        let mut k = kernel(fs_with(&[("/bin/static", static_exec().build())]));
        let t = k.task_mut(P).unwrap();
        t.cred = crate::task::Cred::for_uid(uid);
        t.personality = crate::arch::aslr::MMAP_PAGE_ZERO;
        exec(&mut k, "/bin/static", &["s"], &[]).unwrap();
        let text = maps(&k, P);
        assert_eq!(
            text.starts_with("00000000-00001000 r-xp 00000000 00:00 0 "),
            mapped,
            "{text}"
        );
        // Without set-id the personality survives the exec.
        assert_eq!(k.task(P).unwrap().personality, crate::arch::aslr::MMAP_PAGE_ZERO);
    }
}

#[test]
fn a_truncated_elf_header_says_so() {
    let mut k = kernel(fs_with(&[("/bin/short", b"\x7fELF\x02\x01\x01".to_vec())]));
    let e = k.do_execve(P, "/bin/short", &strs(&["s"]), &[]).unwrap_err();
    assert_eq!(e.errno, Errno::ENOEXEC);
    assert!(
        e.reason.starts_with("7 bytes is shorter than an ELF header (64)"),
        "{}",
        e.reason
    );
}

#[test]
fn exec_permission_uses_the_fs_ids_and_supplementary_groups() {
    let mut fs = fs_with(&[("/bin/g", static_exec().build())]);
    let m = fs.meta_mut("/bin/g").unwrap();
    m.mode = crate::fs::S_IFREG | 0o710;
    m.uid = 5;
    m.gid = 42;
    let mut k = kernel(fs);
    let t = k.task_mut(P).unwrap();
    t.cred = crate::task::Cred::for_uid(1000);
    assert_eq!(exec(&mut k, "/bin/g", &["g"], &[]), Err(Errno::EACCES));
    k.task_mut(P).unwrap().cred.groups = vec![7, 42];
    exec(&mut k, "/bin/g", &["g"], &[]).unwrap();
    // The owner's bits apply to the fsuid, not the euid.
    let t = k.task_mut(P).unwrap();
    t.cred.groups.clear();
    t.cred.euid = 5;
    assert_eq!(exec(&mut k, "/bin/g", &["g"], &[]), Err(Errno::EACCES));
    k.task_mut(P).unwrap().cred.fsuid = 5;
    exec(&mut k, "/bin/g", &["g"], &[]).unwrap();
}

#[test]
fn total_mapping_size_spans_lowest_to_highest_in_any_table_order() {
    // fs/binfmt_elf.c total_mapping_size (5.18+): min page start to max end over all PT_LOADs. In table order
    // (the old formula) a reversed table wraps, and a trailing empty PT_LOAD at 0 spans nothing.
    use crate::fs::binfmt_elf::total_mapping_size;
    let sorted = ld_so().phdrs;
    let mut reversed = sorted.clone();
    reversed.reverse();
    assert_eq!(total_mapping_size(&sorted), 0x5000);
    assert_eq!(total_mapping_size(&reversed), 0x5000);
    let mut trailing = sorted.clone();
    trailing.push(load(0, 0, 0, 0, PF_R));
    assert_eq!(total_mapping_size(&trailing), 0x5000);
    // And such a program execs, as it does on the kernel (an audit found execve = 0 for that shape).
    let mut e = ld_so();
    e.phdrs = trailing;
    let fs = fs_with(&[("/lib/ld.so", e.build())]);
    let mut k = kernel(fs);
    exec(&mut k, "/lib/ld.so", &["ld.so"], &[]).unwrap();
}
