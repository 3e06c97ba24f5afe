//! JS errors with a stable `code`, and argument conversion.

use wasm_bindgen::JsValue;

/// A real `Error` whose `code` property says what went wrong, for `catch (e) { e.code }`.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("SyncError");
    let _ = js_sys::Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

/// Arguments as canonical JSON text (keys sorted), through the browser's own
/// `JSON.stringify`. `undefined` means no arguments.
pub fn args_to_text(args: &JsValue) -> Result<String, JsValue> {
    crate::wire::args_text(args)
        .map_err(|_| js_error("INVALID_ARGS", "arguments must be JSON-serializable (no cycles, no BigInt)"))
}
