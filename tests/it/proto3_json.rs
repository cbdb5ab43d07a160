//! proto3 JSON at the ingress of a realm imported from protobuf: the
//! `kitchen.v1` service of `tests/proto3/` (every scalar, every well-known
//! type, maps with integer keys, a oneof, repeated enums), served by a
//! tonic backend in this process that echoes each request.
//!
//! - a table of bodies, each with its reply in FTL's encoding and in proto3
//!   JSON (`x-realm-json: proto3`) or its refusal, through
//!   `Ingress::handle` in-process (snapshot `proto3_json_table`);
//! - random messages → proto3 JSON (prost-reflect's serializer) → ingress
//!   → echo → the same message and the same JSON (property test);
//! - end to end with `realm serve`: a realm that pins the imported one
//!   checks a call as the imported realm's own ingress does, passes
//!   `x-realm-json` on and relays the reply unchanged;
//! - a reply beyond `max-grpc-reply-size` is a 502 `upstream_too_large`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use realm::ingress::{Call, Ingress, JSON_STYLE, Overrides};
use realm::net::codec::DynamicCodec;
use tonic::server::{Grpc, UnaryService};
use tonic::{Request, Response, Status};

use crate::common::backends::Background;
use crate::common::serve::{Serve, http};
use crate::common::{GitRealm, TestProject, run_realm_with, snapshots};

fn proto_dir() -> PathBuf {
    crate::common::repo_root().join("tests/proto3")
}

const PROTO: &str = "kitchen/v1/kitchen.proto";

fn pool() -> DescriptorPool {
    let mut compiler = protox::Compiler::new([proto_dir()]).expect("proto dir");
    compiler.include_imports(true);
    compiler.open_files([PROTO]).expect("compile kitchen.proto");
    compiler.descriptor_pool()
}

fn everything(pool: &DescriptorPool) -> MessageDescriptor {
    pool.get_message_by_name("kitchen.v1.Everything")
        .expect("Everything")
}

/// A gRPC server answering `kitchen.v1.KitchenService/Echo` with its
/// request, decoded and encoded again by prost-reflect.
fn echo_backend() -> Background {
    Background::start(None, |listener, stop| async move {
        let message = everything(&pool());
        let router = axum::Router::new().route(
            "/kitchen.v1.KitchenService/Echo",
            axum::routing::post(move |request: axum::extract::Request| {
                let message = message.clone();
                async move {
                    use axum::response::IntoResponse;
                    let mut grpc = Grpc::new(DynamicCodec::new(message));
                    grpc.unary(Echo, request)
                        .await
                        .map(axum::body::Body::new)
                        .into_response()
                }
            }),
        );
        tonic::transport::Server::builder()
            .add_routes(tonic::service::Routes::from(router))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stop.await;
                },
            )
            .await
            .expect("echo backend serves");
    })
}

struct Echo;

impl UnaryService<DynamicMessage> for Echo {
    type Response = DynamicMessage;
    type Future = Pin<Box<dyn Future<Output = Result<Response<DynamicMessage>, Status>> + Send>>;

    fn call(&mut self, request: Request<DynamicMessage>) -> Self::Future {
        let message = request.into_inner();
        Box::pin(async move { Ok(Response::new(message)) })
    }
}

/// The kitchen realm imported from its .proto file into `dir`.
fn import_into(dir: &Path, extra_project: &str) {
    let proto = proto_dir().join(PROTO);
    run_realm_with(
        dir,
        &[
            "import",
            "proto",
            &proto.display().to_string(),
            "-I",
            &proto_dir().display().to_string(),
            "--name",
            "kitchen",
            "--output",
            &dir.display().to_string(),
        ],
        &[],
    )
    .expect(0);
    if !extra_project.is_empty() {
        let path = dir.join("ftl-project.toml");
        let text = std::fs::read_to_string(&path).expect("project file");
        std::fs::write(&path, format!("{text}\n{extra_project}")).expect("write");
    }
}

/// The imported realm's ingress, in this process, with the echo backend
/// as its runner.
struct Kitchen {
    runtime: tokio::runtime::Runtime,
    ingress: Arc<Ingress>,
    _dir: tempfile::TempDir,
    _backend: Background,
}

