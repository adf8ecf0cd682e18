//! PID allocation (`kernel/pid.c`: `alloc_pid`) and the task list in creation order (`for_each_process`).
