//! Identifiers minted by a room. Randomness is passed in (sans-IO), never drawn here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Crockford-style base32 alphabet, lowercase: URL-safe, no padding, sorts like the bytes.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Encodes 128 random bits as 26 lowercase base32 characters (URL-safe tokens: ids,
/// connection ids, session ids).
pub fn encode_base32(random: u128) -> String {
    (0..26).rev().map(|i| ALPHABET[((random >> (i * 5)) & 31) as usize] as char).collect()
}

/// Characters of randomness in a document id (26 × 5 = 130 ≥ 128 bits).
const RANDOM_CHARS: usize = 26;
/// Characters of the table code that ends every document id (20 bits).
const TABLE_CODE_CHARS: usize = 4;
/// Length of a document id.
pub const DOCUMENT_ID_LEN: usize = RANDOM_CHARS + TABLE_CODE_CHARS;

/// A document's id: 128 random bits (so it cannot be guessed from another id) followed by a
/// code of its table, so that an id of one table is refused where another's is expected.
/// 30 lowercase base32 characters: URL-safe, no padding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DocumentId(String);

/// The 20-bit code of a table name (FNV-1a), as 4 base32 characters. Stable across schema
/// changes because it depends on the name only; the schema refuses two tables whose codes
/// collide.
pub fn table_code(table: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in table.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let code = (hash ^ (hash >> 20)) & 0xF_FFFF;
    (0..TABLE_CODE_CHARS).rev().map(|i| ALPHABET[((code >> (i * 5)) & 31) as usize] as char).collect()
}

/// The table code an id ends with, if `text` is shaped like a document id.
pub fn table_code_of(text: &str) -> Option<&str> {
    let shaped = text.len() == DOCUMENT_ID_LEN && text.bytes().all(|b| ALPHABET.contains(&b));
    shaped.then(|| &text[RANDOM_CHARS..])
}

impl DocumentId {
    /// Mints an id for a document of `table` from 128 bits of entropy supplied by the platform.
    pub fn new(table: &str, random: u128) -> Self {
        let mut id = encode_base32(random);
        id.push_str(&table_code(table));
        Self(id)
    }

    /// Accepts `text` as an id of a `table` document, or says what it is instead.
    pub fn parse_for_table(text: &str, table: &str) -> Result<Self, NotAnId> {
        let Some(code) = table_code_of(text) else {
            return Err(NotAnId::Malformed(text.chars().take(40).collect()));
        };
        if code != table_code(table) {
            return Err(NotAnId::OtherTable(table.to_string()));
        }
        Ok(Self(text.to_string()))
    }

    /// Wraps an id read back from storage.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One WebSocket connection to a room. Minted by the room's driver when the socket is
/// accepted and kept in the socket's attachment, so it survives hibernation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnId(String);

impl ConnId {
    pub fn from_random(random: u128) -> Self {
        Self(encode_base32(random))
    }

    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not an id of the expected table; displayed as what was found instead
/// (validation messages say "expected id of a users document, found …").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotAnId {
    /// Not a document id at all (the first 40 characters).
    Malformed(String),
    /// A document id of another table than this one.
    OtherTable(String),
}

impl std::fmt::Display for NotAnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotAnId::Malformed(short) => write!(f, "string {short:?}, which is not a document id"),
            NotAnId::OtherTable(table) => write!(f, "an id of a document in another table than {table}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_url_safe_and_carry_their_table() {
        let id = DocumentId::new("users", u128::MAX);
        assert_eq!(id.as_str().len(), DOCUMENT_ID_LEN);
        assert!(id.as_str().bytes().all(|b| ALPHABET.contains(&b)));
        assert!(id.as_str().ends_with(&table_code("users")));
        assert_eq!(DocumentId::parse_for_table(id.as_str(), "users"), Ok(id.clone()));
        let other = DocumentId::parse_for_table(id.as_str(), "donations").unwrap_err();
        assert_eq!(other, NotAnId::OtherTable("donations".into()));
        assert_eq!(other.to_string(), "an id of a document in another table than donations");
        let malformed = DocumentId::parse_for_table("abc", "users").unwrap_err();
        assert_eq!(malformed.to_string(), "string \"abc\", which is not a document id");
        assert!(DocumentId::parse_for_table(&"I".repeat(30), "users").is_err());
    }

    #[test]
    fn different_entropy_gives_different_ids() {
        assert_ne!(DocumentId::new("t", 1), DocumentId::new("t", 2));
        assert_eq!(ConnId::from_random(0).as_str(), "0".repeat(26));
    }
}
