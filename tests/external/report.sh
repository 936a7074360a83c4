#!/usr/bin/env bash
# `plinth report` as a person sees it: for every example, build the evidence and the
# HTML report, open the page in headless Chromium (Debian's `chromium`), and check
#   - the page renders (a screenshot is taken, kept under out/report-screenshots/),
#   - the rendered DOM shows every model's name and has the lineage graph (an <svg>)
#     and the scorecard,
#   - the browser logged no console error (`Uncaught`, `ERROR:CONSOLE`), and the page
#     references nothing outside itself (no external src/href, script, stylesheet).
# Then the bad-input case: a copy of the fraud example whose strings hold HTML, Markdown
# and newlines must render them as text (no injected element in the DOM).
#
# Usage: tests/external/report.sh   (uses $PLINTH_BIN, or builds with cargo)
# Installs `chromium` with apt-get when missing. Exit 1 when a check fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
artifacts="$root/out/report-screenshots"
failed=0

say() { printf '%s\n' "$*"; }
fail() { say "FAIL: $*"; failed=1; }

if ! command -v chromium >/dev/null 2>&1; then
  say "== installing chromium (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [ -z "${PLINTH_BIN:-}" ]; then
  (cd "$root" && cargo build --quiet -p plinth)
  PLINTH_BIN="$root/target/debug/plinth"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

chrome() {
  # $1: page, $2: what (--dump-dom | --screenshot=FILE); stderr goes to $3.
  local profile
  profile=$(mktemp -d "$work/profile.XXXXXX")
  timeout 120 chromium --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync \
    --no-first-run --disable-dev-shm-usage --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 --window-size=1280,2000 \
    "$2" "file://$1" 2>"$3"
}

check_page() {
  # $1: label, $2: page, $3...: names that must appear in the rendered DOM.
  local label=$1 page=$2
  shift 2
  local dom="$work/$label.dom.html" log="$work/$label.log"
  if ! chrome "$page" --dump-dom "$log" >"$dom"; then
    fail "$label: chromium could not render $page"; cat "$log"; return
  fi
  chrome "$page" "--screenshot=$artifacts/$label.png" "$work/$label.shot.log" >/dev/null || true
  [ -s "$artifacts/$label.png" ] || fail "$label: no screenshot"
  grep -q '<svg' "$dom" || fail "$label: no lineage graph (<svg>) in the DOM"
  grep -q 'id="scorecard"' "$dom" || fail "$label: no scorecard section"
  for name in "$@"; do
    grep -q "id=\"model-$name\"" "$dom" || fail "$label: no card anchor for model $name"
    grep -q ">$name<" "$dom" || fail "$label: model $name not shown"
  done
  if grep -E 'Uncaught|ERROR:CONSOLE|console\.error' "$log" "$work/$label.shot.log"; then
    fail "$label: console errors"
  fi
  # A self-contained page fetches nothing: no external src/href, stylesheet, import or
  # url(); its only links are in-page anchors and the model cards beside it.
  if grep -Eo '(src|href|xlink:href)="[^"]*"' "$page" | grep -Ev '="(#|evidence/models/)' | grep -q .; then
    fail "$label: the page references something outside itself"
  fi
  if grep -Eiq '<link|<script|@import|url\((https?:)?//' "$page"; then
    fail "$label: the page loads a stylesheet, script or remote resource"
  fi
  say "ok    $label ($(wc -c <"$page") bytes, screenshot out/report-screenshots/$label.png)"
}

for example in "$root"/examples/*/; do
  [ -e "$example/plinth.toml" ] || continue
  name=$(basename "$example")
  out="$work/$name"
  "$PLINTH_BIN" build "$example" --out "$out" >/dev/null 2>"$work/$name.build.log" \
    || { fail "$name: build failed"; cat "$work/$name.build.log"; continue; }
  "$PLINTH_BIN" report "$example" --out "$out/report.html" 2>"$work/$name.report.log" \
    || { fail "$name: report failed"; cat "$work/$name.report.log"; continue; }
  models=$(grep -ho '^model [a-z_][a-z0-9_]*' "$example"/*.plinth | awk '{print $2}' | sort -u)
  # shellcheck disable=SC2086
  check_page "$name" "$out/report.html" $models
done

# Bad input: spec strings that look like markup stay text.
hostile="$work/hostile"
cp -r "$root/examples/fraud-detection" "$hostile"
rm -rf "$hostile/out"
python3 - "$hostile/models.plinth" <<'EOF'
import sys
path = sys.argv[1]
text = open(path).read()
bad = '<script>alert(1)</script> <img src=x onerror=alert(2)> | *em* `code` \\n# not a heading &amp;'
text = text.replace('purpose: "Score card payments for fraud before authorization"',
                    'purpose: "' + bad.replace('"', '\\"') + '"', 1)
open(path, 'w').write(text)
EOF
"$PLINTH_BIN" report "$hostile" --out "$work/hostile.html" 2>"$work/hostile.report.log" \
  || { fail "hostile: report failed"; cat "$work/hostile.report.log"; }
if [ -s "$work/hostile.html" ]; then
  check_page hostile "$work/hostile.html" fraud_scorer
  dom="$work/hostile.dom.html"
  grep -q '<script' "$dom" && fail "hostile: a <script> element reached the DOM"
  grep -q '<img' "$dom" && fail "hostile: an <img> element reached the DOM"
  grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$dom" \
    || fail "hostile: the purpose is not shown as text"
  "$PLINTH_BIN" build "$hostile" --env prod --target evidence --out "$work/hostile-out" >/dev/null 2>&1 \
    || fail "hostile: build failed"
  card="$work/hostile-out/prod/evidence/models/fraud_scorer.md"
  grep -qF '\<script\>alert\(1\)\</script\>' "$card" || fail "hostile: the card does not escape the purpose"
fi

exit $failed
