//! `pstree -p` (psmisc 23.6) over the simulated task list, with the ASCII line drawing it uses when its
//! output is not a UTF-8 terminal (what `pstree -p | cat` prints on this machine, and `pstree -pA`).
//!
//! As psmisc builds it (`read_proc`, `add_proc`, `add_child`, `dump_tree`): the tree hangs from PID 1, so
//! kthreadd (parent 0) and its workers are not shown; every process appears as `comm(pid)` and its threads as
//! `{comm}(tid)`, named after the process's comm; the children of a node are sorted by name with `strcmp`
//! (threads' `{` sorts after letters), then by uid, equal names keeping pid order; the first child continues
//! the parent's line after `---` (only child) or `-+-`, the others start new lines under `|-` and `` `- ``
//! with `| ` continuing open branches. `-p` turns off the merging of identical subtrees. Lines are cut at
//! psmisc's default width for a non-terminal, 132 columns: column 132 becomes `+`.

use crate::kernel::Kernel;
use crate::task::{Pid, Task};

use super::task as pt;

/// psmisc's `output_width` when standard output is not a terminal.
pub const OUTPUT_WIDTH: usize = 132;

struct Node {
    name: String,
    /// The raw comm psmisc sorts by (`{comm}` for threads).
    key: Vec<u8>,
    uid: u32,
    children: Vec<usize>,
}

/// `out_args`: backslashes doubled, bytes outside `' '..='~'` as `\ooo`.
fn escape(comm: &str) -> String {
    let mut s = String::new();
    for &b in comm.as_bytes().iter().take(15) {
        match b {
            b'\\' => s.push_str("\\\\"),
            b' '..=b'~' => s.push(b as char),
            _ => s.push_str(&format!("\\{b:03o}")),
        }
    }
    s
}

/// The output, one line at a time with psmisc's truncation (`out_char`, `out_newline`).
struct Out {
    text: String,
    /// 1-based column of the next character (`cur_x`).
    cur_x: usize,
    width: usize,
}

impl Out {
    fn char(&mut self, c: char) {
        self.cur_x += 1;
        if self.cur_x <= self.width {
            self.text.push(c);
        } else if self.cur_x == self.width + 1 {
            self.text.push('+');
        }
    }
    fn str(&mut self, s: &str) {
        for c in s.chars() {
            self.char(c);
        }
    }
    fn newline(&mut self) {
        self.text.push('\n');
        self.cur_x = 1;
    }
}

struct Tree<'a> {
    nodes: Vec<Node>,
    width: Vec<usize>,
    more: Vec<bool>,
    out: &'a mut Out,
}

impl Tree<'_> {
    /// `dump_tree(current, level, rep = 1, leaf, last, ..)` with pids shown and compaction off.
    fn dump(&mut self, idx: usize, level: usize, leaf: bool, last: bool) {
        if !leaf {
            for lvl in 0..level {
                for _ in 0..=self.width[lvl] {
                    self.out.char(' ');
                }
                let sym = if lvl + 1 == level {
                    if last {
                        "`-"
                    } else {
                        "|-"
                    }
                } else if self.more[lvl + 1] {
                    "| "
                } else {
                    "  "
                };
                self.out.str(sym);
            }
        }
        let name = self.nodes[idx].name.clone();
        self.out.str(&name);
        let children = self.nodes[idx].children.clone();
        if children.is_empty() {
            self.out.newline();
            return;
        }
        if self.width.len() <= level {
            self.width.resize(level + 1, 0);
            self.more.resize(level + 1, false);
        }
        self.more[level] = !last;
        self.width[level] = name.chars().count();
        if self.out.cur_x >= self.out.width {
            self.out.str("-+-");
            self.out.str("+");
            self.out.newline();
            return;
        }
        let n = children.len();
        for (i, &c) in children.iter().enumerate() {
            if i == 0 {
                self.out.str(if n > 1 { "-+-" } else { "---" });
            }
            self.dump(c, level + 1, i == 0, i + 1 == n);
        }
    }
}

/// `pstree -p` of the whole machine (rooted at PID 1); empty when PID 1 does not exist.
pub fn render(kernel: &Kernel) -> String {
    render_from(kernel, Pid(1), OUTPUT_WIDTH)
}

/// `pstree -p PID` with an output width (`COLUMNS`); empty when `root` is not a process.
pub fn render_from(kernel: &Kernel, root: Pid, width: usize) -> String {
    let mut nodes: Vec<Node> = Vec::new();
    let mut index: std::collections::BTreeMap<Pid, usize> = std::collections::BTreeMap::new();
    let leaders: Vec<&Task> = kernel.tasks.values().filter(|t| t.pid == t.tgid).collect();
    for t in &leaders {
        index.insert(t.pid, nodes.len());
        nodes.push(Node {
            name: format!("{}({})", escape(&t.comm), t.pid.0),
            key: t.comm.as_bytes().iter().take(15).copied().collect(),
            uid: t.cred.uid,
            children: Vec::new(),
        });
    }
    // `add_child` in readdir (pid) order: a process's threads when the process is read, then the process
    // under its parent.
    for t in &leaders {
        let me = index[&t.pid];
        for th in pt::thread_group(kernel, t).into_iter().filter(|th| th.pid != t.pid) {
            let ti = nodes.len();
            nodes.push(Node {
                name: format!("{{{}}}({})", escape(&t.comm), th.pid.0),
                key: [b"{", &t.comm.as_bytes()[..t.comm.len().min(15)], b"}"].concat(),
                uid: t.cred.uid,
                children: Vec::new(),
            });
            add_child(&mut nodes, me, ti);
        }
        let ppid = Pid(pt::ppid(kernel, t));
        if let Some(&p) = index.get(&ppid) {
            if p != me {
                add_child(&mut nodes, p, me);
            }
        }
    }
    let Some(&root_idx) = index.get(&root) else {
        return String::new();
    };
    let mut out = Out {
        text: String::new(),
        cur_x: 1,
        width,
    };
    let mut tree = Tree {
        nodes,
        width: Vec::new(),
        more: Vec::new(),
        out: &mut out,
    };
    tree.dump(root_idx, 0, true, true);
    out.text
}

/// `add_child`: insert before the first sibling whose name sorts after (or equal name, higher uid).
fn add_child(nodes: &mut [Node], parent: usize, child: usize) {
    let at = {
        let sibs = &nodes[parent].children;
        let (key, uid) = (&nodes[child].key, nodes[child].uid);
        sibs.iter()
            .position(|&s| match nodes[s].key.cmp(key) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => nodes[s].uid > uid,
                std::cmp::Ordering::Less => false,
            })
            .unwrap_or(sibs.len())
    };
    nodes[parent].children.insert(at, child);
}
