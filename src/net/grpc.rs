//! Unary gRPC calls to runners of imported realms: JSON in, JSON out,
//! transcoded with prost-reflect and carried by tonic with
//! [`DynamicCodec`](super::codec::DynamicCodec).

use prost_reflect::{
    DeserializeOptions, DynamicMessage, Kind, MessageDescriptor, MethodDescriptor, ReflectMessage,
    SerializeOptions,
};
use tonic::transport::{Channel, Endpoint};

use super::codec::DynamicCodec;

/// Lazily connected channels to one gRPC runner, one per thread: a
/// channel's task runs on the runtime that made it, so that each ingress
/// worker's calls stay on that worker's thread.
#[derive(Clone, Debug)]
pub struct GrpcUpstream {
    endpoint: std::sync::Arc<Endpoint>,
    channels: std::sync::Arc<thread_local::ThreadLocal<Channel>>,
}

impl GrpcUpstream {
    /// `url` is `http://host:port` (h2c) or `https://host:port`.
    pub fn new(url: &str) -> Result<GrpcUpstream, String> {
        let endpoint = Endpoint::from_shared(url.to_string()).map_err(|e| e.to_string())?;
        let endpoint = if url.starts_with("https://") {
            endpoint
                .tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots())
                .map_err(|e| e.to_string())?
        } else {
            endpoint
        };
        Ok(GrpcUpstream {
            endpoint: std::sync::Arc::new(endpoint.tcp_nodelay(true)),
            channels: Default::default(),
        })
    }

    /// This thread's channel, made on first use (inside a runtime).
    fn channel(&self) -> Channel {
        self.channels
            .get_or(|| Endpoint::clone(&self.endpoint).connect_lazy())
            .clone()
    }

    /// Calls `method` with `request` and the given metadata, reading a
    /// reply of at most `max_reply` bytes.
    pub async fn unary(
        &self,
        method: &MethodDescriptor,
        request: DynamicMessage,
        metadata: tonic::metadata::MetadataMap,
        max_reply: usize,
    ) -> Result<DynamicMessage, CallError> {
        let mut grpc = tonic::client::Grpc::new(self.channel())
            .max_decoding_message_size(max_reply)
            .max_encoding_message_size(usize::MAX);
        grpc.ready().await.map_err(|e| {
            CallError::Status(tonic::Status::unavailable(format!(
                "the runner is unreachable: {e}"
            )))
        })?;
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let path = http::uri::PathAndQuery::try_from(path).map_err(|e| {
            CallError::Status(tonic::Status::internal(format!("invalid method path: {e}")))
        })?;
        let mut request = tonic::Request::new(request);
        *request.metadata_mut() = metadata;
        grpc.unary(request, path, DynamicCodec::new(method.output()))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| {
                // tonic's own refusal of a long reply: not the server's word.
                if status.code() == tonic::Code::OutOfRange
                    && status
                        .message()
                        .starts_with("Error, decoded message length too large")
                {
                    CallError::TooLarge {
                        limit: max_reply,
                        detail: status.message().to_string(),
                    }
                } else {
                    CallError::Status(status)
                }
            })
    }
}

/// Whether an `Unavailable` status surely left the request unsent: the
/// connection to the runner was refused (by the type of the cause, not its
/// text), so a `+retry` verb may try again without running twice.
pub fn not_sent(status: &tonic::Status) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Why a unary call has no reply.
#[derive(Debug)]
pub enum CallError {
    /// The server (or the transport) answered with a status.
    Status(tonic::Status),
    /// The reply is longer than the limit this client reads.
    TooLarge { limit: usize, detail: String },
}

/// How replies are written as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonStyle {
    /// FTL's encoding, as the imported schema describes the reply: JSON
    /// names, 64-bit integers as numbers, every field present.
    Ftl,
    /// proto3 JSON as protojson prints it: 64-bit integers as strings,
    /// fields at their default left out, enums by name, well-known types in
    /// their JSON forms (`x-realm-json: proto3`).
    Proto3,
}

