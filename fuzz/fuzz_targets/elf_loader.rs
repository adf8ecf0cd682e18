//! Fuzz the ELF loader (and the `#!` parser in front of it): any file contents must give a successful exec or
//! an errno, never a panic, and leave the page-level invariants intact. The input is both the program and
//! the interpreter it may name (`/lib/ld.so`), so PT_INTERP paths into it are exercised too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memsim_core::fs::MemFs;
use memsim_core::kernel::{Kernel, KernelConfig, INIT_PID};

fuzz_target!(|data: &[u8]| {
    let mut fs = MemFs::new();
    fs.add_file("/bin/x", data.to_vec());
    fs.add_file("/lib/ld.so", data.to_vec());
    let cfg = KernelConfig {
        randomize_va_space: 2,
        seed: 1,
        ..KernelConfig::default()
    };
    let mut k = Kernel::new(cfg, Box::new(fs));
    let argv = vec![b"x".to_vec(), b"arg".to_vec()];
    let envp = vec![b"A=1".to_vec()];
    match k.do_execve(INIT_PID, "/bin/x", &argv, &envp) {
        Ok(()) => {
            let m = k.mm(INIT_PID).expect("exec'd task has an mm");
            assert!(m.start_stack % 16 == 0);
            assert!(k.proc_read(INIT_PID, "maps").is_ok());
        }
        Err(e) => assert!(!e.reason.is_empty()),
    }
    if let Err(e) = k.check_all_page_invariants() {
        panic!("{e}");
    }
});
