/**
 * Compiles `labelSelector` and `fieldSelector` query parameters into one
 * object filter, refusing field labels the type does not support.
 *
 * @module
 */

import { BadRequestError, type KubeObject, parseFieldSelector, parseSelector } from "@skiff/api";
import type { ServedType } from "./served_type.ts";

/** A filter for the two selectors, or undefined when neither selects anything. */
export function compileSelectors(
  type: ServedType,
  labelSelector: string | null,
  fieldSelector: string | null,
): ((obj: KubeObject) => boolean) | undefined {
  let labels;
  let fields;
  try {
    labels = labelSelector ? parseSelector(labelSelector) : undefined;
  } catch (cause) {
    throw new BadRequestError(`Invalid labelSelector "${labelSelector}": ${(cause as Error).message}`, { cause });
  }
  try {
    fields = fieldSelector ? parseFieldSelector(fieldSelector) : undefined;
  } catch (cause) {
    throw new BadRequestError(`Invalid fieldSelector "${fieldSelector}": ${(cause as Error).message}`, { cause });
  }
  if (labels?.requirements.length === 0) labels = undefined;
  if (fields?.isEmpty()) fields = undefined;
  if (!labels && !fields) return undefined;
  const getters: Record<string, (obj: KubeObject) => string | undefined> = {
    "metadata.name": (obj) => obj.metadata.name ?? "",
    "metadata.namespace": (obj) => obj.metadata.namespace ?? "",
    ...type.strategy.fieldLabels,
  };
  for (const requirement of fields?.requirements ?? []) {
    if (!(requirement.field in getters)) {
      const supported = Object.keys(getters).sort().join(", ");
      throw new BadRequestError(
        `field label not supported: ${requirement.field} (${type.plural} support ${supported})`,
      );
    }
  }
  return (obj) =>
    (!labels || labels.matches(obj.metadata.labels)) &&
    (!fields || fields.matches((field) => getters[field]!(obj)));
}
