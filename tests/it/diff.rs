//! The public-API diff: which changes are breaking for callers.

use realm::schema::diff::{Severity, diff};
use realm::schema::{Realm, parse_schema};

fn realm(body: &str) -> Realm {
    let text = format!("external realm bank {{\n  module m {{\n{body}  }}\n}}\n");
    let mut schema = parse_schema("t.ftl", &text).unwrap_or_else(|d| panic!("{d}\n{text}"));
    schema.realms.remove(0)
}

/// The changes from `old` to `new` as `severity decl: message` lines.
fn changes(old: &str, new: &str) -> Vec<String> {
    diff(&realm(old), &realm(new))
        .iter()
        .map(|c| format!("{} {c}", c.severity))
        .collect()
}

const VERB: &str = "    export realm verb v(m.Req) m.Resp\n\n";

fn with_verb(req: &str, resp: &str) -> String {
    format!(
        "{VERB}    export realm data Req {{\n{req}    }}\n\n    export realm data Resp {{\n{resp}    }}\n"
    )
}

#[test]
fn identical_and_comment_only_changes_are_no_changes() {
    let a = with_verb("      a Int\n", "      b Int\n");
    assert!(changes(&a, &a).is_empty());
    let commented = with_verb("      // Now documented.\n      a Int\n", "      b Int\n");
    assert!(changes(&a, &commented).is_empty());
}

#[test]
fn declarations_added_and_removed() {
    let a = with_verb("", "");
    let b = format!("{a}\n    export realm verb w(Unit) Unit\n");
    assert_eq!(changes(&a, &b), ["compatible m.w: verb added"]);
    assert_eq!(changes(&b, &a), ["breaking m.w: verb removed"]);
}

#[test]
fn request_fields() {
    let base = with_verb("      a Int\n", "");
    assert_eq!(
        changes(&base, &with_verb("      a Int\n      b String\n", "")),
        ["breaking m.Req: required field `b` added to a request"]
    );
    assert_eq!(
        changes(&base, &with_verb("      a Int\n      b String?\n", "")),
        ["compatible m.Req: field `b` added"]
    );
    assert_eq!(
        changes(&base, &with_verb("", "")),
        ["breaking m.Req: field `a` removed"]
    );
    assert_eq!(
        changes(&base, &with_verb("      a Int?\n", "")),
        ["compatible m.Req: field `a` became optional"]
    );
    assert_eq!(
        changes(&with_verb("      a Int?\n", ""), &base),
        ["breaking m.Req: field `a` became required in a request"]
    );
    assert_eq!(
        changes(&base, &with_verb("      a Float\n", "")),
        ["breaking m.Req: field `a` changed type from Int to Float"]
    );
}

#[test]
fn response_fields() {
    let base = with_verb("", "      a Int\n");
    assert_eq!(
        changes(&base, &with_verb("", "      a Int\n      b String\n")),
        ["compatible m.Resp: field `b` added"]
    );
    assert_eq!(
        changes(&base, &with_verb("", "      a Int?\n")),
        ["breaking m.Resp: field `a` became optional in a response"]
    );
    assert_eq!(
        changes(&with_verb("", "      a Int?\n"), &base),
        ["compatible m.Resp: field `a` became required"]
    );
    assert_eq!(
        changes(&base, &with_verb("", "")),
        ["breaking m.Resp: field `a` removed"]
    );
}

#[test]
fn types_reached_through_fields_take_the_role_of_their_verb() {
    let shape = |inner: &str| {
        format!(
            "{VERB}    export realm data Req {{\n      items [m.Line]\n    }}\n\n    export realm data Resp {{\n    }}\n\n    export realm data Line {{\n{inner}    }}\n"
        )
    };
    assert_eq!(
        changes(
            &shape("      a Int\n"),
            &shape("      a Int\n      b Int\n")
        ),
        ["breaking m.Line: required field `b` added to a request"]
    );
}

#[test]
fn types_used_both_ways_or_not_at_all_get_the_strict_rule() {
    let both = |field: &str| {
        format!(
            "    export realm verb v(m.Both) m.Both\n\n    export realm data Both {{\n{field}    }}\n"
        )
    };
    assert_eq!(
        changes(&both("      a Int\n"), &both("      a Int?\n")),
        ["breaking m.Both: field `a` became optional in a response"]
    );
    let standalone = |field: &str| format!("    export realm data Free {{\n{field}    }}\n");
    assert_eq!(
        changes(&standalone("      a Int?\n"), &standalone("      a Int\n")),
        ["breaking m.Free: field `a` became required in a request"]
    );
}

#[test]
fn wire_names_are_part_of_the_api() {
    let a = with_verb("      a Int +alias json \"x\"\n", "");
    let b = with_verb("      a Int +alias json \"y\"\n", "");
    assert_eq!(
        changes(&a, &b),
        ["breaking m.Req: field `a` is now sent as \"y\" instead of \"x\""]
    );
    let plain = with_verb("      a Int\n", "");
    assert_eq!(
        changes(&plain, &a),
        ["breaking m.Req: field `a` is now sent as \"x\" instead of \"a\""]
    );
}

#[test]
fn verbs_requests_and_responses() {
    let a = "    export realm verb v(m.A) Unit\n\n    export realm data A {\n    }\n\n    export realm data B {\n    }\n";
    let b = "    export realm verb v(m.B) m.A\n\n    export realm data A {\n    }\n\n    export realm data B {\n    }\n";
    assert_eq!(
        changes(a, b),
        [
            "breaking m.v: request changed from m.A to m.B",
            "breaking m.v: response changed from Unit to m.A"
        ]
    );
}

#[test]
fn enums() {
    let e = |variants: &str| format!("    export realm enum E: String {{\n{variants}    }}\n");
    let base = e("      A = \"a\"\n      B = \"b\"\n");
    assert_eq!(
        changes(
            &base,
            &e("      A = \"a\"\n      B = \"b\"\n      C = \"c\"\n")
        ),
        ["compatible m.E: variant `C` added"]
    );
    assert_eq!(
        changes(&base, &e("      A = \"a\"\n")),
        ["breaking m.E: variant `B` removed"]
    );
    assert_eq!(
        changes(&base, &e("      A = \"a\"\n      B = \"bee\"\n")),
        ["breaking m.E: variant `B` changed from \"b\" to \"bee\""]
    );
    let int = "    export realm enum E: Int {\n      A = 1\n      B = 2\n    }\n";
    assert_eq!(
        changes(&base, int),
        [
            "breaking m.E: type changed from String to Int",
            "breaking m.E: variant `A` changed from \"a\" to 1",
            "breaking m.E: variant `B` changed from \"b\" to 2"
        ]
    );
}

#[test]
fn kinds_type_parameters_and_aliases() {
    let data = "    export realm data T {\n    }\n";
    let alias = "    export realm typealias T Int\n";
    assert_eq!(
        changes(data, alias),
        ["breaking m.T: changed from data to typealias"]
    );
    assert_eq!(
        changes(alias, "    export realm typealias T String\n"),
        ["breaking m.T: type changed from Int to String"]
    );
    assert_eq!(
        changes(
            "    export realm data P<T> {\n    }\n",
            "    export realm data P<T, U> {\n    }\n"
        ),
        ["breaking m.P: type parameters changed from <T> to <T, U>"]
    );
}

#[test]
fn severities_are_ordered() {
    assert!(Severity::Breaking > Severity::Compatible);
}
