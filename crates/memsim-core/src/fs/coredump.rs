//! Core dumps (`fs/coredump.c`, `elf_core_dump` in `fs/binfmt_elf.c`): an ELF core of a simulated process.
