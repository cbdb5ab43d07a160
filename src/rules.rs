//! The rules `realm` reports, by stable code: one table that `realm explain`
//! prints and SARIF's rule metadata is made from.
//!
//! A code names a rule, not a message: the message says what is wrong in
//! one place, the rule's explanation says what the rule is, why it holds and
//! how to fix what breaks it. `ftl::` codes are rules FTL's own validator
//! enforces too (realm reports them as FTL would refuse or accept them);
//! `realm::` codes are realm's own. A code, once published, keeps its
//! meaning: CI configurations and code-scanning alerts refer to it.
//!
//! Pure data; nothing here does I/O.

/// One rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The stable identifier, e.g. `realm::unexported-type`.
    pub code: &'static str,
    /// One line: what the rule is about.
    pub summary: &'static str,
    /// What it means.
    pub what: &'static str,
    /// Why it holds.
    pub why: &'static str,
    /// How to fix what breaks it.
    pub fix: &'static str,
}

impl Rule {
    /// The explanation `realm explain` prints, as plain text.
    pub fn explanation(&self) -> String {
        format!(
            "{}: {}\n\nWhat it means\n{}\n\nWhy\n{}\n\nHow to fix it\n{}\n",
            self.code, self.summary, self.what, self.why, self.fix
        )
    }
}

macro_rules! rules {
    ($($name:ident = $code:literal {
        summary: $summary:literal,
        what: $what:literal,
        why: $why:literal,
        fix: $fix:literal $(,)?
    })*) => {
        $(pub const $name: &str = $code;)*

        /// Every rule, in the order `realm explain` lists them.
        pub const RULES: &[Rule] = &[$(Rule {
            code: $code,
            summary: $summary,
            what: $what,
            why: $why,
            fix: $fix,
        }),*];
    };
}

