// Automatic optimistic updates: the application's own Rust mutation runs in the browser on
// the documents the client already holds, and every cached result it changes shows the write
// at once (an insert at its place in index order, a patch in every row copy, a delete gone).
// The predictor is a second WASM bundle (the engine, the schema and every function), loaded
// lazily and only by apps that ask for it: the sync client itself stays small.
import type { OptimisticLocalStore } from "../../../client-wasm/pkg/index.js";
import type * as Optimistic from "../../../client-wasm/optimistic/pkg/roomsync_optimistic.js";
import { wasmLoader } from "./loader";

export type Predictor = typeof Optimistic;

/** Loads the predictor once, in the browser only (rejects elsewhere). */
export const loadPredictor = wasmLoader("predictor", () => import("../../../client-wasm/optimistic/pkg/roomsync_optimistic.js"));

let loaded: Predictor | null = null;
/** The predictor if it has loaded (a mutation never waits for it). */
export function loadedPredictor(): Predictor | null {
  if (!loaded) void loadPredictor().then((p) => (loaded = p), () => {});
  return loaded;
}

/**
 * An `optimisticUpdate` for `mutation(udfPath, args)` that predicts its effect on every
 * cached query. Results the client's documents do not reproduce (totals, offset pages,
 * searches) are left as the room sent them; a mutation that fails locally shows nothing.
 * `args` are wire-encoded (as `client.mutation` takes them).
 */
export function automaticUpdate(predictor: Predictor, udfPath: string, args: unknown) {
  return (store: OptimisticLocalStore) => {
    const cached = store.getAllQueries().filter((q) => q.value !== undefined);
    if (cached.length === 0) return;
    let predictions: Array<{ index: number; value: unknown }>;
    try {
      predictions = JSON.parse(predictor.predict(JSON.stringify(cached), udfPath, JSON.stringify(args ?? {}), store.token));
    } catch {
      return; // the mutation fails locally: the room's answer will say why
    }
    for (const { index, value } of predictions) {
      store.setQuery(cached[index].udfPath, cached[index].args, value);
    }
  };
}
