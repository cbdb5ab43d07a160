//! A queued call as it is stored, and its lifecycle:
//! `queued` → `sending` → `delivered` | `failed` | `expired` (a `sending`
//! call found at start goes back to `queued`).

use serde::{Deserialize, Serialize};

/// Where a delivery is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for its turn or its next attempt.
    Queued,
    /// An attempt is in flight.
    Sending,
    /// The target answered with success; its reply is kept.
    Delivered,
    /// The target refused it for good, or every attempt failed.
    Failed,
    /// It was not delivered within its `max-age`.
    Expired,
}

impl Status {
    /// The status is final: the call is not tried again.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Delivered | Status::Failed | Status::Expired)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Expired => "expired",
        }
    }
}

/// The target's answer to a delivered (or finally refused) call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReply {
    pub status: u16,
    pub body: String,
}

/// One queued call: what was checked (and is sent again at each attempt,
/// signed anew), and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    /// Its place in the queue, given by the store: deliveries of one
    /// target are sent in this order.
    pub seq: u64,
    pub realm: String,
    pub module: String,
    pub verb: String,
    /// The body as it came and was checked (JSON text, or empty).
    pub body: String,
    /// The headers that go on with the call (request id, trace, via,
    /// caller module, FTL's headers, reply style), as name and value.
    pub headers: Vec<(String, String)>,
    /// The realm the call started in, as runners hear it.
    pub origin: Option<String>,
    /// The `Idempotency-Key` it is sent with: the caller's, else its id.
    pub key: String,
    pub status: Status,
    pub attempts: u32,
    /// Of those, the attempts that surely did not reach the target (it was
    /// down, backing off or busy): they count against `max-age` only.
    #[serde(default)]
    pub unmade: u32,
    pub last_error: Option<String>,
    pub reply: Option<StoredReply>,
    /// When it was accepted and last changed (ms since the Unix epoch).
    pub created_ms: u64,
    pub updated_ms: u64,
    /// While `sending`: until when the worker that claimed it holds it
    /// (ms since the Unix epoch); another worker sharing the store takes
    /// it only after.
    #[serde(default)]
    pub lease_ms: u64,
}

impl Delivery {
    /// Where it goes: deliveries of one target are sent one at a time, in
    /// the order they were accepted.
    pub fn target(&self) -> String {
        format!("{}/{}/{}", self.realm, self.module, self.verb)
    }

    /// What `GET /deliveries/<id>` answers: the reply's body as JSON when
    /// it is JSON.
    pub fn view(&self) -> serde_json::Value {
        let reply = self.reply.as_ref().map(|r| {
            let body = serde_json::from_str::<serde_json::Value>(&r.body)
                .unwrap_or_else(|_| serde_json::Value::String(r.body.clone()));
            serde_json::json!({ "status": r.status, "body": body })
        });
        serde_json::json!({
            "id": self.id,
            "status": self.status.as_str(),
            "realm": self.realm,
            "module": self.module,
            "verb": self.verb,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "reply": reply,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
        })
    }
}

/// A queued call of `balance.<verb>@bank` with body `{}`, its id and key
/// `id` (tests' fixture).
#[cfg(test)]
pub(crate) fn fixture(id: &str, verb: &str, seq: u64) -> Delivery {
    Delivery {
        id: id.into(),
        key: id.into(),
        seq,
        realm: "bank".into(),
        module: "balance".into(),
        verb: verb.into(),
        body: "{}".into(),
        headers: Vec::new(),
        origin: None,
        status: super::Status::Queued,
        attempts: 0,
        unmade: 0,
        last_error: None,
        reply: None,
        created_ms: 1,
        updated_ms: 1,
        lease_ms: 0,
    }
}
