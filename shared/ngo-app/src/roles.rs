//! The reference app's roles, weakest first: each can do what the ones before it can.

use roomsync_shared::auth::{Role, Roles};

/// Reads, never writes.
pub const VIEWER: Role = Role::new(0, "viewer");
/// Reads and writes day-to-day records.
pub const MEMBER: Role = Role::new(1, "member");
/// Also approves, removes, and reads sensitive fields (TC numbers, IBANs).
pub const MANAGER: Role = Role::new(2, "manager");
/// Everything, including the room's statistics and security tables.
pub const ADMIN: Role = Role::new(3, "admin");

/// The roles as the engine takes them: viewers only read; members and up write.
pub const ROLES: Roles = Roles::new(&[VIEWER, MEMBER, MANAGER, ADMIN]).writers_from(MEMBER);
