//! memsim-shadow: runs scenarios on the real kernel (in a child process, inside a reserved address window)
//! so tests can compare the model with the kernel. This crate may touch the host; the core may not.
