//! Who may make a call: from what the call proves (a verified signature,
//! a client certificate, the realms it crossed, the client's address) and
//! this ingress's policy, the calling realm or a refusal.
//!
//! Pure: no I/O, no clock, no keys. Checking a signature (crypto, the
//! nonce cache, the time) happens before, in [`super::auth`]; this module
//! only decides. It must never read headers or configuration itself.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use http::StatusCode;

use super::hops::{VIA, Via};
use super::reply::Refusal;
use crate::project::UnsignedEgress;

/// The realm that sent a call, when it proved it; `None` for a call that
/// is not authenticated (and is allowed all the same).
pub type Caller = Option<String>;

/// What this ingress requires of callers.
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    /// This realm.
    pub realm: &'a str,
    /// Calls must be authenticated: the ingress has keys or checks client
    /// certificates.
    pub required: bool,
    /// Realms whose CA is configured here: they must present a certificate.
    pub peer_cas: &'a HashSet<String>,
    /// `[ingress] relay`: signed calls of other realms may go on to others.
    pub relay: bool,
    /// `[ingress] unsigned-egress`: who may send unsigned calls onwards.
    pub unsigned_egress: UnsignedEgress,
    /// `[ingress] hub`: the one realm trusted to relay calls of other
    /// realms here, so the one whose calls may name realms before it in
    /// `x-realm-via`.
    pub hub: Option<&'a str>,
}

/// What a call shows about its sender.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The realm whose signature the call carries, verified.
    pub signed: Option<&'a str>,
    /// The call carries a signature header (verified or not).
    pub signature_header: bool,
    /// The realms whose CA verified the client's certificate.
    pub certified: &'a [String],
    /// The realms the call crossed (`x-realm-via`).
    pub via: &'a Via,
    /// The first realm of `via` signed the call too (RFC 9421, its
    /// signature relayed beside the sender's, both verified): the realms
    /// before the sender are proven, not the sender's word.
    pub origin_proven: bool,
    /// The call is for this realm (not to be forwarded).
    pub local: bool,
    /// The client's address.
    pub peer: Option<SocketAddr>,
}

/// Decides who sent a call and whether it may go where it asks.
pub fn authorize(policy: &Policy<'_>, facts: &Facts<'_>) -> Result<Caller, Refusal> {
    permit(policy, facts, identify(policy, facts)?)
}

/// Whether the call of `caller` (as [`identify`] found it) may go where it
/// asks. Separate from [`identify`] so that a refused call still names the
/// realm that proved it sent it (in the access log).
pub fn permit(policy: &Policy<'_>, facts: &Facts<'_>, caller: Caller) -> Result<Caller, Refusal> {
    if !policy.required {
        return Ok(caller);
    }
    let realm = policy.realm;
    let via = facts.via;
    match (caller.as_deref(), facts.local) {
        (Some(_), true) => {}
        (None, true) => {
            return Err(Refusal::unauthenticated(
                if facts.signature_header {
                    "unknown_peer"
                } else {
                    "unsigned"
                },
                format!(
                    "calls to realm `{realm}` must be signed by the calling realm{} (other realms' ingresses sign what they forward with their own signing key, checked here when `{realm}` pins them with `realm add --caller`, or with a key they share with `{realm}`)",
                    if policy.peer_cas.is_empty() {
                        ""
                    } else {
                        " or carry its client certificate"
                    },
                ),
            ));
        }
        // This realm's own runners, signing (or certified) as it.
        (Some(caller), false) if caller == realm => {
            if !via.realms().is_empty() {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_via",
                    format!(
                        "a call from realm `{caller}`'s own modules starts here: it must not carry {VIA}"
                    ),
                ));
            }
        }
        (Some(caller), false) if !policy.relay => {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "relay_refused",
                format!(
                    "realm `{realm}` does not relay calls of realm `{caller}` to other realms (`[ingress] relay = true` allows it)"
                ),
            ));
        }
        (Some(_), false) => {}
        (None, false) if unsigned_egress_allowed(policy.unsigned_egress, facts.peer) => {
            // Nobody vouches for where an unsigned call has been: it
            // starts here, or it could name any origin realm.
            if !via.realms().is_empty() {
                return Err(Refusal::unauthenticated(
                    "unsigned",
                    format!(
                        "an unsigned call cannot say which realms it crossed ({VIA}: {via}): only a signed call from another realm can"
                    ),
                ));
            }
        }
        (None, false) => {
            let who = facts
                .peer
                .map_or("this client".to_string(), |p| p.ip().to_string());
            return Err(Refusal::unauthenticated(
                "unsigned",
                match policy.unsigned_egress {
                    UnsignedEgress::None => format!(
                        "calls to other realms through realm `{realm}` must be signed (`[ingress] unsigned-egress = \"none\"`)"
                    ),
                    policy => format!(
                        "unsigned calls to other realms are accepted only from {} addresses; {who} is not one (`[ingress] unsigned-egress`)",
                        if policy == UnsignedEgress::Loopback {
                            "loopback"
                        } else {
                            "loopback and private"
                        }
                    ),
                },
            ));
        }
    }
    Ok(caller)
}

