/* fork_errnos: the result of process-lifecycle calls whose outcome does not depend on the machine, one line
 * each: "<name> <return value or -errno>". tests/fork_vs_kernel.rs runs the same calls on the model. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void r(const char *name, long v) { printf("%s %ld\n", name, v < 0 ? -(long)errno : v); }

static long clone3_with(struct clone_args *a, size_t size) { return syscall(SYS_clone3, a, size); }

int main(void) {
    struct clone_args a;
    static char buf[8192];
    memset(&a, 0, sizeof a); a.exit_signal = 65;
    r("clone3_exit_signal_65", clone3_with(&a, sizeof a));
    r("clone3_size_56", syscall(SYS_clone3, buf, 56));
    r("clone3_size_4097", syscall(SYS_clone3, buf, 4097));
    buf[90] = 1; r("clone3_tail_nonzero", syscall(SYS_clone3, buf, 96)); buf[90] = 0;
    memset(&a, 0, sizeof a); a.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM; a.exit_signal = SIGCHLD;
    r("clone3_thread_with_exit_signal", clone3_with(&a, sizeof a));
    memset(&a, 0, sizeof a); a.flags = CLONE_SIGHAND;
    r("clone3_sighand_without_vm", clone3_with(&a, sizeof a));
    memset(&a, 0, sizeof a); a.stack = 0x10000;
    r("clone3_stack_without_size", clone3_with(&a, sizeof a));
    memset(&a, 0, sizeof a); a.set_tid_size = 1;
    r("clone3_set_tid_size_without_set_tid", clone3_with(&a, sizeof a));
    memset(&a, 0, sizeof a); a.flags = 1ULL << 40;
    r("clone3_unknown_flag", clone3_with(&a, sizeof a));
    memset(&a, 0, sizeof a); a.flags = CLONE_DETACHED;
    r("clone3_detached", clone3_with(&a, sizeof a));
    memset(&a, 0, sizeof a); a.flags = CLONE_INTO_CGROUP;
    r("clone3_into_cgroup_ver1", clone3_with(&a, 80));
    r("clone_sighand_without_vm", syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0));
    r("clone_thread_without_sighand", syscall(SYS_clone, CLONE_THREAD | CLONE_VM, 0, 0, 0, 0));
    r("clone_newns_fs", syscall(SYS_clone, CLONE_NEWNS | CLONE_FS, 0, 0, 0, 0));
    r("clone_newuser_fs", syscall(SYS_clone, CLONE_NEWUSER | CLONE_FS, 0, 0, 0, 0));
    r("wait4_bad_option", syscall(SYS_wait4, -1, 0, 0x10, 0));
    r("wait4_wnowait", syscall(SYS_wait4, -1, 0, WNOWAIT, 0));
    r("wait4_int_min", syscall(SYS_wait4, INT_MIN, 0, 0, 0));
    r("wait4_no_child", syscall(SYS_wait4, -1, 0, 0, 0));
    siginfo_t si;
    r("waitid_no_event", syscall(SYS_waitid, P_ALL, 0, &si, 0, 0));
    r("waitid_ppid_0", syscall(SYS_waitid, P_PID, 0, &si, WEXITED, 0));
    r("waitid_pgid_neg", syscall(SYS_waitid, P_PGID, -1, &si, WEXITED, 0));
    r("waitid_which_7", syscall(SYS_waitid, 7, 0, &si, WEXITED, 0));
    r("waitid_pidfd_99", syscall(SYS_waitid, P_PIDFD, 99, &si, WEXITED, 0));
    r("waitid_no_child", syscall(SYS_waitid, P_ALL, 0, &si, WEXITED, 0));
    r("kill_sig_65", syscall(SYS_kill, getpid(), 65));
    r("kill_int_min", syscall(SYS_kill, INT_MIN, SIGTERM));
    r("kill_empty_group", syscall(SYS_kill, -30000, SIGTERM));
    r("kill_self_0", syscall(SYS_kill, getpid(), 0));
    r("tgkill_tid_0", syscall(SYS_tgkill, getpid(), 0, SIGUSR1));
    r("tgkill_wrong_group", syscall(SYS_tgkill, getppid(), getpid(), 0));
    r("tkill_sig_65", syscall(SYS_tkill, getpid(), 65));
    r("rt_sigaction_kill", syscall(SYS_rt_sigaction, SIGKILL, &(struct sigaction){0}, 0, 8));
    r("rt_sigaction_size_4", syscall(SYS_rt_sigaction, SIGUSR1, 0, 0, 4));
    r("rt_sigaction_sig_0", syscall(SYS_rt_sigaction, 0, 0, 0, 8));
    uint64_t set = 0;
    r("rt_sigprocmask_bad_how", syscall(SYS_rt_sigprocmask, 3, &set, 0, 8));
    r("rt_sigprocmask_bad_how_no_set", syscall(SYS_rt_sigprocmask, 3, 0, 0, 8));
    struct rlimit rl = {1024, 1048577};
    r("setrlimit_nofile_over_nr_open", syscall(SYS_setrlimit, RLIMIT_NOFILE, &rl));
    rl.rlim_cur = 2; rl.rlim_max = 1;
    r("setrlimit_cur_over_max", syscall(SYS_setrlimit, RLIMIT_CORE, &rl));
    r("getrlimit_16", syscall(SYS_getrlimit, 16, &rl));
    r("prlimit64_16", syscall(SYS_prlimit64, 0, 16, 0, &rl));
    r("prlimit64_missing_pid_16", syscall(SYS_prlimit64, 99999, 16, 0, &rl));
    r("prlimit64_missing_pid_bad_limit", syscall(SYS_prlimit64, 99999, RLIMIT_CORE, &rl, 0));
    r("prlimit64_pid_minus_1", syscall(SYS_prlimit64, -1, RLIMIT_CORE, 0, &rl));
    /* A child with exit signal 0 is only seen with __WCLONE; one killed by SIGQUIT with RLIMIT_CORE 0. */
    pid_t c = syscall(SYS_clone, 0, 0, 0, 0, 0);
    if (c == 0) _exit(3);
    usleep(100000);
    int st = 0;
    r("wait4_exit_signal_0_child", syscall(SYS_wait4, -1, &st, WNOHANG, 0));
    long got = syscall(SYS_wait4, -1, &st, __WCLONE, 0);
    r("wait4_wclone_is_child", got == c);
    r("wait4_wclone_status", st);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    c = fork();
    if (c == 0) { for (;;) pause(); }
    r("kill_child_sigquit", syscall(SYS_kill, c, SIGQUIT));
    got = syscall(SYS_wait4, c, &st, 0, 0);
    r("wait4_killed_status", st);
    c = fork();
    if (c == 0) _exit(300);
    syscall(SYS_wait4, c, &st, 0, 0);
    r("wait4_exit_300_status", st);
    return 0;
}
