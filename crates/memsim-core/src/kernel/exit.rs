//! Process exit and reaping (`kernel/exit.c`): `do_exit`, zombies, reparenting, `wait4` and `waitid`.
