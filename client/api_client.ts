/**
 * The typed API client every actor uses: controllers and the scheduler (in
 * process, through the handler), the agent and the CLI (over HTTPS). Errors
 * come back as the same typed errors the server threw.
 *
 * @module
 */

import {
  ApiError,
  errorFromStatus,
  type KubeList,
  type KubeObject,
  resourceForKind,
  type ResourceType,
  ServiceUnavailableError,
} from "@skiff/api";
import { loadKubeconfig, type LoadKubeconfigOptions } from "./kubeconfig.ts";
import { createTlsFetch } from "./tls.ts";

/** A fetch-shaped transport. */
export type Transport = (req: Request) => Promise<Response>;

/** What the client needs to know about a resource type. */
export interface ResourceRef {
  /** API group ("" for core). */
  group: string;
  /** API version. */
  version: string;
  /** Plural resource name. */
  plural: string;
  /** Namespaced or cluster-scoped. */
  namespaced: boolean;
  /** Kind (for error messages and apply). */
  kind: string;
}

/** Options of {@linkcode ApiClient}. */
export interface ApiClientOptions {
  /** Base URL, e.g. `https://127.0.0.1:6443`. */
  server: string;
  /** Bearer token. */
  token?: string;
  /** How requests are sent (default: global fetch). */
  transport?: Transport;
  /** User-Agent header (default `skiff`). */
  userAgent?: string;
  /** Releases the transport, if it holds resources. */
  close?: () => void;
}

/** Options of a request. */
export interface RequestOptions {
  /** Query parameters. */
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON body (or a string sent as is). */
  body?: unknown;
  /** Content-Type of the body (default application/json). */
  contentType?: string;
  /** Accept header. */
  accept?: string;
  /** Cancels the request. */
  signal?: AbortSignal;
}

/** A watch event as the API streams it. */
export interface WatchEvent<T extends KubeObject = KubeObject> {
  /** ADDED, MODIFIED, DELETED or BOOKMARK. */
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";
  /** The object (for BOOKMARK, only metadata.resourceVersion matters). */
  object: T;
}

/** Options of list calls. */
export interface ListOptions {
  /** Namespace; absent lists across all namespaces. */
  namespace?: string;
  /** Label selector (`app=web,tier in (a,b)`). */
  labelSelector?: string;
  /** Field selector (`spec.nodeName=pi-1`). */
  fieldSelector?: string;
  /** Page size. */
  limit?: number;
  /** Continue token. */
  continue?: string;
  /** resourceVersion to read at. */
  resourceVersion?: string;
}

/** Options of watch calls. */
export interface WatchOptions extends Omit<ListOptions, "limit" | "continue"> {
  /** Ask for bookmarks. */
  allowWatchBookmarks?: boolean;
  /** Server-side timeout. */
  timeoutSeconds?: number;
  /** Stops the watch. */
  signal?: AbortSignal;
}

/** Options of writes. */
export interface WriteOptions {
  /** Namespace (default: the object's). */
  namespace?: string;
  /** Validate only. */
  dryRun?: boolean;
  /** Field manager name. */
  fieldManager?: string;
}

/** Options of deletes. */
export interface DeleteOptions {
  /** Namespace. */
  namespace?: string;
  /** Grace period in seconds. */
  gracePeriodSeconds?: number;
  /** Background, Foreground or Orphan. */
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  /** Only if the object still has this uid / resourceVersion. */
  preconditions?: { uid?: string; resourceVersion?: string };
  /** Validate only. */
  dryRun?: boolean;
}

/** Patch content types by short name. */
export const PATCH_TYPES = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
} as const;

/** The client. */
export class ApiClient {
  /** The server's base URL. */
  readonly server: string;
  #token: string | undefined;
  #transport: Transport;
  #userAgent: string;
  #close: (() => void) | undefined;

  /** Creates a client. */
  constructor(options: ApiClientOptions) {
    this.server = options.server.replace(/\/+$/, "");
    this.#token = options.token;
    this.#transport = options.transport ?? ((req) => fetch(req));
    this.#userAgent = options.userAgent ?? "skiff";
    this.#close = options.close;
  }

