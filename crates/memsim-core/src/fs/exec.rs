//! Program execution (`fs/exec.c`): `execve`, the new mm, argument and environment strings, close-on-exec.
