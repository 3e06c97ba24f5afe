//! Frames from the room as JS values: parsed by the browser's `JSON.parse` (the WASM holds
//! no JSON parser) and deep-frozen by the driver, decoded here into the core's [`Incoming`]
//! with a few property reads, and kept as JS values — results go to the application as they
//! are, without a copy.
//!
//! Frozen, because the same objects are the base the room's next diff applies to and what
//! every listener gets: an application writing into one would corrupt the next update; now
//! such a write fails loudly at its source. Diffs are applied by the driver (`applyDiff`),
//! which keeps the unchanged rows of the old result (structural sharing, as React likes it)
//! and freezes the arrays and objects it builds too.

use js_sys::{Array, Object, Reflect};
use roomsync_shared::client::{
    ClientError, ClientErrorCode, FailedMutation, Frame, Incoming, Modification, Outbox, Payload,
};
use roomsync_shared::protocol::{ErrorCode, StateVersion, Ts};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/driver.js")]
extern "C" {
    /// The new frozen value from `old` and a diff (unchanged parts kept as the same
    /// objects), or `undefined` when the diff does not fit. In JS: over JS values it is a
    /// few lines there, and a KB of the WASM as property reads through `Reflect`.
    #[wasm_bindgen(js_name = applyDiff)]
    fn apply_diff(old: &JsValue, diff: &JsValue) -> JsValue;

    /// The room's result hash of a JS value (`shared/src/protocol/hash.rs`, computed in JS
    /// over the value, so float texts like `1.0` do not matter).
    #[wasm_bindgen(js_name = hashValue)]
    fn hash_value(value: &JsValue) -> String;
}

/// A query or mutation result: a frozen JS value.
#[derive(Clone)]
pub struct Js(pub JsValue);

impl Payload for Js {
    /// The diff as the room sent it (`{set}`, `{splice}` or `{fields}`).
    type Diff = JsValue;

    fn apply_diff(&self, diff: &JsValue) -> Option<Self> {
        let value = apply_diff(&self.0, diff);
        (!value.is_undefined()).then_some(Js(value))
    }

    /// The room hashes a text JS reproduces from the value (sorted keys, JS number text), so
    /// a diff applied wrongly — a bug, a base that is not the one the room meant — is caught.
    fn has_hash(&self, hash: &str) -> bool {
        hash_value(&self.0) == hash
    }

    fn rows(&self) -> usize {
        let len = |v: &JsValue| Array::is_array(v).then(|| Array::from(v).length() as usize);
        if self.0.is_null() || self.0.is_undefined() {
            return 0;
        }
        len(&self.0).or_else(|| len(&get(&self.0, "documents"))).or_else(|| len(&get(&self.0, "page"))).unwrap_or(1)
    }
}

pub fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `{}` with these properties.
pub fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let out = Object::new();
    for (key, value) in entries {
        let _ = Reflect::set(&out, &JsValue::from_str(key), value);
    }
    out.into()
}

/// A non-negative integer that fits in `u32`.
fn index(value: &JsValue) -> Option<u32> {
    let n = value.as_f64()?;
    (n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0).then_some(n as u32)
}

fn text(value: &JsValue, key: &str) -> Result<String, String> {
    get(value, key).as_string().ok_or_else(|| expected(key, "a string"))
}

fn number(value: &JsValue, key: &str) -> Result<u32, String> {
    index(&get(value, key)).ok_or_else(|| expected(key, "a non-negative integer"))
}

fn expected(key: &str, what: &str) -> String {
    let mut message = String::from("malformed server frame: `");
    message.push_str(key);
    message.push_str("` must be ");
    message.push_str(what);
    message
}

fn code(value: &JsValue) -> ErrorCode {
    get(value, "code").as_string().and_then(|c| ErrorCode::from_name(&c)).unwrap_or(ErrorCode::Internal)
}

fn version(value: &JsValue) -> Result<StateVersion, String> {
    let ts = text(value, "ts")?.parse::<u64>().map_err(|_| expected("ts", "a decimal u64 string"))?;
    Ok(StateVersion { query_set: number(value, "querySet")?, identity: number(value, "identity")?, ts: Ts(ts) })
}

