import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { FailedMutation, SyncClient } from "@roomsync/client";
import { useSyncContext } from "./provider.js";
import { useQueryState } from "./hooks.js";
import { decodeValue, encodeValue } from "./values.js";

/** What a paginated query function returns (`tasks:page`, …). */
export interface PaginationResult<T> {
  page: T[];
  isDone: boolean;
  continueCursor: string;
}

export type PaginationStatus = "LoadingFirstPage" | "CanLoadMore" | "LoadingMore" | "Exhausted";

export interface UsePaginatedQueryResult<T> {
  /** Every loaded page, concatenated; live. */
  results: T[];
  status: PaginationStatus;
  isLoading: boolean;
  /** Subscribes to the next `numItems` items (when `status` is `CanLoadMore`). */
  loadMore: (numItems: number) => void;
}

interface PageSlot<T> {
  cursor: string | null;
  numItems: number;
  result?: PaginationResult<T>;
  error?: Error;
}

/**
 * A live, gap-free list loaded page by page with cursors (like Convex's). The function takes
 * `{ ...args, paginationOpts: { numItems, cursor } }` and returns `{ page, isDone,
 * continueCursor }`. Every loaded page stays subscribed: rows added, changed or removed in any
 * of them show at once, and rows never fall between pages (each page keeps the end of its
 * first run). Changing `args` starts again from the first page. Throws a page's error.
 */
export function usePaginatedQuery<T = unknown>(
  udfPath: string,
  args: Record<string, unknown> | "skip",
  options: { initialNumItems: number },
): UsePaginatedQueryResult<T> {
  const { client } = useSyncContext();
  const argsJson = args === "skip" ? null : JSON.stringify(encodeValue(args));
  const [slots, setSlots] = useState<PageSlot<T>[]>([]);
  const unsubscribes = useRef<Array<() => void>>([]);

  // Reset to the first page when the query changes.
  useEffect(() => {
    setSlots(argsJson === null ? [] : [{ cursor: null, numItems: options.initialNumItems }]);
    return () => {
      unsubscribes.current.forEach((stop) => stop());
      unsubscribes.current = [];
    };
  }, [client, udfPath, argsJson, options.initialNumItems]);

  // One subscription per page, made once per page.
  useEffect(() => {
    if (!client || argsJson === null) return;
    slots.forEach((slot, index) => {
      if (unsubscribes.current[index]) return;
      unsubscribes.current[index] = subscribePage(client, udfPath, argsJson, slot, (update) =>
        setSlots((current) => current.map((s, i) => (i === index && s.cursor === slot.cursor ? { ...s, ...update } : s))),
      );
    });
  }, [client, udfPath, argsJson, slots]);

  const loadMore = useCallback((numItems: number) => {
    setSlots((current) => {
      const last = current[current.length - 1];
      if (!last?.result || last.result.isDone) return current;
      return [...current, { cursor: last.result.continueCursor, numItems }];
    });
  }, []);

  return useMemo(() => {
    const failed = slots.find((s) => s.error);
    if (failed?.error) throw failed.error;
    const last = slots[slots.length - 1];
    const results = slots.flatMap((s) => s.result?.page ?? []);
    const status: PaginationStatus =
      slots.length === 0 || !slots[0].result
        ? "LoadingFirstPage"
        : !last.result
          ? "LoadingMore"
          : last.result.isDone
            ? "Exhausted"
            : "CanLoadMore";
    return { results, status, isLoading: status === "LoadingFirstPage" || status === "LoadingMore", loadMore };
  }, [slots, loadMore]);
}

function subscribePage<T>(
  client: SyncClient,
  udfPath: string,
  argsJson: string,
  slot: PageSlot<T>,
  update: (change: Partial<PageSlot<T>>) => void,
): () => void {
  const args = { ...JSON.parse(argsJson), paginationOpts: { numItems: slot.numItems, cursor: slot.cursor } };
  return client.subscribe(
    udfPath,
    args,
    (value) => update({ result: decodeValue(value) as PaginationResult<T>, error: undefined }),
    (error) => update({ error }),
  );
}

/** The number of unanswered mutations, live: 0 means "all changes saved". */
export function usePendingMutations(): number {
  const { client } = useSyncContext();
  const [count, setCount] = useState(() => client?.pendingMutations ?? 0);
  useEffect(() => {
    if (!client) return;
    setCount(client.pendingMutations);
    return client.onPendingMutationsChange(setCount);
  }, [client]);
  return count;
}

export interface UseFailedMutationsResult {
  /** Mutations the room refused for good (their promises rejected), kept — also across
   *  reloads — until discarded or retried. "All changes saved" needs this empty too. */
  failed: FailedMutation[];
  discard(requestId: number): void;
  /** Sends one again, as a new request; settles like the original call. */
  retry(requestId: number): Promise<unknown>;
}

/** The refused mutations, live, with the means to discard or retry each. */
export function useFailedMutations(): UseFailedMutationsResult {
  const { client } = useSyncContext();
  const [failed, setFailed] = useState<FailedMutation[]>(() => client?.failedMutations ?? []);
  useEffect(() => {
    if (!client) return;
    setFailed(client.failedMutations);
    return client.onPendingMutationsChange(() => setFailed(client.failedMutations));
  }, [client]);
  return useMemo(
    () => ({
      failed,
      discard: (requestId: number) => void client?.discardFailedMutation(requestId),
      retry: (requestId: number) =>
        client ? client.retryFailedMutation(requestId) : Promise.reject(new Error("realtime is off")),
    }),
    [client, failed],
  );
}

export interface UseOffsetQueryResult<T> {
  /** The current page's documents (the previous page's while the next one loads: no flash). */
  documents: T[];
  /** How many documents match in all, live. */
  total: number;
  page: number;
  pageCount: number;
  setPage: (page: number) => void;
  isLoading: boolean;
}

/**
 * A live offset page with its total, for admin tables: the function takes `{ ...args, limit,
 * skip }` and returns `{ documents, total }` (like `beneficiaries:list`). Rows added, changed
 * or removed anywhere in the range update the page and the total at once. Changing `args`
 * goes back to the first page.
 */
export function useOffsetQuery<T = unknown>(
  udfPath: string,
  args: Record<string, unknown> | "skip",
  options: { pageSize: number },
): UseOffsetQueryResult<T> {
  const [page, setPage] = useState(0);
  const argsKey = args === "skip" ? null : JSON.stringify(encodeValue(args));
  useEffect(() => setPage(0), [argsKey]);
  const pageArgs = args === "skip" ? "skip" : { ...args, limit: options.pageSize, skip: page * options.pageSize };
  const { data, error, isLoading } = useQueryState<{ documents: T[]; total: number }>(udfPath, pageArgs);
  if (error) throw error;
  // Keep showing the last page while the next one loads.
  const last = useRef<{ documents: T[]; total: number }>({ documents: [], total: 0 });
  if (data) last.current = data;
  const shown = data ?? last.current;
  return {
    documents: shown.documents,
    total: shown.total,
    page,
    pageCount: Math.max(1, Math.ceil(shown.total / options.pageSize)),
    setPage,
    isLoading,
  };
}
