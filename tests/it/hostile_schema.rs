//! Hostile schemas (issue #10): nesting deep enough to overflow a stack,
//! types that never end or can never hold a value. Each must be a clear
//! error with a position, in schema text and in a pinned realm's
//! proto-text, and nothing may crash or hang.

use crate::common::{GitRealm, TestProject};
use realm::schema::*;

fn errors(text: &str) -> Vec<String> {
    let schema = parse_schema("t.ftl", text).unwrap_or_else(|d| panic!("{d}"));
    validate(&schema).iter().map(ToString::to_string).collect()
}

fn module(body: &str) -> String {
    format!("realm shop {{\n  module a {{\n{body}  }}\n}}\n")
}

// ---- nesting ------------------------------------------------------------------

const DEEP: usize = 20_000;

/// `[[[...Int...]]]`, `{String: {String: ...}}` and `a.D<a.D<...>>`, 20,000
/// deep: refused past `MAX_TYPE_DEPTH` levels with the limit named, no stack
/// overflow.
#[test]
fn deeply_nested_types_in_text_are_refused() {
    let list = format!("{}Int{}", "[".repeat(DEEP), "]".repeat(DEEP));
    let map = format!("{}Int{}", "{String: ".repeat(DEEP), "}".repeat(DEEP));
    let generic = format!("{}Int{}", "a.D<".repeat(DEEP), ">".repeat(DEEP));
    for ty in [list, map, generic] {
        let text = module(&format!("    data D<T> {{\n      x {ty}\n    }}\n"));
        let err = parse_schema("t.ftl", &text).expect_err("too deep");
        assert_eq!(
            err.message,
            format!("types nest more than {MAX_TYPE_DEPTH} deep here")
        );
        assert_eq!(err.pos.as_ref().map(|p| p.line), Some(4));
        assert!(err.help().is_some_and(|h| h.contains("typealias")));
    }
    // At the limit it is fine.
    let ty = format!(
        "{}Int{}",
        "[".repeat(MAX_TYPE_DEPTH - 1),
        "]".repeat(MAX_TYPE_DEPTH - 1)
    );
    parse_type("t", &ty).unwrap_or_else(|d| panic!("{d}"));
}

