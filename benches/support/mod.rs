//! Generated inputs of realistic size for the benchmarks.
#![allow(dead_code)]

pub mod tls;
pub mod tools;

use std::fmt::Write;

/// Schema text for one module of a generated realm.
///
/// Module `m{i}` has `verbs` verbs, each with a request and a response data
/// type (so twice as many data types as verbs), and `enums` value enums.
/// Even-numbered verbs and their types are `export realm`, odd ones
/// `export`. Requests nest lists, maps and optionals of responses from the
/// previous module (cross-module references; module 0 uses its own, as
/// modules may not depend on each other in a cycle) and refer to the enums;
/// every fourth declaration has a doc comment.
pub fn module_text(i: usize, _modules: usize, verbs: usize, enums: usize) -> String {
    let prev = i.saturating_sub(1);
    let mut out = String::with_capacity(verbs * 600);
    let _ = writeln!(out, "// Module {i} of a generated realm.\nmodule m{i} {{");
    let _ = writeln!(out, "  config endpoint{i} String\n");
    for e in 0..enums {
        let _ = writeln!(
            out,
            "  export realm enum Status{e}: String {{\n    Open = \"open\"\n    Held = \"held\"\n    Paid = \"paid\"\n    Void = \"void\"\n  }}\n"
        );
    }
    for k in 0..verbs {
        let vis = if k % 2 == 0 { "export realm" } else { "export" };
        if k % 4 == 0 {
            let _ = writeln!(
                out,
                "  // Verb {k} of module {i}.\n  // It does generated things."
            );
        }
        let _ = writeln!(out, "  {vis} verb call{k}(m{i}.Req{k}) m{i}.Resp{k}");
        if k % 3 == 0 {
            let _ = writeln!(out, "    +retry 3 1s 30s");
        }
        if k % 5 == 0 {
            let _ = writeln!(out, "    +calls m{prev}.call{k}");
        }
        let _ = writeln!(out);
        if k % 4 == 1 {
            let _ = writeln!(out, "  // The request of call{k}.");
        }
        let _ = writeln!(
            out,
            "  {vis} data Req{k} {{\n    id String\n    amount Int\n    note String? +alias json \"n\"\n    \
             items [m{prev}.Resp{k}]\n    index {{String: m{prev}.Resp{k}?}}\n    status m{i}.Status{}\n    \
             at Time?\n  }}\n",
            k % enums.max(1)
        );
        let _ = writeln!(
            out,
            "  {vis} data Resp{k} {{\n    id String\n    total Float\n    ok Bool\n    tags [String]\n  }}\n"
        );
    }
    out.push_str("}\n");
    out
}

/// The whole realm as one text (for parse benchmarks).
pub fn realm_text(modules: usize, verbs_per_module: usize, enums: usize) -> String {
    let mut out = String::new();
    for i in 0..modules {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&module_text(i, modules, verbs_per_module, enums));
    }
    out
}

/// Writes a project of that realm: `ftl-project.toml` and one file per
/// module under `modules/`.
pub fn write_project(
    dir: &std::path::Path,
    name: &str,
    modules: usize,
    verbs: usize,
    enums: usize,
) {
    std::fs::create_dir_all(dir.join("modules")).expect("create modules/");
    std::fs::write(
        dir.join("ftl-project.toml"),
        format!("name = \"{name}\"\nmodule-dirs = [\"modules\"]\n"),
    )
    .expect("write ftl-project.toml");
    for i in 0..modules {
        std::fs::write(
            dir.join("modules").join(format!("m{i}.ftl")),
            module_text(i, modules, verbs, enums),
        )
        .expect("write module");
    }
}

/// The `.proto` files equivalent to [`module_text`]'s realm, for `buf
/// build` to compare with: a package per module, a message per data type
/// (the same fields: `optional`, `repeated`, `map`, Timestamp, the enums,
/// `json_name` for `+alias json`), an enum per value enum and a service per
/// module with an RPC per verb, doc comments where the realm has them.
/// Writes `buf.yaml` and `m{i}.proto` into `dir`.
pub fn write_protos(dir: &std::path::Path, modules: usize, verbs: usize, enums: usize) {
    std::fs::create_dir_all(dir).expect("create the proto directory");
    std::fs::write(dir.join("buf.yaml"), "version: v2\n").expect("write buf.yaml");
    for i in 0..modules {
        let prev = i.saturating_sub(1);
        let mut out = String::with_capacity(verbs * 700);
        let _ = writeln!(
            out,
            "syntax = \"proto3\";\n\n// Module {i} of a generated realm.\npackage m{i};\n\nimport \"google/protobuf/timestamp.proto\";"
        );
        if i > 0 {
            let _ = writeln!(out, "import \"m{prev}.proto\";");
        }
        out.push('\n');
        for e in 0..enums {
            let _ = writeln!(
                out,
                "enum Status{e} {{\n  STATUS{e}_OPEN = 0;\n  STATUS{e}_HELD = 1;\n  STATUS{e}_PAID = 2;\n  STATUS{e}_VOID = 3;\n}}\n"
            );
        }
        let _ = writeln!(out, "service M{i}Service {{");
        for k in 0..verbs {
            if k % 4 == 0 {
                let _ = writeln!(
                    out,
                    "  // Verb {k} of module {i}.\n  // It does generated things."
                );
            }
            let _ = writeln!(out, "  rpc call{k}(Req{k}) returns (Resp{k});");
        }
        out.push_str("}\n\n");
        for k in 0..verbs {
            if k % 4 == 1 {
                let _ = writeln!(out, "// The request of call{k}.");
            }
            let _ = writeln!(
                out,
                "message Req{k} {{\n  string id = 1;\n  int64 amount = 2;\n  optional string note = 3 [json_name = \"n\"];\n  \
                 repeated m{prev}.Resp{k} items = 4;\n  map<string, m{prev}.Resp{k}> index = 5;\n  Status{} status = 6;\n  \
                 google.protobuf.Timestamp at = 7;\n}}\n",
                k % enums.max(1)
            );
            let _ = writeln!(
                out,
                "message Resp{k} {{\n  string id = 1;\n  double total = 2;\n  bool ok = 3;\n  repeated string tags = 4;\n}}\n"
            );
        }
        std::fs::write(dir.join(format!("m{i}.proto")), out).expect("write a .proto file");
    }
}
