//! Validation parity with FTL, one test per rule. Each test names the rule
//! of FTL's validator it mirrors (`common/schema/validate.go` unless said
//! otherwise) and checks what `realm` says: an error where FTL refuses the
//! schema, a warning where FTL accepts it but `realm` points something out,
//! nothing where both accept it. `realm`'s own rules (public API, `@realm`,
//! extensions, cycles) are at the end.

use realm::schema::validate::validate_with_warnings;
use realm::schema::*;

/// (errors, warnings) of a schema: `line:col: message`.
fn check(text: &str) -> (Vec<String>, Vec<String>) {
    let schema = parse_schema("t.ftl", text).unwrap_or_else(|d| panic!("{d}"));
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for d in validate_with_warnings(&schema) {
        let pos = d
            .pos
            .as_ref()
            .map_or_else(String::new, |p| format!("{}:{}: ", p.line, p.column));
        let line = format!("{pos}{}", d.message);
        if d.is_warning() {
            warnings.push(line);
        } else {
            errors.push(line);
        }
    }
    (errors, warnings)
}

/// A realm `r` holding `body` as module `m` (line 3 is the first line of
/// the body).
fn module(body: &str) -> String {
    format!("realm r {{\n  module m {{\n{body}  }}\n}}\n")
}

#[track_caller]
fn errors(text: &str, expected: &[&str]) {
    let (errors, warnings) = check(text);
    assert_eq!(errors, expected, "errors");
    assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
}

#[track_caller]
fn warnings(text: &str, expected: &[&str]) {
    let (errors, warnings) = check(text);
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    assert_eq!(warnings, expected, "warnings");
}

#[track_caller]
fn clean(text: &str) {
    let (errors, warnings) = check(text);
    assert!(
        errors.is_empty() && warnings.is_empty(),
        "{errors:?} {warnings:?}"
    );
}

// ---- references -----------------------------------------------------------

/// FTL: `unknown reference %q, is the type annotated and exported?`
#[test]
fn unknown_references_are_errors() {
    errors(
        &module("    verb v(Req) m.Resp\n      +calls other.verb\n"),
        &[
            "3:12: unknown reference `Req`",
            "3:17: unknown reference `m.Resp`",
            "4:14: unknown reference `other.verb`",
        ],
    );
}

/// FTL's `Module.Validate`: a bare reference resolves to a builtin, else
/// is qualified with the module it is written in (`+retry ... catch
/// catchesAny`).
#[test]
fn bare_references_resolve_in_their_module_and_the_builtin_module() {
    clean(&module(
        "    topic ticks Tick\n\n    data Tick {\n      next Empty?\n    }\n\n    verb onTick(Tick) Unit\n      +subscribe ticks from=latest\n      +retry 2 1s catch failed\n\n    verb failed(CatchRequest<Any>) Unit\n",
    ));
}

/// FTL: `%s %q must be exported` (a reference into another module).
#[test]
fn private_declarations_of_other_modules_are_errors() {
    errors(
        "realm r {\n  module a {\n    verb v(Unit) Unit\n      +calls b.w\n  }\n\n  module b {\n    verb w(Unit) Unit\n  }\n}\n",
        &["4:14: verb `b.w` is private to module `b`"],
    );
}

/// FTL: `reference to data structure %s has %d type parameters, but %d were
/// expected`.
#[test]
fn type_argument_counts_are_errors() {
    errors(
        &module(
            "    data Box<T> {\n      value T\n    }\n\n    data D {\n      box m.Box\n    }\n",
        ),
        &["8:11: `m.Box` takes 1 type argument, but 0 were given"],
    );
}

/// FTL: `reference to %s %q cannot have type parameters` (for verbs, enums,
/// topics, databases, configs, secrets, and unexported declarations); FTL
/// lets an exported type alias take arguments, which do nothing.
#[test]
fn type_arguments_on_declarations_without_parameters() {
    errors(
        &module("    enum E {\n      A String\n    }\n\n    data D {\n      e m.E<Int>\n    }\n"),
        &["8:9: `m.E` takes no type arguments, but 1 was given"],
    );
    warnings(
        &module("    export typealias A String\n\n    export data D {\n      a m.A<Int>\n    }\n"),
        &["6:9: `m.A` takes no type arguments, but 1 was given"],
    );
}

