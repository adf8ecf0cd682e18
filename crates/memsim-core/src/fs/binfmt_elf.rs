//! The ELF loader (`fs/binfmt_elf.c`): PT_LOAD segments, bss, PT_INTERP, the initial stack and auxv.
