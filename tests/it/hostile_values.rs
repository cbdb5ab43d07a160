//! Values that could mean two things: the ingress reads each value as
//! FTL's Go runtime will (encoding/json, `time.Parse(time.RFC3339)`), and
//! refuses what Go refuses or would read as something else.
//!
//! - a differential run against Go: a few thousand generated map keys,
//!   pairs of keys, times, integers and base64 strings (fixed seeds, with
//!   near-valid mutations), each read by the checker and by a Go program
//!   (`tests/go_values/main.go`) in one run; every verdict and canonical
//!   value must agree;
//! - end to end through `realm serve`: map keys of each key type, times,
//!   bytes and integers refused with their JSON path before the runner
//!   sees them, the rest forwarded; a body that is not UTF-8 named as such.

use std::io::{Read, Write};
use std::sync::Arc;

use realm::schema::json::Checker;
use realm::schema::json_read::read_body;
use realm::schema::values;
use realm::schema::{Realm, Type};

use crate::common::TestProject;
use crate::common::echo::{Echo, call, code, echo_runner, json};
use crate::common::serve::{Serve, parse_answer};

// ---------------------------------------------------------------------
// The differential run against Go.

/// splitmix64: a small deterministic generator (the seeds are fixed, so
/// every run checks the same cases).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A number of `width` digits, `0..=max` (a width too small for it is
/// what it is: a malformed field).
fn field(rng: &mut Rng, max: u64, width: usize) -> String {
    format!("{:0width$}", rng.below(max + 1))
}

/// A time string: mostly within the fields' ranges, sometimes just
/// beyond them, in Go's and other forms.
fn time_text(rng: &mut Rng) -> String {
    let wild = rng.chance(35);
    let year = if rng.chance(10) {
        let width = rng.below(3) as usize + 3;
        field(rng, 99_999, width)
    } else if rng.chance(5) {
        "0000".into()
    } else {
        field(rng, 9999, 4)
    };
    let month = field(rng, if wild { 14 } else { 12 }, 2).replace("00", "01");
    let day = match rng.below(6) {
        0 => "29".into(),
        1 => "30".into(),
        2 => "31".into(),
        _ => field(rng, if wild { 32 } else { 28 }, 2).replace("00", "01"),
    };
    let width = rng.below(4).min(1) as usize + 1;
    let hour = field(rng, if wild { 25 } else { 23 }, width);
    let minute = field(rng, if wild { 61 } else { 59 }, 2);
    let second = field(rng, if wild { 61 } else { 59 }, 2);
    let separator = if rng.chance(90) {
        "T"
    } else {
        rng.pick(&["t", " ", "_"])
    };
    let fraction = match rng.below(6) {
        0 => {
            let width = rng.below(12) as usize + 1;
            format!(".{}", field(rng, 999_999_999_999, width))
        }
        1 => {
            let width = rng.below(3) as usize + 1;
            format!(",{}", field(rng, 999, width))
        }
        2 if wild => rng.pick(&[".", ",", ".x"]).to_string(),
        _ => String::new(),
    };
    let zone = match rng.below(5) {
        0 | 1 => "Z".to_string(),
        2 if wild => rng.pick(&["z", "", "+0100", "UTC", "+01"]).to_string(),
        _ => format!(
            "{}{}:{}",
            rng.pick(&["+", "-"]),
            field(rng, if wild { 30 } else { 23 }, 2),
            field(rng, if wild { 65 } else { 59 }, 2)
        ),
    };
    let text = format!("{year}-{month}-{day}{separator}{hour}:{minute}:{second}{fraction}{zone}");
    if rng.chance(15) {
        mutate(rng, &text)
    } else {
        text
    }
}

/// One to three small edits: a character removed, inserted, replaced or
/// doubled, or the end cut off.
fn mutate(rng: &mut Rng, text: &str) -> String {
    const ALPHABET: &[char] = &[
        '0', '1', '5', '9', '-', '+', ':', '.', ',', 'T', 't', 'Z', 'z', ' ', '_', 'x', 'é',
        '\u{0}', '=', '/', '\n',
    ];
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(3) {
        let at = rng.below(chars.len() as u64 + 1) as usize;
        let c = ALPHABET[rng.below(ALPHABET.len() as u64) as usize];
        match rng.below(5) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 => chars.insert(at, c),
            2 if at < chars.len() => chars[at] = c,
            3 if at < chars.len() => chars.insert(at, chars[at]),
            _ => chars.truncate(at.max(1)),
        }
    }
    chars.into_iter().collect()
}

