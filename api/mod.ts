/**
 * Shared resource types, defaults, validation and errors. No I/O: every other
 * part of Skiff imports this one.
 *
 * @module
 */

export * from "./clock.ts";
export * from "./errors.ts";
export * from "./meta.ts";
