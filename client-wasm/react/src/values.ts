// The lossless JSON encoding of document values (see shared/src/model/value.rs), on the JS side.
// 64-bit integers travel as {"$int64": "…"} and bytes as {"$bytes": "<base64>"}, NaN and
// ±Infinity as {"$number": "…"}, so they survive JSON.parse; these helpers turn them into
// bigint, ArrayBuffer and number and back.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function base64ToBytes(text: string): ArrayBuffer {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

function bytesToBase64(buffer: ArrayBuffer | ArrayBufferView): string {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

/** Wire JSON → JS value (bigint, ArrayBuffer, non-finite numbers restored). */
export function decodeValue(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(decodeValue);
  if (json === null || typeof json !== "object") return json;
  const entries = Object.entries(json as Record<string, unknown>);
  if (entries.length === 1) {
    const [key, text] = entries[0];
    if (typeof text === "string") {
      if (key === "$int64") return BigInt(text);
      if (key === "$bytes") return base64ToBytes(text);
      if (key === "$number") return Number(text);
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, decodeValue(v)]));
}

/** JS value → wire JSON. Throws a TypeError naming the path for values JSON cannot carry. */
export function encodeValue(value: unknown, path = "args"): JsonValue {
  switch (typeof value) {
    case "bigint":
      if (value < INT64_MIN || value > INT64_MAX) throw new TypeError(`${path}: bigint ${value} does not fit in 64 bits`);
      return { $int64: value.toString() };
    case "number":
      return Number.isFinite(value) ? value : { $number: String(value) };
    case "string":
    case "boolean":
      return value;
    case "undefined":
      throw new TypeError(`${path}: undefined is not a value (leave the field out instead)`);
    case "function":
    case "symbol":
      throw new TypeError(`${path}: a ${typeof value} cannot be stored`);
  }
  if (value === null) return null;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return { $bytes: bytesToBase64(value) };
  if (Array.isArray(value)) return value.map((item, i) => encodeValue(item, `${path}[${i}]`));
  const out: { [key: string]: JsonValue } = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (item === undefined) continue; // an absent optional field
    out[key] = encodeValue(item, `${path}.${key}`);
  }
  return out;
}
