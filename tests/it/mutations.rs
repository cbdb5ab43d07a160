//! Property test: random mutations of real inputs — the example realms'
//! schema text and exported proto-text, and the FTL corpus of
//! `tests/ftl-corpus/` — never make the schema core panic, loop or
//! overflow. Each mutated text is parsed (errors rendered); what parses is
//! validated (warnings too), qualified, printed, parsed again and its
//! public API taken; a mutated body is read and checked as the ingress
//! would. Mutations are byte-level (flips, deletions, splices, long runs)
//! and token-level (the grammar's punctuation and keywords).
//!
//! The fuzz targets in `fuzz/` run the same code for hours; this keeps a
//! few thousand cases in every `cargo test`.

use proptest::prelude::*;
use realm::schema::diagnostic::{Sources, render};
use realm::schema::json::Checker;
use realm::schema::qualify::qualify_realm;
use realm::schema::validate::validate_with_warnings;
use realm::schema::*;

/// The seeds: every schema file and export of the example realms, and the
/// FTL corpus.
fn seeds() -> Vec<(String, String)> {
    let root = crate::common::repo_root();
    let mut files = Vec::new();
    for realm in ["bank", "shop"] {
        let dir = root.join("examples").join(realm);
        files.extend(
            dir.join("modules")
                .read_dir()
                .expect("examples")
                .flatten()
                .map(|e| e.path()),
        );
        files.push(dir.join("ftl-external-schema.txtpb"));
    }
    for sub in ["ok", "errors"] {
        let dir = root.join("tests/ftl-corpus").join(sub);
        files.extend(dir.read_dir().expect("corpus").flatten().map(|e| e.path()));
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read seed");
            (path.display().to_string(), text)
        })
        .collect()
}

/// What a token-level mutation puts in: the grammar's punctuation and
/// keywords, multibyte characters and line ends.
const PIECES: &[&str] = &[
    "{",
    "}",
    "<",
    ">",
    "[",
    "]",
    "(",
    ")",
    ":",
    ",",
    ".",
    "?",
    "@",
    "+",
    "=",
    "\"",
    "\\",
    "/",
    "\n",
    "\r\n",
    " ",
    "\t",
    "é",
    "😀",
    "0",
    "-",
    "Int",
    "//",
    "+calls ",
    "+retry ",
    "+ingress http GET /",
    "{x}",
    "builtin.",
    "export realm ",
    "typealias A m.A\n",
];

/// The bank example's realm.
fn bank() -> Realm {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bank/modules/balance.ftl"),
    )
    .expect("read");
    let file = parse_file("balance.ftl", &text).expect("the bank parses");
    Realm {
        name: "bank".into(),
        modules: file.modules,
        ..Realm::default()
    }
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: usize,
        bit: u8,
    },
    Insert {
        at: usize,
        byte: u8,
    },
    Delete {
        at: usize,
        len: usize,
    },
    /// Copies `len` bytes from `from` to `at` (repeats structure).
    Splice {
        from: usize,
        at: usize,
        len: usize,
    },
    /// Repeats one byte many times (deep nesting, long tokens).
    Repeat {
        at: usize,
        times: usize,
    },
    /// Inserts one of [`PIECES`].
    Token {
        at: usize,
        piece: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (
            any::<usize>(),
            prop_oneof![
                any::<u8>(),
                Just(b'{'),
                Just(b'['),
                Just(b'<'),
                Just(b'"'),
                Just(b'\n'),
                Just(b'+'),
                Just(b'@')
            ]
        )
            .prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        (any::<usize>(), 1usize..16).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), any::<usize>(), 1usize..64).prop_map(|(from, at, len)| Mutation::Splice {
            from,
            at,
            len
        }),
        (any::<usize>(), 1usize..400).prop_map(|(at, times)| Mutation::Repeat { at, times }),
        (any::<usize>(), 0..PIECES.len()).prop_map(|(at, piece)| Mutation::Token { at, piece }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        bytes.push(b' ');
    }
    let n = bytes.len();
    match *m {
        Mutation::Flip { at, bit } => bytes[at % n] ^= 1 << bit,
        Mutation::Insert { at, byte } => bytes.insert(at % (n + 1), byte),
        Mutation::Delete { at, len } => {
            let at = at % n;
            bytes.drain(at..(at + len).min(n));
        }
        Mutation::Splice { from, at, len } => {
            let from = from % n;
            let piece: Vec<u8> = bytes[from..(from + len).min(n)].to_vec();
            let at = at % (n + 1);
            bytes.splice(at..at, piece);
        }
        Mutation::Repeat { at, times } => {
            let at = at % n;
            let byte = bytes[at];
            bytes.splice(at..at, std::iter::repeat_n(byte, times));
        }
        Mutation::Token { at, piece } => {
            let at = at % (n + 1);
            bytes.splice(at..at, PIECES[piece].bytes());
        }
    }
}

/// Everything the schema core does with a file, none of which may panic.
fn exercise(name: &str, text: &str) {
    if name.ends_with(".txtpb") {
        if let Ok(schema) = txtpb::from_text(name, text) {
            let _ = validate(&schema);
            let _ = print_schema(&schema);
            let _ = txtpb::to_text(&schema);
        }
        return;
    }
    let sources: Sources = [(name.to_string(), text.to_string())].into();
    let file = match parse_file(name, text) {
        Ok(file) => file,
        Err(d) => {
            let _ = render(&[d], &sources);
            return;
        }
    };
    let mut schema = Schema {
        realms: file.realms,
    };
    if !file.modules.is_empty() {
        schema.realms.push(Realm {
            name: "bank".into(),
            modules: file.modules,
            ..Realm::default()
        });
    }
    let found = validate_with_warnings(&schema);
    let _ = render(&found, &sources);
    schema.realms.iter_mut().for_each(qualify_realm);
    let diagnostics = validate(&schema);
    let printed = print_schema(&schema);
    // What printed must parse again (the printer writes only valid text).
    let again = parse_file(name, &printed);
    assert!(
        again.is_ok(),
        "printed text does not parse: {:?}\n{printed}",
        again.err()
    );
    if diagnostics.is_empty() {
        for realm in &schema.realms {
            let api = public_api(realm);
            let _ = txtpb::to_text(&Schema { realms: vec![api] });
            // Every verb's request type checks a few bodies.
            let checker = Checker::new(realm);
            for (_, decl) in realm.decls() {
                if let Decl::Verb(verb) = decl {
                    for body in [r#"{}"#, r#"{"a":[1,{"b":null}]}"#, "null", "[]"] {
                        let value: serde_json::Value = serde_json::from_str(body).expect("JSON");
                        let _ = checker.check_body(&verb.request, Some(&value));
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_inputs_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let seeds = seeds();
        let (name, text) = &seeds[seed.index(seeds.len())];
        let mut bytes = text.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        // Files are UTF-8 (files::read_text refuses the rest).
        let text = String::from_utf8_lossy(&bytes);
        exercise(name, &text);
    }

    #[test]
    fn mutated_bodies_never_panic(
        body in prop_oneof![
            Just(r#"{"account":"a1","amount":500,"memo":"x"}"#.to_string()),
            Just(r#"{"items":[{"sku":"a","qty":1}],"tags":{"k":"v"}}"#.to_string()),
        ],
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut bytes = body.into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(value) = json_read::read_body(&bytes) {
            let checker = Checker::new(&bank());
            for verb in ["withdraw", "account"] {
                let Some(Decl::Verb(verb)) = checker.decl("balance", verb) else {
                    panic!("the bank has balance.{verb}");
                };
                let _ = checker.check_body(&verb.request, value.as_ref());
            }
        }
    }
}
