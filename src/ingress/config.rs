//! Where `realm serve` listens and where it sends calls.
//!
//! Precedence, highest first:
//! - runners of local modules: `--runner MODULE=URL`, then the environment
//!   (`REALM_RUNNER_<MODULE>`), then `[ingress.runners]` (`<module>` keys,
//!   then `default`, where `${module}` is the module's name);
//! - endpoints of external realms (the config value
//!   `<name>-realm-endpoint`): `--realm-endpoint NAME=URL`, then the
//!   environment (`<NAME>_REALM_ENDPOINT`), then the config provider file
//!   (`config-provider = "file:PATH"`, a JSON object);
//! - the listen address: `--listen`, then `REALM_LISTEN`, then `[ingress]
//!   listen`, then `127.0.0.1:8871`;
//! - the hub (`[ingress] hub`) is a realm like the pinned ones: its endpoint
//!   is `<hub>-realm-endpoint`, found the same way;
//! - the key file: `$REALM_KEYS_FILE`, then `[ingress] keys-file`; keys in
//!   `$REALM_KEY_<REALM>` win over the file's;
//! - limits, timeouts, TLS files: `[ingress]` and `[ingress.tls]` only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use crate::project::{Project, UnsignedEgress};

use super::hops::DEFAULT_MAX_HOPS;

/// The address `realm serve` listens on when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8871";

/// Values given on the command line.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    /// `MODULE=URL`
    pub runners: Vec<(String, String)>,
    /// `NAME=URL`
    pub realm_endpoints: Vec<(String, String)>,
    /// `--ftl-endpoint URL`: an FTL cluster's verb service.
    pub ftl_endpoint: Option<String>,
}

/// Where a value came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Environment(String),
    /// realm's settings file (`realm.toml`, or `ftl-project.toml` in the
    /// older layout).
    SettingsFile(&'static str),
    ConfigFile(String),
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => f.write_str("command line"),
            Origin::Environment(var) => write!(f, "${var}"),
            Origin::SettingsFile(file) => f.write_str(file),
            Origin::ConfigFile(path) => f.write_str(path),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A resolved URL and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub origin: Origin,
}

/// Everything `realm serve` needs to know about its surroundings.
#[derive(Clone, Debug)]
pub struct IngressConfig {
    pub listen: SocketAddr,
    pub listen_origin: Origin,
    /// Runner URL per local module (modules without one are absent).
    pub runners: HashMap<String, Setting>,
    /// Endpoint per external realm (realms without one are absent).
    pub endpoints: HashMap<String, Setting>,
    /// The realm that relays calls to realms without an endpoint.
    pub hub: Option<String>,
    /// An FTL cluster's `VerbService`: serves the local modules without a
    /// runner (`--ftl-endpoint`, `$FTL_ENDPOINT`, `[ingress] ftl-endpoint`).
    pub ftl_endpoint: Option<Setting>,
    pub limits: Limits,
    pub security: Security,
    /// `fast-path`: plain HTTP/1.1 calls are served by the ingress's own
    /// HTTP/1.1 code (`ingress/fast`), everything else by hyper
    /// ([`DEFAULT_FAST_PATH`] when not set).
    pub fast_path: bool,
}

/// Whether `[ingress] fast-path` is on when not set: on since its
/// differential fuzzer ran clean for an hour (372,460 runs; issue 31).
pub const DEFAULT_FAST_PATH: bool = true;

/// Limits on calls, with their defaults.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Realms a call may cross (8).
    pub max_hops: u32,
    /// Bytes of a request body (4 MiB).
    pub max_body_size: u64,
    /// Bytes of a request's headers (64 KiB).
    pub max_header_size: usize,
    /// Time a client has to send its headers (10 s).
    pub header_timeout: Duration,
    /// Time a client has to send its body, and each write of a reply may
    /// wait for the client to read (30 s).
    pub request_timeout: Duration,
    /// Time a connection may stay open with no call in flight (60 s).
    pub idle_timeout: Duration,
    /// Time an upstream has to answer (30 s).
    pub upstream_timeout: Duration,
    /// Calls in flight per upstream (256).
    pub upstream_concurrency: usize,
    /// Client connections open at once (4096); more are answered 503 and
    /// closed.
    pub max_connections: usize,
    /// Worker threads serving connections (one per CPU).
    pub workers: usize,
    /// Bytes of request bodies held at once, all calls together (256 MiB);
    /// a body that does not fit is refused with 503.
    pub max_buffered: u64,
    /// Bytes of a gRPC runner's reply (default: `max_body_size`); a larger
    /// one is a 502 `upstream_too_large`.
    pub max_grpc_reply_size: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_hops: DEFAULT_MAX_HOPS,
            max_body_size: 4 << 20,
            max_header_size: 64 << 10,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            upstream_timeout: Duration::from_secs(30),
            upstream_concurrency: 256,
            max_connections: 4096,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get().min(64)),
            max_buffered: 256 << 20,
            max_grpc_reply_size: 4 << 20,
        }
    }
}

