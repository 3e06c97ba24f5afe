//! Identifiers minted by a room. Randomness is passed in (sans-IO), never drawn here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Crockford-style base32 alphabet, lowercase: URL-safe, no padding, sorts like the bytes.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Encodes 128 random bits as 26 lowercase base32 characters.
fn encode_base32(random: u128) -> String {
    (0..26)
        .rev()
        .map(|i| ALPHABET[((random >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// A document's id: 128 random bits, so it cannot be guessed from another id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DocumentId(String);

impl DocumentId {
    /// Mints an id from 128 bits of entropy supplied by the platform.
    pub fn from_random(random: u128) -> Self {
        Self(encode_base32(random))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_26_url_safe_chars() {
        let id = DocumentId::from_random(u128::MAX);
        assert_eq!(id.as_str().len(), 26);
        assert!(id.as_str().bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(DocumentId::from_random(0).as_str(), "0".repeat(26));
    }

    #[test]
    fn different_entropy_gives_different_ids() {
        assert_ne!(DocumentId::from_random(1), DocumentId::from_random(2));
    }
}
