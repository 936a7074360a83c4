//! plinth-policy: the Cedar policy engine. Generates the Cedar schema from the kind
//! tables, builds entities and requests from the platform model, evaluates the
//! selected policy packs, applies waivers and turns violations into diagnostics.
//!
//! Architecture invariant: reads only `plinth-ir` (and the `Diagnostic` type of
//! `plinth-syntax`); no salsa, no IO. The policy packs under `policies/` are embedded
//! at build time ([`embedded::FILES`]); the CLI passes a workspace's own files in.
//! The engine fails closed: a policy that fails to parse, validate or evaluate is an
//! error diagnostic, never an Allow.

pub mod codes;
pub mod entities;
pub mod eval;
pub mod grants;
pub mod load;
pub mod memo;
pub mod schema;
pub mod summary;

pub mod embedded {
    //! The built-in policy packs and their tests, embedded by `build.rs`.
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

pub use eval::{Decision, MemoStats, Options, Outcome, Suppressed, evaluate, parse_date, today};
pub use grants::grants;
pub use load::{Blame, Packs, PolicyFile, Rule, builtin_packs, load};
pub use schema::cedar_schema;
pub use summary::summary;