impl Kitchen {
    fn new(extra_project: &str) -> Kitchen {
        let dir = tempfile::tempdir().expect("tempdir");
        import_into(dir.path(), extra_project);
        let backend = echo_backend();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let ctx = realm::pins::Context {
            cache: realm::pins::Cache::new(dir.path().join(".cache")),
            offline: true,
            progress: None,
            deny_warnings: false,
        };
        let ws = realm::workspace::Workspace::load(dir.path(), &ctx).expect("load the realm");
        let overrides = Overrides {
            runners: vec![("kitchen".into(), backend.url())],
            ..Overrides::default()
        };
        let ingress = {
            let _guard = runtime.enter();
            realm::ingress::from_workspace(&ws, &overrides, Vec::new()).expect("ingress")
        };
        Kitchen {
            runtime,
            ingress,
            _dir: dir,
            _backend: backend,
        }
    }

    /// `POST /realms/kitchen/kitchen/echo` → status and body.
    fn call(&self, body: &str, proto3: bool) -> (u16, String) {
        let mut headers = HeaderMap::new();
        if proto3 {
            headers.insert(JSON_STYLE, HeaderValue::from_static("proto3"));
        }
        let call = Call {
            realm: "kitchen",
            module: "kitchen",
            verb: "echo",
            path: "/realms/kitchen/kitchen/echo",
            scheme: "http",
            authority: None,
            headers: &headers,
            body: Bytes::copy_from_slice(body.as_bytes()),
            peer: Some("127.0.0.1:1".parse().expect("addr")),
            peer_realms: &[],
            request_id: "test",
            trace: realm::ingress::trace::TraceContext::start(1, 1),
        };
        let outcome = self.runtime.block_on(self.ingress.handle(&call));
        (
            outcome.reply.status.as_u16(),
            String::from_utf8_lossy(&outcome.reply.body).into_owned(),
        )
    }
}

