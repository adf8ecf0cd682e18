//! Property tests of the maps renderer: for random address spaces, every line parses back to its VMA (range,
//! permissions, offset, device, inode, name with only `\n` escaped), lines come in address order followed by
//! the gate, and a name starts at column 73 (49 on i386) unless the prefix is longer.

mod procfs_common;

use memsim_core::arch::Arch;
use memsim_core::fs::InodeKind;
use memsim_core::kernel::KernelConfig;
use memsim_core::mm::vma::VmFlags;
use memsim_core::uapi::O_RDWR;
use procfs_common::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Spec {
    gap_pages: u64,
    len_pages: u64,
    prot: u8,
    mayshare: bool,
    file: Option<(String, u64, u32, u64)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    let name = proptest::string::string_regex("/[a-z \n]{0,12}").unwrap();
    let file = proptest::option::of((name, 0u64..1 << 20, 0u32..300, 1u64..1 << 40));
    (0u64..4, 1u64..8, 0u8..8, any::<bool>(), file).prop_map(|(gap_pages, len_pages, prot, mayshare, file)| Spec {
        gap_pages,
        len_pages,
        prot,
        mayshare,
        file,
    })
}

/// Undo `\012` escaping.
fn unescape(s: &str) -> String {
    s.replace("\\012", "\n")
}

proptest! {
    #[test]
    fn maps_lines_parse_back_to_their_vmas(specs in proptest::collection::vec(spec(), 0..24), i386 in any::<bool>()) {
        let arch = if i386 { Arch::I386 } else { Arch::X86_64 };
        let mut k = kernel(KernelConfig { arch, ..KernelConfig::default() });
        let mut vmas = Vec::new();
        let mut addr = 0x1000_0000u64;
        for (i, s) in specs.iter().enumerate() {
            addr += s.gap_pages * 4096;
            let end = addr + s.len_pages * 4096;
            let mut flags = VmFlags::from_prot(u64::from(s.prot)) | MAY;
            if s.mayshare {
                flags |= VmFlags::MAYSHARE;
            }
            let v = match &s.file {
                Some((name, pgoff, minor, ino)) => {
                    let f = file(i as u64, &inode(InodeKind::Regular, name, (0xfe, *minor), *ino, 0), O_RDWR);
                    file_vma(addr, end, flags, &f, *pgoff)
                }
                None => anon(addr, end, flags),
            };
            vmas.push(v.clone());
            k.mm_mut(pid1()).unwrap().vmas.insert(v);
            addr = end;
        }
        let text = String::from_utf8(k.proc_read(pid1(), "maps").unwrap()).unwrap();
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        prop_assert_eq!(lines.len(), vmas.len() + usize::from(!i386));
        let col = if i386 { 49 } else { 73 };
        for (line, v) in lines.iter().zip(&vmas) {
            let f: Vec<&str> = line.splitn(6, ' ').collect();
            prop_assert_eq!(f.len(), 6);
            let (s, e) = f[0].split_once('-').unwrap();
            prop_assert_eq!(u64::from_str_radix(s, 16).unwrap(), v.start.as_u64());
            prop_assert_eq!(u64::from_str_radix(e, 16).unwrap(), v.end.as_u64());
            prop_assert!(s.len() >= 8 && e.len() >= 8);
            let perms: Vec<char> = f[1].chars().collect();
            prop_assert_eq!(perms[0] == 'r', v.flags.contains(VmFlags::READ));
            prop_assert_eq!(perms[1] == 'w', v.flags.contains(VmFlags::WRITE));
            prop_assert_eq!(perms[2] == 'x', v.flags.contains(VmFlags::EXEC));
            prop_assert_eq!(perms[3] == 's', v.flags.contains(VmFlags::MAYSHARE));
            let offset = u64::from_str_radix(f[2], 16).unwrap();
            match &v.file {
                Some(file) => {
                    prop_assert_eq!(offset, v.pgoff << 12);
                    prop_assert_eq!(f[3].to_string(), format!("fe:{:02x}", file.inode.meta.dev_minor));
                    prop_assert_eq!(f[4].parse::<u64>().unwrap(), file.inode.meta.ino);
                    prop_assert!(!line.contains('\n'));
                    // seq_pad: spaces up to column col - 1 (if the prefix is shorter), then one more.
                    let prefix_len = f[..5].iter().map(|x| x.len() + 1).sum::<usize>();
                    let name_at = prefix_len.max(col - 1) + 1;
                    prop_assert!(line.as_bytes()[prefix_len..name_at].iter().all(|&b| b == b' '));
                    prop_assert_eq!(unescape(&line[name_at..]), file.inode.display_name.clone());
                }
                None => {
                    prop_assert_eq!(offset, 0);
                    prop_assert_eq!(f[3], "00:00");
                    prop_assert_eq!(f[4], "0");
                    prop_assert_eq!(f[5], "");
                }
            }
        }
        if !i386 {
            prop_assert!(lines.last().unwrap().ends_with("[vsyscall]"));
        }
    }
}
