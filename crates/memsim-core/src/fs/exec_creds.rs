//! The credentials of a new program (`fs/exec.c: bprm_fill_uid`, `security/commoncap.c:
//! cap_bprm_creds_from_file`): set-user-ID and set-group-ID files, root's capabilities, `secureexec`
//! (AT_SECURE) and the personality bits a privilege change clears (`PER_CLEAR_ON_SETID`).
//!
//! An exec is "unsafe" (`check_unsafe_exec`: LSM_UNSAFE_SHARE) when its `fs_struct` is shared with another
//! process (CLONE_FS without CLONE_THREAD): then set-id bits only take effect for a caller with CAP_SETUID, and
//! no capability is gained.
//!
//! Model choices (documented differences): file capabilities (`security.capability`), `no_new_privs`, LSMs,
//! user namespaces and ptrace (LSM_UNSAFE_PTRACE) are not modelled. A set-id exec does not make the mm non-dumpable
//! (`suid_dumpable`): the model has no dumpable flag, so such a process killed by a fault still dumps core.
//! `pdeath_signal` is not modelled either.

use crate::arch::aslr::{ADDR_COMPAT_LAYOUT, ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO, READ_IMPLIES_EXEC};
use crate::fs::FileMeta;
use crate::task::Cred;

/// `S_ISUID`, `S_ISGID`, `S_IXGRP`.
pub const S_ISUID: u32 = 0o4000;
pub const S_ISGID: u32 = 0o2000;
pub const S_IXGRP: u32 = 0o0010;

/// `PER_CLEAR_ON_SETID` (`include/uapi/linux/personality.h`): what a set-id or capability-gaining exec drops
/// from the personality.
pub const PER_CLEAR_ON_SETID: u32 = READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE | ADDR_COMPAT_LAYOUT | MMAP_PAGE_ZERO;

/// The outcome of `bprm_creds_from_file`: the credentials to commit at the point of no return, the
/// personality bits to clear (`bprm->per_clear`) and `bprm->secureexec` (AT_SECURE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecCreds {
    pub cred: Cred,
    pub per_clear: u32,
    pub secureexec: bool,
}

/// `!cap_issubset(a, b)`.
fn cap_gained(a: u64, b: u64) -> bool {
    a & !b != 0
}

/// `CAP_SETUID`.
const CAP_SETUID: u32 = 7;

