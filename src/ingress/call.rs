//! One call's course through the ingress, without the HTTP server around
//! it. [`Call`] is what the request brought; [`Ingress::handle`] takes it
//! through the stages, each a function that returns what it decided:
//!
//! 1. `admit`: the hops (`x-realm-via`), the signature ([`super::auth`]) and
//!    [`super::authorize`]'s decision — who sent the call ([`Admission`]:
//!    known, and logged, even when the call is refused) and, when it may go
//!    on, where it started ([`Admitted`]);
//! 2. `route` (`route.rs`): where it goes ([`Route`]);
//! 3. `check`: the body fits the verb's request type, the reply style is
//!    one ([`Checked`]);
//! 4. `dispatch`: what goes with it (headers) and the forwarder of its
//!    upstream's kind (`forward.rs`, `forward_ftl.rs`, and `fake.rs` for
//!    a fake realm's modules), handed an [`Outbound`].
//!
//! [`Outcome`] is what became of the call. Never reads HTTP bodies or
//! writes responses (`request.rs`, `routes.rs`, `verb_service.rs` do).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::authorize::{self, Caller};
use super::forward::{Outbound, Signing, Target};
use super::hops::{VIA, Via};
use super::reply::{Refusal, Reply, auth_refusal, hop_refusal};
use super::route::Route;
use super::trace::{TRACEPARENT, TraceContext};
use super::upstream::Kind;
use super::{
    CALLER_MODULE, CALLER_REALM, FTL_PARENT_REQUEST_ID, FTL_REQUEST_ID, FTL_TRANSACTION_ID,
    FTL_VERB, Ingress, JSON_STYLE, REQUEST_ID, Runner, auth, is_request_id, unix_now,
};
use crate::net::grpc::JsonStyle;

/// One incoming call, as the HTTP server saw it.
#[derive(Debug)]
pub struct Call<'a> {
    pub realm: &'a str,
    pub module: &'a str,
    pub verb: &'a str,
    /// The request's path and query, as signed.
    pub path: &'a str,
    /// `http` or `https`: how this ingress was called.
    pub scheme: &'static str,
    /// The host (and port) this ingress was called at: the URI's authority
    /// (HTTP/2) or the `Host` header.
    pub authority: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// The realms whose CA verified the client's TLS certificate.
    pub peer_realms: &'a [String],
    pub request_id: &'a str,
    pub trace: TraceContext,
}

/// What became of a call: the reply, and for metrics and logs the refusal
/// code and whether the call named a verb of the schema.
#[derive(Debug)]
pub struct Outcome {
    pub reply: Reply,
    /// The refusal's code, when the call was refused or failed.
    pub refusal: Option<&'static str>,
    /// The call named a known verb (its names are safe metric labels).
    pub routed: bool,
    /// The realm that sent the call, when it was authenticated.
    pub caller: Option<String>,
}

/// What the authorize stage decided: who sent the call, and whether it
/// may go on.
pub(super) struct Admission {
    /// The realm that proved it sent the call; known (and logged) even
    /// when the call is refused, `None` when it proved nothing or its
    /// proof was refused.
    pub caller: Caller,
    pub admitted: Result<Admitted, Refusal>,
    /// The signature's nonces still to be taken in the replay cache the
    /// replicas share ([`Ingress::settle`] takes them, off this thread).
    pub shared: Vec<auth::SharedTake>,
}

/// How long a call waits for the replay cache the replicas share before
/// it is refused (503 `replay_cache_unavailable`).
const SHARED_NONCE_WAIT: Duration = Duration::from_secs(2);

/// A call the authorize stage let through.
pub(super) struct Admitted {
    /// The realms it crossed (`x-realm-via`), this one not among them.
    pub via: Via,
    /// The realm it started in, as runners hear it (`x-realm-caller`).
    pub origin: Option<String>,
    /// The RFC 9421 signature of the realm that sent it, verified: passed
    /// on beside this realm's own when the call goes on to another realm.
    pub relayed: Option<auth::Relayed>,
}

/// The realm whose signature a call carries, verified, and by which
/// scheme.
pub(super) struct Signed {
    pub realm: String,
    /// Set for an RFC 9421 signature.
    pub proven: Option<auth::Proven>,
}

