//! Full-text search indexes, on SQLite FTS5.
//!
//! Each search index of a table keeps, per document, the folded words of its search field
//! (Turkish rules, see [`crate::model::text`]) in the FTS5 table `_search_words`, and `_search_map`
//! maps a document to its FTS5 row and says which table and index it belongs to. Only the
//! document's own words are in the FTS5 row: nothing a typed prefix could match but them
//! (an earlier layout tagged rows with an index token, which "z" matched in every row).
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
use crate::storage::{Sql, SqlValue, StorageError};

/// Words of a search that count.
pub const MAX_TERMS: usize = 16;
/// Documents a search considers.
pub const MAX_RESULTS: usize = 1024;

/// The stored layout of search rows; a change rebuilds every search index (see
/// [`super::migrate`]).
pub const LAYOUT: &str = "words-v2";

pub const MIGRATIONS: &[&str] = &[
    // The tagged layout before `words-v2`: its rows are rebuilt into `_search_words`.
    "DROP TABLE IF EXISTS _search",
    "CREATE VIRTUAL TABLE IF NOT EXISTS _search_words USING fts5(body, tokenize = 'unicode61')",
    "CREATE TABLE IF NOT EXISTS _search_map (
        tbl TEXT NOT NULL, idx TEXT NOT NULL, id TEXT NOT NULL, rid INTEGER NOT NULL,
        PRIMARY KEY (tbl, idx, id)) WITHOUT ROWID",
];

/// `word` as an FTS5 string (words are letters and digits, but quoting keeps typed text from
/// ever being read as FTS5 syntax).
fn quoted(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

fn next_row_id(sql: &dyn Sql) -> Result<i64, StorageError> {
    let rows = sql.exec(
        "INSERT INTO _meta (key, value) VALUES ('search_rid', 1)
         ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value",
        &[],
    )?;
    Ok(rows.first().and_then(|r| r.first()).and_then(SqlValue::as_integer).unwrap_or(1))
}

/// Indexes `doc` in every search index of its table.
pub fn add_entries(sql: &dyn Sql, table: &TableDef, doc: &Document) -> Result<(), StorageError> {
    for search in &table.search_indexes {
        add_entry(sql, &table.name, &search.name, &search.search_field, doc)?;
    }
    Ok(())
}

pub fn add_entry(sql: &dyn Sql, table: &str, index: &str, field: &str, doc: &Document) -> Result<(), StorageError> {
    let text = match doc.get_path(field) {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let body = text::words(&text).join(" ");
    let rid = next_row_id(sql)?;
    sql.exec("INSERT INTO _search_words (rowid, body) VALUES (?, ?)", &[rid.into(), body.into()])?;
    sql.exec(
        "INSERT INTO _search_map (tbl, idx, id, rid) VALUES (?, ?, ?, ?)",
        &[table.into(), index.into(), doc.id.as_str().into(), rid.into()],
    )?;
    Ok(())
}

/// Removes `doc` from every search index of its table.
pub fn remove_entries(sql: &dyn Sql, table: &TableDef, doc: &Document) -> Result<(), StorageError> {
    for search in &table.search_indexes {
        let rows = sql.exec(
            "DELETE FROM _search_map WHERE tbl = ? AND idx = ? AND id = ? RETURNING rid",
            &[table.name.as_str().into(), search.name.as_str().into(), doc.id.as_str().into()],
        )?;
        for row in rows {
            sql.exec("DELETE FROM _search_words WHERE rowid = ?", &[row.first().cloned().unwrap_or(SqlValue::Null)])?;
        }
    }
    Ok(())
}

/// Drops every entry of one search index (before a rebuild, or when it is removed).
pub fn drop_index(sql: &dyn Sql, table: &str, index: &str) -> Result<(), StorageError> {
    let rows =
        sql.exec("DELETE FROM _search_map WHERE tbl = ? AND idx = ? RETURNING rid", &[table.into(), index.into()])?;
    for row in rows {
        sql.exec("DELETE FROM _search_words WHERE rowid = ?", &[row.first().cloned().unwrap_or(SqlValue::Null)])?;
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
        let mut query: Vec<String> = rest.iter().map(|w| quoted(w)).collect();
        query.push(format!("{}*", quoted(last)));
        let rows = self.tx.sql.exec(
            "SELECT d.id, d.creation_time, d.body FROM _search_words s
             JOIN _search_map m ON m.rid = s.rowid
             JOIN _docs d ON d.tbl = m.tbl AND d.id = m.id
             WHERE _search_words MATCH ? AND m.tbl = ? AND m.idx = ?
             ORDER BY bm25(_search_words), d.creation_time DESC LIMIT ?",
            &[
                query.join(" ").into(),
                self.table.as_str().into(),
                self.index.as_str().into(),
                (MAX_RESULTS as i64).into(),
            ],
        )?;
        self.tx.count_scanned(rows.len())?;
        let mut docs = Vec::with_capacity(rows.len());
        for row in rows {
            let stored = store::decode_document(&row)?;
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
        for m in store::MIGRATIONS.iter().chain(MIGRATIONS) {
            sql.exec(m, &[]).unwrap();
        }
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
