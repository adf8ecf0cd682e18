/* Test helper for tests/exec_host.rs: run a program with ASLR off under ptrace, stop it at its first
 * instruction after execve, and print its maps, stat, stack pointer and the stack bytes from there up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <sys/user.h>
#include <sys/personality.h>
/* usage: tracer [-p PERSONALITY] [-e VAR=VAL]... -- PATH ARGV0 ARGS... ; prints maps, smaps, stat, rsp, and stack bytes rsp..top */
int main(int argc, char **argv) {
    char *envp[256]; int ne = 0, i = 1; unsigned long pers = ADDR_NO_RANDOMIZE;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "-e")) envp[ne++] = argv[++i];
        else if (!strcmp(argv[i], "-p")) pers = strtoul(argv[++i], 0, 0);
    }
    envp[ne] = 0; i++;
    char *path = argv[i]; char **av = &argv[i + 1];
    pid_t pid = fork();
    if (!pid) { ptrace(PTRACE_TRACEME, 0, 0, 0); personality(pers); execve(path, av, envp); perror("execve"); _exit(127); }
    int st; waitpid(pid, &st, 0);
    if (!WIFSTOPPED(st)) { printf("not stopped\n"); return 1; }
    char fn[64], buf[65536]; FILE *f; size_t n;
    snprintf(fn, sizeof fn, "/proc/%d/maps", pid); f = fopen(fn, "r"); n = fread(buf, 1, sizeof buf, f); fclose(f);
    printf("maps:\n%.*s", (int)n, buf);
    snprintf(fn, sizeof fn, "/proc/%d/smaps", pid); f = fopen(fn, "r"); n = fread(buf, 1, sizeof buf, f); fclose(f);
    printf("smaps:\n%.*s", (int)n, buf);
    snprintf(fn, sizeof fn, "/proc/%d/stat", pid); f = fopen(fn, "r"); n = fread(buf, 1, sizeof buf, f); fclose(f);
    printf("stat: %.*s", (int)n, buf);
    struct user_regs_struct r; ptrace(PTRACE_GETREGS, pid, 0, &r);
    printf("rsp: %llx\n", r.rsp);
    snprintf(fn, sizeof fn, "/proc/%d/mem", pid); f = fopen(fn, "r");
    unsigned long top = 0x7ffffffff000UL; unsigned long len = top - r.rsp; if (len > 65536) len = 65536;
    fseek(f, r.rsp, SEEK_SET); n = fread(buf, 1, len, f); fclose(f);
    printf("stack:"); for (size_t k = 0; k < n; k++) printf("%02x", (unsigned char)buf[k]); printf("\n");
    kill(pid, SIGKILL); return 0;
}
