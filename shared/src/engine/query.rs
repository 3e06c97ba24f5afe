//! Index range queries.
//!
//! `tx.query("beneficiaries").with_index("by_status").eq("AKTIF").order(Order::Desc).take(50)`
//!
//! A range is: equality on a prefix of the index's fields, then at most one lower and one
//! upper bound on the next field. Results come in index order (then creation time, then id).
//! `filter` drops documents after they are read: it narrows the result, not the read set, so
//! a filtered query still re-runs when any document of its range changes (correct, if
//! sometimes in vain; a better index avoids it).
//!
//! Pagination:
//! - [`Query::paginate`]: cursor pages. A cursor is the key of the last document of the
//!   previous page; the next page starts strictly after it, so pages never overlap and never
//!   skip a row however many rows are inserted or deleted in between. A live page is pinned
//!   to the end cursor of its first run (the subscription's journal): inserts inside it grow
//!   it, deletes shrink it, and it never swallows the next page's rows.
//! - [`Query::offset_page`]: `skip`/`limit` with the exact `total`, for admin tables.

use super::error::FnError;
use super::read_set::KeyRange;
use super::reads::Reads;
use super::store::{self, Document, BY_CREATION_TIME};
use crate::model::index_key::{encode_value, prefix_successor};
use crate::model::validation::ValidationError;
use crate::model::value::Value;
use crate::storage::IndexScan;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use std::ops::Bound;

/// Rows fetched per scan of the store while scanning.
const BATCH: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// A request for one cursor page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub num_items: usize,
    /// Where the previous page ended; `None` for the first page.
    pub cursor: Option<String>,
}

/// One cursor page.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub page: Vec<Document>,
    /// Pass as `cursor` to get the next page.
    pub continue_cursor: String,
    pub is_done: bool,
}

/// One offset page with the exact number of matching documents.
#[derive(Clone, Debug, PartialEq)]
pub struct OffsetPage {
    pub documents: Vec<Document>,
    pub total: usize,
}

type Filter<'q> = Box<dyn Fn(&Document) -> bool + 'q>;

pub struct Query<'t, 'a> {
    tx: &'t mut Reads<'a>,
    table: String,
    index: String,
    fields: Vec<String>,
    eq: Vec<Value>,
    lower: Option<(Value, bool)>,
    upper: Option<(Value, bool)>,
    order: Order,
    filters: Vec<Filter<'t>>,
    error: Option<FnError>,
}

/// What a scan found: the documents, the key where it stopped (the last document returned,
/// or the end of the range when it ran out), and whether it ran out.
struct Scan {
    docs: Vec<Document>,
    last: Option<Vec<u8>>,
    exhausted: bool,
}

/// A key range as bytes: `start <= key < end` (`end == None`: unbounded).
struct Bounds {
    prefix: Vec<u8>,
    start: Vec<u8>,
    end: Option<Vec<u8>>,
}

/// The smallest key after every key that starts with `key` (keys are self-delimiting, so
/// this is the first key after `key` itself).
fn after(key: &[u8]) -> Option<Vec<u8>> {
    prefix_successor(key)
}

impl<'t, 'a> Query<'t, 'a> {
    pub(super) fn new(tx: &'t mut Reads<'a>, table: &str) -> Self {
        let error = tx.readable_table(table).err();
        Self {
            tx,
            table: table.to_string(),
            index: BY_CREATION_TIME.into(),
            fields: vec!["_creationTime".into()],
            eq: Vec::new(),
            lower: None,
            upper: None,
            order: Order::Asc,
            filters: Vec::new(),
            error,
        }
    }

    fn fail(mut self, message: String) -> Self {
        self.error.get_or_insert(FnError::BadQuery(message));
        self
    }

    /// Reads through the named index of the table.
    pub fn with_index(mut self, name: &str) -> Self {
        let table = self.tx.schema.table(&self.table);
        let found = table.and_then(|t| t.indexes.iter().find(|i| i.name == name)).map(|i| i.fields.clone());
        // An index orders and narrows by its fields' values: reading through one on a field
        // the caller may not read would reveal those values (which documents hold a given TC
        // number, in which order). The function gets the refusal, named.
        for field in found.iter().flatten() {
            if let Some(access) = table.and_then(|t| t.field_access.get(field)) {
                if let Err(e) = self.tx.check(*access, || format!("reading {} by {field}", self.table)) {
                    self.error.get_or_insert(e);
                }
            }
        }
        match found {
            Some(fields) => {
                self.index = name.to_string();
                self.fields = fields;
                self
            }
            None => {
                let table = self.table.clone();
                self.fail(format!("table {table} has no index named {name:?}"))
            }
        }
    }