/// Authentication settings (where the secrets are, never the secrets).
#[derive(Clone, Debug)]
pub struct Security {
    /// The key file and how to name it in messages.
    pub keys_file: Option<(PathBuf, String)>,
    /// How old a signed call may be (60 s).
    pub replay_window: Duration,
    pub unsigned_egress: UnsignedEgress,
    /// Forward calls signed by other realms on to further realms.
    pub relay: bool,
    /// The listener's certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// CAs trusted for https upstreams, besides the system's.
    pub upstream_cas: Vec<PathBuf>,
    /// Presented to upstreams that ask for a client certificate.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Per realm, the CA its client certificates chain to.
    pub peer_cas: Vec<(String, PathBuf)>,
}

impl Default for Security {
    fn default() -> Security {
        Security {
            keys_file: None,
            replay_window: Duration::from_secs(60),
            unsigned_egress: UnsignedEgress::Loopback,
            relay: false,
            tls: None,
            upstream_cas: Vec::new(),
            client_cert: None,
            peer_cas: Vec::new(),
        }
    }
}

/// Resolves the configuration of the project's ingress for `modules` and
/// the external realms `realms`. `env` reads an environment variable.
pub fn resolve(
    project: &Project,
    config_values: Option<&ConfigValues>,
    modules: &[String],
    realms: &[String],
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<IngressConfig> {
    let Setting {
        value: listen_text,
        origin: listen_origin,
    } = first_set(
        overrides.listen.as_deref(),
        "REALM_LISTEN".into(),
        env,
        || {
            project.ingress.listen.as_ref().map(|l| Setting {
                value: l.clone(),
                origin: Origin::SettingsFile(project.ingress_file),
            })
        },
    )
    .unwrap_or(Setting {
        value: DEFAULT_LISTEN.to_string(),
        origin: Origin::Default,
    });
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        anyhow!("listen address `{listen_text}` (from {listen_origin}) is not an address such as 127.0.0.1:8871")
    })?;

    for (module, _) in &overrides.runners {
        if !modules.contains(module) {
            bail!(
                "--runner names module `{module}`, which realm `{}` does not have\nhelp: its modules are: {}",
                project.name,
                modules.join(", ")
            );
        }
    }
    let file_runners: HashMap<&str, &str> = project
        .ingress
        .runners
        .iter()
        .map(|(m, u)| (m.as_str(), u.as_str()))
        .collect();
    let mut runners = HashMap::new();
    for module in modules {
        let var = format!("REALM_RUNNER_{}", env_name(module));
        let flag = overrides.runners.iter().rev().find(|(m, _)| m == module);
        let setting = first_set(flag.map(|(_, url)| url.as_str()), var, env, || {
            file_runners
                .get(module.as_str())
                .or_else(|| file_runners.get("default"))
                .map(|template| Setting {
                    value: template.replace("${module}", module),
                    origin: Origin::SettingsFile(project.ingress_file),
                })
        });
        if let Some(setting) = setting {
            check_url(&setting, &format!("the runner of module `{module}`"))?;
            runners.insert(module.clone(), setting);
        }
    }

    for (realm, _) in &overrides.realm_endpoints {
        if !realms.contains(realm) {
            bail!(
                "--realm-endpoint names realm `{realm}`, which is not pinned\nhelp: {}",
                if realms.is_empty() {
                    "this project pins no realms".to_string()
                } else {
                    format!("the pinned realms are: {}", realms.join(", "))
                }
            );
        }
    }
    let ftl_endpoint = first_set(
        overrides.ftl_endpoint.as_deref(),
        "FTL_ENDPOINT".into(),
        env,
        || {
            project.ingress.ftl_endpoint.as_ref().map(|url| Setting {
                value: url.clone(),
                origin: Origin::SettingsFile(project.ingress_file),
            })
        },
    );
    if let Some(setting) = &ftl_endpoint {
        check_url(setting, "the FTL endpoint")?;
    }
    let mut endpoints = HashMap::new();
    for realm in realms {
        let key = format!("{realm}-realm-endpoint");
        let var = env_name(&key);
        let flag = overrides
            .realm_endpoints
            .iter()
            .rev()
            .find(|(r, _)| r == realm);
        let setting = first_set(flag.map(|(_, url)| url.as_str()), var, env, || {
            config_values.and_then(|ConfigValues { file: path, values }| {
                values.get(&key).map(|url| Setting {
                    value: url.clone(),
                    origin: Origin::ConfigFile(path.clone()),
                })
            })
        });
        if let Some(setting) = setting {
            check_url(&setting, &format!("`{key}`"))?;
            endpoints.insert(realm.clone(), setting);
        }
    }
    let settings = &project.ingress;
    let defaults = Limits::default();
    let limits = Limits {
        max_hops: settings.max_hops.unwrap_or(defaults.max_hops),
        max_body_size: settings.max_body_size.unwrap_or(defaults.max_body_size),
        max_header_size: settings
            .max_header_size
            .map_or(defaults.max_header_size, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
        header_timeout: settings.header_timeout.unwrap_or(defaults.header_timeout),
        request_timeout: settings.request_timeout.unwrap_or(defaults.request_timeout),
        idle_timeout: settings.idle_timeout.unwrap_or(defaults.idle_timeout),
        upstream_timeout: settings
            .upstream_timeout
            .unwrap_or(defaults.upstream_timeout),
        upstream_concurrency: settings
            .upstream_concurrency
            .map_or(defaults.upstream_concurrency, |n| n as usize),
        max_connections: settings
            .max_connections
            .map_or(defaults.max_connections, |n| n as usize),
        workers: settings.workers.map_or(defaults.workers, |n| n as usize),
        max_buffered: settings.max_buffered.unwrap_or(defaults.max_buffered),
        max_grpc_reply_size: settings
            .max_grpc_reply_size
            .or(settings.max_body_size)
            .unwrap_or(defaults.max_grpc_reply_size),
    };

    if limits.max_buffered < limits.max_body_size {
        bail!(
            "`[ingress] max-buffered` ({} bytes) is smaller than `max-body-size` ({} bytes): a body of the largest size could never be read\n\
             help: raise `max-buffered` to at least `max-body-size` (the default is 256MiB), or lower `max-body-size`",
            limits.max_buffered,
            limits.max_body_size
        );
    }
    let in_project = |p: &str| project.root.join(p);
    let keys_file = match env("REALM_KEYS_FILE") {
        Some(path) if !path.is_empty() => Some((PathBuf::from(&path), path)),
        _ => settings
            .keys_file
            .as_ref()
            .map(|p| (in_project(p), p.clone())),
    };
    let tls = &settings.tls;
    let defaults = Security::default();
    let security = Security {
        keys_file,
        replay_window: settings.replay_window.unwrap_or(defaults.replay_window),
        unsigned_egress: settings.unsigned_egress.unwrap_or(defaults.unsigned_egress),
        relay: settings.relay.unwrap_or(false),
        tls: tls
            .cert
            .as_ref()
            .zip(tls.key.as_ref())
            .map(|(c, k)| (in_project(c), in_project(k))),
        upstream_cas: tls.ca.iter().map(|p| in_project(p)).collect(),
        client_cert: tls
            .client_cert
            .as_ref()
            .zip(tls.client_key.as_ref())
            .map(|(c, k)| (in_project(c), in_project(k))),
        peer_cas: tls
            .peers
            .iter()
            .map(|(realm, p)| (realm.clone(), in_project(p)))
            .collect(),
    };

    Ok(IngressConfig {
        listen,
        listen_origin,
        runners,
        endpoints,
        hub: settings.hub.clone(),
        ftl_endpoint,
        limits,
        security,
        fast_path: settings.fast_path.unwrap_or(DEFAULT_FAST_PATH),
    })
}

