//! The data suites: every case under tests/{parse,check,diagnostics,golden}.
