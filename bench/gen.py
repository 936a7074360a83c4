#!/usr/bin/env python3
"""Generate a synthetic Plinth workspace for benchmarking.

    python3 bench/gen.py N OUTDIR

writes OUTDIR/plinth.toml and OUTDIR/*.plinth: N services, each with its own team,
source, feature view and model (entities are shared), plus a batch job for every
tenth service, and two environments. Declarations are
spread over many files, PER_FILE services per file, one file per kind group
(teams_0000.plinth, data_0000.plinth, models_0000.plinth, serving_0000.plinth).

The output is deterministic (no randomness, no timestamps) and meant to be clean:
it follows the checker's rules (aggregates over existing numeric columns, keys that
are source columns, freshness >= schedule interval, latency threshold > max_delay,
preferred <= max_batch, accelerator only with gpu) and the baseline policies
(tier-1 production services with >= 2 replicas, availability and latency SLOs,
canary rollout and a drift monitor; high-risk models with explainability,
oversight, an evaluation gate and approvals; pinned images; cost centers; PII
residency). There are no waivers: an expiry date would make the output depend on the
day it is generated. Python 3.11 standard library only.
"""

from __future__ import annotations

import sys
from pathlib import Path

PER_FILE = 50

# Shared entities: (entity, key column). Each source carries its entity's key.
ENTITIES = [
    ("customer", "customer_id"),
    ("account", "account_id"),
    ("device", "device_id"),
    ("merchant", "merchant_id"),
]
ACCELERATORS = ["nvidia_t4", "nvidia_a10g", "nvidia_l4"]
# (cron, interval label for freshness): freshness is always >= the cron interval.
SCHEDULES = [
    ('"*/5 * * * *"', "5m"),
    ('"*/15 * * * *"', "30m"),
    ('"0 * * * *"', "1h"),
    ('"0 */6 * * *"', "12h"),
]
RISKS = ["minimal", "limited", "high"]
REGION = "eu_west_1"
# Tier-1 services must run in two production regions (reliability.multi-region-tier1),
# so the second environment is production too, in a second EU region.
REGION_2 = "eu_central_1"


def team(i: int, n: str) -> str:
    return (
        f"/// Owners of service {n}.\n"
        f"team team_{n} {{\n"
        f'  owner: "team-{n}@bench.example"\n'
        f'  oncall: "pagerduty:team-{n}"\n'
        f'  cost_center: "CC-{1000 + i % 9000}"\n'
        f"}}\n"
    )


