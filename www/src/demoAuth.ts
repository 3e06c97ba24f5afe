// Demo sign-in: asks the local worker's development route for a token of the chosen role.
// A real panel gets tokens from its own auth server, which signs them with the worker's
// ROOMSYNC_JWT_SECRET (see the README); the route exists only with ROOMSYNC_DEV_TOKENS=1.
import type { FetchToken } from "./roomsync";

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
    if (!response.ok) {
      console.warn(`roomsync demo: no development token (${response.status}): ${await response.text()}`);
      return null;
    }
    const { token } = (await response.json()) as { token: string };
    return token;
  };
}
