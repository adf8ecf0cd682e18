//! The reserved address window every differential scenario lives in, and the restriction of `/proc/PID/maps`
//! and `smaps` text to it.
//!
//! A real process already has mappings of its own (the test binary, libc, its heap and stacks), placed by
//! ASLR; the model starts empty. Only what lies inside the window is comparable, so both sides' `/proc`
//! text is cut down to the VMAs that intersect `[WINDOW_START, WINDOW_END)` before comparing.

/// First address of the window (4 GiB).
pub const WINDOW_START: u64 = 0x1_0000_0000;
/// One past the last address of the window (8 GiB).
pub const WINDOW_END: u64 = 0x2_0000_0000;
/// x86-64 `TASK_SIZE` (47-bit user space): nothing user-visible lives at or above it.
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// Whether `[start, end)` intersects the window.
pub fn intersects_window(start: u64, end: u64) -> bool {
    start < WINDOW_END && end > WINDOW_START
}

/// Whether `addr` lies inside the window.
pub fn in_window(addr: u64) -> bool {
    (WINDOW_START..WINDOW_END).contains(&addr)
}

/// Parse the `start-end` prefix of a maps line (`%08lx-%08lx`), if the line has one.
pub fn parse_range(line: &str) -> Option<(u64, u64)> {
    let field = line.split(' ').next()?;
    let (a, b) = field.split_once('-')?;
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let start = u64::from_str_radix(a, 16).ok()?;
    let end = u64::from_str_radix(b, 16).ok()?;
    Some((start, end))
}

/// The lines of a `maps` text whose VMA intersects the window, each with its `\n`.
pub fn filter_maps(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if let Some((s, e)) = parse_range(line) {
            if intersects_window(s, e) {
                out.push_str(line);
            }
        }
    }
    out
}

/// The blocks of an `smaps` text (a maps line and the field lines after it) whose VMA intersects the window.
pub fn filter_smaps(text: &str) -> String {
    let mut out = String::new();
    let mut keep = false;
    for line in text.split_inclusive('\n') {
        // A block starts with a maps line: the only lines whose first field is `hex-hex`.
        if let Some((s, e)) = parse_range(line) {
            keep = intersects_window(s, e);
        }
        if keep {
            out.push_str(line);
        }
    }
    out
}

/// Restrict the text of `/proc/PID/<file>` to the window and normalize shmem inode numbers
/// ([`normalize_shmem_inodes`]); `None` for files that describe the whole process (`status`, `statm`, ...)
/// and so cannot be compared with a model that holds only the window.
pub fn filter_proc(file: &str, text: &str) -> Option<String> {
    match file {
        "maps" => Some(normalize_shmem_inodes(&filter_maps(text))),
        "smaps" => Some(normalize_shmem_inodes(&filter_smaps(text))),
        _ => None,
    }
}

/// The name column of a maps line on a 64-bit kernel: the prefix is padded to 72 bytes, then one space
/// (`fs/proc/task_mmu.c: show_map_vma`, `seq_pad`).
const NAME_PAD: usize = 72;

