//! Loop prevention: the `x-realm-via` header lists, in order, the realms a
//! call has crossed (`shop, hub`). An ingress refuses a call that already
//! crossed its realm, that would go on to a realm it already crossed, or
//! that would cross more realms than the hop limit (default 8).
//!
//! Pure: parses and checks header values, no I/O.

use crate::schema::is_ident;

/// The realms a call crossed.
pub const VIA: http::HeaderName = http::HeaderName::from_static("x-realm-via");

/// The hop limit when `[ingress] max-hops` does not set one.
pub const DEFAULT_MAX_HOPS: u32 = 8;

/// The realms of a `x-realm-via` value, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Via(Vec<String>);

/// Why a call may not go on.
#[derive(Debug, PartialEq, Eq)]
pub enum HopError {
    /// The header is not a comma-separated list of realm names.
    Malformed(String),
    /// The call would cross `realm` a second time.
    Loop { realm: String, via: String },
    /// The call would cross more than `limit` realms.
    TooManyHops { limit: u32, via: String },
}

impl std::fmt::Display for HopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HopError::Malformed(value) => write!(
                f,
                "the {VIA} header {value:?} is not a comma-separated list of realm names"
            ),
            HopError::Loop { realm, via } => write!(
                f,
                "the call would cross realm `{realm}` twice (it came via {via}): the realms' endpoints form a loop"
            ),
            HopError::TooManyHops { limit, via } => write!(
                f,
                "the call would cross more than {limit} realms (it came via {via}): the hop limit is `[ingress] max-hops`"
            ),
        }
    }
}

impl HopError {
    pub fn code(&self) -> &'static str {
        match self {
            HopError::Malformed(_) => "malformed_via",
            HopError::Loop { .. } => "loop",
            HopError::TooManyHops { .. } => "too_many_hops",
        }
    }
}

impl Via {
    /// Parses a header value; an absent or empty header is no realms.
    pub fn parse(value: Option<&[u8]>) -> Result<Via, HopError> {
        let Some(bytes) = value else {
            return Ok(Via::default());
        };
        let malformed = || HopError::Malformed(String::from_utf8_lossy(bytes).into_owned());
        let text = std::str::from_utf8(bytes).map_err(|_| malformed())?;
        if text.trim().is_empty() {
            return Ok(Via::default());
        }
        let realms: Vec<String> = text.split(',').map(|r| r.trim().to_string()).collect();
        if realms.len() > 64 || !realms.iter().all(|r| is_ident(r)) {
            return Err(malformed());
        }
        Ok(Via(realms))
    }

    pub fn realms(&self) -> &[String] {
        &self.0
    }

    /// The realm the call started in.
    pub fn origin(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }

    /// The realm that sent the call to this one.
    pub fn last(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// The realms before the one that sent the call to this one: what that
    /// realm says about where the call has been.
    pub fn earlier(&self) -> &[String] {
        self.0.split_last().map_or(&[], |(_, earlier)| earlier)
    }

    pub fn contains(&self, realm: &str) -> bool {
        self.0.iter().any(|r| r == realm)
    }

    /// Checks that a call arriving at realm `here` may be served:
    /// `here` is not in the list and crossing it stays within `limit`.
    pub fn arrive(&self, here: &str, limit: u32) -> Result<(), HopError> {
        if self.contains(here) {
            return Err(HopError::Loop {
                realm: here.to_string(),
                via: self.to_string(),
            });
        }
        if self.0.len() as u64 + 1 > u64::from(limit) {
            return Err(HopError::TooManyHops {
                limit,
                via: self.to_string(),
            });
        }
        Ok(())
    }

    /// The list to send on from realm `here` to realm `next`: refused when
    /// `next` was crossed already or the hop limit would be passed.
    pub fn forward(&self, here: &str, next: &str, limit: u32) -> Result<Via, HopError> {
        let mut on = self.0.clone();
        on.push(here.to_string());
        let on = Via(on);
        if on.contains(next) {
            return Err(HopError::Loop {
                realm: next.to_string(),
                via: on.to_string(),
            });
        }
        if on.0.len() as u64 + 1 > u64::from(limit) {
            return Err(HopError::TooManyHops {
                limit,
                via: on.to_string(),
            });
        }
        Ok(on)
    }
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(s: &str) -> Via {
        Via::parse(Some(s.as_bytes())).expect("valid via")
    }

    #[test]
    fn parses_lists_of_realm_names() {
        assert_eq!(Via::parse(None), Ok(Via::default()));
        assert_eq!(via(" shop ,hub").realms(), ["shop", "hub"]);
        assert_eq!(via("shop, hub").origin(), Some("shop"));
        assert_eq!(via("shop, hub").last(), Some("hub"));
        assert_eq!(via("crm, shop, hub").earlier(), ["crm", "shop"]);
        assert!(via("hub").earlier().is_empty());
        assert!(Via::default().earlier().is_empty());
        assert!(matches!(
            Via::parse(Some(b"shop,,hub")),
            Err(HopError::Malformed(_))
        ));
        assert!(matches!(
            Via::parse(Some(b"shop;rm -rf")),
            Err(HopError::Malformed(_))
        ));
    }

    #[test]
    fn refuses_revisits_and_too_many_hops() {
        assert_eq!(via("shop, hub").arrive("bank", 8), Ok(()));
        assert_eq!(
            via("shop, bank, hub")
                .arrive("bank", 8)
                .map_err(|e| e.code()),
            Err("loop")
        );
        assert_eq!(
            via("a, b, c").arrive("d", 3).map_err(|e| e.code()),
            Err("too_many_hops")
        );
        assert_eq!(via("a, b").arrive("d", 3), Ok(()));
        assert_eq!(
            via("shop").forward("hub", "shop", 8).map_err(|e| e.code()),
            Err("loop")
        );
        let on = via("shop").forward("hub", "bank", 8).expect("forward");
        assert_eq!(on.to_string(), "shop, hub");
        assert_eq!(
            via("a, b").forward("c", "d", 3).map_err(|e| e.code()),
            Err("too_many_hops")
        );
    }
}