/// FTL does not check that a reference used as a type names a type.
#[test]
fn a_verb_used_as_a_type_is_a_warning() {
    warnings(
        &module("    verb v(m.w) Unit\n\n    verb w(Unit) Unit\n"),
        &["3:12: `m.w` is a verb, but a type (data, enum or typealias) is expected here"],
    );
}

/// FTL: `expected verb, got %T` for `+calls`; `expected topic but found` for
/// `+subscribe`; `expected catch to be a verb`.
#[test]
fn calls_subscriptions_and_catches_name_the_right_kind() {
    errors(
        &module(
            "    data D {\n    }\n\n    verb v(m.D) Unit\n      +calls m.D\n      +subscribe m.D from=latest\n",
        ),
        &[
            "7:14: `m.D` is data, but a verb is expected here",
            "8:18: `m.D` is data, but a topic is expected here",
        ],
    );
}

/// FTL does not check what `+publish`, `+database uses`, `+config` and
/// `+secrets` name.
#[test]
fn other_metadata_references_of_the_wrong_kind_are_warnings() {
    warnings(
        &module(
            "    config c String\n\n    verb v(Unit) Unit\n      +publish m.c\n      +secrets m.c\n",
        ),
        &[
            "6:16: `m.c` is a config, but a topic is expected here",
            "7:16: `m.c` is a config, but a secret is expected here",
        ],
    );
}

// ---- visibility -------------------------------------------------------------

/// FTL: `%s %q must have visibility of %q due to %s` for what exported data,
/// enums and type aliases use.
#[test]
fn exported_types_use_exported_types() {
    errors(
        &module("    data Private {\n    }\n\n    export typealias A m.Private\n"),
        &["6:24: data `m.Private` must be `export` because export typealias `m.A` uses it"],
    );
}

/// FTL checks an exported verb's request and response only when the verb
/// has metadata (`validateVisibility` runs in the metadata loop); without,
/// FTL accepts a private type, as its TimeEcho-like schemas do.
#[test]
fn exported_verbs_with_private_types() {
    warnings(
        &module("    data Req {\n    }\n\n    export verb v(m.Req) Unit\n"),
        &["6:19: data `m.Req` must be `export` because export verb `m.v` uses it"],
    );
    errors(
        &module("    data Req {\n    }\n\n    export verb v(m.Req) Unit\n      +calls m.v\n"),
        &["6:19: data `m.Req` must be `export` because export verb `m.v` uses it"],
    );
}

/// FTL does not check topics' events.
#[test]
fn an_exported_topic_of_a_private_type_is_a_warning() {
    warnings(
        &module("    data Event {\n    }\n\n    export topic events m.Event\n"),
        &["6:25: data `m.Event` must be `export` because export topic `m.events` uses it"],
    );
}

// ---- names ----------------------------------------------------------------

/// FTL: `duplicate %s %q, first defined at %s`, keyed by kind and name: a
/// config and a secret may share a name (FTL's own tests do), a data and a
/// verb too (a warning here: references to it are ambiguous).
#[test]
fn duplicate_declarations() {
    errors(
        &module("    data D {\n    }\n\n    data D {\n    }\n"),
        &["6:5: `D` is declared twice in module `m`"],
    );
    clean(&module(
        "    config endpoint String\n    secret endpoint String\n\n    verb v(Unit) Unit\n      +config m.endpoint\n      +secrets m.endpoint\n",
    ));
    warnings(
        &module("    data D {\n    }\n\n    verb D(Unit) Unit\n"),
        &["6:5: `D` names both data and a verb in module `m`"],
    );
}

/// FTL: `duplicate module %q` and `duplicate realm %q`.
#[test]
fn duplicate_modules_and_realms() {
    let (errors, _) =
        check("realm r {\n  module m {\n  }\n\n  module m {\n  }\n}\n\nexternal realm r {\n}\n");
    assert_eq!(
        errors,
        [
            "5:3: module `m` is declared twice in realm `r`",
            "9:1: realm `r` is declared twice"
        ]
    );
}

