//! Schema text through the whole schema core: parse, validate, print,
//! parse the printed text again (it must parse), and for a valid schema
//! the public API and its proto-text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realm::schema::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = parse_file("fuzz.ftl", text) else {
        return;
    };
    let mut schema = Schema { realms: file.realms };
    if !file.modules.is_empty() {
        schema.realms.push(Realm {
            name: "fuzz".into(),
            modules: file.modules,
            ..Realm::default()
        });
    }
    let errors = validate(&schema);
    let printed = print_schema(&schema);
    if let Err(e) = parse_file("printed.ftl", &printed) {
        panic!("printed text does not parse: {e:?}\n{printed}");
    }
    if errors.is_empty() {
        for realm in &schema.realms {
            let api = public_api(realm);
            let _ = txtpb::to_text(&Schema { realms: vec![api] });
        }
    }
});
