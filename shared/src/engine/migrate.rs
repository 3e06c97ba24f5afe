//! Bringing stored data in line with the schema the code was built with.
//!
//! A room remembers the schema hash and the index layout it last materialized. When a room
//! opens with a different schema (a deploy), [`migrate`] — in one transaction — checks every
//! stored document against the new schema, builds the entries of new indexes and unique keys,
//! drops those of removed ones, and records the new layout. If any document violates the new
//! schema (a new required field, a narrowed enum, a duplicate under a new unique key), nothing
//! changes and the error lists the problems with document ids: fix the data or the schema, then
//! deploy again. Data of tables that left the schema is kept, untouched.
//!
//! Opening with an unchanged schema costs one read.

use super::store::{self, Document};
use crate::model::schema::Schema;
use crate::model::value::Value;
use crate::storage::{DocStore, Sql, SqlValue, StorageError};
use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;

pub const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS _schema (key TEXT PRIMARY KEY, value TEXT NOT NULL)"];

/// Problems reported at most (the total is always given).
const MAX_REPORTED: usize = 10;

/// What a migration did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// `table.index` entries built (new or changed indexes and unique keys).
    pub built: Vec<String>,
    /// `table.index` entries dropped.
    pub dropped: Vec<String>,
    pub documents_checked: usize,
}

/// The index layout of a schema: per table, index name → fields (unique keys as `unique:a+b`).
fn layout(schema: &Schema) -> Json {
    let mut tables = Map::new();
    for table in schema.tables() {
        let mut indexes = Map::new();
        for (name, fields) in store::indexes(table) {
            indexes.insert(name, json!(fields));
        }
        for unique in &table.uniques {
            indexes.insert(format!("unique:{}", store::unique_name(unique)), json!(unique.fields));
        }
        for search in &table.search_indexes {
            indexes.insert(format!("search:{}", search.name), json!([search.search_field, super::search::LAYOUT]));
        }
        tables.insert(table.name.clone(), Json::Object(indexes));
    }
    Json::Object(tables)
}

fn stored(sql: &dyn Sql, key: &str) -> Result<Option<String>, StorageError> {
    let rows = sql.exec("SELECT value FROM _schema WHERE key = ?", &[key.into()])?;
    Ok(rows.first().and_then(|r| r.first()).and_then(SqlValue::as_text).map(str::to_string))
}

fn store_value(sql: &dyn Sql, key: &str, value: String) -> Result<(), StorageError> {
    sql.exec(
        "INSERT INTO _schema (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[key.into(), value.into()],
    )?;
    Ok(())
}

fn documents(store: &dyn DocStore, table: &str) -> Result<Vec<Document>, StorageError> {
    store.documents(table)?.into_iter().map(store::decode_document).collect()
}

