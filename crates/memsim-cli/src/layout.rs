//! `memsim layout`: load a real ELF program into the model with `execve` and print the first seed article's
//! table (where text, initialized data and bss end, and the initial program break), where each of the
//! program's named objects lies, and the address space after exec.
//!
//! The symbol values come from the program's own symbol table (read from the host file with the `object`
//! crate); for a position-independent program they are moved by the load bias the model chose, which is
//! read back from the model's mapping of the file. With `--aslr 0` the first part is, line for line, what
//! `examples/seed_layout.c` prints about itself when run with ASLR off (`setarch -R`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionKind, SymbolKind};

use memsim_core::kernel::INIT_PID;
use memsim_core::{Errno, Kernel};
use memsim_scenario::HostFs;

use crate::machine::MachineArgs;

pub const LAYOUT_HELP: &str = "\
The first part is the seed article's table, from the program's symbol table (etext, edata, end) and the
model's initial program break; then each named object (OBJECT symbol) with the segment and mapping it lies
in, the mm_struct boundaries, and /proc/1/maps after execve. PROGRAM is searched in $PATH when it has no `/`;
`#!` scripts are followed to their interpreter for the symbol table. The environment is fixed:
PATH=/usr/bin:/bin HOME=/ LANG=C TERM=dumb.

Example:
  gcc -no-pie -o seed examples/seed_layout.c
  memsim layout --aslr 0 ./seed        the same etext/edata/end/brk and object addresses as `setarch -R ./seed`
  memsim layout --aslr 2 --seed 7 /usr/bin/cat /dev/null
                                       a randomized (but reproducible) layout

memsim does not run the program: a local variable or a malloc'ed block (the seed's `g` and `p`) exists only
once it runs, in the [stack] mapping and above the initial break shown here.
A static program's own `sbrk(0)` differs from the initial break shown here: its C library takes memory with
brk for thread-local storage before main runs.";

#[derive(clap::Args, Debug)]
pub struct LayoutArgs {
    /// The machine, with `--aslr` and `--seed`.
    #[command(flatten)]
    pub machine: MachineArgs,
    /// The program to load (a path, or a name looked up in $PATH).
    pub program: String,
    /// Its arguments (argv[1..]; argv[0] is PROGRAM as given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// The environment the program gets.
pub const ENVP: [&str; 4] = ["PATH=/usr/bin:/bin", "HOME=/", "LANG=C", "TERM=dumb"];

pub fn run(a: &LayoutArgs) -> ExitCode {
    let mut machine = match a.machine.to_machine() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("memsim: {e}");
            return ExitCode::from(2);
        }
    };
    // The kernel's generator is seeded from the configuration.
    machine.cfg.seed = machine.seed;
    let path = match resolve(&a.program) {
        Some(p) => p,
        None => {
            eprintln!("memsim: {}: not found in $PATH", a.program);
            return ExitCode::from(1);
        }
    };
    let mut argv: Vec<Vec<u8>> = vec![a.program.as_bytes().to_vec()];
    argv.extend(a.args.iter().map(|s| s.as_bytes().to_vec()));
    let envp: Vec<Vec<u8>> = ENVP.iter().map(|s| s.as_bytes().to_vec()).collect();
    let mut k = machine.build(Box::new(HostFs::new()));
    if let Err(e) = model_execve(&mut k, &path, &argv, &envp) {
        let why = k
            .last_exec_error(INIT_PID)
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        eprintln!(
            "memsim: execve {}: {} ({}){why}",
            path.display(),
            e.name(),
            e.strerror()
        );
        return ExitCode::from(1);
    }
    match render(&k, &path) {
        Ok(text) => {
            use std::io::Write;
            // A closed pipe (`memsim layout ... | head`) is not an error worth a message.
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("memsim: writing output: {e}");
                    ExitCode::from(2)
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("memsim: {e}");
            ExitCode::from(1)
        }
    }
}

/// The model's `execve` of PID 1.
fn model_execve(k: &mut Kernel, path: &Path, argv: &[Vec<u8>], envp: &[Vec<u8>]) -> Result<(), Errno> {
    k.sys_execve(INIT_PID, &path.to_string_lossy(), argv, envp).map(|_| ())
}

