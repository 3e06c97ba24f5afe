//! The reactive engine: documents and their index rows in a typed store
//! ([`crate::storage::DocStore`]), transactions that record what they read and wrote, named
//! functions, and the index of live queries by what they read.
//!
//! - [`store`]: documents, and the index rows and unique keys each keeps in the store.
//! - [`tx`]: a transaction — reads record a [`ReadSet`], writes a [`WriteSet`]; its read
//!   side ([`reads`]) is what queries and searches borrow.
//! - [`query`]: index range queries: equality prefix, one range bound, order, filter, take,
//!   cursor and offset pagination.
//! - [`read_set`]: read and write sets, and the subscription index that finds the queries a
//!   commit affects without looking at the others.
//! - [`migrate`]: bringing stored data in line with a new schema on deploy.
//! - [`search`]: full-text search indexes (FTS5, Turkish folding).
//! - [`registry`]: named queries and mutations with validated arguments.
//! - [`error`]: how a call fails ([`FnError`], one wire code per cause).
//! - [`environment`]: the clock and entropy a host passes in (sans-IO).
//! - [`app`]: an app as a value — roles, schema and registry, checked together.

pub mod app;
pub mod environment;
pub mod error;
pub mod migrate;
pub mod query;
pub mod read_set;
pub mod reads;
pub mod registry;
pub mod search;
pub mod store;
pub mod tx;

#[cfg(test)]
mod access_tests;

pub use app::{App, AppError, AppProblem, DefineError};
pub use environment::Environment;
pub use error::FnError;
pub use query::{Order, Page, PageRequest, Query};
pub use read_set::{ReadSet, SubscriptionIndex, WriteSet};
pub use registry::{FunctionKind, Registry};
pub use store::Document;
pub use tx::Tx;