/// FTL does not check fields, variants or type parameters for duplicates.
#[test]
fn duplicate_fields_variants_and_type_parameters_are_warnings() {
    warnings(
        &module(
            "    data D<T, T> {\n      a Int\n      a String\n    }\n\n    enum E {\n      A Int\n      A String\n    }\n",
        ),
        &[
            "3:15: type parameter `T` is declared twice in data `m.D`",
            "5:7: field `a` is declared twice in data `m.D`",
            "10:7: variant `A` is declared twice in enum `m.E`",
        ],
    );
}

/// FTL: `%s name %q is a reserved word` for declarations; type parameters
/// are not checked (a warning here).
#[test]
fn builtin_type_names() {
    errors(
        &module("    data Time {\n    }\n"),
        &["3:5: data `Time` shadows the builtin type `Time`"],
    );
    warnings(
        &module("    data Box<Int> {\n    }\n"),
        &["3:14: type parameter `Int` shadows the builtin type `Int`"],
    );
}

/// FTL: `module name %q is invalid` (Go keywords).
#[test]
fn module_names_are_not_go_keywords() {
    errors(
        "realm r {\n  module select {\n  }\n}\n",
        &["2:3: module name `select` is invalid"],
    );
}

/// FTL: `the "builtin" module is reserved` for `builtin` on another module;
/// a module named `builtin` is replaced with FTL's own (a warning here),
/// and a copy of the builtin module (as `ftl schema get` prints) is the
/// same declarations, not duplicates.
#[test]
fn the_builtin_module() {
    errors(
        "realm r {\n  builtin module m {\n  }\n}\n",
        &["2:3: only the module `builtin` can be declared `builtin`, not `m`"],
    );
    warnings(
        "realm r {\n  module builtin {\n  }\n}\n",
        &["2:3: the module name `builtin` is reserved for the builtin module"],
    );
    clean(&format!(
        "realm r {{\n{}\n  module m {{\n    verb v(builtin.Empty) Unit\n  }}\n}}\n",
        realm::schema::builtin::BUILTIN_TEXT
    ));
    warnings(
        "realm r {\n  builtin module builtin {\n    export data Empty {\n      x Int\n    }\n\n    export data Extra {\n    }\n  }\n}\n",
        &[
            "3:5: `builtin.Empty` differs from the builtin module's; realm uses its own: data Empty {  }",
            "7:5: the builtin module has no `Extra`; this declaration is ignored",
        ],
    );
}

/// FTL: `invalid name: must ... start with a lowercase letter` for topics.
#[test]
fn topic_names_start_lowercase() {
    errors(
        &module("    topic Orders Unit\n"),
        &["3:5: topic name `Orders` must start with a lowercase letter"],
    );
}

/// FTL: `found cycle in dependencies: %s`.
#[test]
fn modules_do_not_depend_on_each_other_in_a_cycle() {
    errors(
        "realm r {\n  module a {\n    export data A {\n      b b.B?\n    }\n  }\n\n  module b {\n    export data B {\n      a a.A?\n    }\n  }\n}\n",
        &["4:9: found cycle in dependencies: a -> b -> a"],
    );
}

// ---- metadata -------------------------------------------------------------

/// FTL: `metadata %q is not valid on data structures` (calls, secrets,
/// config, sql column, sql query), `... on fields` (all but alias and sql
/// column), `... on type aliases` (all but typemap), `... on databases`
/// (all but migration), and `+sql column` on verbs.
#[test]
fn metadata_ftl_refuses_where_it_is() {
    errors(
        &module(
            "    data D {\n      +sql query exec \"x\"\n      f Int +generated\n    }\n\n    typealias A Int\n      +encoding json\n\n    database postgres db\n      +calls m.v\n\n    verb v(Unit) Unit\n      +sql column t.c\n",
        ),
        &[
            "4:7: `+sql query` is not allowed on data",
            "5:13: `+generated` is not allowed on a field",
            "9:7: `+encoding` is not allowed on a type alias",
            "12:7: `+calls` is not allowed on a database",
            "15:7: `+sql column` is not allowed on a verb",
        ],
    );
}