/// An absolute host path for PROGRAM: as given when it contains a `/` (relative to the current directory:
/// the model's own working directory is `/`), else the first executable match in $PATH, as `execvp` does.
fn resolve(program: &str) -> Option<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    if program.contains('/') {
        return Some(cwd.join(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| cwd.join(d).join(program))
        .find(|p| p.is_file())
}

/// One line of `/proc/PID/maps`.
#[derive(Clone, Debug)]
struct MapsLine {
    start: u64,
    end: u64,
    perms: String,
    offset: u64,
    path: String,
    text: String,
}

fn parse_maps(text: &str) -> Vec<MapsLine> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (s, e) = f.next()?.split_once('-')?;
            let perms = f.next()?.to_string();
            let offset = u64::from_str_radix(f.next()?, 16).ok()?;
            let (_dev, _ino) = (f.next()?, f.next()?);
            let path = f.collect::<Vec<_>>().join(" ");
            Some(MapsLine {
                start: u64::from_str_radix(s, 16).ok()?,
                end: u64::from_str_radix(e, 16).ok()?,
                perms,
                offset,
                path,
                text: l.to_string(),
            })
        })
        .collect()
}

/// The ELF whose symbols describe the process: the program, or a `#!` script's interpreter (one level, as
/// the model's own exec follows it further if needed).
fn elf_of(path: &Path) -> Result<(PathBuf, Vec<u8>), String> {
    let mut p = path.to_path_buf();
    for _ in 0..5 {
        let data = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        if let Some(rest) = data.strip_prefix(b"#!") {
            // fs/binfmt_script.c: the interpreter is the first word of the first line.
            let line = rest.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let line = String::from_utf8_lossy(line);
            let interp = line
                .split_whitespace()
                .next()
                .ok_or("a `#!` line without an interpreter")?;
            p = PathBuf::from(interp);
            continue;
        }
        return Ok((p, data));
    }
    Err(format!("{}: too many levels of `#!` interpreters", path.display()))
}

/// The process's segment that a section belongs to, in the seed's terms: executable sections are text,
/// `SHT_NOBITS` is bss, other writable sections (`.data`, `.got`, `.init_array`, `.dynamic`...) are data, the
/// rest is read-only data (which the seed counts as text: "the string Hello World!!! is stored in the text
/// segment").
fn segment_of(sec: &object::Section) -> &'static str {
    let sh_flags = match sec.flags() {
        object::SectionFlags::Elf { sh_flags } => sh_flags,
        _ => 0,
    };
    let tls = sh_flags & u64::from(object::elf::SHF_TLS) != 0;
    let nobits = matches!(
        sec.kind(),
        SectionKind::UninitializedData | SectionKind::UninitializedTls | SectionKind::Common
    );
    if tls {
        "tls"
    } else if sh_flags & u64::from(object::elf::SHF_EXECINSTR) != 0 {
        "text"
    } else if nobits {
        "bss"
    } else if sh_flags & u64::from(object::elf::SHF_WRITE) != 0 {
        "data"
    } else {
        "rodata"
    }
}

/// `etext`, `edata`, `end` as GNU ld's default script defines them, from the section headers, for a program
/// without those symbols (a stripped one): the end of the last executable section (`.fini`), of the last
/// initialized writable section (`.data`), and of the last allocated writable one (`.bss`) rounded up to 8.
fn marks_from_sections(file: &object::File) -> [Option<u64>; 3] {
    let mut marks = [None::<u64>; 3];
    for sec in file.sections() {
        let sh_flags = match sec.flags() {
            object::SectionFlags::Elf { sh_flags } => sh_flags,
            _ => continue,
        };
        let has = |f: u32| sh_flags & u64::from(f) != 0;
        if !has(object::elf::SHF_ALLOC) || has(object::elf::SHF_TLS) {
            continue;
        }
        let end = sec.address() + sec.size();
        let bump = |m: &mut Option<u64>| *m = Some(m.map_or(end, |v| v.max(end)));
        if has(object::elf::SHF_EXECINSTR) {
            bump(&mut marks[0]);
        }
        if has(object::elf::SHF_WRITE) {
            if sec.kind() != SectionKind::UninitializedData {
                bump(&mut marks[1]);
            }
            bump(&mut marks[2]);
        }
    }
    marks[2] = marks[2].map(|e| (e + 7) & !7);
    marks
}

