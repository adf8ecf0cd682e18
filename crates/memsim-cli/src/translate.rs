//! `memsim translate`: explain one virtual-to-physical translation step by step (the seed article's Figure 3).
//! The work is done by `memsim_core::arch::translate`; this module only parses arguments and prints.

use std::process::ExitCode;

use memsim_core::arch::translate::{explain, parse_addr, AccessSpec, MapSpec};
use memsim_core::arch::Arch;

/// Arguments of `memsim translate`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  memsim translate --arch i386 --map 0x1234F000=0xAAAAA000 0x1234FFFF
  memsim translate --map 0x7fffdead0000=0x12345000:rw,user,nx --write 0x7fffdead0123
  memsim translate --map 0x400000=0x5000:ro --exec 0x400010

Exit status: 0 when the address translates, 1 on a page fault, 2 on bad arguments.")]
pub struct TranslateArgs {
    /// Map the page of VADDR to the frame of PADDR with a 4 KiB PTE. FLAGS is a comma list of rw, ro, user,
    /// kernel, nx, x, pwt, pcd, pat, a, d, g, np (not present); the default is present, user, writable.
    #[arg(long = "map", value_name = "VADDR=PADDR[:FLAGS]")]
    pub maps: Vec<String>,
    /// Paging mode: x86_64 (4-level), x86_64-la57 (5-level) or i386 (2-level, non-PAE).
    #[arg(long, default_value = "x86_64", value_name = "ARCH")]
    pub arch: String,
    /// Translate a write access.
    #[arg(long, conflicts_with = "exec")]
    pub write: bool,
    /// Translate an instruction fetch.
    #[arg(long)]
    pub exec: bool,
    /// Access from kernel mode (supervisor) instead of user mode.
    #[arg(long)]
    pub kernel: bool,
    /// The virtual address to translate (decimal or 0x-prefixed hex).
    #[arg(value_name = "ADDR")]
    pub addr: String,
}

/// Run `memsim translate`.
pub fn run(args: &TranslateArgs) -> ExitCode {
    let arch: Arch = match args.arch.parse() {
        Ok(a) => a,
        Err(e) => return usage(&format!("--arch: {e}")),
    };
    let mut maps = Vec::with_capacity(args.maps.len());
    for m in &args.maps {
        match m.parse::<MapSpec>() {
            Ok(s) => maps.push(s),
            Err(e) => return usage(&format!("--map: {e}")),
        }
    }
    let addr = match parse_addr(&args.addr) {
        Ok(a) => a,
        Err(e) => return usage(&format!("ADDR: {e}")),
    };
    let acc = AccessSpec {
        write: args.write,
        exec: args.exec,
        kernel: args.kernel,
    };
    match explain(arch, &maps, addr, acc) {
        Ok((text, translated)) => {
            print!("{text}");
            if translated {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => usage(&e),
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("memsim translate: {msg}");
    ExitCode::from(2)
}
