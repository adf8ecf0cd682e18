#!/usr/bin/env bash
# Record a real program's strace log the way memsim replays it, then replay it:
#   examples/replay/record.sh LOG PROGRAM [ARGS...]   e.g.   examples/replay/record.sh /tmp/ls.log ls /
# The program runs in a session of its own (no controlling terminal, as in the model), ASLR is off (setarch -R) and the limits are the model's defaults (RLIMIT_STACK 8 MiB soft, ...), the
# environment is small and fixed, and the working directory is / (the model's). The same commands run in
# crates/memsim-scenario/tests/replay.rs.
set -euo pipefail
log=$(realpath -m "$1")
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd /
env -i PATH=/usr/bin:/bin HOME=/ LANG=C \
  setsid -w setarch -R prlimit --stack=8388608:unlimited --nofile=1024:4096 --nproc=32768:32768 --sigpending=32768:32768 --memlock=8388608:8388608 --core=0:unlimited \
  strace -f -y -v -e trace=%memory,%process,%file -o "$log" -- "$@" </dev/null >/dev/null
# memsim from PATH, else this checkout's release build.
if command -v memsim >/dev/null; then
  memsim=memsim
else
  cargo build --release -q --manifest-path "$repo/Cargo.toml" -p memsim-cli
  memsim=$repo/target/release/memsim
fi
exec "$memsim" run --aslr 0 --rlimit STACK=8M:unlimited "$log"
