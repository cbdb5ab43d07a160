//! `realm migrate`'s move of the older layout ([`migrate`]): `[realm]`
//! and `[ingress...]` from `ftl-project.toml` to `realm.toml` with the
//! comments a reader gives them, `[realms.egress]` pins to
//! `[external-realms]` in place, both files or neither.

use std::path::Path;

use anyhow::{Context, Result};
use toml_edit::{DocumentMut, Item, Table};

use super::edit::{line_at, line_end, set_key};
use super::{LEGACY_SETTINGS, PROJECT_FILE, Project, SETTINGS_FILE, lock_dir};
use crate::files;

/// What [`migrate`] changed.
#[derive(Clone, Debug, Default)]
pub struct Migrated {
    /// The tables moved to `realm.toml` (`realm`, `ingress`).
    pub moved: Vec<String>,
    /// Pins moved from `[realms.egress]` to `[external-realms]`.
    pub pins: Vec<String>,
    /// Pins given the `git-path` FTL needs.
    pub paths: Vec<String>,
    /// Whether `realm.toml` was created.
    pub created_settings: bool,
}

impl Migrated {
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty() && self.pins.is_empty() && self.paths.is_empty()
    }
}

/// The first lines of a `realm.toml` that `realm migrate` creates.
const MIGRATED_HEADER: &str = "\
# realm.toml: realm's own settings for this project, beside ftl-project.toml
# (which FTL reads, and which holds only keys FTL knows). See
# realm.toml.example in realm's repository for every key.
";

