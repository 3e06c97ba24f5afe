//! Result hashes both sides can compute. The room hashes every result it sends; a client
//! resuming sends the hash of what it holds, and after applying a diff checks that what it
//! built has the hash the room says. The browser holds results as JS values (parsed by
//! `JSON.parse`), so the hash is over a text JavaScript reproduces exactly from those values:
//! the `JSON.stringify` text of the value with object keys sorted by UTF-16 code units, and
//! numbers written as JavaScript writes them (`1`, not `1.0`; `1e+21`; `1e-7`). The driver's
//! `hashValue` (`client-wasm/src/driver.js`) is the same function; `diff-cases.json` checks
//! them against each other.

use crate::model::text::hash_text;
use serde_json::Value;

/// FNV-1a (64 bit, hex) of [`canonical_text`].
pub fn hash_value(value: &Value) -> String {
    hash_text(&canonical_text(value))
}

/// The text the hash is over (see the module docs).
pub fn canonical_text(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // What `JSON.parse` makes of the room's text: the nearest double, even for integers
        // beyond 2^53.
        Value::Number(n) => js_number(out, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => push_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            // JavaScript's default sort: UTF-16 code units (differs from UTF-8 byte order
            // only between supplementary characters and U+E000..U+FFFF).
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, key);
                out.push(':');
                write(out, &fields[key]);
            }
            out.push('}');
        }
    }
}

/// Appends `s` as a JSON string literal, escaped as `JSON.stringify` escapes it: `"`, `\`,
/// and control characters (short forms where JSON has them, else `\u00xx`). The client's
/// frames are written with it too.
pub fn push_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// ECMAScript's Number::toString for a finite double (non-finite numbers are `null`, as in
/// `JSON.stringify`): the shortest digits that round-trip, then plain or exponent notation
/// by the position of the decimal point.
fn js_number(out: &mut String, x: f64) {
    if !x.is_finite() {
        out.push_str("null");
        return;
    }
    if x == 0.0 {
        out.push('0'); // also -0
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e3", "5e-324".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i32;
    let n = exponent.parse::<i32>().unwrap_or(0) + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        let cases: [(f64, &str); 16] = [
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123_456_789.0, "123456789"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123_456_789_012_345_680_000.0, "123456789012345680000"),
            (1.5e21, "1.5e+21"),
            (1e-6, "0.000001"),
            (1.5e-6, "0.0000015"),
            (1e-7, "1e-7"),
            (-1.25e-9, "-1.25e-9"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-0.0, "0"),
            (9_007_199_254_740_993.0, "9007199254740992"),
        ];
        for (x, js) in cases {
            let mut out = String::new();
            js_number(&mut out, x);
            assert_eq!(out, js, "{x:e}");
        }
        // Integers beyond 2^53 are what JSON.parse makes of them.
        assert_eq!(canonical_text(&json!(9_007_199_254_740_993u64)), "9007199254740992");
    }

    #[test]
    fn keys_sort_by_utf16_and_strings_escape_as_json_stringify() {
        let value = json!({"b": 1, "a": [true, null, "x\"\\\n\u{1}\u{7f}é"], "\u{ffff}": 0, "😀": 0});
        assert_eq!(
            canonical_text(&value),
            "{\"a\":[true,null,\"x\\\"\\\\\\n\\u0001\u{7f}é\"],\"b\":1,\"😀\":0,\"\u{ffff}\":0}"
        );
        assert_eq!(hash_value(&json!({"n": 1.0})), hash_value(&json!({"n": 1})));
    }
}
