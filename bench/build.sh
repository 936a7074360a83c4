#!/usr/bin/env bash
# Times `plinth build` on synthetic workspaces: `--target kubernetes` alone and all
# targets, each run RUNS times (default 3) into a fresh output folder, printing the
# median of each figure.
#
#   bench/build.sh                 # sizes 1000 5000, output under bench/work/out
#   bench/build.sh 200 20000       # other sizes
#   OUT=/dev/shm/plinth-out bench/build.sh 5000   # write to tmpfs (no disk in the figure)
#   PLINTH=target/debug/plinth RUNS=1 bench/build.sh 100
#
# Columns: the process's wall, user and system seconds and peak RSS (/usr/bin/time);
# `render_ms`/`write_ms` and their CPU ms are the Kubernetes target's own phases from
# PLINTH_TIMINGS=1 (for all targets: the sum over targets); files and bytes written.
# The previous output is removed before each run (not timed), so every run writes a
# new tree; `load` is the 1-minute load average before the run (the machine is shared).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000)
runs=${RUNS:-3}
out=${OUT:-$root/bench/work/out}

if [ -n "${PLINTH:-}" ]; then
  bin="$PLINTH"
else
  cargo build --release --quiet
  bin="$root/target/release/plinth"
fi
[ -x "$bin" ] || { echo "error: $bin was not built" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "error: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
mkdir -p bench/work

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-8s %-11s %-7s %-7s %-7s %-7s %-9s %-9s %-9s %-9s %-6s %-11s %s\n' \
  services target wall_s user_s sys_s rss_mb render_ms r_cpu_ms write_ms w_cpu_ms files bytes load
for n in "${sizes[@]}"; do
  dir="bench/work/n$(printf '%04d' "$n")"
  python3 bench/gen.py "$n" "$dir" >/dev/null
  for target in kubernetes all; do
    args=(build "$dir" --out "$out")
    phase='kubernetes'
    if [ "$target" = kubernetes ]; then
      args+=(--target kubernetes)
    else
      phase='[a-z]+'
    fi
    rows=()
    for _ in $(seq "$runs"); do
      rm -rf "$out"
      load=$(cut -d' ' -f1 /proc/loadavg)
      log=$(mktemp)
      PLINTH_TIMINGS=1 /usr/bin/time -f 'TIME %e %U %S %M' "$bin" "${args[@]}" >/dev/null 2>"$log" || {
        tail -20 "$log" >&2; echo "error: plinth build failed" >&2; exit 1; }
      # "render kubernetes:   12.3 ms (20 ms CPU, peak 440 MB)" -> wall and CPU, summed over targets.
      sum() {
        grep -E "^ *$1 $phase: " "$log" \
          | sed -E 's/.*: +([0-9.]+) ms(.*\(([0-9]+) ms CPU[^)]*\))?.*/\1 \3/' \
          | awk '{w+=$1; c+=$2} END {printf "%.1f %.0f", w, c}'
      }
      read -r rw rc <<<"$(sum render)"
      read -r ww wc <<<"$(sum write)"
      read -r _ wall user sys rss <<<"$(grep '^TIME ' "$log")"
      read -r files bytes <<<"$(sed -nE 's/^wrote ([0-9]+) files \(([0-9]+) bytes\).*/\1 \2/p' "$log")"
      rows+=("$wall $user $sys $((rss / 1024)) $rw $rc $ww $wc $files $bytes $load")
      rm -f "$log"
    done
    col() { printf '%s\n' "${rows[@]}" | awk -v c="$1" '{print $c}' | median; }
    printf '%-8s %-11s %-7s %-7s %-7s %-7s %-9s %-9s %-9s %-9s %-6s %-11s %s\n' \
      "$n" "$target" "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)" \
      "$(col 7)" "$(col 8)" "$(col 9)" "$(col 10)" "$(col 11)"
  done
done
rm -rf "$out"