/// The same through the binary: exit 1 with the error, the line shown as a
/// window.
#[test]
fn deeply_nested_types_fail_the_command_cleanly() {
    let project = TestProject::new("shop");
    project.write(
        "modules/a.ftl",
        &format!(
            "module a {{\n  data D {{\n    x {}Int{}\n  }}\n}}\n",
            "[".repeat(DEEP),
            "]".repeat(DEEP)
        ),
    );
    let run = project.realm(&["schema"]).expect(1);
    assert!(
        run.stderr
            .starts_with("error: types nest more than 24 deep here\n --> modules/a.ftl:3:31\n"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.lines().all(|l| l.len() < 200), "{}", run.stderr);
}

/// A pinned realm's proto-text nested 3,000 deep is refused, not a crash;
/// so is the depth just past the limit. A type 25 deep is read.
#[test]
fn deeply_nested_proto_text_is_refused() {
    let text = |depth: usize| {
        format!(
            "realms {{\n  external: true\n  name: \"bank\"\n  modules {{\n    name: \"m\"\n    decls {{\n      type_alias {{\n        visibility: VISIBILITY_SCOPE_REALM\n        name: \"A\"\n        type {{ {}int {{}}{} }}\n      }}\n    }}\n  }}\n}}\n",
            "array { element { ".repeat(depth),
            " } }".repeat(depth)
        )
    };
    for depth in [30, 3_000] {
        let err = txtpb::from_text("bank.txtpb", &text(depth)).expect_err("too deep");
        assert_eq!(
            err.message, "proto-text nests messages more than 64 deep",
            "{depth}"
        );
        assert_eq!(err.pos.map(|p| p.line), Some(10), "{depth}");
    }
    let schema =
        txtpb::from_text("bank.txtpb", &text(MAX_TYPE_DEPTH - 1)).unwrap_or_else(|d| panic!("{d}"));
    assert!(validate(&schema).is_empty());
}

// ---- types that never end ---------------------------------------------------

#[test]
fn an_alias_of_itself_is_an_error_with_its_position() {
    assert_eq!(
        errors(&module("    typealias A a.A\n")),
        ["t.ftl:3:5: type alias `a.A` refers to itself"]
    );
}

#[test]
fn aliases_in_a_cycle_are_one_error() {
    assert_eq!(
        errors(&module(
            "    typealias A a.B\n    typealias B [a.C?]\n    typealias C {String: a.A}\n"
        )),
        ["t.ftl:3:5: type alias `a.A` refers to itself through a.A -> a.B -> a.C -> a.A"]
    );
}

#[test]
fn an_alias_in_its_own_type_arguments_is_a_cycle() {
    assert_eq!(
        errors(&module(
            "    typealias A a.Box<a.A>\n\n    data Box<T> {\n      value T?\n    }\n"
        )),
        ["t.ftl:3:5: type alias `a.A` refers to itself"]
    );
}

#[test]
fn recursion_through_data_is_fine() {
    assert!(
        errors(&module(
            "    typealias Children [a.Tree]\n\n    data Tree {\n      children a.Children\n      parent a.Tree?\n      index {String: a.Tree}\n    }\n"
        ))
        .is_empty()
    );
}

#[test]
fn a_required_self_reference_can_never_be_built() {
    assert_eq!(
        errors(&module(
            "    data Node {\n      value Int\n      next a.Node\n    }\n"
        )),
        ["t.ftl:5:7: data `a.Node` contains itself through required fields: a.Node.next -> a.Node"]
    );
    // A cycle through two data types and an alias.
    assert_eq!(
        errors(&module(
            "    data A {\n      b a.B\n    }\n\n    typealias ToA a.A\n\n    data B {\n      a a.ToA\n    }\n"
        )),
        [
            "t.ftl:4:7: data `a.A` contains itself through required fields: a.A.b -> a.B, a.B.a -> a.A"
        ]
    );
}

#[test]
fn a_required_self_reference_through_a_generic_can_never_be_built() {
    let found = errors(&module(
        "    data Box<T> {\n      v T\n    }\n\n    data N {\n      b a.Box<a.N>\n    }\n",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("data `a.N` contains itself through required fields"),
        "{found:?}"
    );
    // An optional argument, or a generic that holds its argument in a
    // list, breaks the cycle.
    for (generic, field) in [("v T", "a.Box<a.N?>"), ("v [T]", "a.Box<a.N>")] {
        let text = format!(
            "    data Box<T> {{\n      {generic}\n    }}\n\n    data N {{\n      b {field}\n    }}\n"
        );
        assert_eq!(errors(&module(&text)), Vec::<String>::new(), "{text}");
    }
}

#[test]
fn optional_list_or_map_fields_break_the_cycle() {
    for field in ["a.Node?", "[a.Node]", "{String: a.Node}"] {
        assert!(
            errors(&module(&format!(
                "    data Node {{\n      next {field}\n    }}\n"
            )))
            .is_empty(),
            "{field}"
        );
    }
}

/// A pinned realm goes through the same validator: an alias cycle in its
/// proto-text refuses `realm add`, which writes nothing.
#[test]
fn a_pinned_realm_with_an_alias_cycle_is_refused() {
    let bank = GitRealm::empty("main");
    bank.write(
        "ftl-project.toml",
        "name = \"bank\"\n\n[realm]\nexport = \"api.txtpb\"\n",
    );
    bank.write(
        "api.txtpb",
        "realms {\n  name: \"bank\"\n  modules {\n    name: \"m\"\n    decls {\n      type_alias {\n        visibility: VISIBILITY_SCOPE_REALM\n        name: \"A\"\n        type { ref { module: \"m\" name: \"B\" } }\n      }\n    }\n    decls {\n      type_alias {\n        visibility: VISIBILITY_SCOPE_REALM\n        name: \"B\"\n        type { array { element { ref { module: \"m\" name: \"A\" } } } }\n      }\n    }\n    decls {\n      data {\n        visibility: VISIBILITY_SCOPE_REALM\n        name: \"Node\"\n        fields { name: \"next\" type { ref { module: \"m\" name: \"Node\" } } }\n      }\n    }\n  }\n}\n",
    );
    bank.commit("a realm with cycles");
    let shop = TestProject::new("shop");
    let before = shop.read("ftl-project.toml");
    let run = shop.realm(&["add", "--git-repo", &bank.url()]).expect(1);
    assert!(run.stderr.contains("is not valid"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: type alias `m.A` refers to itself through m.A -> m.B -> m.A"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("error: data `m.Node` contains itself through required fields"),
        "{}",
        run.stderr
    );
    assert_eq!(shop.read("ftl-project.toml"), before, "add wrote the pin");
}
