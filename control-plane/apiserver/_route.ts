/**
 * Parses Kubernetes API paths into routes.
 *
 * @module
 */

/** Where a request goes. */
export type Route =
  | { kind: "version" }
  | { kind: "health"; check: string }
  | { kind: "core-versions" }
  | { kind: "groups" }
  | { kind: "group"; group: string }
  | { kind: "resources"; group: string; version: string }
  | { kind: "openapi-v2" }
  | { kind: "openapi-v3" }
  | { kind: "openapi-v3-doc"; group: string; version: string }
  | ResourceRoute;

/** A request for a resource collection, object or subresource. */
export interface ResourceRoute {
  kind: "resource";
  /** API group; "" for core. */
  group: string;
  /** API version. */
  version: string;
  /** The namespace in the path, if any. */
  namespace: string | undefined;
  /** The resource's plural name. */
  resource: string;
  /** The object's name, if the path names one. */
  name: string | undefined;
  /** The subresource (`status`, `scale`, `log`, …), if any. */
  subresource: string | undefined;
}

/**
 * Parses `pathname` (already percent-decoded segments are not assumed).
 * `isNamespaced(group, version, resource)` tells `namespaces/{ns}/{resource}`
 * apart from a namespace's own subresources (`namespaces/{name}/status`).
 * Returns undefined for paths the API does not serve.
 */
export function parseRoute(
  pathname: string,
  isNamespaced: (group: string, version: string, resource: string) => boolean,
): Route | undefined {
  let segments: string[];
  try {
    segments = pathname.split("/").filter((s) => s !== "").map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
  const [root, ...rest] = segments;
  switch (root) {
    case undefined:
      return undefined;
    case "version":
      return rest.length === 0 ? { kind: "version" } : undefined;
    case "healthz":
    case "livez":
    case "readyz":
      return { kind: "health", check: root };
    case "openapi":
      if (rest[0] === "v2" && rest.length === 1) return { kind: "openapi-v2" };
      if (rest[0] === "v3" && rest.length === 1) return { kind: "openapi-v3" };
      if (rest[0] === "v3" && rest[1] === "api" && rest[2] && rest.length === 3) {
        return { kind: "openapi-v3-doc", group: "", version: rest[2] };
      }
      if (rest[0] === "v3" && rest[1] === "apis" && rest[2] && rest[3] && rest.length === 4) {
        return { kind: "openapi-v3-doc", group: rest[2], version: rest[3] };
      }
      return undefined;
    case "api":
      if (rest.length === 0) return { kind: "core-versions" };
      return resourcePath("", rest[0]!, rest.slice(1), isNamespaced);
    case "apis":
      if (rest.length === 0) return { kind: "groups" };
      if (rest.length === 1) return { kind: "group", group: rest[0]! };
      return resourcePath(rest[0]!, rest[1]!, rest.slice(2), isNamespaced);
    default:
      return undefined;
  }
}

function resourcePath(
  group: string,
  version: string,
  parts: string[],
  isNamespaced: (group: string, version: string, resource: string) => boolean,
): Route | undefined {
  if (parts.length === 0) return { kind: "resources", group, version };
  if (parts[0] === "watch") return undefined;
  const base = { kind: "resource" as const, group, version };
  if (parts[0] === "namespaces" && parts.length >= 3 && isNamespaced(group, version, parts[2]!)) {
    const [, namespace, resource, name, subresource, ...extra] = parts;
    if (extra.length > 0) return undefined;
    return { ...base, namespace, resource: resource!, name, subresource };
  }
  const [resource, name, subresource, ...extra] = parts;
  if (extra.length > 0) return undefined;
  return { ...base, namespace: undefined, resource: resource!, name, subresource };
}
