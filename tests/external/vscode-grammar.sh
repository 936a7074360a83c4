#!/usr/bin/env bash
# The VS Code extension's TextMate grammar, loaded by vscode-textmate + vscode-oniguruma
# (the engine VS Code uses), must highlight every example and stdlib file without
# errors: no text left unscoped, no `invalid` scope (editors/vscode/test/grammar.test.js).
# Installs the pinned npm packages itself (`npm ci` from package-lock.json). Needs node.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ext="$root/editors/vscode"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "error: node and npm are needed for the grammar test" >&2
    exit 2
  fi
fi

cd "$ext"
npm ci --no-audit --no-fund --loglevel=error
node test/grammar.test.js
