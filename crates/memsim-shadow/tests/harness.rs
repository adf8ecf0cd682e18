//! The harness itself: a scenario whose stated results the kernel does not meet, or that maps outside the
//! window, or that the plan refuses, is a harness error (never excused by KNOWN_FAILURES); a scenario the
//! model and the kernel agree on has none.

use memsim_shadow::{run_source, HostConfig};

fn run(text: &str) -> memsim_shadow::CaseReport {
    let host = HostConfig::from_host().expect("host configuration");
    run_source("t.scn", text, &host)
}

#[test]
fn a_wrong_expectation_is_a_harness_error() {
    let r = run("mmap(0x100000000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x100001000\n");
    assert_eq!(r.harness_errors.len(), 1, "{}", r.render());
    assert!(r.harness_errors[0].contains("line 1"), "{}", r.render());
    let r = run("munmap(0x100000000, 0) = -1 ENOMEM (Cannot allocate memory)\n");
    assert!(r.harness_errors[0].contains("EINVAL"), "{}", r.render());
    let r = run(concat!(
        "mmap(0x100000000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x100000000\n",
        " S 100000000,1\n",
        "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x100000000} ---\n",
    ));
    assert!(
        r.harness_errors.iter().any(|e| e.contains("SEGV_ACCERR")),
        "{}",
        r.render()
    );
}

#[test]
fn mappings_outside_the_window_are_rejected() {
    let r = run("mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ?\n");
    assert!(
        r.harness_errors.iter().any(|e| e.contains("outside the window")),
        "{}",
        r.render()
    );
    let r = run("munmap(0x7f0000000000, 4096) = 0\n");
    assert!(
        r.harness_errors.iter().any(|e| e.contains("cannot run differentially")),
        "{}",
        r.render()
    );
    let r = run("brk(NULL) = ?\n");
    assert!(r.harness_errors.iter().any(|e| e.contains("brk")), "{}", r.render());
    let r = run("mmap(0x100000000, 4096, PROT_READ\n");
    assert!(
        r.harness_errors.iter().any(|e| e.contains("does not parse")),
        "{}",
        r.render()
    );
}

#[test]
fn agreeing_runs_are_clean() {
    // Argument errors the model already implements: no disagreement, no harness error.
    let r = run(concat!(
        "mmap(0x100000000, 0, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = -1 EINVAL (Invalid argument)\n",
        "munmap(0x100000010, 4096) = -1 EINVAL (Invalid argument)\n",
        "cat /proc/self/maps\n",
    ));
    assert!(r.passed(), "{}", r.render());
}
