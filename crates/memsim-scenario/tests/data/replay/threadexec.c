/* A second thread calls execve: the kernel ends the other threads and the exec'ing thread takes over the
 * leader's PID (de_thread); strace shows `<pid changed to N ...>` and `+++ superseded by execve +++`. */
#include <pthread.h>
#include <unistd.h>

static void *work(void *arg)
{
	char *argv[] = {"/bin/true", NULL};
	char *envp[] = {"A=1", NULL};
	execve("/bin/true", argv, envp);
	return arg;
}

int main(void)
{
	pthread_t t;
	pthread_create(&t, NULL, work, NULL);
	pthread_join(t, NULL);
	return 0;
}
