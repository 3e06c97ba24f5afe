//! Who is calling a room: signed tokens, roles, and the rules that say what each role may do.
//!
//! Tokens are JWTs signed with HMAC-SHA256 (`alg: HS256`) by the application's own auth
//! server, which shares one secret with the worker. Claims:
//!
//! | claim  | meaning                                                        |
//! |--------|----------------------------------------------------------------|
//! | `sub`  | the user's id in the application (required, 1–128 chars)       |
//! | `role` | one of the app's `Roles`, by name (required)                  |
//! | `room` | the one room (tenant) the token opens (required, exact match)  |
//! | `exp`  | expiry, seconds since the Unix epoch (required)                |
//! | `name` | display name (optional)                                        |
//!
//! A token is bound to one room so that a user of organisation A can never open
//! organisation B's data with it, even though both rooms share a worker and a secret.
//! Verification is sans-IO: the caller passes the current time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use thiserror::Error;

// The access types tokens are checked into live in the model layer (a schema declares
// them); they are re-exported here because every host that verifies tokens needs them.
pub use crate::model::access::{Access, Identity};
pub use crate::model::roles::{Role, Roles, MAX_ROLES};

/// Longest accepted token (a JWT with these claims is a few hundred bytes).
pub const MAX_TOKEN_BYTES: usize = 4096;

/// The claims of a Roomsync token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub room: String,
    /// Expiry in seconds since the epoch.
    pub exp: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Why a token was refused. The message says what to do; the wire code is `UNAUTHENTICATED`.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum AuthError {
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("the token is signed with {0:?}; Roomsync accepts only HS256")]
    UnsupportedAlgorithm(String),
    #[error("the token's signature does not match: it was not signed with this worker's ROOMSYNC_JWT_SECRET")]
    BadSignature,
    #[error("the token's claim {claim:?} is invalid: {problem}")]
    BadClaim { claim: &'static str, problem: String },
    #[error("the token expired at {expired_at}; fetch a fresh one and authenticate again")]
    Expired { expired_at: String },
    #[error("the token is for room {token_room:?}, not for room {room:?}")]
    WrongRoom { token_room: String, room: String },
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

type HmacSha256 = Hmac<Sha256>;

/// Signs claims into a token (the application's auth server, tests, `wrangler dev`'s demo
/// token route).
pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    let header = BASE64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = BASE64URL.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let signature = BASE64URL.encode(mac(secret, signing_input.as_bytes()).finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn mac(secret: &[u8], data: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    mac.update(data);
    mac
}

/// Checks tokens for one room of one app.
#[derive(Clone)]
pub struct TokenVerifier {
    secret: Vec<u8>,
    room: String,
    roles: Roles,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier").field("room", &self.room).finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier of tokens signed with `secret` for `room`, whose `role` claim must name
    /// one of `roles`.
    pub fn new(secret: impl Into<Vec<u8>>, room: impl Into<String>, roles: Roles) -> Self {
        Self { secret: secret.into(), room: room.into(), roles }
    }

    pub fn room(&self) -> &str {
        &self.room
    }

    /// The same verifier, reading role claims against `roles`.
    pub fn with_roles(self, roles: Roles) -> Self {
        Self { roles, ..self }
    }

    /// Verifies a token's signature, expiry and room, and returns who it names.
    pub fn verify(&self, token: &str, now_ms: f64) -> Result<Identity, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed(format!(
                "{} bytes is over the {MAX_TOKEN_BYTES}-byte limit",
                token.len()
            )));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed("expected three base64url parts separated by '.'".into()));
        };
        let decode = |part: &str, what: &str| {
            BASE64URL.decode(part).map_err(|e| AuthError::Malformed(format!("the {what} is not base64url: {e}")))
        };
        let header: Header = serde_json::from_slice(&decode(header, "header")?)
            .map_err(|e| AuthError::Malformed(format!("the header is not a JWT header: {e}")))?;
        if header.alg != "HS256" {
            return Err(AuthError::UnsupportedAlgorithm(header.alg));
        }
        let signature = decode(signature, "signature")?;
        let signing_input = &token[..token.len() - token.rsplit('.').next().map_or(0, str::len) - 1];
        // Constant-time comparison inside `verify_slice`.
        mac(&self.secret, signing_input.as_bytes()).verify_slice(&signature).map_err(|_| AuthError::BadSignature)?;
        let claims: Claims = serde_json::from_slice(&decode(payload, "payload")?)
            .map_err(|e| AuthError::Malformed(format!("the claims must be {{sub, role, room, exp}}: {e}")))?;
        if claims.sub.is_empty() || claims.sub.chars().count() > 128 {
            return Err(AuthError::BadClaim { claim: "sub", problem: "must be 1 to 128 characters".into() });
        }
        let role = self.roles.parse(&claims.role).ok_or_else(|| AuthError::BadClaim {
            claim: "role",
            problem: format!("{:?} is not one of {}", claims.role, self.roles.names()),
        })?;
        if claims.room != self.room {
            return Err(AuthError::WrongRoom { token_room: claims.room, room: self.room.clone() });
        }
        let expires_at_ms = claims.exp * 1000.0;
        if !expires_at_ms.is_finite() {
            return Err(AuthError::BadClaim { claim: "exp", problem: "must be seconds since the epoch".into() });
        }
        if now_ms >= expires_at_ms {
            return Err(AuthError::Expired { expired_at: crate::model::text::iso_timestamp(expires_at_ms) });
        }
        Ok(Identity { subject: claims.sub, role, name: claims.name, expires_at_ms: Some(expires_at_ms) })
    }
}

