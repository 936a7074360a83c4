"""Strict checks of Triton model repositories and ONNX models, for tests/external/triton.sh.

    triton_check.py configs [--expected-names FILE] ROOT...
        Parse every config.pbtxt under each ROOT with tritonclient's model_config_pb2
        through google.protobuf.text_format: unknown fields and enum values fail. With
        --expected-names, the JSON file maps config paths (relative to a ROOT) to the
        exact list of `name` values (model, inputs, outputs) the config must hold.
    triton_check.py onnx [--corrupt FILE]... FILE...
        Each FILE passes onnx.checker (full check) and runs in onnxruntime on a batch of
        3; each --corrupt FILE must fail to load.
    triton_check.py cross CONFIG MODEL
        The config's inputs and outputs match the ONNX graph: names, types, and dims
        (after the batch dimension when max_batch_size > 0).

Exit status 1 when any check fails; every failure is printed.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

# Triton DataType name -> ONNX TensorProto element type.
TRITON_TO_ONNX = {
    "TYPE_BOOL": onnx.TensorProto.BOOL,
    "TYPE_UINT8": onnx.TensorProto.UINT8,
    "TYPE_INT8": onnx.TensorProto.INT8,
    "TYPE_INT16": onnx.TensorProto.INT16,
    "TYPE_INT32": onnx.TensorProto.INT32,
    "TYPE_INT64": onnx.TensorProto.INT64,
    "TYPE_FP16": onnx.TensorProto.FLOAT16,
    "TYPE_FP32": onnx.TensorProto.FLOAT,
    "TYPE_FP64": onnx.TensorProto.DOUBLE,
    "TYPE_STRING": onnx.TensorProto.STRING,
}

failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL {msg}")


def parse_config(path):
    config = model_config_pb2.ModelConfig()
    text_format.Parse(Path(path).read_text(), config)
    return config


def strictness_self_test():
    """The parser must reject what Triton rejects, or passing means nothing."""
    for bad in [
        'name: "m"\ninput [ { name: "x" data_type: TYPE_FLOAT32 dims: [ 1 ] } ]\n',
        'name: "m"\nshape: [ 1 ]\n',
        'name: "m\n"\n',
    ]:
        try:
            text_format.Parse(bad, model_config_pb2.ModelConfig())
        except text_format.ParseError:
            continue
        fail(f"strict parse accepted a bad config: {bad!r}")


def cmd_configs(args):
    strictness_self_test()
    expected = json.loads(Path(args.expected_names).read_text()) if args.expected_names else {}
    seen = 0
    checked_names = set()
    for root in map(Path, args.roots):
        paths = sorted(root.rglob("config.pbtxt"))
        if not paths:
            fail(f"{root}: no config.pbtxt")
        for path in paths:
            seen += 1
            try:
                config = parse_config(path)
            except text_format.ParseError as e:
                fail(f"{path}: {e}")
                continue
            if path.parent.name != config.name:
                fail(f"{path}: folder {path.parent.name!r} but name {config.name!r}")
            if not (path.parent / "1").is_dir():
                fail(f"{path}: no version folder 1/")
            rel = path.relative_to(root).as_posix()
            if rel in expected:
                names = [config.name] + [t.name for t in config.input] + [t.name for t in config.output]
                if names != expected[rel]:
                    fail(f"{path}: names {names!r} != expected {expected[rel]!r}")
                checked_names.add(rel)
            print(f"ok   {path} ({config.platform or config.backend}, max_batch_size {config.max_batch_size})")
    for rel in sorted(set(expected) - checked_names):
        fail(f"expected names for {rel}, but no such config was found")
    if seen == 0:
        fail("no configs checked")
    print(f"{seen} configs parsed strictly, {len(checked_names)} name round-trips checked")


def feed_for(value_info, batch):
    t = value_info.type.tensor_type
    dims = [batch if (d.dim_param or d.dim_value <= 0) else d.dim_value for d in t.shape.dim]
    if t.elem_type == onnx.TensorProto.STRING:
        return np.full(dims, "x", dtype=object)
    np_type = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
    return np.ones(dims, dtype=np_type)


def cmd_onnx(args):
    for path in args.models:
        try:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            feeds = {v.name: feed_for(v, 3) for v in model.graph.input}
            outputs = session.run(None, feeds)
            shapes = [list(np.shape(o)) for o in outputs]
            print(f"ok   {path}: onnxruntime ran, output shapes {shapes}")
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            fail(f"{path}: {type(e).__name__}: {e}")
    for path in args.corrupt:
        try:
            ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001
            print(f"ok   {path}: rejected as expected ({type(e).__name__})")
            continue
        fail(f"{path}: a corrupt model loaded")


def cmd_cross(args):
    config = parse_config(args.config)
    graph = onnx.load(args.model).graph
    constants = {t.name for t in graph.initializer}
    batched = config.max_batch_size > 0
    for kind, tensors, values in [
        ("input", config.input, [v for v in graph.input if v.name not in constants]),
        ("output", config.output, list(graph.output)),
    ]:
        by_name = {v.name: v for v in values}
        for t in tensors:
            v = by_name.get(t.name)
            if v is None:
                fail(f"{args.config}: {kind} {t.name!r} not in {args.model} ({sorted(by_name)})")
                continue
            tt = v.type.tensor_type
            dtype = model_config_pb2.DataType.Name(t.data_type)
            if TRITON_TO_ONNX.get(dtype) != tt.elem_type:
                fail(f"{args.config}: {kind} {t.name!r} is {dtype}, ONNX elem_type {tt.elem_type}")
            dims = [d.dim_value if d.dim_value > 0 else -1 for d in tt.shape.dim]
            if batched:
                if not dims or dims[0] != -1:
                    fail(f"{args.config}: {kind} {t.name!r}: no dynamic batch dim in ONNX {dims}")
                    continue
                dims = dims[1:]
            config_dims = list(t.reshape.shape) if t.HasField("reshape") else list(t.dims)
            if len(dims) != len(config_dims) or any(m != -1 and m != c for m, c in zip(dims, config_dims)):
                fail(f"{args.config}: {kind} {t.name!r} dims {config_dims} != ONNX {dims}")
        if kind == "input":
            missing = set(by_name) - {t.name for t in tensors}
            if missing:
                fail(f"{args.config}: ONNX inputs missing from the config: {sorted(missing)}")
    print(f"ok   {args.config} matches {args.model}")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("configs")
    p.add_argument("--expected-names")
    p.add_argument("roots", nargs="+")
    p = sub.add_parser("onnx")
    p.add_argument("--corrupt", action="append", default=[])
    p.add_argument("models", nargs="*")
    p = sub.add_parser("cross")
    p.add_argument("config")
    p.add_argument("model")
    args = parser.parse_args()
    {"configs": cmd_configs, "onnx": cmd_onnx, "cross": cmd_cross}[args.cmd](args)
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
