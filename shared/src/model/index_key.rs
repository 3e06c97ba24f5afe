//! Order-preserving byte encoding of index keys.
//!
//! An index key is a tuple of field values, one per indexed field; a missing field is
//! `undefined` and sorts before everything else. Encoded keys compare bytewise exactly as the
//! tuples compare by value, so range scans and read-set checks are plain byte comparisons
//! (and SQLite's BLOB order does the rest).
//!
//! Type order (as in Convex): undefined < null < int64 < number < boolean < string < bytes <
//! array < object. Within a type: integers numerically; numbers by IEEE total order
//! (-∞ < … < -0 < +0 < … < +∞ < NaN); booleans false < true; strings and bytes bytewise
//! (strings by their UTF-8 bytes); arrays and objects lexicographically, shorter first.
//!
//! Layout: each element is a tag byte then a body.
//! - int64: sign bit flipped, 8 bytes big-endian.
//! - number: IEEE bits; if negative all bits flipped, else the sign bit flipped; big-endian.
//! - string/bytes: bytes with each `0x00` written as `0x00 0xFF`, then `0x00` as terminator.
//! - array: elements, then `0x00` (element tags are never 0).
//! - object: per field `0x01`, the name as a string body, the value; then `0x00`.
//!
//! Every element is self-delimiting, so a tuple is its elements concatenated and a shorter
//! tuple that is a prefix of a longer one sorts first.

use crate::model::value::{canonical_nan, Value};

const TAG_UNDEFINED: u8 = 0x01;
const TAG_NULL: u8 = 0x02;
const TAG_INT64: u8 = 0x03;
const TAG_NUMBER: u8 = 0x04;
const TAG_FALSE: u8 = 0x05;
const TAG_TRUE: u8 = 0x06;
const TAG_STRING: u8 = 0x07;
const TAG_BYTES: u8 = 0x08;
const TAG_ARRAY: u8 = 0x09;
const TAG_OBJECT: u8 = 0x0A;
const END: u8 = 0x00;
const ESCAPE: u8 = 0xFF;
const FIELD: u8 = 0x01;

/// Encodes a key tuple; `None` is a missing field (`undefined`).
pub fn encode_key(values: &[Option<&Value>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 * values.len());
    for value in values {
        match value {
            None => out.push(TAG_UNDEFINED),
            Some(v) => encode_value(v, &mut out),
        }
    }
    out
}

/// Appends one value's encoding to `out`.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Int64(i) => {
            out.push(TAG_INT64);
            out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
        }
        Value::Number(f) => {
            out.push(TAG_NUMBER);
            let bits = canonical_nan(*f).to_bits();
            let ordered = if bits >> 63 == 1 { !bits } else { bits ^ (1 << 63) };
            out.extend_from_slice(&ordered.to_be_bytes());
        }
        Value::Boolean(b) => out.push(if *b { TAG_TRUE } else { TAG_FALSE }),
        Value::String(s) => {
            out.push(TAG_STRING);
            escape_bytes(s.as_bytes(), out);
        }
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            escape_bytes(b, out);
        }
        Value::Array(items) => {
            out.push(TAG_ARRAY);
            for item in items {
                encode_value(item, out);
            }
            out.push(END);
        }
        Value::Object(fields) => {
            out.push(TAG_OBJECT);
            for (name, item) in fields {
                out.push(FIELD);
                escape_bytes(name.as_bytes(), out);
                encode_value(item, out);
            }
            out.push(END);
        }
    }
}

fn escape_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == END {
            out.push(ESCAPE);
        }
    }
    out.push(END);
}

/// The smallest key greater than every key that starts with `prefix`: the exclusive upper
/// bound of a prefix scan. `None` when no such key exists (prefix of all `0xFF`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut key = prefix.to_vec();
    while let Some(last) = key.pop() {
        if last < 0xFF {
            key.push(last + 1);
            return Some(key);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::tests::arb_value;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn key(v: &Value) -> Vec<u8> {
        encode_key(&[Some(v)])
    }

    #[test]
    fn undefined_sorts_first_and_types_in_documented_order() {
        let ordered = [
            encode_key(&[None]),
            key(&Value::Null),
            key(&Value::Int64(i64::MIN)),
            key(&Value::Int64(i64::MAX)),
            key(&Value::Number(f64::NEG_INFINITY)),
            key(&Value::Number(-0.0)),
            key(&Value::Number(0.0)),
            key(&Value::Number(f64::INFINITY)),
            key(&Value::Number(f64::NAN)),
            key(&Value::Boolean(false)),
            key(&Value::Boolean(true)),
            key(&Value::String(String::new())),
            key(&Value::String("a".into())),
            key(&Value::String("a\0".into())),
            key(&Value::String("ab".into())),
            key(&Value::Bytes(vec![])),
            key(&Value::Array(vec![])),
            key(&Value::Object(Default::default())),
        ];
        for pair in ordered.windows(2) {
            assert!(pair[0] < pair[1], "{:?} < {:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn prefix_scans() {
        let city = Value::String("Ankara".into());
        let prefix = encode_key(&[Some(&city)]);
        let upper = prefix_successor(&prefix).unwrap();
        let inside = encode_key(&[Some(&city), Some(&Value::Number(1e9))]);
        let next_city = encode_key(&[Some(&Value::String("Ankara2".into()))]);
        assert!(prefix <= inside && inside < upper);
        assert!(next_city >= upper || !next_city.starts_with(&prefix));
        assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_successor(&[1, 0xFF]), Some(vec![2]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn byte_order_is_value_order(a in arb_value(), b in arb_value()) {
            prop_assert_eq!(key(&a).cmp(&key(&b)), a.cmp(&b), "{:?} vs {:?}", a, b);
        }

        #[test]
        fn tuple_byte_order_is_tuple_order(
            a in prop::collection::vec(prop::option::of(arb_value()), 0..3),
            b in prop::collection::vec(prop::option::of(arb_value()), 0..3),
        ) {
            let enc = |t: &Vec<Option<Value>>| encode_key(&t.iter().map(Option::as_ref).collect::<Vec<_>>());
            // Tuple order: elementwise, undefined (None) first, shorter prefix first.
            let expected = a.iter().zip(&b).map(|(x, y)| x.cmp(y)).find(|o| *o != Ordering::Equal)
                .unwrap_or(a.len().cmp(&b.len()));
            prop_assert_eq!(enc(&a).cmp(&enc(&b)), expected);
        }

        #[test]
        fn equal_values_have_equal_keys(a in arb_value()) {
            prop_assert_eq!(key(&a), key(&a.clone()));
        }
    }
}
