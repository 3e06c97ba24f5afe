"use client"; // React Server Components: the hooks and the provider run on the client
// `@roomsync/react`: the provider and hooks. Safe to import anywhere (no browser access at
// import time); the WASM client loads lazily in the browser. Separate entries, never in a
// bundle that does not import them: `@roomsync/react/tanstack` (the TanStack Query adapter),
// `@roomsync/react/optimistic` (the predictor for automatic optimistic updates) and
// `@roomsync/react/devtools`.
export { SyncProvider, useSyncContext, type SyncProviderProps } from "./provider.js";
export {
  useQuery,
  useQueryState,
  useMutation,
  useConnectionState,
  type LocalStore,
  type MutationOptions,
} from "./hooks.js";
export {
  usePaginatedQuery,
  usePendingMutations,
  useFailedMutations,
  useOffsetQuery,
  type UseFailedMutationsResult,
  type UseOffsetQueryResult,
  type PaginationResult,
  type PaginationStatus,
  type UsePaginatedQueryResult,
} from "./paginated.js";
export type { ConnectionState, DebugInfo, FailedMutation, FetchToken, SyncError } from "@roomsync/client";
export { decodeValue, encodeValue, type JsonValue } from "./values.js";
export { automaticUpdate, type Predictor, type PredictorSource } from "./auto.js";
