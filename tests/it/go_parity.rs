//! Parity with FTL's own Go extractor tests: `tests/go/parity` holds Go
//! modules written anew with the constructs of the `one`, `two`, `named`
//! and `namedext` modules of FTL's `go-runtime/schema/testdata`, and each
//! test compares what `realm schema` prints for a module with the schema
//! FTL's integration test (`schema_integration_test.go`) expects of it —
//! the text FTL's test holds, compared as FTL compares it (every line
//! trimmed) — not with a snapshot of realm's own output.
//!
//! Where realm differs from FTL on purpose (docs/decisions.md, "Go modules
//! are read as FTL reads them"), the expected text is changed by a
//! replacement that names the difference; nothing else is.

use std::sync::OnceLock;

use crate::common::TestProject;

/// `realm schema` of the parity project, once for all tests.
fn schema() -> &'static str {
    static SCHEMA: OnceLock<String> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let project = TestProject::go("parity");
        let run = project.realm(&["schema"]).expect(0);
        assert_eq!(run.stderr, "", "warnings or errors");
        run.stdout
    })
}

/// The block `module <name> { ... }` of a printed realm.
fn module_block(schema: &str, name: &str) -> String {
    let start = format!("  module {name} {{");
    let mut lines = schema.lines().skip_while(|l| *l != start);
    let mut out = Vec::new();
    for line in lines.by_ref() {
        out.push(line);
        if line == "  }" {
            break;
        }
    }
    assert!(!out.is_empty(), "no module {name} in:\n{schema}");
    out.join("\n")
}

/// FTL's `normaliseString`: every line trimmed, and the whole.
fn normalise(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn check(module: &str, expected: &str) {
    let actual = module_block(schema(), module);
    let (actual, expected) = (normalise(&actual), normalise(expected));
    if actual != expected {
        let diff = similar::TextDiff::from_lines(&expected, &actual)
            .unified_diff()
            .header("FTL expects", "realm extracts")
            .to_string();
        panic!("module {module} differs from what FTL expects:\n{diff}");
    }
}

/// FTL's `testExtractModuleSchemaTwo`.
#[test]
fn two_as_ftl_extracts_it() {
    let expected = r#"module two {
			typealias BackoffAlias Any
        		+typemap go "github.com/jpillora/backoff.Backoff"
			typealias ExplicitAliasAlias Any
				+typemap kotlin "com.foo.bar.NonFTLType"
				+typemap go "github.com/block/ftl/go-runtime/schema/testdata.lib.NonFTLType"
			typealias ExplicitAliasType Any
				+typemap kotlin "com.foo.bar.NonFTLType"
				+typemap go "github.com/block/ftl/go-runtime/schema/testdata.lib.NonFTLType"
			typealias PaymentState String
			typealias TransitiveAliasAlias Any
				+typemap go "github.com/block/ftl/go-runtime/schema/testdata.lib.NonFTLType"
			typealias TransitiveAliasType Any
				+typemap go "github.com/block/ftl/go-runtime/schema/testdata.lib.NonFTLType"

			enum PayinState: two.PaymentState {
			  PayinPending = "PAYIN_PENDING"
			}

			enum PayoutState: two.PaymentState {
			  PayoutPending = "PAYOUT_PENDING"
			}

			export enum TwoEnum: String {
			  Blue = "Blue"
			  Green = "Green"
			  Red = "Red"
	        }

	        export enum TypeEnum {
			  Exported two.Exported
			  List [String]
			  Scalar String
			  WithoutDirective two.WithoutDirective
			}

			export data Exported {
			}

			data NonFtlField {
			  explicitType two.ExplicitAliasType
			  explicitAlias two.ExplicitAliasAlias
			  transitiveType two.TransitiveAliasType
			  transitiveAlias two.TransitiveAliasAlias
			}

			export data Payload<T> {
			  body T
			}

			data Payment {
			  in two.PayinState
			  out two.PayoutState
			}

			export data PostRequest {
			  userId Int
			  postId Int
			}

			export data PostResponse {
			  success Bool
			}

			export data User {
			  name String
			}

			export data UserResponse {
			  user two.User
			}

			export data WithoutDirective {
			}

			export verb callsTwo(two.Payload<String>) two.Payload<String>
				+calls two.two

			export verb callsTwoAndThree(two.Payload<String>) two.Payload<String>
				+calls two.two, two.three

			export verb ingress(builtin.HttpRequest<two.PostRequest, Unit, Unit>) builtin.HttpResponse<two.PostResponse, String>
				+ingress http POST /users
				+encoding json lenient

			export verb returnsUser(Unit) two.UserResponse

			export verb three(two.Payload<String>) two.Payload<String>

			export verb two(two.Payload<String>) two.Payload<String>
		  }
	"#;
    // The transitive aliases of `lib.NonFTLType` are named with the
    // package clause `lib` (the package at `.../testdata` says `package
    // lib`), which realm, reading no source of other packages, learns from
    // the module's explicit `//ftl:typemap go` of the same package.
    let expected = normalise(expected)
        // A value enum over a named string type is `: String` in realm's
        // schema (FTL writes the named type).
        .replace(
            "enum PayinState: two.PaymentState",
            "enum PayinState: String",
        )
        .replace(
            "enum PayoutState: two.PaymentState",
            "enum PayoutState: String",
        );
    check("two", &expected);
}

