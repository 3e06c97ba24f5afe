"use client"; // React Server Components: the hooks and the provider run on the client
// TanStack Query adapter: Roomsync queries in a TanStack `QueryClient`, kept live. Use
// `useQuery(roomsyncQuery("tasks:list", { status: "pending" }))` like any other query; while a
// component observes it, the room's updates are written into the cache as they commit (no
// refetching, no polling), and `staleTime: Infinity` keeps TanStack from refetching on its own.
import { useEffect, useMemo } from "react";
import type { Query, QueryClient, QueryFunctionContext } from "@tanstack/react-query";
import type { SyncClient } from "@roomsync/client";
import { useSyncContext } from "./provider.js";
import { decodeValue, encodeValue } from "./values.js";

export type RoomsyncQueryKey = readonly ["roomsync", string, Record<string, unknown>];

/** Options for TanStack's `useQuery`: the key names the function and its arguments. */
export function roomsyncQuery(udfPath: string, args: Record<string, unknown> = {}) {
  return { queryKey: ["roomsync", udfPath, args] as RoomsyncQueryKey, staleTime: Infinity };
}

const isRoomsync = (query: Query) => query.queryKey[0] === "roomsync";

/** The first result of a query (the live subscription then keeps the cache current). */
function firstResult(client: SyncClient, udfPath: string, args: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let stop: (() => void) | undefined;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      finish();
      // Not from inside the client's callback; a shared live subscription keeps the query.
      setTimeout(() => stop?.());
    };
    // A cached result may arrive inside `subscribe`: `settle` defers `stop` until it is set.
    stop = client.subscribe(
      udfPath,
      encodeValue(args),
      (value) => settle(() => resolve(decodeValue(value))),
      (error) => settle(() => reject(error)),
    );
  });
}

/** Follows every observed Roomsync query of `queryClient` with a live subscription. */
export function connectTanstack(client: SyncClient, queryClient: QueryClient): () => void {
  const live = new Map<string, () => void>();
  const follow = (query: Query) => {
    if (live.has(query.queryHash)) return;
    const [, udfPath, args] = query.queryKey as unknown as RoomsyncQueryKey;
    const stop = client.subscribe(
      udfPath,
      encodeValue(args),
      (value) => queryClient.setQueryData(query.queryKey, decodeValue(value)),
      (error) => query.setState({ status: "error", error, fetchStatus: "idle" }),
    );
    live.set(query.queryHash, stop);
  };
  const unfollow = (query: Query) => {
    live.get(query.queryHash)?.();
    live.delete(query.queryHash);
  };
  const cache = queryClient.getQueryCache();
  for (const query of cache.findAll({ queryKey: ["roomsync"] })) {
    if (query.getObserversCount() > 0) follow(query);
  }
  const unsubscribe = cache.subscribe((event) => {
    if (!isRoomsync(event.query)) return;
    if (event.type === "observerAdded") follow(event.query);
    if ((event.type === "observerRemoved" && event.query.getObserversCount() === 0) || event.type === "removed") {
      unfollow(event.query);
    }
  });
  return () => {
    unsubscribe();
    live.forEach((stop) => stop());
    live.clear();
  };
}

/**
 * Connects `queryClient` to the Roomsync client of the surrounding `<SyncProvider>`: Roomsync
 * queries fetch through the room and stay live. Call once, under both providers.
 */
export function useRoomsyncTanstack(queryClient: QueryClient): void {
  const { client, status } = useSyncContext();
  // Queries may start before the WASM client has loaded: their fetch waits for it.
  const ready = useMemo(() => {
    let resolve: (c: SyncClient | null) => void = () => {};
    const promise = new Promise<SyncClient | null>((r) => (resolve = r));
    return { promise, resolve };
  }, [queryClient]);
  useMemo(
    () =>
      queryClient.setQueryDefaults(["roomsync"], {
        staleTime: Infinity,
        retry: false,
        queryFn: async ({ queryKey }: QueryFunctionContext) => {
          const client = await ready.promise;
          if (!client) throw Object.assign(new Error("Roomsync is not connected: no sync URL is configured"), { code: "NO_CLIENT" });
          const [, udfPath, args] = queryKey as unknown as RoomsyncQueryKey;
          return firstResult(client, udfPath, args);
        },
      }),
    [queryClient, ready],
  );
  useEffect(() => {
    if (client) ready.resolve(client);
    else if (status === "off" || status === "failed") ready.resolve(null);
    if (!client) return;
    return connectTanstack(client, queryClient);
  }, [client, status, queryClient, ready]);
}
