//! Edits of the pins in `ftl-project.toml`'s `toml_edit` document:
//! [`set_pin`] changes a pin's table in place, [`insert_pin`] adds a new
//! table as text where a reader expects it (after the last pin and the
//! comment lines right below it), [`remove_pin`] drops one. Everything
//! else in the file stays byte for byte. The lock and the write are
//! [`super::Project::edit`]'s.

use anyhow::{Context, Result};
use toml_edit::{Document, DocumentMut, Item, Table, TableLike, value};

use super::{CALLER_TABLE, Pin, PinTable};

/// Records `pin` in the document: in the table that already holds a pin of
/// that name (its keys keep their order and formatting; unknown keys
/// stay), else in a new table of `pin.table` (see [`insert_pin`]).
pub fn set_pin(doc: &mut DocumentMut, pin: &Pin) -> Result<()> {
    let existing = pin_parents_mut(doc, pin.table)
        .into_iter()
        .find_map(|parent| parent.get_mut(&pin.name).and_then(Item::as_table_like_mut));
    match existing {
        Some(table) => {
            set_pin_keys(table, pin);
            Ok(())
        }
        None => insert_pin(doc, pin),
    }
}

/// The tables pins of `table`'s direction are kept in: `external-realms`
/// and `realms.egress` (of `ftl-project.toml`), or `caller-realms` (of
/// `realm.toml`).
fn pin_parents_mut(doc: &mut DocumentMut, table: PinTable) -> Vec<&mut dyn TableLike> {
    let mut out: Vec<&mut dyn TableLike> = Vec::new();
    if table.is_caller() {
        out.extend(
            doc.get_mut(CALLER_TABLE)
                .and_then(Item::as_table_like_mut)
                .map(|t| t as &mut dyn TableLike),
        );
        return out;
    }
    let (external, realms): (Option<&mut Item>, Option<&mut Item>) = {
        let mut external = None;
        let mut realms = None;
        for (key, item) in doc.as_table_mut().iter_mut() {
            match key.get() {
                "external-realms" => external = Some(item),
                "realms" => realms = Some(item),
                _ => {}
            }
        }
        (external, realms)
    };
    if let Some(t) = external.and_then(Item::as_table_like_mut) {
        out.push(t);
    }
    if let Some(t) = realms
        .and_then(|r| r.get_mut("egress"))
        .and_then(Item::as_table_like_mut)
    {
        out.push(t);
    }
    out
}

fn set_pin_keys(table: &mut dyn TableLike, pin: &Pin) {
    set_key(table, "git-repo", &pin.repo);
    match &pin.branch {
        Some(branch) => set_key(table, "git-branch", branch),
        None => {
            table.remove("git-branch");
        }
    }
    set_key(table, "git-commit", &pin.commit);
    match &pin.path {
        Some(path) => set_key(table, "git-path", path),
        None => {
            table.remove("git-path");
        }
    }
}

/// A TOML string literal of `text`.
fn toml_string(text: &str) -> String {
    let mut v = toml_edit::Value::from(text);
    v.decor_mut().clear();
    v.to_string().trim().to_string()
}