  /**
   * A client from kubeconfig files, trusting exactly the kubeconfig's CA.
   *
   * @example
   * ```ts
   * const client = await ApiClient.fromKubeconfig({ kubeconfig: "/var/lib/skiff/admin.kubeconfig" });
   * ```
   */
  static async fromKubeconfig(
    options: LoadKubeconfigOptions & { userAgent?: string } = {},
  ): Promise<{ client: ApiClient; namespace: string }> {
    const config = await loadKubeconfig(options);
    const tls = createTlsFetch({
      ...(config.caPem ? { caPem: config.caPem } : {}),
      insecure: config.insecureSkipTlsVerify,
    });
    const client = new ApiClient({
      server: config.server,
      ...(config.token ? { token: config.token } : {}),
      transport: tls,
      userAgent: options.userAgent ?? "skiff",
      close: () => tls.close(),
    });
    return { client, namespace: config.namespace };
  }

  /** Releases the transport (open connections, watches). */
  close(): void {
    this.#close?.();
  }

  /** Sends a request and returns the raw response; a failure Status becomes a typed error. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    }
    const headers = new Headers({ "user-agent": this.#userAgent, accept: options.accept ?? "application/json" });
    if (this.#token) headers.set("authorization", `Bearer ${this.#token}`);
    let body: string | undefined;
    if (options.body !== undefined) {
      headers.set("content-type", options.contentType ?? "application/json");
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    }
    let res: Response;
    try {
      res = await this.#transport(
        new Request(url, {
          method,
          headers,
          ...(body !== undefined ? { body } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      );
    } catch (cause) {
      if (options.signal?.aborted) throw cause;
      throw new ServiceUnavailableError(
        `Cannot reach the API server at ${this.server}: ${cause instanceof Error ? cause.message : cause}`,
        { cause },
      );
    }
    if (res.ok) return res;
    const text = await res.text();
    let status: Record<string, unknown> | undefined;
    try {
      status = JSON.parse(text);
    } catch {
      status = undefined;
    }
    if (status && status.kind === "Status") throw errorFromStatus({ code: res.status, ...status });
    throw new ApiError(
      res.status,
      "InternalError",
      `${method} ${url.pathname} failed with HTTP ${res.status}: ${text.slice(0, 200)}`,
    );
  }

  /** Sends a request and decodes the JSON answer. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, options);
    return await res.json() as T;
  }

  /** The client of one resource type. */
  resource<T extends KubeObject = KubeObject>(ref: ResourceRef): ResourceClient<T> {
    return new ResourceClient<T>(this, ref);
  }

  /** The client of the type with this apiVersion and kind, from the registry. */
  kind<T extends KubeObject = KubeObject>(apiVersion: string, kind: string): ResourceClient<T> {
    const type: ResourceType | undefined = resourceForKind(apiVersion, kind);
    if (!type) throw new TypeError(`Unknown resource type ${apiVersion} ${kind}`);
    return this.resource<T>(type);
  }
}

/** Operations on one resource type. */
export class ResourceClient<T extends KubeObject = KubeObject> {
  readonly #client: ApiClient;
  /** The resource type. */
  readonly ref: ResourceRef;

  /** Use {@linkcode ApiClient.resource}. */
  constructor(client: ApiClient, ref: ResourceRef) {
    this.#client = client;
    this.ref = ref;
  }

