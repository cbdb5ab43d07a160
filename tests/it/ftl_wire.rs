//! FTL's schema protobuf on the wire: what `realm export` writes is read by
//! FTL's own reader (Go's protojson, unknown fields refused, exactly one
//! internal realm), what FTL publishes pins in realm, and realm's older
//! `realm.schema.v1` pins still read.

use realm::schema::ThinVec;
use std::path::{Path, PathBuf};

use crate::common::{GitRealm, TestProject, copy_dir, repo_root, run_realm};
use realm::export;
use realm::schema::txtpb::{self, Format};

/// Every schema file of `examples/` and the test realms, exported by the
/// real binary into `out` (both forms of each), plus the committed ones of
/// the examples and the FTL-published fixtures.
fn every_export(out: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for example in ["bank", "shop"] {
        for ext in ["txtpb", "json"] {
            files.push(repo_root().join(format!("examples/{example}/ftl-external-schema.{ext}")));
        }
    }
    let mut projects: Vec<(String, PathBuf)> = vec![(
        "kitchen".to_string(),
        repo_root().join("tests/clients/kitchen"),
    )];
    for entry in std::fs::read_dir(repo_root().join("tests/go")).expect("tests/go") {
        let path = entry.expect("entry").path();
        if path.join("ftl-project.toml").is_file() {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            projects.push((name, path));
        }
    }
    projects.push(("bank".to_string(), repo_root().join("examples/bank")));
    for (name, dir) in projects {
        let copy = tempfile::tempdir().expect("tempdir");
        copy_dir(&dir, copy.path());
        for ext in ["txtpb", "json"] {
            let path = out.join(format!("{name}.{ext}"));
            let run = run_realm(
                copy.path(),
                &["export", "--output", &path.display().to_string()],
            );
            assert_eq!(run.code, 0, "export of {name}: {}", run.stderr);
            files.push(path);
        }
    }
    for entry in std::fs::read_dir(repo_root().join("tests/ftl-published")).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Go and Debian's golang-google-protobuf-dev, or `None` (skipped, unless
/// CI=true: then a failure).
fn go_protobuf() -> Option<PathBuf> {
    let gocode = PathBuf::from("/usr/share/gocode");
    let have_go = std::process::Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if have_go && gocode.join("src/google.golang.org/protobuf").is_dir() {
        return Some(gocode);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "go and golang-google-protobuf-dev are missing, and CI=true (.ci/run installs them)"
    );
    eprintln!(
        "skipped: Go's protojson is not installed (apt-get install golang-go golang-google-protobuf-dev)"
    );
    None
}

/// FTL's reader: Go's protojson (and prototext) into FTL's `Schema`,
/// unknown fields refused, exactly one internal realm. Each file is also
/// written back by Go's protojson as `<file>.go.json` in `work`.
fn read_with_go(gocode: &Path, work: &Path, files: &[PathBuf]) -> Vec<PathBuf> {
    let descriptors = work.join("schema.binpb");
    std::fs::write(&descriptors, txtpb::DESCRIPTOR_SET).expect("write descriptors");
    // Go writes `<file>.go.json` beside each file: read copies.
    let copies: Vec<PathBuf> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = f.file_name().expect("name").to_string_lossy();
            let copy = work.join(format!("{i}-{name}"));
            std::fs::copy(f, &copy).expect("copy");
            copy
        })
        .collect();
    let out = std::process::Command::new("go")
        .args(["run", "main.go"])
        .arg(&descriptors)
        .args(&copies)
        .current_dir(repo_root().join("tests/ftl_wire/strict"))
        .env("GO111MODULE", "off")
        .env(
            "GOPATH",
            format!("{}:{}", work.join("gopath").display(), gocode.display()),
        )
        .env("GOCACHE", work.join("gocache"))
        .output()
        .expect("go run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "FTL's reader refuses:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len()
    );
    copies
}

