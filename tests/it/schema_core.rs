//! The schema core through its library API: canonical text, FTL
//! compatibility, validation of valid schemas, the public-API closure.

use realm::schema::builtin::BUILTIN_TEXT;
use realm::schema::*;

/// Canonical text holding every construct of the language.
const EVERYTHING: &str = r#"// The bank, as its consumers see it.
external realm bank {
  module balance {
    // Withdraws money.
    export realm verb withdraw(balance.WithdrawRequest) balance.WithdrawResponse
      +retry 3 1s 30s

    export realm data WithdrawRequest {
      account String
      amount Int
      memo String?
    }

    export realm data WithdrawResponse {
      balance Int
    }

    export realm data Account {
      id String
    }
  }
}

realm shop {
  // Checkout.
  module checkout {
    +git "https://example.com/shop.git" "0123abcd" dirty
    +artefact "main" "sha256:00ff" executable
    +image "shop/checkout":"sha256:abcd"
    config currency String
    config upstream String
    secret apiKey String

    database postgres orders
      +migration sha256:0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f
    database mysql legacy

    export topic paid checkout.PayRequest
      +partitions 8
    topic audit checkout.Item

    typealias Money Int
    export typealias Sku String
      +typemap go "example.com/shop.Sku"
      +typemap kotlin "com.example.Sku"

    // Pays for a cart.
    //
    // Second paragraph.
    export realm verb pay(checkout.PayRequest) checkout.PayResponse
      +calls balance.withdraw@bank, checkout.notify
      +retry 5m catch checkout.failed
      +database uses checkout.orders
      +config checkout.currency
      +secrets checkout.apiKey
      +publish checkout.paid
      +encoding json lenient
      +transaction

    export verb notify(checkout.PayResponse) Unit

    verb failed(builtin.CatchRequest<checkout.PayRequest>) Unit

    export verb http(builtin.HttpRequest<Unit, checkout.PathParams, Unit>) builtin.HttpResponse<checkout.PayResponse, String>
      +ingress http GET /orders/{id}

    verb nightly(Unit) Unit
      +cron 0 3 * * *
      +egress "https://api.example.com", "${upstream}"
      +fixture manual

    verb onAudit(checkout.Item) Unit
      +subscribe checkout.audit from=beginning deadletter
      +generated

    verb byId(Unit) Unit
      +database uses checkout.orders
      +sql query one "SELECT * FROM orders WHERE id = $1 -- \"quoted\"\n\ttab"
      +fixture

    export data PathParams {
      id String
    }

    export realm data PayRequest {
      +encoding json
      // The account to charge.
      account String +alias json "acct"
      items [checkout.Item]
      tags {String: [Int?]}
      at Time?
      raw Bytes
      extra Any
      ratio Float
      gift Bool
      status checkout.Status
      page checkout.Page<checkout.Item>
      card String? +oneof method
      iban String? +oneof method
    }

    export realm data Page<T> {
      items [T]
      next String?
    }

    export realm data Item {
      sku String +sql column items.sku +alias json "SKU"
      quantity Int
    }

    export realm data PayResponse {
      order String
    }

    export realm enum Status: String {
      // Not paid yet.
      Open = "open"
      Paid = "paid"
    }

    enum Priority: Int {
      Low = -1
      High = 10
    }

    enum Payload {
      Text String
      Number Int
      Line checkout.Item
    }
  }

  module empty {
  }
}
"#;

#[test]
fn canonical_text_round_trips_byte_for_byte() {
    let schema = parse_schema("everything.ftl", EVERYTHING).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(print_schema(&schema), EVERYTHING);
}

#[test]
fn canonical_text_is_valid() {
    let schema = parse_schema("everything.ftl", EVERYTHING).unwrap_or_else(|d| panic!("{d}"));
    let problems = validate(&schema);
    assert!(
        problems.is_empty(),
        "unexpected errors:\n{}",
        Diagnostics(problems)
    );
}

