//! plinth-ir: the kind tables and the platform model.
//!
//! Architecture invariant: no syntax nodes and no target nouns (no "Deployment", no
//! "DAG") live here. The kind tables describe the language; the platform model describes
//! the checked platform for one environment.

pub mod kinds;
pub mod model;
pub mod policy;
pub mod values;

pub use model::*;
pub use policy::{PolicyDecision, PolicyFinding, PolicySummary};
pub use values::{Bytes, Date, Decimal, Duration, Millicores};
