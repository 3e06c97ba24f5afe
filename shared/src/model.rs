//! The data model, the bottom layer: values, validators, schemas and what is derived from
//! them (document ids, index keys, the TypeScript types), and the roles and access rules a
//! schema declares. Nothing here knows about storage, the wire or a room.
//!
//! - [`value`]: the document value type (JSON plus `int64` and bytes).
//! - [`validator`], [`validation`]: field validators and the errors they give.
//! - [`schema`]: the schema DSL — tables, indexes, search indexes, unique keys, access rules.
//! - [`roles`], [`access`]: an app's roles (data, weakest first) and who may do what.
//! - [`ids`], [`index_key`]: document ids and order-preserving index keys.
//! - [`text`], [`number_text`]: Turkish-aware folding, edit distance, number formatting.
//! - [`typescript`]: TypeScript types generated from a schema.

pub mod access;
pub mod ids;
pub mod index_key;
pub mod number_text;
pub mod roles;
pub mod schema;
pub mod text;
pub mod typescript;
pub mod validation;
pub mod validator;
pub mod value;
