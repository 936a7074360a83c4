#!/usr/bin/env bash
# Times `plinth check` on synthetic workspaces of 1,000 and 5,000 services.
#
#   bench/run.sh            # sizes 1000 5000
#   bench/run.sh 200 20000  # other sizes
#   PLINTH=target/debug/plinth bench/run.sh 100   # time another binary, no build
#
# Builds the release binary, generates bench/work/nNNNN with bench/gen.py, and
# reports wall time and peak memory (Max RSS) from /usr/bin/time -v for one cold run,
# then hyperfine's mean over repeated runs when hyperfine is installed.
# `plinth check` exits 0 (clean), 1 (policy errors) or 2 (spec errors); all three are
# timed and the exit code is printed. Anything else (a crash) fails the script.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then
  sizes=(1000 5000)
fi

# PLINTH=/path/to/plinth skips the build and times that binary instead.
if [ -n "${PLINTH:-}" ]; then
  bin="$PLINTH"
else
  cargo build --release --quiet
  bin="$root/target/release/plinth"
fi
if [ ! -x "$bin" ]; then
  echo "error: $bin was not built" >&2
  exit 1
fi

mkdir -p bench/work
have_time=0
[ -x /usr/bin/time ] && have_time=1
have_hyperfine=0
command -v hyperfine >/dev/null 2>&1 && have_hyperfine=1

printf '%-8s %-6s %-10s %-12s %s\n' services exit wall_s max_rss_mb files
for n in "${sizes[@]}"; do
  dir="bench/work/n$(printf '%04d' "$n")"
  python3 bench/gen.py "$n" "$dir" >/dev/null
  files=$(find "$dir" -maxdepth 1 -name '*.plinth' | wc -l)
  log="bench/work/n$(printf '%04d' "$n").time"

  set +e
  if [ "$have_time" -eq 1 ]; then
    /usr/bin/time -v -o "$log" "$bin" check "$dir" >/dev/null 2>"$log.stderr"
  else
    TIMEFORMAT='Elapsed (wall clock) time (h:mm:ss or m:ss): 0:%R'
    { time "$bin" check "$dir" >/dev/null 2>"$log.stderr"; } 2>"$log"
  fi
  code=$?
  set -e
  if [ "$have_time" -eq 1 ] && grep -q '^Command exited with non-zero status' "$log"; then
    code=$(sed -n 's/^Command exited with non-zero status \([0-9]*\)$/\1/p' "$log")
  fi
  if [ "$code" -gt 2 ]; then
    echo "error: plinth check $dir exited $code; stderr in $log.stderr" >&2
    exit 1
  fi

  # "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23" -> seconds
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log" \
    | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.3f", s }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log" \
    | awk '{ printf "%.1f", $1 / 1024 }')
  printf '%-8s %-6s %-10s %-12s %s\n' "$n" "$code" "${wall:-?}" "${rss:-?}" "$files"
done

if [ "$have_hyperfine" -eq 1 ]; then
  for n in "${sizes[@]}"; do
    dir="bench/work/n$(printf '%04d' "$n")"
    # -i: exit codes 1 and 2 are findings, not failures of the benchmark.
    hyperfine -N -i --warmup 1 --runs 5 --export-markdown "bench/work/n$(printf '%04d' "$n").md" \
      "$bin check $dir"
  done
else
  echo "(hyperfine not installed: single cold runs only; apt-get install -y hyperfine for means)"
fi
