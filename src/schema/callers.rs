//! Which breaking changes to this realm's public API break a realm that
//! calls it: the callee's side of a two-way pin (issue 27).
//!
//! Fed the changes between the public API callers were written against and
//! the current one ([`super::diff`]) and what each caller uses of this realm
//! ([`super::usage`], read from the caller's usage file at its pinned
//! commit), [`classify`] splits the breaking changes into
//! - **used**: the caller uses the declaration, and — for a change to one
//!   field or variant — the member too (it is in the caller's `fields` or
//!   `variants`: the caller's pinned version has it). A required field added
//!   to a request the caller uses, or one of its fields made required (or
//!   retyped to a required type), breaks it whatever fields it knows. Each
//!   use names the caller and its file:line:col (its own references to the
//!   declaration, else those of the declarations it is reached through);
//! - **safe**: nobody uses what changed.
//!
//! Compatible changes are neither. Pure: no I/O.

use std::fmt;

use super::diff::{Change, Member, Severity};
use super::usage::{Usage, UsePos};

/// What one caller uses of this realm.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// The caller's realm name.
    pub name: &'a str,
    /// Its usage of this realm.
    pub usage: &'a Usage,
}

/// The breaking changes, split by whether a caller uses what changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Classified {
    /// Breaking changes some caller uses, in the order of the changes.
    pub used: Vec<UsedChange>,
    /// Breaking changes no caller uses, in the order of the changes.
    pub safe: Vec<Change>,
}

/// A breaking change and the callers it breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsedChange {
    pub change: Change,
    /// In the order the callers were given.
    pub callers: Vec<CallerUse>,
}

/// Where one caller uses a changed declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerUse {
    pub caller: String,
    /// Sorted; empty when the caller's file has no positions.
    pub positions: Vec<UsePos>,
}

impl Classified {
    /// Whether a change breaks a caller (`realm check-callers` fails).
    pub fn breaks_a_caller(&self) -> bool {
        !self.used.is_empty()
    }
}

/// Splits the breaking `changes` by whether any of `callers` uses what
/// changed (see the module's documentation).
pub fn classify(changes: &[Change], callers: &[Caller]) -> Classified {
    let mut out = Classified::default();
    for change in changes.iter().filter(|c| c.severity == Severity::Breaking) {
        let uses: Vec<CallerUse> = callers
            .iter()
            .filter_map(|caller| {
                let decl = caller.usage.decl(&change.decl)?;
                let uses_member = match &change.member {
                    None | Some(Member::NewField(_) | Member::Required(_)) => true,
                    Some(Member::Field(field)) => decl.fields.contains(field),
                    Some(Member::Variant(variant)) => decl.variants.contains(variant),
                };
                uses_member.then(|| CallerUse {
                    caller: caller.name.to_string(),
                    positions: caller.usage.positions(decl),
                })
            })
            .collect();
        if uses.is_empty() {
            out.safe.push(change.clone());
        } else {
            out.used.push(UsedChange {
                change: change.clone(),
                callers: uses,
            });
        }
    }
    out
}

