#!/usr/bin/env bash
# The floor under `plinth build`: how long writing the same files takes with nothing
# else to do. Lists the files of TREE (a folder `plinth build --out` wrote, on the
# filesystem to measure), then writes files of the same sizes at the same paths into a
# fresh folder next to it with two threads, RUNS times (default 3), per target and for
# the whole tree, and prints the fastest wall time and its user/system seconds.
#
#   cargo run --release -- build bench/work/n5000 --out /dev/shm/all --today 2026-11-24
#   bench/floor.sh /dev/shm/all
#
# Each run gets the scheduler priority `bench/phases.sh` gives (when the shell may).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tree=${1:?usage: bench/floor.sh TREE}
tree=${tree%/}
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work" "$tree.floor"' EXIT
rustc -O --edition 2021 "$root/bench/floor.rs" -o "$work/floor"
(cd "$tree" && find . -type f -printf '%s %P\n' | sort -k2) > "$work/all"
targets=$(sed -n 's#^[0-9]* [^/]*/\([^/]*\)/.*#\1#p' "$work/all" | sort -u)
for part in $targets all; do
  if [ "$part" = all ]; then cp "$work/all" "$work/list"; else grep " [^/]*/$part/" "$work/all" > "$work/list"; fi
  best=""
  for _ in $(seq "$runs"); do
    rm -rf "$tree.floor"
    r=$(setsid bash -c 'echo -20 > /proc/self/autogroup 2>/dev/null; exec /usr/bin/time -f "%U %S" "$@" 2>&1' _ "$work/floor" "$work/list" "$tree.floor" 2)
    ms=$(echo "$r" | sed -n 's/.*threads: \([0-9.]*\) ms/\1/p')
    cpu=$(echo "$r" | tail -1)
    if [ -z "$best" ] || awk "BEGIN{exit !($ms < $best)}"; then best=$ms; bestcpu=$cpu; fi
  done
  printf "%12s %6d files %10d bytes %8.1f ms wall  (user sys: %s s)\n" "$part" \
    "$(wc -l < "$work/list")" "$(awk '{s+=$1} END {print s}' "$work/list")" "$best" "$bestcpu"
done
