// Roomsync's React layer: provider and hooks. Safe to import anywhere (no browser access at
// import time); the WASM client loads lazily in the browser.
export { SyncProvider, useSyncContext, type SyncProviderProps } from "./provider";
export {
  useQuery,
  useQueryState,
  useMutation,
  useConnectionState,
  type LocalStore,
  type MutationOptions,
} from "./hooks";
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
} from "./paginated";
export type { ConnectionState, DebugInfo, FailedMutation, FetchToken, SyncError } from "../../../client-wasm/pkg/index.js";
export { Devtools } from "./Devtools";
export { roomsyncQuery, connectTanstack, useRoomsyncTanstack, type RoomsyncQueryKey } from "./tanstack";
export { decodeValue, encodeValue, type JsonValue } from "./values";
export { automaticUpdate, loadPredictor, type Predictor } from "./optimistic";
