//! How the runner follows the processes of a `strace -f` log: log PIDs map to the model's through clone
//! results (never onto the model's kernel threads), a child whose lines come before its parent's `<... clone
//! resumed>` is created from the unfinished clone, exits take effect at `+++` lines, wait results and
//! statuses, SIGCHLD lines and the rlimit outputs are checked, and a fault can leave a core file.

use memsim_core::fs::MemFs;
use memsim_core::kernel::INIT_PID;
use memsim_core::task::ExitStatus;
use memsim_core::Pid;
use memsim_scenario::{Machine, Runner};

fn runner() -> Runner {
    Runner::new(Machine::default().build(Box::new(MemFs::new())))
}

fn failures(text: &str) -> (Runner, Vec<(usize, String, String)>) {
    let mut r = runner();
    let s = r
        .run("t.log", text, &mut std::io::sink(), true)
        .unwrap_or_else(|e| panic!("{e}"));
    let f = s.failures.into_iter().map(|f| (f.line, f.expected, f.got)).collect();
    (r, f)
}

const MAP: &str =
    "mmap(0x100000000, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x100000000";

/// fork, vfork with the child first, kill, wait4 and waitid statuses, SIGCHLD: a log like the forkwait
/// program's, in the model's numbering nowhere.
#[test]
fn children_map_through_clone_results() {
    let text = format!(
        "500 {MAP}\n\
         500 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x100001a10) = 501\n\
         501 munmap(0x100000000, 4096) = 0\n\
         501 poke(0x100001000, \"child\") = 5\n\
         501 exit_group(3) = ?\n\
         500 wait4(501,  <unfinished ...>\n\
         501 +++ exited with 3 +++\n\
         500 <... wait4 resumed>[{{WIFEXITED(s) && WEXITSTATUS(s) == 3}}], 0, NULL) = 501\n\
         500 --- SIGCHLD {{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=501, si_uid=0, si_status=3, si_utime=0, si_stime=0}} ---\n\
         500 peek(0x100000000, 1) = \"\\x00\"\n\
         500 peek(0x100001000, 5) = \"\\x00\\x00\\x00\\x00\\x00\"\n\
         500 vfork( <unfinished ...>\n\
         502 exit_group(7) = ?\n\
         500 <... vfork resumed>) = 502\n\
         502 +++ exited with 7 +++\n\
         500 wait4(-1, [{{WIFEXITED(s) && WEXITSTATUS(s) == 7}}], 0, NULL) = 502\n\
         500 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x100001a10) = 503\n\
         500 kill(503, SIGKILL) = 0\n\
         503 +++ killed by SIGKILL +++\n\
         500 waitid(P_PID, 503, {{si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=503, si_uid=0, si_status=SIGKILL, si_utime=0, si_stime=0}}, WEXITED, NULL) = 0\n\
         500 wait4(-1, 0x7ffe0000, WNOHANG, NULL) = -1 ECHILD (No child processes)\n\
         500 exit_group(0) = ?\n\
         500 +++ exited with 0 +++\n"
    );
    let (r, f) = failures(&text);
    assert_eq!(f, vec![]);
    assert_eq!(r.stats.early_clones, 1);
    // The parent's pages were not touched by its child's munmap and poke (the peeks above), and it ended.
    assert_eq!(r.kernel.task(INIT_PID).unwrap().exit, Some(ExitStatus::Exited(0)));
}

