/**
 * The `skiff` CLI.
 *
 * @module
 */

export { program } from "./main.ts";
