#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script).
#   1. cargo test over the workspace: unit tests, the data suites in tests/, property
#      tests, golden files, incrementality and JSON Schema validation;
#   2. the external suite: real validators (promtool, kubernetes-validate, checkov, ...)
#      on the output of every example. Each script in tests/external/ installs what it
#      needs itself (apt packages, a Python venv under .venv/).
# Set PLINTH_SKIP_EXTERNAL=1 to run only step 1 while iterating locally.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test"
cargo test --workspace --quiet

if [ "${PLINTH_SKIP_EXTERNAL:-0}" = "1" ]; then
  echo "== external validators skipped (PLINTH_SKIP_EXTERNAL=1)"
  exit 0
fi

echo "== external validators"
cargo build --quiet -p plinth
export PLINTH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/plinth"
status=0
for script in tests/external/*.sh; do
  [ -e "$script" ] || continue
  echo "-- $script"
  if ! bash "$script"; then
    echo "FAILED: $script"
    status=1
  fi
done
exit $status