#[test]
fn builtin_module_is_canonical_and_valid() {
    let file = parse_file("builtin.ftl", BUILTIN_TEXT).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(print_modules(&file.modules), BUILTIN_TEXT);
    let schema = Schema {
        realms: vec![Realm {
            name: "r".into(),
            modules: file.modules,
            ..Realm::default()
        }],
    };
    assert!(validate(&schema).is_empty());
}

/// What FTL's `ftl schema get` prints: bare modules, the builtin module
/// first, ingress verbs over the builtin HTTP envelopes, value and type
/// enums.
#[test]
fn ftl_schema_get_output_parses_and_validates() {
    let ftl = format!(
        "{BUILTIN_TEXT}
module echo {{
  config default String

  export data EchoRequest {{
    name String?
  }}

  export data EchoResponse {{
    message String
  }}

  export verb echo(echo.EchoRequest) echo.EchoResponse
    +calls time.time
}}

module time {{
  export data TimeRequest {{
  }}

  export data TimeResponse {{
    time Time
  }}

  export verb time(time.TimeRequest) time.TimeResponse

  export verb get(builtin.HttpRequest<Unit, Unit, Unit>) builtin.HttpResponse<time.TimeResponse, String>
    +ingress http GET /time
}}
"
    );
    let file = parse_file("ftl.ftl", &ftl).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(print_modules(&file.modules), ftl);
    let schema = Schema {
        realms: vec![Realm {
            name: "echo".into(),
            modules: file.modules,
            ..Realm::default()
        }],
    };
    let problems = validate(&schema);
    assert!(problems.is_empty(), "{}", Diagnostics(problems));
}

#[test]
fn refs_parse_with_realm_and_type_arguments() {
    let r = parse_ref("cli", "balance.withdraw@bank").unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(r.realm.as_deref(), Some("bank"));
    assert_eq!(r.module.as_deref(), Some("balance"));
    assert_eq!(r.name, "withdraw");

    let t = parse_type("cli", "{String: [builtin.HttpRequest<a.B, Unit, c.D@x>?]}")
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        t.to_string(),
        "{String: [builtin.HttpRequest<a.B, Unit, c.D@x>?]}"
    );

    let err = parse_ref("cli", "balance.withdraw@").unwrap_err();
    assert_eq!(
        err.message,
        "expected a realm name after `@`, found end of file"
    );
}

#[test]
fn comments_are_kept_on_every_node() {
    let schema = parse_schema("everything.ftl", EVERYTHING).unwrap_or_else(|d| panic!("{d}"));
    let bank = schema.realm("bank").expect("bank");
    assert_eq!(bank.comments, ["The bank, as its consumers see it."]);
    let shop = schema.realm("shop").expect("shop");
    let checkout = shop.module("checkout").expect("checkout");
    assert_eq!(checkout.comments, ["Checkout."]);
    let pay = checkout.decl("pay").expect("pay");
    assert_eq!(
        pay.comments(),
        ["Pays for a cart.", "", "Second paragraph."]
    );
    let Some(Decl::Data(req)) = checkout.decl("PayRequest") else {
        panic!("PayRequest is data");
    };
    assert_eq!(req.fields[0].comments, ["The account to charge."]);
}

#[test]
fn positions_are_one_based_lines_and_character_columns() {
    let text = "module m {\n  // é\n  data D {\n    x m.Nope\n  }\n}\n";
    let file = parse_file("m.ftl", text).unwrap_or_else(|d| panic!("{d}"));
    let Decl::Data(data) = &file.modules[0].decls[0] else {
        panic!("data");
    };
    let pos = data.pos.as_ref().expect("position");
    assert_eq!((pos.line, pos.column), (3, 3));
    let field = data.fields[0].pos.as_ref().expect("position");
    assert_eq!((field.line, field.column), (4, 5));

    // Columns count characters, not bytes.
    let text = "module m {\n  data D {\n    x String +alias json \"éé\" +bogus\n  }\n}\n";
    let err = parse_file("m.ftl", text).unwrap_err();
    let pos = err.pos.expect("position");
    assert_eq!((pos.line, pos.column), (3, 32));
    assert_eq!(err.message, "unknown metadata `+bogus`");
}

// ---- validation of valid schemas -----------------------------------------

