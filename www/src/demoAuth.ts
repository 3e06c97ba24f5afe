// Demo sign-in: asks the local worker's development route for a token of the chosen role.
// A real panel gets tokens from its own auth server, which signs them with the worker's
// ROOMSYNC_JWT_SECRET (see the README); the route exists only with ROOMSYNC_DEV_TOKENS=1.
import type { FetchToken } from "@roomsync/react";

export const ROLES = ["admin", "manager", "member", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export function demoFetchToken(serverUrl: string, room: string, role: Role): FetchToken {
  const http = serverUrl.replace(/^ws/, "http").replace(/\/+$/, "");
  return async () => {
    const response = await fetch(`${http}/rooms/${encodeURIComponent(room)}/dev-token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub: `demo-${role}`, role, name: `Demo ${role}` }),
    });
    // A server error is "try again later" (thrown: the client retries with backoff and keeps
    // writes waiting); a refusal (4xx: development tokens are off) is "signed out" (null).
    if (response.status >= 500) throw new Error(`development token route failed (${response.status})`);
    if (!response.ok) {
      console.warn(`roomsync demo: no development token (${response.status}): ${await response.text()}`);
      return null;
    }
    const { token } = (await response.json()) as { token: string };
    return token;
  };
}
