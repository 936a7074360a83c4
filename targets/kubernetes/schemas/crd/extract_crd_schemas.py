#!/usr/bin/env python3
"""Extracts the openAPIV3Schema of the CRDs Plinth emits into JSON Schema files.

Usage: extract_crd_schemas.py SHARED_SCHEMAS_DIR OUT_DIR   (needs PyYAML)

Each output is the CRD's served, stored version's `openAPIV3Schema`, with
`$schema: draft-04` (OpenAPI v3 schemas are close to draft 4) and, to make the check as
strict as the Kubernetes schemas, `additionalProperties: false` on every object that
lists `properties` and neither sets `additionalProperties` nor
`x-kubernetes-preserve-unknown-fields`. (The API server prunes unknown fields of a CRD
silently; a typo in generated output would be lost without this.) Patterns with Go's
inline `(?i)` flag, which ECMA-262 regexes (JSON Schema's dialect) lack, are rewritten
with letter classes (`abort` -> `[aA][bB][oO][rR][tT]`). Output is sorted and indented
so that a re-run gives the same bytes.
"""
import json
import sys
from pathlib import Path

import yaml

CRDS = {
    "argo-rollouts/rollout-crd.yaml": "rollout-argoproj-v1alpha1.json",
    "argo-rollouts/analysis-template-crd.yaml": "analysistemplate-argoproj-v1alpha1.json",
    "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml": "prometheusrule-monitoring-v1.json",
    "prometheus-operator/monitoring.coreos.com_servicemonitors.yaml": "servicemonitor-monitoring-v1.json",
}


def ecma_pattern(pattern):
    if "(?i)" not in pattern:
        return pattern
    plain = pattern.replace("(?i)", "")
    assert "[" not in plain and "\\" not in plain, f"cannot rewrite {pattern!r}"
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in plain)


def strict(node):
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            node["pattern"] = ecma_pattern(node["pattern"])
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)
    return node


def main(src, out):
    for crd_path, name in CRDS.items():
        crd = yaml.safe_load((Path(src) / crd_path).read_text())
        (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
        schema = strict(version["schema"]["openAPIV3Schema"])
        schema = {"$schema": "http://json-schema.org/draft-04/schema#", **schema}
        text = json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        (Path(out) / name).write_text(text)
        print(f"{name}: {crd['spec']['group']}/{version['name']} {crd['spec']['names']['kind']}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
