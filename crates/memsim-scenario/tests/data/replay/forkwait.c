/* fork and wait in every way: children exiting with codes, one killed by SIGKILL, vfork, waitid, and a
 * child that touches memory its parent wrote before the fork (copy-on-write). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	int st;
	struct rlimit r;
	getrlimit(RLIMIT_NOFILE, &r);
	char *shared = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(shared, 7, 1 << 16);
	for (int i = 0; i < 3; i++) {
		pid_t p = fork();
		if (p == 0) {
			char *m = malloc(1 << 20);
			m[0] = shared[i];
			shared[i] = 1;
			munmap(shared, 1 << 12);
			_exit(i);
		}
		waitpid(p, &st, 0);
	}
	pid_t p = fork();
	if (p == 0) {
		pause();
		_exit(0);
	}
	kill(p, SIGKILL);
	waitpid(p, &st, 0);
	p = vfork();
	if (p == 0)
		_exit(7);
	waitpid(p, &st, 0);
	siginfo_t si;
	p = fork();
	if (p == 0)
		_exit(3);
	waitid(P_PID, p, &si, WEXITED);
	munmap(shared, 1 << 16);
	return 0;
}
