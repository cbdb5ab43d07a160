//! The `builtin` module every realm sees without declaring it.
//!
//! It is FTL's builtin module: request and response envelopes for HTTP
//! ingress, the catch and failed-event envelopes, `Empty` and `Ref`.
//! References to it (`builtin.Empty`) resolve in every realm, and it never
//! appears in an exported public API: consumers have it too.

use std::sync::OnceLock;

use super::model::Module;
use super::parser::parse_file;

/// The schema text of the builtin module.
pub const BUILTIN_TEXT: &str = r#"builtin module builtin {
  // Empty is used when a request or response has no body.
  export realm data Empty {
  }

  // Ref is a reference to a declaration in the schema.
  export realm data Ref {
    module String
    name String
  }

  // HttpRequest is the request body of a verb served by an HTTP ingress.
  export realm data HttpRequest<Body, Path, Query> {
    method String
    path String
    pathParameters Path
    query Query
    headers {String: [String]}
    body Body
  }

  // HttpResponse is the response body of a verb served by an HTTP ingress.
  export realm data HttpResponse<Body, Error> {
    status Int
    headers {String: [String]}
    body Body?
    error Error?
  }

  // CatchRequest is the request body of a verb that catches failed calls.
  export realm data CatchRequest<Req> {
    verb builtin.Ref
    request Req
    requestType String
    error String
  }

  // FailedEvent is published to a dead-letter topic when a subscriber fails.
  export realm data FailedEvent<Event> {
    event Event
    error String
  }
}
"#;

/// The builtin module, parsed once.
pub fn builtin_module() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| {
        let mut file = parse_file("<builtin>", BUILTIN_TEXT)
            .unwrap_or_else(|d| panic!("the builtin module does not parse: {d}"));
        file.modules.remove(0)
    })
}
