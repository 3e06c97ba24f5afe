// Loads the WASM modules once, in the browser only. Nothing here runs at import time, so
// importing the React layer during server rendering or a build step cannot crash.
import type * as Client from "@roomsync/client";

export type ClientModule = typeof Client;

/** A loader for one wasm-bindgen module: imports it and runs its `init` once, browser only. */
export function wasmLoader<M extends { default: () => Promise<unknown> }>(what: string, load: () => Promise<M>): () => Promise<M> {
  let loading: Promise<M> | null = null;
  return () => {
    if (typeof window === "undefined") {
      return Promise.reject(new Error(`roomsync: the ${what} runs in the browser only`));
    }
    loading ??= load().then(async (module) => {
      await module.default();
      return module;
    });
    return loading;
  };
}

export const loadClient = wasmLoader("client", () => import("@roomsync/client"));
