//! Error numbers as the syscall boundary returns them (`include/uapi/asm-generic/errno-base.h`, `errno.h`).
//!
//! Every model-level error is turned into one of these at the syscall boundary. `name()` and `strerror()` give
//! the symbolic name and glibc's message, as strace prints them (`-1 ENOMEM (Cannot allocate memory)`).

use std::fmt;

macro_rules! errnos {
    ($($name:ident = $num:expr, $msg:expr;)*) => {
        /// An errno value Linux returns from the system calls memsim models.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i32)]
        pub enum Errno {
            $(#[doc = $msg] $name = $num,)*
        }

        impl Errno {
            /// Every errno memsim knows, in numeric order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name,)*];

            /// The symbolic name, e.g. `"ENOMEM"`.
            pub const fn name(self) -> &'static str {
                match self { $(Errno::$name => stringify!($name),)* }
            }

            /// glibc's `strerror` text, e.g. `"Cannot allocate memory"`.
            pub const fn strerror(self) -> &'static str {
                match self { $(Errno::$name => $msg,)* }
            }

            /// The positive errno number.
            pub const fn code(self) -> i32 {
                self as i32
            }

            /// Look an errno up by its symbolic name (`ENOTSUP` and `EWOULDBLOCK` are accepted as aliases).
            pub fn from_name(name: &str) -> Option<Errno> {
                match name {
                    $(stringify!($name) => Some(Errno::$name),)*
                    "ENOTSUP" => Some(Errno::EOPNOTSUPP),
                    "EWOULDBLOCK" => Some(Errno::EAGAIN),
                    "EDEADLOCK" => Some(Errno::EDEADLK),
                    _ => None,
                }
            }

            /// Look an errno up by number.
            pub fn from_code(code: i32) -> Option<Errno> {
                match code {
                    $($num => Some(Errno::$name),)*
                    _ => None,
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    ENOEXEC = 8, "Exec format error";
    EBADF = 9, "Bad file descriptor";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    ENOTBLK = 15, "Block device required";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Invalid cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "Too many open files in system";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    ETXTBSY = 26, "Text file busy";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EPIPE = 32, "Broken pipe";
    EDOM = 33, "Numerical argument out of domain";
    ERANGE = 34, "Numerical result out of range";
    EDEADLK = 35, "Resource deadlock avoided";
    ENAMETOOLONG = 36, "File name too long";
    ENOLCK = 37, "No locks available";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many levels of symbolic links";
    ENODATA = 61, "No data available";
    EOVERFLOW = 75, "Value too large for defined data type";
    ELIBBAD = 80, "Accessing a corrupted shared library";
    ENOTSOCK = 88, "Socket operation on non-socket";
    EOPNOTSUPP = 95, "Operation not supported";
    EAFNOSUPPORT = 97, "Address family not supported by protocol";
    ECONNREFUSED = 111, "Connection refused";
    ETIMEDOUT = 110, "Connection timed out";
    EINPROGRESS = 115, "Operation now in progress";
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.strerror())
    }
}

impl std::error::Error for Errno {}

/// The result of a system call: the return value or the errno.
pub type SysResult = Result<u64, Errno>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for &e in Errno::ALL {
            assert_eq!(Errno::from_name(e.name()), Some(e));
            assert_eq!(Errno::from_code(e.code()), Some(e));
        }
        assert_eq!(Errno::ENOMEM.to_string(), "ENOMEM (Cannot allocate memory)");
        assert_eq!(Errno::from_name("ENOTSUP"), Some(Errno::EOPNOTSUPP));
        assert_eq!(Errno::from_name("EFOO"), None);
    }
}
