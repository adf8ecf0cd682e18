//! Process creation (`kernel/fork.c`): `copy_process`, `dup_mmap`, fork, vfork, clone and clone3.
