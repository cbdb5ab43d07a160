//! What a realm uses of each realm it pins: the caller's side of a two-way
//! pin (issue 27). `realm export` writes it beside the public API, so the
//! pinned realm can check its breaking changes against what its callers
//! really use ([`super::callers`]).
//!
//! **Used** declarations of a pinned realm are
//! - **referred to** from this realm's schema: every reference with that
//!   realm (`balance.withdraw@bank`) in a type anywhere in the internal
//!   realm (fields, verb requests and responses, aliases, enums, topics,
//!   config and secrets, of private declarations too: a runner reads and
//!   writes them) and in metadata (`+calls`, `+subscribe`, `+publish`,
//!   `+retry ... catch`); each use keeps its file:line:col;
//! - **reached** from those through the pinned realm's types: a verb's
//!   request and response, a data type's fields, an alias's type, an enum's
//!   variant types, a topic's event, transitively. Metadata of the pinned
//!   realm is not followed (a verb the caller calls may itself call others;
//!   the caller does not use those). A reached declaration names the
//!   referred-to ones it is reached from (`via`), so a breaking change to
//!   it can be reported at the caller's own lines.
//!
//! **Fields read** are every field of every used data type: a JSON client
//! decodes and encodes a whole value, so it reads (in a response) or writes
//! (in a request) every field its pinned schema has, whatever its code then
//! looks at. Likewise **variants** are every variant of a used enum. Both
//! are what the pinned commit of the realm has; a field or variant the
//! pinned realm added later is not used by this caller until it updates.
//!
//! The file (`ftl-realm-usage.json` by default) is JSON:
//!
//! ```json
//! {
//!   "format": "realm-usage/1",
//!   "caller": "shop",
//!   "realms": [
//!     {
//!       "realm": "bank",
//!       "declarations": [
//!         { "name": "balance.WithdrawRequest", "kind": "data",
//!           "fields": ["account", "amount", "memo"], "via": ["balance.withdraw"] },
//!         { "name": "balance.withdraw", "kind": "verb",
//!           "uses": [{ "file": "modules/checkout.ftl", "line": 5, "column": 12 }] }
//!       ]
//!     }
//!   ]
//! }
//! ```
//!
//! `realm` is the name the caller pins the realm under (its `@realm`), and
//! `own-name` the realm's own name when that differs (the used realm finds
//! itself by it);
//! realms are sorted by name, declarations by `module.Name`, uses by
//! position, `fields` and `variants` in the pinned realm's order; empty
//! lists are left out. The same schema always gives the same bytes. A
//! reader refuses another `format` (a later version), unknown members,
//! files over [`MAX_USAGE_BYTES`] and nesting deeper than the format's
//! [`MAX_USAGE_NESTING`].
//!
//! Nothing here does I/O: the schema comes in as values, the file as text.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::model::*;

/// The format marker of the usage file this version writes and reads.
pub const FORMAT: &str = "realm-usage/1";

/// The usage file a reader accepts at most (a real one is kilobytes).
pub const MAX_USAGE_BYTES: usize = 32 * 1024 * 1024;

/// How deep the format nests objects and arrays: file → `realms` → realm →
/// `declarations` → declaration → `uses` → position.
pub const MAX_USAGE_NESTING: usize = 7;

/// What one realm uses of the realms it refers to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UsageFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// The realm that uses them (the caller).
    pub caller: String,
    /// One entry per realm used, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub realms: Vec<Usage>,
}

/// What the caller uses of one realm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Usage {
    /// The realm as the caller refers to it (`@bank`).
    pub realm: String,
    /// The realm's own name (its `ftl-project.toml`), when the caller pins
    /// it under another: how the used realm finds itself in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_name: Option<String>,
    /// Sorted by `module.Name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declarations: Vec<UsedDecl>,
}

/// One declaration of the used realm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UsedDecl {
    /// `module.Name`.
    pub name: String,
    /// `verb`, `data`, `enum`, `typealias`, `topic`, ...
    pub kind: String,
    /// Where the caller's schema refers to it, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uses: Vec<UsePos>,
    /// The referred-to declarations it is reached from (not itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    /// Data: every field (by name as written), in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Enums: every variant, in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<String>,
}

/// A position in the caller's schema files (file relative to its project
/// root, 1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsePos {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for UsePos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl From<&Pos> for UsePos {
    fn from(pos: &Pos) -> Self {
        UsePos {
            file: pos.file.to_string(),
            line: pos.line,
            column: pos.column,
        }
    }
}

