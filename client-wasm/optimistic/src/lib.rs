//! `predict`, for automatic optimistic updates: the application's own mutation and queries
//! run in the browser on the documents the client already holds ([`optimistic::predict`]).
//!
//! A separate, opt-in bundle: it carries the engine, the schema and every function (hundreds
//! of KB), which the sync client itself (tens of KB) must not. Load it when the app wants
//! predictions; without it, mutations show when the room answers (or through a hand-written
//! `optimisticUpdate`).

use js_sys::{Date, Math};
use roomsync_ngo_app::app;
use roomsync_shared::auth::unverified_identity;
use roomsync_shared::optimistic::{self, CachedQuery};
use roomsync_shared::Environment;
use wasm_bindgen::prelude::*;

/// The browser's clock and `Math.random` (ids of predicted documents are temporary: the
/// room assigns the real ones).
struct Browser;

impl Environment for Browser {
    fn now_ms(&self) -> f64 {
        Date::now()
    }

    fn random_u128(&mut self) -> u128 {
        let part = || (Math::random() * 9_007_199_254_740_992.0) as u128;
        (part() << 75) ^ (part() << 22) ^ part()
    }
}

fn error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// Predicts what `mutation(udfPath, args)` makes of the cached results.
///
/// `cachedJson`: `[{udfPath, args, value}]` as JSON text; `argsJson`: the mutation's
/// arguments as JSON text; `token`: the caller's JWT (its claims are read, not verified:
/// the room decides; without one, functions run signed out). Returns JSON text
/// `[{index, value}]`: new values for the queries the prediction changes. Throws an
/// `Error` saying why nothing can be predicted (the mutation fails locally).
#[wasm_bindgen(js_name = predict)]
pub fn predict_js(
    cached_json: &str,
    udf_path: &str,
    args_json: &str,
    token: Option<String>,
) -> Result<String, JsValue> {
    let cached: Vec<CachedQuery> = serde_json::from_str(cached_json)
        .map_err(|e| error(&format!("cached queries must be [{{udfPath, args, value}}]: {e}")))?;
    let args: serde_json::Value =
        serde_json::from_str(args_json).map_err(|e| error(&format!("arguments are not JSON: {e}")))?;
    let app = app();
    let identity = token.as_deref().and_then(|token| unverified_identity(token, app.roles()));
    let predictions = optimistic::predict(&app, identity.as_ref(), &cached, udf_path, &args, &mut Browser)
        .map_err(|e| error(&e.to_string()))?;
    serde_json::to_string(&predictions).map_err(|e| error(&e.to_string()))
}
