//! The committed Cedar schema (`policies/schema.cedarschema`) must match what the kind
//! tables generate. `UPDATE_SCHEMA=1 cargo test -p plinth-policy --test schema_file`
//! rewrites it.

#[test]
fn committed_cedar_schema_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policies/schema.cedarschema"
    );
    let generated = plinth_policy::cedar_schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "policies/schema.cedarschema is stale: run `plinth schema --cedar > policies/schema.cedarschema` \
         (or UPDATE_SCHEMA=1 cargo test -p plinth-policy --test schema_file)"
    );
}
