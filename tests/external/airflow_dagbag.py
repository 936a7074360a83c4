"""Loads Plinth's generated DAGs with Airflow's own DagBag and compares each DAG's tasks
and edges with what the spec implies.

Usage: airflow_dagbag.py DAGS_DIR EXPECTED_JSON

EXPECTED_JSON is `{"dags": {dag_id: {"tasks": [...], "edges": [[up, down], ...]}}}`,
written from the spec by the golden test (tests/airflow.rs), never from the DAG files.
Run with AIRFLOW_HOME set to a scratch folder and AIRFLOW__CORE__LOAD_EXAMPLES=False.
Exit 0 when every file imports, every expected DAG exists with exactly its tasks and
edges, and no unexpected DAG exists; 1 otherwise.
"""

import json
import sys

try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3
except ImportError:  # Airflow 2
    from airflow.models.dagbag import DagBag
try:
    from airflow.serialization.serialized_objects import DagSerialization as Serializer
except ImportError:  # Airflow 2
    from airflow.serialization.serialized_objects import SerializedDAG as Serializer


def main(dags_dir, expected_path):
    with open(expected_path) as f:
        expected = json.load(f)["dags"]
    bag = DagBag(dag_folder=dags_dir, safe_mode=False)
    failures = []
    for path, err in sorted(bag.import_errors.items()):
        failures.append(f"import error in {path}:\n{err}")
    for dag_id in sorted(set(bag.dags) - set(expected)):
        failures.append(f"DAG {dag_id} is not implied by the spec")
    for dag_id, want in sorted(expected.items()):
        dag = bag.dags.get(dag_id)
        if dag is None:
            failures.append(f"DAG {dag_id} is missing")
            continue
        tasks = sorted(t.task_id for t in dag.tasks)
        edges = sorted([t.task_id, d] for t in dag.tasks for d in t.downstream_task_ids)
        if tasks != sorted(want["tasks"]):
            failures.append(f"{dag_id}: tasks {tasks}, expected {sorted(want['tasks'])}")
        if edges != sorted(want["edges"]):
            failures.append(f"{dag_id}: edges {edges}, expected {sorted(want['edges'])}")
        try:
            Serializer.to_dict(dag)  # what the scheduler stores
        except Exception as e:  # noqa: BLE001 - any failure is a finding
            failures.append(f"{dag_id}: does not serialize: {e!r}")
        kinds = sorted({type(t).__name__ for t in dag.tasks})
        if kinds != ["KubernetesPodOperator"]:
            failures.append(f"{dag_id}: operators {kinds}, expected only KubernetesPodOperator")
        print(f"   {dag_id}: {len(tasks)} tasks, {len(edges)} edges, schedule {dag.schedule!r}, "
              f"catchup {dag.catchup}, tags {sorted(dag.tags)}")
    print(f"   {len(bag.dags)} DAG(s) from {dags_dir}, {len(bag.import_errors)} import error(s)")
    for failure in failures:
        print(f"   FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