/// JSON (already checked against the verb's request type, which applies
/// proto3 JSON's rules) → the method's request message. A value the check
/// let through and prost-reflect refuses is answered with its JSON path.
pub fn json_to_message(
    method: &MethodDescriptor,
    json: &serde_json::Value,
) -> Result<DynamicMessage, (String, String)> {
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(json, &mut track);
    DynamicMessage::deserialize_with_options(method.input(), deserializer, &options).map_err(|e| {
        let path = json_path(&track.path());
        let message = format!(
            "{path}: cannot read this as protobuf {}: {e}",
            method.input().full_name(),
        );
        (path, message)
    })
}

/// serde_path_to_error's path as the checker writes paths: `$.a[2].b`.
fn json_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::from("$");
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => crate::schema::json::push_member(&mut out, key),
            Segment::Enum { variant } => crate::schema::json::push_member(&mut out, variant),
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// A reply message → JSON in `style`.
pub fn message_to_json(message: &DynamicMessage, style: JsonStyle) -> Result<Vec<u8>, String> {
    let options = match style {
        JsonStyle::Ftl => SerializeOptions::new()
            .stringify_64_bit_integers(false)
            .skip_default_fields(false),
        JsonStyle::Proto3 => SerializeOptions::new(),
    };
    // Written as text first: a float (32 bits) keeps its shortest form
    // ("0.1", not 0.10000000149011612); read back, it prints the same.
    let mut out = Vec::with_capacity(256);
    message
        .serialize_with_options(&mut serde_json::Serializer::new(&mut out), &options)
        .map_err(|e| format!("cannot encode the reply as JSON: {e}"))?;
    if !needs_mending(&message.descriptor()) {
        return Ok(out);
    }
    let mut json: serde_json::Value = serde_json::from_slice(&out)
        .map_err(|e| format!("cannot encode the reply as JSON: {e}"))?;
    sort_maps(&mut json, &message.descriptor(), 0);
    mend_float_wrappers(&mut json, message, 0);
    serde_json::to_vec(&json).map_err(|e| format!("cannot encode the reply as JSON: {e}"))
}

/// prost-reflect writes a DoubleValue or FloatValue holding NaN or an
/// infinity as `null` (serde_json's word for a non-finite float); proto3
/// JSON writes "NaN", "Infinity", "-Infinity", as for plain doubles.
fn mend_float_wrappers(json: &mut serde_json::Value, message: &DynamicMessage, depth: usize) {
    use prost_reflect::Value;
    if depth > 128 {
        return;
    }
    let serde_json::Value::Object(members) = json else {
        return;
    };
    let special = |f: f64| {
        serde_json::Value::String(
            if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            }
            .into(),
        )
    };
    for (field, value) in message.fields() {
        let Some(member) = members.get_mut(field.json_name()) else {
            continue;
        };
        let mend = |member: &mut serde_json::Value, value: &Value| {
            let Value::Message(inner) = value else {
                return;
            };
            match inner.descriptor().full_name() {
                "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
                    let f = match inner.get_field_by_name("value").as_deref() {
                        Some(Value::F64(f)) => *f,
                        Some(Value::F32(f)) => f64::from(*f),
                        _ => return,
                    };
                    if !f.is_finite() {
                        *member = special(f);
                    }
                }
                name if name.starts_with("google.protobuf.") => {}
                _ => mend_float_wrappers(member, inner, depth + 1),
            }
        };
        match (value, member) {
            (Value::List(items), serde_json::Value::Array(out)) => {
                for (item, out) in items.iter().zip(out.iter_mut()) {
                    mend(out, item);
                }
            }
            (Value::Map(entries), serde_json::Value::Object(out)) => {
                for (key, item) in entries {
                    let key = match key {
                        prost_reflect::MapKey::Bool(b) => b.to_string(),
                        prost_reflect::MapKey::I32(n) => n.to_string(),
                        prost_reflect::MapKey::I64(n) => n.to_string(),
                        prost_reflect::MapKey::U32(n) => n.to_string(),
                        prost_reflect::MapKey::U64(n) => n.to_string(),
                        prost_reflect::MapKey::String(s) => s.clone(),
                    };
                    if let Some(out) = out.get_mut(&key) {
                        mend(out, item);
                    }
                }
            }
            (value, member) => mend(member, value),
        }
    }
}