/// Renumber the inodes of shmem objects (device `00:01`: shared anonymous memory, `/dev/zero` shared) and of
/// anonymous hugetlbfs objects (`/anon_hugepage (deleted)`) as 1, 2, ... in order of first appearance,
/// re-padding the name column.
///
/// The kernel numbers shmem inodes from a global counter (`get_next_ino`) that every process on the machine
/// advances, so the number a mapping gets is not reproducible; the model numbers its own. Which mappings
/// share an object is what matters, and the renumbering keeps exactly that.
pub fn normalize_shmem_inodes(text: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let fields: Vec<&str> = line.splitn(6, ' ').collect();
        let pseudo = fields.len() >= 6
            && (fields[3] == "00:01" || fields[5].trim_start_matches(' ').trim_end() == "/anon_hugepage (deleted)");
        if parse_range(line).is_none() || !pseudo {
            out.push_str(line);
            continue;
        }
        // Both filesystems number from the same counter; the device keeps them apart anyway.
        let ino = format!("{} {}", fields[3], fields[4]);
        let ord = match seen.iter().position(|s| *s == ino) {
            Some(i) => i + 1,
            None => {
                seen.push(ino);
                seen.len()
            }
        };
        let mut prefix = format!("{} {} {} {} {} ", fields[0], fields[1], fields[2], fields[3], ord);
        let rest = fields[5].trim_start_matches(' ');
        let (name, nl) = match rest.strip_suffix('\n') {
            Some(n) => (n, "\n"),
            None => (rest, ""),
        };
        if !name.is_empty() {
            while prefix.len() < NAME_PAD {
                prefix.push(' ');
            }
            prefix.push(' ');
            prefix.push_str(name);
        }
        out.push_str(&prefix);
        out.push_str(nl);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0001000 r--p 00000000 fe:00 12                         /usr/bin/x
Size:                  4 kB
VmFlags: rd mr mw me 
100000000-100002000 rw-p 00000000 00:00 0 
Size:                  8 kB
VmFlags: rd wr mr mw me ac 
1fffff000-200001000 rw-p 00000000 00:00 0 
Size:                  8 kB
200001000-200002000 rw-p 00000000 00:00 0 
Size:                  4 kB
";

    #[test]
    fn smaps_blocks_inside_or_crossing_the_window_are_kept() {
        let got = filter_smaps(SMAPS);
        assert_eq!(
            got,
            "100000000-100002000 rw-p 00000000 00:00 0 \nSize:                  8 kB\n\
             VmFlags: rd wr mr mw me ac \n1fffff000-200001000 rw-p 00000000 00:00 0 \nSize:                  8 kB\n"
        );
    }

    #[test]
    fn maps_lines_outside_the_window_are_dropped() {
        let maps = "0ffff000-100000000 rw-p 00000000 00:00 0 \n100000000-100001000 r--p 00000000 00:00 0 \n";
        assert_eq!(filter_maps(maps), "100000000-100001000 r--p 00000000 00:00 0 \n");
        assert_eq!(filter_proc("status", maps), None);
    }

    #[test]
    fn shmem_inodes_are_renumbered_and_the_name_column_kept() {
        let text = "\
100000000-100001000 rw-s 00000000 00:01 1084                       /dev/zero (deleted)
100001000-100002000 rw-p 00000000 00:00 0 
100002000-100003000 rw-s 00000000 00:01 99                         /dev/zero (deleted)
100003000-100004000 rw-s 00001000 00:01 1084                       /dev/zero (deleted)
";
        let named = |prefix: &str, name: &str| format!("{prefix:<72} {name}\n");
        let text = format!(
            "{text}{}{}",
            named("100004000-100005000 r--p 00000000 fe:00 737 ", "/etc/passwd"),
            named(
                "100200000-100400000 rw-p 00000000 00:11 1084 ",
                "/anon_hugepage (deleted)"
            )
        );
        let want = [
            named("100000000-100001000 rw-s 00000000 00:01 1 ", "/dev/zero (deleted)"),
            "100001000-100002000 rw-p 00000000 00:00 0 \n".to_string(),
            named("100002000-100003000 rw-s 00000000 00:01 2 ", "/dev/zero (deleted)"),
            named("100003000-100004000 rw-s 00001000 00:01 1 ", "/dev/zero (deleted)"),
            named("100004000-100005000 r--p 00000000 fe:00 737 ", "/etc/passwd"),
            named("100200000-100400000 rw-p 00000000 00:11 3 ", "/anon_hugepage (deleted)"),
        ]
        .concat();
        assert_eq!(normalize_shmem_inodes(&text), want);
        assert_eq!(want.lines().next().map(|l| l.find('/')), Some(Some(73)));
    }

    #[test]
    fn ranges_parse_only_from_maps_lines() {
        assert_eq!(
            parse_range("100000000-100001000 r--p"),
            Some((0x1_0000_0000, 0x1_0000_1000))
        );
        assert_eq!(parse_range("Size:                  4 kB"), None);
        assert_eq!(parse_range("VmFlags: rd wr"), None);
    }
}
