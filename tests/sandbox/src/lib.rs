//! Sandboxes: local HTTP servers that answer like the real SaaS APIs the connector talks to, with
//! the paths, status codes, headers, pagination and JSON shapes of their official specs, and
//! with faults on demand. Tests and benchmarks use them instead of mocks; `mlc demo` runs on them.

// Every public item says why it exists (the project standard); clippy -D warnings holds it.
#![warn(missing_docs)]
// The order JSON is one large `json!` literal, as BigCommerce's is one large object.
#![recursion_limit = "512"]

pub mod bigcommerce;
pub mod demo;
pub mod oracle;
