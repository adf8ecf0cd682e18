/* The churn workload of issue 2, item 10, issued natively: 60,000 rounds of {mmap 4 pages at a fixed address,
 * write one page, mprotect one page, munmap three pages} inside the window 0x100000000-0x200000000.
 * Prints the thread CPU time of the loop in nanoseconds (user + system: nearly all of it is kernel time). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define WINDOW 0x100000000UL
#define PAGE 4096UL

static long long now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 60000;
    long long t0 = now();
    for (unsigned long i = 0; i < rounds; i++) {
        char *a = (char *)(WINDOW + i * 2 * PAGE);
        if (mmap(a, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != a)
            return 1;
        *(volatile char *)a = 1;
        if (mprotect(a, PAGE, PROT_READ) != 0)
            return 2;
        if (munmap(a + PAGE, 3 * PAGE) != 0)
            return 3;
    }
    long long t1 = now();
    printf("%lld\n", t1 - t0);
    return 0;
}
