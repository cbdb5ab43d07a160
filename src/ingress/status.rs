//! What `GET /status` answers and `realm status` reads: the realm, whether
//! it takes calls, the bytes of bodies it holds, and every upstream's state.
//! One type for both sides, so the two cannot drift apart.

use super::upstream::UpstreamStatus;

/// The body of `/status`. Read leniently (fields a newer ingress adds are
/// ignored, ones an older one lacks are zero, unknown states are
/// [`super::upstream::State::Other`]): `realm status` may be a different
/// version than the ingress it asks.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// The realm this ingress serves.
    pub realm: String,
    /// False while draining (shutting down).
    pub ready: bool,
    /// Bytes of request and reply bodies held now (`max-buffered`).
    #[serde(default)]
    pub buffered_bytes: u64,
    /// Every runner, realm and the hub, by kind and name.
    pub upstreams: Vec<UpstreamStatus>,
    /// The queued calls, when this ingress queues calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueStatus>,
}

/// The queue of an ingress: its cap and what waits, per target.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueStatus {
    /// `[ingress] max-queued`.
    #[serde(default)]
    pub max_queued: u64,
    /// Calls waiting, per target with any, in target order.
    #[serde(default)]
    pub targets: Vec<QueueDepth>,
    /// Why the store could not be read, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The calls waiting for one target (a verb of a realm).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueDepth {
    #[serde(default)]
    pub realm: String,
    #[serde(default)]
    pub module: String,
    #[serde(default)]
    pub verb: String,
    /// Queued or being sent.
    #[serde(default)]
    pub queued: u64,
    /// How long the first of them has waited, in milliseconds.
    #[serde(default)]
    pub oldest_age_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingress::upstream::{Kind, State};

    #[test]
    fn a_newer_or_older_ingress_is_read() {
        // A newer ingress: a field, a state and a kind this version does
        // not know. An older one: no `buffered_bytes`, no counters.
        let text = r#"{"realm":"shop","ready":true,"draining_since":"x","upstreams":[
            {"kind":"mirror","name":"m","endpoint":"http://m","state":"draining"},
            {"kind":"realm","name":"bank","endpoint":"http://b","state":"up","sent":3}]}"#;
        let status: Status = serde_json::from_str(text).expect("read");
        assert_eq!(status.buffered_bytes, 0);
        assert_eq!(status.upstreams[0].kind, Kind::Other);
        assert_eq!(status.upstreams[0].state, State::Other);
        assert_eq!(status.upstreams[1].state, State::Up);
        assert_eq!(status.upstreams[1].sent, 3);
        assert_eq!(status.queue, None);
    }
}