    /// Equality on the next field of the index.
    pub fn eq(mut self, value: impl Into<Value>) -> Self {
        if self.lower.is_some() || self.upper.is_some() {
            return self.fail("eq() must come before range bounds".into());
        }
        if self.eq.len() >= self.fields.len() {
            let (index, n) = (self.index.clone(), self.fields.len());
            return self.fail(format!("index {index} has {n} field(s); eq() was given once too often"));
        }
        self.eq.push(value.into());
        self
    }

    fn bound(mut self, value: Value, lower: bool, inclusive: bool) -> Self {
        if self.eq.len() >= self.fields.len() {
            let index = self.index.clone();
            return self.fail(format!("index {index} has no field left for a range bound after the eq()s"));
        }
        let slot = if lower { &mut self.lower } else { &mut self.upper };
        if slot.is_some() {
            return self.fail("only one lower and one upper bound are allowed".into());
        }
        *slot = Some((value, inclusive));
        self
    }

    pub fn gt(self, v: impl Into<Value>) -> Self {
        self.bound(v.into(), true, false)
    }
    pub fn gte(self, v: impl Into<Value>) -> Self {
        self.bound(v.into(), true, true)
    }
    pub fn lt(self, v: impl Into<Value>) -> Self {
        self.bound(v.into(), false, false)
    }
    pub fn lte(self, v: impl Into<Value>) -> Self {
        self.bound(v.into(), false, true)
    }

    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Keeps only documents for which `keep` holds.
    pub fn filter(mut self, keep: impl Fn(&Document) -> bool + 't) -> Self {
        self.filters.push(Box::new(keep));
        self
    }

    /// At most `n` documents.
    pub fn take(mut self, n: usize) -> Result<Vec<Document>, FnError> {
        Ok(self.scan(Some(n), None, None)?.docs)
    }

    /// Every document in the range.
    pub fn collect(mut self) -> Result<Vec<Document>, FnError> {
        Ok(self.scan(None, None, None)?.docs)
    }

    /// The first document, if any.
    pub fn first(self) -> Result<Option<Document>, FnError> {
        Ok(self.take(1)?.into_iter().next())
    }

    /// The only document, if any; more than one is an error (the caller assumed a unique key).
    pub fn unique(self) -> Result<Option<Document>, FnError> {
        let table = self.table.clone();
        let mut docs = self.take(2)?;
        if docs.len() > 1 {
            return Err(FnError::BadQuery(format!("unique() found more than one {table} document")));
        }
        Ok(docs.pop())
    }

    /// One cursor page (see the module docs).
    pub fn paginate(mut self, request: PageRequest) -> Result<Page, FnError> {
        let cursor = match request.cursor.as_deref() {
            None | Some("") => None,
            // Cursors come from clients: a tampered one is bad input, not a bug.
            Some(text) => Some(B64.decode(text).map_err(|_| {
                ValidationError::new(
                    "paginationOpts.cursor",
                    "a cursor returned by an earlier page (or null for the first page)",
                    format!("{} characters that are not one", text.chars().count()),
                )
            })?),
        };
        let pinned = self.tx.journal_in.take().and_then(|j| B64.decode(j).ok());
        match pinned {
            // A re-run of a live page: exactly the range of its first run, whatever its size
            // now, so it neither loses rows to the next page nor takes rows from it.
            Some(end) => {
                let page = self.scan(None, cursor, Some(end.clone()))?.docs;
                let continue_cursor = B64.encode(&end);
                self.tx.journal_out = Some(continue_cursor.clone());
                Ok(Page { page, continue_cursor, is_done: false })
            }
            None => {
                let Scan { docs: page, last, exhausted } = self.scan(Some(request.num_items.max(1)), cursor, None)?;
                let continue_cursor = B64.encode(last.unwrap_or_default());
                if !exhausted {
                    self.tx.journal_out = Some(continue_cursor.clone());
                }
                Ok(Page { page, continue_cursor, is_done: exhausted })
            }
        }
    }

    /// `limit` documents after skipping `skip`, and how many match in all.
    pub fn offset_page(mut self, skip: usize, limit: usize) -> Result<OffsetPage, FnError> {
        let docs = self.scan(None, None, None)?.docs;
        let total = docs.len();
        Ok(OffsetPage { documents: docs.into_iter().skip(skip).take(limit).collect(), total })
    }

    fn bounds(&self) -> Bounds {
        let mut prefix = Vec::new();
        for v in &self.eq {
            encode_value(v, &mut prefix);
        }
        let mut start = prefix.clone();
        let mut end = prefix_successor(&prefix);
        if let Some((v, inclusive)) = &self.lower {
            let mut k = prefix.clone();
            encode_value(v, &mut k);
            start = if *inclusive { k } else { after(&k).unwrap_or(k) };
        }
        if let Some((v, inclusive)) = &self.upper {
            let mut k = prefix.clone();
            encode_value(v, &mut k);
            end = if *inclusive { after(&k) } else { Some(k) };
        }
        Bounds { prefix, start, end }
    }

