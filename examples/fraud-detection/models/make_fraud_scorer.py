"""Build the fraud_scorer ONNX fixture used by examples/fraud-detection.

The graph is a stand-in for the real exported XGBoost model: a logistic regression
with fixed weights over the same six features, so the compiler's signature check
(input/output names, dtypes and shapes against models.plinth) and Triton/onnxruntime
have a real, runnable artifact. The output is byte-identical on every run.

Each feature in `fraud_scorer.inputs` is one input tensor named after the feature,
shape [batch, 1], INT64 for `int64` features and DOUBLE for `float64` ones. The output
`score` is FLOAT [batch, 1], a fraud probability.

    python3 -m venv /tmp/onnx && /tmp/onnx/bin/pip install onnx==1.23.2
    /tmp/onnx/bin/python examples/fraud-detection/models/make_fraud_scorer.py
"""

from pathlib import Path

import onnx
from onnx import TensorProto, helper

# (feature name, element type, weight): keep in step with models.plinth / data.plinth.
FEATURES = [
    ("txn_count_1h", TensorProto.INT64, 0.15),
    ("amount_sum_24h", TensorProto.DOUBLE, 0.0004),
    ("amount_max_24h", TensorProto.DOUBLE, 0.0008),
    ("merchant_count_24h", TensorProto.INT64, 0.2),
    ("chargeback_count_90d", TensorProto.INT64, 0.05),
    ("chargeback_amount_avg_90d", TensorProto.DOUBLE, 0.001),
]
BIAS = -4.0
OPSET = 17
IR_VERSION = 8  # loadable by onnxruntime >= 1.10 and Triton's onnxruntime backend


def build() -> onnx.ModelProto:
    inputs = [helper.make_tensor_value_info(name, dtype, ["batch", 1]) for name, dtype, _ in FEATURES]
    nodes = [
        helper.make_node("Cast", [name], [f"{name}_f"], to=TensorProto.FLOAT, name=f"cast_{name}")
        for name, _, _ in FEATURES
    ]
    nodes.append(
        helper.make_node("Concat", [f"{name}_f" for name, _, _ in FEATURES], ["x"], axis=1, name="concat")
    )
    nodes.append(helper.make_node("Gemm", ["x", "w", "b"], ["logit"], name="linear"))
    nodes.append(helper.make_node("Sigmoid", ["logit"], ["score"], name="sigmoid"))
    weights = helper.make_tensor("w", TensorProto.FLOAT, [len(FEATURES), 1], [w for _, _, w in FEATURES])
    bias = helper.make_tensor("b", TensorProto.FLOAT, [1], [BIAS])
    output = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch", 1])
    graph = helper.make_graph(nodes, "fraud_scorer", inputs, [output], initializer=[weights, bias])
    model = helper.make_model(
        graph,
        producer_name="plinth-examples",
        producer_version="12.0.3",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    model.model_version = 12
    model.doc_string = "Fixture for examples/fraud-detection: logistic regression over six fraud features."
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    out = Path(__file__).resolve().parent / "fraud_scorer.onnx"
    out.write_bytes(build().SerializeToString(deterministic=True))
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
