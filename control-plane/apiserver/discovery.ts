/**
 * Discovery documents, as clients expect them: /version, /api, /apis, each
 * group and group-version's APIResourceList, and the OpenAPI v3 index and
 * per group-version documents that `kubectl apply` needs to trust the server
 * with field validation, and an empty OpenAPI v2 document for the kinds
 * kubectl looks up there.
 *
 * @module
 */

import protobuf from "protobufjs";
import { apiVersionOf, type ServedType } from "./served_type.ts";

/**
 * The media type of OpenAPI v2 as protobuf (gnostic's `openapi.v2.Document`)
 * as kubectl asks for it; answers carry {@linkcode OPENAPI_V2_PROTOBUF_ANSWER},
 * as Kubernetes' own, since Go's media type parser refuses the `@`.
 */
export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/** The Content-Type of the protobuf OpenAPI v2 document: Kubernetes spells it with `.` where requests have `@`. */
export const OPENAPI_V2_PROTOBUF_ANSWER = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/** Version information served at /version. */
export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  goVersion: string;
  compiler: string;
  platform: string;
}

/** The Kubernetes API version Skiff speaks. */
export const KUBERNETES_VERSION = { major: "1", minor: "32" };

/** Serves discovery for a set of types. */
export class Discovery {
  #types: readonly ServedType[];
  #version: VersionInfo;
  #groups: Map<string, string[]>;
  #docs = new Map<string, Record<string, unknown>>();

