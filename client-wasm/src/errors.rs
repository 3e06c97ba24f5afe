//! JS errors with a stable `code`.

use wasm_bindgen::JsValue;

/// A real `Error` whose `code` property says what went wrong, for `catch (e) { e.code }`.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("SyncError");
    let _ = js_sys::Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}
