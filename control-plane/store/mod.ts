/**
 * Skiff's consistent store: the interface, the SQLite backend and the shared
 * conformance suite.
 *
 * @module
 */

export * from "./store.ts";
export * from "./sqlite_store.ts";
export * from "./open_store.ts";
export * from "./watch_hub.ts";
export * from "./compactor.ts";
export { type ContinueState, encodeContinue } from "./_keys.ts";
