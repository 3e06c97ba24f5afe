//! Full-text search indexes (in a room: SQLite FTS5, see `storage/sql_docs.rs`).
//!
//! Each search index of a table keeps, per document, the folded words of its search field
//! (Turkish rules, see [`crate::model::text`]) as the document's search entry in the store.
//! Only the document's own words are in the entry: nothing a typed prefix could match but
//! them (an earlier layout tagged rows with an index token, which "z" matched in every row).
//! Folding happens in Rust, identically for documents and for what people type, so
//! "İSTANBUL", "Istanbul" and "istanbul" meet as one word — FTS5's own Unicode folding does
//! not know the Turkish dotted and dotless i.
//!
//! A search matches documents holding every typed word, the last one as a prefix, ordered by
//! relevance (BM25). At most [`MAX_TERMS`] words count and at most [`MAX_RESULTS`] documents
//! are considered, as in Convex. Words go to FTS5 quoted (typed text is never FTS5 syntax),
//! and every candidate is checked against the words in Rust: FTS5 drops what its tokenizer
//! does not keep (a lone combining mark), and that must narrow a search, never widen it.
//! Filter fields narrow by equality after the match.
//!
//! Reactivity: a search reads the whole table (its read set is the table's creation-time
//! range), so any write to the table re-runs it. Correct, and cheap at the sizes of one
//! organisation's data.

use super::error::FnError;
use super::read_set::KeyRange;
use super::reads::Reads;
use super::store::{self, Document, BY_CREATION_TIME};
use crate::model::schema::TableDef;
use crate::model::text;
use crate::model::value::Value;
use crate::storage::{DocStore, StorageError};

/// Words of a search that count.
pub const MAX_TERMS: usize = 16;
/// Documents a search considers.
pub const MAX_RESULTS: usize = 1024;

/// The stored layout of search rows; a change rebuilds every search index (see
/// [`super::migrate`]).
pub use crate::storage::sql_docs::SEARCH_LAYOUT as LAYOUT;

/// Indexes `doc` in every search index of its table.
pub fn add_entries(store: &dyn DocStore, table: &TableDef, doc: &Document) -> Result<(), StorageError> {
    for search in &table.search_indexes {
        add_entry(store, &table.name, &search.name, &search.search_field, doc)?;
    }
    Ok(())
}