#[test]
fn every_export_is_read_by_ftls_strict_reader() {
    let Some(gocode) = go_protobuf() else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let exports = work.path().join("exports");
    std::fs::create_dir(&exports).expect("mkdir");
    let files = every_export(&exports);
    let copies = read_with_go(&gocode, work.path(), &files);
    // What Go's protojson writes back (FTL's `ftl schema get --json`) reads
    // in realm as the same schema.
    for (file, copy) in files.iter().zip(&copies) {
        let ours = decode(file);
        let go_json = copy.with_file_name(format!(
            "{}.go.json",
            copy.file_name().expect("name").to_string_lossy()
        ));
        let theirs = txtpb::from_json("go.json", &std::fs::read_to_string(&go_json).expect("read"))
            .unwrap_or_else(|d| {
                panic!("{}: Go's protojson does not read back: {d}", file.display())
            });
        assert_eq!(ours, theirs, "{}", file.display());
    }
}

fn decode(file: &Path) -> realm::schema::Schema {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).expect("read");
    txtpb::decode_published(&name, &name, &bytes)
        .unwrap_or_else(|d| panic!("{name}: {d}"))
        .schema
}

/// Export → pin → export: decoding a published file and encoding it again
/// gives the same bytes, in each format.
#[test]
fn export_pin_export_is_identical() {
    let work = tempfile::tempdir().expect("tempdir");
    let files = every_export(work.path());
    for file in files
        .iter()
        .filter(|f| !f.starts_with(repo_root().join("tests/ftl-published")))
    {
        let name = file.display().to_string();
        let format = Format::of_path(&name).expect("format");
        let bytes = std::fs::read(file).expect("read");
        let schema = decode(file);
        assert_eq!(
            String::from_utf8_lossy(&export::encode(&schema, format)),
            String::from_utf8_lossy(&bytes),
            "{name}"
        );
        // And binary protobuf, which no file here is.
        let binary = Format::Binary.encode(&schema);
        assert_eq!(
            txtpb::from_binary("x.binpb", &binary).expect("binary"),
            schema
        );
    }
}

/// A consumer pins each FTL-published fixture from a git repository over
/// file://, as `ftl realm add` would read it (`ftl-external-schema.json`).
#[test]
fn ftl_published_realms_pin_and_validate() {
    for entry in std::fs::read_dir(repo_root().join("tests/ftl-published")).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let published = GitRealm::empty("main");
        published.write(
            "ftl-external-schema.json",
            &std::fs::read_to_string(&path).expect("read fixture"),
        );
        published.commit("published by FTL");
        let realm_name = decode(&path).realms[0].name.clone();
        let consumer = TestProject::new("consumer");
        let url = format!("file://{}", published.path().display());
        let run = consumer.realm(&[
            "add",
            "--git-repo",
            &url,
            "--git-path",
            "ftl-external-schema.json",
            "--name",
            &realm_name,
        ]);
        assert_eq!(run.code, 0, "{}: {}", path.display(), run.stderr);
        let run = consumer.realm(&["schema", "--realm", &realm_name]);
        assert_eq!(run.code, 0, "{}: {}", path.display(), run.stderr);
        assert!(
            run.stdout
                .contains(&format!("external realm {realm_name} {{")),
            "{}",
            run.stdout
        );
        if realm_name == "market" {
            // FTL's closure: what `export realm` verbs call, catch, use and
            // publish to is pinned, whatever its visibility; what nothing
            // exported reaches is not; the builtin module is realm's own.
            for published in [
                "export verb charge(payments.ChargeRequest)",
                "verb audit(orders.Order) Unit",
                "verb recover(builtin.CatchRequest<orders.PlaceRequest>) Unit",
                "database postgres ordersdb",
                "export topic placed orders.Order",
                "+sql query many",
                "+ingress http GET /orders/{id}",
                "+typemap go \"github.com/example/market/ids.OrderID\"",
            ] {
                assert!(
                    run.stdout.contains(published),
                    "{published}:\n{}",
                    run.stdout
                );
            }
            for left_out in [
                "nightly",
                "notify",
                "refund",
                "region",
                "apiKey",
                "module builtin",
            ] {
                assert!(
                    !run.stdout.contains(left_out),
                    "{left_out}:\n{}",
                    run.stdout
                );
            }
            // Only `export realm` verbs are callable from other realms.
            consumer.write(
                "modules/shop.ftl",
                "module shop {\n  verb buy(Unit) Unit\n    +calls orders.place@market, payments.charge@market\n}\n",
            );
            let run = consumer.realm(&["schema"]);
            assert_eq!(run.code, 1, "{}", run.stderr);
            assert!(
                run.stderr
                    .contains("`payments.charge@market` is not part of realm `market`'s public API (it is `export`: the other modules of its realm may use it, other realms may not)")
                    && !run.stderr.contains("orders.place@market`"),
                "{}",
                run.stderr
            );
        }
    }
}