/// The precedence of every setting: the flag, else the environment
/// variable `var`, else what `rest` finds (the project or config file).
fn first_set(
    flag: Option<&str>,
    var: String,
    env: &dyn Fn(&str) -> Option<String>,
    rest: impl FnOnce() -> Option<Setting>,
) -> Option<Setting> {
    if let Some(value) = flag {
        return Some(Setting {
            value: value.to_string(),
            origin: Origin::Flag,
        });
    }
    if let Some(value) = env(&var) {
        return Some(Setting {
            value,
            origin: Origin::Environment(var),
        });
    }
    rest()
}

/// The URL of a project's own ingress, for `realm call` and `realm status`
/// run in the project: `[ingress] listen` (or the default), `https` when
/// `[ingress.tls]` names a certificate, an unspecified address (`0.0.0.0`,
/// `[::]`) as loopback.
pub fn own_url(project: &Project) -> String {
    let listen = project.ingress.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let scheme = if project.ingress.tls.cert.is_some() {
        "https"
    } else {
        "http"
    };
    let host = match listen.parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() => {
            let loopback = match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            };
            SocketAddr::new(loopback, addr.port()).to_string()
        }
        _ => listen.to_string(),
    };
    format!("{scheme}://{host}")
}

/// `bank-realm-endpoint` → `BANK_REALM_ENDPOINT`.
pub fn env_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn check_url(setting: &Setting, what: &str) -> Result<()> {
    let ok = (setting.value.starts_with("http://") || setting.value.starts_with("https://"))
        && setting.value.parse::<http::Uri>().is_ok();
    if !ok {
        bail!(
            "{what} is {:?} (from {}), which is not an http:// or https:// URL",
            setting.value,
            setting.origin
        );
    }
    // Calls go to `<URL>/<path>`: a query or fragment would swallow the
    // path, and user information would be dropped without a word.
    let url = &setting.value;
    let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let problem = if authority.contains('@') {
        Some(
            "has user information (`user:password@`), which the ingress does not send; put credentials in TLS client certificates or signed calls (keys)",
        )
    } else if url.contains('?') {
        Some(
            "has a query (`?`): calls go to <URL>/<module>/<verb>, which a query would turn into a query parameter",
        )
    } else if url.contains('#') {
        Some(
            "has a fragment (`#`): calls go to <URL>/<module>/<verb>, which a fragment would cut off",
        )
    } else {
        None
    };
    if let Some(problem) = problem {
        bail!(
            "{what} is {url:?} (from {}), which {problem}\nhelp: give the base URL only, e.g. http://127.0.0.1:9001 or https://runner.example.com/prefix",
            setting.origin
        );
    }
    Ok(())
}

