#!/usr/bin/env bash
# `plinth graph --format svg` renders every example through graphviz's `dot` (installed
# with apt when missing), and the SVG is well-formed XML with every node of the DOT
# output in it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
plinth=${PLINTH_BIN:-}
if [ -z "$plinth" ]; then
  (cd "$root" && cargo build --quiet -p plinth)
  plinth="$root/target/debug/plinth"
fi

if ! command -v dot >/dev/null; then
  apt-get update -qq && apt-get install -y -qq graphviz >/dev/null
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
for ws in "$root"/examples/*/; do
  name=$(basename "$ws")
  [ -e "$ws/plinth.toml" ] || continue
  "$plinth" graph "$ws" --format dot > "$out/$name.dot"
  "$plinth" graph "$ws" --format svg --out "$out/$name.svg"
  if ! python3 -c 'import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); sys.exit(0 if r.tag.endswith("svg") else 1)' "$out/$name.svg"; then
    echo "FAIL $name: not an SVG document"
    status=1
    continue
  fi
  missing=0
  for node in $(grep -oE '^  "[a-z0-9_]+" \[' "$out/$name.dot" | tr -d ' "[' ); do
    grep -q "<title>$node</title>" "$out/$name.svg" || { echo "FAIL $name: node $node missing from the SVG"; missing=1; }
  done
  [ $missing -eq 0 ] || status=1
  echo "ok $name: $(grep -c '<g id="node' "$out/$name.svg") nodes, $(grep -c '<g id="edge' "$out/$name.svg") edges"
done
exit $status