impl Usage {
    /// The declaration `module.Name`, if the caller uses it.
    pub fn decl(&self, name: &str) -> Option<&UsedDecl> {
        self.declarations
            .binary_search_by(|d| d.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.declarations[i])
    }

    /// Where the caller's use of `decl` is written: its own uses, else those
    /// of the declarations it is reached through (sorted, deduplicated).
    pub fn positions(&self, decl: &UsedDecl) -> Vec<UsePos> {
        let mut out: BTreeSet<UsePos> = decl.uses.iter().cloned().collect();
        for root in &decl.via {
            if let Some(root) = self.decl(root) {
                out.extend(root.uses.iter().cloned());
            }
        }
        out.into_iter().collect()
    }
}

/// Why a usage file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsageError {
    #[error("the usage file is {0} bytes, more than {MAX_USAGE_BYTES}")]
    TooLarge(usize),
    #[error("the usage file nests objects and arrays more than {MAX_USAGE_NESTING} deep")]
    TooDeep,
    #[error("the usage file is of format `{0}`, this realm reads `{FORMAT}`\nhelp: update realm")]
    UnknownFormat(String),
    #[error("invalid usage file: {0}")]
    Invalid(String),
}

/// What the internal realm of `schema` uses of every other realm of it, one
/// [`Usage`] per realm referred to, sorted by name. The schema should be
/// valid (as a workspace's is); references that do not resolve are skipped.
pub fn usage(schema: &Schema) -> UsageFile {
    let caller = schema.internal_realm();
    // realm → decl → positions of direct references.
    let mut direct: BTreeMap<&str, BTreeMap<(&str, &str), BTreeSet<UsePos>>> = BTreeMap::new();
    // A realm alone in its schema uses no other (a reference to a realm the
    // schema lacks does not validate): no walk over all its references.
    let others = schema.realms.iter().any(|r| r.external);
    if let Some(caller) = caller.filter(|_| others) {
        let mut refs: Vec<&Ref> = Vec::new();
        for module in &caller.modules {
            for m in &module.metadata {
                m.kind.for_each_ref(&mut |r| refs.push(r));
            }
            for decl in &module.decls {
                decl.for_each_type(&mut |ty| {
                    if let Type::Ref(r) = ty {
                        refs.push(r);
                    }
                });
                decl.for_each_metadata_ref(&mut |r| refs.push(r));
                if let Decl::Data(data) = decl {
                    for field in &data.fields {
                        for m in &field.metadata {
                            m.kind.for_each_ref(&mut |r| refs.push(r));
                        }
                    }
                }
            }
        }
        for r in refs {
            if let Ref {
                realm: Some(realm),
                module: Some(module),
                name,
                ..
            } = r
                && *realm != caller.name
            {
                let positions = direct
                    .entry(realm.as_str())
                    .or_default()
                    .entry((module.as_str(), name.as_str()))
                    .or_default();
                positions.extend(r.pos.as_ref().map(UsePos::from));
            }
        }
    }
    let realms = direct
        .into_iter()
        .filter_map(|(name, roots)| {
            let realm = schema.realm(name)?;
            Some(usage_of(realm, roots))
        })
        .collect();
    UsageFile {
        format: FORMAT.to_string(),
        caller: caller.map(|r| r.name.clone()).unwrap_or_default(),
        realms,
    }
}

