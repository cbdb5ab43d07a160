//! The project's settings as Rust values: the entries of `module-dirs`,
//! pins, and realm's `[ingress]` settings. Plain data; reading them is
//! `read.rs` and `reader.rs`.

use std::time::Duration;

use crate::schema::Pos;

/// One entry of `module-dirs`.
#[derive(Clone, Debug)]
pub struct ModuleDir {
    /// Relative to the project root.
    pub path: String,
    /// Where it is written in `ftl-project.toml` (none for the default).
    pub pos: Option<Pos>,
}

/// Which table a pin is recorded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinTable {
    /// `[realms.egress.<name>]`, where earlier versions of `realm` recorded
    /// pins (FTL refuses it; `realm migrate` moves them).
    Egress,
    /// `[external-realms.<name>]`, FTL's table, where `realm add` records
    /// pins (unless the file uses the older table).
    ExternalRealms,
    /// `[caller-realms.<name>]` of `realm.toml`: a realm that calls this
    /// one (`realm add --caller`), pinned for its public keys and its
    /// usage file. Never in `ftl-project.toml` (FTL refuses the key), and
    /// never among the pins `@realm` references resolve against.
    CallerRealms,
}

impl PinTable {
    /// `external-realms`, `realms.egress`, `caller-realms`.
    pub fn prefix(self) -> &'static str {
        match self {
            PinTable::Egress => "realms.egress",
            PinTable::ExternalRealms => "external-realms",
            PinTable::CallerRealms => super::CALLER_TABLE,
        }
    }

    /// Whether the pin is of a realm that calls this one (as opposed to
    /// one this realm calls).
    pub fn is_caller(self) -> bool {
        self == PinTable::CallerRealms
    }
}

/// An external realm pinned to a git commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// The realm's name in this project (what `@name` refers to).
    pub name: String,
    /// `git-repo`: URL or path of the realm's repository.
    pub repo: String,
    /// `git-branch`: the branch `realm update` follows (the remote's HEAD
    /// branch when absent).
    pub branch: Option<String>,
    /// `git-commit`: the full commit id whose public API is used.
    pub commit: String,
    /// `git-path`: the schema file in the repository, when it is not the
    /// repository's `[realm] export`.
    pub path: Option<String>,
    /// Which table holds it.
    pub table: PinTable,
    /// Where it is written.
    pub pos: Option<Pos>,
}

impl Pin {
    /// The first 7 characters of the commit.
    pub fn short_commit(&self) -> &str {
        short_commit(&self.commit)
    }
}

