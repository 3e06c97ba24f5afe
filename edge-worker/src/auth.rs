//! The worker's side of authentication: where the signing secret comes from, and the
//! development-only token route the demo panel signs in with.
//!
//! The secret is `ROOMSYNC_JWT_SECRET`: a wrangler secret in production
//! (`npx wrangler secret put ROOMSYNC_JWT_SECRET`), `.dev.vars` locally (`scripts/dev.sh`
//! writes a random one). Without it the worker refuses to serve the rooms — a clear error on
//! every request and in the log — rather than fall back to a secret anyone could sign with.

use crate::error::WorkerError;
use roomsync_shared::auth::{sign, Claims};
use serde::Deserialize;
use worker::{Env, Request, Response};

const SECRET_BINDING: &str = "ROOMSYNC_JWT_SECRET";
/// `"1"` turns on `POST /rooms/:room/dev-token` (set in `.dev.vars` by `scripts/dev.sh`).
const DEV_TOKENS_BINDING: &str = "ROOMSYNC_DEV_TOKENS";
/// Longest lifetime of a development token.
const MAX_DEV_TOKEN_SECONDS: f64 = 24.0 * 3600.0;

/// The token-signing secret; [`WorkerError::NotConfigured`] when it is not set.
pub fn secret(env: &Env) -> Result<Vec<u8>, WorkerError> {
    let configured = env
        .secret(SECRET_BINDING)
        .map(|s| s.to_string())
        .or_else(|_| env.var(SECRET_BINDING).map(|v| v.to_string()))
        .ok()
        .filter(|s| !s.is_empty());
    match configured {
        Some(secret) => Ok(secret.into_bytes()),
        None => {
            let problem = format!(
                "{SECRET_BINDING} is not set, so this worker serves no room: set it with `npx wrangler secret put {SECRET_BINDING}` (32+ random bytes, shared with your auth server); locally, scripts/dev.sh writes one to .dev.vars"
            );
            worker::console_error!("roomsync: {problem}");
            Err(WorkerError::NotConfigured(problem))
        }
    }
}

fn dev_tokens_enabled(env: &Env) -> bool {
    env.var(DEV_TOKENS_BINDING).map(|v| v.to_string() == "1").unwrap_or(false)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DevTokenRequest {
    sub: String,
    role: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    ttl_seconds: Option<f64>,
}

/// `POST /rooms/:room/dev-token` with `{sub, role, name?, ttlSeconds?}`: a signed token for
/// that user in that room. Only when `ROOMSYNC_DEV_TOKENS=1` (local development, tests);
/// a real deployment has its own auth server sign tokens with the shared secret.
pub async fn dev_token(mut req: Request, env: &Env, room: &str) -> Result<Response, WorkerError> {
    if !dev_tokens_enabled(env) {
        return Err(WorkerError::Off(format!(
            "development tokens are off: set {DEV_TOKENS_BINDING}=1 in .dev.vars (never in production)"
        )));
    }
    let body = req.text().await?;
    let request: DevTokenRequest = serde_json::from_str(&body).map_err(|e| {
        WorkerError::BadRequest(format!("body must be {{\"sub\", \"role\", \"name\"?, \"ttlSeconds\"?}}: {e}"))
    })?;
    let app = crate::app();
    if app.roles().parse(&request.role).is_none() {
        let problem = format!("role {:?} is not one of {}", request.role, app.roles().names());
        return Err(WorkerError::BadRequest(problem));
    }
    let ttl = request.ttl_seconds.unwrap_or(3600.0);
    if !(1.0..=MAX_DEV_TOKEN_SECONDS).contains(&ttl) {
        let problem = format!("ttlSeconds must be from 1 to {MAX_DEV_TOKEN_SECONDS}, got {ttl}");
        return Err(WorkerError::BadRequest(problem));
    }
    let exp = (js_sys::Date::now() / 1000.0 + ttl).floor();
    let claims = Claims { sub: request.sub, role: request.role, room: room.to_string(), exp, name: request.name };
    let token = sign(&claims, &secret(env)?);
    Ok(Response::from_json(&serde_json::json!({ "token": token, "expiresAt": exp * 1000.0 }))?)
}