/// Each check can fail: a wrong wait status, a wait result naming another child, a SIGCHLD for a child that
/// has not ended, a wrong getrlimit output, a clone whose early child is not the one it returns.
#[test]
fn process_results_are_checked() {
    let fork = "500 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x100001a10) = ";
    let (_, f) = failures(&format!(
        "500 {MAP}\n{fork}501\n501 exit_group(1) = ?\n501 +++ exited with 1 +++\n\
         500 wait4(501, [{{WIFEXITED(s) && WEXITSTATUS(s) == 2}}], 0, NULL) = 501\n"
    ));
    assert_eq!(
        f,
        vec![(
            5,
            "[{WIFEXITED(s) && WEXITSTATUS(s) == 2}]".into(),
            "[{WIFEXITED(s) && WEXITSTATUS(s) == 1}]".into()
        )]
    );
    let (_, f) = failures(&format!(
        "500 {MAP}\n{fork}501\n{fork}502\n501 exit_group(0) = ?\n501 +++ exited with 0 +++\n500 wait4(-1, NULL, 0, NULL) = 502\n"
    ));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, 6);
    let (_, f) = failures(&format!(
        "500 {MAP}\n{fork}501\n500 --- SIGCHLD {{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=501, si_uid=0, si_status=0}} ---\n"
    ));
    assert_eq!(f, vec![(3, "SIGCHLD CLD_EXITED for 501".into(), "501 alive".into())]);
    let (_, f) = failures("500 getrlimit(RLIMIT_STACK, {rlim_cur=4*1024, rlim_max=RLIM64_INFINITY}) = 0\n");
    assert_eq!(
        f,
        vec![(
            1,
            "{rlim_cur=4096, rlim_max=RLIM64_INFINITY}".into(),
            "{rlim_cur=8388608, rlim_max=RLIM64_INFINITY}".into()
        )]
    );
    let (_, f) = failures(
        "500 prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0\n\
         500 prlimit64(0, RLIMIT_CORE, {rlim_cur=1024*1024, rlim_max=0}, NULL) = -1 EINVAL (Invalid argument)\n\
         500 setrlimit(RLIMIT_NOFILE, {rlim_cur=64, rlim_max=64}) = 0\n\
         500 getrlimit(RLIMIT_NOFILE, {rlim_cur=64, rlim_max=64}) = 0\n",
    );
    assert_eq!(f, vec![]);
    let (_, f) = failures(
        "500 brk(NULL) = 0\n500 vfork( <unfinished ...>\n502 exit_group(7) = ?\n500 <... vfork resumed>) = 503\n",
    );
    assert_eq!(f, vec![(4, "503".into(), "502 (whose lines came first)".into())]);
}

/// Threads: clone3 with CLONE_THREAD, the thread's own exit, and an exit_group that ends the rest. A thread is
/// released at once; its `+++` line is still checked.
#[test]
fn threads_run_in_their_process() {
    let clone3 = "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|\
                  CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x100000990, parent_tid=0x100000990, \
                  exit_signal=0, stack=0x7ffff75d1000, stack_size=0x7fff80, tls=0x7ffff7dd16c0}";
    let text = format!(
        "700 {MAP}\n\
         700 {clone3} <unfinished ...>\n\
         701 munmap(0x100001000, 4096) = 0\n\
         700 <... clone3 resumed> => {{parent_tid=[701]}}, 88) = 701\n\
         700 {clone3} => {{parent_tid=[702]}}, 88) = 702\n\
         700 munmap(0x100001000, 4096) = 0\n\
         701 exit(0) = ?\n\
         701 +++ exited with 0 +++\n\
         702 mmap(0x100001000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x100001000\n\
         700 exit_group(4) = ?\n\
         702 +++ exited with 4 +++\n\
         700 +++ exited with 4 +++\n"
    );
    let (r, f) = failures(&text);
    assert_eq!(f, vec![]);
    assert_eq!(r.stats.early_clones, 1);
    // The second munmap of the page the thread unmapped finds nothing there: one address space.
    let (_, f) = failures(&text.replace("700 munmap(0x100001000, 4096) = 0", "700 mmap(0x100001000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0) = -1 EEXIST (File exists)"));
    assert_eq!(f, vec![(6, "-1 EEXIST (File exists)".into(), "0x100001000".into())]);
}

/// Log PIDs never land on the model's kernel threads: a PID the log never created runs in PID 1 (a log that
/// does not trace process creation), whatever its number.
#[test]
fn log_pids_never_reach_kernel_threads() {
    let mut r = runner();
    assert_eq!(r.model_pid(Some(4242)), INIT_PID);
    for p in [2, 3, 5, 10] {
        assert!(r.kernel.task(Pid(p)).is_ok(), "kernel thread {p}");
        assert_eq!(r.model_pid(Some(p)), INIT_PID);
    }
    // In a child's numbering too: the model's first fork gets a PID above the kernel threads.
    let (r, f) = failures(
        "3 clone(child_stack=NULL, flags=SIGCHLD) = 2\n2 exit_group(0) = ?\n2 +++ exited with 0 +++\n\
         3 wait4(2, NULL, 0, NULL) = 2\n",
    );
    assert_eq!(f, vec![]);
    assert!(r.kernel.task(Pid(2)).unwrap().is_kthread());
}

