//! A Go file of an FTL module through the extractor (tree-sitter, scopes,
//! directives, types), and what it extracts through validation and the
//! printer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realm::golang::{GoModule, GoSource, extract};
use realm::schema::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let module = GoModule {
        name: "shop".into(),
        config_file: "modules/shop/ftl.toml".into(),
        go_module_path: "ftl/shop".into(),
        files: vec![GoSource {
            path: "modules/shop/shop.go".into(),
            package_dir: String::new(),
            text: text.to_string(),
        }],
        databases: Vec::new(),
    };
    if let Ok(module) = extract(&module).map(|x| x.module) {
        let schema = Schema {
            realms: vec![Realm {
                name: "fuzz".into(),
                modules: vec![module],
                ..Realm::default()
            }],
        };
        let _ = validate(&schema);
        let printed = print_schema(&schema);
        if let Err(e) = parse_file("printed.ftl", &printed) {
            panic!("extracted schema prints text that does not parse: {e:?}\n{printed}");
        }
    }
});