/// Moves what the older layout keeps in `ftl-project.toml` where it
/// belongs, under the project lock: `[realm]` and `[ingress...]` to
/// `realm.toml` (with the comments that describe them: see below),
/// `[realms.egress.<name>]` pins to
/// `[external-realms.<name>]` in place. `paths` gives the `git-path` of
/// pins that have none (FTL needs it). Writes `realm.toml` first; if
/// `ftl-project.toml` cannot be written after it, `realm.toml` is put back.
pub fn migrate(root: &Path, paths: &[(String, String)]) -> Result<Migrated> {
    let _lock = lock_dir(root)?;
    let project = Project::load(root)?;
    let mut doc: DocumentMut = project
        .text
        .parse()
        .with_context(|| format!("cannot parse {PROJECT_FILE}"))?;
    let created_settings = project.settings_text.is_none();
    let mut settings: DocumentMut = project
        .settings_text
        .as_deref()
        .unwrap_or("")
        .parse()
        .with_context(|| format!("cannot parse {SETTINGS_FILE}"))?;
    if created_settings {
        settings.decor_mut().set_prefix(MIGRATED_HEADER);
    }
    let mut migrated = Migrated {
        created_settings,
        ..Migrated::default()
    };

    // The header tables of ftl-project.toml in file order. TOML gives the
    // comments between two tables to the second; a reader gives the lines
    // right below a table (before a blank line) to the first, and the
    // lines right above a header (after a blank line) to the second, the
    // rest to neither. A moved table takes its own; the rest stays where
    // the table was.
    let mut order = Vec::new();
    header_tables(doc.as_table(), &mut Vec::new(), &mut order);
    order.sort_by_key(|(position, _)| *position);
    let moves = |path: &[String]| LEGACY_SETTINGS.contains(&path[0].as_str());
    let mut attached: Vec<(Vec<String>, String)> = Vec::new();
    let mut left_behind = String::new();
    let mut previous: Option<&Vec<String>> = None;
    for (_, path) in &order {
        let previous_moves = previous.is_some_and(|p| moves(p));
        let Some(table) = table_at_mut(doc.as_table_mut(), path) else {
            continue;
        };
        let prefix = table
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_string();
        // The lines right below the previous table, if any.
        let first_line = prefix.lines().next().unwrap_or("");
        let (below, rest) = if first_line.trim_start().starts_with('#') {
            split_first_paragraph(&prefix)
        } else {
            ("", prefix.as_str())
        };
        if moves(path) {
            let (between, own) = split_last_paragraph(rest);
            let mut keep = String::new();
            if previous_moves {
                // Between two moved tables: theirs (commented-out keys),
                // but for a commented-out table of another kind.
                keep.push_str(below);
                for paragraph in paragraphs(between) {
                    if comments_out_other_table(paragraph) {
                        left_behind.push_str(paragraph);
                    } else {
                        keep.push_str(paragraph);
                    }
                }
            } else {
                left_behind.push_str(below);
                left_behind.push_str(between);
            }
            keep.push_str(own);
            // A blank line before the header, as a reader expects.
            if !keep.starts_with('\n') {
                keep.insert(0, '\n');
            }
            table.decor_mut().set_prefix(collapse_blank_lines(&keep));
        } else {
            let mut keep = std::mem::take(&mut left_behind);
            if previous_moves {
                if !below.is_empty() {
                    attached.push((previous.cloned().unwrap_or_default(), below.to_string()));
                }
            } else {
                keep.push_str(below);
            }
            keep.push_str(rest);
            table.decor_mut().set_prefix(collapse_blank_lines(&keep));
        }
        previous = Some(path);
    }
    if let Some(last) = previous.filter(|p| moves(p)) {
        let trailing = doc.trailing().as_str().unwrap_or("").to_string();
        let (below, rest) = split_first_paragraph(&trailing);
        if !below.is_empty() {
            attached.push((last.clone(), below.to_string()));
        }
        let rest = format!("{left_behind}{rest}");
        doc.set_trailing(collapse_blank_lines(&rest));
    }
    // The tables of settings, in file order, after what realm.toml has.
    let offset = max_position(settings.as_table()) + 1 - min_position(doc.as_table());
    for key in LEGACY_SETTINGS {
        let Some(mut item) = doc.remove(key) else {
            continue;
        };
        shift_positions(&mut item, offset);
        merge_into(settings.as_table_mut(), key, item);
        migrated.moved.push(key.to_string());
    }
    let mut order = Vec::new();
    header_tables(settings.as_table(), &mut Vec::new(), &mut order);
    order.sort_by_key(|(position, _)| *position);
    for (path, own) in attached {
        let next = order
            .iter()
            .skip_while(|(_, p)| *p != path)
            .nth(1)
            .map(|(_, p)| p.clone());
        match next.and_then(|next| table_at_mut(settings.as_table_mut(), &next)) {
            Some(t) => {
                let prefix = t.decor().prefix().and_then(|p| p.as_str()).unwrap_or("");
                let prefix = format!("{own}{prefix}");
                t.decor_mut().set_prefix(prefix);
            }
            None => {
                let trailing = settings.trailing().as_str().unwrap_or("");
                let trailing = format!("{own}{trailing}");
                settings.set_trailing(trailing);
            }
        }
    }

    // Pins: [realms.egress.x] → [external-realms.x], where they were.
    let egress: Vec<(String, Item)> = match doc
        .get_mut("realms")
        .and_then(|r| r.get_mut("egress"))
        .and_then(Item::as_table_like_mut)
    {
        Some(egress) => {
            let names: Vec<String> = egress.iter().map(|(k, _)| k.to_string()).collect();
            names
                .into_iter()
                .filter_map(|n| egress.remove(&n).map(|item| (n, item)))
                .collect()
        }
        None => Vec::new(),
    };
    if !egress.is_empty() {
        if doc.get("external-realms").is_none() {
            // An explicit `[realms.egress]` (of inline pins) becomes an
            // explicit `[external-realms]` where it was, comments and all.
            let old = doc
                .get("realms")
                .and_then(|r| r.get("egress"))
                .and_then(Item::as_table)
                .filter(|t| !t.is_implicit());
            let mut t = Table::new();
            match old {
                Some(old) => {
                    *t.decor_mut() = old.decor().clone();
                    t.set_position(old.position());
                }
                None => t.set_implicit(true),
            }
            doc.insert("external-realms", Item::Table(t));
        }
        let external = doc
            .get_mut("external-realms")
            .and_then(Item::as_table_like_mut)
            .context("`external-realms` is not a table")?;
        for (name, item) in egress {
            external.insert(&name, item);
            migrated.pins.push(name);
        }
    }
    if let Some(realms) = doc.get("realms").and_then(Item::as_table_like)
        && realms
            .iter()
            .all(|(k, v)| k == "egress" && v.as_table_like().is_some_and(|t| t.is_empty()))
    {
        doc.remove("realms");
    }
    for (name, path) in paths {
        if let Some(pin) = doc
            .get_mut("external-realms")
            .and_then(|e| e.get_mut(name))
            .and_then(Item::as_table_like_mut)
            && pin.get("git-path").is_none()
        {
            set_key(pin, "git-path", path);
            migrated.paths.push(name.clone());
        }
    }
    if migrated.is_empty() {
        return Ok(migrated);
    }

    let ended = |mut text: String| {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text
    };
    let new_text = ended(doc.to_string());
    let new_settings = ended(settings.to_string());
    let checked = Project::parse_with_settings(root, new_text.clone(), Some(new_settings.clone()))
        .map_err(|r| {
            anyhow::anyhow!("internal error: the migration made the files invalid:\n{r}")
        })?;
    debug_assert!(
        checked
            .warnings
            .iter()
            .all(|w| !w.message.contains("FTL refuses"))
    );
    let settings_path = project.settings_path();
    if !migrated.moved.is_empty() {
        files::write_atomic(&settings_path, new_settings.as_bytes())?;
    }
    if let Err(e) = files::write_atomic(&project.path(), new_text.as_bytes()) {
        if !migrated.moved.is_empty() {
            let _ = match &project.settings_text {
                Some(old) => files::write_atomic(&settings_path, old.as_bytes()),
                None => files::remove_file(&settings_path),
            };
        }
        return Err(e);
    }
    if migrated.moved.is_empty() {
        migrated.created_settings = false;
    }
    Ok(migrated)
}

