//! Shared helpers for the data-driven test suites in this folder.