/// Who sent the call, when it proves it: a valid signature, a client
/// certificate from a realm's CA, or both (then they must agree).
pub fn identify(policy: &Policy<'_>, facts: &Facts<'_>) -> Result<Caller, Refusal> {
    let certified = match facts.certified {
        [] => None,
        [one] => Some(one.as_str()),
        // One certificate for several realms: the signature decides.
        several => facts.signed.filter(|s| several.iter().any(|c| c == s)),
    };
    let caller = match (facts.signed, certified) {
        (Some(s), Some(c)) if s != c => {
            return Err(Refusal::unauthenticated(
                "certificate_mismatch",
                format!(
                    "the call is signed by realm `{s}` but the client certificate belongs to realm `{c}`"
                ),
            ));
        }
        (Some(s), _) => Some(s),
        (None, c) => c,
    };
    if let Some(realm) = caller {
        // A realm that has a CA here must present its certificate.
        if policy.peer_cas.contains(realm) && !facts.certified.iter().any(|c| c == realm) {
            return Err(Refusal::unauthenticated(
                "client_certificate_required",
                format!(
                    "calls from realm `{realm}` must come with a client certificate issued by its CA (`[ingress.tls.peers] {realm}`)"
                ),
            ));
        }
        if let Some(last) = facts.via.last()
            && last != realm
        {
            return Err(Refusal::unauthenticated(
                "via_mismatch",
                format!(
                    "the call comes from realm `{realm}` but its {VIA} header ends with `{last}`"
                ),
            ));
        }
        // Realms before the caller in via are its word only: taken from
        // the hub, which checked them, and from no one else (a realm with
        // a key could name any origin).
        if !facts.via.earlier().is_empty() && policy.hub != Some(realm) && !facts.origin_proven {
            return Err(Refusal::unauthenticated(
                "via_unverified",
                format!(
                    "the call comes from realm `{realm}`, which is not this realm's hub (`[ingress] hub`), but its {VIA} header names realms before it ({}): only the hub may relay calls of other realms here",
                    facts.via
                ),
            ));
        }
    }
    Ok(caller.map(str::to_string))
}

/// The realm a call started in, as far as this ingress can tell, for
/// runners (`x-realm-caller`): the verified caller, or for a call the hub
/// relayed the first realm of via (the hub checked it). A call nobody
/// proved (no keys, no client certificates here) says where it started
/// itself: via's first realm, if any.
pub fn origin<'a>(
    policy: &Policy<'a>,
    facts: &Facts<'a>,
    caller: Option<&'a str>,
) -> Option<&'a str> {
    match caller {
        Some(relay) if facts.origin_proven => facts.via.origin().or(Some(relay)),
        Some(hub) if policy.hub == Some(hub) => facts.via.origin().or(Some(hub)),
        Some(caller) => Some(caller),
        None => facts.via.origin(),
    }
}

