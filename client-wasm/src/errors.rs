//! JS errors with a stable `code`, and argument conversion.

use serde_json::Value;
use wasm_bindgen::JsValue;

/// A real `Error` whose `code` property says what went wrong, for `catch (e) { e.code }`.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("SyncError");
    let _ = js_sys::Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

/// Converts arguments to JSON through the browser's own `JSON.stringify` (no extra WASM).
/// `undefined` means no arguments.
pub fn args_to_json(args: &JsValue) -> Result<Value, JsValue> {
    if args.is_undefined() || args.is_null() {
        return Ok(Value::Object(Default::default()));
    }
    let text = js_sys::JSON::stringify(args)
        .map_err(|_| js_error("INVALID_ARGS", "arguments must be JSON-serializable (no cycles, no BigInt)"))?;
    let text = String::from(text);
    serde_json::from_str(&text).map_err(|e| js_error("INVALID_ARGS", &format!("arguments are not valid JSON: {e}")))
}

/// Converts a JSON value to a JS value through the browser's `JSON.parse`.
pub fn json_to_js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap_or(JsValue::NULL)
}
