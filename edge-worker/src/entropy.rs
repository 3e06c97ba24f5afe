//! Time and randomness for the engine, from the Workers runtime.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// 128 bits from `crypto.getRandomValues`, so that ids cannot be guessed.
pub fn random_u128() -> Result<u128, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into())?;
    let fill: js_sys::Function = Reflect::get(&crypto, &"getRandomValues".into())?.dyn_into()?;
    let bytes = Uint8Array::new_with_length(16);
    fill.call1(&crypto, &bytes)?;
    let mut buf = [0u8; 16];
    bytes.copy_to(&mut buf);
    Ok(u128::from_le_bytes(buf))
}

/// Milliseconds since the Unix epoch. Inside a Worker this clock only moves between I/O
/// events, which is exactly the granularity the engine needs.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