/// The closure of `roots` in `realm` (the used one).
fn usage_of(realm: &Realm, roots: BTreeMap<(&str, &str), BTreeSet<UsePos>>) -> Usage {
    let find = |module: &str, name: &str| realm.module(module).and_then(|m| m.decl(name));
    // decl → the roots it is reached from.
    let mut reached: BTreeMap<(&str, &str), BTreeSet<(&str, &str)>> = BTreeMap::new();
    for &root in roots.keys() {
        if find(root.0, root.1).is_none() {
            continue;
        }
        reached.entry(root).or_default();
        let mut seen: BTreeSet<(&str, &str)> = BTreeSet::from([root]);
        let mut stack = vec![root];
        while let Some((module, name)) = stack.pop() {
            let Some(decl) = find(module, name) else {
                continue;
            };
            decl.for_each_type(&mut |ty| {
                if let Some(Ref {
                    realm: None,
                    module: Some(m),
                    name: n,
                    ..
                }) = ty.reference()
                {
                    let key = (m.as_str(), n.as_str());
                    if find(key.0, key.1).is_some() && seen.insert(key) {
                        stack.push(key);
                    }
                }
            });
        }
        for key in seen {
            if key != root {
                reached.entry(key).or_default().insert(root);
            }
        }
    }
    let declarations = reached
        .into_iter()
        .filter_map(|((module, name), via)| {
            let decl = find(module, name)?;
            let (fields, variants) = match decl {
                Decl::Data(d) => (
                    d.fields.iter().map(|f| f.name.clone()).collect(),
                    Vec::new(),
                ),
                Decl::Enum(e) => (
                    Vec::new(),
                    e.variants.iter().map(|v| v.name.clone()).collect(),
                ),
                _ => (Vec::new(), Vec::new()),
            };
            Some(UsedDecl {
                name: format!("{module}.{name}"),
                kind: decl.kind().keyword().to_string(),
                uses: roots
                    .get(&(module, name))
                    .map(|p| p.iter().cloned().collect())
                    .unwrap_or_default(),
                via: via.iter().map(|(m, n)| format!("{m}.{n}")).collect(),
                fields,
                variants,
            })
        })
        .collect();
    Usage {
        realm: realm.name.clone(),
        own_name: None,
        declarations,
    }
}

impl UsageFile {
    /// The file's text: pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| unreachable!("a usage file always serializes: {e}"));
        text.push('\n');
        text
    }

    /// Reads a usage file, refusing what this version cannot trust (see the
    /// module's documentation).
    pub fn from_json(text: &str) -> Result<UsageFile, UsageError> {
        if text.len() > MAX_USAGE_BYTES {
            return Err(UsageError::TooLarge(text.len()));
        }
        if too_deep(text) {
            return Err(UsageError::TooDeep);
        }
        // The format first, so a later version is told as such rather than
        // as unknown members.
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
        }
        let head: Head =
            serde_json::from_str(text).map_err(|e| UsageError::Invalid(e.to_string()))?;
        match head.format {
            Some(format) if format == FORMAT => {}
            Some(format) => return Err(UsageError::UnknownFormat(format)),
            None => return Err(UsageError::Invalid("no `format` member".into())),
        }
        let file: UsageFile =
            serde_json::from_str(text).map_err(|e| UsageError::Invalid(e.to_string()))?;
        let sorted = file.realms.windows(2).all(|w| w[0].realm < w[1].realm)
            && file
                .realms
                .iter()
                .all(|u| u.declarations.windows(2).all(|w| w[0].name < w[1].name));
        if !sorted {
            return Err(UsageError::Invalid(
                "realms and declarations must be sorted by name, each once".into(),
            ));
        }
        Ok(file)
    }

    /// What the caller uses of the realm whose own name is `name` (its
    /// `own-name`, else the name the caller pins it under).
    pub fn realm(&self, name: &str) -> Option<&Usage> {
        self.realms
            .iter()
            .find(|u| u.own_name.as_deref().unwrap_or(&u.realm) == name)
    }
}

