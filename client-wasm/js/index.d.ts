// Types of the package's entry: the glue's types (SyncClient is declared there, with the
// options, errors and devtools shapes) and its init functions.
export * from "./roomsync_client.js";
export { default, initSync } from "./roomsync_client.js";