/// The tables of `table` printed with a header, with their positions and
/// paths.
fn header_tables(table: &Table, path: &mut Vec<String>, out: &mut Vec<(isize, Vec<String>)>) {
    for (key, item) in table.iter() {
        if let Some(t) = item.as_table() {
            path.push(key.to_string());
            if !t.is_implicit() && !t.is_dotted() {
                out.push((t.position().unwrap_or(isize::MAX), path.clone()));
            }
            header_tables(t, path, out);
            path.pop();
        }
    }
}

fn table_at_mut<'d>(table: &'d mut Table, path: &[String]) -> Option<&'d mut Table> {
    match path.split_first() {
        None => Some(table),
        Some((first, rest)) => table_at_mut(table.get_mut(first)?.as_table_mut()?, rest),
    }
}

/// Puts `item` under `key` of `into`, merging tables key by key (the
/// keys of both files never overlap: the loader refuses that).
fn merge_into(into: &mut Table, key: &str, item: Item) {
    match (into.get_mut(key), item) {
        (Some(existing), Item::Table(new)) if existing.is_table_like() => {
            if let Some(existing) = existing.as_table_mut() {
                for (k, v) in new.into_iter() {
                    merge_into(existing, &k, v);
                }
            }
        }
        (_, item) => {
            into.insert(key, item);
        }
    }
}

fn positions(table: &Table, out: &mut Vec<isize>) {
    if let Some(p) = table.position() {
        out.push(p);
    }
    for (_, item) in table.iter() {
        if let Some(t) = item.as_table() {
            positions(t, out);
        }
    }
}

fn max_position(table: &Table) -> isize {
    let mut all = Vec::new();
    positions(table, &mut all);
    all.into_iter().max().unwrap_or(0)
}

