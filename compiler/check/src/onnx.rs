//! Reading an ONNX model's signature: the graph's inputs and outputs with their element
//! types and shapes. Pure: the caller reads the file and hands over its bytes.
//!
//! The message types are generated from the vendored `proto/onnx.proto` subset; fields
//! it leaves out (nodes, weights) are skipped while decoding. Any byte string gives a
//! `Signature` or an [`OnnxError`], never a panic (prost bounds recursion depth).

use prost::Message;
use std::fmt;

/// The generated ONNX messages.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

/// One dimension of a tensor shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Fixed(i64),
    /// A named dynamic dimension (`dim_param`), e.g. `batch`.
    Symbolic(String),
    /// A dimension with neither a value nor a name: dynamic.
    Unknown,
}

impl Dim {
    /// Any size is accepted here (a symbolic, unknown or negative dimension).
    pub fn is_dynamic(&self) -> bool {
        match self {
            Dim::Fixed(n) => *n < 0,
            Dim::Symbolic(_) | Dim::Unknown => true,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(name) => f.write_str(name),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

/// The type of a graph input or output.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OnnxType {
    Tensor {
        /// `TensorProto.DataType`.
        elem_type: i32,
        /// `None` when the model records no shape (any rank).
        shape: Option<Vec<Dim>>,
    },
    /// A sequence, map, optional, sparse or opaque value: Triton cannot serve it as a
    /// plain tensor. The text names the kind.
    Other(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OnnxValue {
    pub name: String,
    pub ty: OnnxType,
}

impl OnnxValue {
    /// The element type as the spec writes it (`int64`), or ONNX's name when the spec has
    /// no such dtype (`UINT16`).
    pub fn dtype_name(&self) -> String {
        match &self.ty {
            OnnxType::Tensor { elem_type, .. } => elem_type_name(*elem_type),
            OnnxType::Other(kind) => (*kind).to_string(),
        }
    }
}

impl fmt::Display for OnnxValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.ty {
            OnnxType::Tensor { elem_type, shape } => {
                write!(f, "{} {}", self.name, elem_type_name(*elem_type))?;
                match shape {
                    Some(dims) => {
                        let dims: Vec<String> = dims.iter().map(Dim::to_string).collect();
                        write!(f, "[{}]", dims.join(", "))
                    }
                    None => f.write_str("[any shape]"),
                }
            }
            OnnxType::Other(kind) => write!(f, "{} ({kind})", self.name),
        }
    }
}

/// What a model takes and returns. Inputs that are initializers (constants listed as
/// inputs before IR version 4) are left out: callers cannot feed them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Signature {
    pub inputs: Vec<OnnxValue>,
    pub outputs: Vec<OnnxValue>,
}

impl Signature {
    pub fn input(&self, name: &str) -> Option<&OnnxValue> {
        self.inputs.iter().find(|v| v.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&OnnxValue> {
        self.outputs.iter().find(|v| v.name == name)
    }
}

impl fmt::Display for Signature {
    /// `inputs: a int64[batch, 1], b float64[batch, 1]; outputs: score float32[batch, 1]`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |values: &[OnnxValue]| {
            if values.is_empty() {
                "none".to_string()
            } else {
                values
                    .iter()
                    .map(OnnxValue::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        write!(
            f,
            "inputs: {}; outputs: {}",
            list(&self.inputs),
            list(&self.outputs)
        )
    }
}

/// Why bytes are not a readable ONNX model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OnnxError {
    /// Not a protobuf `ModelProto` (truncated, corrupt or another format).
    Decode(String),
    /// It decodes, but it is not a model: no IR version or no graph.
    NotAModel(&'static str),
}

impl fmt::Display for OnnxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnnxError::Decode(why) => write!(f, "it is not a valid ONNX protobuf ({why})"),
            OnnxError::NotAModel(why) => write!(f, "it is not an ONNX model ({why})"),
        }
    }
}

/// The signature of the ONNX model in `bytes`.
pub fn read_signature(bytes: &[u8]) -> Result<Signature, OnnxError> {
    let model = proto::ModelProto::decode(bytes).map_err(|e| OnnxError::Decode(e.to_string()))?;
    if model.ir_version.unwrap_or(0) <= 0 {
        return Err(OnnxError::NotAModel("no ir_version"));
    }
    let graph = model.graph.ok_or(OnnxError::NotAModel("no graph"))?;
    let constants: Vec<&str> = graph
        .initializer
        .iter()
        .filter_map(|t| t.name.as_deref())
        .collect();
    let inputs = graph
        .input
        .iter()
        .filter(|v| !constants.contains(&v.name()))
        .map(value)
        .collect();
    let outputs = graph.output.iter().map(value).collect();
    Ok(Signature { inputs, outputs })
}

fn value(info: &proto::ValueInfoProto) -> OnnxValue {
    use proto::type_proto::Value;
    let ty = match info.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(Value::TensorType(t)) => OnnxType::Tensor {
            elem_type: t.elem_type.unwrap_or(0),
            shape: t.shape.as_ref().map(|s| s.dim.iter().map(dim).collect()),
        },
        Some(Value::SequenceType(_)) => OnnxType::Other("sequence"),
        Some(Value::MapType(_)) => OnnxType::Other("map"),
        Some(Value::OptionalType(_)) => OnnxType::Other("optional"),
        Some(Value::SparseTensorType(_)) => OnnxType::Other("sparse tensor"),
        Some(Value::OpaqueType(_)) => OnnxType::Other("opaque"),
        None => OnnxType::Other("no type"),
    };
    OnnxValue {
        name: info.name().to_string(),
        ty,
    }
}

