//! Where a fake's randomness comes from: a seed for each call, made from
//! `--seed`, the verb and the request (its JSON in one canonical form, so
//! the same request gives the same reply whatever its member order), and
//! a small generator (SplitMix64) drawn from it.
//!
//! Pure and deterministic: no clock, no operating-system randomness.

use serde_json::Value;

/// The seed of one reply: `seed`, `module.verb` and the request.
pub fn of_call(seed: u64, module: &str, verb: &str, request: Option<&Value>) -> u64 {
    let mut text = format!("{seed}\n{module}.{verb}\n");
    match request {
        None => text.push('-'),
        Some(value) => canonical(value, &mut text),
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_le_bytes(first)
}

/// `value` as JSON with every object's members sorted by name.
pub fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, member)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                canonical(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// SplitMix64: small, fast, and the same numbers on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn member_order_does_not_change_the_seed() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": [2, {"y": 1, "x": 2}]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a": [2, {"x": 2, "y": 1}], "b": 1}"#).unwrap();
        assert_eq!(
            of_call(0, "m", "v", Some(&a)),
            of_call(0, "m", "v", Some(&b))
        );
        assert_ne!(
            of_call(0, "m", "v", Some(&a)),
            of_call(1, "m", "v", Some(&a))
        );
        assert_ne!(
            of_call(0, "m", "v", Some(&a)),
            of_call(0, "m", "w", Some(&a))
        );
        assert_ne!(
            of_call(0, "m", "v", None),
            of_call(0, "m", "v", Some(&json!(null)))
        );
    }

    #[test]
    fn the_generator_is_the_same_everywhere() {
        // SplitMix64's published first outputs for seed 1234567.
        let mut rng = Rng::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
        let u = rng.unit();
        assert!((0.0..1.0).contains(&u));
    }
}