/// FTL's `testExtractModuleSchemaNamedTypes`.
#[test]
fn named_as_ftl_extracts_it() {
    check(
        "named",
        r#"module named {
		typealias DoubleAliasedUser named.InternalUser
		// ID testing if typealias before struct works
		export typealias Id String
		typealias InternalUser named.User
		// Name testing if typealias after struct works
		export typealias Name String

		// UserSource, testing that defining an enum after struct works
		export enum UserSource: String {
			Ad = "ad"
			Friend = "friend"
			Magazine = "magazine"
		}

		// UserState, testing that defining an enum before struct works
		export enum UserState: String {
			Active = "active"
			Inactive = "inactive"
			// Out of order
			Onboarded = "onboarded"
			Registered = "registered"
		}

		export data User {
			id named.Id
			name named.Name
			state named.UserState
			source named.UserSource
			comment namedext.Comment
			emailConsent namedext.EmailConsent
		}

		verb pingInternalUser(named.InternalUser) Unit

		verb pingUser(named.User) Unit
	}
	"#,
    );
}

/// FTL's `testExtractModuleSchema`.
#[test]
fn one_as_ftl_extracts_it() {
    check(
        "one",
        r#"module one {
  config configValue one.Config
  secret secretValue String

  enum Animal {
    Dog one.Dog
    Lion one.Lion
  }

  export enum BlobOrList {
    Blob String
    List [String]
  }

  export enum Color: String {
    Blue = "Blue"
    Green = "Green"
    Red = "Red"
    Yellow = "Yellow"
  }

  // Comments about ColorInt.
  enum ColorInt: Int {
    BlueInt = 1
    // GreenInt is also a color.
    GreenInt = 2
    // RedInt is a color.
    RedInt = 0
    YellowInt = 3
  }

  enum IotaExpr: Int {
    First = 1
    Second = 3
    Third = 5
  }

  enum Pet {
    Cat one.Cat
    Dog one.Dog
  }

  enum PrivateEnum {
    ExportedStruct one.ExportedStruct
    PrivateStruct one.PrivateStruct
    WithoutDirectiveStruct one.WithoutDirectiveStruct
  }

  enum SimpleIota: Int {
    One = 1
    Two = 2
    Zero = 0
  }

  enum TypeEnum {
    AliasedStruct one.UnderlyingStruct
    InlineStruct one.InlineStruct
    Option String?
    ValueEnum one.ColorInt
  }

  data Cat {
  }

  data Config {
    field String
  }

  data DataWithType<T> {
    value T
  }

  data Dog {
  }

  export data ExportedData {
    field String
  }

  export data ExportedStruct {
  }

  data InlineStruct {
  }

  data Lion {
  }

  export data Nested {
  }

  data PrivateStruct {
  }

  export data Req {
    int Int
    float Float
    string String
    slice [String]
    map {String: String}
    nested one.Nested
    optional one.Nested?
    time Time
    user two.User +alias json "u"
    bytes Bytes
    localValueEnumRef one.Color
    localTypeEnumRef one.BlobOrList
    externalValueEnumRef two.TwoEnum
    externalTypeEnumRef two.TypeEnum
  }

  export data Resp {
  }

  data SinkReq {
  }

  data SourceResp {
  }

  data UnderlyingStruct {
  }

  data WithoutDirectiveStruct {
  }

  verb batchStringToTime([String]) [Time]

  verb fixture(Unit) Unit
    +fixture

  export verb http(builtin.HttpRequest<Unit, Unit, one.Req>) builtin.HttpResponse<one.Resp, Unit>
    +ingress http GET /get

  export verb nothing(Unit) Unit

  export realm verb realmPublic(Unit) Unit

  verb sink(one.SinkReq) Unit

  verb source(Unit) one.SourceResp

  verb stringToTime(String) Time

  verb verb(one.Req) one.Resp
}
"#,
    );
}
