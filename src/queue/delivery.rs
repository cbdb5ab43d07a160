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

/// The first byte of a delivery stored in the embedded store's binary
/// encoding, version 1 ([`Delivery::encode`]). A delivery stored as JSON
/// (every version of realm before it) starts with `{`: both are read.
pub(crate) const BINARY_V1: u8 = 0xB1;

impl Delivery {
    /// The delivery as the embedded store keeps it (its journal's records
    /// and its deliveries table): [`BINARY_V1`], then every field in a
    /// fixed order, integers little-endian, strings as a `u32` length and
    /// their bytes, `seq` first (read alone by [`Delivery::seq_of`]).
    /// Written in one pass with no intermediate values: the JSON it
    /// replaces cost the committing thread a tenth of its time.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let strings = [
            &self.id,
            &self.realm,
            &self.module,
            &self.verb,
            &self.body,
            &self.key,
        ];
        let mut size = 1 + 8 + 4 + 1 + 8 + 1 + 1 + 2 + 24 + 4 * 12;
        size += strings.iter().map(|s| s.len()).sum::<usize>();
        size += self
            .headers
            .iter()
            .map(|(n, v)| 8 + n.len() + v.len())
            .sum::<usize>();
        size += self.origin.as_ref().map_or(0, String::len);
        size += self.last_error.as_ref().map_or(0, String::len);
        size += self.reply.as_ref().map_or(0, |r| r.body.len());
        let mut out = Vec::with_capacity(size);
        out.push(BINARY_V1);
        out.extend_from_slice(&self.seq.to_le_bytes());
        for s in strings {
            put_str(&mut out, s);
        }
        out.extend_from_slice(&(self.headers.len() as u32).to_le_bytes());
        for (name, value) in &self.headers {
            put_str(&mut out, name);
            put_str(&mut out, value);
        }
        put_opt(&mut out, self.origin.as_deref());
        out.push(match self.status {
            Status::Queued => 0,
            Status::Sending => 1,
            Status::Delivered => 2,
            Status::Failed => 3,
            Status::Expired => 4,
        });
        out.extend_from_slice(&self.attempts.to_le_bytes());
        out.extend_from_slice(&self.unmade.to_le_bytes());
        put_opt(&mut out, self.last_error.as_deref());
        match &self.reply {
            None => out.push(0),
            Some(reply) => {
                out.push(1);
                out.extend_from_slice(&reply.status.to_le_bytes());
                put_str(&mut out, &reply.body);
            }
        }
        for n in [self.created_ms, self.updated_ms, self.lease_ms] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    /// A delivery as [`Delivery::encode`] wrote it, or as JSON (a store
    /// written by an older realm). A record of another encoding (a newer
    /// realm's) or one cut short is an error that says so.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Delivery, String> {
        match bytes.first() {
            Some(&BINARY_V1) => {
                let mut r = Reader(&bytes[1..]);
                let d = r.delivery().ok_or_else(|| {
                    "a damaged record: cut short or malformed (binary encoding 1)".to_string()
                })?;
                if !r.0.is_empty() {
                    return Err(format!(
                        "a damaged record: {} bytes past its end (binary encoding 1)",
                        r.0.len()
                    ));
                }
                Ok(d)
            }
            Some(b'{') => {
                serde_json::from_slice(bytes).map_err(|e| format!("a damaged record: {e}"))
            }
            Some(other) => Err(format!(
                "a record in an encoding this realm does not read (first byte {other:#04x}; it reads JSON and binary encoding 1): written by a newer realm? Deliver or drop the queue with that version first"
            )),
            None => Err("a damaged record: empty".into()),
        }
    }

    /// The `seq` of a record [`Delivery::decode`] reads, without the rest.
    pub(crate) fn seq_of(bytes: &[u8]) -> Result<u64, String> {
        #[derive(Deserialize)]
        struct SeqOf {
            seq: u64,
        }
        match bytes.first() {
            Some(&BINARY_V1) => bytes
                .get(1..9)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
                .ok_or_else(|| "a damaged record: cut short (binary encoding 1)".to_string()),
            Some(b'{') => serde_json::from_slice::<SeqOf>(bytes)
                .map(|s| s.seq)
                .map_err(|e| format!("a damaged record: {e}")),
            // Another encoding (a newer realm's), or empty: `decode`'s
            // message says which.
            _ => Delivery::decode(bytes).map(|d| d.seq),
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Strings are bounded far below 4 GiB (bodies by `max-body-size`);
    // one that was not would be cut, and read back as damaged.
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

/// Reads [`Delivery::encode`]'s fields in order; `None` when cut short or
/// malformed.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.bytes(2)?.try_into().ok().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes(4)?.try_into().ok().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.bytes(8)?.try_into().ok().map(u64::from_le_bytes)
    }
    fn str(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.bytes(len)?)
            .ok()
            .map(str::to_string)
    }
    fn opt(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => self.str().map(Some),
            _ => None,
        }
    }
    fn delivery(&mut self) -> Option<Delivery> {
        let seq = self.u64()?;
        let (id, realm, module, verb, body, key) = (
            self.str()?,
            self.str()?,
            self.str()?,
            self.str()?,
            self.str()?,
            self.str()?,
        );
        let count = self.u32()? as usize;
        // Each header takes at least 8 bytes: a count past what is left
        // is damage, not a reason to allocate.
        if count > self.0.len() / 8 {
            return None;
        }
        // Room for a few at first: a (String, String) takes 48 bytes, a
        // header of a damaged record 8.
        let mut headers = Vec::with_capacity(count.min(16));
        for _ in 0..count {
            headers.push((self.str()?, self.str()?));
        }
        let origin = self.opt()?;
        let status = match self.u8()? {
            0 => Status::Queued,
            1 => Status::Sending,
            2 => Status::Delivered,
            3 => Status::Failed,
            4 => Status::Expired,
            _ => return None,
        };
        let (attempts, unmade) = (self.u32()?, self.u32()?);
        let last_error = self.opt()?;
        let reply = match self.u8()? {
            0 => None,
            1 => Some(StoredReply {
                status: self.u16()?,
                body: self.str()?,
            }),
            _ => return None,
        };
        Some(Delivery {
            id,
            seq,
            realm,
            module,
            verb,
            body,
            headers,
            origin,
            key,
            status,
            attempts,
            unmade,
            last_error,
            reply,
            created_ms: self.u64()?,
            updated_ms: self.u64()?,
            lease_ms: self.u64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Delivery {
        let mut d = fixture("0190b7a0-0000-7000-8000-000000000001", "account", 42);
        d.key = "caller's key \"quoted\"".into();
        d.body = r#"{"id": "a1", "name": "ü"}"#.into();
        d.headers = vec![
            ("x-request-id".into(), "r1".into()),
            ("traceparent".into(), "00-ab-cd-01".into()),
        ];
        d.origin = Some("shop".into());
        d.status = Status::Delivered;
        d.attempts = 3;
        d.unmade = 2;
        d.last_error = Some("503: busy".into());
        d.reply = Some(StoredReply {
            status: 200,
            body: "{}".into(),
        });
        d.created_ms = 1_700_000_000_000;
        d.updated_ms = 1_700_000_000_500;
        d.lease_ms = u64::MAX;
        d
    }

    #[test]
    fn the_binary_encoding_reads_back_every_field() {
        for d in [full(), fixture("a", "x", 1)] {
            let bytes = d.encode();
            assert_eq!(bytes[0], BINARY_V1);
            assert_eq!(Delivery::decode(&bytes).expect("decode"), d);
            assert_eq!(Delivery::seq_of(&bytes).expect("seq"), d.seq);
        }
    }

    /// A store written by an older realm holds JSON: it is still read.
    #[test]
    fn a_delivery_stored_as_json_by_an_older_realm_is_read() {
        let d = full();
        let json = serde_json::to_vec(&d).expect("json");
        assert_eq!(Delivery::decode(&json).expect("decode"), d);
        assert_eq!(Delivery::seq_of(&json).expect("seq"), 42);
    }

    /// Cut short anywhere, or a byte past the end, or an encoding this
    /// realm does not know: an error that says which, never a panic.
    #[test]
    fn a_damaged_or_unknown_record_is_an_error_that_says_so() {
        let bytes = full().encode();
        for end in 0..bytes.len() {
            let e = Delivery::decode(&bytes[..end]).expect_err("cut short");
            assert!(e.contains("damaged"), "{e}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Delivery::decode(&longer).is_err());
        let mut newer = bytes;
        newer[0] = 0xB2;
        let e = Delivery::decode(&newer).expect_err("a newer encoding");
        assert!(e.contains("does not read"), "{e}");
    }
}