    /// Scans the range in order, after `cursor` (exclusive) and up to `until` (inclusive),
    /// keeping at most `limit` documents that pass the filters. Records the part of the
    /// range it covered in the read set. Returns the documents, the key of the last one
    /// returned (or of the range end reached), and whether the range was exhausted.
    fn scan(&mut self, limit: Option<usize>, cursor: Option<Vec<u8>>, until: Option<Vec<u8>>) -> Result<Scan, FnError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let Bounds { prefix, mut start, mut end } = self.bounds();
        match self.order {
            Order::Asc => {
                if let Some(c) = &cursor {
                    start = start.max(after(c).unwrap_or_else(|| c.clone()));
                }
                if let Some(u) = &until {
                    end = match (end, after(u)) {
                        (Some(e), Some(a)) => Some(e.min(a)),
                        (e, a) => e.or(a),
                    };
                }
            }
            Order::Desc => {
                if let Some(c) = &cursor {
                    end = Some(match end {
                        Some(e) => e.min(c.clone()),
                        None => c.clone(),
                    });
                }
                if let Some(u) = &until {
                    start = start.max(u.clone());
                }
            }
        }
        let mut docs = Vec::new();
        let mut last_key: Option<Vec<u8>> = None; // last key scanned (in scan order)
        let mut last_returned: Option<Vec<u8>> = None;
        let mut exhausted = false;
        let mut position = match self.order {
            Order::Asc => start.clone(),
            Order::Desc => end.clone().unwrap_or_else(|| vec![0xFF; 1]),
        };
        let mut first_batch = true;
        'scan: loop {
            // Without filters every row is kept: fetch no more than the limit still needs.
            let batch = match limit {
                Some(n) if self.filters.is_empty() => (n - docs.len()).clamp(1, BATCH),
                _ => BATCH,
            };
            let rows = self.fetch(&start, end.as_deref(), &position, first_batch, batch)?;
            first_batch = false;
            self.tx.count_scanned(rows.len())?;
            let fetched = rows.len();
            for (key, doc) in rows {
                position = key.clone();
                last_key = Some(key.clone());
                if self.filters.iter().all(|keep| keep(&doc)) {
                    docs.push(doc);
                    last_returned = Some(key);
                    if limit.is_some_and(|n| docs.len() >= n) {
                        break 'scan;
                    }
                }
            }
            if fetched < batch {
                exhausted = true;
                break;
            }
        }
        // The covered range: from the scan's start to the last key looked at, or the whole
        // range when it ran out.
        let covered = match (self.order, exhausted, &last_key) {
            (_, true, _) | (_, false, None) => KeyRange {
                table: self.table.clone(),
                index: self.index.clone(),
                prefix: prefix.clone(),
                start: start.clone(),
                end: end.clone(),
            },
            (Order::Asc, false, Some(k)) => KeyRange {
                table: self.table.clone(),
                index: self.index.clone(),
                prefix: prefix.clone(),
                start: start.clone(),
                end: after(k),
            },
            (Order::Desc, false, Some(k)) => KeyRange {
                table: self.table.clone(),
                index: self.index.clone(),
                prefix: prefix.clone(),
                start: k.clone(),
                end: end.clone(),
            },
        };
        self.tx.read_set.add(covered);
        let last = if exhausted { end_marker(self.order, &start, end.as_deref()) } else { last_returned };
        Ok(Scan { docs, last, exhausted })
    }

    /// One batch of `(key, document)` rows after `position` (exclusive) in scan order.
    fn fetch(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        position: &[u8],
        first: bool,
        batch: usize,
    ) -> Result<Vec<(Vec<u8>, Document)>, FnError> {
        let (low, high) = match self.order {
            Order::Asc => (
                if first { Bound::Included(position) } else { Bound::Excluded(position) },
                end.map_or(Bound::Unbounded, Bound::Excluded),
            ),
            Order::Desc => (
                Bound::Included(start),
                if first && end.is_none() { Bound::Unbounded } else { Bound::Excluded(position) },
            ),
        };
        let scan = IndexScan {
            table: &self.table,
            index: &self.index,
            low,
            high,
            descending: self.order == Order::Desc,
            limit: batch,
        };
        let def = self.tx.table(&self.table)?;
        let rows = self.tx.store.scan(&scan)?;
        rows.into_iter().map(|(key, stored)| Ok((key, self.tx.visible(def, store::decode_document(stored)?)))).collect()
    }
}

/// The cursor meaning "the end of this range" in scan order.
fn end_marker(order: Order, start: &[u8], end: Option<&[u8]>) -> Option<Vec<u8>> {
    match order {
        Order::Asc => Some(end.map(|e| e.to_vec()).unwrap_or_else(|| vec![0xFF; 9])),
        Order::Desc => Some(start.to_vec()),
    }
}

#[cfg(test)]
mod tests;