fn min_position(table: &Table) -> isize {
    let mut all = Vec::new();
    positions(table, &mut all);
    all.into_iter().min().unwrap_or(0)
}

fn shift_positions(item: &mut Item, offset: isize) {
    if let Some(t) = item.as_table_mut() {
        if let Some(p) = t.position() {
            t.set_position(Some(p + offset));
        }
        for (_, child) in t.iter_mut() {
            shift_positions(child, offset);
        }
    }
}

/// `text` split before its last paragraph when that paragraph ends the
/// text (the comment lines right above a header): (the rest, the
/// paragraph with the blank line before it).
fn split_last_paragraph(text: &str) -> (&str, &str) {
    // Nothing right above the header: empty, or a blank line last.
    let last_line = text.strip_suffix('\n').unwrap_or(text).rsplit('\n').next();
    if text.is_empty() || text.ends_with("\n\n") || last_line.is_none_or(|l| l.trim().is_empty()) {
        return (text, "");
    }
    // The start of the last line that is blank, plus its line break.
    let body = text.strip_suffix('\n').unwrap_or(text);
    match body.rfind("\n\n") {
        Some(n) => text.split_at(n + 1),
        None if body.starts_with('\n') => text.split_at(0),
        None => ("", text),
    }
}

/// `text` in paragraphs, each with the blank lines before it.
fn paragraphs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    let mut in_blank = true;
    while offset < text.len() {
        let end = line_end(text, offset);
        let blank = text[offset..end].trim().is_empty();
        if blank && !in_blank {
            out.push(&text[start..offset]);
            start = offset;
        }
        in_blank = blank;
        offset = end;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Whether a paragraph of comments shows a commented-out table that is not
/// one of realm's settings (`# [external-realms.bank]`).
fn comments_out_other_table(paragraph: &str) -> bool {
    paragraph.lines().any(|line| {
        line.trim_start()
            .strip_prefix('#')
            .map(str::trim_start)
            .and_then(|code| code.strip_prefix('['))
            .is_some_and(|table| {
                !LEGACY_SETTINGS
                    .iter()
                    .any(|k| table.starts_with(k) && table[k.len()..].starts_with(['.', ']']))
            })
    })
}

/// Three or more line breaks in a row as two (one blank line).
fn collapse_blank_lines(text: &str) -> String {
    let mut out = text.to_string();
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out
}

/// The comment lines at the start of `text` up to the first blank line, and
/// the rest.
fn split_first_paragraph(text: &str) -> (&str, &str) {
    let mut offset = 0;
    while offset < text.len() {
        let line = line_at(text, offset);
        if line.trim().is_empty() {
            break;
        }
        offset = line_end(text, offset);
    }
    text.split_at(offset)
}

#[cfg(test)]
mod tests {
    use super::super::PinTable;
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn migrate_moves_inline_pins_and_settings_of_every_form() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "name = \"shop\"\nrealm.export = \"api.txtpb\"\n\n[realms.egress]\nbank = {{ git-repo = \"r\", git-commit = \"{COMMIT}\" }}\n\n[ingress.runners]\ndefault = \"http://127.0.0.1:1\"\n"
        );
        std::fs::write(dir.path().join(PROJECT_FILE), &text).expect("write");
        let migrated =
            migrate(dir.path(), &[("bank".into(), "api.txtpb".into())]).expect("migrate");
        assert_eq!(migrated.moved, ["realm", "ingress"]);
        assert_eq!(migrated.pins, ["bank"]);
        let project = Project::load(dir.path()).expect("load");
        assert!(project.warnings.is_empty(), "{:?}", project.warnings);
        assert_eq!(project.export, ["api.txtpb"]);
        assert_eq!(project.ingress.runners.len(), 1);
        let bank = project.pin("bank").expect("bank");
        assert_eq!(bank.table, PinTable::ExternalRealms);
        assert_eq!(bank.path.as_deref(), Some("api.txtpb"));
        assert!(!project.text.contains("realms.egress"), "{}", project.text);
    }
}