/// Decodes one parsed (and frozen) frame from the room.
pub fn decode(frame: &JsValue) -> Result<Incoming<Js>, String> {
    match text(frame, "type")?.as_str() {
        "transition" => {
            let mut modifications = Vec::new();
            for m in Array::from(&get(frame, "modifications")).iter() {
                let query_id = number(&m, "queryId")?;
                modifications.push(match text(&m, "type")?.as_str() {
                    "queryUpdated" => {
                        Modification::Updated { query_id, value: Js(get(&m, "value")), hash: text(&m, "hash")? }
                    }
                    "queryUnchanged" => Modification::Unchanged { query_id },
                    "queryDiff" => Modification::Diff {
                        query_id,
                        base_hash: text(&m, "baseHash")?,
                        hash: text(&m, "hash")?,
                        diff: get(&m, "diff"),
                    },
                    "queryFailed" => Modification::Failed { query_id, code: code(&m), message: text(&m, "message")? },
                    "queryRemoved" => Modification::Removed { query_id },
                    _ => return Err(expected("type", "a query modification")),
                });
            }
            Ok(Incoming::Transition {
                start_version: version(&get(frame, "startVersion"))?,
                end_version: version(&get(frame, "endVersion"))?,
                modifications,
            })
        }
        "mutationResponse" => Ok(Incoming::MutationResponse {
            request_id: number(frame, "requestId")?,
            outcome: match text(frame, "outcome")?.as_str() {
                "success" => Ok(Js(get(frame, "result"))),
                "failure" => Err((code(frame), text(frame, "message")?)),
                _ => return Err(expected("outcome", "success or failure")),
            },
        }),
        "error" => Ok(Incoming::Error {
            code: code(frame),
            message: text(frame, "message")?,
            retry_after_ms: get(frame, "retryAfterMs").as_f64().map(|ms| ms.max(0.0) as u64),
        }),
        _ => Err(expected("type", "transition, mutationResponse or error")),
    }
}

/// Reads a saved outbox, parsed by the driver: `{sessionId, nextRequestId, pending:
/// [{requestId, udfPath, args, code?, message?, owner?}]}` with `args` as JSON text; an entry
/// with a `code` is a refused mutation (the driver puts the saved `failed` entries there
/// too, and each entry's owner from the saved `owners`).
pub fn decode_outbox(saved: &JsValue) -> Result<Outbox, String> {
    let mut pending = Vec::new();
    let mut failed = Vec::new();
    let mut owners = Vec::new();
    for m in Array::from(&get(saved, "pending")).iter() {
        let request_id = number(&m, "requestId")?;
        if let Some(owner) = get(&m, "owner").as_string() {
            owners.push((request_id, owner));
        }
        let frame = Frame::Mutation { request_id, udf_path: self::text(&m, "udfPath")?, args: self::text(&m, "args")? };
        match get(&m, "code").as_string() {
            None => pending.push(frame),
            Some(code) => failed.push(FailedMutation {
                frame,
                error: ClientError {
                    code: ClientErrorCode::from_name(&code).ok_or_else(|| expected("code", "an error code"))?,
                    message: self::text(&m, "message")?,
                },
            }),
        }
    }
    Ok(Outbox {
        session_id: self::text(saved, "sessionId")?,
        next_request_id: number(saved, "nextRequestId")?,
        pending,
        failed,
        owners,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn stringify(value: &JsValue) -> String {
        js_sys::JSON::stringify(value).map(String::from).unwrap_or_default()
    }

    /// The reader decodes every frame the room sends as the native decoder does: the frames
    /// and their decoded form are written by Rust (`golden-frames.json`, kept current by
    /// `shared/src/client/frame.rs`), parsed here by the browser's `JSON.parse` as the driver
    /// does.
    #[wasm_bindgen_test]
    fn golden_frames_decode_as_the_room_meant_them() {
        let cases = js_sys::JSON::parse(include_str!("golden-frames.json")).unwrap();
        let cases = Array::from(&cases);
        assert!(cases.length() > 20);
        for case in cases.iter() {
            let text = get(&case, "frame").as_string().unwrap();
            let frame = js_sys::JSON::parse(&text).unwrap();
            let decoded = decode(&frame).unwrap_or_else(|e| panic!("{text}: {e}"));
            let described = decoded.describe(|v| stringify(&v.0), stringify);
            assert_eq!(described, get(&case, "decoded").as_string().unwrap(), "{text}");
        }
    }

    #[wasm_bindgen_test]
    fn frames_the_reader_does_not_know_are_refused() {
        for text in [
            r#"{"type":"hello"}"#,
            r#"{"type":"transition","startVersion":{"querySet":0,"identity":0,"ts":"0"},"endVersion":{"querySet":1,"identity":0,"ts":"1"},"modifications":[{"type":"queryMoved","queryId":1}]}"#,
            r#"{"type":"transition","startVersion":{"querySet":0,"identity":0,"ts":1},"endVersion":{"querySet":1,"identity":0,"ts":"1"},"modifications":[]}"#,
            r#"{"type":"mutationResponse","requestId":-1,"outcome":"success"}"#,
            r#"{"type":"mutationResponse","requestId":1,"outcome":"maybe","message":"m"}"#,
        ] {
            let frame = js_sys::JSON::parse(text).unwrap();
            assert!(decode(&frame).is_err(), "{text}");
        }
    }
}