/// What the check stage found: the body as a value and the reply style.
pub(super) struct Checked {
    /// The body as JSON; `None` when it is empty.
    pub value: Option<serde_json::Value>,
    /// How the caller wants replies of gRPC verbs (`x-realm-json`).
    pub style: JsonStyle,
}

/// A call that passed every check, handed to the forward stage: what the
/// request brought and what each stage before decided.
pub(super) struct Passed<'a> {
    pub call: &'a Call<'a>,
    pub admitted: Admitted,
    pub route: Route<'a>,
    pub checked: Checked,
}

impl Ingress {
    /// Handles one call: authenticates it, checks its hops, routes it,
    /// checks the body, calls the runner or the other realm, and answers.
    pub async fn handle(&self, call: &Call<'_>) -> Outcome {
        self.handle_within(call, None).await
    }

    /// [`Self::handle`], given up when the caller's `deadline` passes
    /// (the verb service's `grpc-timeout`): a routed call is then a
    /// `deadline_exceeded` refusal (504), counted per verb and logged like
    /// any call; the upstream call in flight is dropped.
    pub async fn handle_within(&self, call: &Call<'_>, deadline: Option<Duration>) -> Outcome {
        // Who sent the call is known (and logged) even when it is refused.
        let Admission {
            caller,
            admitted,
            shared,
        } = self.admit(call);
        let admitted = self.settle(admitted, shared).await;
        let routed = admitted.and_then(|admitted| {
            let route = self.route(call.realm, call.module, call.verb)?;
            Ok((admitted, route))
        });
        // A call routed to a verb of the schema is counted per verb.
        let (answered, routed) = match routed {
            Ok((admitted, route)) => {
                let forwarding = self.check_and_forward(call, admitted, route);
                let answered = match deadline {
                    None => forwarding.await,
                    Some(deadline) => tokio::time::timeout(deadline, forwarding)
                        .await
                        .unwrap_or_else(|_| Err(deadline_exceeded(deadline))),
                };
                (answered, true)
            }
            Err(refusal) => (Err(refusal), false),
        };
        match answered {
            Ok(reply) => Outcome {
                reply,
                refusal: None,
                routed,
                caller,
            },
            Err(refusal) => Outcome {
                reply: refusal.reply(&self.realm, call.request_id),
                refusal: Some(refusal.code),
                routed,
                caller,
            },
        }
    }

    /// The stages of a routed call: its check, then its forwarding.
    pub(super) async fn check_and_forward(
        &self,
        call: &Call<'_>,
        admitted: Admitted,
        route: Route<'_>,
    ) -> Result<Reply, Refusal> {
        let checked = self.check(call, &route)?;
        let passed = Passed {
            call,
            admitted,
            route,
            checked,
        };
        self.dispatch(passed).await
    }