def source(i: int, n: str) -> str:
    entity, key = ENTITIES[i % len(ENTITIES)]
    pii = i % 2 == 0
    lines = [
        f"/// Events of service {n}, keyed by {entity}.",
        f"source events_{n} {{",
        "  kind: kafka",
        f'  topic: "bench.events_{n}.v1"',
        f"  owner: team_{n}",
        f"  classification: {'confidential' if pii else 'internal'}",
        f"  region: {REGION}",
    ]
    if pii:
        lines.append(f"  residency: [{REGION}, {REGION_2}]")
    lines += [
        "  retention: 30d",
        "  column event_id { type: string }",
        f"  column {key} {{ type: string{'  pii: true' if pii else ''} }}",
        "  column amount { type: float64 }",
        "  column quantity { type: int64 }",
        "  column latency_ms { type: float32 }",
        "  column ts { type: timestamp  event_time: true }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def feature_view(i: int, n: str) -> str:
    entity, _ = ENTITIES[i % len(ENTITIES)]
    cron, freshness = SCHEDULES[i % len(SCHEDULES)]
    return (
        f"/// Activity features for service {n}.\n"
        f"feature_view activity_{n} {{\n"
        f"  entity: {entity}\n"
        f"  source: events_{n}\n"
        "  online: true\n"
        f"  schedule: {cron}\n"
        f"  freshness: {freshness}\n"
        "  ttl: 7d\n"
        '  image: "registry.bench.example/materializer:1.0.0"\n'
        f"  feature count_1h {{ type: int64  aggregate: count(event_id)  window: 1h }}\n"
        f"  feature amount_sum_24h {{ type: float64  aggregate: sum(amount)  window: 24h }}\n"
        f"  feature quantity_max_7d {{ type: int64  aggregate: max(quantity)  window: 7d }}\n"
        f"  feature latency_avg_1h {{ type: float64  aggregate: avg(latency_ms)  window: 1h }}\n"
        "  expect amount_non_negative { column: amount  min: 0 }\n"
        "}\n"
    )


def batch_sources(i: int, n: str) -> str:
    return (
        f"/// Batch scores of service {n}.\n"
        f"source scores_{n} {{\n"
        "  kind: s3\n"
        '  bucket: "bench-scores"\n'
        f'  prefix: "scores/{n}/"\n'
        f"  owner: team_{n}\n"
        "  classification: internal\n"
        f"  region: {REGION}\n"
        "  retention: 90d\n"
        "  column event_id { type: string }\n"
        "  column score { type: float32 }\n"
        "  column scored_at { type: timestamp  event_time: true }\n"
        "}\n"
    )


def model(i: int, n: str) -> str:
    risk = RISKS[i % len(RISKS)]
    gpu_training = i % 4 == 0
    lines = [
        f"/// Scoring model of service {n}.",
        f"model model_{n} {{",
        f"  owner: team_{n}",
        "  framework: xgboost",
        "  format: onnx",
        f'  artifact: "s3://bench-models/model_{n}/1.{i % 10}.0/model.onnx"',
        f'  version: "1.{i % 10}.0"',
        f"  risk: {risk}",
        f'  purpose: "Score events of service {n}"',
    ]
    if risk != "minimal":
        lines.append("  explainability: shap")
    if risk == "high":
        lines.append('  human_oversight: "Scores above 0.8 are reviewed by an analyst"')
    lines += [
        f"  inputs: [activity_{n}.count_1h, activity_{n}.amount_sum_24h, "
        f"activity_{n}.quantity_max_7d, activity_{n}.latency_avg_1h]",
        "  output score { dtype: float32  shape: [1] }",
        "  training {",
        '    schedule: "0 3 * * *"',
        '    image: "registry.bench.example/train:2.1.0"',
        "    dataset_window: 30d",
    ]
    if gpu_training:
        lines.append(f"    resources {{ cpu: 8  memory: 32Gi  gpu: 1  accelerator: {ACCELERATORS[i % 3]} }}")
    else:
        lines.append("    resources { cpu: 4  memory: 16Gi }")
    lines.append("    evaluation { metric: auc  min: 0.8 }")
    if risk == "high":
        lines.append(f'    approvals: ["lead-{n}@bench.example", "model-risk@bench.example"]')
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def service(i: int, n: str) -> str:
    gpu = i % 5 == 0
    # One in three services takes the tier-1 golden path, one in three tier 2, and
    # the rest are written out in full (tier 1 without a profile).
    style = i % 3
    header = {0: " extends std.tier1_online", 1: " extends std.tier2_online", 2: ""}[style]
    lines = [
        f"/// Online scoring for service {n}.",
        f"service svc_{n}{header} {{",
        f"  model: model_{n}",
    ]
    if style == 2:
        lines += [
            "  tier: tier1",
            "  replicas: 2..12",
            "  rollout: blue_green",
            "  expose: internal",
            "  slo availability { objective: 99.9%  window: 28d }",
        ]
    delay = 1 + i % 4
    lines += [
        f"  batching {{ max_batch: 32  max_delay: {delay}ms  preferred: [8, 16] }}",
        (
            f"  resources {{ cpu: 2  memory: 4Gi  gpu: 1  accelerator: {ACCELERATORS[i % 3]} }}"
            if gpu
            else "  resources { cpu: 1  memory: 2Gi }"
        ),
        f"  slo latency {{ percentile: 99  threshold: {20 + 10 * (i % 5)}ms  objective: 99% }}",
        f"  monitor drift {{ feature: activity_{n}.amount_sum_24h  method: psi  threshold: 0.2 }}",
        "  env prod_central { replicas: 3..12 }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def batch_job(i: int, n: str) -> str:
    return (
        f"/// Nightly re-scoring for service {n}.\n"
        f"batch_job rescore_{n} extends std.batch_standard {{\n"
        f"  model: model_{n}\n"
        f'  schedule: "{i % 60} 4 * * *"\n'
        f"  input: events_{n}\n"
        f"  output: scores_{n}\n"
        '  image: "registry.bench.example/batch-score:2.1.0"\n'
        "}\n"
    )


ENVIRONMENTS = f"""/// Production, first region.
environment prod {{
  tier: production
  region: {REGION}
  cluster: "bench-prod"
  account: "111122223333"
  namespace: "bench-prod"
}}

/// Production, second region: tier-1 services run in both.
environment prod_central {{
  tier: production
  region: {REGION_2}
  cluster: "bench-prod-central"
  account: "111122223333"
  namespace: "bench-prod-central"
}}
"""

PLINTH_TOML = """[policy]
packs = ["baseline"]
max_waiver_days = 180

[build]
out = "out"
"""


def entities(n_services: int) -> str:
    out = []
    for entity, key in ENTITIES[: max(1, min(len(ENTITIES), n_services))]:
        out.append(f"/// Shared join key `{key}`.\nentity {entity} {{ key: {key}  type: string }}\n")
    return "\n".join(out)


def generate(n_services: int, outdir: Path) -> int:
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("*.plinth"):
        old.unlink()
    width = max(5, len(str(n_services - 1)))
    files: dict[str, str] = {
        "plinth.toml": PLINTH_TOML,
        "environments.plinth": ENVIRONMENTS,
        "entities.plinth": entities(n_services),
    }
    for start in range(0, n_services, PER_FILE):
        chunk = range(start, min(start + PER_FILE, n_services))
        suffix = f"{start // PER_FILE:04d}"
        groups: dict[str, list[str]] = {"teams": [], "data": [], "models": [], "serving": []}
        for i in chunk:
            n = f"{i:0{width}d}"
            groups["teams"].append(team(i, n))
            groups["data"].append(source(i, n))
            groups["data"].append(feature_view(i, n))
            groups["models"].append(model(i, n))
            groups["serving"].append(service(i, n))
            if i % 10 == 0:
                groups["data"].append(batch_sources(i, n))
                groups["serving"].append(batch_job(i, n))
        for group, decls in groups.items():
            files[f"{group}_{suffix}.plinth"] = "\n".join(decls)
    total = 0
    for name, text in files.items():
        (outdir / name).write_text(text, encoding="utf-8")
        total += len(text)
    return total


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[1].isdigit():
        print("usage: gen.py N OUTDIR", file=sys.stderr)
        return 2
    n_services = int(argv[1])
    outdir = Path(argv[2])
    size = generate(n_services, outdir)
    print(f"{outdir}: {n_services} services, {size / 1e6:.1f} MB of spec")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