rules! {
    SYNTAX = "ftl::syntax" {
        summary: "schema text that does not parse",
        what: "A `.ftl` schema file does not follow FTL's schema grammar (or one of realm's additions to it): a keyword, name, type or bracket is missing or out of place. Parsing stops at the first error of a file.",
        why: "Nothing can be checked, exported or served from text that has no meaning; FTL refuses the same text.",
        fix: "Look at the line and column shown and correct the text there; `realm schema` prints the canonical form of a schema that parses, to compare with.",
    }
    GO_SOURCE = "ftl::go-source" {
        summary: "an FTL Go module realm cannot read as FTL does",
        what: "A Go module under `module-dirs` (a directory with `ftl.toml`) has a declaration, directive (`//ftl:...`) or type that FTL's Go extraction refuses.",
        why: "realm reads Go modules as FTL's `go-runtime/schema` does, so that the schema it exports is the one FTL would deploy.",
        fix: "Change the Go code at the position shown as the message says; `ftl build` reports the same problem.",
    }
    SCHEMA_STRUCTURE = "realm::schema-structure" {
        summary: "realms and modules of the schema as a whole",
        what: "The schema as a whole is not well formed: more than one internal realm, a realm declared twice, a module in the wrong realm, or a declaration at a place it cannot be.",
        why: "A project is exactly one realm (its own) and the external realms it pins; everything else depends on that shape.",
        fix: "Keep one `realm` block with the project's name; write other realms' public APIs as `external realm` or, better, pin them with `realm add`.",
    }
    WRONG_REALM_NAME = "realm::wrong-realm-name" {
        summary: "a schema file declares a realm other than the project's",
        what: "A `.ftl` file under `module-dirs` declares `realm X` where X is not the `name` of ftl-project.toml.",
        why: "Local schema files describe this project's realm; another realm's API comes in through a pin, at a commit.",
        fix: "Rename the block to the project's realm, or write `external realm X` if it is another realm's public API.",
    }
    SYMLINKED_SCHEMA = "realm::symlinked-schema" {
        summary: "a schema file reached through a symbolic link",
        what: "A `.ftl` file or directory under `module-dirs` is a symbolic link; realm does not follow it.",
        why: "A link could lead outside the project, and a schema would then depend on files nobody reviews with it.",
        fix: "Put the file (or directory) itself under the module directory.",
    }
    NAME = "ftl::name" {
        summary: "duplicate, reserved or invalid names",
        what: "A realm, module, declaration, field, variant or type parameter is named twice, shadows a builtin, is a Go keyword, or a `builtin` module is written in text.",
        why: "Generated code (FTL's Go, realm's clients) names things after them; two things of one name, or a keyword, do not compile or are ambiguous. FTL refuses duplicate declarations and reserved words, and accepts duplicate fields (realm warns).",
        fix: "Rename one of the two, or pick a name that is not reserved; the message names the first definition.",
    }
    ENUM = "ftl::enum" {
        summary: "enum variants and their values",
        what: "A value enum has a variant of another type than the enum's, a type enum has no variants or holds a value, or two variants share a value.",
        why: "An enum's variants are what a caller may send; FTL refuses enums whose variants do not fit their type.",
        fix: "Give every variant a value of the enum's type (value enums) or a type (type enums), each value once.",
    }
    UNRESOLVED_REFERENCE = "ftl::unresolved-reference" {
        summary: "a reference that names nothing, or the wrong kind of thing",
        what: "A reference (`module.Name`, `module.Name@realm`, a bare `Name`) names no declaration, names one of the wrong kind (a verb where a type is expected, a topic in `+subscribe`), or gives the wrong number of type arguments.",
        why: "Every reference must mean one declaration, or the schema cannot be exported, generated or checked. FTL refuses unknown references (`unknown reference ..., is the type annotated and exported?`).",
        fix: "Correct the name (the help line suggests a close one), import the realm with `realm add`, or declare what is missing.",
    }
    UNEXPORTED_TYPE = "realm::unexported-type" {
        summary: "a visible declaration uses one that is less visible",
        what: "A declaration is used from where it may not be seen: a private declaration from another module, or an `export realm` declaration (the realm's public API) using a type that is only `export` or private.",
        why: "Other realms pin the public API: everything it refers to must be in it, or their clients would name types they cannot see. FTL checks the same within a realm (`... must have visibility of ...`).",
        fix: "Raise the visibility of the used declaration (`export` or `export realm`), or stop using it from the more visible one.",
    }
    METADATA = "ftl::metadata-placement" {
        summary: "metadata where it does not belong, or that does not fit",
        what: "A `+metadata` line is on a declaration it is not valid on, repeated where it may appear once, or (`+oneof`, `+protobuf`) does not fit the field it is on.",
        why: "Metadata configures runtime behaviour; on the wrong declaration it is refused by FTL or silently has no effect (a warning).",
        fix: "Move or remove the metadata line, as the message says.",
    }
    INGRESS = "ftl::ingress" {
        summary: "FTL's rules for HTTP ingress verbs",
        what: "An `+ingress http` verb has a request or response that is not `builtin.HttpRequest`/`HttpResponse`, a body that does not fit its method, path parameters that do not match, or a route another verb has too.",
        why: "FTL maps HTTP requests onto these types; a mismatch is refused by FTL's validator.",
        fix: "Use the HTTP envelope types with a body that fits the method, and give each route one verb.",
    }
    VERB_EVENTS = "ftl::verb-events" {
        summary: "FTL's rules for cron, retry and subscriptions",
        what: "A `+cron` pattern, `+retry` policy or `+subscribe` does not follow FTL's rules (pattern syntax, backoff bounds, a catch verb of the right type, a subscriber's request of the topic's event type).",
        why: "FTL schedules and delivers these; it refuses what it cannot run.",
        fix: "Correct the metadata as the message says; FTL's documentation of cron, retries and pubsub has the grammar.",
    }
    VERB_RESOURCES = "ftl::verb-resources" {
        summary: "FTL's rules for SQL, databases, transactions and egress",
        what: "A verb's `+database`, `+sql`, `+transaction` or `+egress` metadata does not follow FTL's rules.",
        why: "FTL provisions and injects these resources; it refuses what it cannot provide.",
        fix: "Correct the metadata as the message says.",
    }
    CYCLE = "realm::cycle" {
        summary: "a type or module that contains itself",
        what: "A type alias refers to itself, a data type requires itself (a required field that contains its own type), or modules depend on each other in a circle.",
        why: "No value satisfies a type that requires itself, and a walk over a cyclic alias never ends; FTL refuses module dependency cycles.",
        fix: "Break the cycle: make a field optional (`T?`) or a list, or move the shared declarations into a module both use.",
    }
    UNSAFE_TEXT = "realm::unsafe-text" {
        summary: "comments or strings realm cannot write out safely",
        what: "A doc comment or metadata string holds a line break, a control character or a bidirectional-text character.",
        why: "Generated code and printed schema write these texts out; such characters would break the generated file or hide what it says.",
        fix: "Remove the character from the comment or string.",
    }
    PROJECT_FILE = "realm::project-file" {
        summary: "ftl-project.toml or realm.toml",
        what: "The project files hold a key realm does not know, a setting in an older layout, or a value it reads with a caveat.",
        why: "The project files decide what is pinned and how the ingress runs; a key nobody reads is a setting that silently does nothing.",
        fix: "Change the key as the message says; `realm migrate` moves older layouts.",
    }
    PINNED_REALM = "realm::pinned-realm" {
        summary: "a pinned realm that cannot be read as a public API",
        what: "The schema file a pin names, at its pinned commit, is missing, too large, not one internal realm in FTL's form, or invalid on its own.",
        why: "A pin is exactly what its commit says: realm reads nothing else in its place.",
        fix: "Fix the export in the pinned realm's repository and move the pin with `realm update`, or pin another file with `realm add --git-path`.",
    }
    EXPORT_MISSING = "realm::export-missing" {
        summary: "an export file is missing",
        what: "A file of `[realm] export` (or the usage file, `[realm] usage`) does not exist.",
        why: "Other realms pin the committed export file; without it they cannot pin this realm, and callers' checks have no usage to compare with.",
        fix: "Run `realm export` and commit the file.",
    }
    EXPORT_STALE = "realm::export-stale" {
        summary: "an export file does not match the sources",
        what: "The public API (or the usage) written in an export file differs from what the sources say now.",
        why: "Realms that pin this one read the committed file, not the sources: a stale file publishes an API that is not the one served.",
        fix: "Run `realm export` and commit the file; `realm export --check` shows the diff.",
    }
    PIN_BEHIND = "realm::pin-behind" {
        summary: "a pin is behind its branch",
        what: "A pinned realm's branch has moved on since the commit it is pinned at.",
        why: "A realm pinned at an old commit is built and checked against an API that is no longer served; the later the update, the larger it is.",
        fix: "Run `realm update` (it shows each change, breaking ones flagged) and commit ftl-project.toml and realm.toml.",
    }
    CLIENT_STALE = "realm::client-stale" {
        summary: "generated clients differ from the pinned realms",
        what: "A file `realm generate` wrote is missing, differs from what the pinned public API generates, or is no longer generated.",
        why: "Clients compiled against an old API fail at call time, not at build time.",
        fix: "Run `realm generate <language>` and commit the files; `realm generate --check` shows the diff.",
    }
    BREAKING_CHANGE = "realm::breaking-change" {
        summary: "a breaking change that a pinned caller uses",
        what: "A change of this realm's public API since the base revision breaks something a caller pinned in `[caller-realms]` uses, according to its committed usage file.",
        why: "The caller, at its pinned commit, calls or reads what changed; deployed, its calls would fail.",
        fix: "Keep what callers use (add the new beside the old, remove the old once no caller's pin uses it), or change the callers first and move their pins with `realm update --caller`.",
    }
    CHECK_FAILED = "realm::check-failed" {
        summary: "a check could not run",
        what: "A check stopped before it could decide: a repository could not be fetched, a file could not be read, the schema did not load.",
        why: "A check that did not run says nothing about the project; it fails rather than pass silently.",
        fix: "Read the message: fix the cause (network, cache, files) and run the check again; `--offline` skips the checks that need the network.",
    }
}

/// The rule of a code.
pub fn rule(code: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_namespaced() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.code), "{} twice", r.code);
            let (ns, name) = r.code.split_once("::").expect("a namespace");
            assert!(ns == "realm" || ns == "ftl", "{}", r.code);
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                r.code
            );
        }
    }
}
