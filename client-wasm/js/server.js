// `@roomsync/client/server`: mints room tokens on your own server — what your auth endpoint
// (`/api/roomsync-token`) returns to a signed-in user. Web Crypto only (Node 18+, Deno, Bun,
// Cloudflare Workers); never import it in the browser: the secret must stay on the server.
// The token is an HS256 JWT the worker verifies with the same `ROOMSYNC_JWT_SECRET`
// (as `roomsync_shared::auth::sign` makes them in Rust).

const encoder = new TextEncoder();

function base64url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fail(field, expected, got) {
  const shown = typeof got === "string" ? JSON.stringify(got) : typeof got;
  throw new TypeError(`signRoomToken: ${field} must be ${expected}, got ${shown}`);
}

/**
 * A token for `sub` with `role` in `room`, valid `expiresInSeconds` (default an hour, at most
 * a day). `secret` is the worker's `ROOMSYNC_JWT_SECRET` (at least 32 bytes).
 */
export async function signRoomToken(claims, secret) {
  const { sub, role, room, name, expiresInSeconds = 3600 } = claims ?? {};
  if (typeof sub !== "string" || sub === "") fail("sub", "a non-empty string (the user's id)", sub);
  if (typeof role !== "string" || role === "") fail("role", "a non-empty string (a role of the app)", role);
  if (typeof room !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(room)) {
    fail("room", "1 to 64 letters, digits, '-' or '_'", room);
  }
  if (name !== undefined && typeof name !== "string") fail("name", "a string when given", name);
  if (typeof expiresInSeconds !== "number" || !(expiresInSeconds >= 1 && expiresInSeconds <= 86_400)) {
    fail("expiresInSeconds", "a number of seconds from 1 to 86400", expiresInSeconds);
  }
  if (typeof secret !== "string" || encoder.encode(secret).length < 32) {
    throw new TypeError("signRoomToken: the secret must be a string of at least 32 bytes (ROOMSYNC_JWT_SECRET)");
  }
  const payload = { sub, role, room, exp: Math.floor(Date.now() / 1000) + Math.floor(expiresInSeconds) };
  if (name !== undefined) payload.name = name;
  const head = base64url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = base64url(encoder.encode(JSON.stringify(payload)));
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`${head}.${body}`)));
  return `${head}.${body}.${base64url(signature)}`;
}
