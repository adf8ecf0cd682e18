//! The native executor against the real kernel, with scenario lines built by hand: results, signals and the
//! window's `/proc` text must be what Linux does.

use memsim_scenario::ast::{AccessOp, Arg, Expect, FlagAtom, Line, LineKind, ProcPid, SyscallLine};
use memsim_shadow::native::run_native;
use memsim_shadow::outcome::Outcome;
use memsim_shadow::plan::plan;
use memsim_shadow::window::{filter_maps, filter_smaps};

const W: u64 = 0x1_0000_0000;

fn flags(names: &[&str]) -> Arg {
    Arg::Flags(names.iter().map(|n| FlagAtom::Name(n.to_string())).collect())
}
fn int(v: i128) -> Arg {
    Arg::Int(v)
}
fn line(n: usize, kind: LineKind) -> Line {
    Line {
        line: n,
        pid: None,
        kind,
    }
}
fn call(n: usize, name: &str, args: Vec<Arg>) -> Line {
    line(
        n,
        LineKind::Syscall(SyscallLine {
            name: name.to_string(),
            args,
            expect: Expect::Unchecked,
            arg_pos: Vec::new(),
        }),
    )
}
fn anon_rw(n: usize, addr: u64, len: u64) -> Line {
    call(
        n,
        "mmap",
        vec![
            int(addr as i128),
            int(len as i128),
            flags(&["PROT_READ", "PROT_WRITE"]),
            flags(&["MAP_PRIVATE", "MAP_ANONYMOUS", "MAP_FIXED"]),
            int(-1),
            int(0),
        ],
    )
}
fn access(n: usize, op: AccessOp, addr: u64, size: u64) -> Line {
    line(n, LineKind::Access { op, addr, size })
}
fn cat(n: usize, file: &str) -> Line {
    line(
        n,
        LineKind::Cat {
            pid: ProcPid::SelfPid,
            file: file.to_string(),
        },
    )
}

#[test]
fn mappings_accesses_and_proc_text_are_real() {
    let lines = vec![
        anon_rw(1, W, 0x4000),
        line(
            2,
            LineKind::Poke {
                addr: W + 0x1ffe,
                bytes: b"hello".to_vec(),
                expect: None,
            },
        ),
        line(
            3,
            LineKind::Peek {
                addr: W + 0x1ffe,
                len: 5,
                expect: None,
            },
        ),
        access(4, AccessOp::Load, W + 0x3000, 8),
        call(5, "munmap", vec![int((W + 0x1000) as i128), int(0x1000)]),
        cat(6, "smaps"),
        call(7, "mprotect", vec![int(W as i128), int(0x1000), flags(&["PROT_READ"])]),
        call(
            8,
            "mprotect",
            vec![int(W as i128), int(0x1000), flags(&["PROT_BOGUS_IS_NOT_USED"])],
        ),
    ];
    // Line 8 has an unknown flag name: the plan refuses the scenario.
    assert!(plan(&lines).is_err());
    let p = plan(&lines[..7]).expect("plan");
    let run = run_native(&p);
    assert_eq!(run.error, None);
    assert_eq!(run.outcomes[0], Outcome::Value(W));
    assert_eq!(run.outcomes[1], Outcome::Value(5));
    assert_eq!(run.outcomes[2], Outcome::Bytes(b"hello".to_vec()));
    assert_eq!(run.outcomes[3], Outcome::Done);
    assert_eq!(run.outcomes[4], Outcome::Value(0));
    assert_eq!(run.outcomes[6], Outcome::Value(0));
    let at_cat = run.snapshots.iter().find(|s| s.at == Some(5)).expect("smaps at line 6");
    let smaps = filter_smaps(&at_cat.text);
    assert!(
        smaps.starts_with("100000000-100001000 rw-p 00000000 00:00 0 \n"),
        "{smaps}"
    );
    assert!(
        smaps.contains("100002000-100004000 rw-p 00000000 00:00 0 \n"),
        "{smaps}"
    );
    // The poke wrote pages 1 (now unmapped) and 2; the load of page 3 mapped the zero page, which smaps does
    // not count; page 0 was never touched.
    assert_eq!(smaps.matches("Rss:                   0 kB").count(), 1, "{smaps}");
    assert_eq!(smaps.matches("Rss:                   4 kB").count(), 1, "{smaps}");
    let end = run
        .snapshots
        .iter()
        .find(|s| s.at.is_none() && s.file == "maps")
        .expect("final maps");
    assert_eq!(
        filter_maps(&end.text),
        "100000000-100001000 r--p 00000000 00:00 0 \n100002000-100004000 rw-p 00000000 00:00 0 \n"
    );
}

