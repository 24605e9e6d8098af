//! The simulated API server on its own: the cluster it generates, its `/_sim/` faults and
//! trouble on demand, and
//! (on request) its scale. One test binary (see tests/README.md); the API conformance
//! suite, which also runs against a real kube-apiserver, is `tests/conformance/`.

mod cluster;
mod faults;
mod scale;
mod trouble;
