#!/usr/bin/env bash
# Real validators on the Kubernetes target's output:
#   - kubernetes-validate --strict against Kubernetes 1.33 (built-in kinds; the CRD kinds
#     are schema-checked in `cargo test -p plinth-targets` instead),
#   - promtool check rules on every PrometheusRule's rule groups, and promtool test rules
#     with the unit tests in tests/external/promtool/ (a fast burn pages, a slow burn
#     opens a ticket, a healthy service stays quiet),
#   - checkov (kubernetes framework, offline) with the skip list in checkov-skip.txt.
#     checkov's pod checks do not look inside Argo Rollouts, so each Rollout's pod template
#     is also scanned wrapped in a Deployment.
#
# The target writes one multi-document file per service (`<service>.yaml`); every tool
# here reads multi-document YAML, and the rules are extracted per service.
#
# promtool unit tests are per environment and service: promtool/<env>/<service>.test.yaml
# runs against `<service>`'s rules in any `.../<env>/kubernetes` tree that has it, with
# the namespace's shared SLI recordings (`plinth-sli.yaml`, extracted as
# `plinth-sli.rules.yaml`) beside them.
#
# Usage:
#   tests/external/kubernetes.sh DIR...   validate these `out/<env>/kubernetes` trees
#   tests/external/kubernetes.sh          build every example with $PLINTH_BIN (or cargo)
#                                         and the target's test fixture, validate them all
#
# Installs what it needs: promtool (Debian's `prometheus` package) when missing, and a
# venv at .venv/validators pinned by constraints-tools.txt. Exit 1 when any check fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$root/.venv/validators"
constraints="$here/constraints-tools.txt"

say() { printf '%s\n' "$*"; }
die() { say "error: $*" >&2; exit 2; }

# ---- tools ----
if ! command -v promtool >/dev/null 2>&1; then
  say "== installing promtool (apt: prometheus)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
stamp="$venv/.installed-$(sha256sum "$constraints" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  say "== installing kubernetes-validate and checkov into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" \
    kubernetes-validate==1.37.0 checkov==3.3.30
  touch "$stamp"
fi

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
    [ -f "$example/plinth.toml" ] || continue  # examples/ci is a CI recipe, not a workspace
    name=$(basename "$example")
    "$bin" build "$example" --target kubernetes --out "$work/examples/$name" >/dev/null
  done
  # The fixture covers every rollout strategy, which the examples may not.
  (cd "$root" && PLINTH_K8S_OUT="$work/fixture" cargo test --quiet -p plinth-targets \
    fixture_output_is_written_for_external_validators >/dev/null)
  while IFS= read -r d; do dirs+=("$d"); done \
    < <(find "$work/examples" "$work/fixture" -type d -name kubernetes | sort)
fi
[ ${#dirs[@]} -gt 0 ] || die "nothing to validate"

failures=0
check() {
  local what=$1
  shift
  say "-- $what"
  if "$@"; then
    say "   ok"
  else
    say "   FAILED: $what"
    failures=$((failures + 1))
  fi
}

skips=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/checkov-skip.txt" | grep -v '^$' | paste -sd, -)

n=0
for dir in "${dirs[@]}"; do
  n=$((n + 1))
  say "== $dir"
  env_name=$(basename "$(dirname "$dir")")
  mapfile -t files < <(find "$dir" -name '*.yaml' | sort)
  if [ ${#files[@]} -eq 0 ]; then
    say "   no objects (no services in this environment): nothing to validate"
    continue
  fi

  check "kubernetes-validate --strict -k 1.33.0 (${#files[@]} files, $(cat "${files[@]}" | grep -c '^kind: ') objects)" \
    "$venv/bin/kubernetes-validate" --strict -k 1.33.0 --no-warn --quiet "${files[@]}"

  # One rules file per service: the groups of its PrometheusRule, as Prometheus reads them.
  rules="$work/rules-$n"
  mkdir -p "$rules"
  # And each Rollout's pod template as a Deployment, for checkov's pod checks, in a copy
  # of the tree that checkov scans.
  scan="$work/scan-$n"
  cp -r "$dir" "$scan"
  pods="$scan/_rollout_pods"
  mkdir -p "$pods"
  "$venv/bin/python" - "$dir" "$rules" "$pods" <<'PY'
import pathlib, sys, yaml
src, rules, pods = (pathlib.Path(a) for a in sys.argv[1:4])
# One multi-document file per service: `<service>.yaml`.
for path in sorted(src.rglob("*.yaml")):
    service = path.stem
    for doc in yaml.safe_load_all(path.read_text()):
        if doc.get("kind") == "PrometheusRule":
            (rules / f"{service}.rules.yaml").write_text(yaml.safe_dump(doc["spec"], sort_keys=False))
        if doc.get("kind") == "Rollout":
            spec = doc["spec"]
            deployment = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": doc["metadata"],
                "spec": {"selector": spec["selector"], "template": spec["template"]},
            }
            (pods / f"{service}-rollout-pods.yaml").write_text(yaml.safe_dump(deployment, sort_keys=False))
PY
  mapfile -t rule_files < <(find "$rules" -name '*.rules.yaml' | sort)
  if [ ${#rule_files[@]} -gt 0 ]; then
    check "promtool check rules (${#rule_files[@]} services)" promtool check rules "${rule_files[@]}"
  fi
  for test in "$here/promtool/$env_name"/*.test.yaml; do
    [ -e "$test" ] || continue
    service=$(basename "$test" .test.yaml)
    if [ -e "$rules/$service.rules.yaml" ]; then
      cp "$test" "$rules/"
      check "promtool test rules $env_name/$(basename "$test")" \
        bash -c 'cd "$1" && promtool test rules "$2"' _ "$rules" "$(basename "$test")"
    else
      say "-- promtool test rules $env_name/$(basename "$test"): not run, $dir has no $service"
    fi
  done

  report="$work/checkov-$n.json"
  say "-- checkov --framework kubernetes (skipping $skips)"
  set +e
  CKV_PARSE_ERROR_FAIL=true "$venv/bin/checkov" -d "$scan" --framework kubernetes \
    --skip-download --quiet --compact --skip-check "$skips" -o json >"$report" 2>"$report.err"
  code=$?
  set -e
  check "checkov: exit $code, no failed checks, every file parsed, resources found" \
    "$venv/bin/python" - "$report" "$code" <<'PY'
import json, sys
path, code = sys.argv[1], int(sys.argv[2])
try:
    report = json.load(open(path))
except ValueError:
    print(open(path).read()[-2000:], open(path + ".err").read()[-2000:])
    sys.exit(1)
reports = report if isinstance(report, list) else [report]
summary = {k: sum(r.get("summary", {}).get(k, 0) for r in reports)
           for k in ("passed", "failed", "skipped", "resource_count", "parsing_errors")}
print("   checkov summary:", summary)
for r in reports:
    for f in r.get("results", {}).get("failed_checks", []):
        print(f"   {f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']})")
ok = code == 0 and summary["failed"] == 0 and summary["parsing_errors"] == 0 and summary["resource_count"] > 0
sys.exit(0 if ok else 1)
PY
done

if [ "$failures" -gt 0 ]; then
  say "== $failures check(s) failed"
  exit 1
fi
say "== all checks passed on ${#dirs[@]} output tree(s)"
