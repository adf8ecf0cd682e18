//! Minimal signal state (`kernel/signal.c`): default actions, SIGCHLD to the parent, `kill`.
