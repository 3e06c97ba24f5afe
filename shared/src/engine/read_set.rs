//! What a query read, what a commit wrote, and the index that matches one to the other.
//!
//! A query's [`ReadSet`] is a list of [`KeyRange`]s: ranges of one index's encoded keys,
//! each under an *equality prefix* (the encoded values its `eq` conditions fixed). A commit's
//! [`WriteSet`] lists, for every index of every document it changed, the old and new keys.
//! A subscription is affected exactly when one written key falls into one of its ranges.
//!
//! The [`SubscriptionIndex`] files every range under `(table, index, prefix)`. A written key
//! has one prefix per element (≤ 18), so finding the affected subscriptions costs a hash
//! lookup per prefix plus the ranges filed under that exact prefix — it never looks at
//! subscriptions of other tables, indexes or equality values. (Many subscriptions under one
//! prefix, e.g. many pages of one list, are scanned linearly within that bucket.)

use crate::model::index_key::prefix_successor;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

/// Keys `start <= key < end` of one index, all starting with `prefix`. `end == None` means
/// "to the end of the prefix".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyRange {
    pub table: String,
    pub index: String,
    pub prefix: Vec<u8>,
    pub start: Vec<u8>,
    pub end: Option<Vec<u8>>,
}

impl KeyRange {
    /// All keys under `prefix`.
    pub fn prefix(table: &str, index: &str, prefix: Vec<u8>) -> Self {
        Self { table: table.into(), index: index.into(), start: prefix.clone(), end: prefix_successor(&prefix), prefix }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        key.starts_with(&self.prefix)
            && key >= self.start.as_slice()
            && self.end.as_ref().is_none_or(|e| key < e.as_slice())
    }

    fn to_json(&self) -> Json {
        json!({
            "t": self.table, "i": self.index, "p": B64.encode(&self.prefix), "s": B64.encode(&self.start),
            "e": self.end.as_ref().map(|e| B64.encode(e)),
        })
    }

    fn from_json(j: &Json) -> Option<Self> {
        let bytes = |k: &str| j.get(k)?.as_str().and_then(|s| B64.decode(s).ok());
        Some(Self {
            table: j.get("t")?.as_str()?.to_string(),
            index: j.get("i")?.as_str()?.to_string(),
            prefix: bytes("p")?,
            start: bytes("s")?,
            end: match j.get("e")? {
                Json::Null => None,
                _ => Some(bytes("e")?),
            },
        })
    }
}

/// Everything a query read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadSet {
    pub ranges: Vec<KeyRange>,
}

impl ReadSet {
    pub fn add(&mut self, range: KeyRange) {
        if !self.ranges.contains(&range) {
            self.ranges.push(range);
        }
    }

    /// Compact text form, stored with a subscription so it survives hibernation.
    pub fn to_text(&self) -> String {
        Json::Array(self.ranges.iter().map(KeyRange::to_json).collect()).to_string()
    }

    pub fn from_text(text: &str) -> Option<Self> {
        let json: Json = serde_json::from_str(text).ok()?;
        let ranges = json.as_array()?.iter().map(KeyRange::from_json).collect::<Option<Vec<_>>>()?;
        Some(Self { ranges })
    }
}

/// One key a commit wrote (added or removed) in one index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenKey {
    pub table: String,
    pub index: String,
    pub key: Vec<u8>,
    /// Byte offsets where each element of the key ends: every prefix a read range may use.
    pub ends: Vec<usize>,
}

/// Everything a commit wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSet {
    pub keys: Vec<WrittenKey>,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

type Bucket = (String, String, Vec<u8>);

/// Live subscriptions filed by what they read.
#[derive(Debug)]
pub struct SubscriptionIndex<K> {
    buckets: HashMap<Bucket, BTreeMap<K, Vec<KeyRange>>>,
    filed: HashMap<K, Vec<Bucket>>,
}

impl<K> Default for SubscriptionIndex<K> {
    fn default() -> Self {
        Self { buckets: HashMap::new(), filed: HashMap::new() }
    }
}

impl<K: Clone + Ord + Hash> SubscriptionIndex<K> {
    pub fn len(&self) -> usize {
        self.filed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.filed.is_empty()
    }