fn render(k: &Kernel, path: &Path) -> Result<String, String> {
    let maps_bytes = k
        .proc_read(INIT_PID, "maps")
        .map_err(|e| format!("/proc/1/maps: {e}"))?;
    let maps_text = String::from_utf8_lossy(&maps_bytes).into_owned();
    let maps = parse_maps(&maps_text);
    let mm = k.mm(INIT_PID).map_err(|e| format!("the mm of PID 1: {e}"))?;
    let (elf_path, data) = elf_of(path)?;
    let file = object::File::parse(&*data).map_err(|e| format!("{}: not an ELF file: {e}", elf_path.display()))?;
    let canon = std::fs::canonicalize(&elf_path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();

    // The load bias: where the model mapped the lowest PT_LOAD (binfmt_elf.c maps it at
    // ELF_PAGESTART(p_vaddr + bias) from file offset ELF_PAGESTART(p_offset)).
    let bias = match file.kind() {
        object::ObjectKind::Executable => 0,
        _ => {
            let first = file
                .segments()
                .min_by_key(|s| s.address())
                .ok_or_else(|| format!("{}: no PT_LOAD segment", elf_path.display()))?;
            let page_vaddr = first.address() & !0xfff;
            let page_off = first.file_range().0 & !0xfff;
            maps.iter()
                .filter(|m| m.path == canon && m.offset == page_off)
                .map(|m| m.start)
                .min()
                .map(|start| start.wrapping_sub(page_vaddr))
                .ok_or_else(|| format!("the model has not mapped {canon}"))?
        }
    };

    let symbols: Vec<object::Symbol> = if file.symbols().next().is_some() {
        file.symbols().collect()
    } else {
        file.dynamic_symbols().collect()
    };
    let find = |name: &str| {
        symbols
            .iter()
            .find(|s| s.name() == Ok(name) && !s.is_undefined())
            .map(|s| s.address().wrapping_add(bias))
    };
    let derived = marks_from_sections(&file);
    let mut out = String::new();
    let row = |out: &mut String, name: &str, sym: Option<u64>, derived: Option<u64>| {
        let _ = match (sym, derived) {
            (Some(v), _) => writeln!(out, "    {name:<10} {v:#x}"),
            (None, Some(v)) => writeln!(
                out,
                "    {name:<10} {:#x} (no symbol: from the section headers)",
                v.wrapping_add(bias)
            ),
            (None, None) => writeln!(out, "    {name:<10} (not in the symbol table)"),
        };
    };
    out.push_str("Next byte past:\n");
    row(&mut out, "etext", find("etext").or_else(|| find("_etext")), derived[0]);
    row(&mut out, "edata", find("edata").or_else(|| find("_edata")), derived[1]);
    row(&mut out, "end", find("end").or_else(|| find("_end")), derived[2]);
    out.push_str("Program Break:\n");
    row(&mut out, "brk", Some(mm.brk), None);

    // Named objects, by address.
    let mut objects: Vec<(u64, String, &'static str, String)> = symbols
        .iter()
        .filter(|s| s.kind() == SymbolKind::Data && !s.is_undefined())
        .filter_map(|s| {
            let name = s.name().ok()?.to_string();
            let sec = s.section_index().and_then(|i| file.section_by_index(i).ok());
            let (seg, sname) = match &sec {
                Some(sec) => (segment_of(sec), sec.name().unwrap_or("?").to_string()),
                None => ("abs", String::new()),
            };
            // A thread-local symbol's value is an offset in the TLS block, not an address.
            let addr = if seg == "tls" {
                s.address()
            } else {
                s.address().wrapping_add(bias)
            };
            Some((addr, name, seg, sname))
        })
        .collect();
    objects.sort();
    let _ = writeln!(out, "Objects ({}):", elf_path.display());
    let width = objects.iter().map(|o| o.1.len()).max().unwrap_or(0).max(10);
    let swidth = objects.iter().map(|o| o.3.len()).max().unwrap_or(0);
    for (addr, name, seg, sname) in &objects {
        let vma = if *seg == "tls" {
            "(offset in the thread-local storage block)".to_string()
        } else {
            maps.iter()
                .find(|m| (m.start..m.end).contains(addr))
                .map(|m| format!("{:x}-{:x} {} {}", m.start, m.end, m.perms, m.path))
                .unwrap_or_else(|| "(not mapped)".to_string())
        };
        let _ = writeln!(
            out,
            "    {name:<width$} {addr:#x}  {seg:<6} {sname:<swidth$}  {}",
            vma.trim_end()
        );
    }

    out.push_str("Segments (mm_struct):\n");
    let end_sym = find("end")
        .or_else(|| find("_end"))
        .or_else(|| derived[2].map(|e| e.wrapping_add(bias)));
    let stack = maps.iter().find(|m| m.path == "[stack]");
    let seg_rows: [(&str, u64, u64); 6] = [
        ("text", mm.start_code, mm.end_code),
        ("data", mm.start_data, mm.end_data),
        ("bss", mm.end_data, end_sym.unwrap_or(mm.end_data).max(mm.end_data)),
        ("heap", mm.start_brk, mm.brk),
        ("args", mm.arg_start, mm.arg_end),
        ("env", mm.env_start, mm.env_end),
    ];
    for (name, lo, hi) in seg_rows {
        let _ = writeln!(out, "    {name:<10} {lo:#x}-{hi:#x}");
    }
    if let Some(s) = stack {
        let _ = writeln!(
            out,
            "    {:<10} {:#x}-{:#x} (stack pointer {:#x})",
            "stack", s.start, s.end, mm.start_stack
        );
    }
    out.push_str("Address space after execve (/proc/1/maps):\n");
    for m in &maps {
        out.push_str(&m.text);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_keep_paths_with_spaces() {
        let t = "555555554000-555555556000 r--p 00002000 fe:00 247030                     /tmp/a b\n\
                 7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n";
        let m = parse_maps(t);
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].start, m[0].end, m[0].offset),
            (0x555555554000, 0x555555556000, 0x2000)
        );
        assert_eq!((m[0].perms.as_str(), m[0].path.as_str()), ("r--p", "/tmp/a b"));
        assert_eq!(m[1].path, "[stack]");
        assert_eq!(m[1].text, t.lines().nth(1).unwrap());
    }

    #[test]
    fn a_script_is_followed_to_its_interpreter() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("memsim-layout-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inner = dir.join("inner");
        let outer = dir.join("outer");
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        std::fs::write(&inner, format!("#!{} -e\nexit 0\n", sh.display())).unwrap();
        std::fs::write(&outer, format!("#!{}\n", inner.display())).unwrap();
        for f in [&inner, &outer] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let (p, data) = elf_of(&outer).unwrap();
        assert_eq!(p, sh);
        assert_eq!(&data[..4], b"\x7fELF");
        std::fs::write(&outer, "#!\n").unwrap();
        assert!(elf_of(&outer).unwrap_err().contains("without an interpreter"));
        std::fs::write(&outer, format!("#!{}\n", outer.display())).unwrap();
        assert!(elf_of(&outer).unwrap_err().contains("too many levels"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn programs_are_found_like_execvp() {
        let sh = resolve("sh").expect("sh is in $PATH");
        assert!(sh.is_absolute() && sh.ends_with("sh"));
        let rel = resolve("./x").unwrap();
        assert_eq!(rel, std::env::current_dir().unwrap().join("./x"));
        assert!(resolve("no-such-program-memsim").is_none());
    }

    /// Sections are classified as the segments the seed names (the marks derived from the section headers
    /// are checked against a program's symbols in tests/layout.rs, on a stripped copy).
    #[test]
    fn sections_are_classified_by_their_flags() {
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let file = object::File::parse(&*exe).unwrap();
        let text = file.section_by_name(".text").unwrap();
        assert_eq!(segment_of(&text), "text");
        if let Some(s) = file.section_by_name(".rodata") {
            assert_eq!(segment_of(&s), "rodata");
        }
        if let Some(s) = file.section_by_name(".data") {
            assert_eq!(segment_of(&s), "data");
        }
        if let Some(s) = file.section_by_name(".bss") {
            assert_eq!(segment_of(&s), "bss");
        }
        if let Some(s) = file.section_by_name(".init_array") {
            assert_eq!(segment_of(&s), "data");
        }
    }
}
