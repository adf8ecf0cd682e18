//! The `memsim` binary: argument parsing and output only; the work happens in the library crates.
//!
//! Exit status: 0 when every expectation held, 1 when one failed, 2 for a malformed scenario line or a bad
//! flag (clap's own usage errors exit 2 as well).

mod layout;
mod machine;
mod ps;
mod tour;
mod translate;

use std::io::{self, Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use memsim_scenario::ast::{LineKind, ProcPid};
use memsim_scenario::{HostFs, RunError, Runner};

use crate::machine::MachineArgs;

const EXAMPLES: &str = "\
Examples:
  memsim tour                                   a guided walk through one address space
  memsim run examples/scenarios/hello.scn       run a scenario, checking every stated result
  memsim run trace.scn --cat /proc/1/maps       ... and print the final maps
  setarch -R strace -f -y -v -e trace=%memory,%process,%file -o log sh -c 'ls / | wc -l'
  memsim run --aslr 0 log                       replay a real multi-process strace log (recorded with
                                                ASLR off), checking every result
  memsim run --keep-going --stats log           ... reporting every difference, and what was not modeled
  memsim run --rlimit CORE=unlimited --core-dir /tmp crash.scn
                                                write core.PID of a process a fault kills
  memsim run --arch i386 --ram 512M --rlimit STACK=16M:unlimited -
                                                read the scenario from standard input
  memsim translate --arch i386 --map 0x1234F000=0xAAAAA000 0x1234FFFF
                                                one address translation, level by level
  memsim layout --aslr 0 ./a.out                where a real program's segments and globals lie after execve";

#[derive(Parser, Debug)]
#[command(
    name = "memsim",
    version,
    about = "A faithful, deterministic model of how Linux represents a process and its memory",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario: strace-syntax system calls, Lackey accesses, poke/peek, signal and `cat /proc` lines.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// A guided walk through one address space: mappings, faults, splits and merges, with /proc text.
    Tour(TourArgs),
    /// Show one virtual-to-physical translation step by step: each page-table level's index, entry and flags.
    Translate(translate::TranslateArgs),
    /// Run a scenario (optional), then list the processes like `ps -eo pid,ppid,stat,vsz,rss,comm`.
    Ps(ps::PsArgs),
    /// Run a scenario (optional), then draw the process tree like `pstree -p`.
    Pstree(ps::PsArgs),
    /// Run a scenario (optional), then print one process's mappings like `pmap` (`-x`, `-d`, `-X`, `-XX`).
    Pmap(ps::PmapArgs),
    /// Load a real ELF program with execve and show where its segments and named objects lie (the seed's table).
    #[command(after_help = layout::LAYOUT_HELP)]
    Layout(layout::LayoutArgs),
}

const RUN_HELP: &str = "\
A scenario is read line by line; a result after ` = ` is an expectation memsim checks:
  mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ffd000
  mprotect(0x7ffff7ffd000, 4096, PROT_READ) = 0
   S 7ffff7ffd000,8
  --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_ACCERR, si_addr=0x7ffff7ffd000} ---
  cat /proc/self/maps

A real program's log replays as it is, every process of it: record it with ASLR off, the model's stack
limit and no controlling terminal, then replay with --aslr 0 (PIDs map to the model's through clone results):
  env -i PATH=/usr/bin:/bin setsid -w setarch -R prlimit --stack=8388608:unlimited \
      strace -f -y -v -e trace=%memory,%process,%file -o log sh -c 'ls / | wc -l'
  memsim run --aslr 0 log

Exit status: 0 when every expectation held, 1 at the first that failed (all of them with --keep-going),
2 for a malformed line or a bad flag.";

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The scenario file (`-` for standard input).
    file: String,
    /// Print /proc/PID/FILE of the final state (PID may be `self`, meaning PID 1). Repeatable.
    #[arg(long = "cat", value_name = "/proc/PID/FILE")]
    cat: Vec<String>,
    /// Report every failed expectation instead of stopping at the first.
    #[arg(long)]
    keep_going: bool,
    /// Print statistics (calls run, calls not modeled) to standard error at the end.
    #[arg(long)]
    stats: bool,
    #[command(flatten)]
    machine: MachineArgs,
}