    /// Files (or re-files) a subscription under its read set.
    pub fn insert(&mut self, sub: K, read_set: &ReadSet) {
        self.remove(&sub);
        let mut buckets = Vec::new();
        for range in &read_set.ranges {
            let bucket = (range.table.clone(), range.index.clone(), range.prefix.clone());
            self.buckets.entry(bucket.clone()).or_default().entry(sub.clone()).or_default().push(range.clone());
            if !buckets.contains(&bucket) {
                buckets.push(bucket);
            }
        }
        self.filed.insert(sub, buckets);
    }

    pub fn remove(&mut self, sub: &K) {
        for bucket in self.filed.remove(sub).unwrap_or_default() {
            if let Some(subs) = self.buckets.get_mut(&bucket) {
                subs.remove(sub);
                if subs.is_empty() {
                    self.buckets.remove(&bucket);
                }
            }
        }
    }

    /// The subscriptions whose read sets contain a key of `writes`.
    pub fn affected(&self, writes: &WriteSet) -> BTreeSet<K> {
        let mut hit = BTreeSet::new();
        for written in &writes.keys {
            let prefixes = std::iter::once(0).chain(written.ends.iter().copied());
            for end in prefixes {
                let bucket = (written.table.clone(), written.index.clone(), written.key[..end].to_vec());
                let Some(subs) = self.buckets.get(&bucket) else {
                    continue;
                };
                for (sub, ranges) in subs {
                    if !hit.contains(sub) && ranges.iter().any(|r| r.contains(&written.key)) {
                        hit.insert(sub.clone());
                    }
                }
            }
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::index_key::encode_key;
    use crate::model::value::Value;

    fn key(parts: &[Value]) -> (Vec<u8>, Vec<usize>) {
        let mut ends = Vec::new();
        let mut key = Vec::new();
        for p in parts {
            key.extend(encode_key(&[Some(p)]));
            ends.push(key.len());
        }
        (key, ends)
    }

    fn write(index: &str, parts: &[Value]) -> WriteSet {
        let (key, ends) = key(parts);
        WriteSet { keys: vec![WrittenKey { table: "t".into(), index: index.into(), key, ends }] }
    }

    fn s(x: &str) -> Value {
        Value::String(x.into())
    }

    #[test]
    fn only_subscriptions_whose_ranges_hold_the_key_are_affected() {
        let mut index = SubscriptionIndex::default();
        let ankara = KeyRange::prefix("t", "by_city", encode_key(&[Some(&s("Ankara"))]));
        let izmir = KeyRange::prefix("t", "by_city", encode_key(&[Some(&s("İzmir"))]));
        let everything = KeyRange::prefix("t", "by_city", Vec::new());
        index.insert(1, &ReadSet { ranges: vec![ankara] });
        index.insert(2, &ReadSet { ranges: vec![izmir] });
        index.insert(3, &ReadSet { ranges: vec![everything] });
        let w = write("by_city", &[s("Ankara"), Value::Number(1.0), s("id1")]);
        assert_eq!(index.affected(&w), BTreeSet::from([1, 3]));
        let other_index = write("by_status", &[s("Ankara")]);
        assert!(index.affected(&other_index).is_empty());
        index.remove(&3);
        assert_eq!(index.affected(&w), BTreeSet::from([1]));
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn bounded_ranges_check_their_bounds() {
        let mut index = SubscriptionIndex::default();
        // A page: the first keys of a list, up to (and including) the key of its last row.
        let (last, _) = key(&[Value::Number(5.0)]);
        let page = KeyRange {
            table: "t".into(),
            index: "i".into(),
            prefix: vec![],
            start: vec![],
            end: prefix_successor(&last),
        };
        index.insert("page1", &ReadSet { ranges: vec![page] });
        assert_eq!(index.affected(&write("i", &[Value::Number(3.0), s("x")])).len(), 1);
        assert!(index.affected(&write("i", &[Value::Number(7.0), s("x")])).is_empty());
    }

    #[test]
    fn read_sets_survive_their_text_form() {
        let rs = ReadSet {
            ranges: vec![
                KeyRange::prefix("t", "i", vec![7, 0, 255]),
                KeyRange { table: "t".into(), index: "j".into(), prefix: vec![], start: vec![1], end: None },
            ],
        };
        assert_eq!(ReadSet::from_text(&rs.to_text()), Some(rs));
        assert_eq!(ReadSet::from_text("garbage"), None);
    }
}
