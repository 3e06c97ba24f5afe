//! Result diffs: how a query's new result differs from the one a client holds.
//!
//! A live list changes by a row or two per commit; re-sending 50 rows for one is wasteful.
//! A [`ValueDiff`] rebuilds the new result from the old one:
//! - `{"set": v}` — the whole value;
//! - `{"splice": [{"copy": [from, len]}, {"insert": [rows…]}, …]}` — a new array as runs of
//!   the old array's elements and inserted ones (adds, removes, changes and moves alike);
//! - `{"fields": {"documents": …, "total": …}}` — an object with only its changed fields.
//!
//! The room sends a diff only when it is smaller than the whole result and it holds the base
//! the client holds; every diff carries the hash of the base it applies to and of the result
//! it must produce, and the client checks both (a mismatch means resync, never a wrong screen).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One run of a spliced array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Segment {
    /// `len` elements of the old array from index `from`.
    Copy([usize; 2]),
    /// New elements.
    Insert(Vec<Value>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ValueDiff {
    Set(Value),
    Splice(Vec<Segment>),
    Fields(Map<String, Value>),
}

/// The identity of a list element: its `_id` when it has one, else the element itself.
fn identity(v: &Value) -> Option<&str> {
    v.get("_id").and_then(Value::as_str)
}

impl ValueDiff {
    /// How to get from `old` to `new`.
    pub fn compute(old: &Value, new: &Value) -> ValueDiff {
        match (old, new) {
            (Value::Array(a), Value::Array(b)) => ValueDiff::Splice(splice(a, b)),
            (Value::Object(a), Value::Object(b)) if a.keys().eq(b.keys()) => {
                let mut changed = Map::new();
                for (key, value) in b {
                    if a.get(key) != Some(value) {
                        let inner = ValueDiff::compute(&a[key], value);
                        changed.insert(key.clone(), serde_json::to_value(inner).unwrap_or(Value::Null));
                    }
                }
                ValueDiff::Fields(changed)
            }
            _ => ValueDiff::Set(new.clone()),
        }
    }

    /// Applies the diff to `old`; `None` when it does not fit (a different base).
    pub fn apply(&self, old: &Value) -> Option<Value> {
        match (self, old) {
            (ValueDiff::Set(v), _) => Some(v.clone()),
            (ValueDiff::Splice(segments), Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len() + 1);
                for segment in segments {
                    match segment {
                        Segment::Copy([from, len]) => out.extend_from_slice(items.get(*from..from.checked_add(*len)?)?),
                        Segment::Insert(values) => out.extend(values.iter().cloned()),
                    }
                }
                Some(Value::Array(out))
            }
            (ValueDiff::Fields(changed), Value::Object(fields)) => {
                let mut out = fields.clone();
                for (key, diff) in changed {
                    let diff: ValueDiff = serde_json::from_value(diff.clone()).ok()?;
                    let value = diff.apply(fields.get(key)?)?;
                    out.insert(key.clone(), value);
                }
                Some(Value::Object(out))
            }
            _ => None,
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Runs of old elements (matched by `_id` and equal) and inserted elements.
fn splice(old: &[Value], new: &[Value]) -> Vec<Segment> {
    let positions: std::collections::HashMap<&str, usize> =
        old.iter().enumerate().filter_map(|(i, v)| identity(v).map(|id| (id, i))).collect();
    let mut segments: Vec<Segment> = Vec::new();
    for (j, item) in new.iter().enumerate() {
        let source = match identity(item).and_then(|id| positions.get(id)) {
            Some(&i) if old[i] == *item => Some(i),
            // Without ids, an unchanged element at the same place is still a copy.
            None if old.get(j) == Some(item) && identity(item).is_none() => Some(j),
            _ => None,
        };
        match (source, segments.last_mut()) {
            (Some(i), Some(Segment::Copy([from, len]))) if *from + *len == i => *len += 1,
            (Some(i), _) => segments.push(Segment::Copy([i, 1])),
            (None, Some(Segment::Insert(values))) => values.push(item.clone()),
            (None, _) => segments.push(Segment::Insert(vec![item.clone()])),
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn row(id: u32, v: u32) -> Value {
        json!({"_id": format!("id{id}"), "v": v})
    }

    #[test]
    fn one_row_changes_cost_one_row() {
        let old: Vec<Value> = (0..50).map(|i| row(i, 0)).collect();
        let mut new = old.clone();
        new[7] = row(7, 1);
        let diff = ValueDiff::compute(&Value::Array(old.clone()), &Value::Array(new.clone()));
        assert_eq!(
            diff,
            ValueDiff::Splice(vec![Segment::Copy([0, 7]), Segment::Insert(vec![row(7, 1)]), Segment::Copy([8, 42])])
        );
        assert_eq!(diff.apply(&Value::Array(old.clone())), Some(Value::Array(new)));
        assert!(diff.to_json().to_string().len() < 80);
        let list = |docs: Vec<Value>, total: usize| json!({"documents": docs, "total": total});
        let mut fewer = old.clone();
        fewer.remove(3);
        let diff = ValueDiff::compute(&list(old.clone(), 50), &list(fewer.clone(), 49));
        assert_eq!(diff.apply(&list(old.clone(), 50)), Some(list(fewer, 49)));
        assert_eq!(ValueDiff::Splice(vec![Segment::Copy([40, 20])]).apply(&Value::Array(old)), None, "out of range");
    }

    /// Diffs as the room computes them, with the values they must produce (`null`: the diff
    /// does not fit its base) and the hashes of those values, in
    /// `client-wasm/src/diff-cases.json`: the browser driver's `applyDiff` and `hashValue` are
    /// checked against them (client-wasm/src/driver.test.mjs). Regenerate
    /// with `ROOMSYNC_BLESS=1 cargo test -p roomsync-shared diff_cases`.
    #[test]
    fn diff_cases_for_the_browser_driver_are_current() {
        let mut seed = 0x2545_f491_u64;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let list = |next: &mut dyn FnMut(u64) -> u64| -> Vec<Value> {
            let len = next(8);
            let mut ids: Vec<u64> = (0..10).collect();
            (0..len).map(|_| row(ids.remove(next(ids.len() as u64) as usize) as u32, next(3) as u32)).collect()
        };
        let mut cases = Vec::new();
        for n in 0..24 {
            let old = list(&mut next);
            // Mostly an edit of `old` (rows kept, dropped, changed, added), sometimes unrelated.
            let mut new: Vec<Value> = Vec::new();
            for item in &old {
                match next(5) {
                    0 => {}
                    1 => new.push(json!({"_id": item["_id"], "v": 9})),
                    2 => new.insert(next(new.len() as u64 + 1) as usize, item.clone()),
                    _ => new.push(item.clone()),
                }
            }
            for k in 0..next(3) {
                new.insert(next(new.len() as u64 + 1) as usize, row(100 + n * 3 + k as u32, 0));
            }
            if n % 6 == 5 {
                new = list(&mut next);
            }
            let (a, b) = (Value::Array(old), Value::Array(new));
            cases.push(json!({"old": a, "diff": ValueDiff::compute(&a, &b).to_json(), "new": b}));
            let (x, y) = (json!({"documents": a, "total": next(3)}), json!({"documents": b, "total": next(3)}));
            cases.push(json!({"old": x, "diff": ValueDiff::compute(&x, &y).to_json(), "new": y}));
        }
        cases.push(json!({"old": [1, 2], "diff": {"set": {"total": 0}}, "new": {"total": 0}}));
        cases.push(json!({"old": [row(1, 0)], "diff": {"splice": [{"copy": [0, 2]}]}, "new": null}));
        cases.push(json!({"old": {"a": 1}, "diff": {"splice": [{"copy": [0, 1]}]}, "new": null}));
        cases.push(json!({"old": {"a": 1}, "diff": {"fields": {"b": {"set": 2}}}, "new": null}));
        cases.push(json!({"old": [1], "diff": {"fields": {"0": {"set": 2}}}, "new": null}));
        // Values whose hash the driver's `hashValue` must reproduce: floats the room writes
        // as `1.0` or `1e21`, escapes, keys out of order, non-BMP keys.
        let tricky = json!({"z": [1.0, -0.0, 1e21, 1.5e-7, 0.1, 2.5e300, 9_007_199_254_740_993u64],
            "a": "\"q\"\\\n\t\u{1}\u{8}\u{c}\r\u{1f}\u{7f}İş", "😀": {"ı": null, "I": true}, "\u{ffff}": false, "": []});
        cases.push(json!({"old": null, "diff": {"set": tricky}, "new": tricky}));
        for case in &mut cases {
            let hash = Some(&case["new"]).filter(|v| !v.is_null()).map(crate::protocol::hash::hash_value);
            case["hash"] = json!(hash);
        }
        for case in &cases {
            let diff: ValueDiff = serde_json::from_value(case["diff"].clone()).unwrap();
            let expected = Some(case["new"].clone()).filter(|v| !v.is_null());
            assert_eq!(diff.apply(&case["old"]), expected, "{case}");
        }
        let lines: Vec<String> = cases.iter().map(Value::to_string).collect();
        let text = ["[\n", &lines.join(",\n"), "\n]\n"].concat();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../client-wasm/src/diff-cases.json");
        if std::env::var_os("ROOMSYNC_BLESS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let held = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(held == text, "{} is stale: ROOMSYNC_BLESS=1 cargo test -p roomsync-shared diff_cases", path.display());
    }

    fn rows() -> impl Strategy<Value = Vec<Value>> {
        prop::collection::vec((0u32..12, 0u32..3), 0..12).prop_map(|pairs| {
            let mut seen = std::collections::HashSet::new();
            pairs.into_iter().filter(|(id, _)| seen.insert(*id)).map(|(id, v)| row(id, v)).collect()
        })
    }

    proptest! {
        #[test]
        fn applying_the_diff_gives_the_new_value(old in rows(), new in rows(), total_old in 0u32..3, total_new in 0u32..3) {
            let (a, b) = (Value::Array(old.clone()), Value::Array(new.clone()));
            prop_assert_eq!(ValueDiff::compute(&a, &b).apply(&a), Some(b.clone()));
            let (x, y) = (json!({"documents": old, "total": total_old}), json!({"documents": new, "total": total_new}));
            let diff = ValueDiff::compute(&x, &y);
            let round_trip: ValueDiff = serde_json::from_value(diff.to_json()).unwrap();
            prop_assert_eq!(round_trip.apply(&x), Some(y));
        }
    }
}
