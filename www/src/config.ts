import { ROLES, type Role } from "./demoAuth";
// Where the demo connects. `?server=` and `?room=` in the page URL win (handy for tests and
// for opening two rooms side by side); then VITE_ROOMSYNC_URL; then the local wrangler dev.
const params = typeof window === "undefined" ? new URLSearchParams() : new URLSearchParams(window.location.search);

export const serverUrl: string | null = params.has("server")
  ? params.get("server") || null
  : (import.meta.env.VITE_ROOMSYNC_URL as string | undefined) ?? "http://127.0.0.1:8787";

export const room: string = params.get("room") || "demo";

/** The demo's starting role (`?role=viewer`); switch it in the header. */
export const initialRole: Role = ROLES.find((r) => r === params.get("role")) ?? "admin";
