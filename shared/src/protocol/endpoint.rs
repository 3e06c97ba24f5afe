//! Where a room lives: room-name rules and the sync URL a client connects to.
//!
//! Both sides use these: the worker refuses bad room names with the same words the client
//! uses when it refuses to construct, so a typo is caught before any socket opens.

use crate::model::number_text::decimal;
use std::fmt;

/// Longest room name accepted.
pub const MAX_ROOM_NAME: usize = 64;

/// Why a URL or room name was refused. `code()` is stable; the message says what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointError {
    InvalidUrl(String),
    UnsupportedScheme(String),
    MissingHost(String),
    BadPath(String),
    MissingRoom,
    RoomMismatch { in_url: String, in_options: String },
    InvalidRoom(String),
}

impl EndpointError {
    /// Every code [`EndpointError::code`] gives.
    pub const CODES: [&'static str; 7] = [
        "INVALID_URL",
        "UNSUPPORTED_SCHEME",
        "MISSING_HOST",
        "BAD_PATH",
        "MISSING_ROOM",
        "ROOM_MISMATCH",
        "INVALID_ROOM",
    ];

    pub fn code(&self) -> &'static str {
        match self {
            EndpointError::InvalidUrl(_) => "INVALID_URL",
            EndpointError::UnsupportedScheme(_) => "UNSUPPORTED_SCHEME",
            EndpointError::MissingHost(_) => "MISSING_HOST",
            EndpointError::BadPath(_) => "BAD_PATH",
            EndpointError::MissingRoom => "MISSING_ROOM",
            EndpointError::RoomMismatch { .. } => "ROOM_MISMATCH",
            EndpointError::InvalidRoom(_) => "INVALID_ROOM",
        }
    }
}

impl EndpointError {
    /// What was wrong and what to do. Written without `format!`: the browser client carries
    /// this code, and Rust's formatting machinery costs it KBs.
    pub fn message(&self) -> String {
        let quoted = |before: &str, what: &str, after: &str| cat(&[before, "\"", what, "\"", after]);
        match self {
            EndpointError::InvalidUrl(input) => quoted(
                "",
                input,
                " is not a URL: expected something like wss://sync.example.org or http://127.0.0.1:8787",
            ),
            EndpointError::UnsupportedScheme(scheme) => {
                quoted("URL scheme ", scheme, " is not supported: use ws, wss, http or https")
            }
            EndpointError::MissingHost(input) => quoted("URL ", input, " has no host"),
            EndpointError::BadPath(path) => quoted(
                "URL path ",
                path,
                " is not a room endpoint: use no path (and pass a room) or /rooms/<room>/sync",
            ),
            EndpointError::MissingRoom => {
                "no room given: pass options.room or use a URL ending in /rooms/<room>/sync".to_string()
            }
            EndpointError::RoomMismatch { in_url, in_options } => {
                quoted("the URL names room ", in_url, &quoted(" but options.room is ", in_options, ""))
            }
            EndpointError::InvalidRoom(why) => why.clone(),
        }
    }
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for EndpointError {}

/// Room names become Durable Object names and appear in URLs and logs: keep them plain.
pub fn validate_room_name(room: &str) -> Result<(), EndpointError> {
    if room.is_empty() || room.len() > MAX_ROOM_NAME {
        let (max, got) = (decimal(MAX_ROOM_NAME as u64), decimal(room.len() as u64));
        return Err(EndpointError::InvalidRoom(cat(&["room name must be 1 to ", &max, " characters, got ", &got])));
    }
    match room.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        Some(bad) => Err(EndpointError::InvalidRoom(cat(&[
            "room name may only hold letters, digits, '-' and '_'; found '",
            bad.encode_utf8(&mut [0; 4]),
            "' in \"",
            room,
            "\"",
        ]))),
        None => Ok(()),
    }
}

/// Turns what a user configured (a server URL, optionally already naming a room, plus an
/// optional room) into the WebSocket URL of that room's sync endpoint.
///
/// `http(s)` becomes `ws(s)`: panels are usually configured with the worker's HTTP address.
pub fn sync_url(input: &str, room: Option<&str>) -> Result<String, EndpointError> {
    let input = input.trim();
    // By bytes, not `split_once("://")`: a substring search costs the browser build a
    // kilobyte of searcher code.
    let colon = input.find(':').filter(|&i| input.as_bytes().get(i + 1..i + 3) == Some(b"//"));
    let Some(colon) = colon else { return Err(EndpointError::InvalidUrl(input.to_string())) };
    let (scheme, rest) = (&input[..colon], &input[colon + 3..]);
    let ws_scheme = match scheme.to_ascii_lowercase().as_str() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        "" => return Err(EndpointError::InvalidUrl(input.to_string())),
        other => return Err(EndpointError::UnsupportedScheme(other.to_string())),
    };
    if rest.chars().any(char::is_whitespace) {
        return Err(EndpointError::InvalidUrl(input.to_string()));
    }
    let (before_fragment, _fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (before_fragment, None),
    };
    let (host, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    validate_host(host, input)?;
    let room_in_url = match path.trim_end_matches('/') {
        "" => None,
        trimmed => match trimmed.strip_prefix("/rooms/").and_then(|r| r.strip_suffix("/sync")) {
            Some(name) if !name.contains('/') => Some(name),
            _ => return Err(EndpointError::BadPath(path.to_string())),
        },
    };
    let room = match (room_in_url, room) {
        (Some(in_url), Some(in_options)) if in_url != in_options => {
            return Err(EndpointError::RoomMismatch { in_url: in_url.into(), in_options: in_options.into() })
        }
        (Some(name), _) | (None, Some(name)) => name,
        (None, None) => return Err(EndpointError::MissingRoom),
    };
    validate_room_name(room)?;
    Ok(cat(&[ws_scheme, "://", host, "/rooms/", room, "/sync", query.map_or("", |_| "?"), query.unwrap_or("")]))
}

