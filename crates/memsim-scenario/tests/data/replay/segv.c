/* Children that die of faults the trace cannot show (strace sees no loads or stores, only the signal): a
 * store through NULL (SEGV_MAPERR) and a store into a read-only mapping (SEGV_ACCERR). */
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    pid_t a = fork();
    if (a == 0) {
        *(volatile int *)0 = 1;
        _exit(1);
    }
    waitpid(a, 0, 0);
    char *ro = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pid_t b = fork();
    if (b == 0) {
        *(volatile char *)ro = 1;
        _exit(1);
    }
    waitpid(b, 0, 0);
    return 0;
}
