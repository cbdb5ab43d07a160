//! What `GET /status` answers and `realm status` reads: the realm, whether
//! it takes calls, the bytes of bodies it holds, and every upstream's state.
//! One type for both sides, so the two cannot drift apart.

use super::upstream::UpstreamStatus;

/// The body of `/status`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// The realm this ingress serves.
    pub realm: String,
    /// False while draining (shutting down).
    pub ready: bool,
    /// Bytes of request and reply bodies held now (`max-buffered`).
    pub buffered_bytes: u64,
    /// Every runner, realm and the hub, by kind and name.
    pub upstreams: Vec<UpstreamStatus>,
}
