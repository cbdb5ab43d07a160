//! Generated inputs of realistic size for the benchmarks.
#![allow(dead_code)]

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
