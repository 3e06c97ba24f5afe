import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import type { SyncClient } from "../../../client-wasm/pkg/roomsync_client.js";
import { loadClient } from "./loader";

interface SyncContextValue {
  client: SyncClient | null;
  /** Why there is no client: not configured, still loading, or failed. */
  status: "off" | "loading" | "ready" | "failed";
}

const SyncContext = createContext<SyncContextValue | null>(null);

export interface SyncProviderProps {
  /** The worker's address (`http://127.0.0.1:8787`, `wss://…`). Empty means realtime is off. */
  url?: string | null;
  /** The room (tenant) to join. */
  room: string;
  /** `schemaHash` from the generated schema types; a room with another schema refuses the client. */
  schemaHash?: string;
  children: ReactNode;
}

/**
 * Makes a Roomsync client available to the hooks below it. The client is created lazily, in
 * the browser only; with no URL, or if the WASM cannot load, children still render and the
 * hooks report "no data" instead of throwing (graceful fallback).
 */
export function SyncProvider({ url, room, schemaHash, children }: SyncProviderProps) {
  const [value, setValue] = useState<SyncContextValue>({ client: null, status: url ? "loading" : "off" });

  useEffect(() => {
    if (!url) {
      setValue({ client: null, status: "off" });
      return;
    }
    let cancelled = false;
    let client: SyncClient | null = null;
    setValue({ client: null, status: "loading" });
    loadClient()
      .then((module) => {
        if (cancelled) return;
        client = module.SyncClient.tryNew(url, { room, schemaHash }) ?? null;
        // For devtools and tests: the live client, inspectable from the console.
        (window as unknown as { __ROOMSYNC__?: { client: SyncClient | null } }).__ROOMSYNC__ = { client };
        setValue({ client, status: client ? "ready" : "failed" });
      })
      .catch((error: unknown) => {
        console.warn("roomsync: could not load the client; realtime updates are off", error);
        if (!cancelled) setValue({ client: null, status: "failed" });
      });
    return () => {
      cancelled = true;
      client?.close();
    };
  }, [url, room, schemaHash]);

  return <SyncContext.Provider value={value}>{children}</SyncContext.Provider>;
}

export function useSyncContext(): SyncContextValue {
  const value = useContext(SyncContext);
  if (value === null) {
    throw new Error("Roomsync hooks must be used inside <SyncProvider>");
  }
  return value;
}
