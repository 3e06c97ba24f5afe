// Loads the WASM client once, in the browser only. Nothing here runs at import time, so
// importing the React layer during server rendering or a build step cannot crash.
import type * as Client from "../../../client-wasm/pkg/roomsync_client.js";

export type ClientModule = typeof Client;

let loading: Promise<ClientModule> | null = null;

export function loadClient(): Promise<ClientModule> {
  if (typeof window === "undefined") {
    return Promise.reject(new Error("roomsync: the client runs in the browser only"));
  }
  loading ??= import("../../../client-wasm/pkg/roomsync_client.js").then(async (module) => {
    await module.default();
    return module;
  });
  return loading;
}
