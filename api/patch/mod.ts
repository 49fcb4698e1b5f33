/**
 * Patch engines of the Skiff API, pure functions over JSON objects:
 *
 * - {@linkcode applyJsonPatch}: JSON Patch, RFC 6902
 *   (`application/json-patch+json`).
 * - {@linkcode applyMergePatch}, {@linkcode createMergePatch},
 *   {@linkcode createThreeWayMergePatch}: JSON merge patch, RFC 7386
 *   (`application/merge-patch+json`).
 * - {@linkcode applyStrategicMergePatch}, {@linkcode createTwoWayPatch},
 *   {@linkcode createThreeWayPatch}: Kubernetes strategic merge patch
 *   (`application/strategic-merge-patch+json`), with the patch metadata of
 *   the built-in kinds in {@linkcode patchSchemaFor}.
 * - {@linkcode applyServerSide}, {@linkcode recordUpdate}: server-side apply
 *   (`application/apply-patch+yaml`) and the `metadata.managedFields`
 *   bookkeeping of ordinary writes.
 *
 * None modifies its arguments; bad input is refused with the typed errors of
 * `errors.ts` (`BadRequestError`, `InvalidError`, `ConflictError`,
 * `TooLargeError`).
 *
 * @module
 */

export { applyJsonPatch, type JsonPatchOperation, MAX_JSON_PATCH_OPERATIONS } from "./json_patch.ts";
export { applyMergePatch, createMergePatch, createThreeWayMergePatch, type ThreeWayInput } from "./merge_patch.ts";
export { BUILTIN_PATCH_SCHEMAS, type PatchSchema, patchSchemaFor } from "./schema.ts";
export {
  applyStrategicMergePatch,
  createThreeWayPatch,
  createTwoWayPatch,
  type StrategicMergeOptions,
} from "./strategic_merge.ts";
export {
  applyServerSide,
  type ManagedFieldsOptions,
  recordUpdate,
  type ServerSideApplyOptions,
} from "./server_side_apply.ts";
