// The package's entry. `SyncClient` is the JS driver (src/driver.js) over the WASM core:
// `new SyncClient(url, options)` has the core validate the URL and room (the driver checks
// the options' types; either throws a SyncError with a `code`) and returns the started
// driver. Everything else the glue exports (the wasm-bindgen `init`, types) passes through.
import { connect, tryConnect } from "./roomsync_client.js";

export { default, initSync } from "./roomsync_client.js";

export function SyncClient(url, options) {
  return connect(url, options);
}

SyncClient.tryNew = (url, options) => tryConnect(url, options);
