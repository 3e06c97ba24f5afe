//! Document values and their lossless JSON encoding.
//!
//! A document is a tree of [`Value`]s: null, boolean, number (f64), 64-bit integer, string,
//! bytes, array, object. JSON has no 64-bit integers, no bytes and no NaN, and JavaScript's
//! `JSON.parse` turns every number into a float — so those travel as one-key objects that
//! survive any JSON round trip unchanged:
//!
//! | value | JSON |
//! |---|---|
//! | `Int64(9007199254740993)` | `{"$int64": "9007199254740993"}` |
//! | `Bytes([1, 2, 3])` | `{"$bytes": "AQID"}` (standard base64) |
//! | `Number(NaN)`, `±Infinity` | `{"$number": "NaN"}`, `{"$number": "Infinity"}`, `{"$number": "-Infinity"}` |
//!
//! Field names starting with `$` are reserved for these markers, so the encoding is never
//! ambiguous. A plain JSON integer too large to be an exact f64 is refused rather than
//! silently rounded: send it as `$int64`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{Map, Number as JsonNumber, Value as Json};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use thiserror::Error;

/// Largest integer magnitude an f64 holds exactly (2^53).
pub const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// A document value.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Boolean(bool),
    Number(f64),
    Int64(i64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

/// A JSON input that is not a valid encoded value.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{path}: {problem}")]
pub struct DecodeError {
    pub path: String,
    pub problem: String,
}

impl Value {
    /// The type name used in error messages and type-ordering docs.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) => "boolean",
            Value::Number(_) => "number",
            Value::Int64(_) => "int64",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Position in the cross-type sort order (documented in [`crate::model::index_key`]).
    pub(crate) fn type_rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Int64(_) => 1,
            Value::Number(_) => 2,
            Value::Boolean(_) => 3,
            Value::String(_) => 4,
            Value::Bytes(_) => 5,
            Value::Array(_) => 6,
            Value::Object(_) => 7,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Decodes the lossless JSON encoding. `path` names the root in error messages.
    pub fn from_json(json: &Json, path: &str) -> Result<Value, DecodeError> {
        let fail = |problem: String| DecodeError { path: path.to_string(), problem };
        Ok(match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Boolean(*b),
            Json::Number(n) => Value::Number(exact_f64(n).map_err(fail)?),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Value::from_json(item, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(map) => match decode_marker(map).map_err(fail)? {
                Some(value) => value,
                None => {
                    let mut object = BTreeMap::new();
                    for (key, item) in map {
                        if key.starts_with('$') {
                            return Err(fail(format!(
                                "field name {key:?} starts with '$', which is reserved for $int64, $bytes and $number"
                            )));
                        }
                        object.insert(key.clone(), Value::from_json(item, &format!("{path}.{key}"))?);
                    }
                    Value::Object(object)
                }
            },
        })
    }

    /// Encodes as JSON that `from_json` (and the JS client) decodes back exactly.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Boolean(b) => Json::Bool(*b),
            Value::Number(f) => match JsonNumber::from_f64(*f) {
                Some(n) => Json::Number(n),
                None => marker("$number", non_finite_name(*f)),
            },
            Value::Int64(i) => marker("$int64", &i.to_string()),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(b) => marker("$bytes", &BASE64.encode(b)),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

fn marker(key: &str, text: &str) -> Json {
    let mut map = Map::new();
    map.insert(key.to_string(), Json::String(text.to_string()));
    Json::Object(map)
}

fn non_finite_name(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

fn exact_f64(n: &JsonNumber) -> Result<f64, String> {
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(format!(
                "integer {i} is too large to be exact as a number (limit ±2^53); send it as {{\"$int64\": \"{i}\"}}"
            ));
        }
        return Ok(i as f64);
    }
    if let Some(u) = n.as_u64() {
        return Err(format!(
            "integer {u} is too large to be exact as a number (limit ±2^53); send it as {{\"$int64\": \"{u}\"}}"
        ));
    }
    n.as_f64().ok_or_else(|| format!("{n} is not a representable number"))
}

/// Recognizes `{"$int64": …}`, `{"$bytes": …}` and `{"$number": …}`.
fn decode_marker(map: &Map<String, Json>) -> Result<Option<Value>, String> {
    let Some((key, _)) = map.iter().find(|(k, _)| k.starts_with('$')) else {
        return Ok(None);
    };
    if !matches!(key.as_str(), "$int64" | "$bytes" | "$number") {
        return Ok(None); // reported by the caller as a reserved field name
    }
    if map.len() != 1 {
        return Err(format!("an object with {key:?} must have no other fields"));
    }
    let text = map[key].as_str().ok_or_else(|| format!("{key} must be a string"))?;
    match key.as_str() {
        "$int64" => text
            .parse::<i64>()
            .map(|i| Some(Value::Int64(i)))
            .map_err(|_| format!("$int64 {text:?} is not a decimal integer between -2^63 and 2^63-1")),
        "$bytes" => BASE64
            .decode(text)
            .map(|b| Some(Value::Bytes(b)))
            .map_err(|e| format!("$bytes is not standard base64: {e}")),
        _ => match text {
            "NaN" => Ok(Some(Value::Number(f64::NAN))),
            "Infinity" => Ok(Some(Value::Number(f64::INFINITY))),
            "-Infinity" => Ok(Some(Value::Number(f64::NEG_INFINITY))),
            other => Err(format!("$number {other:?} must be \"NaN\", \"Infinity\" or \"-Infinity\"")),
        },
    }
}

/// The total order of values: by type first (null < int64 < number < boolean < string <
/// bytes < array < object), then within the type. Numbers use IEEE total order (so -0 < +0
/// and NaN sorts above +∞); strings and bytes compare bytewise; arrays and objects
/// lexicographically (objects by their sorted `(field, value)` pairs).
impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::Number(a), Value::Number(b)) => canonical_nan(*a).total_cmp(&canonical_nan(*b)),
            (Value::Int64(a), Value::Int64(b)) => a.cmp(b),
            (Value::String(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Array(a), Value::Array(b)) => a.cmp(b),
            (Value::Object(a), Value::Object(b)) => a.iter().cmp(b.iter()),
            _ => self.type_rank().cmp(&other.type_rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

/// Every NaN is one value (the positive quiet NaN), so that NaN == NaN in documents and keys.
pub(crate) fn canonical_nan(f: f64) -> f64 {
    if f.is_nan() {
        f64::NAN
    } else {
        f
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Number(f)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Arbitrary values, nested up to a few levels.
    pub fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<f64>().prop_map(Value::Number),
            prop_oneof![Just(0.0), Just(-0.0), Just(1.0), Just(-1.5)].prop_map(Value::Number),
            any::<i64>().prop_map(Value::Int64),
            prop_oneof![Just(0i64), Just(-1), Just(1), Just(i64::MIN), Just(i64::MAX)].prop_map(Value::Int64),
            "[a-c\u{0}\u{e7}\u{131}]{0,4}".prop_map(Value::String),
            prop::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
            prop::collection::vec(prop_oneof![Just(0u8), Just(255u8), Just(1u8)], 0..3).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]{0,2}", inner, 0..3).prop_map(Value::Object),
            ]
        })
    }

    fn round_trip(v: &Value) -> Value {
        // Through text, as on the wire.
        let text = v.to_json().to_string();
        Value::from_json(&serde_json::from_str(&text).unwrap(), "v").unwrap()
    }

    #[test]
    fn special_values_survive_json() {
        for v in [
            Value::Int64(i64::MAX),
            Value::Int64(i64::MIN),
            Value::Int64(9_007_199_254_740_993),
            Value::Bytes(vec![0, 1, 255]),
            Value::Number(f64::NAN),
            Value::Number(f64::INFINITY),
            Value::Number(f64::NEG_INFINITY),
            Value::Number(-0.0),
            Value::Number(0.1),
        ] {
            assert_eq!(round_trip(&v), v, "{v:?}");
        }
        assert!(matches!(round_trip(&Value::Number(-0.0)), Value::Number(z) if z.is_sign_negative()));
        assert_eq!(Value::Int64(5).to_json(), json!({"$int64": "5"}));
        assert_eq!(Value::Bytes(vec![1, 2, 3]).to_json(), json!({"$bytes": "AQID"}));
    }

    /// The same text `tests/browser/values.test.mjs` decodes on the JS side.
    #[test]
    fn encoding_shared_with_the_js_test() {
        let value = Value::Object(BTreeMap::from([
            ("big".to_string(), Value::Int64(i64::MAX)),
            ("min".to_string(), Value::Int64(i64::MIN)),
            ("bytes".to_string(), Value::Bytes(vec![0, 1, 255])),
            ("nan".to_string(), Value::Number(f64::NAN)),
            ("inf".to_string(), Value::Number(f64::NEG_INFINITY)),
            ("list".to_string(), Value::Array(vec![Value::Number(1.5), Value::Int64(9_007_199_254_740_993)])),
        ]));
        let js_test_text = r#"{"big":{"$int64":"9223372036854775807"},"min":{"$int64":"-9223372036854775808"},"bytes":{"$bytes":"AAH/"},"nan":{"$number":"NaN"},"inf":{"$number":"-Infinity"},"list":[1.5,{"$int64":"9007199254740993"}]}"#;
        assert_eq!(value.to_json(), serde_json::from_str::<Json>(js_test_text).unwrap());
    }

    #[test]
    fn decode_errors_name_the_path() {
        let err = |j: Json| Value::from_json(&j, "donations").unwrap_err().to_string();
        assert_eq!(
            err(json!({"meta": {"$bad": 1}})),
            "donations.meta: field name \"$bad\" starts with '$', which is reserved for $int64, $bytes and $number"
        );
        assert_eq!(
            err(json!({"n": 9007199254740993u64})),
            "donations.n: integer 9007199254740993 is too large to be exact as a number (limit ±2^53); send it as {\"$int64\": \"9007199254740993\"}"
        );
        assert_eq!(
            err(json!({"a": [1, {"$int64": "x"}]})),
            "donations.a[1]: $int64 \"x\" is not a decimal integer between -2^63 and 2^63-1"
        );
        assert_eq!(
            err(json!({"$int64": "1", "b": 2})),
            "donations: an object with \"$int64\" must have no other fields"
        );
        assert_eq!(err(json!({"$bytes": "!!"})).split(':').next(), Some("donations"));
        assert_eq!(
            err(json!({"$number": "nan"})),
            "donations: $number \"nan\" must be \"NaN\", \"Infinity\" or \"-Infinity\""
        );
    }

    #[test]
    fn cross_type_order() {
        let ordered = [
            Value::Null,
            Value::Int64(i64::MAX),
            Value::Number(f64::NEG_INFINITY),
            Value::Boolean(false),
            Value::String(String::new()),
            Value::Bytes(vec![]),
            Value::Array(vec![]),
            Value::Object(BTreeMap::new()),
        ];
        for pair in ordered.windows(2) {
            assert!(pair[0] < pair[1], "{:?} < {:?}", pair[0], pair[1]);
        }
    }

    proptest! {
        #[test]
        fn json_round_trip_is_lossless(v in arb_value()) {
            prop_assert_eq!(round_trip(&v), v);
        }
    }
}