/// Adds a new pin table. Where it goes, in this order: after the last pin
/// table of its kind (in its style: an inline table in a `[external-realms]`
/// of inline tables, a header table indented like the last one); in a file
/// `realm init` wrote, after the commented-out example of a pin; else at
/// the end. Never between a table and the comment lines right below it,
/// which belong to it.
pub fn insert_pin(doc: &mut DocumentMut, pin: &Pin) -> Result<()> {
    let text = doc.to_string();
    let parsed = Document::parse(text.as_str()).context("cannot parse the project file")?;
    let parent = match pin.table {
        PinTable::ExternalRealms => parsed.get("external-realms"),
        PinTable::Egress => parsed.get("realms").and_then(|r| r.get("egress")),
        PinTable::CallerRealms => parsed.get(CALLER_TABLE),
    };
    // Inline pins, or a parent that is not a header table: toml_edit puts
    // the new key after the last one.
    let inline = parent.is_some_and(|p| {
        !p.is_table()
            || p.as_table().is_some_and(|t| {
                t.is_dotted() || t.iter().any(|(_, child)| child.is_inline_table())
            })
    });
    if inline {
        let mut table = toml_edit::InlineTable::new();
        table.insert("git-repo", pin.repo.as_str().into());
        if let Some(branch) = &pin.branch {
            table.insert("git-branch", branch.as_str().into());
        }
        table.insert("git-commit", pin.commit.as_str().into());
        if let Some(path) = &pin.path {
            table.insert("git-path", path.as_str().into());
        }
        let parent = match pin.table {
            PinTable::ExternalRealms => doc.get_mut("external-realms"),
            PinTable::Egress => doc.get_mut("realms").and_then(|r| r.get_mut("egress")),
            PinTable::CallerRealms => doc.get_mut(CALLER_TABLE),
        };
        let parent = parent
            .and_then(Item::as_table_like_mut)
            .context("internal error: the pin table vanished")?;
        parent.insert(&pin.name, toml_edit::value(table));
        return Ok(());
    }

    // The end of the last header table of the pins (or of their parent).
    let mut last: Option<(usize, usize, &str)> = None; // (header start, end, first key line)
    if let Some(parent) = parent.and_then(Item::as_table) {
        for (_, child) in parent.iter() {
            let Some(t) = child.as_table() else { continue };
            let Some(header) = t.span() else { continue };
            let end = table_end(t).max(header.end);
            if last.is_none_or(|(start, _, _)| header.start > start) {
                let key_line = t
                    .iter()
                    .filter_map(|(k, _)| t.key(k).and_then(|k| k.span()))
                    .min_by_key(|s| s.start)
                    .map_or("", |s| line_at(&text, s.start));
                last = Some((header.start, end, key_line));
            }
        }
        if last.is_none()
            && let Some(header) = parent.span()
        {
            last = Some((header.start, table_end(parent).max(header.end), ""));
        }
    }
    let prefix = pin.table.prefix();
    let (offset, indent, key_indent) = match last {
        Some((start, end, key_line)) => {
            let indent = indentation(line_at(&text, start));
            let key_indent = if key_line.is_empty() {
                indent.to_string()
            } else {
                indentation(key_line).to_string()
            };
            (
                after_attached_comments(&text, line_end(&text, end)),
                indent.to_string(),
                key_indent,
            )
        }
        None => match commented_example(&text, prefix) {
            Some(offset) => (offset, String::new(), String::new()),
            None => (text.len(), String::new(), String::new()),
        },
    };
    let mut table = String::new();
    if offset > 0 && !text[..offset].ends_with('\n') {
        table.push('\n');
    }
    table.push_str(&format!("\n{indent}[{prefix}.{}]\n", pin.name));
    let mut key = |k: &str, v: &str| {
        table.push_str(&format!("{key_indent}{k} = {}\n", toml_string(v)));
    };
    key("git-repo", &pin.repo);
    if let Some(branch) = &pin.branch {
        key("git-branch", branch);
    }
    key("git-commit", &pin.commit);
    if let Some(path) = &pin.path {
        key("git-path", path);
    }
    let rest = &text[offset..];
    if !rest.is_empty() && !rest.starts_with('\n') && !rest.starts_with("\r\n") {
        table.push('\n');
    }
    let new = format!("{}{table}{rest}", &text[..offset]);
    *doc = new
        .parse()
        .context("internal error: a new pin table made the project file invalid")?;
    Ok(())
}

/// The end of the last key or value of a header table (its own, not its
/// subtables').
fn table_end(t: &Table) -> usize {
    t.iter()
        .filter(|(_, item)| !item.is_table())
        .filter_map(|(k, item)| {
            let value = item.as_value().and_then(|v| v.span()).map(|s| s.end);
            let key = t.key(k).and_then(|k| k.span()).map(|s| s.end);
            value.or(key)
        })
        .max()
        .unwrap_or(0)
}

/// The line holding byte `offset`, without its line break.
pub(super) fn line_at(text: &str, offset: usize) -> &str {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |n| n + 1);
    let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
    &text[start..end]
}

