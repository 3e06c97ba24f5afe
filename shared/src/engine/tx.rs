//! A transaction over a room's documents. Reads record what they covered (the read set);
//! writes validate against the schema, keep indexes and unique keys in step, and record
//! what they changed (the write set). A mutation's transaction runs inside
//! an atomic block of its store ([`crate::storage::Sql::atomically`]), so all its writes
//! commit or none do.

use super::error::FnError;
use super::query::Query;
use super::read_set::{KeyRange, ReadSet, WriteSet, WrittenKey};
use super::store::{self, Document};
use crate::engine::environment::Environment;
use crate::model::ids::DocumentId;
use crate::model::index_key::encode_key;
use crate::model::schema::{Schema, TableDef};
use crate::model::validation::ValidationError;
use crate::model::value::Value;
use crate::storage::DocStore;
use std::collections::BTreeMap;

pub use super::reads::{Caller, Reads, BY_ID, MAX_SCANNED_DOCUMENTS};

/// A transaction: the read side ([`Reads`], which queries and searches borrow) plus what
/// writes need — the clock and entropy of the mutation, and the write set. It derefs to its
/// [`Reads`], so reads and access checks read the same on both.
pub struct Tx<'a> {
    reads: Reads<'a>,
    env: Option<&'a mut dyn Environment>,
    write_set: WriteSet,
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = Reads<'a>;
    fn deref(&self) -> &Reads<'a> {
        &self.reads
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.reads
    }
}

impl<'a> Tx<'a> {
    /// A read-only transaction (queries).
    pub fn reader(store: &'a dyn DocStore, schema: &'a Schema, journal: Option<String>) -> Self {
        Self { reads: Reads::new(store, schema, journal), env: None, write_set: WriteSet::default() }
    }

    /// A read-write transaction (mutations). Run it inside the store's atomic block.
    pub fn writer(store: &'a dyn DocStore, schema: &'a Schema, env: &'a mut dyn Environment) -> Self {
        Self { reads: Reads::new(store, schema, None), env: Some(env), write_set: WriteSet::default() }
    }

    /// Runs the transaction for `caller`: table rules refuse what the caller may not read
    /// or write, and field rules strip fields it may not read from every document it gets.
    pub fn for_caller(mut self, caller: Caller) -> Self {
        self.reads.caller = caller;
        self
    }

