#!/usr/bin/env python3
"""Latency of `plinth lsp` on a large workspace (Python 3.11 standard library only).

    python3 bench/gen.py 5000 /tmp/n5000
    python3 bench/lsp.py target/release/plinth /tmp/n5000 [ROUNDS]

Opens serving_0000.plinth and, per round, makes a one-character edit (`memory: 4Gi` ->
`4Gx`, a unit error, then back) and measures:
  edit -> diagnostics   didChange sent until publishDiagnostics for the file arrives
  edit -> hover         didChange and a hover on a field key sent together, until the reply
  hover (field)         a hover on `memory` with no edit pending
  hover (reference)     a hover on `model: model_00000` (doc, classification, lineage)
                        right after an edit, which re-derives the facts
  rename -> other file  renaming model_00000 in models_0000.plinth (one character) until
                        serving_0000.plinth's diagnostics change: the workspace pass,
                        after the 150 ms pause it waits for, with every file re-checked
                        against the new names
Policies are off (initializationOptions.policies = false): they run on a worker thread
and do not delay these replies, but they compete for the CPU while they run.
Prints the median and the maximum of each, in milliseconds.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


class Server:
    def __init__(self, binary: str, root: Path):
        self.proc = subprocess.Popen(
            [binary, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.next_id = 1
        self.pending: list[dict] = []

    def send(self, msg: dict) -> None:
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self) -> dict:
        length = 0
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise EOFError("server closed its output")
            line = line.strip()
            if not line:
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.proc.stdout.read(length))

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params) -> int:
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return rid

    def wait(self, pred) -> dict:
        """The first message, read earlier or now, that satisfies `pred`."""
        for i, msg in enumerate(self.pending):
            if pred(msg):
                return self.pending.pop(i)
        while True:
            msg = self.read()
            if pred(msg):
                return msg
            self.pending.append(msg)


def main() -> None:
    binary, root = sys.argv[1], Path(sys.argv[2]).resolve()
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    path = root / "serving_0000.plinth"
    uri = path.as_uri()
    text = path.read_text()
    server = Server(binary, root)
    t0 = time.perf_counter()
    rid = server.request(
        "initialize",
        {
            "processId": None,
            "rootUri": root.as_uri(),
            "capabilities": {},
            "initializationOptions": {"policies": False},
        },
    )
    server.wait(lambda m: m.get("id") == rid)
    server.notify("initialized", {})
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "plinth", "version": 1, "text": text}},
    )
    line = text.splitlines()
    mem_line = next(i for i, l in enumerate(line) if "memory: 4Gi" in l)
    mem_col = line[mem_line].index("memory: 4Gi")
    model_line = next(i for i, l in enumerate(line) if "model: model_00000" in l)
    model_col = line[model_line].index("model_00000") + 2
    key_pos = {"line": mem_line, "character": mem_col + 2}
    unit_start = {"line": mem_line, "character": mem_col + 10}
    unit_end = {"line": mem_line, "character": mem_col + 11}
    hover = lambda pos: server.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": pos}
    )
    rid = hover(key_pos)
    server.wait(lambda m: m.get("id") == rid)
    print(f"startup (initialize .. first hover answered): {(time.perf_counter() - t0) * 1000:.0f} ms")

    def is_diag(m):
        return m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri

    version = 1
    results: dict[str, list[float]] = {
        "edit -> diagnostics": [],
        "edit -> hover": [],
        "hover (field)": [],
        "hover (reference, after edit)": [],
    }

    def edit(char: str) -> None:
        nonlocal version
        version += 1
        server.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {"start": unit_start, "end": unit_end}, "text": char}],
            },
        )

    for _ in range(rounds):
        for char, want_errors in (("x", True), ("i", False)):
            server.pending.clear()
            t = time.perf_counter()
            edit(char)
            msg = server.wait(is_diag)
            results["edit -> diagnostics"].append((time.perf_counter() - t) * 1000)
            assert bool(msg["params"]["diagnostics"]) == want_errors, msg

            t = time.perf_counter()
            rid = hover(key_pos)
            server.wait(lambda m: m.get("id") == rid)
            results["hover (field)"].append((time.perf_counter() - t) * 1000)

        # An edit and a hover typed right after it: the hover is answered first.
        t = time.perf_counter()
        edit("x")
        rid = hover(key_pos)
        server.wait(lambda m: m.get("id") == rid)
        results["edit -> hover"].append((time.perf_counter() - t) * 1000)
        server.wait(is_diag)
        server.pending.clear()
        t = time.perf_counter()
        edit("i")
        rid = hover({"line": model_line, "character": model_col})
        reply = server.wait(lambda m: m.get("id") == rid)
        results["hover (reference, after edit)"].append((time.perf_counter() - t) * 1000)
        assert "Data classification" in reply["result"]["contents"]["value"], reply
        server.wait(is_diag)
        server.pending.clear()

    # A rename in models_0000.plinth breaks serving_0000.plinth: that file's error comes
    # from the workspace pass, which runs once edits pause (debounce included).
    models = root / "models_0000.plinth"
    models_uri = models.as_uri()
    models_text = models.read_text()
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": models_uri, "languageId": "plinth", "version": 1, "text": models_text}},
    )
    mline = next(i for i, l in enumerate(models_text.splitlines()) if l.startswith("model model_00000"))
    name_end = {"line": mline, "character": len("model model_00000")}
    name_last = {"line": mline, "character": len("model model_0000")}
    results["rename -> other file's diagnostics"] = []
    for r in range(5):
        for char, want_errors in (("x", True), ("0", False)):
            server.pending.clear()
            t = time.perf_counter()
            version += 1
            server.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": models_uri, "version": version},
                    "contentChanges": [{"range": {"start": name_last, "end": name_end}, "text": char}],
                },
            )
            server.wait(
                lambda m: is_diag(m) and bool(m["params"]["diagnostics"]) == want_errors
            )
            results["rename -> other file's diagnostics"].append((time.perf_counter() - t) * 1000)

    for name, values in results.items():
        print(
            f"{name:>30}: median {statistics.median(values):7.2f} ms   max {max(values):7.2f} ms   (n={len(values)})"
        )
    rid = server.request("shutdown", None)
    server.wait(lambda m: m.get("id") == rid)
    server.notify("exit", None)
    server.proc.wait(timeout=30)


if __name__ == "__main__":
    main()
