//! Roles are data an app declares: their names and their order, weakest first. Each role can
//! do what the ones before it can, so an access rule is one comparison of ranks.
//!
//! The engine names no role. It asks the app's [`Roles`] for the weakest one (who reads by
//! default), the writers (who write by default) and the strongest (who sees the room's
//! statistics, and whom a trusted host acts as). Names are `&'static str` like function
//! names: an app's roles are part of its code, and a [`Role`] stays `Copy`.

use serde::{Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Most roles an app may declare (ranks fit a byte; more would be a permission system, not
/// an order).
pub const MAX_ROLES: usize = 16;

/// One role of an app: its name and its rank in the app's list (0 is the weakest). Roles
/// compare by rank.
#[derive(Clone, Copy, Debug)]
pub struct Role {
    rank: u8,
    name: &'static str,
}

impl Role {
    /// The role at `rank` in its app's list, called `name`. [`Roles::check`] proves that
    /// ranks and names agree with the list.
    pub const fn new(rank: u8, name: &'static str) -> Self {
        Self { rank, name }
    }

    pub fn as_str(self) -> &'static str {
        self.name
    }

    pub fn rank(self) -> u8 {
        self.rank
    }
}

impl PartialEq for Role {
    fn eq(&self, other: &Self) -> bool {
        self.rank == other.rank
    }
}

impl Eq for Role {}

impl PartialOrd for Role {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Role {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank.cmp(&other.rank)
    }
}

impl Hash for Role {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank.hash(state);
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A role is stored and sent by name: a rank would change meaning if an app inserted a role.
impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}

/// Why a role list is not a valid declaration (what [`Roles::check`] found).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolesError(pub String);

impl fmt::Display for RolesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RolesError {}

/// The roles an app declares, weakest first, and from which of them writing starts.
#[derive(Clone, Copy, Debug)]
pub struct Roles {
    all: &'static [Role],
    writers: usize,
}

impl Roles {
    /// The app's roles, weakest first; every role writes unless [`Roles::writers_from`]
    /// says otherwise.
    pub const fn new(all: &'static [Role]) -> Self {
        Self { all, writers: 0 }
    }

    /// Tables and mutations are written by `role` and the roles above it unless a rule
    /// says otherwise (the roles below only read).
    pub const fn writers_from(self, role: Role) -> Self {
        Self { all: self.all, writers: role.rank as usize }
    }

    /// Proves the declaration consistent: one to [`MAX_ROLES`] roles, each at its own rank,
    /// with distinct lower-case names (`[a-z0-9_-]`, as tokens carry them).
    pub fn check(&self) -> Result<(), RolesError> {
        if self.all.is_empty() || self.all.len() > MAX_ROLES {
            return Err(RolesError(format!("an app declares 1 to {MAX_ROLES} roles, not {}", self.all.len())));
        }
        for (i, role) in self.all.iter().enumerate() {
            if role.rank as usize != i {
                return Err(RolesError(format!(
                    "role {:?} is number {i} in the list but has rank {}",
                    role.name, role.rank
                )));
            }
            let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
            if role.name.is_empty() || !role.name.chars().all(valid) {
                return Err(RolesError(format!(
                    "role {:?}: a role name is lower-case letters, digits, '_' or '-'",
                    role.name
                )));
            }
            if self.all[..i].iter().any(|r| r.name == role.name) {
                return Err(RolesError(format!("role {:?} is declared twice", role.name)));
            }
        }
        if self.writers >= self.all.len() {
            return Err(RolesError(format!(
                "writers_from names rank {}, but there are {} roles",
                self.writers,
                self.all.len()
            )));
        }
        Ok(())
    }

    /// Every role, weakest first.
    pub fn all(&self) -> &'static [Role] {
        self.all
    }

    /// The role called `name`, if the app has one.
    pub fn parse(&self, name: &str) -> Option<Role> {
        self.all.iter().copied().find(|r| r.name == name)
    }

    /// Who reads by default: every signed-in caller.
    pub fn weakest(&self) -> Role {
        self.all.first().copied().unwrap_or(Role::new(0, "-"))
    }

    /// Who writes by default.
    pub fn writers(&self) -> Role {
        self.all.get(self.writers).copied().unwrap_or_else(|| self.weakest())
    }

    /// Who sees everything the room offers its operators (statistics), and whom a trusted
    /// host acts as.
    pub fn strongest(&self) -> Role {
        self.all.last().copied().unwrap_or_else(|| self.weakest())
    }

    /// Whether `role` is one of these (a role of another app is not).
    pub fn contains(&self, role: Role) -> bool {
        self.all.get(role.rank as usize).is_some_and(|r| r.name == role.name)
    }

    /// "admin, manager, member, viewer": the names, strongest first, for error messages.
    pub fn names(&self) -> String {
        self.all.iter().rev().map(|r| r.name).collect::<Vec<_>>().join(", ")
    }

    /// The names of `role` and every role above it, weakest first.
    pub fn from(&self, role: Role) -> impl Iterator<Item = &'static str> {
        self.all.iter().filter(move |r| **r >= role).map(|r| r.name)
    }
}

impl PartialEq for Roles {
    fn eq(&self, other: &Self) -> bool {
        self.writers == other.writers
            && self.all.len() == other.all.len()
            && self.all.iter().zip(other.all).all(|(a, b)| a.rank == b.rank && a.name == b.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READER: Role = Role::new(0, "reader");
    const EDITOR: Role = Role::new(1, "editor");
    const OWNER: Role = Role::new(2, "owner");
    const ROLES: Roles = Roles::new(&[READER, EDITOR, OWNER]).writers_from(EDITOR);

    #[test]
    fn roles_are_declared_in_order_and_looked_up_by_name() {
        assert_eq!(ROLES.check(), Ok(()));
        assert_eq!(ROLES.parse("editor"), Some(EDITOR));
        assert_eq!(ROLES.parse("Editor"), None);
        assert_eq!((ROLES.weakest(), ROLES.writers(), ROLES.strongest()), (READER, EDITOR, OWNER));
        assert_eq!(ROLES.names(), "owner, editor, reader");
        assert_eq!(ROLES.from(EDITOR).collect::<Vec<_>>(), ["editor", "owner"]);
        assert!(READER < EDITOR && EDITOR < OWNER);
        assert_eq!(serde_json::to_string(&EDITOR).unwrap(), "\"editor\"");
        assert!(ROLES.contains(OWNER) && !ROLES.contains(Role::new(2, "admin")));
    }

    #[test]
    fn an_inconsistent_declaration_says_what_is_wrong() {
        const NONE: Roles = Roles::new(&[]);
        const SKIPPED: Roles = Roles::new(&[READER, OWNER]);
        const TWICE: Roles = Roles::new(&[READER, Role::new(1, "reader")]);
        const UPPER: Roles = Roles::new(&[Role::new(0, "Admin")]);
        assert!(NONE.check().unwrap_err().0.contains("1 to 16 roles"));
        assert!(SKIPPED.check().unwrap_err().0.contains("\"owner\" is number 1 in the list but has rank 2"));
        assert!(TWICE.check().unwrap_err().0.contains("declared twice"));
        assert!(UPPER.check().unwrap_err().0.contains("lower-case"));
    }
}