    /// The authorize stage: the hops, the signature, then who sent the
    /// call and whether it may go on (`authorize`'s pure decision).
    pub(super) fn admit(&self, call: &Call<'_>) -> Admission {
        let refused = |refusal| Admission {
            caller: None,
            admitted: Err(refusal),
            shared: Vec::new(),
        };
        let via = match Via::parse(call.headers.get(VIA).map(HeaderValue::as_bytes)) {
            Ok(via) => via,
            Err(e) => {
                return refused(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    e.code(),
                    e.to_string(),
                ));
            }
        };
        let (signed, shared) = match self.verify(call, &via) {
            Ok(signed) => signed,
            Err(refusal) => return refused(refusal),
        };
        // The sender's own signature goes on with the call when this realm
        // relays it (one relay: a call that was relayed already is not).
        let origin_proven = signed
            .as_ref()
            .and_then(|s| s.proven.as_ref())
            .is_some_and(|p| p.origin.is_some());
        let (signed, relayed) = match signed {
            Some(Signed { realm, proven }) => {
                let relayed = proven
                    .filter(|p| p.sender != self.realm && p.origin.is_none())
                    .filter(|_| via.earlier().is_empty())
                    .map(|p| p.member);
                (Some(realm), relayed)
            }
            None => (None, None),
        };
        let policy = authorize::Policy {
            realm: &self.realm,
            required: self.auth_required(),
            peer_cas: &self.peer_cas,
            relay: self.config.security.relay,
            unsigned_egress: self.config.security.unsigned_egress,
            hub: self.config.hub.as_deref(),
        };
        let facts = authorize::Facts {
            signed: signed.as_deref(),
            signature_header: call.headers.contains_key(auth::SIGNATURE)
                || auth::is_signed(call.headers),
            certified: call.peer_realms,
            via: &via,
            origin_proven,
            local: call.realm == self.realm,
            peer: call.peer,
        };
        let caller = match authorize::identify(&policy, &facts) {
            Ok(caller) => caller,
            Err(refusal) => return refused(refusal),
        };
        let admitted = authorize::permit(&policy, &facts, caller.clone()).and_then(|_| {
            // Where the call started, for runners: proven, or (nothing
            // required here) what the call says.
            let origin = authorize::origin(&policy, &facts, caller.as_deref())
                .map(str::to_string)
                .or_else(|| {
                    (!self.auth_required())
                        .then(|| call.headers.get(CALLER_REALM))
                        .flatten()
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                });
            via.arrive(&self.realm, self.config.limits.max_hops)
                .map_err(hop_refusal)?;
            Ok(origin)
        });
        Admission {
            caller,
            admitted: admitted.map(|origin| Admitted {
                via,
                origin,
                relayed,
            }),
            shared,
        }
    }

    /// The last of the authorize stage, for a call it let through: its
    /// nonces taken in the replay cache the replicas share, on a blocking
    /// thread and within [`SHARED_NONCE_WAIT`] (a round trip to their
    /// store must not hold this worker, which serves other calls).
    pub(super) async fn settle(
        &self,
        admitted: Result<Admitted, Refusal>,
        shared: Vec<auth::SharedTake>,
    ) -> Result<Admitted, Refusal> {
        let admitted = admitted?;
        if shared.is_empty() {
            return Ok(admitted);
        }
        let taking = tokio::task::spawn_blocking(move || {
            shared.into_iter().try_for_each(auth::SharedTake::take)
        });
        let unavailable = |why: String| auth_refusal(&auth::AuthError::ReplayCacheUnavailable(why));
        match tokio::time::timeout(SHARED_NONCE_WAIT, taking).await {
            Ok(Ok(Ok(()))) => Ok(admitted),
            Ok(Ok(Err(e))) => Err(auth_refusal(&e)),
            Ok(Err(e)) => Err(unavailable(e.to_string())),
            Err(_) => Err(unavailable(format!(
                "no answer within {}",
                crate::duration::format(SHARED_NONCE_WAIT)
            ))),
        }
    }

    /// The realm whose signature the call carries, verified; `None` when
    /// it carries none or this ingress has no keys. An `x-realm-signature`
    /// is checked with the key shared with its realm (HMAC); otherwise a
    /// `Signature-Input` with the pinned callers' public keys (RFC 9421).
    ///
    /// With it, the nonces still to be taken in the replay cache the
    /// replicas share ([`Ingress::settle`]).
    fn verify(
        &self,
        call: &Call<'_>,
        via: &Via,
    ) -> Result<(Option<Signed>, Vec<auth::SharedTake>), Refusal> {
        let Some(verifier) = &self.verifier else {
            return Ok((None, Vec::new()));
        };
        let Some(header) = call.headers.get(auth::SIGNATURE) else {
            if !auth::is_signed(call.headers) {
                return Ok((None, Vec::new()));
            }
            let target_uri = format!(
                "{}://{}{}",
                call.scheme,
                call.authority.unwrap_or_default(),
                call.path
            );
            let incoming = auth::Incoming {
                target_uri: &target_uri,
                headers: call.headers,
                body: &call.body,
                earlier: via.earlier(),
            };
            return verifier
                .verify_signed_deferred(&incoming, unix_now())
                .map(|mut proven| {
                    let shared = std::mem::take(&mut proven.shared);
                    let signed = Signed {
                        realm: proven.sender.clone(),
                        proven: Some(proven),
                    };
                    (Some(signed), shared)
                })
                .map_err(|e| auth_refusal(&e));
        };
        let request = auth::Request {
            method: "POST",
            path: call.path,
            via: call
                .headers
                .get(VIA)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            body: &call.body,
        };
        verifier
            .verify_deferred(Some(header.as_bytes()), &request, unix_now())
            .map(|(realm, shared)| {
                let signed = Signed {
                    realm,
                    proven: None,
                };
                (Some(signed), shared.into_iter().collect())
            })
            .map_err(|e| auth_refusal(&e))
    }

    /// The check stage: the body is JSON that fits the verb's request
    /// type; the reply style asked for is one.
    pub(super) fn check(&self, call: &Call<'_>, route: &Route<'_>) -> Result<Checked, Refusal> {
        let (checker, request_type) = match route {
            Route::Local { verb, .. } => (&self.local, &verb.request),
            Route::External { external, verb, .. } => (&external.checker, &verb.request),
        };
        let value = parse_body(&call.body)?;
        checker
            .check_body(request_type, value.as_ref())
            .map_err(|e| Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_body",
                message: format!("the body does not fit {request_type}: {e}"),
                path: Some(e.path),
                retry_after: None,
                not_made: false,
            })?;
        let style = json_style(call.headers)?;
        Ok(Checked { value, style })
    }

    /// The forward stage: what goes with the call to where it was routed,
    /// and the forwarder of that upstream's kind.
    pub(super) async fn dispatch(&self, passed: Passed<'_>) -> Result<Reply, Refusal> {
        let Passed {
            call,
            admitted,
            route,
            checked,
        } = passed;
        match route {
            Route::Local {
                module,
                verb,
                runner,
                grpc,
            } => {
                let out = Outbound {
                    upstream: &runner.upstream,
                    what: Target::Runner(module),
                    module,
                    verb,
                    request_id: call.request_id,
                    headers: to_runner(call, admitted.origin),
                    body: call.body.clone(),
                    value: checked.value,
                    style: checked.style,
                };
                match (&runner.runner, grpc) {
                    (Runner::Grpc { upstream, url }, Some(method)) => {
                        // Boxed, so that the future of every call is not
                        // as large as a gRPC call's (see `server::service`).
                        Box::pin(self.call_grpc(out, upstream, url, method)).await
                    }
                    (Runner::Http { base }, _) => {
                        let url = format!("{base}/{module}/{}", verb.name);
                        self.send(out, &url, Signing::None).await
                    }
                    (Runner::Ftl { upstream, url }, _) => {
                        Box::pin(self.call_ftl(out, upstream, url)).await
                    }
                    (Runner::Fake { runner }, _) => {
                        let call = super::FakeCall {
                            realm: &self.realm,
                            module,
                            verb,
                            request: out.value.as_ref(),
                            request_id: call.request_id,
                        };
                        self.answer_fake(runner.as_ref(), call).await
                    }
                    (Runner::Grpc { .. }, None) => Err(Refusal::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "no_method",
                        format!(
                            "{module}.{} has no +grpc method for its gRPC runner",
                            verb.name
                        ),
                    )),
                }
            }
            Route::External {
                external,
                upstream,
                peer,
                module,
                verb,
            } => {
                let via = admitted
                    .via
                    .forward(&self.realm, &external.own_name, self.config.limits.max_hops)
                    .map_err(hop_refusal)?;
                let url = format!(
                    "{}/realms/{}/{module}/{}",
                    upstream.endpoint.trim_end_matches('/'),
                    external.own_name,
                    verb.name
                );
                let recording = self.recording(&checked.value);
                let out = Outbound {
                    upstream,
                    what: Target::Realm {
                        realm: call.realm,
                        hub: (upstream.kind == Kind::Hub).then_some(peer),
                    },
                    module,
                    verb,
                    request_id: call.request_id,
                    headers: self.to_realm(call, &via),
                    body: call.body.clone(),
                    value: checked.value,
                    style: checked.style,
                };
                let signing = self.signing_for(peer, admitted.relayed.as_ref());
                let reply = self.send(out, &url, signing).await;
                if let (Some((recorder, request)), Ok(reply)) = (recording, &reply) {
                    recorder.record(super::record::Crossed {
                        realm: call.realm,
                        module,
                        verb,
                        request: request.as_ref(),
                        reply,
                    });
                }
                reply
            }
        }
    }

    /// The headers of a call to another realm: those of every forwarded
    /// call, the realms it crossed with this one, this realm as the
    /// caller, and the reply style asked for.
    fn to_realm(&self, call: &Call<'_>, via: &Via) -> HeaderMap {
        let mut headers = passed_on(call);
        if let Ok(v) = HeaderValue::from_str(&via.to_string()) {
            headers.insert(VIA, v);
        }
        if let Ok(me) = HeaderValue::from_str(&self.realm) {
            headers.insert(CALLER_REALM, me);
        }
        if let Some(style) = call.headers.get(JSON_STYLE) {
            headers.insert(JSON_STYLE, style.clone());
        }
        headers
    }
}

