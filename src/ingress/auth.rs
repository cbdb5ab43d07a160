//! Signed requests between realms (HMAC-SHA256), keys per peer realm, replay protection.
