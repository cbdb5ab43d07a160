//! A program of the realm that pins `bank` and `kitchen`, calling them
//! through its ingress with the clients `realm generate rust` wrote into
//! `src/realms/` (tests/clients.rs builds it as a crate of its own and runs
//! it). Every check prints "ok ..." or exits non-zero saying what differed.

mod realms;

use std::collections::HashMap;
use std::fmt::Debug;

use realms::bank::balance;
use realms::kitchen::{builtin, kitchen, other};
use realms::{Bytes, Client, Error, Time, Unit};

fn fail(message: String) -> ! {
    println!("FAIL {message}");
    std::process::exit(1)
}

/// Checks that a call succeeded and answered `want`.
fn same<T: PartialEq + Debug>(what: &str, got: Result<T, Error>, want: &T) {
    match got {
        Ok(got) if &got == want => println!("ok {what}"),
        Ok(got) => fail(format!("{what}:\n got {got:?}\nwant {want:?}")),
        Err(e) => fail(format!("{what}: {e}")),
    }
}

/// Checks that a call failed with the typed error of a refused call,
/// whose message contains `message`.
fn call_error<T: Debug>(
    what: &str,
    got: Result<T, Error>,
    status: u16,
    code: &str,
    path: Option<&str>,
    message: &str,
) {
    match got {
        Err(Error::Call(e))
            if e.status == status
                && e.code == code
                && e.path.as_deref() == path
                && e.message.contains(message) =>
        {
            println!("ok {what}")
        }
        other => fail(format!("{what}: {other:?}")),
    }
}

fn time(text: &str) -> Time {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    Time(time::OffsetDateTime::parse(text, rfc3339).unwrap_or_else(|e| fail(e.to_string())))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // REALM_ENDPOINT names the ingress.
    let client = Client::from_env().unwrap_or_else(|e| fail(e.to_string()));
    let at = time("2024-05-01T12:30:45Z");
    let item = |sku: &str, quantity| kitchen::Item {
        sku: sku.into(),
        quantity,
    };
    let leaf = |name: &str| kitchen::Node {
        name: name.into(),
        children: vec![],
        next: None,
    };

    let everything = kitchen::Everything {
        int: 42,
        float: 1.5,
        string: "snowman ☃ \"quoted\"\n".into(),
        bytes: Bytes(vec![0, 1, 2, 253, 254, 255]),
        bool: true,
        time: at,
        any: serde_json::json!({"nested": [1.5, "x", true, null]}),
        unit: Unit,
        list: vec!["a".into(), "b".into()],
        nested: vec![vec![1, 2], vec![], vec![3]],
        map: HashMap::from([("a".into(), 1), ("b".into(), 2)]),
        int_map: HashMap::from([(1, "one".into()), (-2, "minus two".into())]),
        enum_map: HashMap::from([(kitchen::Color::Red, 1), (kitchen::Color::Green, 2)]),
        optional: Some("here".into()),
        missing: None,
        optionals: vec![Some("x".into()), None, Some("z".into())],
        item: item("s1", 2),
        items: vec![item("s2", 3)],
        page: kitchen::Page {
            items: vec![item("s3", 4)],
            next: Some("p2".into()),
        },
        pair: kitchen::Pair {
            key: "k".into(),
            value: 7,
        },
        color: kitchen::Color::Green,
        level: kitchen::Level::LevelHigh,
        shape: kitchen::Shape::Circle(2.5),
        shapes: vec![
            kitchen::Shape::Label("l".into()),
            kitchen::Shape::Square(kitchen::Square { side: 1.5 }),
            kitchen::Shape::Big(item("b", 1)),
            kitchen::Shape::Corners(vec![1, 2, 3, 4]),
            kitchen::Shape::When(at),
            kitchen::Shape::Maybe(None),
            kitchen::Shape::Maybe(Some("m".into())),
            kitchen::Shape::Tone(kitchen::Color::Red),
        ],
        sku: "s9".into(),
        tags: HashMap::from([("t".into(), vec!["x".into(), "y".into()])]),
        label: "Label".into(),
        r#type: "t".into(),
        node: kitchen::Node {
            name: "root".into(),
            children: vec![leaf("leaf")],
            next: Some(Box::new(leaf("next"))),
        },
        stamp: other::Stamp {
            at,
            by: "me".into(),
        },
        empty: builtin::Empty {},
    };
    let traced = client
        .with_request_id("rust-echo")
        .with_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    same(
        "echo",
        kitchen::echo(&traced, &everything).await,
        &everything,
    );

    let page = kitchen::Page {
        items: vec![item("a", 1)],
        next: None,
    };
    same("echoPage", kitchen::echo_page(&client, &page).await, &page);

    let shapes = std::iter::once(&everything.shape).chain(&everything.shapes);
    for (i, shape) in shapes.enumerate() {
        same(
            &format!("echoShape {i}"),
            kitchen::echo_shape(&client, shape).await,
            shape,
        );
    }

    let levels = vec![kitchen::Level::LevelLow, kitchen::Level::LevelHigh];
    same(
        "echoLevels",
        kitchen::echo_levels(&client, &levels).await,
        &levels,
    );

    let precise = time("2024-05-01T14:30:45.123456789+02:00");
    same(
        "echoTime",
        kitchen::echo_time(&client, &precise).await,
        &precise,
    );

    same(
        "levelNames",
        kitchen::level_names(&client).await,
        &vec![
            kitchen::Level::LevelLow,
            kitchen::Level::LevelHigh,
            kitchen::Level::LevelHigh,
            kitchen::Level::LevelLow,
        ],
    );

    same("ping", kitchen::ping(&client).await, &());

    let gone = item("gone", 1);
    same("delete", kitchen::delete(&client, &gone).await, &gone);

    let request = balance::WithdrawRequest {
        account: "a1".into(),
        amount: 500,
        memo: Some("rust".into()),
    };
    same(
        "withdraw",
        balance::withdraw(&client, &request).await,
        &balance::WithdrawResponse { balance: 9500 },
    );
    let account = balance::AccountRequest { id: "a1".into() };
    same(
        "account",
        balance::account(&client, &account).await,
        &balance::Account {
            id: "a1".into(),
            owner: "Ada".into(),
            balance: 9500,
            currency: balance::Currency::Eur,
        },
    );

    // Typed errors: the runner's own, passed through two ingresses, and the
    // ingress's refusal of a body that does not fit (serde_json writes a
    // float that is not a number as null).
    call_error(
        "error from the runner",
        kitchen::fail(&client, &item("s1", 1)).await,
        409,
        "out_of_stock",
        None,
        "no more s1",
    );
    let request = balance::WithdrawRequest {
        account: "a2".into(),
        amount: 1000,
        memo: None,
    };
    call_error(
        "error from the bank",
        balance::withdraw(&client, &request).await,
        409,
        "insufficient_funds",
        None,
        "account a2 holds 250, 1000 was asked",
    );
    let bad = kitchen::Everything {
        float: f64::NAN,
        ..everything.clone()
    };
    call_error(
        "error from the ingress",
        kitchen::echo(&client, &bad).await,
        400,
        "invalid_body",
        Some("$.float"),
        "expected a number (Float), found null",
    );
}