/// strace -f writing to stderr prefixes nothing until a second tracee exists: unprefixed lines and the
/// parent's later `[pid N]` lines are both PID 1.
#[test]
fn stderr_logs_map_the_parent_to_pid_1() {
    let text = format!(
        "{MAP}\nclone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x100001a10) = 901\n\
         [pid   901] munmap(0x100000000, 4096) = 0\n[pid   900] munmap(0x100001000, 4096) = 0\n\
         [pid   901] exit_group(0) = ?\n[pid   901] +++ exited with 0 +++\nwait4(-1, NULL, 0, NULL) = 901\n"
    );
    let (r, f) = failures(&text);
    assert_eq!(f, vec![]);
    // PID 1 unmapped one page, its child the other in its own copy.
    assert_eq!(r.kernel.mm(INIT_PID).unwrap().total_vm, 1);
    assert_eq!(r.stats.skipped, 0);
}

/// A fault with RLIMIT_CORE raised and `--core-dir` leaves `core.PID`, an ELF core file.
#[test]
fn a_fault_writes_a_core_file() {
    let dir = std::env::temp_dir().join(format!("memsim-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut m = Machine::default();
    m.rlimits
        .push((memsim_core::uapi::RLIMIT_CORE, memsim_core::task::Rlimit::INFINITY));
    let mut r = Runner::new(m.build(Box::new(MemFs::new())));
    r.core_dir = Some(dir.clone());
    let text = format!(
        "{MAP}\npoke(0x100000000, \"hello\") = 5\n L 100002000,1\n\
         --- SIGSEGV {{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x100002000}} ---\n\
         +++ killed by SIGSEGV (core dumped) +++\n"
    );
    let s = r.run("t.scn", &text, &mut std::io::sink(), false).unwrap();
    assert_eq!(s.failures, vec![]);
    assert_eq!(s.stats.core_files, 1);
    let core = std::fs::read(dir.join("core.1")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(&core[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([core[16], core[17]]), 4, "ET_CORE");
    assert!(
        core.windows(5).any(|w| w == b"hello"),
        "the page's bytes are in the core"
    );
}

/// The model's processes have no controlling terminal: `/dev/tty` opens with ENXIO, as it does for a real
/// process without one (bash probes it first thing), except with O_PATH, which opens no device.
#[test]
fn dev_tty_is_nobodys_terminal() {
    let mut r = Runner::new(Machine::default().build(Box::new(memsim_scenario::HostFs::new())));
    let text = "openat(AT_FDCWD, \"/dev/tty\", O_RDWR|O_NONBLOCK) = -1 ENXIO (No such device or address)\n\
                openat(AT_FDCWD, \"/dev/tty\", O_RDONLY) = -1 ENXIO (No such device or address)\n\
                openat(AT_FDCWD, \"/dev/tty\", O_RDONLY|O_PATH) = 3\n";
    let s = r.run("t.scn", text, &mut std::io::sink(), true).unwrap();
    assert_eq!(s.failures, vec![]);
}

/// A child killed as it enters its first call shows as `???( <unfinished ...>` (strace could not name the
/// call): there is nothing to run, and its end is the kill's.
#[test]
fn a_call_strace_could_not_name_is_skipped() {
    let text = format!(
        "14521 {MAP}\n\
         14521 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x100001a10) = 14525\n\
         14521 kill(14525, SIGKILL <unfinished ...>\n\
         14525 ???( <unfinished ...>\n\
         14521 <... kill resumed>)               = 0\n\
         14521 wait4(14525,  <unfinished ...>\n\
         14525 +++ killed by SIGKILL +++\n\
         14521 <... wait4 resumed>[{{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}}], 0, NULL) = 14525\n\
         14521 ???() = ?\n"
    );
    let (_, f) = failures(&text);
    assert_eq!(f, vec![]);
}

/// Two parents in an unfinished clone when a new PID's first line comes: the log's later resumed lines say
/// which one made it, and the child is a copy of that parent.
#[test]
fn a_child_of_one_of_two_forking_parents() {
    let fork =
        "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x100001a10";
    let text = format!(
        "100 {MAP}\n\
         100 {fork}) = 101\n\
         101 mmap(0x200000000, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x200000000\n\
         100 {fork} <unfinished ...>\n\
         101 {fork} <unfinished ...>\n\
         102 mprotect(0x200000000, 4096, PROT_READ) = -1 ENOMEM (Cannot allocate memory)\n\
         103 mprotect(0x200000000, 4096, PROT_READ) = 0\n\
         101 <... clone resumed>) = 103\n\
         100 <... clone resumed>) = 102\n"
    );
    let (r, f) = failures(&text);
    assert_eq!(f, vec![]);
    assert_eq!(r.stats.early_clones, 2);
}