/// The parts one after another (what `[..].concat()` does, without its generic copy loop in
/// the browser build).
fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

fn validate_host(host: &str, input: &str) -> Result<(), EndpointError> {
    let without_port = match host.rsplit_once(':') {
        // An IPv6 literal like [::1] has colons of its own; its port follows the bracket.
        Some((name, port)) if !name.ends_with(':') && (name.ends_with(']') || !name.contains(':')) => {
            if port.parse::<u16>().is_err() {
                return Err(EndpointError::InvalidUrl(input.to_string()));
            }
            name
        }
        _ => host,
    };
    if without_port.is_empty() || without_port.contains('@') {
        return Err(EndpointError::MissingHost(input.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_list_is_every_code() {
        let all = [
            EndpointError::InvalidUrl(String::new()),
            EndpointError::UnsupportedScheme(String::new()),
            EndpointError::MissingHost(String::new()),
            EndpointError::BadPath(String::new()),
            EndpointError::MissingRoom,
            EndpointError::RoomMismatch { in_url: String::new(), in_options: String::new() },
            EndpointError::InvalidRoom(String::new()),
        ];
        assert_eq!(all.iter().map(EndpointError::code).collect::<Vec<_>>(), EndpointError::CODES);
    }

    #[test]
    fn accepts_base_urls_with_a_room_and_full_room_urls() {
        assert_eq!(sync_url("http://127.0.0.1:8787", Some("ngo")).unwrap(), "ws://127.0.0.1:8787/rooms/ngo/sync");
        assert_eq!(
            sync_url("https://sync.example.org/", Some("ngo")).unwrap(),
            "wss://sync.example.org/rooms/ngo/sync"
        );
        assert_eq!(sync_url("wss://h/rooms/a-1/sync", None).unwrap(), "wss://h/rooms/a-1/sync");
        assert_eq!(sync_url("WS://h/rooms/a/sync/", Some("a")).unwrap(), "ws://h/rooms/a/sync");
        assert_eq!(sync_url("ws://[::1]:9000", Some("r")).unwrap(), "ws://[::1]:9000/rooms/r/sync");
        assert_eq!(sync_url("ws://h?token=x", Some("r")).unwrap(), "ws://h/rooms/r/sync?token=x");
    }

    #[test]
    fn each_problem_has_its_own_code_and_message() {
        let err = |url: &str, room: Option<&str>| sync_url(url, room).unwrap_err();
        assert_eq!(err("localhost:8787", Some("r")).code(), "INVALID_URL");
        assert_eq!(err("", Some("r")).code(), "INVALID_URL");
        assert_eq!(
            err("ftp://h", Some("r")).to_string(),
            r#"URL scheme "ftp" is not supported: use ws, wss, http or https"#
        );
        assert_eq!(err("ws://", Some("r")).code(), "MISSING_HOST");
        assert_eq!(err("ws://:80", Some("r")).code(), "MISSING_HOST");
        assert_eq!(err("ws://h:99999", Some("r")).code(), "INVALID_URL");
        assert_eq!(err("ws://h/api", Some("r")).code(), "BAD_PATH");
        assert_eq!(err("ws://h/rooms/a/b/sync", None).code(), "BAD_PATH");
        assert_eq!(
            err("ws://h", None).to_string(),
            "no room given: pass options.room or use a URL ending in /rooms/<room>/sync"
        );
        assert_eq!(err("ws://h/rooms/a/sync", Some("b")).code(), "ROOM_MISMATCH");
        assert_eq!(
            err("ws://h", Some("a b")).to_string(),
            r#"room name may only hold letters, digits, '-' and '_'; found ' ' in "a b""#
        );
        assert_eq!(err("ws://h/rooms/bad.name/sync", None).code(), "INVALID_ROOM");
        assert_eq!(err("ws://h", Some(&"x".repeat(65))).code(), "INVALID_ROOM");
    }
}