#[derive(clap::Args, Debug)]
struct TourArgs {
    #[command(flatten)]
    machine: MachineArgs,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.cmd {
        Command::Run(a) => run(&a),
        Command::Tour(a) => match a.machine.to_machine() {
            Ok(m) => tour::tour(&m),
            Err(e) => usage_error(&e),
        },
        Command::Translate(a) => translate::run(&a),
        Command::Ps(a) => ps::ps(&a),
        Command::Pstree(a) => ps::pstree(&a),
        Command::Pmap(a) => ps::pmap(&a),
        Command::Layout(a) => layout::run(&a),
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("memsim: {msg}");
    ExitCode::from(2)
}

fn run(a: &RunArgs) -> ExitCode {
    let machine = match a.machine.to_machine() {
        Ok(m) => m,
        Err(e) => return usage_error(&e),
    };
    // Validate --cat before running anything.
    let mut cats = Vec::new();
    for c in &a.cat {
        match memsim_scenario::parse::parse_line("--cat", 1, &format!("cat {c}")) {
            Ok(Some(memsim_scenario::ast::Line {
                kind: LineKind::Cat { pid, file },
                ..
            })) => cats.push((pid, file)),
            _ => return usage_error(&format!("--cat {c}: expected /proc/PID/FILE or /proc/self/FILE")),
        }
    }
    let (name, text) = match read_input(&a.file) {
        Ok(t) => t,
        Err(e) => return usage_error(&format!("{}: {e}", a.file)),
    };
    let kernel = machine.build(Box::new(HostFs::new()));
    let mut runner = Runner::new(kernel);
    runner.core_dir = machine.core_dir.clone();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let summary = match runner.run(&name, &text, &mut out, a.keep_going) {
        Ok(s) => s,
        Err(RunError::Malformed(e)) => {
            let _ = out.flush();
            eprintln!("{e}");
            return ExitCode::from(2);
        }
        Err(RunError::Io(e)) => {
            eprintln!("memsim: writing output: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = !summary.failures.is_empty();
    if !failed || a.keep_going {
        for (pid, file) in &cats {
            let (target, result) = match pid {
                ProcPid::System => (String::new(), runner.kernel.proc_read_system(file)),
                _ => {
                    let (p, file) = runner.cat_target(pid, file, memsim_core::kernel::INIT_PID);
                    (format!("{p}/"), runner.kernel.proc_read(p, &file))
                }
            };
            match result {
                Ok(bytes) => {
                    if out.write_all(&bytes).is_err() {
                        return ExitCode::from(2);
                    }
                }
                Err(e) => {
                    let _ = out.flush();
                    eprintln!("memsim: --cat /proc/{target}{file}: {e}");
                    failed = true;
                }
            }
        }
    }
    let _ = out.flush();
    for f in &summary.failures {
        eprintln!("{f}");
    }
    if a.stats {
        let s = &summary.stats;
        let unmodeled: u64 = s.unmodeled.values().sum();
        let names: Vec<String> = s.unmodeled.iter().map(|(k, v)| format!("{k} {v}")).collect();
        eprintln!(
            "memsim: {} lines, {} calls run, {} accesses, {} calls not modeled{}{}",
            s.lines,
            s.calls,
            s.accesses,
            unmodeled,
            if names.is_empty() { "" } else { ": " },
            names.join(", ")
        );
        let notes: Vec<String> = [
            (s.early_clones, "children created before their clone's result line"),
            (
                s.fd_syncs,
                "descriptors placed as the log shows (calls the trace filter left out)",
            ),
            (s.unknown_env, "execve without the environment (record with strace -v)"),
            (
                s.truncated_exec,
                "execve with strings cut short (record with strace -s)",
            ),
            (s.external_ends, "processes killed from outside the model"),
            (s.ends_unchecked, "ends of released tasks not checked"),
            (s.core_files, "core files written"),
            (
                s.untraced_faults,
                "faults replayed from signal lines (no traced access)",
            ),
        ]
        .iter()
        .filter(|(n, _)| *n != 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if !notes.is_empty() {
            eprintln!("memsim: {}", notes.join("; "));
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The scenario's name for messages, and its text (invalid UTF-8 is replaced, so it still parses).
fn read_input(file: &str) -> io::Result<(String, String)> {
    let bytes = if file == "-" {
        let mut b = Vec::new();
        io::stdin().read_to_end(&mut b)?;
        b
    } else {
        std::fs::read(file)?
    };
    let name = if file == "-" {
        "<stdin>".to_string()
    } else {
        file.to_string()
    };
    let text = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok((name, text))
}
