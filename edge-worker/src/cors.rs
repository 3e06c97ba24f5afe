//! CORS for the one-shot HTTP routes, so panels on other origins can call them.
//!
//! Allowed origins come from the `ROOMSYNC_ALLOWED_ORIGINS` variable: a comma-separated list
//! of origins (`https://panel.example.org,http://localhost:5173`) or `*`. The deployed
//! configuration (`wrangler.toml`) allows none: set the panel's origin when deploying.
//! `scripts/dev.sh` and the tests allow `*` on their local `wrangler dev`.

use worker::{Env, Headers, Response, Result};

const VARIABLE: &str = "ROOMSYNC_ALLOWED_ORIGINS";

pub fn allowed_origins(env: &Env) -> Vec<String> {
    env.var(VARIABLE)
        .map(|v| v.to_string())
        .unwrap_or_default()
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_string())
        .filter(|o| !o.is_empty())
        .collect()
}

fn allow(origin: Option<&str>, allowed: &[String]) -> Option<String> {
    let origin = origin?;
    (allowed.iter().any(|a| a == "*" || a == origin)).then(|| origin.to_string())
}

/// Answers a preflight request.
pub fn preflight(origin: Option<&str>, allowed: &[String]) -> Result<Response> {
    let headers = Headers::new();
    if let Some(origin) = allow(origin, allowed) {
        headers.set("Access-Control-Allow-Origin", &origin)?;
        headers.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")?;
        headers.set("Access-Control-Allow-Headers", "content-type, authorization")?;
        headers.set("Access-Control-Max-Age", "86400")?;
    }
    headers.set("Vary", "Origin")?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// Adds CORS headers to a response for an allowed origin (not to WebSocket upgrades).
pub fn decorate(response: Response, origin: Option<&str>, allowed: &[String]) -> Result<Response> {
    if response.status_code() == 101 {
        return Ok(response);
    }
    let Some(origin) = allow(origin, allowed) else { return Ok(response) };
    // A response from a Durable Object has immutable headers: build a fresh set.
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    headers.set("Access-Control-Allow-Origin", &origin)?;
    headers.set("Vary", "Origin")?;
    Ok(response.with_headers(headers))
}
