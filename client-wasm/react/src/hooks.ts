import { useCallback, useEffect, useMemo, useSyncExternalStore } from "react";
import type { ConnectionState, OptimisticLocalStore, SyncClient } from "@roomsync/client";
import { useSyncContext } from "./provider.js";
import { automaticUpdate, loadedPredictor } from "./auto.js";
import { decodeValue, encodeValue } from "./values.js";

type Listener = () => void;

/** What one live query holds, as `useSyncExternalStore` snapshots it. */
interface QuerySnapshot {
  value: unknown;
  error?: Error;
  /** A result kept through a reconnect that the room has not confirmed yet. */
  stale: boolean;
  loaded: boolean;
}

const EMPTY: QuerySnapshot = { value: undefined, stale: false, loaded: false };

/** One live query as an external store for `useSyncExternalStore`. */
function queryStore(client: SyncClient | null, udfPath: string, argsJson: string | null) {
  let snapshot = EMPTY;
  return {
    subscribe(onChange: Listener) {
      if (!client || argsJson === null) return () => {};
      return client.subscribe(
        udfPath,
        JSON.parse(argsJson),
        (result, meta) => {
          snapshot = { value: decodeValue(result), stale: meta.stale, loaded: true };
          onChange();
        },
        (e) => {
          snapshot = { ...snapshot, error: e, loaded: true };
          onChange();
        },
      );
    },
    getSnapshot: () => snapshot,
  };
}

function useQuerySnapshot(udfPath: string, args: Record<string, unknown> | "skip"): QuerySnapshot {
  const { client } = useSyncContext();
  const argsJson = args === "skip" ? null : JSON.stringify(encodeValue(args));
  const store = useMemo(() => queryStore(client, udfPath, argsJson), [client, udfPath, argsJson]);
  return useSyncExternalStore(store.subscribe, store.getSnapshot, () => EMPTY);
}

/**
 * The live result of a query: `undefined` while loading (or with no client), then every new
 * result as the room commits. Pass `"skip"` to not subscribe. Throws the query's error.
 */
export function useQuery<T = unknown>(udfPath: string, args: Record<string, unknown> | "skip" = {}): T | undefined {
  const snapshot = useQuerySnapshot(udfPath, args);
  if (snapshot.error) throw snapshot.error;
  return snapshot.value as T | undefined;
}

/**
 * Like `useQuery`, without throwing: `{ data, error, isLoading, isStale }`. `isStale` is true
 * while a result kept through a reconnect waits for the room to confirm it (show it dimmed).
 */
export function useQueryState<T = unknown>(
  udfPath: string,
  args: Record<string, unknown> | "skip" = {},
): { data: T | undefined; error: Error | undefined; isLoading: boolean; isStale: boolean } {
  const snapshot = useQuerySnapshot(udfPath, args);
  return {
    data: snapshot.value as T | undefined,
    error: snapshot.error,
    isLoading: !snapshot.loaded && args !== "skip",
    isStale: snapshot.stale,
  };
}

/** Cached query results as an optimistic update sees them (values decoded, like `useQuery`'s). */
export interface LocalStore {
  getQuery<T = unknown>(udfPath: string, args?: Record<string, unknown>): T | undefined;
  setQuery(udfPath: string, args: Record<string, unknown>, value: unknown): void;
  /** Every live query of one function, e.g. each page of a `usePaginatedQuery` list. */
  getAllQueries<T = unknown>(udfPath: string): Array<{ udfPath: string; args: Record<string, unknown>; value: T | undefined }>;
}

export interface MutationOptions<Args> {
  /**
   * Shows the write at once: edit the cached results the mutation will change. Re-applied on
   * every new result until the room answers, then dropped (on failure the guess disappears).
   *
   * `"auto"`: predict it instead, by running the mutation's own Rust code on the documents the
   * client holds (needs `<SyncProvider predictor={predictor}>` from
   * `@roomsync/react/optimistic`; loads the predictor bundle on first use; until it has
   * loaded, mutations show when the room answers). Results the prediction cannot reproduce
   * are left alone.
   */
  optimisticUpdate?: "auto" | ((localStore: LocalStore, args: Args) => void);
}

function decodedStore(raw: OptimisticLocalStore): LocalStore {
  return {
    getQuery: <T>(udfPath: string, args: Record<string, unknown> = {}) =>
      decodeValue(raw.getQuery(udfPath, encodeValue(args))) as T | undefined,
    setQuery: (udfPath, args, value) => raw.setQuery(udfPath, encodeValue(args), encodeValue(value)),
    getAllQueries: <T>(udfPath: string) =>
      raw.getAllQueries(udfPath).map(({ udfPath, args, value }) => ({
        udfPath,
        args: decodeValue(args) as Record<string, unknown>,
        value: decodeValue(value) as T | undefined,
      })),
  };
}

/**
 * A stable function that runs a mutation and resolves with its result once this client's
 * queries show the write. `options.optimisticUpdate` shows it before the room answers.
 */
export function useMutation<Args extends Record<string, unknown>, Result = unknown>(
  udfPath: string,
  options?: MutationOptions<Args>,
): (args: Args) => Promise<Result> {
  const { client, predictor: source } = useSyncContext();
  const update = options?.optimisticUpdate;
  // Start loading the predictor with the component, so it is ready by the first click.
  useEffect(() => {
    if (update === "auto" && client) loadedPredictor(source);
  }, [update, client, source]);
  return useCallback(
    (args: Args) => {
      if (!client) {
        return Promise.reject(Object.assign(new Error("Roomsync is not connected: no sync URL is configured"), { code: "NO_CLIENT" }));
      }
      const encoded = encodeValue(args);
      const predictor = update === "auto" ? loadedPredictor(source) : null;
      const optimisticUpdate =
        typeof update === "function"
          ? (raw: OptimisticLocalStore) => update(decodedStore(raw), args)
          : predictor
            ? automaticUpdate(predictor, udfPath, encoded)
            : undefined;
      return client.mutation(udfPath, encoded, optimisticUpdate ? { optimisticUpdate } : undefined).then(decodeValue) as Promise<Result>;
    },
    [client, udfPath, update, source],
  );
}

/** `Disconnected | Connecting | Connected | Reconnecting`, live. */
export function useConnectionState(): ConnectionState {
  const { client } = useSyncContext();
  const subscribe = useCallback(
    (onChange: Listener) => (client ? client.onConnectionStateChange(() => onChange()) : () => {}),
    [client],
  );
  return useSyncExternalStore(
    subscribe,
    () => (client ? client.connectionState : "Disconnected"),
    () => "Disconnected" as ConnectionState,
  );
}
