//! Who is calling and who may do what: an [`Identity`] (a subject and one of the app's
//! roles) and an [`Access`] rule a schema or a registry attaches to a table, a field or a
//! function. Tokens, which prove an identity, are the `auth` layer's.

use super::roles::{Role, Roles};
use serde::{Deserialize, Serialize};

/// A verified caller. It is stored (`_conns`) as JSON with the role by name, and read back
/// with [`Identity::from_stored`] against the app's roles.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Identity {
    /// The user's id in the application (`sub`).
    pub subject: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When the token stops being valid (ms since the epoch); `None` for trusted callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<f64>,
}

impl Identity {
    /// A caller the host vouches for (native hosts that authenticate before the room,
    /// tests): an admin whose identity never expires.
    pub fn trusted(roles: &Roles) -> Self {
        Self { subject: "trusted".into(), role: roles.strongest(), name: None, expires_at_ms: None }
    }

    /// An identity as [`Identity`]'s `Serialize` stored it; `None` if the text is not one or
    /// names a role `roles` does not have (written by a build with other roles), which the
    /// room treats as signed out.
    pub fn from_stored(text: &str, roles: &Roles) -> Option<Self> {
        #[derive(Deserialize)]
        struct Stored {
            subject: String,
            role: String,
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            expires_at_ms: Option<f64>,
        }
        let stored: Stored = serde_json::from_str(text).ok()?;
        let role = roles.parse(&stored.role)?;
        Some(Self { subject: stored.subject, role, name: stored.name, expires_at_ms: stored.expires_at_ms })
    }

    pub fn is_expired(&self, now_ms: f64) -> bool {
        self.expires_at_ms.is_some_and(|at| now_ms >= at)
    }
}

/// Who may do something: call a function, read a table or a field, write a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A signed-in caller with at least this role.
    AtLeast(Role),
    /// No caller: the data is only for the application's own code (password hashes,
    /// two-factor secrets). Functions still see it; results never do.
    Nobody,
}

impl Access {
    pub fn allows(self, identity: Option<&Identity>) -> bool {
        match (self, identity) {
            (Access::Public, _) => true,
            (Access::AtLeast(role), Some(identity)) => identity.role >= role,
            (Access::AtLeast(_), None) | (Access::Nobody, _) => false,
        }
    }

    /// "the roles manager, admin", for error messages.
    pub fn describe(self, roles: &Roles) -> String {
        match self {
            Access::Public => "anyone".into(),
            Access::AtLeast(role) if role == roles.strongest() => format!("the role {role}"),
            Access::AtLeast(role) => format!("the roles {}", roles.from(role).collect::<Vec<_>>().join(", ")),
            Access::Nobody => "no caller".into(),
        }
    }
}
