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
    let seed = machine.seed;
    set_seed(&mut machine.cfg, seed);
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
        eprintln!("memsim: execve {}: {} ({})", path.display(), e.name(), e.strerror());
        return ExitCode::from(1);
    }
    match render(&k, &path) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("memsim: {e}");
            ExitCode::from(1)
        }
    }
}

/// `KernelConfig::seed`, once the configuration has one.
fn set_seed(_cfg: &mut memsim_core::KernelConfig, _seed: u64) {}

/// The model's `execve` of PID 1.
fn model_execve(_k: &mut Kernel, _path: &Path, _argv: &[Vec<u8>], _envp: &[Vec<u8>]) -> Result<(), Errno> {
    Err(Errno::ENOSYS)
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

/// The process's segment that a section belongs to, in the seed's terms.
fn segment_of(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Text => "text",
        SectionKind::UninitializedData | SectionKind::Common => "bss",
        SectionKind::Tls | SectionKind::UninitializedTls | SectionKind::TlsVariables => "tls",
        SectionKind::Data => "data",
        _ => "rodata",
    }
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
    let mut out = String::new();
    let row = |out: &mut String, name: &str, v: Option<u64>| {
        let _ = match v {
            Some(v) => writeln!(out, "    {name:<10} {v:#x}"),
            None => writeln!(out, "    {name:<10} (not in the symbol table)"),
        };
    };
    out.push_str("Next byte past:\n");
    row(&mut out, "etext", find("etext").or_else(|| find("_etext")));
    row(&mut out, "edata", find("edata").or_else(|| find("_edata")));
    row(&mut out, "end", find("end").or_else(|| find("_end")));
    out.push_str("Program Break:\n");
    row(&mut out, "brk", Some(mm.brk));

    // Named objects, by address.
    let mut objects: Vec<(u64, String, &'static str, String)> = symbols
        .iter()
        .filter(|s| s.kind() == SymbolKind::Data && !s.is_undefined())
        .filter_map(|s| {
            let name = s.name().ok()?.to_string();
            let sec = s.section_index().and_then(|i| file.section_by_index(i).ok());
            let (seg, sname) = match &sec {
                Some(sec) => (segment_of(sec.kind()), sec.name().unwrap_or("?").to_string()),
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
    for (addr, name, seg, sname) in &objects {
        let vma = if *seg == "tls" {
            "(offset in the thread-local storage block)".to_string()
        } else {
            maps.iter()
                .find(|m| (m.start..m.end).contains(addr))
                .map(|m| format!("{:x}-{:x} {} {}", m.start, m.end, m.perms, m.path))
                .unwrap_or_else(|| "(not mapped)".to_string())
        };
        let _ = writeln!(out, "    {name:<10} {addr:#x}  {seg:<6} {sname:<14} {}", vma.trim_end());
    }

    out.push_str("Segments (mm_struct):\n");
    let end_sym = find("end").or_else(|| find("_end"));
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