impl fmt::Display for CallerUse {
    /// `shop (modules/checkout.ftl:5:12, modules/checkout.ftl:30:17)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.caller)?;
        if !self.positions.is_empty() {
            let at: Vec<String> = self.positions.iter().map(ToString::to_string).collect();
            write!(f, " ({})", at.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for UsedChange {
    /// `balance.withdraw: verb removed — used by shop (modules/checkout.ftl:5:12)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by: Vec<String> = self.callers.iter().map(ToString::to_string).collect();
        write!(f, "{} — used by {}", self.change, by.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::diff::diff;
    use crate::schema::usage::usage;
    use crate::schema::{Realm, Schema, parse_schema};

    /// The bank as callers pinned it; each case edits it.
    const BANK: &str = "external realm bank {
  module balance {
    export realm verb withdraw(balance.WithdrawRequest) balance.WithdrawResponse
    export realm verb account(balance.AccountRequest) balance.Account
    export realm data WithdrawRequest {
      account String
      memo String?
    }
    export realm data WithdrawResponse {
      balance Int
      currency balance.Currency
    }
    export realm data AccountRequest {
      id String
      hint String?
    }
    export realm data Account {
      id String
      tier balance.Tier
    }
    export realm enum Currency: String {
      Eur = \"EUR\"
      Usd = \"USD\"
    }
    export realm enum Tier: Int {
      Basic = 0
      Gold = 1
    }
  }
}
";

    /// The shop calls `withdraw` only.
    const SHOP: &str = "realm shop {
  module checkout {
    export realm verb pay(Unit) Unit
      +calls balance.withdraw@bank
  }
}
";

    fn parse(text: &str) -> Schema {
        parse_schema("checkout.ftl", text).unwrap_or_else(|d| panic!("{d}\n{text}"))
    }

    /// The caller's schema (in `checkout.ftl`) with the bank it pinned.
    fn with_bank(pinned: &str, caller: &str) -> Schema {
        let mut schema = parse(caller);
        schema.realms.insert(0, bank(pinned));
        schema
    }

    fn bank(text: &str) -> Realm {
        parse(text).realms.remove(0)
    }

    /// The classification of `old` → `new` against the shop's usage of
    /// `pinned`, as `used|safe decl: message [callers]` lines.
    fn check_against(pinned: &str, old: &str, new: &str) -> Vec<String> {
        let file = usage(&with_bank(pinned, SHOP));
        let shop = file.realm("bank").expect("the shop uses the bank");
        let callers = [Caller {
            name: "shop",
            usage: shop,
        }];
        let classified = classify(&diff(&bank(old), &bank(new)), &callers);
        classified
            .used
            .iter()
            .map(|u| format!("used {u}"))
            .chain(classified.safe.iter().map(|c| format!("safe {c}")))
            .collect()
    }

    fn check(new: &str) -> Vec<String> {
        check_against(BANK, BANK, new)
    }

    fn edit(from: &str, to: &str) -> String {
        assert!(BANK.contains(from), "{from}");
        BANK.replacen(from, to, 1)
    }

    const AT: &str = "shop (checkout.ftl:4:14)";

    #[test]
    fn removed_verb() {
        let used = edit(
            "    export realm verb withdraw(balance.WithdrawRequest) balance.WithdrawResponse\n",
            "",
        );
        assert_eq!(
            check(&used),
            [format!(
                "used balance.withdraw: verb removed — used by {AT}"
            )]
        );
        let unused = edit(
            "    export realm verb account(balance.AccountRequest) balance.Account\n",
            "",
        );
        assert_eq!(check(&unused), ["safe balance.account: verb removed"]);
    }

    #[test]
    fn renamed_verb() {
        let used = edit("verb withdraw(", "verb take(");
        assert_eq!(
            check(&used),
            [format!(
                "used balance.withdraw: verb removed — used by {AT}"
            )]
        );
        let unused = edit("verb account(", "verb lookup(");
        assert_eq!(check(&unused), ["safe balance.account: verb removed"]);
    }

    #[test]
    fn retyped_verb() {
        let used = edit(
            "withdraw(balance.WithdrawRequest) balance.WithdrawResponse",
            "withdraw(balance.WithdrawRequest) balance.Account",
        );
        assert_eq!(
            check(&used),
            [format!(
                "used balance.withdraw: response changed from balance.WithdrawResponse to balance.Account — used by {AT}"
            )]
        );
        let unused = edit(
            "account(balance.AccountRequest)",
            "account(balance.WithdrawRequest)",
        );
        assert_eq!(
            check(&unused),
            [
                "safe balance.account: request changed from balance.AccountRequest to balance.WithdrawRequest"
            ]
        );
    }

    #[test]
    fn field_made_required() {
        let used = edit("memo String?", "memo String");
        assert_eq!(
            check(&used),
            [format!(
                "used balance.WithdrawRequest: field `memo` became required in a request — used by {AT}"
            )]
        );
        let unused = edit("hint String?", "hint String");
        assert_eq!(
            check(&unused),
            ["safe balance.AccountRequest: field `hint` became required in a request"]
        );
    }

    #[test]
    fn enum_variant_removed() {
        let used = edit("      Usd = \"USD\"\n", "");
        assert_eq!(
            check(&used),
            [format!(
                "used balance.Currency: variant `Usd` removed — used by {AT}"
            )]
        );
        let unused = edit("      Gold = 1\n", "");
        assert_eq!(
            check(&unused),
            ["safe balance.Tier: variant `Gold` removed"]
        );
    }

    #[test]
    fn a_required_field_added_to_a_used_request_breaks_the_caller() {
        let new = edit(
            "      memo String?\n",
            "      memo String?\n      code Int\n",
        );
        assert_eq!(
            check(&new),
            [format!(
                "used balance.WithdrawRequest: required field `code` added to a request — used by {AT}"
            )]
        );
    }

    #[test]
    fn a_member_the_callers_pinned_version_lacks_is_safe() {
        // The shop pinned the bank before `memo` and `Usd`; the bank added
        // them since, and now drops them again.
        let pinned =
            BANK.replacen("      memo String?\n", "", 1)
                .replacen("      Usd = \"USD\"\n", "", 1);
        let dropped = pinned.clone();
        assert_eq!(
            check_against(&pinned, BANK, &dropped),
            [
                "safe balance.WithdrawRequest: field `memo` removed",
                "safe balance.Currency: variant `Usd` removed",
            ]
        );
        // A field it has is used.
        let retyped = BANK.replacen("      balance Int\n", "      balance Float\n", 1);
        assert_eq!(
            check_against(&pinned, BANK, &retyped),
            [format!(
                "used balance.WithdrawResponse: field `balance` changed type from Int to Float — used by {AT}"
            )]
        );
    }

    #[test]
    fn a_field_the_callers_pinned_version_lacks_made_required_breaks_it() {
        // The shop pinned the bank before `memo`: it never sends one. The
        // bank added it (optional) since, and now requires it.
        let pinned = BANK.replacen("      memo String?\n", "", 1);
        let required = BANK.replacen("memo String?", "memo String", 1);
        assert_eq!(
            check_against(&pinned, BANK, &required),
            [format!(
                "used balance.WithdrawRequest: field `memo` became required in a request — used by {AT}"
            )]
        );
        // Retyped to a required type, likewise; to an optional one, safe.
        let retyped = BANK.replacen("memo String?", "memo Int", 1);
        assert_eq!(
            check_against(&pinned, BANK, &retyped),
            [format!(
                "used balance.WithdrawRequest: field `memo` changed type from String? to Int — used by {AT}"
            )]
        );
        let optional = BANK.replacen("memo String?", "memo Int?", 1);
        assert_eq!(
            check_against(&pinned, BANK, &optional),
            ["safe balance.WithdrawRequest: field `memo` changed type from String? to Int?"]
        );
    }

    #[test]
    fn every_caller_that_uses_a_change_is_named_and_compatible_changes_are_neither() {
        let shop = usage(&with_bank(BANK, SHOP));
        let cafe_text = "realm cafe {
  module till {
    data Seen {
      account balance.Account@bank
    }
    export realm verb pay(Unit) Unit
      +calls balance.withdraw@bank
  }
}
";
        let cafe = usage(&with_bank(BANK, cafe_text));
        let callers = [
            Caller {
                name: "shop",
                usage: shop.realm("bank").unwrap(),
            },
            Caller {
                name: "cafe",
                usage: cafe.realm("bank").unwrap(),
            },
        ];
        let new = edit("verb withdraw(", "verb take(").replacen(
            "      Gold = 1\n",
            "      Gold = 1\n      Platinum = 2\n",
            1,
        );
        let classified = classify(&diff(&bank(BANK), &bank(&new)), &callers);
        assert!(classified.breaks_a_caller());
        assert!(classified.safe.is_empty());
        assert_eq!(
            classified
                .used
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "balance.withdraw: verb removed — used by shop (checkout.ftl:4:14); cafe (checkout.ftl:7:14)"
            ]
        );
        let nothing = classify(&diff(&bank(BANK), &bank(BANK)), &callers);
        assert!(!nothing.breaks_a_caller());
        assert_eq!(nothing, Classified::default());
    }
}