/// A realm published as binary protobuf (`.binpb`) pins: the schema file is
/// read from git as bytes, not as text.
#[test]
fn a_binary_published_realm_pins() {
    let bank = GitRealm::example("bank");
    let settings = bank.read("realm.toml").replace(
        "export = [\"ftl-external-schema.txtpb\", \"ftl-external-schema.json\"]",
        "export = \"ftl-external-schema.binpb\"",
    );
    bank.write("realm.toml", &settings);
    for old in ["ftl-external-schema.txtpb", "ftl-external-schema.json"] {
        std::fs::remove_file(bank.path().join(old)).expect("remove the text exports");
    }
    bank.export();
    let binary = std::fs::read(bank.path().join("ftl-external-schema.binpb")).expect("binpb");
    assert!(
        std::str::from_utf8(&binary).is_err(),
        "the test needs bytes that are not UTF-8"
    );
    bank.commit("binary export");
    let shop = TestProject::example("shop");
    let run = shop.realm(&["add", "--git-repo", &bank.url()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = shop.realm(&["schema", "--realm", "bank"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("export realm verb withdraw"),
        "{}",
        run.stdout
    );
}

/// A pin of a file realm wrote before it spoke FTL's messages
/// (`realm.schema.v1` proto-text) still reads.
#[test]
fn a_legacy_realm_schema_pin_still_reads() {
    let bank = GitRealm::example("bank");
    bank.write(
        "ftl-external-schema.txtpb",
        &std::fs::read_to_string(repo_root().join("tests/ftl-published/legacy-bank.txtpb"))
            .expect("read legacy fixture"),
    );
    // The example lists the JSON file too; this repository publishes only
    // the older proto-text.
    let project = bank.read("realm.toml").replace(
        "export = [\"ftl-external-schema.txtpb\", \"ftl-external-schema.json\"]",
        "export = \"ftl-external-schema.txtpb\"",
    );
    bank.write("realm.toml", &project);
    std::fs::remove_file(bank.path().join("ftl-external-schema.json")).expect("remove json");
    bank.commit("older realm");
    let shop = TestProject::example("shop");
    let run = shop.realm(&["add", "--git-repo", &bank.url()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "note: `ftl-external-schema.txtpb` is realm's older realm.schema.v1 proto-text, which FTL cannot read"
        ),
        "{}",
        run.stderr
    );
    let run = shop.realm(&["schema", "--realm", "bank"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("export realm verb withdraw"),
        "{}",
        run.stdout
    );
}

/// protojson is read strictly: a field FTL's `Schema` does not have is an
/// error naming it, as in FTL's reader.
#[test]
fn unknown_json_fields_are_refused() {
    let text = std::fs::read_to_string(repo_root().join("examples/bank/ftl-external-schema.json"))
        .expect("read");
    let damaged = text.replacen(
        "\"name\": \"bank\"",
        "\"name\": \"bank\", \"comments\": []",
        1,
    );
    assert_ne!(damaged, text);
    let err = txtpb::from_json("bank.json", &damaged).expect_err("unknown field");
    assert!(err.message.contains("comments"), "{}", err.message);
}

/// Every export file of `[realm] export` is written, each in its format;
/// `--check` covers them all.
#[test]
fn export_writes_and_checks_every_file() {
    let bank = TestProject::example("bank");
    std::fs::remove_file(bank.path().join("ftl-external-schema.json")).expect("remove");
    let run = bank.realm(&["export", "--check"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("ftl-external-schema.txtpb is up to date")
            && run
                .stderr
                .contains("error: ftl-external-schema.json does not exist"),
        "{}",
        run.stderr
    );
    let run = bank.realm(&["export"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        bank.read("ftl-external-schema.json"),
        std::fs::read_to_string(repo_root().join("examples/bank/ftl-external-schema.json"))
            .expect("read")
    );
    bank.realm(&["export", "--check"]).expect(0);
    // A file whose extension names no format is refused before anything
    // is written.
    let toml = bank.read("realm.toml").replace(
        "\"ftl-external-schema.json\"]",
        "\"ftl-external-schema.json\", \"api.yaml\"]",
    );
    bank.write("realm.toml", &toml);
    let run = bank.realm(&["export"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("api.yaml` from its extension"),
        "{}",
        run.stderr
    );
}

// ---- the fixtures of FTL-published realms ------------------------------------

/// FTL's `Schema.External()` (`common/schema/schema.go`) of an internal
/// realm, re-stated over realm's model to write the fixtures: the builtin
/// module first (FTL's `WithBuiltins`, its declarations `export`), roots
/// every declaration of realm visibility, a depth-first walk (a stack) over
/// every reference a declaration holds (types and metadata:
/// `OutboundEdges`), modules sorted by name and kept only with
/// declarations (`FilterByVisibility`), then config and secrets and their
/// metadata removed (`filterExternalMetadata`). The realm keeps no
/// position, as `FilterByVisibility` builds it anew.
fn ftl_external(realm: &realm::schema::Realm) -> realm::schema::Realm {
    use realm::schema::{Decl, MetadataKind, Ref, Type, Visibility};
    use std::collections::{BTreeMap, HashSet};
    let mut builtin = realm::schema::builtin::builtin_module().clone();
    for decl in &mut builtin.decls {
        if let Decl::Data(d) = decl {
            d.visibility = Visibility::Export;
        }
    }
    let mut modules = vec![builtin];
    modules.extend(realm.modules.iter().cloned());
    let mut stack: Vec<(String, String)> = modules
        .iter()
        .flat_map(|m| {
            m.decls
                .iter()
                .filter(|d| d.visibility() == Visibility::ExportRealm)
                .map(|d| (m.name.clone(), d.name().to_string()))
        })
        .collect();
    let mut visited = HashSet::new();
    let mut result: BTreeMap<String, Vec<Decl>> = BTreeMap::new();
    while let Some((module, name)) = stack.pop() {
        if !visited.insert((module.clone(), name.clone())) {
            continue;
        }
        let Some(decl) = modules
            .iter()
            .find(|m| m.name == module)
            .and_then(|m| m.decl(&name))
        else {
            continue;
        };
        let mut push = |r: &Ref| {
            if let Some(m) = &r.module {
                stack.push((m.clone(), r.name.clone()));
            }
        };
        decl.for_each_type(&mut |ty| {
            if let Type::Ref(r) = ty {
                push(r);
            }
        });
        decl.for_each_metadata_ref(&mut push);
        result.entry(module).or_default().push(decl.clone());
    }
    let strip = |metadata: &mut realm::schema::ThinVec<realm::schema::Metadata>| {
        metadata.retain(|m| {
            !matches!(
                m.kind,
                MetadataKind::ConfigUses(_) | MetadataKind::SecretsUses(_)
            )
        });
    };
    let modules = modules
        .iter()
        .filter_map(|m| {
            let mut decls = result.remove(&m.name)?;
            decls.retain(|d| !matches!(d, Decl::Config(_) | Decl::Secret(_)));
            for decl in &mut decls {
                match decl {
                    Decl::Verb(v) => strip(&mut v.metadata),
                    Decl::Database(d) => strip(&mut d.metadata),
                    Decl::Topic(t) => strip(&mut t.metadata),
                    Decl::Data(d) => strip(&mut d.metadata),
                    Decl::TypeAlias(t) => strip(&mut t.metadata),
                    _ => {}
                }
            }
            Some(realm::schema::Module { decls, ..m.clone() })
        })
        .collect::<Vec<_>>();
    let mut modules = modules;
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    realm::schema::Realm {
        pos: None,
        comments: ThinVec::new(),
        external: false,
        name: realm.name.clone(),
        modules,
    }
}

/// Writes `tests/ftl-published/*.json`: FTL's `External()` of the realms
/// in `market.ftl` and `examples/bank`, positions kept, as Go's
/// `protojson.Marshal` prints them (`ftl schema get --external --json`).
/// Run by hand: `cargo test --test it ftl_wire:: -- --ignored`.
#[test]
#[ignore = "writes the fixtures; needs Go"]
fn regenerate_ftl_published_fixtures() {
    let gocode = go_protobuf().expect("Go is needed to write the fixtures");
    let dir = repo_root().join("tests/ftl-published");
    let market = std::fs::read_to_string(dir.join("market.ftl")).expect("read");
    let market = realm::schema::parse_schema("market.ftl", &market)
        .unwrap_or_else(|d| panic!("{d}"))
        .realms
        .remove(0);
    let mut bank_modules = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples/bank/modules"))
        .expect("bank modules")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    for path in names {
        let name = format!(
            "modules/{}",
            path.file_name().expect("name").to_string_lossy()
        );
        let text = std::fs::read_to_string(&path).expect("read");
        let file = realm::schema::parse_file(&name, &text).unwrap_or_else(|d| panic!("{d}"));
        bank_modules.extend(file.modules);
    }
    let bank = realm::schema::Realm {
        name: "bank".to_string(),
        modules: bank_modules,
        ..Default::default()
    };
    let work = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for realm in [market, bank] {
        let published = realm::schema::Schema {
            realms: vec![ftl_external(&realm)],
        };
        let path = work.path().join(format!("{}.json", realm.name));
        std::fs::write(&path, txtpb::to_json(&published)).expect("write");
        files.push(path);
    }
    let copies = read_with_go(&gocode, work.path(), &files);
    for (file, copy) in files.iter().zip(copies) {
        let go_json = copy.with_file_name(format!(
            "{}.go.json",
            copy.file_name().expect("name").to_string_lossy()
        ));
        let mut text = std::fs::read_to_string(go_json).expect("read");
        text.push('\n');
        std::fs::write(dir.join(file.file_name().expect("name")), text).expect("write fixture");
    }
}

#[test]
fn export_writes_every_file_or_none() {
    let bank = TestProject::example("bank");
    let before = bank.read("ftl-external-schema.txtpb");
    // A change to the public API, and a second file that cannot be written
    // (its directory would be inside a file).
    let module = bank.read("modules/balance.ftl").replacen(
        "module balance {",
        "module balance {\n  export realm data Extra {\n    note String\n  }\n",
        1,
    );
    bank.write("modules/balance.ftl", &module);
    let settings = bank.read("realm.toml").replace(
        "\"ftl-external-schema.json\"]",
        "\"modules/audit.ftl/api.json\"]",
    );
    bank.write("realm.toml", &settings);
    let run = bank.realm(&["export"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        bank.read("ftl-external-schema.txtpb"),
        before,
        "the first file was written although the second could not be"
    );
}