fn valid(text: &str) {
    let schema = parse_schema("t.ftl", text).unwrap_or_else(|d| panic!("{d}"));
    let problems = validate(&schema);
    assert!(
        problems.is_empty(),
        "unexpected errors:\n{}",
        Diagnostics(problems)
    );
}

/// Valid, with these warnings.
fn warned(text: &str, expected: &[&str]) {
    let schema = parse_schema("t.ftl", text).unwrap_or_else(|d| panic!("{d}"));
    let all = validate::validate_with_warnings(&schema);
    assert!(
        all.iter().all(Diagnostic::is_warning),
        "unexpected errors:\n{}",
        Diagnostics(all)
    );
    let warnings: Vec<String> = all.iter().map(|d| d.message.clone()).collect();
    assert_eq!(warnings, expected);
}

fn invalid(text: &str, expected: &[&str]) {
    let schema = parse_schema("t.ftl", text).unwrap_or_else(|d| panic!("{d}"));
    let problems: Vec<String> = validate(&schema)
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(problems, expected);
}

#[test]
fn private_declarations_may_use_external_types_and_call_external_verbs() {
    valid(
        "external realm bank {
  module balance {
    export realm verb withdraw(balance.Account) Unit

    export realm data Account {
      id String
    }
  }
}

realm shop {
  module checkout {
    verb pay(Unit) Unit
      +calls balance.withdraw@bank

    data Payment {
      account balance.Account@bank
    }
  }
}
",
    );
}

#[test]
fn exported_verbs_may_call_external_verbs() {
    // `+calls` is not part of the type surface; the public API drops it.
    valid(
        "external realm bank {
  module balance {
    export realm verb withdraw(Unit) Unit
  }
}

realm shop {
  module checkout {
    export realm verb pay(Unit) Unit
      +calls balance.withdraw@bank
  }
}
",
    );
}

#[test]
fn visibility_rule_applies_to_export_as_well_as_export_realm() {
    invalid(
        "realm shop {
  module a {
    export data Public {
      inner a.Private
      param a.Box<a.Private>
    }

    export data Box<T> {
      value T
    }

    data Private {
    }
  }
}
",
        &[
            "data `a.Private` must be `export` because export data `a.Public` uses it",
            "data `a.Private` must be `export` because export data `a.Public` uses it",
        ],
    );
}

#[test]
fn external_realms_cannot_depend_on_other_realms() {
    invalid(
        "external realm bank {
  module balance {
    export realm data Account {
      owner people.Person@crm
    }
  }
}

external realm crm {
  module people {
    export realm data Person {
    }
  }
}
",
        &["external realm `bank` refers to realm `crm` in `people.Person@crm`"],
    );
}

#[test]
fn one_internal_realm_per_schema() {
    invalid(
        "realm a {
}

realm b {
}
",
        &["a schema has one internal realm, but declares `a` and `b`"],
    );
}

#[test]
fn configs_secrets_and_databases_are_private_to_their_module() {
    invalid(
        "realm shop {
  module a {
    config url String
  }

  module b {
    verb v(Unit) Unit
      +config uses a.url
  }
}
",
        &["config `a.url` is private to module `a`"],
    );
}

#[test]
fn type_parameters_resolve_only_inside_their_data() {
    invalid(
        "realm shop {
  module a {
    data Box<T> {
      value T
      other U
    }

    verb v(T) Unit
  }
}
",
        &["unknown reference `U`", "unknown reference `T`"],
    );
}

#[test]
fn enums_are_value_or_type_enums() {
    invalid(
        "realm shop {
  module a {
    enum Bad: Float {
      A = 1
    }

    enum Mixed {
      A = 1
      B String
    }

    enum Typed: String {
      A Int
    }
  }
}
",
        &[
            "enum variant `A` of type `Float` cannot have a value of type `Int`",
            "variant `A` has a value, but enum `a.Mixed` has no type",
            "variant `A` of value enum `a.Typed` is a type",
        ],
    );
}

