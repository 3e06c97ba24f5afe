// Automatic optimistic updates, the main entry's side: how a prediction becomes an optimistic
// update, and which predictor the provider was given. The predictor itself (the engine, the
// schema and every function: a second WASM bundle) is the `@roomsync/react/optimistic`
// entry's: an app that does not import it never ships it.
import type { OptimisticLocalStore } from "@roomsync/client";
import type * as Optimistic from "@roomsync/client/optimistic";
import { say } from "./dev.js";

export type Predictor = typeof Optimistic;

/** Loads the predictor (what `@roomsync/react/optimistic` exports as `predictor`). */
export type PredictorSource = () => Promise<Predictor>;

const loaded = new WeakMap<PredictorSource, Predictor | null>();
let warned = false;

/** The predictor of `source` if it has loaded (a mutation never waits for it; the first call
 *  starts loading it). Without a source, says once how to enable automatic updates. */
export function loadedPredictor(source: PredictorSource | undefined): Predictor | null {
  if (!source) {
    if (!warned) {
      warned = true;
      say(
        'optimisticUpdate: "auto" needs the predictor: import { predictor } from "@roomsync/react/optimistic" and pass it to <SyncProvider predictor={predictor}>; until then writes show when the room answers',
      );
    }
    return null;
  }
  if (!loaded.has(source)) {
    loaded.set(source, null);
    source().then(
      (p) => loaded.set(source, p),
      () => {},
    );
  }
  return loaded.get(source) ?? null;
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