/// FTL accepts any metadata on modules, topics and verbs (but `+sql
/// column`), and data but the five above: where it has no effect, a
/// warning.
#[test]
fn metadata_without_effect_is_a_warning() {
    warnings(
        &module(
            "    +cron 0 * * * *\n    topic t Unit\n      +retry 1s\n\n    data D {\n      +ingress http GET /x\n    }\n",
        ),
        &[
            "3:5: `+cron` has no effect on a module",
            "5:7: `+retry` has no effect on a topic",
            "8:7: `+ingress` has no effect on data",
        ],
    );
}

/// FTL: `verb can not have multiple instances of %s`, `verb can not
/// subscribe to multiple topics`, `database %q has multiple migration
/// metadata`; elsewhere FTL does not check (a warning).
#[test]
fn repeated_metadata() {
    errors(
        &module("    verb v(Unit) Unit\n      +calls m.v\n      +calls m.v\n"),
        &["5:7: `+calls` appears more than once"],
    );
    warnings(
        &module("    data D {\n      +encoding json\n      +encoding json lenient\n    }\n"),
        &["5:7: `+encoding` appears more than once"],
    );
}

// ---- enums ------------------------------------------------------------------

/// FTL: `enum variant %q of type %s cannot have a value of type %q`.
#[test]
fn value_enum_variants_have_the_enums_type() {
    errors(
        &module("    enum E: String {\n      A = \"a\"\n      B = 2\n    }\n"),
        &["5:7: enum variant `B` of type `String` cannot have a value of type `Int`"],
    );
    // Through an alias, as FTL resolves it.
    clean(&module(
        "    typealias Code Int\n\n    enum E: m.Code {\n      A = 1\n    }\n",
    ));
}

/// FTL: `enum %q must have at least one variant` and `type enum variant %q
/// value must be a type`.
#[test]
fn type_enums_hold_types() {
    errors(
        &module("    enum Empty {\n    }\n\n    enum E {\n      A = 1\n    }\n"),
        &[
            "3:5: enum `m.Empty` must have at least one variant",
            "7:7: variant `A` has a value, but enum `m.E` has no type",
        ],
    );
}

/// FTL does not check enum values for duplicates.
#[test]
fn duplicate_enum_values_are_a_warning() {
    warnings(
        &module("    enum E: Int {\n      A = 1\n      B = 1\n    }\n"),
        &["5:7: variants `A` and `B` of enum `m.E` have the same value 1"],
    );
}

// ---- verbs ------------------------------------------------------------------

const HTTP: &str = "builtin.HttpRequest";
const RESP: &str = "builtin.HttpResponse";

/// FTL: `ingress verb %s: request type %s must be builtin.HttpRequest` (and
/// the response `builtin.HttpResponse`).
#[test]
fn ingress_verbs_take_http_envelopes() {
    errors(
        &module("    export verb v(Unit) String\n      +ingress http GET /v\n"),
        &[
            "4:7: ingress verb v: request type Unit must be builtin.HttpRequest",
            "4:7: ingress verb v: response type String must be builtin.HttpResponse",
        ],
    );
}

/// FTL: `GET request type %s must have a body of unit`, `... must have a
/// body of bytes, string, data structure, unit, float, int, bool, map, or
/// array`, the path and query parameter rules.
#[test]
fn ingress_payloads() {
    errors(
        &module(&format!(
            "    export verb a({HTTP}<Int, Unit, Unit>) {RESP}<Any, Unit>\n      +ingress http GET /a\n\n    export verb b({HTTP}<Unit, Bool, Unit>) {RESP}<Unit, Unit>\n      +ingress http GET /b/{{x}}/{{y}}\n"
        )),
        &[
            "3:19: ingress verb a: GET request type builtin.HttpRequest<Int, Unit, Unit> must have a body of unit not Int",
            "3:57: ingress verb a: response type builtin.HttpResponse<Any, Unit> must have a body of bytes, string, data structure, unit, float, int, bool, map, or array not Any",
            "7:7: ingress verb b: cannot use path parameter \"x\" with request type Bool as it has multiple path parameters, expected Data or Map type",
            "7:7: ingress verb b: cannot use path parameter \"y\" with request type Bool as it has multiple path parameters, expected Data or Map type",
        ],
    );
    // FTL leaves other modules' payload types alone.
    clean(&format!(
        "realm r {{\n  module t {{\n    export data P {{\n    }}\n  }}\n\n  module m {{\n    export verb a({HTTP}<Unit, t.P, Unit>) {RESP}<Unit, Unit>\n      +ingress http GET /a\n  }}\n}}\n"
    ));
}

