/* fork_vs_kernel: map regions in a fixed window, touch them, fork, and print the child's and the parent's
 * /proc/self/smaps while both are alive, then the parent's after reaping the child. The Rust test
 * (tests/fork_vs_kernel.rs) does the same on the model and compares the window's smaps blocks. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define W 0x100000000UL
#define PG 4096UL

static char *map(unsigned long off, unsigned long pages, int prot, int flags) {
    void *p = mmap((void *)(W + off), pages * PG, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(2); }
    return p;
}

static void dump(const char *who) {
    char buf[1 << 16];
    FILE *f = fopen("/proc/self/smaps", "r");
    size_t n;
    printf("=== %s\n", who);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
    fclose(f);
    fflush(stdout);
}

int main(void) {
    int anon = MAP_PRIVATE | MAP_ANONYMOUS;
    char *a = map(0x000000, 16, PROT_READ | PROT_WRITE, anon);
    for (int i = 0; i < 8; i++) a[i * PG] = 1;
    char *b = map(0x100000, 4, PROT_READ | PROT_WRITE, anon);
    for (int i = 0; i < 4; i++) b[i * PG] = 2;
    madvise(b, 4 * PG, MADV_DONTFORK);
    char *c = map(0x200000, 4, PROT_READ | PROT_WRITE, anon);
    for (int i = 0; i < 4; i++) c[i * PG] = 3;
    madvise(c, 4 * PG, MADV_WIPEONFORK);
    char *d = map(0x300000, 4, PROT_READ | PROT_WRITE, anon);
    if (mlock(d, 4 * PG)) { perror("mlock"); exit(2); }
    d[0] = 4; d[PG] = 4;
    volatile char *e = map(0x400000, 4, PROT_READ, anon);
    (void)e[0];
    char *f = map(0x500000, 4, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
    f[0] = 5; f[PG] = 5;
    char *g = map(0x600000, 4, PROT_READ | PROT_WRITE, anon);
    g[0] = 6;

    int up[2], down[2];
    if (pipe(up) || pipe(down)) return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char x;
        dump("child");
        if (write(up[1], "k", 1) != 1) _exit(3);
        if (read(down[0], &x, 1) != 1) _exit(3);
        g[0] = 7; /* a COW copy in the child */
        dump("child-after-write");
        if (write(up[1], "k", 1) != 1) _exit(3);
        if (read(down[0], &x, 1) != 1) _exit(3);
        _exit(9);
    }
    char x;
    if (read(up[0], &x, 1) != 1) return 2;
    dump("parent");
    if (write(down[1], "k", 1) != 1) return 2;
    if (read(up[0], &x, 1) != 1) return 2;
    dump("parent-after-child-write");
    if (write(down[1], "k", 1) != 1) return 2;
    int st;
    waitpid(pid, &st, 0);
    dump("parent-after-reap");
    printf("=== status %d\n", st);
    return 0;
}