  /** Creates discovery for `types`; `skiffVersion` goes into gitVersion. */
  constructor(types: readonly ServedType[], skiffVersion: string) {
    this.#types = types;
    const arch = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
    this.#version = {
      ...KUBERNETES_VERSION,
      gitVersion: `v${KUBERNETES_VERSION.major}.${KUBERNETES_VERSION.minor}.0-skiff.${skiffVersion}`,
      gitCommit: "",
      gitTreeState: "clean",
      buildDate: "",
      goVersion: `deno${Deno.version.deno}`,
      compiler: "deno",
      platform: `linux/${arch}`,
    };
    this.#groups = new Map();
    for (const type of types) {
      if (!type.group) continue;
      const versions = this.#groups.get(type.group) ?? [];
      if (!versions.includes(type.version)) versions.push(type.version);
      this.#groups.set(type.group, versions);
    }
  }

  /** /version */
  version(): VersionInfo {
    return this.#version;
  }

  /** /api */
  coreVersions(host: string): Record<string, unknown> {
    return {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: host }],
    };
  }

  /** /apis */
  groups(): Record<string, unknown> {
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: [...this.#groups.keys()].sort().map((name) => this.#groupEntry(name)),
    };
  }

  /** /apis/{group}, or undefined if not served. */
  group(name: string): Record<string, unknown> | undefined {
    if (!this.#groups.has(name)) return undefined;
    return { kind: "APIGroup", apiVersion: "v1", ...this.#groupEntry(name) };
  }

  #groupEntry(name: string) {
    const versions = this.#groups.get(name)!;
    const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
    return { name, versions: entries, preferredVersion: entries[0] };
  }

  /** /api/v1 or /apis/{group}/{version}, or undefined if not served. */
  resources(group: string, version: string): Record<string, unknown> | undefined {
    const types = this.#types.filter((t) => t.group === group && t.version === version);
    if (types.length === 0) return undefined;
    const resources: Record<string, unknown>[] = [];
    for (const type of types) {
      resources.push({
        name: type.plural,
        singularName: type.singular,
        namespaced: type.namespaced,
        kind: type.kind,
        verbs: type.verbs,
        ...(type.shortNames.length > 0 ? { shortNames: type.shortNames } : {}),
        ...(type.categories.length > 0 ? { categories: type.categories } : {}),
      });
      for (const sub of type.subresources) {
        const foreign = sub.group !== type.group || sub.version !== type.version;
        resources.push({
          name: `${type.plural}/${sub.name}`,
          singularName: "",
          namespaced: type.namespaced,
          ...(foreign ? { group: sub.group, version: sub.version } : {}),
          kind: sub.kind,
          verbs: sub.verbs,
        });
      }
    }
    return { kind: "APIResourceList", apiVersion: "v1", groupVersion: apiVersionOf({ group, version }), resources };
  }

  /**
   * /openapi/v2: a Swagger 2.0 document without paths or definitions (the
   * schemas are served as OpenAPI v3). kubectl falls back to v2 for a kind
   * v3 lacks; finding a document without it, it reports an unknown kind as
   * `no matches for kind`, not as a failed download.
   */
  openapiV2(): { swagger: "2.0"; info: { title: string; version: string }; paths: Record<string, never> } {
    return { swagger: "2.0", info: { title: "Skiff", version: this.#version.gitVersion }, paths: {} };
  }

  /** {@linkcode openapiV2} as gnostic's `openapi.v2.Document` protobuf (swagger = 1, info = 2; title = 1, version = 2). */
  openapiV2Protobuf(): Uint8Array<ArrayBuffer> {
    const { swagger, info } = this.openapiV2();
    const writer = protobuf.Writer.create();
    writer.uint32((1 << 3) | 2).string(swagger);
    writer.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 2).string(info.title).uint32((2 << 3) | 2).string(info.version)
      .ldelim();
    return new Uint8Array(writer.finish());
  }

  /** /openapi/v3: the index of per group-version documents. */
  openapiIndex(): Record<string, unknown> {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    const seen = new Set<string>();
    for (const type of this.#types) {
      const key = type.group ? `apis/${type.group}/${type.version}` : `api/${type.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const hash = this.#hash(type.group, type.version);
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    }
    return { paths };
  }

  #hash(group: string, version: string): string {
    const text = JSON.stringify(this.openapi(group, version));
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    return h.toString(16).toUpperCase().padStart(8, "0");
  }

  /** /openapi/v3/api/v1 or /openapi/v3/apis/{group}/{version}. */
  openapi(group: string, version: string): Record<string, unknown> | undefined {
    const key = `${group}/${version}`;
    const cached = this.#docs.get(key);
    if (cached) return cached;
    const types = this.#types.filter((t) => t.group === group && t.version === version);
    if (types.length === 0) return undefined;
    const paths: Record<string, unknown> = {};
    const schemas: Record<string, unknown> = {};
    const root = group ? `/apis/${group}/${version}` : `/api/${version}`;
    for (const type of types) {
      const gvk = { group, version, kind: type.kind };
      const schemaName = `io.skiff.${group || "core"}.${version}.${type.kind}`;
      schemas[schemaName] = {
        type: "object",
        description: `${type.kind} (${apiVersionOf(type)})`,
        "x-kubernetes-group-version-kind": [gvk],
        "x-kubernetes-preserve-unknown-fields": true,
      };
      const ref = { $ref: `#/components/schemas/${schemaName}` };
      const op = (action: string, writes: boolean) => ({
        operationId: `${action}${type.kind}`,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        parameters: [
          ...(writes
            ? [
              { name: "dryRun", in: "query", schema: { type: "string" } },
              { name: "fieldManager", in: "query", schema: { type: "string" } },
              { name: "fieldValidation", in: "query", schema: { type: "string" } },
            ]
            : []),
        ],
        ...(writes ? { requestBody: { content: { "application/json": { schema: ref } } } } : {}),
        responses: { "200": { description: "OK", content: { "application/json": { schema: ref } } } },
      });
      const collection = type.namespaced ? `${root}/namespaces/{namespace}/${type.plural}` : `${root}/${type.plural}`;
      const writable = type.verbs.includes("create");
      paths[collection] = {
        get: op("list", false),
        ...(writable ? { post: op("post", true), delete: op("deletecollection", false) } : {}),
      };
      paths[`${collection}/{name}`] = {
        get: op("get", false),
        ...(writable ? { put: op("put", true), patch: op("patch", true), delete: op("delete", false) } : {}),
      };
      for (const { name: sub } of type.subresources) {
        if (!["status", "scale"].includes(sub)) continue;
        paths[`${collection}/{name}/${sub}`] = {
          get: op("get", false),
          put: op("put", true),
          patch: op("patch", true),
        };
      }
    }
    const doc = {
      openapi: "3.0.0",
      info: { title: "Skiff", version: this.#version.gitVersion },
      paths,
      components: { schemas },
    };
    this.#docs.set(key, doc);
    return doc;
  }
}