  /** The collection path, in a namespace or across all. */
  path(namespace?: string, name?: string, subresource?: string): string {
    const { group, version, plural, namespaced } = this.ref;
    let path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    if (namespaced && namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
    path += `/${plural}`;
    if (name !== undefined) {
      if (namespaced && !namespace) {
        throw new TypeError(`${plural} are namespaced: give a namespace to address "${name}"`);
      }
      path += `/${encodeURIComponent(name)}`;
    }
    if (subresource) path += `/${subresource}`;
    return path;
  }

  /** Reads one object. */
  get(name: string, options: { namespace?: string } = {}): Promise<T> {
    return this.#client.json<T>("GET", this.path(options.namespace, name));
  }

  /** Reads one page. */
  list(options: ListOptions = {}): Promise<KubeList<T>> {
    return this.#client.json<KubeList<T>>("GET", this.path(options.namespace), { query: listQuery(options) });
  }

  /** Reads every page; the result carries the first page's resourceVersion. */
  async listAll(options: Omit<ListOptions, "continue"> = {}): Promise<KubeList<T>> {
    const first = await this.list({ limit: 500, ...options });
    let cont = first.metadata.continue;
    while (cont) {
      const page = await this.list({ limit: 500, ...options, continue: cont });
      first.items.push(...page.items);
      cont = page.metadata.continue;
    }
    delete first.metadata.continue;
    return first;
  }

  /** Creates an object. */
  create(obj: T, options: WriteOptions = {}): Promise<T> {
    const ns = options.namespace ?? obj.metadata?.namespace;
    return this.#client.json<T>("POST", this.path(ns), { body: obj, query: writeQuery(options) });
  }

  /** Replaces an object (conditional on its resourceVersion when set). */
  update(obj: T, options: WriteOptions = {}): Promise<T> {
    const ns = options.namespace ?? obj.metadata.namespace;
    return this.#client.json<T>("PUT", this.path(ns, obj.metadata.name!), { body: obj, query: writeQuery(options) });
  }

  /** Replaces an object's status. */
  updateStatus(obj: T, options: WriteOptions = {}): Promise<T> {
    const ns = options.namespace ?? obj.metadata.namespace;
    return this.#client.json<T>("PUT", this.path(ns, obj.metadata.name!, "status"), {
      body: obj,
      query: writeQuery(options),
    });
  }

  /** Patches an object (or a subresource). */
  patch(
    name: string,
    patch: unknown,
    options: WriteOptions & { type?: keyof typeof PATCH_TYPES; subresource?: string; force?: boolean } = {},
  ): Promise<T> {
    return this.#client.json<T>("PATCH", this.path(options.namespace, name, options.subresource), {
      body: patch,
      contentType: PATCH_TYPES[options.type ?? "merge"],
      query: { ...writeQuery(options), ...(options.force ? { force: true } : {}) },
    });
  }

  /** Server-side apply. */
  apply(obj: T, options: WriteOptions & { force?: boolean } = {}): Promise<T> {
    return this.patch(obj.metadata.name!, obj, {
      ...options,
      namespace: options.namespace ?? obj.metadata.namespace,
      type: "apply",
      fieldManager: options.fieldManager ?? "skiff",
    });
  }

  /** Deletes an object; resolves with the server's answer (the object or a Status). */
  delete(name: string, options: DeleteOptions = {}): Promise<KubeObject> {
    const body: Record<string, unknown> = { kind: "DeleteOptions", apiVersion: "v1" };
    if (options.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = options.gracePeriodSeconds;
    if (options.propagationPolicy) body.propagationPolicy = options.propagationPolicy;
    if (options.preconditions) body.preconditions = options.preconditions;
    return this.#client.json<KubeObject>("DELETE", this.path(options.namespace, name), {
      body,
      query: options.dryRun ? { dryRun: "All" } : {},
    });
  }

  /** Deletes every matching object. */
  deleteCollection(options: ListOptions & DeleteOptions = {}): Promise<KubeList<T>> {
    return this.#client.json<KubeList<T>>("DELETE", this.path(options.namespace), { query: listQuery(options) });
  }

  /** Binds a pod to a node (pods/binding). */
  async bind(name: string, nodeName: string, options: { namespace: string }): Promise<void> {
    await this.#client.request("POST", this.path(options.namespace, name, "binding"), {
      body: {
        apiVersion: "v1",
        kind: "Binding",
        metadata: { name, namespace: options.namespace },
        target: { apiVersion: "v1", kind: "Node", name: nodeName },
      },
    });
  }

  /**
   * Watches; yields events until the server ends the stream or the signal
   * aborts. A server ERROR event is thrown as its typed error (410 Gone:
   * `CompactedError`, so the caller relists).
   */
  async *watch(options: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const res = await this.#client.request("GET", this.path(options.namespace), {
      query: {
        ...listQuery(options),
        watch: 1,
        ...(options.allowWatchBookmarks ? { allowWatchBookmarks: true } : {}),
        ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}),
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    const reader = res.body.getReader();
    try {
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (options.signal?.aborted) return;
          throw err;
        }
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line) continue;
          const event = JSON.parse(line) as { type: string; object: Record<string, unknown> };
          if (event.type === "ERROR") throw errorFromStatus(event.object);
          yield event as unknown as WatchEvent<T>;
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
}

function listQuery(options: ListOptions): Record<string, string | number | undefined> {
  return {
    labelSelector: options.labelSelector,
    fieldSelector: options.fieldSelector,
    limit: options.limit,
    continue: options.continue,
    resourceVersion: options.resourceVersion,
  };
}

function writeQuery(options: WriteOptions): Record<string, string | undefined> {
  return {
    ...(options.dryRun ? { dryRun: "All" } : {}),
    ...(options.fieldManager ? { fieldManager: options.fieldManager } : {}),
  };
}

/** `namespace/name`, or `name` for cluster-scoped objects: the key informers and queues use. */
export function objectKey(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name ?? "";
}

/** Splits an {@linkcode objectKey} back into namespace and name. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf("/");
  return slash < 0
    ? { namespace: undefined, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