#[test]
fn metadata_references_must_name_the_right_kind() {
    invalid(
        "realm shop {
  module a {
    verb v(Unit) Unit
      +subscribe a.v
      +publish a.t
      +database uses a.t
      +retry 1s catch a.t

    topic t Unit
  }
}
",
        &[
            "`a.v` is a verb, but a topic is expected here",
            "`a.t` is a topic, but a verb is expected here",
        ],
    );
    // FTL checks the kind of `+calls`, `+subscribe` and `catch` only.
    warned(
        "realm shop {
  module a {
    verb v(Unit) Unit
      +publish a.v
      +database uses a.t

    topic t Unit
  }
}
",
        &[
            "`a.v` is a verb, but a topic is expected here",
            "`a.t` is a topic, but a database is expected here",
        ],
    );
}

// ---- the public API ----------------------------------------------------------

#[test]
fn public_api_holds_export_realm_declarations_and_drops_internals() {
    let schema = parse_schema("everything.ftl", EVERYTHING).unwrap_or_else(|d| panic!("{d}"));
    let api = public_api(schema.realm("shop").expect("shop"));
    // As FTL's `Schema.External()` publishes it: what `export realm`
    // declarations refer to (types and metadata: the called verb, the catch
    // verb, the database, the topic), module metadata and every metadata
    // but `+config`/`+secrets`; an internal realm.
    let expected = r#"realm shop {
  // Checkout.
  module checkout {
    +git "https://example.com/shop.git" "0123abcd" dirty
    +artefact "main" "sha256:00ff" executable
    +image "shop/checkout":"sha256:abcd"
    database postgres orders
      +migration sha256:0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f

    export topic paid checkout.PayRequest
      +partitions 8

    // Pays for a cart.
    //
    // Second paragraph.
    export realm verb pay(checkout.PayRequest) checkout.PayResponse
      +calls checkout.notify
      +retry 5m catch checkout.failed
      +database uses checkout.orders
      +publish checkout.paid
      +encoding json lenient
      +transaction

    export verb notify(checkout.PayResponse) Unit

    verb failed(builtin.CatchRequest<checkout.PayRequest>) Unit

    export realm data PayRequest {
      +encoding json
      // The account to charge.
      account String +alias json "acct"
      items [checkout.Item]
      tags {String: [Int?]}
      at Time?
      raw Bytes
      extra Any
      ratio Float
      gift Bool
      status checkout.Status
      page checkout.Page<checkout.Item>
      card String? +oneof method
      iban String? +oneof method
    }

    export realm data Page<T> {
      items [T]
      next String?
    }

    export realm data Item {
      sku String +sql column items.sku +alias json "SKU"
      quantity Int
    }

    export realm data PayResponse {
      order String
    }

    export realm enum Status: String {
      // Not paid yet.
      Open = "open"
      Paid = "paid"
    }
  }
}
"#;
    assert_eq!(api.to_string(), expected);
    assert!(api.pos.is_none());
    let api_schema = Schema { realms: vec![api] };
    assert!(validate(&api_schema).is_empty());
}

#[test]
fn public_api_follows_references_to_declarations_it_uses() {
    // An invalid schema (the visibility rule is broken) still gets a closed
    // public API: the closure does not depend on visibility.
    let schema = parse_schema(
        "t.ftl",
        "realm shop {
  module a {
    export realm verb v(b.Req) Unit
  }

  module b {
    export data Req {
      inner b.Inner
    }

    data Inner {
    }

    data Unused {
    }
  }
}
",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let api = public_api(&schema.realms[0]);
    let names: Vec<String> = api
        .decls()
        .map(|(m, d)| format!("{}.{}", m.name, d.name()))
        .collect();
    assert_eq!(names, ["a.v", "b.Req", "b.Inner"]);
}

#[test]
fn public_api_of_a_realm_without_exports_is_empty() {
    let schema = parse_schema(
        "t.ftl",
        "realm shop {\n  module a {\n    verb v(Unit) Unit\n  }\n}\n",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let api = public_api(&schema.realms[0]);
    assert!(api.modules.is_empty());
    assert_eq!(api.to_string(), "realm shop {\n}\n");
}