/// An integer as a map key's text: signs, leading zeros, the bounds of
/// 64 bits and just beyond, and mutations.
fn int_text(rng: &mut Rng) -> String {
    let digits = match rng.below(6) {
        0 => rng
            .pick(&[
                "9223372036854775807",
                "9223372036854775808",
                "9223372036854775806",
            ])
            .into(),
        1 => "0".into(),
        2 => format!("{}", rng.next()),
        _ => format!("{}", rng.below(1000)),
    };
    let zeros = if rng.chance(25) {
        "0".repeat(rng.below(4) as usize + 1)
    } else {
        String::new()
    };
    let sign = match rng.below(6) {
        0 => "+",
        1 | 2 => "-",
        _ => "",
    };
    let text = format!("{sign}{zeros}{digits}");
    if rng.chance(15) {
        mutate(rng, &text)
    } else {
        text
    }
}

/// A JSON number as an `Int` value might be written.
fn int_json(rng: &mut Rng) -> String {
    let n = rng.below(2000) as i64 - 1000;
    match rng.below(8) {
        0 => format!("{n}.0"),
        1 => format!("{n}e{}", rng.below(3)),
        2 => format!("{}E+1", n / 10),
        3 => rng
            .pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775808",
                "-9223372036854775809",
                "1e19",
                "-0",
                "0",
                "-0.0",
                "0.5",
            ])
            .into(),
        _ => format!("{n}"),
    }
}

/// A base64 string of random bytes, in Go's alphabet or another, padded
/// or not, and mutations.
fn base64_text(rng: &mut Rng) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes: Vec<u8> = (0..rng.below(12)).map(|_| rng.next() as u8).collect();
    let text = match rng.below(6) {
        0 => STANDARD_NO_PAD.encode(&bytes),
        1 => URL_SAFE.encode(&bytes),
        2 => URL_SAFE_NO_PAD.encode(&bytes),
        _ => STANDARD.encode(&bytes),
    };
    if rng.chance(25) {
        mutate(rng, &text)
    } else {
        text
    }
}

/// A second key that is often the first written otherwise.
fn int_twin(rng: &mut Rng, first: &str) -> String {
    let digits = first.trim_start_matches(['+', '-']);
    let negative = first.starts_with('-');
    match rng.below(5) {
        0 => format!("0{first}").replace("0-", "-0").replace("0+", "+0"),
        1 if !negative => format!("+{digits}"),
        2 if digits.trim_start_matches('0').is_empty() => "-0".into(),
        3 => int_text(rng),
        _ => format!("{}0{digits}", if negative { "-" } else { "" }),
    }
}

fn time_twin(rng: &mut Rng, first: &str) -> String {
    let Ok(t) = values::read_time(first) else {
        return time_text(rng);
    };
    match rng.below(4) {
        // The same instant in UTC with a zero fraction, or another zone.
        0 if first.ends_with('Z') && t.fraction.is_none() => first.replace('Z', ".000Z"),
        1 if first.ends_with('Z') => first.replace('Z', "+00:00"),
        2 => format!("{}", t.instant).replace(".000000000Z", "Z"),
        _ => time_text(rng),
    }
}

#[derive(serde::Serialize)]
struct Case {
    kind: &'static str,
    input: String,
}

fn cases() -> Vec<Case> {
    let mut rng = Rng(0x5EED_0025);
    let mut cases = Vec::new();
    let mut add = |kind, input| cases.push(Case { kind, input });
    for _ in 0..3000 {
        add("time", time_text(&mut rng));
    }
    for _ in 0..1500 {
        add("int-key", int_text(&mut rng));
    }
    for _ in 0..600 {
        add("int", int_json(&mut rng));
    }
    for _ in 0..1200 {
        add("bytes", base64_text(&mut rng));
    }
    for _ in 0..800 {
        let first = int_text(&mut rng);
        let second = int_twin(&mut rng, &first);
        if first != second {
            add("int-keys", pair(&first, &second));
        }
    }
    for _ in 0..800 {
        let first = time_text(&mut rng);
        let second = time_twin(&mut rng, &first);
        if first != second {
            add("time-keys", pair(&first, &second));
        }
    }
    cases
}

