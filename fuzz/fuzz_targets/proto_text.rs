//! A pinned realm's proto-text as `realm add` reads it from a repository:
//! decode, validate, print.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realm::schema::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(schema) = txtpb::from_text("fuzz.txtpb", text) {
        let _ = validate(&schema);
        let _ = print_schema(&schema);
        let _ = txtpb::to_text(&schema);
    }
});
