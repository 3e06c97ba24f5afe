//! The read side of a transaction: whose behalf it runs on, the access checks, what it has
//! read (the read set), how much it scanned, and a live page's pinned end. Queries and
//! searches borrow this, not the whole transaction, so the engine's modules form no cycle:
//! `tx` uses `query` and `search`, which use `reads`.

use super::error::FnError;
use super::read_set::ReadSet;
use super::store::Document;
use crate::auth::{Access, Identity};
use crate::model::schema::{Schema, TableDef};
use crate::storage::DocStore;

/// Most documents one transaction may scan (as in Convex).
pub const MAX_SCANNED_DOCUMENTS: usize = 32_000;

/// The pseudo-index under which point reads by id are recorded.
pub const BY_ID: &str = "by_id";

/// On whose behalf a transaction runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Caller {
    /// The application's own code (migrations, tests, benchmarks): no access rules.
    System,
    /// A client, signed in (`Some`) or not: the schema's table and field rules apply.
    Client(Option<Identity>),
}

pub struct Reads<'a> {
    pub(super) store: &'a dyn DocStore,
    pub(super) caller: Caller,
    /// Whether the function looked at who is calling (beyond the role rules the engine
    /// applies): if not, its result is the same for every caller with the same role.
    identity_read: std::cell::Cell<bool>,
    pub(super) schema: &'a Schema,
    pub(super) read_set: ReadSet,
    pub(super) scanned: usize,
    /// A paginated query's pinned end cursor, from an earlier run of the same subscription.
    pub(super) journal_in: Option<String>,
    /// The end cursor this run pinned, to be stored with the subscription.
    pub(super) journal_out: Option<String>,
}

impl<'a> Reads<'a> {
    pub(super) fn new(store: &'a dyn DocStore, schema: &'a Schema, journal: Option<String>) -> Self {
        Self {
            store,
            caller: Caller::System,
            identity_read: std::cell::Cell::new(false),
            schema,
            read_set: ReadSet::default(),
            scanned: 0,
            journal_in: journal,
            journal_out: None,
        }
    }

    /// The signed-in caller, if any (`None` for anonymous clients and for system code).
    pub fn identity(&self) -> Option<&Identity> {
        self.identity_read.set(true);
        match &self.caller {
            Caller::Client(identity) => identity.as_ref(),
            Caller::System => None,
        }
    }

    /// Whether the function asked who is calling ([`Reads::identity`]).
    pub fn read_identity(&self) -> bool {
        self.identity_read.get()
    }

    /// Whether the caller passes `access` (system code always does).
    pub(super) fn may(&self, access: Access) -> bool {
        match &self.caller {
            Caller::System => true,
            Caller::Client(identity) => access.allows(identity.as_ref()),
        }
    }

    pub(super) fn check(&self, access: Access, action: impl FnOnce() -> String) -> Result<(), FnError> {
        if self.may(access) {
            return Ok(());
        }
        let identity = match &self.caller {
            Caller::Client(identity) => identity.as_ref(),
            Caller::System => None,
        };
        Err(FnError::denied(access, identity, action(), self.schema.roles()))
    }

    /// The table, if the caller may read it.
    pub(super) fn readable_table(&self, table: &str) -> Result<&'a TableDef, FnError> {
        let def = self.table(table)?;
        self.check(def.reads(), || format!("reading {table}"))?;
        Ok(def)
    }

    /// The document as the caller may see it: without the fields its role may not read.
    pub(super) fn visible(&self, def: &TableDef, mut doc: Document) -> Document {
        for (field, access) in &def.field_access {
            if !self.may(*access) {
                doc.fields.remove(field);
            }
        }
        doc
    }

    pub(super) fn table(&self, table: &str) -> Result<&'a TableDef, FnError> {
        self.schema.table(table).ok_or_else(|| FnError::BadQuery(format!("no table named {table:?} in the schema")))
    }

    pub(super) fn count_scanned(&mut self, n: usize) -> Result<(), FnError> {
        self.scanned += n;
        if self.scanned > MAX_SCANNED_DOCUMENTS {
            return Err(FnError::TooManyReads { limit: MAX_SCANNED_DOCUMENTS });
        }
        Ok(())
    }

    /// What was read, and the journal this run pinned.
    pub(super) fn finish(self) -> (ReadSet, Option<String>) {
        (self.read_set, self.journal_out)
    }
}