/// Bodies and what becomes of them. Each is in proto3 JSON's terms
/// accepted (200) or refused (400, with the path).
const TABLE: &[(&str, &str)] = &[
    ("empty object: every field at its default", "{}"),
    ("JSON names", r#"{"anInt32": 5, "aString": "x"}"#),
    (
        "proto names",
        r#"{"an_int32": 5, "a_string": "x", "update_mask": "aString"}"#,
    ),
    (
        "int64 as a string",
        r#"{"anInt64": "-9223372036854775808"}"#,
    ),
    ("int64 as a number", r#"{"anInt64": 9007199254740993}"#),
    (
        "uint64 max as a string",
        r#"{"aUint64": "18446744073709551615"}"#,
    ),
    (
        "sint64, fixed64, sfixed64 as strings",
        r#"{"aSint64": "-7", "aFixed64": "7", "anSfixed64": "-7"}"#,
    ),
    (
        "int32 as a string",
        r#"{"anInt32": "-12", "aSint32": "3", "anSfixed32": "-4"}"#,
    ),
    (
        "int32 written as 1e3 and 5.0",
        r#"{"anInt32": 1e3, "aUint32": 5.0}"#,
    ),
    (
        "float specials",
        r#"{"aDouble": "NaN", "aFloat": "-Infinity", "wDouble": "Infinity"}"#,
    ),
    (
        "floats as strings and exponents",
        r#"{"aDouble": "1.5e300", "aFloat": "0.25", "wFloat": 1e-3}"#,
    ),
    (
        "bytes: padded, unpadded, URL-safe",
        r#"{"someBytes": "aGk", "wBytes": "-_8="}"#,
    ),
    (
        "enum by name and by number",
        r#"{"color": "COLOR_RED", "colors": [2, "COLOR_RED", 0]}"#,
    ),
    ("open enum: an unknown number", r#"{"color": 7}"#),
    ("optional int32 set to zero", r#"{"maybeCount": 0}"#),
    (
        "null is not set, everywhere",
        r#"{"anInt64": null, "item": null, "items": null, "namesById": null, "at": null, "wInt64": null, "color": null, "card": null}"#,
    ),
    (
        "maps with int64, bool and uint32 keys",
        r#"{"namesById": {"-1": "minus one", "9223372036854775807": "max"}, "flags": {"true": 1, "false": 0}, "waits": {"7": "1.5s"}}"#,
    ),
    (
        "nested messages and repeated int64",
        r#"{"item": {"sku": "s", "quantity": "3"}, "items": [{"sku": "t"}, {}], "ids": ["1", 2, "-3"]}"#,
    ),
    ("oneof: one member", r#"{"voucher": {"sku": "v1"}}"#),
    (
        "oneof: the other member null",
        r#"{"card": "4111", "voucher": null}"#,
    ),
    (
        "well-known types",
        r#"{"at": "2024-05-01T12:00:00.5+02:00", "ttl": "-0.000000001s", "updateMask": "aString,item.sku", "details": {"a": [1, null]}, "anything": null, "list": [1, "two", {"three": 3}], "nothing": {}, "nullValue": null}"#,
    ),
    (
        "wrappers",
        r#"{"wInt64": "5", "wUint64": "18446744073709551615", "wInt32": -1, "wUint32": 4294967295, "wBool": false, "wString": "", "wDouble": 0}"#,
    ),
    (
        "Any holding a message",
        r#"{"extra": {"@type": "type.googleapis.com/kitchen.v1.Item", "sku": "s", "quantity": "2"}}"#,
    ),
    (
        "Any holding a Duration",
        r#"{"extra": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "2s"}}"#,
    ),
    (
        "repeated Timestamps",
        r#"{"history": ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"]}"#,
    ),
    (
        "Timestamp with a space",
        r#"{"at": "2024-05-01 12:00:00Z"}"#,
    ),
    (
        "Timestamp in lower case",
        r#"{"at": "2024-05-01t12:00:00z"}"#,
    ),
    (
        "Timestamp out of range",
        r#"{"at": "0000-12-31T23:59:59Z"}"#,
    ),
    ("Duration \"soon\"", r#"{"ttl": "soon"}"#),
    ("Duration beyond 10000 years", r#"{"ttl": "315576000001s"}"#),
    ("uint32 -1", r#"{"aUint32": -1}"#),
    ("int32 3000000000", r#"{"anInt32": 3000000000}"#),
    (
        "int64 beyond 64 bits",
        r#"{"anInt64": "9223372036854775808"}"#,
    ),
    (
        "uint64 2^64 as a number",
        r#"{"aUint64": 18446744073709551616}"#,
    ),
    ("int32 1.5", r#"{"anInt32": 1.5}"#),
    ("int64 with a plus sign", r#"{"anInt64": "+5"}"#),
    ("float beyond float's range", r#"{"aFloat": 3.5e38}"#),
    ("float special in lower case", r#"{"aDouble": "nan"}"#),
    ("bool as a string", r#"{"aBool": "true"}"#),
    ("bytes that are not base64", r#"{"someBytes": "!!"}"#),
    ("unknown enum name", r#"{"color": "COLOR_BLUE"}"#),
    ("enum number beyond 32 bits", r#"{"color": 4294967296}"#),
    ("unknown field", r#"{"aStrin": "x"}"#),
    (
        "both names of one field",
        r#"{"aString": "x", "a_string": "y"}"#,
    ),
    (
        "both members of a oneof",
        r#"{"card": "4111", "voucher": {"sku": "v"}}"#,
    ),
    ("null for the whole message", "null"),
    ("an array for the message", "[]"),
    ("null inside a repeated field", r#"{"ids": [1, null]}"#),
    ("null as a map value", r#"{"namesById": {"1": null}}"#),
    (
        "map key that is not an int64",
        r#"{"namesById": {"one": "x"}}"#,
    ),
    ("bool map key \"yes\"", r#"{"flags": {"yes": 1}}"#),
    ("FieldMask with snake_case", r#"{"updateMask": "a_string"}"#),
    ("Empty with a member", r#"{"nothing": {"a": 1}}"#),
    ("Any without @type", r#"{"extra": {"sku": "s"}}"#),
    (
        "Any of an unknown type",
        r#"{"extra": {"@type": "type.googleapis.com/other.Thing"}}"#,
    ),
    (
        "Any holding a bad message",
        r#"{"extra": {"@type": "type.googleapis.com/kitchen.v1.Item", "quantity": "many"}}"#,
    ),
    (
        "nested error path",
        r#"{"itemsBySku": {"a b": {"quantity": 1.25}}}"#,
    ),
    ("ListValue given an object", r#"{"list": {}}"#),
    (
        "map keys \"5\" and \"05\": one key twice",
        r#"{"namesById": {"5": "a", "05": "b"}}"#,
    ),
    (
        "map keys \"-0\" and \"0\": one key twice",
        r#"{"namesById": {"-0": "a", "0": "b"}}"#,
    ),
    (
        "map keys with a sign and leading zeros",
        r#"{"namesById": {"+5": "a", "-007": "b"}}"#,
    ),
    (
        "uint32 map key with a plus sign",
        r#"{"waits": {"+7": "1s"}}"#,
    ),
    (
        "Timestamp with a leap second",
        r#"{"at": "2016-12-31T23:59:60Z"}"#,
    ),
    (
        "Timestamp on February 30",
        r#"{"at": "2024-02-30T00:00:00Z"}"#,
    ),
    ("Timestamp at hour 24", r#"{"at": "2024-05-01T24:00:00Z"}"#),
    (
        "Timestamp with a one-digit hour (protojson reads it, realm's transcoder does not)",
        r#"{"at": "2024-05-01T1:00:00Z"}"#,
    ),
    (
        "Timestamp with a comma before its fraction (protojson reads it, realm's transcoder does not)",
        r#"{"at": "2024-05-01T12:00:00,5Z"}"#,
    ),
    (
        "Timestamp with 10 digits of fraction",
        r#"{"at": "2024-05-01T12:00:00.1234567891Z"}"#,
    ),
    ("bytes with too little padding", r#"{"someBytes": "aG="}"#),
    ("bytes with too much padding", r#"{"someBytes": "aGk=="}"#),
    ("bytes mixing both alphabets", r#"{"someBytes": "+_8="}"#),
    ("bytes with unused bits set", r#"{"someBytes": "aGl="}"#),
    ("bytes of one character", r#"{"someBytes": "a"}"#),
    ("bytes, empty", r#"{"someBytes": ""}"#),
];

/// How each row ends, in one line per style.
fn outcome(kitchen: &Kitchen, body: &str) -> String {
    let (status, ftl) = kitchen.call(body, false);
    let (proto3_status, proto3) = kitchen.call(body, true);
    if status != 200 {
        assert_eq!(status, proto3_status, "{body}");
        assert_eq!(status, 400, "{body}: {ftl}");
        let error: serde_json::Value = serde_json::from_str(&ftl).expect("error JSON");
        let path = error["error"]["path"].as_str().unwrap_or("(no path)");
        assert!(
            path.starts_with('$'),
            "a refusal without a JSON path: {body} -> {ftl}"
        );
        return format!(
            "400 at {path}: {}",
            error["error"]["message"].as_str().unwrap_or_default()
        );
    }
    assert_eq!(proto3_status, 200, "{body}: {proto3}");
    format!("200\n  ftl:    {ftl}\n  proto3: {proto3}")
}

#[test]
fn the_ingress_reads_proto3_json_as_protobuf_does() {
    let kitchen = Kitchen::new("");
    let mut text = String::new();
    let mut accepted = 0;
    for (name, body) in TABLE {
        let result = outcome(&kitchen, body);
        if result.starts_with("200") {
            accepted += 1;
        }
        text.push_str(&format!("## {name}\n{body}\n-> {result}\n\n"));
    }
    assert!(TABLE.len() >= 40, "the table has {} rows", TABLE.len());
    assert!(accepted >= 20 && TABLE.len() - accepted >= 20, "{text}");
    snapshots(|| insta::assert_snapshot!("proto3_json_table", text));
}

/// Go's protojson (Debian's golang-google-protobuf-dev) reads every body
/// of the table as the ingress does, and prints the same proto3 JSON.
#[test]
fn go_protojson_agrees_with_the_table() {
    let gocode = Path::new("/usr/share/gocode");
    let have_go = std::process::Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_go || !gocode.join("src/google.golang.org/protobuf").is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "go and golang-google-protobuf-dev are missing, and CI=true (.ci/run installs them)"
        );
        eprintln!(
            "skipped: Go's protojson is not installed (apt-get install golang-go golang-google-protobuf-dev)"
        );
        return;
    }
    let kitchen = Kitchen::new("");
    let rows: Vec<serde_json::Value> = TABLE
        .iter()
        .map(|(name, body)| {
            let (status, reply) = kitchen.call(body, true);
            serde_json::json!({
                "name": name, "body": body, "accepted": status == 200,
                "proto3": if status == 200 { reply } else { String::new() },
            })
        })
        .collect();
    let work = tempfile::tempdir().expect("tempdir");
    let table = work.path().join("table.json");
    std::fs::write(&table, serde_json::to_vec(&rows).expect("JSON")).expect("write");
    let descriptors = work.path().join("realm");
    std::fs::create_dir(&descriptors).expect("mkdir");
    import_into(&descriptors, "");
    let gopath = work.path().join("gopath");
    let out = std::process::Command::new("go")
        .args(["run", "main.go"])
        .arg(descriptors.join("descriptors.binpb"))
        .arg(&table)
        .current_dir(proto_dir().join("agree"))
        .env("GO111MODULE", "off")
        .env(
            "GOPATH",
            format!("{}:{}", gopath.display(), gocode.display()),
        )
        .env("GOCACHE", work.path().join("gocache"))
        .output()
        .expect("go run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Rows where realm refuses what protojson reads, named in the row.
    let known: Vec<&str> = TABLE
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| name.contains("protojson reads it"))
        .collect();
    let mut expected: Vec<String> = known
        .iter()
        .map(|name| format!("DIFF {name}: protojson accepts=true (<nil>)"))
        .collect();
    expected.push(format!(
        "{}/{} agree",
        TABLE.len() - known.len(),
        TABLE.len()
    ));
    assert_eq!(
        stdout.trim(),
        expected.join("\n"),
        "where protojson and the ingress differ"
    );
}

#[test]
fn a_reply_beyond_the_limit_is_upstream_too_large() {
    let kitchen = Kitchen::new("[ingress]\nmax-grpc-reply-size = \"1KiB\"\n");
    let body = format!(r#"{{"aString": "{}"}}"#, "x".repeat(2000));
    let (status, reply) = kitchen.call(&body, false);
    assert_eq!(status, 502, "{reply}");
    let error: serde_json::Value = serde_json::from_str(&reply).expect("JSON");
    assert_eq!(error["error"]["code"], "upstream_too_large");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("1024 bytes") && message.contains("max-grpc-reply-size"),
        "{message}"
    );
    // A smaller one passes.
    let (status, _) = kitchen.call(r#"{"aString": "short"}"#, false);
    assert_eq!(status, 200);
}

#[test]
fn an_unknown_json_style_is_refused() {
    let kitchen = Kitchen::new("");
    let mut headers = HeaderMap::new();
    headers.insert(JSON_STYLE, HeaderValue::from_static("proto2"));
    let call = Call {
        realm: "kitchen",
        module: "kitchen",
        verb: "echo",
        path: "/realms/kitchen/kitchen/echo",
        scheme: "http",
        authority: None,
        headers: &headers,
        body: Bytes::from_static(b"{}"),
        peer: Some("127.0.0.1:1".parse().expect("addr")),
        peer_realms: &[],
        request_id: "test",
        trace: realm::ingress::trace::TraceContext::start(1, 1),
    };
    let outcome = kitchen.runtime.block_on(kitchen.ingress.handle(&call));
    assert_eq!(outcome.reply.status.as_u16(), 400);
    assert_eq!(outcome.refusal, Some("bad_json_style"));
}

mod random {
    //! Random messages through the ingress and back.

    use super::*;
    use proptest::prelude::*;
    use prost_reflect::{MapKey, ReflectMessage, SerializeOptions, Value};

    fn scalar(field: &str) -> BoxedStrategy<(String, Value)> {
        let f = field.to_string();
        let s: BoxedStrategy<Value> = match field {
            "a_double" => prop_oneof![
                any::<f64>().prop_filter("finite", |f| f.is_finite()),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY)
            ]
            .prop_map(Value::F64)
            .boxed(),
            "a_float" => any::<f32>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::F32)
                .boxed(),
            "an_int32" | "a_sint32" | "an_sfixed32" => any::<i32>().prop_map(Value::I32).boxed(),
            "an_int64" | "a_sint64" | "an_sfixed64" => any::<i64>().prop_map(Value::I64).boxed(),
            "a_uint32" | "a_fixed32" => any::<u32>().prop_map(Value::U32).boxed(),
            "a_uint64" | "a_fixed64" => any::<u64>().prop_map(Value::U64).boxed(),
            "a_bool" => any::<bool>().prop_map(Value::Bool).boxed(),
            "a_string" => "\\PC{0,12}".prop_map(Value::String).boxed(),
            "some_bytes" => proptest::collection::vec(any::<u8>(), 0..12)
                .prop_map(|b| Value::Bytes(b.into()))
                .boxed(),
            "color" => (0..4i32).prop_map(Value::EnumNumber).boxed(),
            "colors" => proptest::collection::vec((0..3i32).prop_map(Value::EnumNumber), 0..4)
                .prop_map(Value::List)
                .boxed(),
            "maybe_count" => any::<i32>().prop_map(Value::I32).boxed(),
            "ids" => proptest::collection::vec(any::<i64>().prop_map(Value::I64), 0..4)
                .prop_map(Value::List)
                .boxed(),
            "names_by_id" => proptest::collection::hash_map(any::<i64>(), "[a-z]{0,6}", 0..4)
                .prop_map(|m| {
                    Value::Map(
                        m.into_iter()
                            .map(|(k, v)| (MapKey::I64(k), Value::String(v)))
                            .collect(),
                    )
                })
                .boxed(),
            "flags" => proptest::collection::hash_map(any::<bool>(), any::<i32>(), 0..2)
                .prop_map(|m| {
                    Value::Map(
                        m.into_iter()
                            .map(|(k, v)| (MapKey::Bool(k), Value::I32(v)))
                            .collect(),
                    )
                })
                .boxed(),
            "card" => "[0-9]{0,8}".prop_map(Value::String).boxed(),
            _ => unreachable!("{field}"),
        };
        s.prop_map(move |v| (f.clone(), v)).boxed()
    }

    const FIELDS: &[&str] = &[
        "a_double",
        "a_float",
        "an_int32",
        "an_int64",
        "a_uint32",
        "a_uint64",
        "a_sint32",
        "a_sint64",
        "a_fixed32",
        "a_fixed64",
        "an_sfixed32",
        "an_sfixed64",
        "a_bool",
        "a_string",
        "some_bytes",
        "color",
        "colors",
        "maybe_count",
        "ids",
        "names_by_id",
        "flags",
        "card",
    ];

    /// Some of the fields, each with a random value, plus well-known types.
    fn message() -> impl Strategy<Value = Vec<(String, Value)>> {
        let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = FIELDS
            .iter()
            .map(|f| proptest::option::of(scalar(f)).boxed())
            .collect();
        let seconds = -62_135_596_800i64..=253_402_300_799i64;
        let nanos = 0..1_000_000_000i32;
        (
            fields,
            proptest::option::of((seconds, nanos)),
            proptest::option::of((-1_000_000i64..1_000_000, -999_999_999i32..=999_999_999)),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(|(fields, at, ttl, w_int64)| {
                let mut out: Vec<(String, Value)> = fields.into_iter().flatten().collect();
                let pool = pool();
                if let Some((seconds, nanos)) = at {
                    let t = prost_types::Timestamp { seconds, nanos };
                    out.push((
                        "at".into(),
                        Value::Message(
                            DynamicMessage::decode(
                                pool.get_message_by_name("google.protobuf.Timestamp")
                                    .expect("Timestamp"),
                                prost::Message::encode_to_vec(&t).as_slice(),
                            )
                            .expect("decode"),
                        ),
                    ));
                }
                if let Some((seconds, nanos)) = ttl {
                    // A Duration's nanos have the sign of its seconds.
                    let nanos = if seconds < 0 {
                        -nanos.abs()
                    } else if seconds > 0 {
                        nanos.abs()
                    } else {
                        nanos
                    };
                    let d = prost_types::Duration { seconds, nanos };
                    out.push((
                        "ttl".into(),
                        Value::Message(
                            DynamicMessage::decode(
                                pool.get_message_by_name("google.protobuf.Duration")
                                    .expect("Duration"),
                                prost::Message::encode_to_vec(&d).as_slice(),
                            )
                            .expect("decode"),
                        ),
                    ));
                }
                if let Some(n) = w_int64 {
                    let mut w = DynamicMessage::new(
                        pool.get_message_by_name("google.protobuf.Int64Value")
                            .expect("Int64Value"),
                    );
                    w.set_field_by_name("value", Value::I64(n));
                    out.push(("w_int64".into(), Value::Message(w)));
                }
                out
            })
    }

    #[test]
    fn random_messages_come_back_equal() {
        let kitchen = Kitchen::new("");
        let descriptor = everything(&pool());
        let config = ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        proptest!(config, |(fields in message())| {
            let mut sent = DynamicMessage::new(descriptor.clone());
            for (name, value) in fields {
                sent.set_field_by_name(&name, value);
            }
            let mut json = Vec::new();
            sent.serialize_with_options(&mut serde_json::Serializer::new(&mut json), &SerializeOptions::new())
                .expect("serialize");
            let json = String::from_utf8(json).expect("UTF-8");
            let (status, reply) = kitchen.call(&json, true);
            prop_assert_eq!(status, 200, "{} -> {}", json, reply);
            // proto3 JSON as prost-reflect prints it (map entries aside,
            // which the ingress puts in key order).
            let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("JSON");
            prop_assert!(value(&reply) == value(&json), "{} -> {}", json, reply);
            // Read back, the reply is the message sent (compared by its
            // canonical JSON: DynamicMessage tells a field set to its default
            // from one not set, which the wire does not).
            let canonical = |m: &DynamicMessage| serde_json::to_value(m).expect("JSON");
            let mut de = serde_json::Deserializer::from_str(&reply);
            let back = DynamicMessage::deserialize(sent.descriptor(), &mut de).expect("read the reply");
            prop_assert!(canonical(&back) == canonical(&sent), "{} -> {}", json, reply);
            // The default style says the same in FTL's encoding: read back,
            // it is the same message.
            let (status, ftl) = kitchen.call(&json, false);
            prop_assert_eq!(status, 200, "{}", ftl);
            let mut de = serde_json::Deserializer::from_str(&ftl);
            let back = DynamicMessage::deserialize(sent.descriptor(), &mut de).expect("read the reply");
            prop_assert!(canonical(&back) == canonical(&sent), "{} -> {}", json, ftl);
        });
    }
}

/// A realm that pins the imported realm, and both ingresses.
#[test]
fn a_pinning_realm_checks_and_relays_proto3_json() {
    let kitchen = GitRealm::empty("main");
    import_into(kitchen.path(), "");
    kitchen.commit("kitchen realm imported from protobuf");
    let caller = TestProject::new("caller");
    caller
        .realm(&["add", "--git-repo", &kitchen.url()])
        .expect(0);
    let backend = echo_backend();
    let kitchen_ingress = Serve::start(
        kitchen.path(),
        caller.cache_dir(),
        &["--runner", &format!("kitchen={}", backend.url())],
    );
    let caller_ingress = Serve::start(
        caller.path(),
        caller.cache_dir(),
        &[
            "--realm-endpoint",
            &format!("kitchen={}", kitchen_ingress.url()),
        ],
    );
    let path = "/realms/kitchen/kitchen/echo";
    let in_process = Kitchen::new("");
    for (name, body) in TABLE {
        for proto3 in [false, true] {
            let headers: &[(&str, &str)] = if proto3 {
                &[("x-realm-json", "proto3")]
            } else {
                &[]
            };
            let (status, _, through_caller) =
                http("POST", caller_ingress.addr, path, body, headers).expect("call");
            let (direct_status, _, direct) =
                http("POST", kitchen_ingress.addr, path, body, headers).expect("call");
            let (expected_status, expected) = in_process.call(body, proto3);
            assert_eq!(
                (status, direct_status),
                (expected_status, expected_status),
                "{name}: {through_caller} / {direct}"
            );
            if status == 200 {
                assert_eq!(through_caller, expected, "{name}");
                assert_eq!(direct, expected, "{name}");
            } else {
                // Refused where it was sent, with the same path and words.
                let error = |text: &str| {
                    let v: serde_json::Value = serde_json::from_str(text).expect("JSON");
                    (v["error"]["path"].clone(), v["error"]["message"].clone())
                };
                assert_eq!(error(&through_caller), error(&expected), "{name}");
                assert_eq!(error(&direct), error(&expected), "{name}");
                let v: serde_json::Value = serde_json::from_str(&through_caller).expect("JSON");
                assert_eq!(
                    v["error"]["realm"], "caller",
                    "{name}: refused by the pinning realm"
                );
            }
        }
    }
}