/// FTL: `duplicate %s ingress %s for %s:%q and %s:%q`.
#[test]
fn one_verb_per_route() {
    errors(
        &module(&format!(
            "    export verb a({HTTP}<Unit, String, Unit>) {RESP}<Unit, Unit>\n      +ingress http GET /x/{{id}}\n\n    export verb b({HTTP}<Unit, String, Unit>) {RESP}<Unit, Unit>\n      +ingress http GET /x/{{key}}\n"
        )),
        &["7:7: duplicate http ingress GET /x/{} for `m.a` and `m.b`"],
    );
}

/// FTL: `verb %s: invalid cron expression %q: %v`, `cron job can not have a
/// request type` (and response).
#[test]
fn cron_jobs() {
    errors(
        &module(
            "    verb a(Unit) Unit\n      +cron 0 25 * * *\n\n    verb b(Int) Unit\n      +cron Tue\n",
        ),
        &[
            "4:7: verb a: invalid cron expression \"0 25 * * *\": 25 is out of range for the hour field (0-23)",
            "7:7: verb b: cron job can not have a request type",
        ],
    );
}

/// FTL's retry rules for subscribers (`validateRetries`, `RetryParams`,
/// `parseRetryDuration`).
#[test]
fn subscriber_retries() {
    errors(
        &module(
            "    topic t Unit\n\n    verb a(Unit) Unit\n      +subscribe m.t from=latest\n      +retry 7\n\n    verb b(Unit) Unit\n      +subscribe m.t from=latest\n      +retry 3 1h 1m\n",
        ),
        &[
            "7:7: retry must have a minimum backoff",
            "11:7: max backoff duration (1m) needs to be at least as long as initial backoff (1h)",
        ],
    );
}

/// FTL: `retries can only be added to subscribers`. Not in realm, on
/// purpose: realm's ingress retries a `+retry` verb's calls, with realm's
/// durations (`200ms`).
#[test]
fn retries_of_other_verbs_are_realms() {
    clean(&module("    verb a(Unit) Unit\n      +retry 5 200ms 2s\n"));
}

/// FTL: `catch verb must have a request type of builtin.CatchRequest<%s> or
/// builtin.CatchRequest<Any>` and `catch verb must not have a response
/// type`.
#[test]
fn catch_verbs() {
    errors(
        &module(
            "    topic t Int\n\n    verb a(Int) Unit\n      +subscribe m.t from=latest\n      +retry 1 1s catch m.c\n\n    verb c(builtin.CatchRequest<String>) Int\n",
        ),
        &[
            "7:7: catch verb must have a request type of builtin.CatchRequest<Int> or builtin.CatchRequest<Any>, but found builtin.CatchRequest<String>",
            "7:7: catch verb must not have a response type but found Int",
        ],
    );
}

/// FTL: `request type %v differs from subscription's event type %v`, `must
/// be a sink to subscribe`; FTL's grammar requires `from=` (a warning: realm
/// read subscriptions without it before).
#[test]
fn subscriptions() {
    errors(
        &module("    topic t Int\n\n    verb a(String) Int\n      +subscribe m.t from=beginning\n"),
        &[
            "6:7: verb a: request type String differs from subscription's event type Int",
            "6:7: verb a: must be a sink to subscribe but found response type Int",
        ],
    );
    warnings(
        &module("    topic t Int\n\n    verb a(Int) Unit\n      +subscribe m.t\n"),
        &["6:7: `+subscribe` without `from=`"],
    );
}

/// FTL: `dead letter topic %v must have the same event type ...` and
/// `expected %v to be a dead letter topic but was already declared`.
#[test]
fn dead_letter_topics() {
    errors(
        &module(
            "    topic t Int\n    topic aFailed Int\n\n    verb a(Int) Unit\n      +subscribe m.t from=beginning deadletter\n",
        ),
        &[
            "7:7: dead letter topic m.aFailed must have the same event type (builtin.FailedEvent<Int>) as the subscription request type, not Int",
        ],
    );
    clean(&module(
        "    topic t Int\n    topic aFailed builtin.FailedEvent<Int>\n\n    verb a(Int) Unit\n      +subscribe m.t from=beginning deadletter\n",
    ));
}

