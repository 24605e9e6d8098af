//! podwall: a live wall-screen view of a Kubernetes cluster.

pub mod app;
pub mod fanout;
pub mod k8s;
pub mod render;
pub mod sim;
pub mod state;
pub mod web;