/// The first 7 characters of a commit id, as git abbreviates it.
pub fn short_commit(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// `[ingress]` of realm.toml. Absent keys are `None`: the ingress
/// supplies the defaults.
#[derive(Clone, Debug, Default)]
pub struct IngressSettings {
    /// `listen`: the address `realm serve` binds.
    pub listen: Option<String>,
    /// `[ingress.runners]`: module name (or `default`) → runner URL, where
    /// `${module}` stands for the module's name.
    pub runners: Vec<(String, String)>,
    /// `max-hops`: realms a call may cross.
    pub max_hops: Option<u32>,
    /// `max-body-size`: bytes of a request body.
    pub max_body_size: Option<u64>,
    /// `max-header-size`: bytes of a request's headers.
    pub max_header_size: Option<u64>,
    /// `header-timeout`: time a client has to send a request's headers.
    pub header_timeout: Option<Duration>,
    /// `request-timeout`: time a client has to send a request's body.
    pub request_timeout: Option<Duration>,
    /// `idle-timeout`: time a connection may stay open with no call in
    /// flight.
    pub idle_timeout: Option<Duration>,
    /// `upstream-timeout`: time an upstream has to answer.
    pub upstream_timeout: Option<Duration>,
    /// `upstream-concurrency`: calls in flight per upstream.
    pub upstream_concurrency: Option<u32>,
    /// `max-connections`: client connections open at once.
    pub max_connections: Option<u32>,
    /// `workers`: threads serving connections.
    pub workers: Option<u32>,
    /// `max-buffered`: bytes of request bodies held at once, all calls
    /// together.
    pub max_buffered: Option<u64>,
    /// `max-grpc-reply-size`: bytes of a gRPC runner's reply.
    pub max_grpc_reply_size: Option<u64>,
    /// `fast-path`: plain HTTP/1.1 calls served by the ingress's own
    /// HTTP/1.1 code instead of hyper's server.
    pub fast_path: Option<bool>,
    /// `hub`: the realm that relays calls to realms without an endpoint.
    pub hub: Option<String>,
    /// `ftl-endpoint`: an FTL cluster's verb service, for local modules
    /// without a runner.
    pub ftl_endpoint: Option<String>,
    /// `relay`: forward calls signed by other realms to further realms.
    pub relay: Option<bool>,
    /// `keys-file`: the JSON file of per-realm signing keys (a path, not a
    /// secret).
    pub keys_file: Option<String>,
    /// `signing-key-file`: this realm's Ed25519 private key (PKCS#8 PEM),
    /// outside the repository (`realm keys new` writes it). Relative to
    /// the project root; `~/` is the home directory.
    pub signing_key_file: Option<String>,
    /// `replay-window`: how old a signed call may be.
    pub replay_window: Option<Duration>,
    /// `unsigned-egress`: who may send unsigned calls on to other realms
    /// when signing is on.
    pub unsigned_egress: Option<UnsignedEgress>,
    /// `[ingress.tls]`.
    pub tls: TlsSettings,
    /// `queued`: verbs (`module.verb@realm`) whose calls are always queued
    /// for durable delivery, as if they asked `Prefer: respond-async`.
    pub queued: Vec<String>,
    /// `store`: where queued calls and idempotency records are kept (a
    /// file, relative to the project root).
    pub store: Option<String>,
    /// `idempotency-window`: how long a reply is remembered by its
    /// `Idempotency-Key`.
    pub idempotency_window: Option<Duration>,
    /// `max-queued`: how many queued calls may be waiting (not yet
    /// delivered, failed or expired) at once; more are refused.
    pub max_queued: Option<u64>,
    /// `admin-token-file`: a file holding the bearer token `/deliveries`
    /// requires (relative to the project root; `~/` is the home
    /// directory).
    pub admin_token_file: Option<String>,
    /// `[ingress.delivery]`: how queued calls are retried.
    pub delivery: DeliverySettings,
}

/// `[ingress.delivery]`: the defaults of queued delivery, for verbs
/// without `+retry`.
#[derive(Clone, Debug, Default)]
pub struct DeliverySettings {
    /// `backoff`: the first wait after a failed attempt (doubling).
    pub backoff: Option<Duration>,
    /// `max-backoff`: the longest wait between attempts.
    pub max_backoff: Option<Duration>,
    /// `max-attempts`: attempts in all before a delivery fails.
    pub max_attempts: Option<u32>,
    /// `max-age`: how long after acceptance a delivery may still be tried.
    pub max_age: Option<Duration>,
}

/// Who may call other realms through this ingress without signing, when
/// signed calls are required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnsignedEgress {
    /// Loopback addresses only (runners on the same host or pod).
    Loopback,
    /// Loopback and private addresses. In a shared network (one cluster
    /// or VPC for several realms) that includes other realms' clients.
    Private,
    /// Anyone who can connect.
    Any,
    /// Nobody: every call must be signed.
    None,
}

/// `[ingress.tls]`: paths of PEM files, relative to the project root.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// `cert`: the listener's certificate chain.
    pub cert: Option<String>,
    /// `key`: its private key.
    pub key: Option<String>,
    /// `ca`: CAs trusted for https upstreams, besides the system's.
    pub ca: Vec<String>,
    /// `client-cert`: presented to upstreams that ask (mutual TLS).
    pub client_cert: Option<String>,
    /// `client-key`: its private key.
    pub client_key: Option<String>,
    /// `[ingress.tls.peers]`: realm → CA its client certificates chain to.
    pub peers: Vec<(String, String)>,
}

/// A public key of a realm: an entry of `[realm] public-keys` or
/// `[realm] retired-keys` in its `realm.toml`, written
/// `"ed25519:<key id>:<base64 of the 32-byte key>"` (see
/// [`super::keys`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealmKey {
    /// The key id: the first 8 bytes of the SHA-256 of the public key,
    /// lowercase hex ([`super::key_id`]).
    pub id: String,
    /// The algorithm: `ed25519`.
    pub algorithm: String,
    /// The raw public key (32 bytes).
    pub public: Vec<u8>,
    /// In `retired-keys`: calls signed with it are refused.
    pub retired: bool,
    /// Where it is written.
    pub pos: Option<Pos>,
}
