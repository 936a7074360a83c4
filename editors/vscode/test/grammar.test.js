// Grammar test: the TextMate grammar loads in vscode-textmate (the engine VS Code
// uses) and highlights every example and stdlib file without errors: no text outside
// a scope, no `invalid` scope. A few snippets check that literals get the right scopes.
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const here = __dirname;
const repo = path.resolve(here, "../../..");
const grammarPath = path.join(here, "../syntaxes/plinth.tmLanguage.json");

async function loadGrammar() {
  const wasm = fs.readFileSync(
    path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm"),
  );
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== "source.plinth") return null;
      const text = fs.readFileSync(grammarPath, "utf8");
      return vsctm.parseRawGrammar(text, grammarPath);
    },
  });
  const grammar = await registry.loadGrammar("source.plinth");
  if (!grammar) throw new Error("the grammar did not load");
  return grammar;
}

/** Every token of a text: { line, text, scopes }. */
function tokenize(grammar, text) {
  const out = [];
  let state = vsctm.INITIAL;
  text.split(/\r?\n/).forEach((line, i) => {
    const result = grammar.tokenizeLine(line, state);
    for (const t of result.tokens) {
      out.push({ line: i + 1, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
    }
    state = result.ruleStack;
  });
  return out;
}

function walk(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "out" && !entry.name.startsWith(".")) walk(p, out);
    } else if (entry.name.endsWith(".plinth")) {
      out.push(p);
    }
  }
  return out;
}

/** Problems in one text: unscoped non-whitespace, or an invalid scope. */
function problems(grammar, text) {
  const found = [];
  for (const t of tokenize(grammar, text)) {
    if (!t.text.trim()) continue;
    if (t.scopes.length < 2) found.push(`line ${t.line}: \`${t.text}\` has no scope`);
    const bad = t.scopes.find((s) => s.startsWith("invalid"));
    if (bad) found.push(`line ${t.line}: \`${t.text}\` is ${bad}`);
  }
  return found;
}

/** The innermost scope of the token covering `needle` in `text`. */
function scopeOf(grammar, text, needle) {
  const t = tokenize(grammar, text).find((t) => t.text === needle);
  return t ? t.scopes[t.scopes.length - 1] : `(no token \`${needle}\`)`;
}

async function main() {
  const grammar = await loadGrammar();
  let passed = 0;
  let failed = 0;
  const check = (name, ok, detail) => {
    if (ok) {
      passed++;
    } else {
      failed++;
      console.log(`FAIL ${name}\n  ${detail}`);
    }
  };

  const files = walk(path.join(repo, "examples"), []).concat(walk(path.join(repo, "stdlib"), []));
  check("there are examples", files.length >= 5, `found ${files.length} files`);
  for (const file of files) {
    const found = problems(grammar, fs.readFileSync(file, "utf8"));
    check(path.relative(repo, file), found.length === 0, found.slice(0, 10).join("\n  "));
  }

  const sample = [
    "/// Docs.",
    "// plain",
    "/* block */",
    "use std.profiles as p",
    "service fraud_api extends std.tier1_online {",
    '  callers: ["a\\"b\\u{1F600}"]',
    "  replicas: 3..30",
    "  resources { cpu: 500m, memory: 4Gi }",
    "  slo latency { percentile: 99  threshold: 40ms  objective: 99.9% }",
    "  aggregate: sum(amount)",
    "  online: true",
    "}",
    "profile p for service { }",
    "waiver w { expires: 2027-03-31 }",
  ].join("\n");
  const expect = {
    "/// Docs.": "comment.line.documentation.plinth",
    "// plain": "comment.line.double-slash.plinth",
    use: "keyword.control.import.plinth",
    as: "keyword.control.as.plinth",
    service: "storage.type.kind.plinth",
    fraud_api: "entity.name.type.declaration.plinth",
    extends: "keyword.other.extends.plinth",
    '\\"': "constant.character.escape.plinth",
    "\\u{1F600}": "constant.character.escape.plinth",
    replicas: "variable.other.property.plinth",
    "..": "keyword.operator.range.plinth",
    Gi: "keyword.other.unit.plinth",
    ms: "keyword.other.unit.plinth",
    "99.9%": "constant.numeric.percent.plinth",
    "2027-03-31": "constant.numeric.date.plinth",
    latency: "entity.name.section.plinth",
    resources: "entity.name.tag.block.plinth",
    sum: "support.function.aggregate.plinth",
    true: "constant.language.boolean.plinth",
    for: "keyword.other.for.plinth",
  };
  for (const [needle, scope] of Object.entries(expect)) {
    const got = scopeOf(grammar, sample, needle);
    check(`\`${needle}\` is ${scope}`, got === scope, `got ${got}`);
  }
  const bad = problems(grammar, 'x: "\\q"  Y: 1 @');
  check("errors are marked invalid", bad.length === 3, bad.join("; "));

  console.log(`grammar: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
