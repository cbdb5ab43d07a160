//! Typed values out of a TOML document, each problem with its position:
//! `name`, `module-dirs`, `[realm]`, `[ingress...]`, a pin; unknown keys
//! of realm's tables as warnings naming the closest known key.

use std::time::Duration;

use toml_edit::{Item, Table, TableLike};

use super::keys::parse_key_entry;
use super::{
    DeliverySettings, IngressSettings, ModuleDir, PIN_KEYS, Pin, PinTable, RealmKey, TlsSettings,
    UnsignedEgress, is_commit_id, is_inside,
};
use crate::schema::diagnostic::{Diagnostic, pos_at};
use crate::schema::is_ident;

const INGRESS_KEYS: &[&str] = &[
    "listen",
    "runners",
    "max-hops",
    "max-body-size",
    "max-header-size",
    "header-timeout",
    "request-timeout",
    "idle-timeout",
    "upstream-timeout",
    "upstream-concurrency",
    "max-connections",
    "workers",
    "max-buffered",
    "max-grpc-reply-size",
    "fast-path",
    "hub",
    "ftl-endpoint",
    "relay",
    "keys-file",
    "signing-key-file",
    "replay-window",
    "unsigned-egress",
    "tls",
    "queued",
    "store",
    "idempotency-window",
    "max-queued",
    "admin-token-file",
    "delivery",
];

const DELIVERY_KEYS: &[&str] = &["backoff", "max-backoff", "max-attempts", "max-age"];

const TLS_KEYS: &[&str] = &["cert", "key", "ca", "client-cert", "client-key", "peers"];

const REALM_KEYS: &[&str] = &[
    "export",
    "descriptor-set",
    "public-keys",
    "retired-keys",
    "usage",
];

/// Reads typed values out of the TOML document with positions for errors.
pub(super) struct Reader<'t> {
    pub(super) label: &'t str,
    pub(super) text: &'t str,
}

/// What reading a file found: errors stop the load, warnings do not.
#[derive(Default)]
pub(super) struct Found {
    pub(super) errors: Vec<Diagnostic>,
    pub(super) warnings: Vec<Diagnostic>,
    /// Warnings about the older layout: shown when the files load, left
    /// out of an error report (its advice, `realm migrate`, cannot run
    /// until the errors are fixed).
    pub(super) layout: Vec<Diagnostic>,
    /// Where `[ingress.tls]` is, for problems of the TLS settings as a
    /// whole (checked once both files are read).
    pub(super) tls_at: Option<Diagnostic>,
    /// `[realm] usage`: where `realm export` writes what this realm uses.
    pub(super) usage: Option<String>,
}