/// Migrates stored data to `schema` (see the module docs). Run inside `Sql::atomically`.
/// The schema's own bookkeeping is SQL (`_schema`); documents and their rows go through the
/// typed [`DocStore`] every `Sql` store is.
pub fn migrate<S: Sql>(sql: &S, schema: &Schema) -> Result<MigrationReport, StorageError> {
    let docs_store: &dyn DocStore = sql;
    // The stored layout's version is part of what must match: a build that stores index rows
    // another way rebuilds them even when the schema did not change.
    let hash = format!("{}/search-{}", schema.hash(), super::search::LAYOUT);
    if stored(sql, "hash")?.as_deref() == Some(hash.as_str()) {
        return Ok(MigrationReport::default());
    }
    let old: Json = stored(sql, "layout")?.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or(json!({}));
    let new = layout(schema);
    let mut report = MigrationReport::default();
    let mut problems: Vec<String> = Vec::new();
    let mut problem_count = 0usize;
    let mut problem = |text: String| {
        problem_count += 1;
        if problems.len() < MAX_REPORTED {
            problems.push(text);
        }
    };
    for table in schema.tables() {
        let docs = documents(docs_store, &table.name)?;
        report.documents_checked += docs.len();
        for doc in &docs {
            if let Err(e) = table.validate_insert(&Value::Object(doc.fields.clone())) {
                problem(format!("{} {}: {e}", table.name, doc.id));
            }
        }
        let old_indexes = old.get(&table.name).and_then(Json::as_object).cloned().unwrap_or_default();
        let new_indexes = new.get(&table.name).and_then(Json::as_object).cloned().unwrap_or_default();
        for (name, fields) in &new_indexes {
            if old_indexes.get(name) == Some(fields) {
                continue;
            }
            report.built.push(format!("{}.{name}", table.name));
            if let Some(search) = name.strip_prefix("search:") {
                docs_store.clear_search_index(&table.name, search)?;
                let field = fields.get(0).and_then(Json::as_str).unwrap_or_default();
                for doc in &docs {
                    super::search::add_entry(docs_store, &table.name, search, field, doc)?;
                }
                continue;
            }
            match name.strip_prefix("unique:") {
                Some(key) => {
                    docs_store.clear_unique(&table.name, key)?;
                    let unique = table.uniques.iter().find(|u| store::unique_name(u) == key);
                    let mut holders: BTreeMap<Vec<u8>, &Document> = BTreeMap::new();
                    for doc in &docs {
                        let Some(k) = unique.and_then(|u| store::unique_key(doc, u)) else { continue };
                        if let Some(first) = holders.get(&k) {
                            problem(format!(
                                "{}: new unique key {key}: documents {} and {} hold the same value",
                                table.name, first.id, doc.id
                            ));
                            continue;
                        }
                        docs_store.put_unique(&table.name, key, &k, doc.id.as_str())?;
                        holders.insert(k, doc);
                    }
                }
                None => {
                    docs_store.clear_index(&table.name, name)?;
                    let fields: Vec<String> = fields
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect();
                    for doc in &docs {
                        let (key, _) = store::index_key(doc, &fields);
                        docs_store.put_index_row(&table.name, name, &key, doc.id.as_str())?;
                    }
                }
            }
        }
        for name in old_indexes.keys().filter(|n| !new_indexes.contains_key(*n)) {
            report.dropped.push(format!("{}.{name}", table.name));
            if let Some(search) = name.strip_prefix("search:") {
                docs_store.clear_search_index(&table.name, search)?;
                continue;
            }
            match name.strip_prefix("unique:") {
                Some(key) => docs_store.clear_unique(&table.name, key)?,
                None => docs_store.clear_index(&table.name, name)?,
            }
        }
    }
    if problem_count > 0 {
        let more = problem_count.saturating_sub(problems.len());
        let tail = if more > 0 { format!("\n- … and {more} more") } else { String::new() };
        return Err(StorageError::Corrupt(format!(
            "schema change refused: {problem_count} stored document(s) do not fit the new schema; nothing was changed. \
             Fix the data or the schema and deploy again:\n- {}{tail}",
            problems.join("\n- ")
        )));
    }
    store_value(sql, "layout", new.to_string())?;
    store_value(sql, "hash", hash)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::environment::TestEnvironment;
    use crate::engine::{FnError, Tx};
    use crate::model::schema::{define_schema, table};
    use crate::model::validator::v;
    use crate::storage::sqlite::NativeSql;
    use serde_json::json;

    fn db() -> NativeSql {
        let sql = NativeSql::in_memory().unwrap();
        crate::storage::sql_docs::create_document_tables(&sql).unwrap();
        for m in MIGRATIONS {
            sql.exec(m, &[]).unwrap();
        }
        sql
    }

    fn people(
        extra: Vec<(&str, crate::model::validator::Validator)>,
    ) -> Vec<(&str, crate::model::validator::Validator)> {
        let mut fields = vec![("name", v::string()), ("city", v::string())];
        fields.extend(extra);
        fields
    }

    fn insert(sql: &NativeSql, schema: &Schema, env: &mut TestEnvironment, doc: Json) -> String {
        env.now_ms += 1.0;
        let mut tx = Tx::writer(sql, schema, env);
        tx.insert("people", Value::from_json(&doc, "d").unwrap()).unwrap().to_string()
    }

    fn cities(sql: &NativeSql, schema: &Schema, city: &str) -> Result<usize, FnError> {
        Ok(Tx::reader(sql, schema, None).query("people").with_index("by_city").eq(city).collect()?.len())
    }

    #[test]
    fn new_indexes_are_built_and_bad_changes_refused_without_touching_data() {
        let sql = db();
        let mut env = TestEnvironment::new(1.0);
        let v1 = define_schema(crate::app::roles::ROLES, [table("people", people(vec![]))]).unwrap();
        assert_eq!(migrate(&sql, &v1).unwrap().built, ["people.by_creation_time"]);
        assert_eq!(migrate(&sql, &v1).unwrap(), MigrationReport::default(), "unchanged schema: no work");
        let a = insert(&sql, &v1, &mut env, json!({"name": "Ayşe", "city": "Ankara"}));
        let b = insert(&sql, &v1, &mut env, json!({"name": "Ali", "city": "Ankara"}));

        // A new index: built for the documents already there.
        let v2 = define_schema(crate::app::roles::ROLES, [table("people", people(vec![])).index("by_city", ["city"])])
            .unwrap();
        let report = migrate(&sql, &v2).unwrap();
        assert_eq!(report.built, ["people.by_city"]);
        assert_eq!(report.documents_checked, 2);
        assert_eq!(cities(&sql, &v2, "Ankara").unwrap(), 2);

        // A new required field: refused, naming the documents; nothing changes.
        let v3 = define_schema(
            crate::app::roles::ROLES,
            [table("people", people(vec![("age", v::number())])).index("by_city", ["city"])],
        )
        .unwrap();
        let err = migrate(&sql, &v3).unwrap_err().to_string();
        assert!(err.contains("schema change refused: 2 stored document(s) do not fit the new schema"), "{err}");
        assert!(err.contains(&format!("people {a}: people.age: expected number (required), found nothing")), "{err}");
        // A new unique key with duplicates: refused, naming both holders.
        let v4 = define_schema(
            crate::app::roles::ROLES,
            [table("people", people(vec![])).index("by_city", ["city"]).unique(["city"])],
        )
        .unwrap();
        let err = migrate(&sql, &v4).unwrap_err().to_string();
        let (first, second) = if a < b { (&a, &b) } else { (&b, &a) };
        assert!(
            err.contains(&format!("new unique key city: documents {first} and {second} hold the same value")),
            "{err}"
        );

        // A removed index: its entries are dropped.
        let report = migrate(&sql, &v1).unwrap();
        assert_eq!(report.dropped, ["people.by_city"]);
        let left = sql.exec("SELECT COUNT(*) FROM _idx WHERE idx = 'by_city'", &[]).unwrap();
        assert_eq!(left[0][0], SqlValue::Integer(0));
    }
}
