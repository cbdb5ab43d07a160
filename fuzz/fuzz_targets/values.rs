//! Map keys and times as the ingress reads them, against models: an `Int`
//! key is Rust's `i64` parsing (Go's `strconv.ParseInt(s, 10, 64)` has the
//! same grammar), a time in plain RFC 3339 is the `time` crate's reading,
//! and an object of two keys is refused exactly when the two keys read as
//! one. The differential run against Go itself is `tests/it/hostile_values.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realm::schema::json::Checker;
use realm::schema::values::{self, MapKey};
use realm::schema::{Realm, Type};
use serde_json::{Map, Value};

/// Plain RFC 3339 that the `time` crate and Go read alike: upper-case `T`
/// and `Z`, two-digit hour, `.` before at most 9 digits, an offset below
/// 24 hours other than `-00:00`, no second 60.
fn plain(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[10] == b'T'
        && b[13] == b':'
        && &b[17..19] != b"60"
        && !s.ends_with("-00:00")
        && !s.contains(',')
        && s.rsplit_once('.').is_none_or(|(_, f)| {
            f.bytes().take_while(u8::is_ascii_digit).count() <= 9
        })
        && (s.ends_with('Z')
            || b.len() >= 6
                && matches!(b[b.len() - 6], b'+' | b'-')
                && &b[b.len() - 5..b.len() - 3] < b"24".as_slice()
                && &b[b.len() - 2..] < b"60".as_slice())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, second) = text.split_once('\n').unwrap_or((text, ""));

    // Int keys.
    let model = first.parse::<i64>().ok();
    match values::int_key(first) {
        Ok(MapKey::Int(n)) => assert_eq!(Some(n), model.map(i128::from), "{first:?}"),
        Ok(other) => panic!("{first:?} read as {other:?}"),
        Err(_) => assert_eq!(model, None, "{first:?}"),
    }

    // Times.
    let ours = values::read_time(first);
    if plain(first) {
        let theirs = time::OffsetDateTime::parse(first, &time::format_description::well_known::Rfc3339);
        match (&ours, &theirs) {
            (Ok(t), Ok(u)) => {
                assert_eq!(t.instant.seconds, u.unix_timestamp(), "{first:?}");
                assert_eq!(t.instant.nanos, u.nanosecond(), "{first:?}");
            }
            (Err(_), Err(_)) => {}
            _ => panic!("{first:?}: realm {ours:?}, time {theirs:?}"),
        }
    }
    if let Ok(t) = &ours {
        // The instant printed in UTC reads back as itself.
        let again = values::read_time(&t.instant.to_string()).expect("the printed instant reads");
        assert_eq!(again.instant, t.instant);
    }

    // Two keys of one object: refused exactly when either is not a key
    // or both read as one.
    if first == second {
        return;
    }
    let checker = Checker::new(&Realm::default());
    let mut object = Map::new();
    object.insert(first.into(), Value::from(1));
    object.insert(second.into(), Value::from(2));
    let object = Value::Object(object);
    for (key_type, read) in [
        (Type::Int, values::int_key as fn(&str) -> Result<MapKey, String>),
        (Type::Time, values::time_key),
        (Type::Float, values::float_key),
    ] {
        let ty = Type::Map(Box::new(key_type), Box::new(Type::Int));
        let accepted = checker.check_body(&ty, Some(&object)).is_ok();
        let expected = match (read(first), read(second)) {
            (Ok(a), Ok(b)) => a != b,
            _ => false,
        };
        assert_eq!(accepted, expected, "{ty}: {first:?}, {second:?}");
    }
});