/// Whether JSON text nests arrays and objects deeper than
/// [`MAX_USAGE_NESTING`] (brackets outside strings, without parsing).
fn too_deep(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_USAGE_NESTING {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;

    const BANK: &str = "external realm bank {
  module balance {
    export realm verb withdraw(balance.WithdrawRequest) balance.WithdrawResponse
    export realm verb account(balance.AccountRequest) balance.Account
    export realm data WithdrawRequest {
      account String
      amount Int
      memo String? +alias json \"note\"
    }
    export realm data WithdrawResponse {
      balance Int
    }
    export realm data AccountRequest {
      id String
    }
    export realm data Account {
      id String
      currency balance.Currency
    }
    export realm enum Currency: String {
      Eur = \"EUR\"
      Usd = \"USD\"
    }
  }
}
";

    fn schema(shop: &str) -> Schema {
        let text = format!("{BANK}{shop}");
        parse_schema("shop.ftl", &text).unwrap_or_else(|d| panic!("{d}\n{text}"))
    }

    const SHOP: &str = "realm shop {
  module checkout {
    export realm verb pay(Unit) Unit
      +calls balance.withdraw@bank
    data Receipt {
      withdrawal balance.WithdrawResponse@bank
      other balance.WithdrawResponse@bank?
    }
  }
}
";

    #[test]
    fn called_verbs_and_their_types_are_used_with_positions() {
        let file = usage(&schema(SHOP));
        assert_eq!(file.caller, "shop");
        assert_eq!(file.realms.len(), 1);
        let bank = &file.realms[0];
        assert_eq!(bank.realm, "bank");
        let names: Vec<_> = bank
            .declarations
            .iter()
            .map(|d| format!("{} {}", d.kind, d.name))
            .collect();
        assert_eq!(
            names,
            [
                "data balance.WithdrawRequest",
                "data balance.WithdrawResponse",
                "verb balance.withdraw",
            ]
        );
        let withdraw = bank.decl("balance.withdraw").unwrap();
        assert_eq!(
            withdraw
                .uses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["shop.ftl:29:14"]
        );
        let request = bank.decl("balance.WithdrawRequest").unwrap();
        assert!(request.uses.is_empty());
        assert_eq!(request.via, ["balance.withdraw"]);
        assert_eq!(request.fields, ["account", "amount", "memo"]);
        assert_eq!(
            bank.positions(request)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["shop.ftl:29:14"]
        );
        // Referred to twice directly, and reached through the verb.
        let response = bank.decl("balance.WithdrawResponse").unwrap();
        assert_eq!(response.uses.len(), 2);
        assert_eq!(response.via, ["balance.withdraw"]);
        assert_eq!(bank.positions(response).len(), 3);
        // Not used: the other verb and what only it reaches.
        assert!(bank.decl("balance.account").is_none());
        assert!(bank.decl("balance.Currency").is_none());
    }

    #[test]
    fn enums_reached_through_data_list_their_variants() {
        let shop = "realm shop {
  module checkout {
    data Seen {
      account balance.Account@bank
    }
  }
}
";
        let file = usage(&schema(shop));
        let bank = &file.realms[0];
        let currency = bank.decl("balance.Currency").unwrap();
        assert_eq!(currency.kind, "enum");
        assert_eq!(currency.variants, ["Eur", "Usd"]);
        assert_eq!(currency.via, ["balance.Account"]);
        assert_eq!(
            bank.decl("balance.Account").unwrap().fields,
            ["id", "currency"]
        );
    }

    #[test]
    fn a_realm_that_refers_to_none_uses_none() {
        let file = usage(&schema(
            "realm shop {\n  module m {\n    data D {\n      a Int\n    }\n  }\n}\n",
        ));
        assert!(file.realms.is_empty());
        assert_eq!(
            file.to_json(),
            "{\n  \"format\": \"realm-usage/1\",\n  \"caller\": \"shop\"\n}\n"
        );
    }

    #[test]
    fn json_round_trips_and_is_deterministic() {
        let file = usage(&schema(SHOP));
        let text = file.to_json();
        assert_eq!(usage(&schema(SHOP)).to_json(), text);
        assert_eq!(UsageFile::from_json(&text), Ok(file));
        assert!(text.starts_with("{\n  \"format\": \"realm-usage/1\",\n"));
    }

    #[test]
    fn other_versions_unknown_members_and_hostile_files_are_refused() {
        assert_eq!(
            UsageFile::from_json(r#"{"format": "realm-usage/2", "caller": "x", "new": 1}"#),
            Err(UsageError::UnknownFormat("realm-usage/2".into()))
        );
        assert!(matches!(
            UsageFile::from_json(r#"{"caller": "x"}"#),
            Err(UsageError::Invalid(_))
        ));
        assert!(matches!(
            UsageFile::from_json(r#"{"format": "realm-usage/1", "caller": "x", "extra": 1}"#),
            Err(UsageError::Invalid(_))
        ));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(UsageFile::from_json(&deep), Err(UsageError::TooDeep));
        // Brackets inside strings do not count.
        let text = format!(
            r#"{{"format": "realm-usage/1", "caller": "{}\"x"}}"#,
            "[".repeat(20)
        );
        assert!(UsageFile::from_json(&text).is_ok());
        let big = " ".repeat(MAX_USAGE_BYTES + 1);
        assert_eq!(
            UsageFile::from_json(&big),
            Err(UsageError::TooLarge(MAX_USAGE_BYTES + 1))
        );
        let unsorted = r#"{"format": "realm-usage/1", "caller": "x", "realms": [{"realm": "b"}, {"realm": "a"}]}"#;
        assert!(matches!(
            UsageFile::from_json(unsorted),
            Err(UsageError::Invalid(_))
        ));
    }
}
