#!/usr/bin/env bash
# Real validators on the Triton target and the ONNX signature check:
#   - the ONNX fixtures in tests/fixtures/onnx/ are remade by their script (same bytes),
#     pass onnx.checker and run in onnxruntime; the truncated one fails to load;
#   - every config.pbtxt written for the examples, the fixture workspace and the target's
#     test fixtures (hostile names, CPU, python backend) is parsed strictly with
#     tritonclient's model_config_pb2 (text_format: unknown fields and enums fail), and
#     hostile names read back exactly;
#   - configs are cross-checked with the ONNX models they serve;
#   - `plinth check` is clean on the fixture workspace, reports each annotated code of
#     mismatch.plinth.in, and names both dtypes when the fraud example's feature type
#     is changed against its bundled model.
#
# Usage: tests/external/triton.sh   (uses $PLINTH_BIN, or builds plinth with cargo)
# Installs what it needs: a venv at .venv/triton pinned by constraints-tools.txt.
# Exit 1 when any check fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$root/.venv/triton"
constraints="$here/constraints-tools.txt"
fixtures="$root/tests/fixtures/onnx"
check_py="$here/triton_check.py"

say() { printf '%s\n' "$*"; }
failures=0
bad() { say "FAIL $*"; failures=$((failures + 1)); }

# ---- tools ----
stamp="$venv/.installed-$(sha256sum "$constraints" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  say "== installing onnx, onnxruntime and tritonclient[grpc] into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" \
    onnx==1.23.2 onnxruntime==1.32.0 "tritonclient[grpc]==2.73.0"
  touch "$stamp"
fi
py="$venv/bin/python"

bin=${PLINTH_BIN:-}
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --quiet -p plinth)
  bin="$root/target/debug/plinth"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- ONNX fixtures: reproducible and real ----
say "== ONNX fixtures"
mkdir -p "$work/remade"
cp "$fixtures/make_fixtures.py" "$work/remade/"
"$py" "$work/remade/make_fixtures.py" >/dev/null
for f in "$fixtures"/models/*.onnx; do
  cmp -s "$f" "$work/remade/models/$(basename "$f")" \
    || bad "$(basename "$f") differs from what make_fixtures.py makes"
done
"$py" "$check_py" onnx \
  "$fixtures/models/scorer.onnx" "$fixtures/models/typed.onnx" "$fixtures/models/no_batch.onnx" \
  "$root/examples/fraud-detection/models/fraud_scorer.onnx" \
  --corrupt "$fixtures/models/truncated.onnx" || bad "onnx fixtures"

# ---- the signature check, through the CLI ----
say "== plinth check against real models"
if "$bin" check "$fixtures" >"$work/clean.txt" 2>&1; then
  say "ok   fixture workspace checks clean"
else
  cat "$work/clean.txt"; bad "fixture workspace does not check clean"
fi
cp -r "$fixtures" "$work/mismatch"
mv "$work/mismatch/mismatch.plinth.in" "$work/mismatch/mismatch.plinth"
status=0
"$bin" check "$work/mismatch" --format json >"$work/mismatch.json" 2>/dev/null || status=$?
[ "$status" = 2 ] || bad "mismatch workspace: exit $status, expected 2"
while IFS= read -r code; do
  grep -q "\"$code\"" "$work/mismatch.json" || bad "mismatch workspace: no $code diagnostic"
done < <(grep -o 'error\[plinth::onnx::[a-z]*\]' "$fixtures/mismatch.plinth.in" \
  | sed 's/error\[\(.*\)\]/\1/' | sort -u)
say "ok   mismatch workspace: exit 2 with every annotated plinth::onnx code"

cp -r "$root/examples/fraud-detection" "$work/fraud-dtype"
rm -rf "$work/fraud-dtype/out"
sed -i 's/feature txn_count_1h { type: int64/feature txn_count_1h { type: float64/' \
  "$work/fraud-dtype/data.plinth"
status=0
"$bin" check "$work/fraud-dtype" >"$work/fraud-dtype.txt" 2>&1 || status=$?
if [ "$status" = 2 ] && grep -q 'is float64 in the spec but int64 in `models/fraud_scorer.onnx`' \
    "$work/fraud-dtype.txt"; then
  say "ok   fraud example with txn_count_1h as float64: $(grep -o 'input `txn_count_1h`.*onnx`' "$work/fraud-dtype.txt" | head -1)"
else
  cat "$work/fraud-dtype.txt"; bad "fraud dtype change: exit $status, diagnostic missing"
fi

# ---- generated configs, parsed strictly ----
say "== config.pbtxt, strict parse with tritonclient's model_config_pb2"
roots=()
for example in "$root"/examples/*/ "$fixtures/"; do
  [ -f "$example/plinth.toml" ] || continue  # examples/ci is a CI recipe, not a workspace
  name=$(basename "$example")
  "$bin" build "$example" --target triton --out "$work/build/$name" >/dev/null 2>&1 \
    || { bad "plinth build $example failed"; continue; }
  [ -d "$work/build/$name" ] && find "$work/build/$name" -name config.pbtxt | grep -q . \
    && roots+=("$work/build/$name")
done
(cd "$root" && PLINTH_TRITON_OUT="$work/target-fixtures" cargo test --quiet -p plinth-targets \
  triton::tests::fixture_output_is_written_for_external_validators >/dev/null) \
  || bad "writing the target's test fixtures failed"
roots+=("$work/target-fixtures")
"$py" "$check_py" configs --expected-names "$work/target-fixtures/expected-names.json" \
  "${roots[@]}" || bad "strict config parse"

# ---- configs against the models they serve ----
say "== configs against their ONNX models"
for pair in \
  "fraud-detection/prod/triton/model_repository/fraud_scorer:$root/examples/fraud-detection/models/fraud_scorer.onnx" \
  "fraud-detection/staging/triton/model_repository/fraud_scorer:$root/examples/fraud-detection/models/fraud_scorer.onnx" \
  "onnx/prod/triton/model_repository/scorer:$fixtures/models/scorer.onnx" \
  "onnx/prod/triton/model_repository/typed_scorer:$fixtures/models/typed.onnx" \
  "onnx/prod/triton/model_repository/fixed_scorer:$fixtures/models/no_batch.onnx"; do
  config="$work/build/${pair%%:*}/config.pbtxt"
  "$py" "$check_py" cross "$config" "${pair#*:}" || bad "cross check ${pair%%:*}"
done

if [ "$failures" -gt 0 ]; then
  say "triton: $failures check(s) failed"
  exit 1
fi
say "triton: all checks passed"