/// The headers of every forwarded call: its request id, the calling
/// module, its idempotency key, and a child span of its trace.
fn passed_on(call: &Call<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(id) = HeaderValue::from_str(call.request_id) {
        headers.insert(REQUEST_ID, id);
    }
    if let Some(module) = call.headers.get(CALLER_MODULE) {
        headers.insert(CALLER_MODULE, module.clone());
    }
    // A queued call's key (its delivery id by default) goes on, so that
    // the realm it is delivered to runs it once.
    if let Some(key) = call.headers.get(super::IDEMPOTENCY_KEY) {
        headers.insert(super::IDEMPOTENCY_KEY, key.clone());
    }
    if let Ok(tp) = HeaderValue::from_bytes(&call.trace.child(super::random_u64()).header()) {
        headers.insert(TRACEPARENT, tp);
    }
    headers
}

/// The headers of a call to a runner of this realm: those of every
/// forwarded call, the realm it started in, the realms it crossed, and
/// FTL's own headers.
fn to_runner(call: &Call<'_>, origin: Option<String>) -> HeaderMap {
    let mut headers = passed_on(call);
    // The runner hears which realm the call started in.
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        headers.insert(CALLER_REALM, origin);
    }
    if let Some(v) = call.headers.get(VIA) {
        headers.insert(VIA, v.clone());
    }
    // FTL's own headers go to this realm's runners (or FTL cluster), not
    // to other realms: a transaction id means nothing there.
    for (name, value) in ftl_headers(call.headers) {
        headers.append(name, value.clone());
    }
    headers
}