#[test]
fn faults_report_the_signal_and_end_the_run() {
    let lines = vec![
        anon_rw(1, W, 0x2000),
        call(
            2,
            "mprotect",
            vec![int((W + 0x1000) as i128), int(0x1000), flags(&["PROT_READ"])],
        ),
        access(3, AccessOp::Store, W + 0xffc, 8),
        access(4, AccessOp::Load, W, 1),
    ];
    let run = run_native(&plan(&lines).expect("plan"));
    assert_eq!(run.error, None);
    // The store straddles into the read-only page: the first page is written, the second faults at its start.
    assert_eq!(
        run.outcomes[2],
        Outcome::Signal {
            signo: 11,
            code: 2,
            addr: W + 0x1000
        }
    );
    assert_eq!(run.outcomes[3], Outcome::NotRun);
    let smaps = run
        .snapshots
        .iter()
        .find(|s| s.at.is_none() && s.file == "smaps")
        .expect("end smaps");
    let smaps = filter_smaps(&smaps.text);
    assert!(smaps.contains("Anonymous:             4 kB"), "{smaps}");
}

#[test]
fn instruction_fetches_fault_on_non_executable_pages() {
    let lines = vec![anon_rw(1, W, 0x1000), access(2, AccessOp::Instr, W + 0x10, 3)];
    let run = run_native(&plan(&lines).expect("plan"));
    assert_eq!(run.error, None);
    assert_eq!(
        run.outcomes[1],
        Outcome::Signal {
            signo: 11,
            code: 2,
            addr: W + 0x10
        }
    );
    let lines = vec![access(1, AccessOp::Instr, W + 0x5000, 1)];
    let run = run_native(&plan(&lines).expect("plan"));
    assert_eq!(
        run.outcomes[0],
        Outcome::Signal {
            signo: 11,
            code: 1,
            addr: W + 0x5000
        }
    );
}

#[test]
fn file_pages_past_the_end_raise_sigbus_and_descriptors_start_at_3() {
    let small = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases/data/small.txt");
    let open = call(
        1,
        "openat",
        vec![
            flags(&["AT_FDCWD"]),
            Arg::Str {
                bytes: small.as_bytes().to_vec(),
                truncated: false,
            },
            flags(&["O_RDONLY"]),
        ],
    );
    let map = call(
        2,
        "mmap",
        vec![
            int(W as i128),
            int(0x2000),
            flags(&["PROT_READ"]),
            flags(&["MAP_PRIVATE", "MAP_FIXED"]),
            int(3),
            int(0),
        ],
    );
    let size = std::fs::metadata(small).expect("stat").len();
    assert!(size < 0x1000, "the test needs {small} to be shorter than a page");
    let lines = vec![
        open,
        map,
        access(3, AccessOp::Load, W, 1),
        access(4, AccessOp::Load, W + 0x1000, 1),
    ];
    let run = run_native(&plan(&lines).expect("plan"));
    assert_eq!(run.error, None);
    assert_eq!(run.outcomes[0], Outcome::Value(3));
    assert_eq!(run.outcomes[2], Outcome::Done);
    assert_eq!(
        run.outcomes[3],
        Outcome::Signal {
            signo: 7,
            code: 2,
            addr: W + 0x1000
        }
    );
}

#[test]
fn mincore_reports_the_vector() {
    let lines = vec![
        anon_rw(1, W, 0x3000),
        access(2, AccessOp::Store, W + 0x1000, 1),
        call(3, "mincore", vec![int(W as i128), int(0x3000), Arg::Array(vec![])]),
    ];
    let run = run_native(&plan(&lines).expect("plan"));
    assert_eq!(run.outcomes[2], Outcome::ValueWith(0, vec![0, 1, 0]));
}