/// The config provider's values (`config-provider`): its file, as
/// messages name it, and its string values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigValues {
    pub file: String,
    pub values: HashMap<String, String>,
}

/// Reads the config provider's text (read by `build.rs`): a JSON object
/// whose string values are kept (the others are other settings).
pub fn parse_config_values(file: &str, text: &str) -> Result<ConfigValues> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| anyhow!("{file}:{}:{}: invalid JSON: {e}", e.line(), e.column()))?;
    let serde_json::Value::Object(object) = value else {
        bail!("{file} must hold a JSON object of configuration values");
    };
    let values = object
        .into_iter()
        .filter_map(|(key, value)| match value {
            serde_json::Value::String(s) => Some((key, s)),
            _ => None,
        })
        .collect();
    Ok(ConfigValues {
        file: file.to_string(),
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dir: &std::path::Path, toml: &str) -> Project {
        Project::parse(dir, toml.to_string()).unwrap_or_else(|r| panic!("{r}"))
    }

    #[test]
    fn runners_flag_then_environment_then_module_key_then_default_template() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = project(
            dir.path(),
            "name = \"shop\"\n[ingress.runners]\ndefault = \"http://${module}:8892\"\ncheckout = \"http://checkout-runner:1\"\n",
        );
        let modules: Vec<String> = ["checkout", "cart", "search", "admin"]
            .map(String::from)
            .to_vec();
        let overrides = Overrides {
            runners: vec![("search".into(), "http://flag:3".into())],
            ..Overrides::default()
        };
        let env = |var: &str| (var == "REALM_RUNNER_CART").then(|| "http://env:2".to_string());
        let config = resolve(&p, None, &modules, &[], &overrides, &env).expect("resolve");
        let runner = |m: &str| {
            config
                .runners
                .get(m)
                .map(|s| (s.value.as_str(), s.origin.to_string()))
        };
        assert_eq!(
            runner("checkout"),
            Some(("http://checkout-runner:1", "ftl-project.toml".into())),
            "the older layout: [ingress] in ftl-project.toml"
        );
        assert_eq!(
            runner("cart"),
            Some(("http://env:2", "$REALM_RUNNER_CART".into()))
        );
        assert_eq!(
            runner("search"),
            Some(("http://flag:3", "command line".into()))
        );
        assert_eq!(
            runner("admin"),
            Some(("http://admin:8892", "ftl-project.toml".into())),
            "the older layout: [ingress] in ftl-project.toml"
        );
        assert_eq!(config.listen, DEFAULT_LISTEN.parse().expect("addr"));
        assert_eq!(config.listen_origin, Origin::Default);
    }

    #[test]
    fn endpoints_flag_then_environment_then_config_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let values = parse_config_values(
            ".ftl/configuration.json",
            r#"{"bank-realm-endpoint": "http://file:1", "crm-realm-endpoint": "http://file:2", "other": 3}"#,
        )
        .expect("values");
        let p = project(
            dir.path(),
            "name = \"shop\"\nconfig-provider = \"file:.ftl/configuration.json\"\n[ingress]\nlisten = \"0.0.0.0:9000\"\n",
        );
        let realms: Vec<String> = ["bank", "crm", "hub", "ledger"].map(String::from).to_vec();
        let overrides = Overrides {
            realm_endpoints: vec![("crm".into(), "http://flag:3".into())],
            ..Overrides::default()
        };
        let env = |var: &str| match var {
            "BANK_REALM_ENDPOINT" => Some("http://env:4".to_string()),
            "REALM_LISTEN" => Some("127.0.0.1:9999".to_string()),
            _ => None,
        };
        let config = resolve(&p, Some(&values), &[], &realms, &overrides, &env).expect("resolve");
        let endpoint = |r: &str| config.endpoints.get(r).map(|s| s.value.as_str());
        assert_eq!(endpoint("bank"), Some("http://env:4"));
        assert_eq!(endpoint("crm"), Some("http://flag:3"));
        assert_eq!(endpoint("hub"), None);
        assert_eq!(config.listen, "127.0.0.1:9999".parse().expect("addr"));

        let config = resolve(
            &p,
            Some(&values),
            &[],
            &realms,
            &Overrides::default(),
            &|_| None,
        )
        .expect("resolve");
        assert_eq!(
            config.endpoints.get("bank").map(|s| s.origin.clone()),
            Some(Origin::ConfigFile(".ftl/configuration.json".into()))
        );
        assert_eq!(config.listen, "0.0.0.0:9000".parse().expect("addr"));
    }

    #[test]
    fn urls_with_a_query_fragment_or_user_information_are_refused() {
        let setting = |value: &str| Setting {
            value: value.to_string(),
            origin: Origin::Flag,
        };
        for ok in [
            "http://127.0.0.1:9001",
            "https://runner.example.com/prefix/",
            "http://[::1]:9001/a@b",
        ] {
            assert!(check_url(&setting(ok), "x").is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("http://u:pw@127.0.0.1:9001", "user information"),
            ("http://u@127.0.0.1:9001/", "user information"),
            ("http://127.0.0.1:9001/?x=", "a query"),
            ("http://127.0.0.1:9001?x", "a query"),
            ("http://127.0.0.1:9001/#x", "a fragment"),
        ] {
            let error = check_url(&setting(bad), "the runner of module `m`")
                .expect_err(bad)
                .to_string();
            assert!(error.contains(why), "{bad}: {error}");
            assert!(error.starts_with("the runner of module `m` is"), "{error}");
        }
    }

    #[test]
    fn a_broken_config_file_is_an_error_with_a_position() {
        let err = parse_config_values("config.json", "{\n  \"bank-realm-endpoint\": \n}")
            .expect_err("invalid JSON");
        assert_eq!(
            err.to_string(),
            "config.json:3:1: invalid JSON: expected value at line 3 column 1"
        );
    }

    #[test]
    fn own_url_is_loopback_for_unspecified_addresses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = |toml: &str| own_url(&project(dir.path(), &format!("name = \"shop\"\n{toml}")));
        assert_eq!(url(""), format!("http://{DEFAULT_LISTEN}"));
        assert_eq!(
            url("[ingress]\nlisten = \"0.0.0.0:9000\"\n"),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            url("[ingress]\nlisten = \"[::]:9000\"\n"),
            "http://[::1]:9000"
        );
        assert_eq!(
            url(
                "[ingress]\nlisten = \"10.0.0.1:9000\"\n[ingress.tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n"
            ),
            "https://10.0.0.1:9000"
        );
    }

    #[test]
    fn env_names() {
        assert_eq!(env_name("bank-realm-endpoint"), "BANK_REALM_ENDPOINT");
        assert_eq!(env_name("checkout"), "CHECKOUT");
    }
}
