//! A call's body as the ingress reads and checks it, against the request
//! types of the example bank realm and of a realm with every type form.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use realm::schema::json::Checker;
use realm::schema::*;

const KINDS: &str = r#"module kinds {
  export realm data Every<T> {
    i Int
    f Float
    s String
    b Bytes
    t Time
    a Any
    u Unit
    o Bool?
    l [kinds.Item]
    m {String: [Int?]}
    k {Int: kinds.Color}
    g T
    e kinds.Shape?
    alias kinds.Id
    x String? +alias json "renamed"
  }

  export realm data Item {
    sku String
    qty Int
  }

  export realm enum Color: String {
    Red = "red"
    Blue = "blue"
  }

  export realm enum Shape {
    Circle kinds.Item
    Label String
  }

  export realm typealias Id [String]

  export realm verb call(kinds.Every<kinds.Item>) Unit
}
"#;

fn checkers() -> &'static [(Checker, Type)] {
    static CHECKERS: OnceLock<Vec<(Checker, Type)>> = OnceLock::new();
    CHECKERS.get_or_init(|| {
        let bank = include_str!("../../examples/bank/modules/balance.ftl");
        let mut out = Vec::new();
        for (name, text) in [("bank", bank), ("kinds", KINDS)] {
            let file = parse_file(name, text).expect("the seed realms parse");
            let realm = Realm {
                name: name.into(),
                modules: file.modules,
                ..Realm::default()
            };
            let checker = Checker::new(&realm);
            for (_, decl) in realm.decls() {
                if let Decl::Verb(verb) = decl {
                    out.push((checker.clone(), verb.request.clone()));
                }
            }
        }
        out
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = json_read::read_body(data) else {
        return;
    };
    for (checker, ty) in checkers() {
        let _ = checker.check_body(ty, body.as_ref());
    }
});