fn pair(first: &str, second: &str) -> String {
    let mut object = serde_json::Map::new();
    object.insert(first.into(), 1.into());
    object.insert(second.into(), 2.into());
    serde_json::Value::Object(object).to_string()
}

/// The checker's verdict in the Go program's terms: `Some(canonical)` or
/// `None` (refused).
fn realm_reads(checker: &Checker, case: &Case) -> Option<String> {
    let map_of = |key: Type| Type::Map(Box::new(key), Box::new(Type::Int));
    let check = |ty: &Type, text: &str| {
        let body = read_body(text.as_bytes()).ok()??;
        checker.check_body(ty, Some(&body)).ok()
    };
    let input = case.input.as_str();
    match case.kind {
        "time" => {
            let t = values::read_time(input).ok()?;
            check(&Type::Time, &serde_json::to_string(input).ok()?)?;
            Some(format!("{}.{:09}", t.instant.seconds, t.instant.nanos))
        }
        "int-key" => {
            check(&map_of(Type::Int), &pair_one(input))?;
            match values::int_key(input).ok()? {
                values::MapKey::Int(n) => Some(n.to_string()),
                _ => None,
            }
        }
        "int" => {
            check(&Type::Int, input)?;
            Some(read_body(input.as_bytes()).ok()??.as_i64()?.to_string())
        }
        "bytes" => {
            check(&Type::Bytes, &serde_json::to_string(input).ok()?)?;
            let bytes = values::decode_base64_std(input)?;
            Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
        }
        // The number of keys Go keeps, when the checker lets the object
        // through (it refuses two members naming one key).
        "int-keys" => check(&map_of(Type::Int), input).map(|()| "2".to_string()),
        "time-keys" => check(&map_of(Type::Time), input).map(|()| "2 false".to_string()),
        other => panic!("unknown kind {other}"),
    }
}

fn pair_one(key: &str) -> String {
    let mut object = serde_json::Map::new();
    object.insert(key.into(), 1.into());
    serde_json::Value::Object(object).to_string()
}

/// Where realm may refuse what Go reads, by design.
fn known_difference(
    case: &Case,
    go: &Option<String>,
    realm: &Option<String>,
    lax_offsets: bool,
) -> bool {
    match (case.kind, go, realm) {
        // Go before 1.20 reads any zone offset (+99:99); FTL's runtime is
        // built with a later Go, which refuses offsets beyond 24:00 and
        // minutes beyond 60, as realm does.
        ("time", Some(_), None) if lax_offsets => {
            values::read_time(&case.input).is_err_and(|e| e.reason.starts_with("the offset's"))
        }
        ("time-keys", Some(g), None) if lax_offsets && g.starts_with("2 ") => {
            let keys: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&case.input).unwrap_or_default();
            keys.keys()
                .any(|k| values::read_time(k).is_err_and(|e| e.reason.starts_with("the offset's")))
        }
        // serde_json reads `-0` as the float -0.0, which the checker
        // cannot tell from `-0.0` (that Go refuses): both are refused.
        ("int", Some(g), None) => case.input == "-0" && g == "0",
        _ => false,
    }
}

fn have_go() -> bool {
    let found = std::process::Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "go is missing, and CI=true (.ci/run installs golang-go)"
        );
        eprintln!("skipped: Go is not installed (apt-get install golang-go)");
    }
    found
}

