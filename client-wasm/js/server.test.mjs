// The token helper of `@roomsync/client/server`: what it signs is an HS256 JWT over the
// claims the worker reads (checked here with node:crypto; the outside-app test has the room
// accept one), and bad input is refused naming the field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { signRoomToken } from "./server.js";

const SECRET = "a-secret-of-at-least-thirty-two-bytes!";

test("a room token is an HS256 JWT of the claims, expiring when asked", async () => {
  const before = Math.floor(Date.now() / 1000);
  const token = await signRoomToken({ sub: "user-42", role: "manager", room: "ngo-1", name: "Ayşe", expiresInSeconds: 600 }, SECRET);
  const [head, body, signature] = token.split(".");
  const expected = createHmac("sha256", SECRET).update(`${head}.${body}`).digest("base64url");
  assert.equal(signature, expected);
  assert.deepEqual(JSON.parse(Buffer.from(head, "base64url")), { alg: "HS256", typ: "JWT" });
  const claims = JSON.parse(Buffer.from(body, "base64url"));
  assert.deepEqual({ ...claims, exp: undefined }, { sub: "user-42", role: "manager", room: "ngo-1", name: "Ayşe", exp: undefined });
  assert.ok(claims.exp >= before + 600 && claims.exp <= before + 601, `${claims.exp}`);
});

test("bad claims and short secrets are refused, naming what is wrong", async () => {
  const ok = { sub: "u", role: "admin", room: "ngo-1" };
  const cases = [
    [{ ...ok, sub: "" }, /sub must be a non-empty string/],
    [{ ...ok, role: 7 }, /role must be a non-empty string .* got number/],
    [{ ...ok, room: "a/b" }, /room must be 1 to 64 letters/],
    [{ ...ok, expiresInSeconds: 90_000 }, /expiresInSeconds must be a number of seconds from 1 to 86400/],
    [{ ...ok, name: 5 }, /name must be a string/],
  ];
  for (const [claims, message] of cases) {
    await assert.rejects(signRoomToken(claims, SECRET), message);
  }
  await assert.rejects(signRoomToken(ok, "short"), /at least 32 bytes/);
  await assert.rejects(signRoomToken(null, SECRET), /sub must be/);
});
