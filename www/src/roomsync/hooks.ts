import { useCallback, useMemo, useSyncExternalStore } from "react";
import type { ConnectionState, SyncClient } from "../../../client-wasm/pkg/roomsync_client.js";
import { useSyncContext } from "./provider";
import { decodeValue, encodeValue } from "./values";

type Listener = () => void;

/** One live query as an external store for `useSyncExternalStore`. */
function queryStore(client: SyncClient | null, udfPath: string, argsJson: string | null) {
  let value: unknown = undefined;
  let error: Error | undefined;
  return {
    subscribe(onChange: Listener) {
      if (!client || argsJson === null) return () => {};
      return client.subscribe(
        udfPath,
        JSON.parse(argsJson),
        (result) => {
          value = decodeValue(result);
          error = undefined;
          onChange();
        },
        (e) => {
          error = e;
          onChange();
        },
      );
    },
    getSnapshot: () => (error ? error : value),
  };
}

/**
 * The live result of a query: `undefined` while loading (or with no client), then every new
 * result as the room commits. Pass `"skip"` to not subscribe. Throws the query's error.
 */
export function useQuery<T = unknown>(udfPath: string, args: Record<string, unknown> | "skip" = {}): T | undefined {
  const { client } = useSyncContext();
  const argsJson = args === "skip" ? null : JSON.stringify(encodeValue(args));
  const store = useMemo(() => queryStore(client, udfPath, argsJson), [client, udfPath, argsJson]);
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, () => undefined);
  if (snapshot instanceof Error) throw snapshot;
  return snapshot as T | undefined;
}

/** A stable function that runs a mutation and resolves with its result. */
export function useMutation<Args extends Record<string, unknown>, Result = unknown>(
  udfPath: string,
): (args: Args) => Promise<Result> {
  const { client } = useSyncContext();
  return useCallback(
    (args: Args) =>
      client
        ? (client.mutation(udfPath, encodeValue(args)).then(decodeValue) as Promise<Result>)
        : Promise.reject(Object.assign(new Error("Roomsync is not connected: no sync URL is configured"), { code: "NO_CLIENT" })),
    [client, udfPath],
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
