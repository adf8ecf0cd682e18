//! Real programs, recorded under `strace -f -y -v -e trace=%memory,%process,%file` at test time with ASLR off
//! and the model's limits (see `replay_common`), replayed on the model as `memsim run --aslr 0` does: every
//! process of the log, every result checked. A program on [`KNOWN_FAILURES`] must fail (the first mismatch is
//! printed) and one not on it must replay fully, so the list only shrinks as the model learns.

mod replay_common;

use memsim_scenario::ast::Expect;
use memsim_scenario::run::Op;
use memsim_scenario::Call;
use replay_common::*;

/// Programs whose replay does not match yet, with the reason.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn real_programs_replay() {
    for tool in ["strace", "setsid", "setarch", "prlimit", "gcc"] {
        assert!(have(tool), "the replay tests need `{tool}` (.ci/run installs it)");
    }
    let dir = scratch("r");
    let exe = |n: &str| build_c(&dir, n).display().to_string();
    let programs: Vec<(&str, Vec<String>)> = vec![
        ("true", s(&["/bin/true"])),
        ("ls", s(&["ls", "/"])),
        ("cat", s(&["cat", "/etc/hostname"])),
        ("sh-pipe", s(&["sh", "-c", "ls / | wc -l"])),
        ("bash", s(&["bash", "-c", "echo $((6 * 7))"])),
        ("threads", vec![exe("threads")]),
        ("threadexec", vec![exe("threadexec")]),
        ("python3", s(&["python3", "-c", "print(1)"])),
        ("grep", s(&["grep", "root", "/etc/passwd"])),
        ("sort", s(&["sort", "/etc/passwd"])),
        ("date", s(&["date", "-d", "@0"])),
        // Relative lookups against a directory descriptor (newfstatat(5</etc>, "hosts", ..., AT_SYMLINK_NOFOLLOW)).
        ("find", s(&["find", "/etc", "-maxdepth", "1", "-name", "host*"])),
        ("env", s(&["env"])),
        ("uname", s(&["uname", "-a"])),
        ("mapchurn", vec![exe("mapchurn")]),
        ("forkwait", vec![exe("forkwait")]),
        ("segv", vec![exe("segv")]),
        ("procself", vec![exe("procself")]),
    ];
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    for (name, argv) in &programs {
        let log = dir.join(format!("{name}.log"));
        record(&log, argv);
        let text = std::fs::read_to_string(&log).expect("log");
        // Every modeled call's result is stated: only calls that do not return print `= ?`.
        let steps = memsim_scenario::prepare(name, &text).unwrap_or_else(|e| panic!("{e}"));
        for st in &steps {
            if let Op::Call {
                call,
                expect: Expect::Unchecked,
            } = &st.op
            {
                assert!(
                    matches!(call, Call::Exit { .. } | Call::ExitGroup { .. }),
                    "{name}:{}: unchecked result of {call:?}",
                    st.line
                );
            }
        }
        let processes = steps
            .iter()
            .filter(|st| matches!(&st.op, Op::Call { call, .. } if call.creates_task()))
            .count()
            + 1;
        // The file calls that are run and checked (before they were counted as not modeled).
        let file_calls = steps
            .iter()
            .filter(|st| matches!(&st.op, Op::Call { call, .. } if call.is_file_lookup()))
            .count();
        let (_, summary) = replay(name, &text);
        let st = &summary.stats;
        let outcome = match summary.failures.first() {
            None => "replays fully".to_string(),
            Some(f) => format!("first mismatch: {f}"),
        };
        report.push(format!(
            "{name:10} {:5} lines {:5} calls ({file_calls} file calls) {:4} not modeled {:?} {:2} tasks {:2} fd syncs {} early clones  {outcome}",
            st.lines,
            st.calls,
            st.unmodeled.values().sum::<u64>(),
            st.unmodeled,
            processes,
            st.fd_syncs,
            st.early_clones
        ));
        let known = KNOWN_FAILURES.iter().any(|(n, _)| n == name);
        match (summary.failures.is_empty(), known) {
            (true, true) => wrong.push(format!("{name} replays fully now: take it off KNOWN_FAILURES")),
            (false, false) => wrong.push(format!("{name}: {}", summary.failures[0])),
            _ => {}
        }
        if summary.failures.is_empty() {
            assert!(st.calls > 10, "{name}: only {} calls ran", st.calls);
        }
        if *name == "segv" {
            // Both faults came from signal lines alone (the stores are not in the trace), and were checked.
            assert_eq!(st.untraced_faults, 2, "segv: faults replayed from signal lines");
        }
    }
    println!("{}", report.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The replay of a real log can fail: one result changed, or the log replayed with ASLR on, is caught at
/// the first line that differs.
#[test]
fn a_replay_catches_a_changed_result() {
    assert!(
        have("strace") && have("setarch") && have("prlimit"),
        "the replay tests need strace and util-linux"
    );
    let dir = scratch("c");
    let log = dir.join("cat.log");
    record(&log, &s(&["cat", "/etc/hostname"]));
    let text = std::fs::read_to_string(&log).expect("log");
    let _ = std::fs::remove_dir_all(&dir);
    let (_, good) = replay("cat", &text);
    assert_eq!(good.failures, vec![]);
    // The first brk result, one page off.
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("brk(NULL)"))
        .expect("a brk line");
    let (head, addr) = line.rsplit_once("= 0x").expect("a brk result");
    let changed = u64::from_str_radix(addr.trim(), 16).unwrap() + 0x1000;
    let bad: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == n {
                format!("{head}= {changed:#x}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let (_, s1) = replay("cat", &bad);
    assert_eq!(s1.failures.len(), 1);
    assert_eq!(s1.failures[0].line, n + 1);
    assert_eq!(s1.failures[0].expected, format!("{changed:#x}"));
    // A printed stat structure is checked too: the first newfstatat's inode number, one off.
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("newfstatat(") && l.contains("st_ino="))
        .expect("a newfstatat line");
    let (head, rest) = line.split_once("st_ino=").expect("st_ino");
    let (ino, tail) = rest.split_once(',').expect("st_ino's end");
    let changed = ino.parse::<u64>().unwrap() + 1;
    let bad: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == n {
                format!("{head}st_ino={changed},{tail}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let (_, s3) = replay("cat", &bad);
    assert_eq!(s3.failures.len(), 1, "{:?}", s3.failures);
    assert_eq!(s3.failures[0].line, n + 1);
    assert!(
        s3.failures[0].expected.contains(&format!("st_ino={changed}")),
        "{:?}",
        s3.failures
    );
    // With ASLR on the model's addresses differ from the recording's.
    let mut r = memsim_scenario::Runner::new({
        let mut m = machine();
        m.cfg.randomize_va_space = 2;
        m.seed = 1;
        m.build(Box::new(memsim_scenario::HostFs::new()))
    });
    let s2 = r.run("cat", &text, &mut std::io::sink(), false).unwrap();
    assert!(!s2.failures.is_empty());
}

/// A log of every call (`strace -f` alone: no `-y`, no `-v`, pipes and dup2 included) replays too: the
/// descriptors that pipe2 made are put in place when they are first closed or duplicated, and the
/// environments the log does not show are empty (the mappings do not depend on them with ASLR off).
#[test]
fn an_unfiltered_log_replays() {
    assert!(have("strace") && have("setsid") && have("setarch") && have("prlimit"));
    let dir = scratch("u");
    let log = dir.join("sh.log");
    record_with(&["-f"], &log, &s(&["sh", "-c", "ls / | wc -l; cat /etc/hostname"]));
    let text = std::fs::read_to_string(&log).expect("log");
    let _ = std::fs::remove_dir_all(&dir);
    let (_, summary) = replay("sh.log", &text);
    assert_eq!(summary.failures, vec![]);
    assert!(summary.stats.unknown_env >= 3, "{:?}", summary.stats);
    assert!(summary.stats.unmodeled.contains_key("pipe2"), "{:?}", summary.stats);
    assert!(summary.stats.calls > 50);
    // Python forking: its prlimit64 outputs (RLIMIT_STACK, RLIMIT_NPROC) are checked against the model's.
    let dir = scratch("v");
    let log = dir.join("py.log");
    record_with(
        &["-f"],
        &log,
        &s(&["python3", "-c", "import os\nif os.fork() == 0: os._exit(3)\nos.wait()"]),
    );
    let text = std::fs::read_to_string(&log).expect("log");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        text.contains("prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024"),
        "{text}"
    );
    let (_, summary) = replay("py.log", &text);
    assert_eq!(summary.failures, vec![]);
}
