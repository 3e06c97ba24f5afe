//! Time and randomness for the engine, from the Workers runtime.

use js_sys::{Reflect, Uint8Array};
use roomsync_shared::Environment;
use wasm_bindgen::{JsCast, JsValue};

/// 128 bits from `crypto.getRandomValues`, so that ids cannot be guessed.
fn crypto_u128() -> Result<u128, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into())?;
    let fill: js_sys::Function = Reflect::get(&crypto, &"getRandomValues".into())?.dyn_into()?;
    let bytes = Uint8Array::new_with_length(16);
    fill.call1(&crypto, &bytes)?;
    let mut buf = [0u8; 16];
    bytes.copy_to(&mut buf);
    Ok(u128::from_le_bytes(buf))
}

/// The Workers runtime as the engine's [`Environment`].
pub struct WorkerEnv;

impl Environment for WorkerEnv {
    /// Inside a Worker this clock only moves between I/O events, which is exactly the
    /// granularity the engine needs.
    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }

    fn random_u128(&mut self) -> u128 {
        crypto_u128().unwrap_or_else(|e| {
            // Never seen in practice; ids stay unique (if guessable) rather than the room failing.
            worker::console_error!("crypto.getRandomValues failed: {e:?}");
            let part = || (js_sys::Math::random() * 2f64.powi(53)) as u128;
            (part() << 75) ^ (part() << 22) ^ part()
        })
    }
}

/// 128 random bits for a new connection id.
pub fn random_u128() -> u128 {
    WorkerEnv.random_u128()
}
