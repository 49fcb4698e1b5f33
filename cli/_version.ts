/**
 * The CLI's version: the `version` of cli/deno.json, one place.
 *
 * @module
 */

import meta from "./deno.json" with { type: "json" };

/** Skiff's version, e.g. `0.1.0`. */
export const CLI_VERSION: string = meta.version;