/// Whether the JSON of messages of this type may need mending: a map field
/// (entries to sort), an Any, or a float wrapper (its own or a nested
/// message's).
fn needs_mending(desc: &MessageDescriptor) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![desc.clone()];
    while let Some(m) = stack.pop() {
        if !seen.insert(m.full_name().to_string()) {
            continue;
        }
        for field in m.fields() {
            if field.is_map() {
                return true;
            }
            if let Kind::Message(inner) = field.kind() {
                if matches!(
                    inner.full_name(),
                    "google.protobuf.Any"
                        | "google.protobuf.DoubleValue"
                        | "google.protobuf.FloatValue"
                ) {
                    return true;
                }
                if !inner.full_name().starts_with("google.protobuf.") {
                    stack.push(inner);
                }
            }
        }
    }
    false
}

/// Puts the entries of map fields in key order (numbers by value, `false`
/// before `true`, strings by bytes), as protojson writes them: prost-reflect
/// writes them in hash order, which differs from process to process.
/// Bounded by prost-reflect's own nesting limit on decoding.
fn sort_maps(value: &mut serde_json::Value, desc: &MessageDescriptor, depth: usize) {
    use serde_json::Value;
    if depth > 128 {
        return;
    }
    let Value::Object(members) = value else {
        return;
    };
    if desc.full_name() == "google.protobuf.Any" {
        let inner = members
            .get("@type")
            .and_then(Value::as_str)
            .and_then(|url| url.rsplit_once('/'))
            .and_then(|(_, name)| desc.parent_pool().get_message_by_name(name));
        if let Some(inner) = inner.filter(|m| !m.full_name().starts_with("google.protobuf.")) {
            sort_maps(value, &inner, depth + 1);
        }
        return;
    }
    if desc.full_name().starts_with("google.protobuf.") {
        // Struct is ordered already (a BTreeMap); the rest have no maps.
        return;
    }
    for (key, member) in members.iter_mut() {
        let Some(field) = desc
            .get_field_by_json_name(key)
            .or_else(|| desc.get_field_by_name(key))
        else {
            continue;
        };
        let kind = field.kind();
        let message = |kind: &Kind| match kind {
            Kind::Message(m) => Some(m.clone()),
            _ => None,
        };
        if field.is_map() {
            let Some(entry) = message(&kind) else {
                continue;
            };
            let Value::Object(entries) = member else {
                continue;
            };
            let key_kind = entry.map_entry_key_field().kind();
            let mut sorted: Vec<(String, Value)> = std::mem::take(entries).into_iter().collect();
            sorted.sort_by(|(a, _), (b, _)| match key_kind {
                Kind::String | Kind::Bool => a.cmp(b),
                _ => match (a.parse::<i128>(), b.parse::<i128>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => a.cmp(b),
                },
            });
            let values = message(&entry.map_entry_value_field().kind());
            for (_, v) in &mut sorted {
                if let Some(m) = &values {
                    sort_maps(v, m, depth + 1);
                }
            }
            *entries = sorted.into_iter().collect();
        } else if let Some(m) = message(&kind) {
            match member {
                Value::Array(items) => items.iter_mut().for_each(|i| sort_maps(i, &m, depth + 1)),
                other => sort_maps(other, &m, depth + 1),
            }
        }
    }
}

/// The HTTP status for a gRPC status code (as gRPC-HTTP gateways map them).
pub fn http_status(code: tonic::Code) -> http::StatusCode {
    use http::StatusCode as S;
    use tonic::Code::*;
    match code {
        Ok => S::OK,
        Cancelled => S::from_u16(499).unwrap_or(S::BAD_REQUEST),
        Unknown | Internal | DataLoss => S::INTERNAL_SERVER_ERROR,
        InvalidArgument | FailedPrecondition | OutOfRange => S::BAD_REQUEST,
        DeadlineExceeded => S::GATEWAY_TIMEOUT,
        NotFound => S::NOT_FOUND,
        AlreadyExists | Aborted => S::CONFLICT,
        PermissionDenied => S::FORBIDDEN,
        ResourceExhausted => S::TOO_MANY_REQUESTS,
        Unimplemented => S::NOT_IMPLEMENTED,
        Unavailable => S::SERVICE_UNAVAILABLE,
        Unauthenticated => S::UNAUTHORIZED,
    }
}