/// `bprm_creds_from_file` → `bprm_fill_uid` + `cap_bprm_creds_from_file` for the file being loaded, from the
/// task's current credentials `old`; `unsafe_share` is `bprm->unsafe & LSM_UNSAFE_SHARE`.
pub fn bprm_creds_from_file(old: &Cred, file: &FileMeta, unsafe_share: bool) -> ExecCreds {
    let mut new = old.clone();
    let mut per_clear = 0;
    // bprm_fill_uid: the effective ids start as the current ones (a previous binary's set-id is forgotten).
    new.euid = old.euid;
    new.egid = old.egid;
    // mnt_may_suid: a nosuid mount ignores both bits.
    if !file.nosuid {
        if file.mode & S_ISUID != 0 {
            per_clear |= PER_CLEAR_ON_SETID;
            new.euid = file.uid;
        }
        // Set-group-ID without group execute means mandatory locking, not set-id.
        if file.mode & (S_ISGID | S_IXGRP) == S_ISGID | S_IXGRP {
            per_clear |= PER_CLEAR_ON_SETID;
            new.egid = file.gid;
        }
    }

    // cap_bprm_creds_from_file. get_file_caps: the permitted set starts empty (no file capabilities).
    new.cap_ambient = old.cap_ambient;
    new.cap_permitted = 0;
    let mut effective = false;
    // handle_privileged_root: root (real or effective) gets the bounding set plus the inheritable one; the
    // effective set only when the effective uid is root.
    if new.euid == 0 || new.uid == 0 {
        new.cap_permitted = old.cap_bset | old.cap_inheritable;
    }
    if new.euid == 0 {
        effective = true;
    }
    if cap_gained(new.cap_permitted, old.cap_permitted) {
        per_clear |= PER_CLEAR_ON_SETID;
    }
    // __is_setuid / __is_setgid compare with the old *real* ids.
    let is_setid = new.euid != old.uid || new.egid != old.gid;
    // An unsafe exec gets no more than it had: the set-id ids only with CAP_SETUID, no new capability.
    if (is_setid || cap_gained(new.cap_permitted, old.cap_permitted)) && unsafe_share {
        if !old.capable(CAP_SETUID) {
            new.euid = new.uid;
            new.egid = new.gid;
        }
        new.cap_permitted &= old.cap_permitted;
    }
    new.suid = new.euid;
    new.fsuid = new.euid;
    new.sgid = new.egid;
    new.fsgid = new.egid;
    if is_setid {
        new.cap_ambient = 0;
    }
    new.cap_permitted |= new.cap_ambient;
    new.cap_effective = if effective { new.cap_permitted } else { new.cap_ambient };
    // Privilege-elevated exec: set-id, or capabilities gained by a non-root real user.
    let secureexec = is_setid || (new.uid != 0 && (effective || cap_gained(new.cap_permitted, new.cap_ambient)));
    ExecCreds {
        cred: new,
        per_clear,
        secureexec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::CAP_FULL_SET;

    fn file(mode: u32, uid: u32, gid: u32) -> FileMeta {
        FileMeta {
            path: "/bin/x".into(),
            dev_major: 0,
            dev_minor: 0,
            ino: 1,
            size: 0,
            mode: 0o100000 | mode,
            rdev_major: 0,
            rdev_minor: 0,
            noexec: false,
            nosuid: false,
            uid,
            gid,
        }
    }

    #[test]
    fn root_running_a_setgid_file_is_secure_and_keeps_its_capabilities() {
        let c = bprm_creds_from_file(&Cred::for_uid(0), &file(0o2755, 0, 42), false);
        assert_eq!((c.cred.uid, c.cred.euid, c.cred.suid, c.cred.fsuid), (0, 0, 0, 0));
        assert_eq!((c.cred.gid, c.cred.egid, c.cred.sgid, c.cred.fsgid), (0, 42, 42, 42));
        assert!(c.secureexec);
        assert_eq!(c.per_clear, PER_CLEAR_ON_SETID);
        assert_eq!(
            (c.cred.cap_permitted, c.cred.cap_effective),
            (CAP_FULL_SET, CAP_FULL_SET)
        );
    }

    #[test]
    fn root_running_a_setuid_root_file_changes_nothing_but_the_personality() {
        let c = bprm_creds_from_file(&Cred::for_uid(0), &file(0o4755, 0, 0), false);
        assert_eq!(c.cred, Cred::for_uid(0));
        assert!(!c.secureexec);
        assert_eq!(c.per_clear, PER_CLEAR_ON_SETID);
    }

    #[test]
    fn a_user_running_a_setuid_root_file_gains_every_capability() {
        let c = bprm_creds_from_file(&Cred::for_uid(1000), &file(0o4755, 0, 0), false);
        assert_eq!((c.cred.uid, c.cred.euid, c.cred.suid, c.cred.fsuid), (1000, 0, 0, 0));
        assert_eq!(
            (c.cred.cap_permitted, c.cred.cap_effective),
            (CAP_FULL_SET, CAP_FULL_SET)
        );
        assert!(c.secureexec);
        assert_eq!(c.per_clear, PER_CLEAR_ON_SETID);
    }

    #[test]
    fn setgid_without_group_exec_nosuid_and_plain_files_are_not_set_id() {
        let user = Cred::for_uid(1000);
        for f in [file(0o2705, 0, 42), file(0o755, 0, 0), {
            let mut f = file(0o6755, 0, 0);
            f.nosuid = true;
            f
        }] {
            let c = bprm_creds_from_file(&user, &f, false);
            assert_eq!(c.cred, user, "{:o}", f.mode);
            assert!(!c.secureexec);
            assert_eq!(c.per_clear, 0);
        }
    }

    #[test]
    fn an_exec_resets_saved_and_fs_ids_to_the_effective_ones() {
        let mut old = Cred::for_uid(1000);
        old.suid = 7;
        old.fsgid = 9;
        let c = bprm_creds_from_file(&old, &file(0o755, 0, 0), false);
        assert_eq!((c.cred.suid, c.cred.fsgid), (1000, 1000));
        // An effective uid that already differs from the real one makes any exec secure.
        old.euid = 5;
        let c = bprm_creds_from_file(&old, &file(0o755, 0, 0), false);
        assert!(c.secureexec);
        assert_eq!(c.per_clear, 0);
    }

    #[test]
    fn an_exec_sharing_its_fs_with_another_process_gains_nothing() {
        // A user: the set-user-ID root file keeps the user's ids and capabilities, but the exec is still secure.
        let c = bprm_creds_from_file(&Cred::for_uid(1000), &file(0o4755, 0, 0), true);
        assert_eq!(
            (c.cred.euid, c.cred.suid, c.cred.cap_permitted, c.cred.cap_effective),
            (1000, 1000, 0, 0)
        );
        assert!(c.secureexec);
        assert_eq!(c.per_clear, PER_CLEAR_ON_SETID);
        // root has CAP_SETUID: the set-group-ID file still applies.
        let c = bprm_creds_from_file(&Cred::for_uid(0), &file(0o2755, 0, 42), true);
        assert_eq!(c.cred.egid, 42);
    }
}