/// Who a token says its holder is, read without verifying it: for client-side guesses only
/// (optimistic predictions run the functions' access rules as the room will); the room
/// verifies every token it acts on.
pub fn unverified_identity(token: &str, roles: &Roles) -> Option<Identity> {
    let payload = token.split('.').nth(1)?;
    let claims: Claims = serde_json::from_slice(&BASE64URL.decode(payload).ok()?).ok()?;
    Some(Identity {
        subject: claims.sub,
        role: roles.parse(&claims.role)?,
        name: claims.name,
        expires_at_ms: Some(claims.exp * 1000.0),
    })
}

/// The expiry (ms since the epoch) a token claims, read without verifying it: the client
/// uses it to refresh a token before it runs out.
pub fn unverified_expiry_ms(token: &str) -> Option<f64> {
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value = serde_json::from_slice(&BASE64URL.decode(payload).ok()?).ok()?;
    claims.get("exp")?.as_f64().map(|s| s * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_800_000_000_000.0;
    const VIEWER: Role = Role::new(0, "viewer");
    const MEMBER: Role = Role::new(1, "member");
    const MANAGER: Role = Role::new(2, "manager");
    const ADMIN: Role = Role::new(3, "admin");
    const ROLES: Roles = Roles::new(&[VIEWER, MEMBER, MANAGER, ADMIN]).writers_from(MEMBER);

    fn claims(role: &str, room: &str) -> Claims {
        Claims { sub: "u1".into(), role: role.into(), room: room.into(), exp: NOW / 1000.0 + 60.0, name: None }
    }

    #[test]
    fn a_signed_token_verifies_for_its_room() {
        let verifier = TokenVerifier::new(b"secret".to_vec(), "org-a", ROLES);
        let token = sign(&claims("manager", "org-a"), b"secret");
        let identity = verifier.verify(&token, NOW).unwrap();
        assert_eq!(identity.subject, "u1");
        assert_eq!(identity.role, MANAGER);
        assert_eq!(identity.expires_at_ms, Some(NOW + 60_000.0));
        assert_eq!(unverified_expiry_ms(&token), Some(NOW + 60_000.0));
        assert_eq!(unverified_identity(&token, &ROLES).map(|i| (i.subject, i.role)), Some(("u1".to_string(), MANAGER)));
        assert_eq!(unverified_identity("not.a-token", &ROLES), None);
        let stored = serde_json::to_string(&identity).unwrap();
        assert!(stored.contains(r#""role":"manager""#), "{stored}");
        assert_eq!(Identity::from_stored(&stored, &ROLES), Some(identity));
        // A role this app does not declare (another build's) reads back as no identity.
        assert_eq!(Identity::from_stored(&stored.replace("manager", "boss"), &ROLES), None);
    }

    #[test]
    fn refusals_say_why() {
        let verifier = TokenVerifier::new(b"secret".to_vec(), "org-a", ROLES);
        let other_room = sign(&claims("admin", "org-b"), b"secret");
        assert_eq!(
            verifier.verify(&other_room, NOW),
            Err(AuthError::WrongRoom { token_room: "org-b".into(), room: "org-a".into() })
        );
        let forged = sign(&claims("admin", "org-a"), b"guess");
        assert_eq!(verifier.verify(&forged, NOW), Err(AuthError::BadSignature));
        let token = sign(&claims("admin", "org-a"), b"secret");
        assert!(matches!(verifier.verify(&token, NOW + 60_000.0), Err(AuthError::Expired { .. })));
        let bad_role = sign(&claims("root", "org-a"), b"secret");
        let err = verifier.verify(&bad_role, NOW).unwrap_err();
        assert!(err.to_string().contains("\"root\" is not one of admin"), "{err}");
        assert!(matches!(verifier.verify("abc", NOW), Err(AuthError::Malformed(_))));
        assert!(matches!(verifier.verify("a.b.c", NOW), Err(AuthError::Malformed(_))));
        // Tampering with the claims breaks the signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = BASE64URL.encode(serde_json::to_vec(&claims("admin", "org-a")).unwrap()).replace('A', "B");
        assert!(verifier.verify(&parts.join("."), NOW).is_err());
        // "none" and other algorithms are refused before anything else.
        let none = format!("{}.{}.", BASE64URL.encode(br#"{"alg":"none"}"#), token.split('.').nth(1).unwrap());
        assert_eq!(verifier.verify(&none, NOW), Err(AuthError::UnsupportedAlgorithm("none".into())));
    }

    #[test]
    fn access_follows_role_order() {
        let member = Identity { subject: "m".into(), role: MEMBER, name: None, expires_at_ms: None };
        assert!(Access::Public.allows(None));
        assert!(!Access::AtLeast(VIEWER).allows(None));
        assert!(Access::AtLeast(MEMBER).allows(Some(&member)));
        assert!(!Access::AtLeast(MANAGER).allows(Some(&member)));
        assert!(!Access::Nobody.allows(Some(&Identity::trusted(&ROLES))));
        assert_eq!(Identity::trusted(&ROLES).role, ADMIN);
        assert_eq!(Access::AtLeast(MANAGER).describe(&ROLES), "the roles manager, admin");
        assert_eq!(Access::AtLeast(ADMIN).describe(&ROLES), "the role admin");
    }
}
