//! `memsim ps`, `memsim pstree` and `memsim pmap` as a user runs them: the initial machine, a scenario run
//! first, and bad arguments.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn memsim(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_memsim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run memsim");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn ps_of_the_initial_machine() {
    let o = memsim(&["ps"], "");
    assert!(o.status.success());
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("  PID  PPID STAT    VSZ   RSS COMMAND"));
    assert_eq!(lines.next(), Some("    1     0 Rs        0     0 init"));
    assert_eq!(lines.next(), Some("    2     0 S         0     0 kthreadd"));
    // Every row: pid, ppid, state, vsz, rss, comm.
    assert!(out.lines().skip(1).all(|l| l.split_whitespace().count() == 6), "{out}");
}

#[test]
fn ps_pstree_pmap_after_a_scenario() {
    let scn = "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ffd000\n\
               S 7ffff7ffd000,8\n";
    let o = memsim(&["ps", "-"], scn);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout(&o).contains("\n    1     0 Rs        8     4 init\n"),
        "{}",
        stdout(&o)
    );
    let o = memsim(&["pstree", "-"], scn);
    assert_eq!(stdout(&o), "init(1)\n");
    let o = memsim(&["pmap", "-x", "1", "-"], scn);
    let out = stdout(&o);
    assert!(
        out.starts_with("1:   [init]\nAddress           Kbytes     RSS   Dirty Mode  Mapping\n"),
        "{out}"
    );
    assert!(
        out.contains("00007ffff7ffd000       8       4       4 rw---   [ anon ]\n"),
        "{out}"
    );
    assert!(out.ends_with("total kB              12       4       4\n"), "{out}");
}

#[test]
fn failed_expectations_still_print_and_exit_1() {
    let o = memsim(&["ps", "-"], "munmap(0x1000, 4096) = -1 EINVAL\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("  PID"));
    assert!(!o.stderr.is_empty());
}

#[test]
fn bad_arguments() {
    assert_eq!(memsim(&["pmap", "-x", "-d", "1"], "").status.code(), Some(2));
    assert_eq!(memsim(&["pmap", "99"], "").status.code(), Some(1));
    assert_eq!(memsim(&["ps", "/nonexistent/scenario"], "").status.code(), Some(2));
    assert_eq!(
        memsim(&["ps", "-"], "this is not a scenario line\n").status.code(),
        Some(2)
    );
}

/// A strace-style log with fork, exit and a thread: the zombie, the multi-threaded process and the tree.
#[test]
fn processes_of_a_forking_scenario() {
    if !std::path::Path::new("/usr/bin/sleep").exists() {
        return;
    }
    let scn = "100 execve(\"/usr/bin/sleep\", [\"sleep\", \"900\"], [\"HOME=/\"]) = 0\n\
               100 clone(child_stack=NULL, flags=SIGCHLD) = 101\n\
               100 clone(child_stack=NULL, flags=SIGCHLD) = 102\n\
               101 exit_group(3) = ?\n\
               101 +++ exited with 3 +++\n\
               102 clone(child_stack=0x7f0000100000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM) = 103\n";
    let o = memsim(&["ps", "-"], scn);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    let user: Vec<&Vec<&str>> = rows.iter().filter(|r| r[1] != "2" && r[0] != "2").collect();
    assert_eq!(user.len(), 3, "{out}");
    // init exec'd sleep; its first child is a zombie; the second has two threads.
    assert_eq!((user[0][2], user[0][5]), ("Rs", "sleep"));
    assert_eq!(&user[1][1..], ["1", "Z", "0", "0", "sleep"]);
    assert!(user[2][2].ends_with('l'), "{out}");
    assert_ne!(user[2][3], "0");
    let tree = stdout(&memsim(&["pstree", "-"], scn));
    let (z, p, t) = (user[1][0], user[2][0], user[2][0].parse::<u32>().unwrap() + 1);
    assert_eq!(
        tree,
        format!("sleep(1)-+-sleep({z})\n         `-sleep({p})---{{sleep}}({t})\n")
    );
}

#[test]
fn pmap_of_a_zombie_says_defunct() {
    // procps pmap of a real zombie prints `PID:   [comm] <defunct>` and nothing else (its mm is gone).
    let scn = "fork() = 11\n11 exit_group(0) = ?\n11 +++ exited with 0 +++\n";
    let o = memsim(&["pmap", "11", "-"], scn);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o).lines().next(), Some("11:   [init] <defunct>"));
}