/// FTL's headers a local runner hears: `Ftl-Verb`,
/// `Ftl-Parent-Request-Id` and `Ftl-Transaction-Id` as they came (the head
/// is bounded by `max-header-size`), `Ftl-Request-Id` only when it is a
/// usable request id (then it is also the call's id); an unusable one is
/// dropped, never replaced by an id FTL did not make.
fn ftl_headers(headers: &HeaderMap) -> impl Iterator<Item = (http::HeaderName, &HeaderValue)> {
    let as_they_came = [FTL_VERB, FTL_PARENT_REQUEST_ID, FTL_TRANSACTION_ID]
        .into_iter()
        .flat_map(move |name| {
            headers
                .get_all(&name)
                .into_iter()
                .map(move |value| (name.clone(), value))
        });
    let request_id = headers
        .get(FTL_REQUEST_ID)
        .filter(|id| id.to_str().is_ok_and(is_request_id))
        .map(|id| (FTL_REQUEST_ID, id));
    as_they_came.chain(request_id)
}

/// The reply style a caller asks for with `x-realm-json`.
fn json_style(headers: &HeaderMap) -> Result<JsonStyle, Refusal> {
    match headers.get(JSON_STYLE).map(HeaderValue::as_bytes) {
        None | Some(b"ftl") => Ok(JsonStyle::Ftl),
        Some(b"proto3") => Ok(JsonStyle::Proto3),
        Some(other) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_json_style",
            format!(
                "{JSON_STYLE}: {:?} is not a JSON style; use `proto3` (proto3 JSON replies) or `ftl` (FTL's encoding, the default)",
                String::from_utf8_lossy(other)
            ),
        )),
    }
}

/// The body as JSON; `None` when it is empty. Read strictly: a member
/// named twice is refused, so the value checked is the only one the bytes
/// forwarded can mean.
fn parse_body(body: &[u8]) -> Result<Option<serde_json::Value>, Refusal> {
    crate::schema::json_read::read_body(body).map_err(|e| Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "malformed_json",
        message: e.message,
        path: e.path,
        retry_after: None,
        not_made: false,
    })
}

/// A call the caller stopped waiting for.
fn deadline_exceeded(deadline: Duration) -> Refusal {
    Refusal::new(
        StatusCode::GATEWAY_TIMEOUT,
        "deadline_exceeded",
        format!(
            "no answer within the caller's deadline of {}",
            crate::duration::format(deadline)
        ),
    )
}