fn dim(d: &proto::tensor_shape_proto::Dimension) -> Dim {
    use proto::tensor_shape_proto::dimension::Value;
    match &d.value {
        Some(Value::DimValue(n)) => Dim::Fixed(*n),
        Some(Value::DimParam(p)) if !p.is_empty() => Dim::Symbolic(p.clone()),
        _ => Dim::Unknown,
    }
}

/// The spec dtype (`stdlib/enums.plinth`, `enum dtype`) an ONNX element type is, if any.
pub fn spec_dtype(elem_type: i32) -> Option<&'static str> {
    use proto::tensor_proto::DataType as T;
    Some(match T::try_from(elem_type).ok()? {
        T::Bool => "bool",
        T::Int8 => "int8",
        T::Int16 => "int16",
        T::Int32 => "int32",
        T::Int64 => "int64",
        T::Uint8 => "uint8",
        T::Float16 => "float16",
        T::Float => "float32",
        T::Double => "float64",
        T::String => "string",
        _ => return None,
    })
}

/// The element type as the spec would write it, or ONNX's own name (`UINT16`,
/// `BFLOAT16`, `element type 99`).
pub fn elem_type_name(elem_type: i32) -> String {
    if let Some(dtype) = spec_dtype(elem_type) {
        return dtype.to_string();
    }
    match proto::tensor_proto::DataType::try_from(elem_type) {
        Ok(proto::tensor_proto::DataType::Undefined) => "undefined".to_string(),
        Ok(t) => t.as_str_name().to_string(),
        Err(_) => format!("element type {elem_type}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proto::tensor_proto::DataType;

    fn tensor(name: &str, elem: DataType, dims: &[Option<i64>]) -> proto::ValueInfoProto {
        use proto::tensor_shape_proto::{Dimension, dimension::Value};
        proto::ValueInfoProto {
            name: Some(name.to_string()),
            r#type: Some(proto::TypeProto {
                value: Some(proto::type_proto::Value::TensorType(
                    proto::type_proto::Tensor {
                        elem_type: Some(elem as i32),
                        shape: Some(proto::TensorShapeProto {
                            dim: dims
                                .iter()
                                .map(|d| Dimension {
                                    value: Some(match d {
                                        Some(n) => Value::DimValue(*n),
                                        None => Value::DimParam("batch".to_string()),
                                    }),
                                    denotation: None,
                                })
                                .collect(),
                        }),
                    },
                )),
                denotation: None,
            }),
            doc_string: None,
        }
    }

    fn model() -> proto::ModelProto {
        proto::ModelProto {
            ir_version: Some(8),
            graph: Some(proto::GraphProto {
                name: Some("g".to_string()),
                initializer: vec![proto::TensorProto {
                    name: Some("w".to_string()),
                    data_type: Some(DataType::Float as i32),
                    dims: vec![2, 1],
                }],
                input: vec![
                    tensor("x", DataType::Int64, &[None, Some(1)]),
                    tensor("w", DataType::Float, &[Some(2), Some(1)]),
                ],
                output: vec![tensor("y", DataType::Float, &[None, Some(1)])],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn reads_inputs_outputs_and_skips_initializers() {
        let sig = read_signature(&model().encode_to_vec()).unwrap();
        assert_eq!(
            sig.to_string(),
            "inputs: x int64[batch, 1]; outputs: y float32[batch, 1]"
        );
        assert_eq!(sig.input("x").unwrap().dtype_name(), "int64");
        assert!(sig.input("w").is_none());
    }

    #[test]
    fn corrupt_truncated_and_foreign_bytes_are_errors() {
        let bytes = model().encode_to_vec();
        assert!(matches!(
            read_signature(&bytes[..bytes.len() - 3]),
            Err(OnnxError::Decode(_))
        ));
        assert_eq!(
            read_signature(b""),
            Err(OnnxError::NotAModel("no ir_version"))
        );
        assert!(read_signature(b"\x89PNG\r\n\x1a\n not a model").is_err());
        let no_graph = proto::ModelProto {
            ir_version: Some(8),
            ..Default::default()
        };
        assert_eq!(
            read_signature(&no_graph.encode_to_vec()),
            Err(OnnxError::NotAModel("no graph"))
        );
    }

    #[test]
    fn element_types_map_to_spec_dtypes() {
        assert_eq!(elem_type_name(DataType::Double as i32), "float64");
        assert_eq!(elem_type_name(DataType::Float as i32), "float32");
        assert_eq!(elem_type_name(DataType::String as i32), "string");
        assert_eq!(elem_type_name(DataType::Uint16 as i32), "UINT16");
        assert_eq!(elem_type_name(0), "undefined");
        assert_eq!(elem_type_name(999), "element type 999");
    }

    proptest! {
        /// Any bytes: a signature or an error, never a panic.
        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read_signature(&bytes);
        }

        /// A real model cut anywhere, or with one byte changed, never panics.
        #[test]
        fn damaged_models_decode_without_panic(cut in 0usize..200, flip in 0usize..200, byte in any::<u8>()) {
            let mut bytes = model().encode_to_vec();
            if let Some(b) = bytes.get_mut(flip) {
                *b = byte;
            }
            bytes.truncate(cut);
            let _ = read_signature(&bytes);
        }
    }
}
