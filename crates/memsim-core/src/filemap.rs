//! The page cache (`mm/filemap.c`): file pages shared by every mapping of the same inode.
//! STUB: to be filled in (issue 2, item 6).

/// Cached pages of every inode, keyed by (inode, page index).
#[derive(Debug, Default)]
pub struct PageCache {}
