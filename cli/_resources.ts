/**
 * What users type to name objects, read as kubectl reads it: `pods`,
 * `po/web`, `deploy.apps web api`, `pods,svc`, `all`; and how objects are
 * named back (`deployment.apps/web`).
 *
 * @module
 */

import { findResource, type KubeObject, RESOURCE_TYPES, resourceForKind, type ResourceType } from "@skiff/api";
import { UsageError } from "./_errors.ts";

/** One resource type and the names asked for (none: every object of the type). */
export interface Target {
  /** The resource type. */
  type: ResourceType;
  /** Object names; empty means all (or those a selector picks). */
  names: string[];
}

/** The types `all` stands for, as in `skiff get all`. */
function allCategory(): ResourceType[] {
  return RESOURCE_TYPES.filter((t) => t.categories.includes("all"));
}

/**
 * The resource type a user means by `name`.
 *
 * @throws {UsageError} when no type matches
 */
export function resolveType(name: string): ResourceType {
  const type = findResource(name);
  if (!type) {
    throw new UsageError(
      `the server doesn't have a resource type "${name}": run \`skiff api-resources\` to list the types it serves`,
    );
  }
  return type;
}

/**
 * Reads `<type>[,<type>…] [name…]` or `<type>/<name> [<type>/<name>…]`.
 *
 * @throws {UsageError} when the arguments mix the two forms, name no type, or
 * give names with several types
 */
export function parseTargets(args: readonly string[], command: string): Target[] {
  const first = args[0];
  if (first === undefined || first === "") {
    throw new UsageError(
      `you must specify the type of resource to ${command}: e.g. \`skiff ${command} pods\`; run \`skiff api-resources\` for the types`,
    );
  }
  if (first.includes("/")) {
    const targets: Target[] = [];
    for (const arg of args) {
      const slash = arg.indexOf("/");
      if (slash <= 0 || slash === arg.length - 1) {
        throw new UsageError(
          `there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'skiff ${command} pod/web'): "${arg}" is not in that form`,
        );
      }
      const type = resolveType(arg.slice(0, slash));
      const name = arg.slice(slash + 1);
      const existing = targets.find((t) => t.type === type);
      if (existing) existing.names.push(name);
      else targets.push({ type, names: [name] });
    }
    return targets;
  }
  const types: ResourceType[] = [];
  for (const part of first.split(",")) {
    if (part === "") continue;
    for (const type of part.toLowerCase() === "all" ? allCategory() : [resolveType(part)]) {
      if (!types.includes(type)) types.push(type);
    }
  }
  const names = args.slice(1);
  if (names.some((n) => n.includes("/"))) {
    throw new UsageError(
      `arguments in resource/name form must have a single resource and name: give either "<type> <name>" or "<type>/<name>"`,
    );
  }
  if (names.length > 0 && types.length > 1) {
    throw new UsageError(`you must specify only one resource type when naming objects: got "${first}"`);
  }
  return types.map((type) => ({ type, names: [...names] }));
}

/**
 * Reads exactly one object reference: `<type> <name>` or `<type>/<name>`.
 *
 * @throws {UsageError} when the arguments do not name exactly one object
 */
export function parseOneTarget(args: readonly string[], command: string): { type: ResourceType; name: string } {
  const targets = parseTargets(args, command);
  const target = targets[0];
  if (targets.length !== 1 || target === undefined || target.names.length !== 1) {
    throw new UsageError(
      `${command} needs exactly one object: \`skiff ${command} <type> <name>\` or \`skiff ${command} <type>/<name>\``,
    );
  }
  return { type: target.type, name: target.names[0]! };
}

/** `deployment.apps` or `pod`: the name kubectl prints before `/<name>`. */
export function qualifiedKind(type: Pick<ResourceType, "kind" | "group">): string {
  const kind = type.kind.toLowerCase();
  return type.group ? `${kind}.${type.group}` : kind;
}

/** `deployment.apps/web`. */
export function objectName(type: Pick<ResourceType, "kind" | "group">, name: string): string {
  return `${qualifiedKind(type)}/${name}`;
}

/** The resource type of an object read from a file or the API. */
export function typeOfObject(obj: KubeObject): ResourceType | undefined {
  return obj.apiVersion && obj.kind ? resourceForKind(obj.apiVersion, obj.kind) : undefined;
}
