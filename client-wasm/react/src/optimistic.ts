// `@roomsync/react/optimistic`: automatic optimistic updates. The application's own Rust
// mutation runs in the browser on the documents the client already holds, and every cached
// result it changes shows the write at once (an insert at its place in index order, a patch
// in every row copy, a delete gone). The predictor is a second WASM bundle (the engine, the
// schema and every function), loaded lazily: pass `predictor` to `<SyncProvider>` and use
// `useMutation(path, { optimisticUpdate: "auto" })`.
import { wasmLoader } from "./loader.js";

export { automaticUpdate, type Predictor, type PredictorSource } from "./auto.js";

/** Loads the predictor once, in the browser only (rejects elsewhere). */
export const loadPredictor = wasmLoader("predictor", () => import("@roomsync/client/optimistic"));

/** What `<SyncProvider predictor={predictor}>` takes to enable `optimisticUpdate: "auto"`. */
export const predictor = loadPredictor;