    fn writable_table(&self, table: &str) -> Result<&'a TableDef, FnError> {
        let def = self.table(table)?;
        self.check(def.writes(), || format!("writing {table}"))?;
        Ok(def)
    }

    /// What this transaction read, what it wrote, and the journal it pinned.
    pub fn finish(self) -> (ReadSet, WriteSet, Option<String>) {
        let (read_set, journal) = self.reads.finish();
        (read_set, self.write_set, journal)
    }

    fn id_key(id: &str) -> Vec<u8> {
        encode_key(&[Some(&Value::String(id.to_string()))])
    }

    /// Reads one document by id. An id of another table is a validation error.
    pub fn get(&mut self, table: &str, id: &str) -> Result<Option<Document>, FnError> {
        let def = self.readable_table(table)?;
        Ok(self.get_stored(table, id)?.map(|doc| self.visible(def, doc)))
    }

    /// Reads a document whole, whatever the caller may see (writes keep what it cannot).
    fn get_stored(&mut self, table: &str, id: &str) -> Result<Option<Document>, FnError> {
        self.table(table)?;
        DocumentId::parse_for_table(id, table).map_err(|found| {
            ValidationError::new(format!("{table}._id"), format!("id of a {table} document"), found.to_string())
        })?;
        self.read_set.add(KeyRange::prefix(table, BY_ID, Self::id_key(id)));
        self.count_scanned(1)?;
        Ok(store::load(self.store, table, id)?)
    }

    /// Starts a full-text search on one of the table's search indexes.
    pub fn search(&mut self, table: &str, index: &str, text: &str) -> super::search::Search<'_, 'a> {
        super::search::Search::new(&mut self.reads, table, index, text)
    }

    /// Starts a query over a table, by default in creation order.
    pub fn query(&mut self, table: &str) -> Query<'_, 'a> {
        Query::new(&mut self.reads, table)
    }

    /// The commit's wall-clock time (mutations only: a query that read the clock could not be
    /// kept up to date reactively).
    pub fn now_ms(&mut self) -> Result<f64, FnError> {
        Ok(self.env()?.now_ms())
    }

    fn env(&mut self) -> Result<&mut dyn Environment, FnError> {
        match self.env.as_mut() {
            Some(env) => Ok(&mut **env),
            None => Err(FnError::BadQuery("a query cannot write: use a mutation".into())),
        }
    }

    /// Inserts a document; returns its new id.
    pub fn insert(&mut self, table: &str, fields: Value) -> Result<DocumentId, FnError> {
        let env = self.env()?;
        let (now, random) = (env.now_ms(), env.random_u128());
        let def = self.writable_table(table)?;
        if let Value::Object(given) = &fields {
            self.check_writes_readable(def, given.keys())?;
        }
        def.validate_insert(&fields)?;
        let Value::Object(fields) = fields else { unreachable!("validate_insert accepts objects only") };
        let doc = Document { id: DocumentId::new(table, random), creation_time: now, fields };
        self.check_unique(def, &doc)?;
        self.store.insert_document(table, &store::encode_document(&doc))?;
        store::add_index_entries(self.store, def, &doc)?;
        super::search::add_entries(self.store, def, &doc)?;
        store::add_unique_entries(self.store, def, &doc)?;
        self.record_writes(def, None, Some(&doc));
        Ok(doc.id)
    }

    /// Sets the given fields of a document (others stay). The result must satisfy the schema.
    pub fn patch(&mut self, table: &str, id: &str, changes: Value) -> Result<(), FnError> {
        let Value::Object(changes) = changes else {
            return Err(ValidationError::new(table, "an object of fields to change", changes.type_name()).into());
        };
        let old = self.load_for_write(table, id)?;
        self.check_writes_readable(self.table(table)?, changes.keys())?;
        let mut fields = old.fields.clone();
        fields.extend(changes);
        self.store_update(table, old, fields)
    }

    /// Replaces all user fields of a document.
    pub fn replace(&mut self, table: &str, id: &str, fields: Value) -> Result<(), FnError> {
        let Value::Object(fields) = fields else {
            return Err(ValidationError::new(table, "an object (a document)", fields.type_name()).into());
        };
        let old = self.load_for_write(table, id)?;
        self.check_writes_readable(self.table(table)?, fields.keys())?;
        let mut fields = fields;
        // Fields the caller cannot read were not in what it was shown: keep them.
        for (field, access) in &self.table(table)?.field_access {
            if let (false, false, Some(kept)) = (self.may(*access), fields.contains_key(field), old.fields.get(field)) {
                fields.insert(field.clone(), kept.clone());
            }
        }
        self.store_update(table, old, fields)
    }

    /// Deletes a document.
    pub fn delete(&mut self, table: &str, id: &str) -> Result<(), FnError> {
        let def = self.writable_table(table)?;
        let old = self.load_for_write(table, id)?;
        store::remove_index_entries(self.store, def, &old)?;
        super::search::remove_entries(self.store, def, &old)?;
        self.store.delete_document(table, id)?;
        self.record_writes(def, Some(&old), None);
        Ok(())
    }

    fn load_for_write(&mut self, table: &str, id: &str) -> Result<Document, FnError> {
        self.env()?;
        self.writable_table(table)?;
        self.get_stored(table, id)?.ok_or_else(|| FnError::NotFound { table: table.into(), id: id.into() })
    }

    fn store_update(&mut self, table: &str, old: Document, fields: BTreeMap<String, Value>) -> Result<(), FnError> {
        let def = self.table(table)?;
        def.validate_insert(&Value::Object(fields.clone()))?;
        let new = Document { id: old.id.clone(), creation_time: old.creation_time, fields };
        self.check_unique(def, &new)?;
        store::remove_index_entries(self.store, def, &old)?;
        super::search::remove_entries(self.store, def, &old)?;
        self.store.update_body(table, new.id.as_str(), &store::encode_body(&new.fields))?;
        store::add_index_entries(self.store, def, &new)?;
        super::search::add_entries(self.store, def, &new)?;
        store::add_unique_entries(self.store, def, &new)?;
        self.record_writes(def, Some(&old), Some(&new));
        Ok(())
    }

    /// A caller writes only fields it may read. A field it could write but not read would
    /// answer questions about the values it cannot see: a unique key refuses a value that is
    /// taken (an oracle for "is this TC number registered?"), and a write could overwrite a
    /// value the caller never saw. Fields it may not read and does not name are kept as they
    /// are (see [`Tx::replace`]).
    fn check_writes_readable<'k>(
        &self,
        def: &TableDef,
        names: impl IntoIterator<Item = &'k String>,
    ) -> Result<(), FnError> {
        for name in names {
            if let Some(access) = def.field_access.get(name) {
                self.check(*access, || format!("writing {}.{name}", def.name))?;
            }
        }
        Ok(())
    }

    /// Whether the caller may read every one of these fields of the table.
    fn may_read_fields(&self, def: &TableDef, fields: &[String]) -> bool {
        fields.iter().all(|f| def.field_access.get(f).is_none_or(|access| self.may(*access)))
    }

    fn check_unique(&self, def: &TableDef, doc: &Document) -> Result<(), FnError> {
        match store::unique_conflict(self.store, def, doc)? {
            None => Ok(()),
            Some((unique, existing)) => {
                // The value and its holder are named only to a caller who may read them all
                // (a key can include a field the caller keeps but may not read).
                let shown = self.may_read_fields(def, &unique.fields) && self.may(def.reads());
                let values: Vec<String> = unique
                    .fields
                    .iter()
                    .map(|f| doc.get_path(f).map(|v| v.to_json().to_string()).unwrap_or_default())
                    .collect();
                Err(FnError::Unique {
                    table: def.name.clone(),
                    fields: unique.fields,
                    taken: shown.then(|| (values.join(", "), existing)),
                })
            }
        }
    }

    fn record_writes(&mut self, def: &TableDef, old: Option<&Document>, new: Option<&Document>) {
        let id = new.or(old).map(|d| d.id.to_string()).unwrap_or_default();
        let id_key = Self::id_key(&id);
        self.write_set.keys.push(WrittenKey {
            table: def.name.clone(),
            index: BY_ID.into(),
            ends: vec![id_key.len()],
            key: id_key,
        });
        for (index, fields) in store::indexes(def) {
            for doc in [old, new].into_iter().flatten() {
                let (key, ends) = store::index_key(doc, &fields);
                self.write_set.keys.push(WrittenKey { table: def.name.clone(), index: index.clone(), key, ends });
            }
        }
    }
}