/// FTL: `query verb must specify a corresponding datasource`, `... can only
/// access a single datasource`, through called verbs too.
#[test]
fn query_verbs_use_one_database() {
    errors(
        &module("    verb q(Unit) Unit\n      +sql query many \"SELECT 1\"\n"),
        &["3:5: query verb must specify a corresponding datasource"],
    );
    clean(&module(
        "    database mysql db\n\n    verb q(Unit) Unit\n      +calls m.r\n      +sql query many \"SELECT 1\"\n\n    verb r(Unit) Unit\n      +database uses m.db\n",
    ));
}

/// FTL: `transaction verbs must access a datasource`, `... can only access
/// a single datasource`, `... cannot inject nested transactions`.
#[test]
fn transactions() {
    errors(
        &module("    verb t(Unit) Unit\n      +transaction\n"),
        &["3:5: transaction verbs must access a datasource"],
    );
}

/// FTL: `egress target %q references unknown config %q`.
#[test]
fn egress_names_configs() {
    errors(
        &module("    verb v(Unit) Unit\n      +egress \"${base}/x\"\n"),
        &["4:7: egress target \"${base}/x\" references unknown config \"base\""],
    );
}

/// Not checked by FTL: `+partitions 0`, an unknown `+sql query` command.
#[test]
fn odd_metadata_values_are_warnings() {
    warnings(
        &module(
            "    database postgres db\n    topic t Unit\n      +partitions 0\n\n    verb v(Unit) Unit\n      +database uses m.db\n      +sql query fetch \"SELECT 1\"\n",
        ),
        &[
            "5:7: a topic with 0 partitions",
            "9:7: unknown query command `fetch`",
        ],
    );
}

// ---- realm's own rules (errors) ---------------------------------------------------

/// The public API of a realm is closed: whatever an `export realm`
/// declaration uses is `export realm` (realm's rule; FTL has no realm
/// exports to check).
#[test]
fn the_public_api_is_closed() {
    errors(
        &module("    export data D {\n    }\n\n    export realm verb v(m.D) Unit\n"),
        &["6:25: data `m.D` must be `export realm` because export realm verb `m.v` uses it"],
    );
}

/// `@realm` references: only to another realm's `export realm`
/// declarations, never from an external realm, never out of a public API.
#[test]
fn references_to_other_realms() {
    let (errors, _) = check(
        "external realm bank {\n  module b {\n    export realm data A {\n      x c.C@crm\n    }\n\n    export realm data P {\n    }\n  }\n}\n\nexternal realm crm {\n  module c {\n    export realm data C {\n    }\n  }\n}\n\nrealm shop {\n  module s {\n    export realm data D {\n      a b.A@bank\n    }\n  }\n}\n",
    );
    assert_eq!(
        errors,
        [
            "4:9: external realm `bank` refers to realm `crm` in `c.C@crm`",
            "22:9: export realm data `s.D` exposes `b.A@bank`, a type of external realm `bank`",
        ]
    );
}

/// Type aliases that contain themselves and required fields that contain
/// their data are realm's errors: FTL does not check them, and walkers over
/// such types do not terminate.
#[test]
fn types_that_never_end() {
    errors(
        &module("    typealias A [m.A]\n\n    data D {\n      d m.D\n    }\n"),
        &[
            "3:5: type alias `m.A` refers to itself",
            "6:7: data `m.D` contains itself through required fields: m.D.d -> m.D",
        ],
    );
}

/// realm's extensions: `+oneof` fields are optional, `+grpc` is on verbs.
#[test]
fn realm_extensions() {
    errors(
        &module("    data D {\n      +grpc \"x.S/M\"\n      a Int +oneof g\n    }\n"),
        &[
            "4:7: `+grpc` is not allowed on data",
            "5:7: field `a` is in oneof `g` but is not optional",
        ],
    );
}