#[test]
fn go_reads_generated_values_as_the_checker_does() {
    if !have_go() {
        return;
    }
    let cases = cases();
    assert!(cases.len() >= 7000, "{} cases", cases.len());
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("cases.json");
    std::fs::write(&file, serde_json::to_vec(&cases).expect("JSON")).expect("write the cases");
    let out = std::process::Command::new("go")
        .args(["run", "main.go"])
        .arg(&file)
        .current_dir(crate::common::repo_root().join("tests/go_values"))
        .env("GO111MODULE", "off")
        .env("GOPATH", work.path().join("gopath"))
        .env("GOCACHE", work.path().join("gocache"))
        .env("TZ", "UTC")
        .output()
        .expect("go run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let lax_offsets = lines.next() == Some("lax-offsets true");
    let checker = Checker::new(&Realm::default());
    let mut differences = Vec::new();
    let mut tally: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for case in &cases {
        let line = lines.next().expect("a verdict per case");
        let go = line.strip_prefix("ok ").map(str::to_string);
        // Of two keys, the checker lets through only those Go keeps as
        // two; and two that name one instant in two zones (Go keeps both:
        // its map compares zones too) are refused, since a reader that
        // normalises times would see one key.
        let go = match case.kind {
            "int-keys" | "time-keys" => go.filter(|g| g == "2" || g == "2 false"),
            _ => go,
        };
        let realm = realm_reads(&checker, case);
        let entry = tally.entry(case.kind).or_default();
        if realm.is_some() {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        if go != realm && !known_difference(case, &go, &realm, lax_offsets) {
            differences.push(format!(
                "{} {:?}: Go {go:?}, realm {realm:?}",
                case.kind, case.input
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} cases differ:\n{}",
        differences.len(),
        cases.len(),
        differences[..differences.len().min(30)].join("\n")
    );
    // Each kind has both verdicts in good number (the generator is not
    // testing only one side).
    for (kind, (accepted, refused)) in &tally {
        assert!(
            *accepted >= 100 && *refused >= 100,
            "{kind}: {accepted} accepted, {refused} refused"
        );
    }
    eprintln!("{} cases agree with Go: {tally:?}", cases.len());
}

// ---------------------------------------------------------------------
// End to end through `realm serve`.

const VALS: &str = r#"module vals {
  export realm enum Color: String {
    Red = "red"
    Blue = "blue"
  }

  export realm enum Kind: Int {
    One = 1
    Two = 2
  }

  export realm data Req {
    ints {Int: String}?
    floats {Float: String}?
    bools {Bool: String}?
    times {Time: String}?
    colors {vals.Color: String}?
    kinds {vals.Kind: String}?
    at Time?
    raw Bytes?
    n Int?
    text String?
  }

  export realm verb take(vals.Req) vals.Req
}
"#;

struct Vals {
    _project: TestProject,
    echo: Arc<Echo>,
    _runner: crate::common::backends::Background,
    ingress: Serve,
}

fn start() -> Vals {
    let project = TestProject::new("vals");
    project.write("modules/vals.ftl", VALS);
    let echo = Arc::new(Echo::default());
    let runner = echo_runner(echo.clone(), None);
    let ingress = Serve::start(
        project.path(),
        project.cache_dir(),
        &["--runner", &format!("vals={}", runner.url())],
    );
    Vals {
        _project: project,
        echo,
        _runner: runner,
        ingress,
    }
}

const TAKE: &str = "/realms/vals/vals/take";

#[test]
fn values_go_would_read_otherwise_are_refused_with_their_path() {
    let vals = start();
    for (body, path, says) in [
        (
            r#"{"colors":{"PURPLE":"x"}}"#,
            "$.colors.PURPLE",
            "is not a value of enum Color",
        ),
        (
            r#"{"kinds":{"3":"x"}}"#,
            "$.kinds.3",
            "is not a value of enum Kind",
        ),
        (
            r#"{"bools":{"maybe":"x"}}"#,
            "$.bools.maybe",
            "true or false",
        ),
        (
            r#"{"times":{"yesterday":"x"}}"#,
            "$.times.yesterday",
            "RFC 3339",
        ),
        (r#"{"floats":{"one":"x"}}"#, "$.floats.one", "number key"),
        (
            r#"{"ints":{"5":"a","05":"b"}}"#,
            "$.ints.05",
            r#"the keys "5" and "05" are one key"#,
        ),
        (r#"{"ints":{"+5":"a","5":"b"}}"#, "$.ints.5", "are one key"),
        (r#"{"ints":{"-0":"a","0":"b"}}"#, "$.ints.0", "are one key"),
        (
            r#"{"kinds":{"1":"a","One":"b"}}"#,
            "$.kinds.One",
            "are one key",
        ),
        (
            r#"{"times":{"2024-05-01T12:00:00Z":"a","2024-05-01T12:00:00.000Z":"b"}}"#,
            r#"$.times["2024-05-01T12:00:00.000Z"]"#,
            "are one key",
        ),
        (
            r#"{"floats":{"1":"a","1.0":"b"}}"#,
            r#"$.floats["1.0"]"#,
            "are one key",
        ),
        (
            r#"{"at":"2024-99-99T99:99:99Z"}"#,
            "$.at",
            "month 99 is out of range",
        ),
        (
            r#"{"at":"2024-02-30T00:00:00Z"}"#,
            "$.at",
            "2024-02 has no day 30",
        ),
        (
            r#"{"at":"2023-02-29T00:00:00Z"}"#,
            "$.at",
            "2023-02 has no day 29",
        ),
        (
            r#"{"at":"2024-00-00T00:00:00Z"}"#,
            "$.at",
            "month 0 is out of range",
        ),
        (
            r#"{"at":"2024-12-01T24:00:00Z"}"#,
            "$.at",
            "hour 24 is out of range",
        ),
        (
            r#"{"at":"2024-05-01T12:00:00+99:99"}"#,
            "$.at",
            "the offset's hour 99",
        ),
        (r#"{"at":"2016-12-31T23:59:60Z"}"#, "$.at", "second 60"),
        (r#"{"raw":"AA"}"#, "$.raw", "with = padding"),
        (r#"{"raw":"-_-_"}"#, "$.raw", "standard alphabet"),
        (r#"{"n":1e3}"#, "$.n", "without a fraction or an exponent"),
        (r#"{"n":1.0}"#, "$.n", "without a fraction or an exponent"),
    ] {
        let answer = call(&vals.ingress, TAKE, body, &[]);
        let error = &json(&answer)["error"];
        assert_eq!(
            (answer.0, code(&answer).as_str(), error["path"].as_str()),
            (400, "invalid_body", Some(path)),
            "{body}: {}",
            answer.2
        );
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
    }
    assert_eq!(vals.echo.count(), 0, "a refused body reached the runner");

    let accepted = [
        r#"{"ints":{"5":"a","-7":"b","+8":"c"},"floats":{"1.5":"a","-2e3":"b"},"bools":{"true":"a","false":"b"}}"#,
        r#"{"times":{"2024-05-01T12:00:00Z":"a","2024-05-01T12:00:01Z":"b"},"colors":{"red":"a","blue":"b"},"kinds":{"1":"a","Two":"b"}}"#,
        r#"{"at":"0000-01-01T00:00:00Z","raw":"AA==","n":1000}"#,
        r#"{"at":"2024-02-29T23:59:59.123456789123+24:00","raw":"aG\nk=","n":-9223372036854775808}"#,
        r#"{"at":"2024-05-01T1:00:00,5Z"}"#,
    ];
    for body in accepted {
        let answer = call(&vals.ingress, TAKE, body, &[]);
        assert_eq!(answer.0, 200, "{body}: {}", answer.2);
        assert_eq!(
            answer.2, body,
            "the runner got other bytes than were checked"
        );
    }
    assert_eq!(vals.echo.count(), accepted.len());
}

#[test]
fn a_body_that_is_not_utf8_is_named_so_with_its_offset() {
    let vals = start();
    let body: &[u8] = b"{\"text\":\"caf\xe9\"}";
    let mut stream = std::net::TcpStream::connect(vals.ingress.addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "POST {TAKE} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body).expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let answer = parse_answer(&String::from_utf8_lossy(&response));
    assert_eq!(answer.0, 400, "{}", answer.2);
    let message = json(&answer)["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("not valid UTF-8: byte 0xe9 at byte offset 12"),
        "{message}"
    );
    assert!(!message.contains("surrogate"), "{message}");
    assert_eq!(vals.echo.count(), 0);
}
