//! FTL's names for Go identifiers: `UserID` → `userId` (fields, verbs,
//! configs, secrets, topics) and `UserID` → `UserId` (data, enums, type
//! aliases, enum variants).
//!
//! This is FTL's `strcase` (after fatih/camelcase): a word is split where
//! the character class (lower, upper, digit, other) changes, an upper-case
//! run followed by lower case gives its last letter to the next word
//! (`PDFLoader` → `PDF`, `Loader`), and each word is title-cased, so
//! initialisms lose their capitals (`HTTPServer` → `httpServer`). Pure
//! string functions; nothing here knows about Go syntax.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Lower,
    Upper,
    Digit,
    Other,
}

fn class(c: char) -> Class {
    if c.is_lowercase() {
        Class::Lower
    } else if c.is_uppercase() {
        Class::Upper
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Other
    }
}

/// Splits a camel-case identifier into words as FTL does:
/// `SimpleXMLParser` → `Simple`, `XML`, `Parser`; `snake_case` → `snake`,
/// `_`, `case`.
pub fn split(s: &str) -> Vec<String> {
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = None;
    for c in s.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if last == Some(k) => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = Some(k);
    }
    // "PDFL" + "oader" → "PDF" + "Loader"
    for i in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[i].first().is_some_and(|c| c.is_uppercase())
            && runs[i + 1].first().is_some_and(|c| c.is_lowercase());
        if upper_then_lower && let Some(c) = runs[i].pop() {
            runs[i + 1].insert(0, c);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

fn title(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// The words of an ASCII identifier as byte ranges: [`split`] without
/// allocating a vector per word (names are converted by the hundred
/// thousand in a large project).
fn ascii_words(s: &str) -> Vec<std::ops::Range<usize>> {
    let b = s.as_bytes();
    let class = |c: u8| match c {
        b'a'..=b'z' => 0,
        b'A'..=b'Z' => 1,
        b'0'..=b'9' => 2,
        _ => 3,
    };
    let mut words: Vec<std::ops::Range<usize>> = Vec::with_capacity(4);
    for (i, &c) in b.iter().enumerate() {
        match words.last_mut() {
            Some(w) if class(b[w.end - 1]) == class(c) => w.end = i + 1,
            _ => words.push(i..i + 1),
        }
    }
    // "PDFL" + "oader" → "PDF" + "Loader"
    for i in 0..words.len().saturating_sub(1) {
        if b[words[i].start].is_ascii_uppercase() && b[words[i + 1].start].is_ascii_lowercase() {
            words[i].end -= 1;
            words[i + 1].start -= 1;
        }
    }
    words.retain(|w| !w.is_empty());
    words
}

fn camel(s: &str, upper_first: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, w) in ascii_words(s).into_iter().enumerate() {
        let word = &s[w];
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i == 0 && !upper_first {
                out.push(first.to_ascii_lowercase());
            } else {
                out.push(first.to_ascii_uppercase());
            }
        }
        out.extend(chars.map(|c| c.to_ascii_lowercase()));
    }
    out
}

/// `UserID` → `userId`, `HTTPServer` → `httpServer`, `Name` → `name`.
pub fn lower_camel(s: &str) -> String {
    if s.is_ascii() {
        return camel(s, false);
    }
    let words = split(s);
    let mut out = String::with_capacity(s.len());
    for (i, word) in words.iter().enumerate() {
        if i == 0 {
            out.extend(word.chars().flat_map(char::to_lowercase));
        } else {
            out.push_str(&title(word));
        }
    }
    out
}

/// `UserID` → `UserId`, `HTML` → `Html`, `payload` → `Payload`.
pub fn upper_camel(s: &str) -> String {
    if s.is_ascii() {
        return camel(s, true);
    }
    split(s).iter().map(|w| title(w)).collect()
}

/// Go's `strings.Title` of one word as FTL's templates use it for generated
/// names (`testdb` → `Testdb` in `TestdbHandle`).
pub fn title_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Whether a name is an identifier schema text accepts:
/// `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_schema_ident(s: &str) -> bool {
    crate::schema::is_ident(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_ftl() {
        for (input, want) in [
            ("lowercase", vec!["lowercase"]),
            ("MyClass", vec!["My", "Class"]),
            ("MyC", vec!["My", "C"]),
            ("HTML", vec!["HTML"]),
            ("PDFLoader", vec!["PDF", "Loader"]),
            ("AString", vec!["A", "String"]),
            ("SimpleXMLParser", vec!["Simple", "XML", "Parser"]),
            ("vimRPCPlugin", vec!["vim", "RPC", "Plugin"]),
            ("GL11Version", vec!["GL", "11", "Version"]),
            ("BFG9000", vec!["BFG", "9000"]),
            ("snake_case", vec!["snake", "_", "case"]),
            ("", vec![]),
        ] {
            assert_eq!(split(input), want, "{input}");
        }
    }

    #[test]
    fn lower_and_upper_camel_like_ftl() {
        for (input, lower, upper) in [
            ("UserID", "userId", "UserId"),
            ("Class", "class", "Class"),
            ("HTML", "html", "Html"),
            ("PDFLoader", "pdfLoader", "PdfLoader"),
            ("AString", "aString", "AString"),
            ("SimpleXMLParser", "simpleXmlParser", "SimpleXmlParser"),
            ("vimRPCPlugin", "vimRpcPlugin", "VimRpcPlugin"),
            ("GL11Version", "gl11Version", "Gl11Version"),
            ("May5", "may5", "May5"),
            ("BFG9000", "bfg9000", "Bfg9000"),
            ("snake_case", "snake_Case", "Snake_Case"),
            ("EchoClient", "echoClient", "EchoClient"),
            ("BöseÜberraschung", "böseÜberraschung", "BöseÜberraschung"),
            ("x", "x", "X"),
            ("", "", ""),
        ] {
            assert_eq!(lower_camel(input), lower, "lower {input}");
            assert_eq!(upper_camel(input), upper, "upper {input}");
        }
    }

    #[test]
    fn schema_identifiers_are_ascii() {
        assert!(is_schema_ident("userId"));
        assert!(is_schema_ident("_x1"));
        assert!(!is_schema_ident("1x"));
        assert!(!is_schema_ident("böse"));
        assert!(!is_schema_ident(""));
    }
}
