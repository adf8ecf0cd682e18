/* Opens /proc files of its own process by name and by number (the log shows the host PID, which the replay
 * maps to the model's), a thread's file, a PID that does not exist, and a file only the host renders. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static void try_open(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0)
        close(fd);
}

int main(void) {
    char p[64];
    try_open("/proc/self/status");
    snprintf(p, sizeof p, "/proc/%d/maps", getpid());
    try_open(p);
    snprintf(p, sizeof p, "/proc/%d/task/%d/stat", getpid(), gettid());
    try_open(p);
    snprintf(p, sizeof p, "/proc/%d/task/%d/stat", getpid(), gettid() + 100000);
    try_open(p);
    try_open("/proc/2147483646/status");
    try_open("/proc/self/mountinfo");
    try_open("/proc/thread-self/comm");
    return 0;
}