/// Whether an unsigned call from `peer` may go on to other realms.
fn unsigned_egress_allowed(policy: UnsignedEgress, peer: Option<SocketAddr>) -> bool {
    match policy {
        UnsignedEgress::Any => true,
        UnsignedEgress::None => false,
        UnsignedEgress::Private => peer.is_some_and(|p| is_private(p.ip())),
        UnsignedEgress::Loopback => peer.is_some_and(|p| p.ip().to_canonical().is_loopback()),
    }
}

/// Loopback, private, link-local and unique-local addresses.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row of the matrix: the policy's switches, what the call shows,
    /// and the caller or refusal code expected.
    struct Row {
        required: bool,
        relay: bool,
        egress: UnsignedEgress,
        /// Realms with a CA here.
        cas: &'static [&'static str],
        signed: Option<&'static str>,
        header: bool,
        certified: &'static [&'static str],
        via: &'static str,
        origin_proven: bool,
        local: bool,
        peer: &'static str,
        /// This realm's hub.
        hub: Option<&'static str>,
        expected: Result<Option<&'static str>, &'static str>,
    }

    /// Defaults: auth required, this realm is `bank`, an unsigned local
    /// call from loopback with no via and no certificate.
    const BASE: Row = Row {
        required: true,
        relay: false,
        egress: UnsignedEgress::Loopback,
        cas: &[],
        signed: None,
        header: false,
        certified: &[],
        via: "",
        origin_proven: false,
        local: true,
        peer: "127.0.0.1:5000",
        hub: None,
        expected: Err("unsigned"),
    };

    const LAN: &str = "10.1.2.3:5000";
    const PUBLIC: &str = "203.0.113.9:5000";

    #[test]
    fn the_whole_matrix() {
        use UnsignedEgress as E;
        #[rustfmt::skip]
        let rows = [
            // Nothing required: whoever proves who they are is the caller,
            // anonymous calls pass, in and out.
            Row { required: false, expected: Ok(None), ..BASE },
            Row { required: false, local: false, peer: PUBLIC, egress: E::None, expected: Ok(None), ..BASE },
            Row { required: false, signed: Some("shop"), header: true, expected: Ok(Some("shop")), ..BASE },
            Row { required: false, certified: &["shop"], local: false, expected: Ok(Some("shop")), ..BASE },
            // ...but what they prove must agree, required or not.
            Row { required: false, signed: Some("shop"), certified: &["crm"], expected: Err("certificate_mismatch"), ..BASE },
            Row { required: false, signed: Some("shop"), via: "crm", expected: Err("via_mismatch"), ..BASE },
            Row { required: false, signed: Some("shop"), cas: &["shop"], expected: Err("client_certificate_required"), ..BASE },
            // Identity: signature, certificate, both.
            Row { signed: Some("shop"), header: true, expected: Ok(Some("shop")), ..BASE },
            Row { certified: &["shop"], expected: Ok(Some("shop")), ..BASE },
            Row { signed: Some("shop"), certified: &["shop"], cas: &["shop"], expected: Ok(Some("shop")), ..BASE },
            Row { signed: Some("shop"), certified: &["crm"], expected: Err("certificate_mismatch"), ..BASE },
            // A certificate for several realms: the signature picks one.
            Row { certified: &["shop", "crm"], expected: Err("unsigned"), ..BASE },
            Row { signed: Some("crm"), certified: &["shop", "crm"], expected: Ok(Some("crm")), ..BASE },
            Row { signed: Some("acme"), certified: &["shop", "crm"], expected: Ok(Some("acme")), ..BASE },
            // A realm with a CA here must show its certificate.
            Row { signed: Some("shop"), cas: &["shop"], expected: Err("client_certificate_required"), ..BASE },
            Row { signed: Some("shop"), cas: &["crm"], expected: Ok(Some("shop")), ..BASE },
            // The last hop of via is the caller.
            Row { signed: Some("shop"), via: "shop", expected: Ok(Some("shop")), ..BASE },
            Row { signed: Some("shop"), via: "shop,acme", expected: Err("via_mismatch"), ..BASE },
            // Realms before it: only from this realm's hub.
            Row { signed: Some("hub"), via: "shop,hub", hub: Some("hub"), expected: Ok(Some("hub")), ..BASE },
            Row { signed: Some("hub"), via: "crm,shop,hub", hub: Some("hub"), expected: Ok(Some("hub")), ..BASE },
            Row { signed: Some("evil"), via: "shop,evil", expected: Err("via_unverified"), ..BASE },
            Row { signed: Some("evil"), via: "shop,evil", hub: Some("hub"), expected: Err("via_unverified"), ..BASE },
            Row { signed: Some("evil"), via: "bank,shop,evil", relay: true, expected: Err("via_unverified"), ..BASE },
            Row { certified: &["evil"], via: "shop,evil", expected: Err("via_unverified"), ..BASE },
            Row { local: false, signed: Some("evil"), via: "shop,evil", relay: true, expected: Err("via_unverified"), ..BASE },
            // The first realm signed too (its signature relayed, verified): the via is proven.
            Row { signed: Some("relay"), via: "shop,relay", origin_proven: true, expected: Ok(Some("relay")), ..BASE },
            Row { local: false, signed: Some("hub"), via: "shop,hub", relay: true, hub: Some("hub"), expected: Ok(Some("hub")), ..BASE },
            // Nothing required: via is not checked (nobody proves anything).
            Row { required: false, via: "shop,evil", expected: Ok(None), ..BASE },
            // Calls to this realm: authenticated, or refused.
            Row { expected: Err("unsigned"), ..BASE },
            Row { header: true, expected: Err("unknown_peer"), ..BASE },
            Row { peer: PUBLIC, egress: E::Any, expected: Err("unsigned"), ..BASE },
            // Onwards, from this realm's own modules: they start the call.
            Row { local: false, signed: Some("bank"), expected: Ok(Some("bank")), ..BASE },
            Row { local: false, certified: &["bank"], expected: Ok(Some("bank")), ..BASE },
            Row { local: false, signed: Some("bank"), via: "bank", expected: Err("malformed_via"), ..BASE },
            // Onwards, signed by another realm: only when relaying.
            Row { local: false, signed: Some("shop"), expected: Err("relay_refused"), ..BASE },
            Row { local: false, signed: Some("shop"), relay: true, expected: Ok(Some("shop")), ..BASE },
            Row { local: false, signed: Some("shop"), via: "shop", relay: true, expected: Ok(Some("shop")), ..BASE },
            // Onwards, unsigned: by `unsigned-egress` and the client's address.
            Row { local: false, egress: E::Any, peer: PUBLIC, expected: Ok(None), ..BASE },
            Row { local: false, egress: E::Loopback, expected: Ok(None), ..BASE },
            Row { local: false, egress: E::Loopback, peer: "[::ffff:127.0.0.1]:5000", expected: Ok(None), ..BASE },
            Row { local: false, egress: E::Loopback, peer: LAN, expected: Err("unsigned"), ..BASE },
            Row { local: false, egress: E::Private, peer: LAN, expected: Ok(None), ..BASE },
            Row { local: false, egress: E::Private, peer: "[fd00::1]:5000", expected: Ok(None), ..BASE },
            Row { local: false, egress: E::Private, peer: PUBLIC, expected: Err("unsigned"), ..BASE },
            Row { local: false, egress: E::None, expected: Err("unsigned"), ..BASE },
            Row { local: false, egress: E::Any, peer: "", expected: Ok(None), ..BASE },
            Row { local: false, egress: E::Loopback, peer: "", expected: Err("unsigned"), ..BASE },
            // An unsigned call cannot claim where it has been.
            Row { local: false, egress: E::Any, via: "shop", expected: Err("unsigned"), ..BASE },
        ];
        for (i, row) in rows.iter().enumerate() {
            let cas: HashSet<String> = row.cas.iter().map(|s| s.to_string()).collect();
            let policy = Policy {
                realm: "bank",
                required: row.required,
                peer_cas: &cas,
                relay: row.relay,
                unsigned_egress: row.egress,
                hub: row.hub,
            };
            let via = Via::parse((!row.via.is_empty()).then_some(row.via.as_bytes())).expect("via");
            let certified: Vec<String> = row.certified.iter().map(|s| s.to_string()).collect();
            let facts = Facts {
                signed: row.signed,
                signature_header: row.header || row.signed.is_some(),
                certified: &certified,
                via: &via,
                origin_proven: row.origin_proven,
                local: row.local,
                peer: (!row.peer.is_empty()).then(|| row.peer.parse().expect("address")),
            };
            let got = authorize(&policy, &facts);
            let got = got.as_ref().map(Option::as_deref).map_err(|r| r.code);
            assert_eq!(got, row.expected, "row {i}: {facts:?}");
        }
    }

    #[test]
    fn refusals_say_what_to_do() {
        let cas = HashSet::new();
        let policy = Policy {
            realm: "bank",
            required: true,
            peer_cas: &cas,
            relay: false,
            unsigned_egress: UnsignedEgress::None,
            hub: None,
        };
        let via = Via::parse(None).expect("via");
        let facts = Facts {
            signed: None,
            signature_header: false,
            certified: &[],
            via: &via,
            origin_proven: false,
            local: false,
            peer: None,
        };
        let refusal = authorize(&policy, &facts).expect_err("refused");
        assert_eq!(refusal.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refusal.message,
            "calls to other realms through realm `bank` must be signed (`[ingress] unsigned-egress = \"none\"`)"
        );
    }

    #[test]
    fn a_refused_call_still_names_who_proved_they_sent_it() {
        // bank does not relay: shop's signed call to another realm is
        // refused, and the access log names shop, not a header's claim.
        let cas = HashSet::new();
        let policy = Policy {
            realm: "bank",
            required: true,
            peer_cas: &cas,
            relay: false,
            unsigned_egress: UnsignedEgress::Loopback,
            hub: None,
        };
        let via = Via::parse(Some(b"shop".as_slice())).expect("via");
        let facts = Facts {
            signed: Some("shop"),
            signature_header: true,
            certified: &[],
            via: &via,
            origin_proven: false,
            local: false,
            peer: None,
        };
        let caller = identify(&policy, &facts).expect("identified");
        assert_eq!(caller.as_deref(), Some("shop"));
        let refusal = permit(&policy, &facts, caller).expect_err("refused");
        assert_eq!(refusal.code, "relay_refused");
    }

    #[test]
    fn runners_hear_the_verified_caller_or_what_the_hub_vouches_for() {
        let cas = HashSet::new();
        let policy = |hub| Policy {
            realm: "bank",
            required: true,
            peer_cas: &cas,
            relay: false,
            unsigned_egress: UnsignedEgress::Loopback,
            hub,
        };
        let facts = |via: &'static str| {
            let via = Box::leak(Box::new(
                Via::parse((!via.is_empty()).then_some(via.as_bytes())).expect("via"),
            ));
            Facts {
                signed: None,
                signature_header: false,
                certified: &[],
                via,
                origin_proven: false,
                local: true,
                peer: None,
            }
        };
        assert_eq!(
            origin(&policy(None), &facts("shop"), Some("shop")),
            Some("shop")
        );
        assert_eq!(
            origin(&policy(None), &facts(""), Some("shop")),
            Some("shop")
        );
        assert_eq!(
            origin(&policy(Some("hub")), &facts("shop, hub"), Some("hub")),
            Some("shop")
        );
        assert_eq!(
            origin(&policy(Some("hub")), &facts("hub"), Some("hub")),
            Some("hub")
        );
        // Not the hub: the caller, whatever via says (identify refuses
        // such a via before).
        assert_eq!(
            origin(&policy(Some("hub")), &facts("shop, evil"), Some("evil")),
            Some("evil")
        );
        assert_eq!(origin(&policy(None), &facts("shop"), None), Some("shop"));
        assert_eq!(origin(&policy(None), &facts(""), None), None);
    }
}
