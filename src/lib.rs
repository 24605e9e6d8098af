//! podwall: a live wall-screen view of a Kubernetes cluster.
//!
//! `informer` watches the API server, `cache` keeps compact views, `hub` fans diffs out
//! as shared SSE frames, `web` serves pages and APIs; `sim` is a simulated API server.

pub mod api_client;
pub mod batch;
pub mod cache;
pub mod cluster;
pub mod deflate;
pub mod demo;
pub mod filter;
mod frame_data;
pub mod heap;
pub mod hub;
pub mod informer;
pub mod intern;
pub mod link;
pub mod metrics;
pub mod quantity;
pub mod render;
pub mod selector;
pub mod server;
pub mod sim;
pub mod slim;
pub mod telemetry;
pub mod usage;
pub mod view;
pub mod web;