impl Reader<'_> {
    /// `name`, required.
    pub(super) fn name(&self, doc: &Table, errors: &mut Vec<Diagnostic>) -> String {
        let label = self.label;
        match doc.get("name") {
            None => {
                errors.push(
                    Diagnostic::new(format!("{label} has no `name`"), None)
                        .with_context(label)
                        .with_help(
                            "add `name = \"<realm name>\"` at the top: the name of this project's realm",
                        ),
                );
                String::new()
            }
            Some(item) => match self.string(item, "name") {
                Ok(name) if is_ident(&name) => name,
                Ok(name) => {
                    errors.push(
                        self.at(item, format!("`name` {name:?} is not a valid realm name"))
                            .with_help(
                                "a realm name is letters, digits and `_`, starting with a letter or `_`",
                            ),
                    );
                    String::new()
                }
                Err(d) => {
                    errors.push(d);
                    String::new()
                }
            },
        }
    }

    /// `[realm]`: `export` (a path or a list of paths) and
    /// `descriptor-set`.
    pub(super) fn realm_table(
        &self,
        item: &Item,
        export: &mut Vec<String>,
        descriptor_set: &mut Option<String>,
        keys: &mut Vec<RealmKey>,
        found: &mut Found,
    ) {
        let Some(table) = item.as_table_like() else {
            found.errors.push(
                self.at(item, "`realm` must be a table")
                    .with_help("write `[realm]` with `export = \"...\"` under it"),
            );
            return;
        };
        for (key, value) in table.iter() {
            match key {
                "descriptor-set" => match self.string(value, "[realm] descriptor-set") {
                    Ok(path) if is_inside(&path) => *descriptor_set = Some(path),
                    Ok(path) => found.errors.push(self.at(
                        value,
                        format!(
                            "`[realm] descriptor-set` {path:?} is not a path inside the project"
                        ),
                    )),
                    Err(d) => found.errors.push(d),
                },
                "usage" => match self.string(value, "[realm] usage") {
                    Ok(path) if is_inside(&path) => found.usage = Some(path),
                    Ok(path) => found.errors.push(self.at(
                        value,
                        format!("`[realm] usage` {path:?} is not a path inside the project"),
                    )),
                    Err(d) => found.errors.push(d),
                },
                "export" => {
                    let paths = match (value.as_str(), value.as_array()) {
                        (Some(p), _) => vec![p.to_string()],
                        (None, Some(a)) if !a.is_empty() => {
                            match a
                                .iter()
                                .map(|v| v.as_str().map(str::to_string))
                                .collect::<Option<Vec<_>>>()
                            {
                                Some(paths) => paths,
                                None => {
                                    found.errors.push(self.at(
                                        value,
                                        "`[realm] export` must be a path or a list of paths",
                                    ));
                                    continue;
                                }
                            }
                        }
                        _ => {
                            found.errors.push(
                                self.at(value, "`[realm] export` must be a path or a list of paths")
                                    .with_help("e.g. \"ftl-external-schema.txtpb\", or [\"ftl-external-schema.txtpb\", \"ftl-external-schema.json\"]"),
                            );
                            continue;
                        }
                    };
                    match paths.iter().find(|p| !is_inside(p)) {
                        Some(path) => found.errors.push(
                            self.at(
                                value,
                                format!("`[realm] export` {path:?} is not a path inside the project"),
                            )
                            .with_help(
                                "use a relative path without `..`, e.g. \"ftl-external-schema.txtpb\"",
                            ),
                        ),
                        None => *export = paths,
                    }
                }
                "public-keys" | "retired-keys" => {
                    self.realm_keys(key, value, key == "retired-keys", keys, found)
                }
                other => found
                    .warnings
                    .push(self.unknown_key(table, other, "realm", REALM_KEYS)),
            }
        }
    }

    /// `[realm] public-keys` or `retired-keys`: a list of
    /// `"ed25519:<key id>:<base64>"`. A key listed twice is an error.
    fn realm_keys(
        &self,
        key: &str,
        value: &Item,
        retired: bool,
        keys: &mut Vec<RealmKey>,
        found: &mut Found,
    ) {
        let help = "write `[realm] public-keys = [\"ed25519:<key id>:<base64>\"]`; `realm keys new` adds one";
        let Some(array) = value.as_array() else {
            found.errors.push(
                self.at(value, format!("`[realm] {key}` must be a list of keys"))
                    .with_help(help),
            );
            return;
        };
        for entry in array.iter() {
            let at = |message: String| self.span_diag(entry.span(), message);
            let Some(text) = entry.as_str() else {
                found
                    .errors
                    .push(at(format!("`[realm] {key}` must be a list of strings")).with_help(help));
                continue;
            };
            match parse_key_entry(text) {
                Ok(k) => {
                    if keys.iter().any(|o| o.id == k.id) {
                        found.errors.push(
                            at(format!("key `{}` is listed twice in `[realm]`", k.id))
                                .with_help("a key is in `public-keys` or in `retired-keys`, once"),
                        );
                        continue;
                    }
                    let pos = entry.span().map(|s| pos_at(self.label, self.text, s.start));
                    keys.push(RealmKey { retired, pos, ..k });
                }
                Err(e) => found
                    .errors
                    .push(at(format!("`[realm] {key}`: {e}")).with_help(help)),
            }
        }
    }

    pub(super) fn span_diag(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
    ) -> Diagnostic {
        match span {
            Some(span) => Diagnostic::new(message, Some(pos_at(self.label, self.text, span.start)))
                .with_len(
                    self.text[span.clone()]
                        .lines()
                        .next()
                        .map_or(1, |l| l.chars().count()),
                ),
            None => Diagnostic::new(message, None).with_context(self.label),
        }
    }

    pub(super) fn at(&self, item: &Item, message: impl Into<String>) -> Diagnostic {
        let span = item
            .span()
            .or_else(|| item.as_value().and_then(|v| v.span()));
        self.span_diag(span, message)
    }

    pub(super) fn string(&self, item: &Item, key: &str) -> Result<String, Diagnostic> {
        item.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.at(item, format!("`{key}` must be a string")))
    }

    /// `[ingress]` into `s`, every problem pushed to `found`.
    pub(super) fn ingress(&self, item: &Item, s: &mut IngressSettings, found: &mut Found) {
        let Some(table) = item.as_table_like() else {
            found
                .errors
                .push(self.at(item, "`ingress` must be a table"));
            return;
        };
        for (key, value) in table.iter() {
            let label = format!("[ingress] {key}");
            let result = match key {
                "listen" => self.string(value, &label).and_then(|addr| {
                    if addr.parse::<std::net::SocketAddr>().is_ok() {
                        s.listen = Some(addr);
                        Ok(())
                    } else {
                        Err(self
                            .at(value, format!("`{label}` {addr:?} is not an address"))
                            .with_help("write an IP address and a port, e.g. \"127.0.0.1:8871\" or \"0.0.0.0:8871\""))
                    }
                }),
                "runners" => self.runners(value, &mut s.runners, &mut found.errors),
                "max-hops" => self
                    .count(value, &label, 1, 64)
                    .map(|n| s.max_hops = Some(n as u32)),
                "max-body-size" => self.size(value, &label).map(|n| s.max_body_size = Some(n)),
                "max-header-size" => self.size(value, &label).and_then(|n| {
                    if n < 8192 {
                        Err(self.at(value, format!("`{label}` must be at least 8KiB")))
                    } else {
                        s.max_header_size = Some(n);
                        Ok(())
                    }
                }),
                "header-timeout" => self.duration(value, &label).map(|d| s.header_timeout = Some(d)),
                "request-timeout" => self.duration(value, &label).map(|d| s.request_timeout = Some(d)),
                "idle-timeout" => self.duration(value, &label).map(|d| s.idle_timeout = Some(d)),
                "upstream-timeout" => self.duration(value, &label).map(|d| s.upstream_timeout = Some(d)),
                "replay-window" => self.duration(value, &label).and_then(|d| {
                    if d < Duration::from_secs(1) {
                        Err(self.at(value, format!("`{label}` must be at least 1s")))
                    } else {
                        s.replay_window = Some(d);
                        Ok(())
                    }
                }),
                "upstream-concurrency" => self
                    .count(value, &label, 1, 1_000_000)
                    .map(|n| s.upstream_concurrency = Some(n as u32)),
                "max-connections" => self
                    .count(value, &label, 1, 1_000_000)
                    .map(|n| s.max_connections = Some(n as u32)),
                "workers" => self
                    .count(value, &label, 1, 1024)
                    .map(|n| s.workers = Some(n as u32)),
                "max-buffered" => self.size(value, &label).map(|n| s.max_buffered = Some(n)),
                "max-grpc-reply-size" => self
                    .size(value, &label)
                    .map(|n| s.max_grpc_reply_size = Some(n)),
                "hub" => self.string(value, &label).and_then(|name| {
                    if is_ident(&name) {
                        s.hub = Some(name);
                        Ok(())
                    } else {
                        Err(self.at(value, format!("`{label}` {name:?} is not a realm name")))
                    }
                }),
                "ftl-endpoint" => self
                    .string(value, &label)
                    .map(|url| s.ftl_endpoint = Some(url)),
                "relay" => value
                    .as_bool()
                    .map(|b| s.relay = Some(b))
                    .ok_or_else(|| self.at(value, format!("`{label}` must be true or false"))),
                "fast-path" => value
                    .as_bool()
                    .map(|b| s.fast_path = Some(b))
                    .ok_or_else(|| self.at(value, format!("`{label}` must be true or false"))),
                "keys-file" => self.string(value, &label).map(|p| s.keys_file = Some(p)),
                "signing-key-file" => self
                    .string(value, &label)
                    .map(|p| s.signing_key_file = Some(p)),
                "unsigned-egress" => self.string(value, &label).and_then(|v| {
                    s.unsigned_egress = Some(match v.as_str() {
                        "loopback" => UnsignedEgress::Loopback,
                        "private" => UnsignedEgress::Private,
                        "any" => UnsignedEgress::Any,
                        "none" => UnsignedEgress::None,
                        _ => {
                            return Err(self
                                .at(value, format!("`{label}` {v:?} is not one of \"loopback\", \"private\", \"any\", \"none\"")));
                        }
                    });
                    Ok(())
                }),
                "tls" => self.tls(value, &mut s.tls, found),
                "queued" => self.queued(value, &label).map(|q| s.queued = q),
                "store" => self.string(value, &label).map(|p| s.store = Some(p)),
                "idempotency-window" => self
                    .duration(value, &label)
                    .map(|d| s.idempotency_window = Some(d)),
                "max-queued" => self
                    .count(value, &label, 1, 100_000_000)
                    .map(|n| s.max_queued = Some(n as u64)),
                "admin-token-file" => self
                    .string(value, &label)
                    .map(|p| s.admin_token_file = Some(p)),
                "delivery" => self.delivery(value, &mut s.delivery, found),
                other => {
                    found
                        .warnings
                        .push(self.unknown_key(table, other, "ingress", INGRESS_KEYS));
                    Ok(())
                }
            };
            if let Err(d) = result {
                found.errors.push(d);
            }
        }
    }

    pub(super) fn runners(
        &self,
        item: &Item,
        runners: &mut Vec<(String, String)>,
        errors: &mut Vec<Diagnostic>,
    ) -> Result<(), Diagnostic> {
        let table = item
            .as_table_like()
            .ok_or_else(|| self.at(item, "`[ingress.runners]` must be a table"))?;
        for (module, url) in table.iter() {
            match self.string(url, &format!("[ingress.runners] {module}")) {
                Ok(u) if u.starts_with("http://") || u.starts_with("https://") => {
                    runners.push((module.to_string(), u));
                }
                Ok(u) => errors.push(
                    self.at(
                        url,
                        format!("runner `{module}` {u:?} is not an http:// or https:// URL"),
                    )
                    .with_help("write e.g. \"http://127.0.0.1:8892\" or \"http://${module}:8892\""),
                ),
                Err(d) => errors.push(d),
            }
        }
        Ok(())
    }

    /// `[ingress] queued`: verbs as `module.verb@realm`.
    fn queued(&self, item: &Item, label: &str) -> Result<Vec<String>, Diagnostic> {
        let bad = || {
            self.at(item, format!("`{label}` must be a list of verbs"))
                .with_help("write e.g. queued = [\"balance.withdraw@bank\"] (module.verb@realm)")
        };
        let array = item.as_array().ok_or_else(bad)?;
        let mut verbs = Vec::new();
        for value in array.iter() {
            let text = value.as_str().ok_or_else(bad)?;
            let fits = text.split_once('@').is_some_and(|(mv, realm)| {
                is_ident(realm)
                    && mv
                        .split_once('.')
                        .is_some_and(|(m, v)| is_ident(m) && is_ident(v))
            });
            if !fits {
                return Err(bad());
            }
            verbs.push(text.to_string());
        }
        Ok(verbs)
    }

    /// `[ingress.delivery]` into `s`.
    fn delivery(
        &self,
        item: &Item,
        s: &mut DeliverySettings,
        found: &mut Found,
    ) -> Result<(), Diagnostic> {
        let table = item
            .as_table_like()
            .ok_or_else(|| self.at(item, "`[ingress.delivery]` must be a table"))?;
        for (key, value) in table.iter() {
            let label = format!("[ingress.delivery] {key}");
            let result = match key {
                "backoff" => self.duration(value, &label).map(|d| s.backoff = Some(d)),
                "max-backoff" => self
                    .duration(value, &label)
                    .map(|d| s.max_backoff = Some(d)),
                "max-age" => self.duration(value, &label).map(|d| s.max_age = Some(d)),
                "max-attempts" => self
                    .count(value, &label, 1, 1_000_000)
                    .map(|n| s.max_attempts = Some(n as u32)),
                other => {
                    found.warnings.push(self.unknown_key(
                        table,
                        other,
                        "ingress.delivery",
                        DELIVERY_KEYS,
                    ));
                    Ok(())
                }
            };
            if let Err(d) = result {
                found.errors.push(d);
            }
        }
        Ok(())
    }

    pub(super) fn tls(
        &self,
        item: &Item,
        tls: &mut TlsSettings,
        found: &mut Found,
    ) -> Result<(), Diagnostic> {
        let table = item
            .as_table_like()
            .ok_or_else(|| self.at(item, "`[ingress.tls]` must be a table"))?;
        found.tls_at = Some(self.at(item, ""));
        for (key, value) in table.iter() {
            let label = format!("[ingress.tls] {key}");
            let result = match key {
                "cert" => self.string(value, &label).map(|p| tls.cert = Some(p)),
                "key" => self.string(value, &label).map(|p| tls.key = Some(p)),
                "client-cert" => self
                    .string(value, &label)
                    .map(|p| tls.client_cert = Some(p)),
                "client-key" => self.string(value, &label).map(|p| tls.client_key = Some(p)),
                "ca" => match value.as_str() {
                    Some(p) => {
                        tls.ca = vec![p.to_string()];
                        Ok(())
                    }
                    None => value
                        .as_array()
                        .and_then(|a| {
                            a.iter()
                                .map(|v| v.as_str().map(str::to_string))
                                .collect::<Option<Vec<_>>>()
                        })
                        .map(|paths| tls.ca = paths)
                        .ok_or_else(|| {
                            self.at(
                                value,
                                format!("`{label}` must be a path or an array of paths"),
                            )
                        }),
                },
                "peers" => match value.as_table_like() {
                    Some(peers) => {
                        for (realm, path) in peers.iter() {
                            match self.string(path, &format!("[ingress.tls.peers] {realm}")) {
                                Ok(p) => tls.peers.push((realm.to_string(), p)),
                                Err(d) => found.errors.push(d),
                            }
                        }
                        Ok(())
                    }
                    None => Err(self.at(
                        value,
                        "`[ingress.tls.peers]` must be a table of realm = \"CA file\"",
                    )),
                },
                other => {
                    found
                        .warnings
                        .push(self.unknown_key(table, other, "ingress.tls", TLS_KEYS));
                    Ok(())
                }
            };
            if let Err(d) = result {
                found.errors.push(d);
            }
        }
        Ok(())
    }

    pub(super) fn unknown_key(
        &self,
        table: &dyn TableLike,
        key: &str,
        table_name: &str,
        known: &[&str],
    ) -> Diagnostic {
        let span = table.get_key_value(key).and_then(|(k, _)| k.span());
        let place = if table_name == self.label {
            self.label.to_string()
        } else {
            format!("`[{table_name}]` of {}", self.label)
        };
        let table_name = if table_name == self.label {
            self.label.to_string()
        } else {
            format!("[{table_name}]")
        };
        let d = self
            .span_diag(
                span,
                format!("unknown key `{key}` in {place}: realm ignores it"),
            )
            .into_warning();
        match known
            .iter()
            .max_by(|a, b| strsim::jaro_winkler(key, a).total_cmp(&strsim::jaro_winkler(key, b)))
            .filter(|k| strsim::jaro_winkler(key, k) > 0.8)
        {
            Some(k) => d.with_help(format!("did you mean `{k}`?")),
            None => d.with_help(format!(
                "the keys of `{table_name}` are: {}",
                known.join(", ")
            )),
        }
    }

    pub(super) fn duration(&self, item: &Item, key: &str) -> Result<Duration, Diagnostic> {
        let text = self.string(item, key)?;
        match crate::duration::parse(&text) {
            Ok(d) if d > Duration::from_secs(24 * 3600) => {
                Err(self.at(item, format!("`{key}` must be at most 24h")))
            }
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(self.at(item, format!("`{key}` must be longer than 0"))),
            Err(e) => Err(self.at(item, format!("`{key}`: {e}"))),
        }
    }

    pub(super) fn count(
        &self,
        item: &Item,
        key: &str,
        min: i64,
        max: i64,
    ) -> Result<i64, Diagnostic> {
        match item.as_integer() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.at(
                item,
                format!("`{key}` must be a whole number from {min} to {max}"),
            )),
        }
    }

    /// A number of bytes: an integer or a string such as "64KiB", "4MiB".
    pub(super) fn size(&self, item: &Item, key: &str) -> Result<u64, Diagnostic> {
        let bad = || {
            self.at(item, format!("`{key}` must be a size in bytes"))
                .with_help("write a number of bytes, or e.g. \"64KiB\" or \"4MiB\"")
        };
        if let Some(n) = item.as_integer() {
            return u64::try_from(n).ok().filter(|n| *n > 0).ok_or_else(bad);
        }
        let text = item.as_str().ok_or_else(bad)?;
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        let n: u64 = number.parse().map_err(|_| bad())?;
        let scale: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" | "KB" | "K" => 1 << 10,
            "MiB" | "MB" | "M" => 1 << 20,
            "GiB" | "GB" | "G" => 1 << 30,
            _ => return Err(bad()),
        };
        n.checked_mul(scale).filter(|n| *n > 0).ok_or_else(bad)
    }

    pub(super) fn module_dirs(&self, item: &Item) -> Result<Vec<ModuleDir>, Diagnostic> {
        let array = item
            .as_array()
            .ok_or_else(|| self.at(item, "`module-dirs` must be an array of strings"))?;
        array
            .iter()
            .map(|v| {
                let pos = v
                    .span()
                    .map(|span| pos_at(self.label, self.text, span.start));
                match v.as_str() {
                    Some(path) => Ok(ModuleDir {
                        path: path.to_string(),
                        pos,
                    }),
                    None => {
                        Err(self.span_diag(v.span(), "`module-dirs` must be an array of strings"))
                    }
                }
            })
            .collect()
    }

    pub(super) fn pin(
        &self,
        parent: &dyn TableLike,
        name: &str,
        item: &Item,
        table: PinTable,
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<Pin, Diagnostic> {
        let key_span = parent.get_key_value(name).and_then(|(k, _)| k.span());
        let prefix = table.prefix();
        let at_name = |message: String| self.span_diag(key_span.clone(), message);
        if !is_ident(name) {
            return Err(
                at_name(format!("`{name}` is not a valid realm name")).with_help(
                    "a realm name is letters, digits and `_`, starting with a letter or `_`",
                ),
            );
        }
        let Some(t) = item.as_table_like() else {
            return Err(self.at(item, format!("`{prefix}.{name}` must be a table")));
        };
        for (key, _) in t.iter() {
            if !PIN_KEYS.contains(&key) {
                warnings.push(self.unknown_key(t, key, &format!("{prefix}.{name}"), PIN_KEYS));
            }
        }
        let field = |key: &str| -> Result<Option<String>, Diagnostic> {
            t.get(key).map(|v| self.string(v, key)).transpose()
        };
        let caller = if table.is_caller() { " --caller" } else { "" };
        let missing = |key: &str, example: &str| {
            at_name(format!("pin `{prefix}.{name}` has no `{key}`")).with_help(format!(
                "add `{key} = {example}`, or run `realm remove{caller} {name}` and `realm add{caller}` again"
            ))
        };
        let repo = field("git-repo")?.ok_or_else(|| missing("git-repo", "\"<url>\""))?;
        let commit =
            field("git-commit")?.ok_or_else(|| missing("git-commit", "\"<40-hex commit>\""))?;
        if !is_commit_id(&commit) {
            let item = t.get("git-commit").unwrap_or(item);
            return Err(self
                .at(item, format!("`git-commit` {commit:?} is not a full commit id"))
                .with_help(format!(
                    "pin a full 40-character commit id; `realm update {name}` pins the branch's head"
                )));
        }
        let path = field("git-path")?;
        if let Some(p) = &path
            && !is_inside(p)
        {
            let item = t.get("git-path").unwrap_or(item);
            return Err(self
                .at(item, format!("`git-path` {p:?} leaves the repository"))
                .with_help("give a path relative to the repository root, without `..`"));
        }
        Ok(Pin {
            name: name.to_string(),
            repo,
            branch: field("git-branch")?,
            commit: commit.to_ascii_lowercase(),
            path,
            table,
            pos: key_span.map(|s| pos_at(self.label, self.text, s.start)),
        })
    }
}
