// The JS half of the lossless value encoding: what the Rust side writes (shared/src/model/value.rs)
// decodes to exact bigint / bytes / non-finite numbers, and encodes back identically.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withSsr } from "./harness.mjs";

// Exactly as `Value::to_json` prints these values in Rust.
const FROM_RUST = '{"big":{"$int64":"9223372036854775807"},"min":{"$int64":"-9223372036854775808"},' +
  '"bytes":{"$bytes":"AAH/"},"nan":{"$number":"NaN"},"inf":{"$number":"-Infinity"},"list":[1.5,{"$int64":"9007199254740993"}]}';

test("int64, bytes and non-finite numbers survive JSON.parse and come back unchanged", async () => {
  await withSsr(async (load) => {
    const { decodeValue, encodeValue } = await load("@roomsync/react");
    const decoded = decodeValue(JSON.parse(FROM_RUST));
    assert.equal(decoded.big, 9223372036854775807n);
    assert.equal(decoded.min, -9223372036854775808n);
    assert.deepEqual([...new Uint8Array(decoded.bytes)], [0, 1, 255]);
    assert.ok(Number.isNaN(decoded.nan));
    assert.equal(decoded.inf, -Infinity);
    assert.equal(decoded.list[1], 9007199254740993n);
    assert.deepEqual(encodeValue(decoded), JSON.parse(FROM_RUST));
    assert.throws(() => encodeValue({ a: { b: 2n ** 64n } }), /args\.a\.b: bigint 18446744073709551616 does not fit in 64 bits/);
    assert.throws(() => encodeValue({ f: () => 1 }), /args\.f: a function cannot be stored/);
    assert.deepEqual(encodeValue({ kept: 1, dropped: undefined }), { kept: 1 });
  });
});
