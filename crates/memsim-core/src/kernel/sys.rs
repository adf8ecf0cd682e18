//! Resource limits (`kernel/sys.c`): `getrlimit`, `setrlimit`, `prlimit64` and their permission checks.
