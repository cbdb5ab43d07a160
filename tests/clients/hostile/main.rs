//! A program over the client of the hostile realm (tests/clients.rs builds
//! it as a crate of its own and runs it): it encodes a request whose JSON
//! names are "-", "a,b", quotes and backticks, decodes it back, and has
//! unknown enum values refused. Code injected into the generated module
//! through a comment would not compile.

mod realms;

use std::collections::HashMap;

use realms::hostile::hostile;
use realms::{Bytes, Time};

fn fail(message: String) -> ! {
    println!("FAIL {message}");
    std::process::exit(1)
}

fn main() {
    let at = time::OffsetDateTime::parse(
        "2024-05-01T12:30:45Z",
        &time::format_description::well_known::Rfc3339,
    )
    .map(Time)
    .unwrap_or_else(|e| fail(format!("time: {e}")));
    let req = hostile::Req {
        dash: "dash".into(),
        comma: "comma".into(),
        omit: "omit".into(),
        tick: "tick".into(),
        quote: "quote".into(),
        slash: "slash".into(),
        proto: "proto".into(),
        ctor: None,
        __proto__: "dunder".into(),
        r#type: "type".into(),
        by_name: HashMap::from([("__proto__".to_string(), 1), ("constructor".to_string(), 2)]),
        mood: hostile::Mood::Proto,
        level: hostile::Level::Proto,
        shape: hostile::Shape::Proto("shape".into()),
        date: hostile::Date {
            at,
            raw: Bytes(vec![0, 1, 2]),
        },
        record: hostile::Record {
            map: HashMap::from([(
                "__proto__".to_string(),
                hostile::Date {
                    at,
                    raw: Bytes(Vec::new()),
                },
            )]),
            by_mood: HashMap::from([(hostile::Mood::Calm, 1)]),
        },
        boxed: hostile::Box {
            value: 7,
            at,
            raw: Bytes(vec![255]),
        },
    };
    let json = serde_json::to_string(&req).unwrap_or_else(|e| fail(format!("encode: {e}")));
    println!("{json}");

    let back: hostile::Req =
        serde_json::from_str(&json).unwrap_or_else(|e| fail(format!("decode: {e}")));
    if back != req {
        fail(format!("decode:\n got {back:?}\nwant {req:?}"));
    }
    println!("ok decode");

    if let Ok(mood) = serde_json::from_str::<hostile::Mood>("\"sad\"") {
        fail(format!("a String enum took {mood:?}"));
    }
    println!("ok unknown String enum value refused");

    for unknown in ["7", "\"7\"", "\"High\""] {
        if let Ok(level) = serde_json::from_str::<hostile::Level>(unknown) {
            fail(format!("an Int enum took {unknown} as {level:?}"));
        }
    }
    println!("ok unknown Int enum value refused");
}
