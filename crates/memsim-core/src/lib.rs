//! memsim-core: a deterministic model of how Linux represents a process and its memory.
//!
//! The core never touches the host: files reach it through [`fs::FileSource`], and there is no clock and no
//! unseeded randomness. The entry point is [`kernel::Kernel`]; system calls are its `sys_*` methods, user
//! memory accesses are [`kernel::Kernel::access`], `poke` and `peek`, and `/proc` files are rendered by
//! [`kernel::Kernel::proc_read`].

pub mod addr;
pub mod arch;
pub mod errno;
pub mod filemap;
pub mod fs;
pub mod kernel;
pub mod mm;
pub mod phys;
pub mod procfs;
pub mod random;
pub mod task;
pub mod uapi;

pub use addr::{Pfn, PhysAddr, VirtAddr, PAGE_SIZE};
pub use errno::{Errno, SysResult};
pub use kernel::{AccessKind, Kernel, KernelConfig, SigInfo};
pub use task::Pid;
