//! Generates the ONNX message types (`onnx.rs` in OUT_DIR) from the vendored
//! `proto/onnx.proto` subset with protox, a pure-Rust protobuf compiler: no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors = protox::compile(["proto/onnx.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