/// Indexes `doc` in one search index, under the folded words of `field`.
pub fn add_entry(
    store: &dyn DocStore,
    table: &str,
    index: &str,
    field: &str,
    doc: &Document,
) -> Result<(), StorageError> {
    let text = match doc.get_path(field) {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    store.put_search_entry(table, index, doc.id.as_str(), &text::words(&text).join(" "))
}

/// Removes `doc` from every search index of its table.
pub fn remove_entries(store: &dyn DocStore, table: &TableDef, doc: &Document) -> Result<(), StorageError> {
    for search in &table.search_indexes {
        store.delete_search_entry(&table.name, &search.name, doc.id.as_str())?;
    }
    Ok(())
}

/// A search over one search index: `tx.search("beneficiaries", "by_search", "ayşe yıl").eq("phone", x).take(20)`.
pub struct Search<'t, 'a> {
    tx: &'t mut Reads<'a>,
    table: String,
    index: String,
    text: String,
    filters: Vec<(String, Value)>,
}

impl<'t, 'a> Search<'t, 'a> {
    pub(super) fn new(tx: &'t mut Reads<'a>, table: &str, index: &str, text: &str) -> Self {
        Self { tx, table: table.into(), index: index.into(), text: text.into(), filters: Vec::new() }
    }

    /// Keeps documents whose filter field equals `value`.
    pub fn eq(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.filters.push((field.to_string(), value.into()));
        self
    }

    /// The `n` most relevant matching documents.
    pub fn take(self, n: usize) -> Result<Vec<Document>, FnError> {
        let mut all = self.collect()?;
        all.truncate(n);
        Ok(all)
    }

    /// Every matching document (at most [`MAX_RESULTS`]), most relevant first.
    pub fn collect(self) -> Result<Vec<Document>, FnError> {
        let table = self.tx.readable_table(&self.table)?;
        let Some(def) = table.search_indexes.iter().find(|s| s.name == self.index) else {
            return Err(FnError::BadQuery(format!("table {} has no search index named {:?}", self.table, self.index)));
        };
        if let Some((field, _)) = self.filters.iter().find(|(f, _)| !def.filter_fields.contains(f)) {
            return Err(FnError::BadQuery(format!(
                "search index {} has no filter field {field:?} (filter fields: {})",
                def.name,
                def.filter_fields.join(", ")
            )));
        }
        // Searching a field, or filtering by one, reveals its values: only for callers who
        // may read it.
        for field in std::iter::once(&def.search_field).chain(self.filters.iter().map(|(f, _)| f)) {
            if let Some(access) = table.field_access.get(field) {
                self.tx.check(*access, || format!("searching {} by {field}", self.table))?;
            }
        }
        // Any write to the table may change the result.
        self.tx.read_set.add(KeyRange::prefix(&self.table, BY_CREATION_TIME, Vec::new()));
        let words: Vec<String> = text::words(&self.text).into_iter().take(MAX_TERMS).collect();
        let Some((last, rest)) = words.split_last() else { return Ok(Vec::new()) };
        let rows = self.tx.store.search(&self.table, &self.index, &words, MAX_RESULTS)?;
        self.tx.count_scanned(rows.len())?;
        let mut docs = Vec::with_capacity(rows.len());
        for row in rows {
            let stored = store::decode_document(row)?;
            let field_words = match stored.get_path(&def.search_field) {
                Some(Value::String(s)) => text::words(&s),
                _ => Vec::new(),
            };
            let holds_words = rest.iter().all(|w| field_words.contains(w))
                && field_words.iter().any(|w| w.starts_with(last.as_str()));
            let doc = self.tx.visible(table, stored);
            if holds_words && self.filters.iter().all(|(field, value)| doc.get_path(field).as_ref() == Some(value)) {
                docs.push(doc);
            }
        }
        Ok(docs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::environment::TestEnvironment;
    use crate::engine::Tx;
    use crate::model::schema::{define_schema, table, Schema};
    use crate::model::validator::v;
    use crate::storage::sqlite::NativeSql;
    use serde_json::json;

    fn schema() -> Schema {
        define_schema(
            crate::app::roles::ROLES,
            [table("people", [("name", v::string()), ("city", v::string())]).search_index("by_name", "name", ["city"])],
        )
        .unwrap()
    }

    fn names(docs: &[Document]) -> Vec<&str> {
        docs.iter().map(|d| d.fields["name"].as_str().unwrap()).collect()
    }

    #[test]
    fn turkish_search_with_prefix_filters_and_relevance() {
        let sql = NativeSql::in_memory().unwrap();
        crate::storage::sql_docs::create_document_tables(&sql).unwrap();
        let schema = schema();
        let mut env = TestEnvironment::new(1.0);
        let mut ids = Vec::new();
        for (name, city) in [
            ("Ayşe Yılmaz", "İstanbul"),
            ("Ayten Kaya", "Ankara"),
            ("İSMAİL ÇELİK", "ISPARTA"),
            ("Şükrü Ayşe Öztürk", "İstanbul"),
        ] {
            env.now_ms += 1.0;
            let mut tx = Tx::writer(&sql, &schema, &mut env);
            ids.push(
                tx.insert("people", Value::from_json(&json!({"name": name, "city": city}), "d").unwrap()).unwrap(),
            );
        }
        let search = |text: &str, city: Option<&str>| {
            let mut tx = Tx::reader(&sql, &schema, None);
            let mut s = tx.search("people", "by_name", text);
            if let Some(c) = city {
                s = s.eq("city", c);
            }
            names(&s.collect().unwrap()).into_iter().map(str::to_string).collect::<Vec<_>>()
        };
        let mut ays = search("ayş", None);
        ays.sort();
        assert_eq!(ays, ["Ayşe Yılmaz", "Şükrü Ayşe Öztürk"]);
        assert_eq!(search("ayşe yıl", None), ["Ayşe Yılmaz"]);
        assert_eq!(search("ismail", None), ["İSMAİL ÇELİK"]);
        assert_eq!(search("ISMAIL celik", None), ["İSMAİL ÇELİK"]);
        assert_eq!(search("sukru", None), ["Şükrü Ayşe Öztürk"]);
        assert_eq!(search("ayse", Some("İstanbul")).len(), 2);
        assert!(search("zeynep", None).is_empty());
        assert!(search("   ", None).is_empty());

        // Updates and deletes keep the index in step.
        env.now_ms += 1.0;
        let mut tx = Tx::writer(&sql, &schema, &mut env);
        tx.patch("people", ids[0].as_str(), Value::from_json(&json!({"name": "Zeynep Yılmaz"}), "p").unwrap()).unwrap();
        tx.delete("people", ids[3].as_str()).unwrap();
        drop(tx);
        assert_eq!(search("zeynep", None), ["Zeynep Yılmaz"]);
        assert!(search("sukru", None).is_empty());
        assert_eq!(search("ay", None), ["Ayten Kaya"]);
        let err =
            Tx::reader(&sql, &schema, None).search("people", "by_name", "x").eq("name", "y").collect().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"bad query: search index by_name has no filter field "name" (filter fields: city)"#
        );
    }
}
