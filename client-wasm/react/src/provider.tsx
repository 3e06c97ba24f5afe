import { createContext, useContext, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from "react";

/** `useLayoutEffect` in the browser; `useEffect` on the server, where layout effects never run. */
const useIsomorphicLayoutEffect = typeof window === "undefined" ? useEffect : useLayoutEffect;
import type { FetchToken, SyncClient } from "@roomsync/client";
import { automaticUpdate, type PredictorSource } from "./auto.js";
import { loadClient } from "./loader.js";
import { say } from "./dev.js";

interface SyncContextValue {
  client: SyncClient | null;
  /** Why there is no client: not configured, still loading, or failed. */
  status: "off" | "loading" | "ready" | "failed";
  /** Whether the room accepted the token: `null` until it answers (or with no `fetchToken`). */
  authenticated: boolean | null;
  /** The predictor for `optimisticUpdate: "auto"`, if the app gave one. */
  predictor?: PredictorSource;
}

const SyncContext = createContext<SyncContextValue | null>(null);

export interface SyncProviderProps {
  /** The worker's address (`http://127.0.0.1:8787`, `wss://…`). Empty means realtime is off. */
  url?: string | null;
  /** The room (tenant) to join. */
  room: string;
  /** `schemaHash` from the generated schema types; a room with another schema refuses the client. */
  schemaHash?: string;
  /**
   * Where tokens come from (your auth server): called at start, before a token expires and
   * when the room refuses one. Signing in, refreshing or switching users keeps every live
   * query; the room re-runs them under the new identity. Omit for signed-out use.
   */
  fetchToken?: FetchToken;
  /**
   * Enables `optimisticUpdate: "auto"` (predictions by the app's own mutation code, a second
   * WASM bundle loaded on first use): `import { predictor } from "@roomsync/react/optimistic"`.
   */
  predictor?: PredictorSource;
  children: ReactNode;
}

/**
 * Makes a Roomsync client available to the hooks below it. The client is created lazily, in
 * the browser only; with no URL, or if the WASM cannot load, children still render and the
 * hooks report "no data" instead of throwing (graceful fallback).
 */
export function SyncProvider({ url, room, schemaHash, fetchToken, predictor, children }: SyncProviderProps) {
  const [value, setValue] = useState<Omit<SyncContextValue, "authenticated">>({
    client: null,
    status: url ? "loading" : "off",
  });
  const [authenticated, setAuthenticated] = useState<boolean | null>(null);
  // The latest token source, handed to a new client before its socket opens (so no query
  // runs signed out); later changes go through `setAuth` on the live client.
  const fetchTokenRef = useRef(fetchToken);
  fetchTokenRef.current = fetchToken;
  const appliedRef = useRef<FetchToken | undefined>(undefined);
  const predictorRef = useRef(predictor);
  predictorRef.current = predictor;

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
        appliedRef.current = fetchTokenRef.current;
        if (client && fetchTokenRef.current) client.setAuth(fetchTokenRef.current, setAuthenticated);
        // For devtools and tests: the live client (and the class, to open more), from the console.
        (window as unknown as { __ROOMSYNC__?: unknown }).__ROOMSYNC__ = {
          client,
          SyncClient: module.SyncClient,
          loadPredictor: predictorRef.current,
          automaticUpdate,
        };
        setValue({ client, status: client ? "ready" : "failed" });
      })
      .catch((error: unknown) => {
        say("could not load the client (its WASM?); realtime updates are off", error);
        if (!cancelled) setValue({ client: null, status: "failed" });
      });
    return () => {
      cancelled = true;
      client?.close();
    };
  }, [url, room, schemaHash]);

  const { client } = value;
  // A new `fetchToken` (another user) applies before any child's effects run: a mutation a
  // child makes for the new user then waits for the new identity instead of running as the
  // previous one (children's effects run before their parent's).
  useIsomorphicLayoutEffect(() => {
    if (!client || appliedRef.current === fetchToken) return;
    appliedRef.current = fetchToken;
    setAuthenticated(null);
    if (fetchToken) {
      client.setAuth(fetchToken, setAuthenticated);
    } else {
      client.clearAuth();
    }
  }, [client, fetchToken]);

  return <SyncContext.Provider value={{ ...value, authenticated, predictor }}>{children}</SyncContext.Provider>;
}

export function useSyncContext(): SyncContextValue {
  const value = useContext(SyncContext);
  if (value === null) {
    throw new Error("Roomsync hooks must be used inside <SyncProvider>");
  }
  return value;
}