fn indentation(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// The offset after the line break of the line holding `offset`.
pub(super) fn line_end(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text[offset..]
        .find('\n')
        .map_or(text.len(), |n| offset + n + 1)
}

/// From the start of a line, past the comment lines that directly follow
/// (no blank line between): they belong to what is above.
fn after_attached_comments(text: &str, mut offset: usize) -> usize {
    while offset < text.len() {
        let line = line_at(text, offset);
        if !line.trim_start().starts_with('#') {
            break;
        }
        offset = line_end(text, offset);
    }
    offset
}

/// The end of the commented-out example pin `# [<prefix>.name]` (with the
/// comment lines below it), as `realm init` writes it.
fn commented_example(text: &str, prefix: &str) -> Option<usize> {
    let mut offset = 0;
    while offset < text.len() {
        let line = line_at(text, offset);
        let next = line_end(text, offset);
        let code = line.trim_start().strip_prefix('#').map(str::trim_start);
        if code.is_some_and(|c| c.starts_with(&format!("[{prefix}."))) {
            return Some(after_attached_comments(text, next));
        }
        offset = next;
    }
    None
}

/// Removes the pin named `name` from whichever table holds it, and the
/// table of pins when it is left empty. Returns whether there was one.
pub fn remove_pin(doc: &mut DocumentMut, name: &str) -> bool {
    let mut removed = false;
    for parent in pin_parents_mut(doc, PinTable::ExternalRealms) {
        removed |= parent.remove(name).is_some();
    }
    if doc
        .get("external-realms")
        .and_then(Item::as_table_like)
        .is_some_and(|t| t.is_empty())
    {
        doc.remove("external-realms");
    }
    if let Some(realms) = doc.get_mut("realms").and_then(Item::as_table_like_mut) {
        if realms
            .get("egress")
            .and_then(Item::as_table_like)
            .is_some_and(|t| t.is_empty())
        {
            realms.remove("egress");
        }
        if realms.is_empty() {
            doc.remove("realms");
        }
    }
    removed
}

/// Removes the caller pin named `name` from `[caller-realms]` of
/// `realm.toml`'s document, and the table when it is left empty. Returns
/// whether there was one.
pub fn remove_caller_pin(doc: &mut DocumentMut, name: &str) -> bool {
    let removed = pin_parents_mut(doc, PinTable::CallerRealms)
        .into_iter()
        .any(|parent| parent.remove(name).is_some());
    if doc
        .get(CALLER_TABLE)
        .and_then(Item::as_table_like)
        .is_some_and(|t| t.is_empty())
    {
        doc.remove(CALLER_TABLE);
    }
    removed
}

/// Sets a string key, keeping the key's decoration (comments, spacing) when
/// it exists.
pub(super) fn set_key(table: &mut dyn TableLike, key: &str, text: &str) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(existing) => {
            let decor = existing.decor().clone();
            *existing = text.into();
            *existing.decor_mut() = decor;
        }
        None => {
            table.insert(key, value(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use super::super::Project;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn pin(name: &str, repo: &str) -> Pin {
        Pin {
            name: name.to_string(),
            repo: repo.to_string(),
            branch: Some("main".to_string()),
            commit: COMMIT.to_string(),
            path: Some("ftl-external-schema.json".to_string()),
            table: PinTable::ExternalRealms,
            pos: None,
        }
    }

    /// `text` with `pin` added, read back.
    fn added(text: &str, pin: &Pin) -> (String, Project) {
        let mut doc: DocumentMut = text.parse().expect("TOML");
        set_pin(&mut doc, pin).expect("set_pin");
        let out = doc.to_string();
        let project =
            Project::parse(Path::new("/p"), out.clone()).unwrap_or_else(|r| panic!("{r}\n{out}"));
        (out, project)
    }

    #[test]
    fn a_new_pin_reads_back_whatever_the_file_looks_like() {
        let existing = format!("git-repo = \"r\"\ngit-commit = \"{COMMIT}\"");
        for text in [
            "name = \"shop\"".to_string(),
            "name = \"shop\"\r\n[commands]\r\nstartup = []\r\n".to_string(),
            format!(
                "name = \"shop\"\nexternal-realms = {{ a = {{ {} }} }}\n",
                existing.replace('\n', ", ")
            ),
            format!(
                "name = \"shop\"\nexternal-realms.a.git-repo = \"r\"\nexternal-realms.a.git-commit = \"{COMMIT}\"\n"
            ),
            "name = \"shop\"\n[external-realms]\n".to_string(),
            format!("name = \"shop\"\n[external-realms.a]\n{existing}"),
        ] {
            let (out, project) = added(&text, &pin("bank", "C:\\repos\\\"bank\""));
            let bank = project
                .pin("bank")
                .unwrap_or_else(|| panic!("no pin in\n{out}"));
            assert_eq!(bank.repo, "C:\\repos\\\"bank\"", "{out}");
            assert_eq!(bank.path.as_deref(), Some("ftl-external-schema.json"));
            // What was there stays (but in an inline table, which grows;
            // toml_edit writes line breaks as `\n`).
            assert!(
                text.contains("external-realms = {")
                    || out.starts_with(&text.trim_end().replace('\r', "")),
                "{out}"
            );
        }
    }

    #[test]
    fn removing_the_last_pin_removes_its_table() {
        let text = format!(
            "name = \"shop\"\n\n[external-realms]\n  [external-realms.a]\n    git-repo = \"r\"\n    git-commit = \"{COMMIT}\"\n"
        );
        let mut doc: DocumentMut = text.parse().expect("TOML");
        assert!(remove_pin(&mut doc, "a"));
        assert_eq!(doc.to_string(), "name = \"shop\"\n");
        assert!(!remove_pin(&mut doc, "a"));
    }

    #[test]
    fn a_caller_pin_goes_below_the_commented_example_of_realm_toml_and_comes_out_again() {
        let template = crate::init::SETTINGS_TEMPLATE;
        let mut doc: DocumentMut = template.parse().expect("TOML");
        let mut shop = pin("shop", "../shop");
        shop.table = PinTable::CallerRealms;
        shop.path = None;
        set_pin(&mut doc, &shop).expect("set_pin");
        let out = doc.to_string();
        let project = Project::parse_with_settings(
            Path::new("/p"),
            "name = \"bank\"\n".to_string(),
            Some(out.clone()),
        )
        .unwrap_or_else(|r| panic!("{r}\n{out}"));
        assert_eq!(project.callers.len(), 1, "{out}");
        assert!(project.pins.is_empty());
        assert!(
            out.contains(&format!(
                "# git-commit = \"aac675450010d2b8fc0528239e49e56fd94b5309\"\n\n[caller-realms.shop]\ngit-repo = \"../shop\"\ngit-branch = \"main\"\ngit-commit = \"{COMMIT}\"\n"
            )),
            "{out}"
        );
        // A pin of a realm called is not touched by a caller edit.
        assert!(!remove_pin(&mut doc, "shop"));
        assert!(remove_caller_pin(&mut doc, "shop"));
        assert!(!doc.to_string().contains("[caller-realms.shop]"));
        assert!(!remove_caller_pin(&mut doc, "shop"));
    }
}
