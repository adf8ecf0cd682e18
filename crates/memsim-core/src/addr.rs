//! Addresses, page frame numbers and page sizes (`include/linux/mm.h`, `arch/x86/include/asm/page_types.h`).
//!
//! Addresses are plain `u64` newtypes: a user virtual address of an i386 task is simply below 4 GiB, and the
//! gate VMA of a 64-bit task lies at the top of the canonical range, so no canonical-form check is enforced
//! here; range checks against `TASK_SIZE` belong to the syscalls, which return the errno Linux returns.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};

/// log2 of the base page size on x86.
pub const PAGE_SHIFT: u32 = 12;
/// The base page size on x86: 4 KiB.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// Mask that clears the offset inside a page.
pub const PAGE_MASK: u64 = !(PAGE_SIZE - 1);

/// `PAGE_ALIGN(x)`: round up to the next page boundary, wrapping like the kernel macro (so `PAGE_ALIGN(-4095) == 0`).
#[inline]
pub const fn page_align(x: u64) -> u64 {
    x.wrapping_add(PAGE_SIZE - 1) & PAGE_MASK
}

/// Round down to a page boundary.
#[inline]
pub const fn page_align_down(x: u64) -> u64 {
    x & PAGE_MASK
}

/// `offset_in_page(x) == 0`.
#[inline]
pub const fn is_page_aligned(x: u64) -> bool {
    x & (PAGE_SIZE - 1) == 0
}

/// Number of whole pages in `bytes` (which must already be page aligned to be exact).
#[inline]
pub const fn nr_pages(bytes: u64) -> u64 {
    bytes >> PAGE_SHIFT
}

/// A user or kernel virtual address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VirtAddr(pub u64);

impl VirtAddr {
    #[inline]
    pub const fn new(a: u64) -> Self {
        VirtAddr(a)
    }
    #[inline]
    pub const fn as_u64(self) -> u64 {
        self.0
    }
    /// The virtual page number (`addr >> PAGE_SHIFT`).
    #[inline]
    pub const fn vpn(self) -> u64 {
        self.0 >> PAGE_SHIFT
    }
    #[inline]
    pub const fn page_offset(self) -> u64 {
        self.0 & (PAGE_SIZE - 1)
    }
    #[inline]
    pub const fn align_down(self) -> Self {
        VirtAddr(self.0 & PAGE_MASK)
    }
    #[inline]
    pub const fn align_up(self) -> Self {
        VirtAddr(page_align(self.0))
    }
    #[inline]
    pub const fn is_aligned(self) -> bool {
        is_page_aligned(self.0)
    }
}

impl fmt::Debug for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VirtAddr({:#x})", self.0)
    }
}
impl fmt::Display for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
impl fmt::LowerHex for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}
impl Add<u64> for VirtAddr {
    type Output = VirtAddr;
    #[inline]
    fn add(self, rhs: u64) -> VirtAddr {
        VirtAddr(self.0.wrapping_add(rhs))
    }
}
impl AddAssign<u64> for VirtAddr {
    #[inline]
    fn add_assign(&mut self, rhs: u64) {
        self.0 = self.0.wrapping_add(rhs);
    }
}
impl Sub<u64> for VirtAddr {
    type Output = VirtAddr;
    #[inline]
    fn sub(self, rhs: u64) -> VirtAddr {
        VirtAddr(self.0.wrapping_sub(rhs))
    }
}
impl SubAssign<u64> for VirtAddr {
    #[inline]
    fn sub_assign(&mut self, rhs: u64) {
        self.0 = self.0.wrapping_sub(rhs);
    }
}
/// Distance in bytes between two addresses.
impl Sub<VirtAddr> for VirtAddr {
    type Output = u64;
    #[inline]
    fn sub(self, rhs: VirtAddr) -> u64 {
        self.0.wrapping_sub(rhs.0)
    }
}

/// A physical page frame number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pfn(pub u64);

impl Pfn {
    #[inline]
    pub const fn addr(self) -> PhysAddr {
        PhysAddr(self.0 << PAGE_SHIFT)
    }
}
impl fmt::Debug for Pfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pfn({:#x})", self.0)
    }
}
impl fmt::Display for Pfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A physical address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub u64);

impl PhysAddr {
    #[inline]
    pub const fn pfn(self) -> Pfn {
        Pfn(self.0 >> PAGE_SHIFT)
    }
    #[inline]
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}
impl fmt::Debug for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysAddr({:#x})", self.0)
    }
}
impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Page sizes the x86 MMU can map with one entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum PageSize {
    /// 4 KiB, a PTE.
    Size4K,
    /// 2 MiB, a PMD with PS (PAE/64-bit).
    Size2M,
    /// 4 MiB, a PDE with PS (i386 non-PAE).
    Size4M,
    /// 1 GiB, a PUD with PS.
    Size1G,
}

impl PageSize {
    pub const fn bytes(self) -> u64 {
        match self {
            PageSize::Size4K => 1 << 12,
            PageSize::Size2M => 1 << 21,
            PageSize::Size4M => 1 << 22,
            PageSize::Size1G => 1 << 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_align_wraps_like_the_kernel() {
        assert_eq!(page_align(1), 4096);
        assert_eq!(page_align(4096), 4096);
        assert_eq!(page_align(0u64.wrapping_sub(4095)), 0);
        assert_eq!(page_align(0u64.wrapping_sub(4096)), 0u64.wrapping_sub(4096));
    }

    #[test]
    fn virt_addr_arithmetic() {
        let a = VirtAddr(0x1234_5fff);
        assert_eq!(a.vpn(), 0x12345);
        assert_eq!(a.page_offset(), 0xfff);
        assert_eq!(a.align_down(), VirtAddr(0x1234_5000));
        assert_eq!(a.align_up(), VirtAddr(0x1234_6000));
        assert_eq!(VirtAddr(0x2000) - VirtAddr(0x1000), 0x1000);
        assert_eq!(format!("{a}"), "0x12345fff");
    }
}
