/**
 * Skiff's consistent store: the interface and its SQLite backend.
 *
 * @module
 */

export * from "./store.ts";
