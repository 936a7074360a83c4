#!/usr/bin/env bash
# Real Airflow on the Airflow target's output: every generated DAG file is loaded with
# Airflow's own DagBag (apache-airflow 3.3.2 + apache-airflow-providers-cncf-kubernetes
# 10.25.0, offline, no database), must import without errors, must serialize as the
# scheduler stores it, and each DAG's task ids and edges must equal what the spec implies
# (tests/golden/<example>/<env>/airflow/expected-graph.json, written from the spec by
# tests/airflow.rs, never from the DAG files). The checker is airflow_dagbag.py.
#
# Usage:
#   tests/external/airflow.sh                   build every example (all environments)
#                                               with $PLINTH_BIN (or cargo) and check them
#   tests/external/airflow.sh DAGS EXPECTED     check one folder of DAG files
#
# Installs what it needs: a venv at .venv/airflow pinned by constraints-airflow.txt
# (copied from the validators' freeze). Exit 1 when any check fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$root/.venv/airflow"
constraints="$here/constraints-airflow.txt"

say() { printf '%s\n' "$*"; }
die() { say "error: $*" >&2; exit 2; }

stamp="$venv/.installed-$(sha256sum "$constraints" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  say "== installing apache-airflow 3.3.2 and the cncf.kubernetes provider into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" \
    apache-airflow==3.3.2 apache-airflow-providers-cncf-kubernetes==10.25.0
  touch "$stamp"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A scratch Airflow home: DagBag needs no database; only logs/ gets created here.
export AIRFLOW_HOME="$work/airflow-home"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False

failures=0
checked=0
check() { # DAGS_DIR EXPECTED_JSON LABEL
  say "-- DagBag: $3"
  checked=$((checked + 1))
  if "$venv/bin/python" "$here/airflow_dagbag.py" "$1" "$2" 2> "$work/stderr"; then
    say "   ok"
  else
    tail -n 30 "$work/stderr"
    say "   FAILED: $3"
    failures=$((failures + 1))
  fi
}

if [ $# -eq 2 ]; then
  check "$1" "$2" "$1"
else
  [ $# -eq 0 ] || die "usage: $0 [DAGS_DIR EXPECTED_JSON]"
  bin=${PLINTH_BIN:-}
  if [ -z "$bin" ]; then
    (cd "$root" && cargo build --quiet -p plinth)
    bin="$root/target/debug/plinth"
  fi
  for example in "$root"/examples/*/; do
    [ -f "$example/plinth.toml" ] || continue  # examples/ci is a CI recipe, not a workspace
    name=$(basename "$example")
    "$bin" build "$example" --target airflow --out "$work/out/$name" 2>/dev/null \
      || die "plinth build $example --target airflow failed"
    for golden in "$root/tests/golden/$name"/*/airflow; do
      env_name=$(basename "$(dirname "$golden")")
      dags="$work/out/$name/$env_name/airflow/dags"
      if [ ! -d "$dags" ]; then
        # An environment without pipelines writes no DAGs; the spec must agree.
        mkdir -p "$dags"
      fi
      check "$dags" "$golden/expected-graph.json" "examples/$name --env $env_name"
    done
  done
fi

[ "$checked" -gt 0 ] || die "nothing was checked"
if [ "$failures" -gt 0 ]; then
  say "== $failures of $checked DAG folder(s) failed"
  exit 1
fi
say "== all $checked DAG folder(s) import cleanly with the task graphs the spec implies"
