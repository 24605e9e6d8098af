//! podwall: a live wall-screen view of a Kubernetes cluster.
//!
//! `informer` watches the API server, `cache` keeps compact views, `hub` fans diffs out
//! as shared SSE frames, `web` serves pages and APIs; `sim` is a simulated API server.

pub mod demo;
pub mod selector;
pub mod server;
pub mod sim;
pub mod telemetry;
