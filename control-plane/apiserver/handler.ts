/**
 * The API server's request handler: `(Request) => Promise<Response>`, so it
 * runs behind `Deno.serve` or is called directly in process (the control
 * plane's own clients), with no socket in tests. Every error becomes a
 * Kubernetes `Status` in one place.
 *
 * @module
 */

import YAML from "yaml";
import {
  AlreadyExistsError,
  ApiError,
  applyJsonPatch,
  applyMergePatch,
  applyServerSide,
  applyStrategicMergePatch,
  BadRequestError,
  type Clock,
  CompactedError,
  InvalidError,
  type KubeObject,
  MethodNotAllowedError,
  NotAcceptableError,
  NotFoundError,
  systemClock,
} from "@skiff/api";
import type { Store } from "../store/mod.ts";
import { parseRoute, type ResourceRoute, type Route } from "./_route.ts";
import { type Accepted, accepted, bodyFormat, decodeObject, mediaType, readBody } from "./_body.ts";
import { goneEvent, watchStream } from "./_watch_stream.ts";
import { type Admission, ObjectStore, parseResourceVersion, timestamp, tooOld, type User } from "./object_store.ts";
import { apiVersionOf, hasSubresource, type ServedType } from "./served_type.ts";
import { compileSelectors } from "./_selectors.ts";
import type { Discovery } from "./discovery.ts";
import type { TableConverter } from "./table.ts";

/** Request attributes that authorization decides on. */
export interface RequestAttributes {
  /** get, list, watch, create, update, patch, delete, deletecollection. */
  verb: string;
  /** API group. */
  group: string;
  /** Plural resource. */
  resource: string;
  /** Subresource, if any. */
  subresource: string | undefined;
  /** Namespace, if any. */
  namespace: string | undefined;
  /** Object name, if any. */
  name: string | undefined;
}

/** Authenticates a request; throws `UnauthorizedError`. */
export type Authenticator = (req: Request) => User | Promise<User>;
/** Authorizes a request; throws `ForbiddenError`. */
export type Authorizer = (user: User, attributes: RequestAttributes) => void;

/** Serves a subresource the generic code does not (pods/log, pods/exec, nodes/proxy). */
export type SubresourceHandler = (
  req: Request,
  context: { route: ResourceRoute; type: ServedType; user: User; objects: ObjectStore },
) => Response | Promise<Response>;

/** Options of {@linkcode createApiHandler}. */
export interface ApiHandlerOptions {
  /** The store. */
  store: Store;
  /** The types served. */
  types: readonly ServedType[];
  /** Who is asking. */
  authenticate: Authenticator;
  /** May they. */
  authorize: Authorizer;
  /** Admission plugins, in order. */
  admission?: Admission[];
  /** Discovery and OpenAPI documents. */
  discovery: Discovery;
  /** Table output for `kubectl get`. */
  tables: TableConverter;
  /** Extra subresource handlers, keyed `pods/log`. */
  subresources?: Record<string, SubresourceHandler>;
  /** Time source. */
  clock?: Clock;
  /** Milliseconds between watch bookmarks (default 60 s). */
  bookmarkIntervalMs?: number;
  /** Called with every request's outcome (for logs and metrics). */
  onRequest?: (info: { method: string; path: string; status: number; ms: number; user?: string }) => void;
}

/** The fetch-shaped API handler, plus the object storage it wraps. */
export interface ApiHandler {
  /** Handles one request. */
  (req: Request): Promise<Response>;
  /** The object storage behind the handler. */
  objects: ObjectStore;
  /** Ends every open watch (for shutdown). */
  closeWatches(): void;
  /**
   * A fetch-shaped function that sends requests as `user` without a token:
   * how in-process clients (scheduler, controllers) call the API. Requests
   * still go through authorization, admission and validation.
   */
  as(user: User): (req: Request) => Promise<Response>;
}

const JSON_TYPES = ["application/json", "application/yaml"];
const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/apply-patch+yaml",
];
const PUBLIC_ROUTES = new Set(["version", "health"]);

/** Creates the API handler. */
export function createApiHandler(options: ApiHandlerOptions): ApiHandler {
  const clock = options.clock ?? systemClock;
  const objects = new ObjectStore(options.store, { clock, admission: options.admission ?? [] });
  const byPath = new Map<string, ServedType>();
  for (const type of options.types) byPath.set(`${type.group}/${type.version}/${type.plural}`, type);
  const isNamespaced = (g: string, v: string, r: string) => byPath.get(`${g}/${v}/${r}`)?.namespaced ?? false;
  const watches = new Set<AbortController>();
  const internal = new WeakMap<Request, User>();

  const handler = (async (req: Request): Promise<Response> => {
    const started = performance.now();
    const url = new URL(req.url);
    let user: User | undefined;
    let response: Response;
    try {
      const route = parseRoute(url.pathname, isNamespaced);
      if (!route) throw notFoundPath(url.pathname);
      if (!PUBLIC_ROUTES.has(route.kind)) user = internal.get(req) ?? await options.authenticate(req);
      response = await dispatch(req, url, route, user);
    } catch (err) {
      response = errorResponse(err);
    }
    options.onRequest?.({
      method: req.method,
      path: url.pathname,
      status: response.status,
      ms: performance.now() - started,
      ...(user ? { user: user.name } : {}),
    });
    return response;
  }) as ApiHandler;
  handler.objects = objects;
  handler.as = (user) => (req) => {
    internal.set(req, user);
    return handler(req);
  };
  handler.closeWatches = () => {
    for (const controller of watches) controller.abort();
  };

  async function dispatch(req: Request, url: URL, route: Route, user: User | undefined): Promise<Response> {
    const d = options.discovery;
    switch (route.kind) {
      case "version":
        return json(200, d.version());
      case "health":
        return new Response("ok", { status: 200, headers: { "content-type": "text/plain" } });
      case "core-versions":
        return json(200, d.coreVersions(new URL(req.url).host));
      case "groups":
        return json(200, d.groups());
      case "group": {
        const group = d.group(route.group);
        if (!group) throw notFoundPath(url.pathname);
        return json(200, group);
      }
      case "resources": {
        const list = d.resources(route.group, route.version);
        if (!list) throw notFoundPath(url.pathname);
        return json(200, list);
      }
      case "openapi-v2":
        throw new NotAcceptableError("OpenAPI v2 is not served: use /openapi/v3");
      case "openapi-v3":
        return json(200, d.openapiIndex());
      case "openapi-v3-doc": {
        const doc = d.openapi(route.group, route.version);
        if (!doc) throw notFoundPath(url.pathname);
        return json(200, doc);
      }
      case "resource":
        return await resource(req, url, route, user!);
    }
  }

  async function resource(req: Request, url: URL, route: ResourceRoute, user: User): Promise<Response> {
    const type = byPath.get(`${route.group}/${route.version}/${route.resource}`);
    if (!type) throw notFoundPath(url.pathname);
    for (const [what, value] of [["namespace", route.namespace], ["name", route.name]] as const) {
      if (value !== undefined && (value === "" || value === "." || value === ".." || /[/%]/.test(value))) {
        throw new BadRequestError(`Invalid ${what} "${value}" in the request path`);
      }
    }
    if (route.subresource && !hasSubresource(type, route.subresource)) throw notFoundPath(url.pathname);
    const q = url.searchParams;
    const watching = isTrue(q.get("watch"));
    const verb = verbOf(req.method, route, watching);
    options.authorize(user, {
      verb,
      group: type.group,
      resource: type.plural,
      subresource: route.subresource,
      namespace: route.namespace,
      name: route.name,
    });
    const served = route.subresource ? type.subresources.find((s) => s.name === route.subresource)!.verbs : type.verbs;
    if (!served.includes(verb)) {
      throw new MethodNotAllowedError(
        `${type.plural}${route.subresource ? `/${route.subresource}` : ""} does not support ${verb}: it supports ${
          served.join(", ")
        }`,
      );
    }
    const custom = route.subresource ? options.subresources?.[`${type.plural}/${route.subresource}`] : undefined;
    if (custom) return await custom(req, { route, type, user, objects });
    const accept = accepted(req.headers.get("accept"));
    if (!accept) {
      throw new NotAcceptableError(
        "only the following media types are accepted: application/json, application/yaml, " +
          "application/json;as=Table;v=v1;g=meta.k8s.io",
      );
    }
    const ns = type.namespaced ? route.namespace : undefined;
    if (type.namespaced && route.name && !ns) {
      throw new NotFoundError(`the server could not find the requested resource: ${type.plural} are namespaced`);
    }
    const dryRun = q.getAll("dryRun").includes("All");
    if (q.has("dryRun") && !dryRun) {
      throw new BadRequestError(`Invalid dryRun "${q.get("dryRun")}": the only supported value is "All"`);
    }
    const write = { user, dryRun };

    switch (verb) {
      case "get": {
        if (route.subresource === "scale") {
          return respond(200, toScale(await objects.get(type, ns, route.name!)), accept, type, q);
        }
        return respond(200, await objects.get(type, ns, route.name!), accept, type, q);
      }
      case "list":
        return respond(200, await list(type, route.namespace, q), accept, type, q);
      case "watch":
        return watch(type, route.namespace, q, accept, req.signal);
      case "create": {
        const body = await readObject(req, JSON_TYPES);
        if (route.subresource === "binding") return bind(type, ns!, route.name!, body, user, dryRun);
        if (route.subresource === "eviction") {
          await objects.delete(type, ns, route.name!, { ...write, ...deleteOptionsOf(body, q) });
          return json(201, successStatus());
        }
        if (route.subresource) {
          throw new MethodNotAllowedError(`POST is not supported on ${type.plural}/${route.subresource}`);
        }
        checkTypeMeta(type, body);
        checkBodyNamespace(type, route.namespace, body);
        const created = await objects.create(type, ns, body as KubeObject, write);
        return respond(201, created, accept, type, q);
      }
      case "update": {
        const body = await readObject(req, JSON_TYPES);
        if (route.subresource === "scale") {
          return respond(200, await scale(type, ns, route.name!, body, write), accept, type, q);
        }
        checkTypeMeta(type, body);
        const updated = await objects.update(type, ns, route.name!, body as KubeObject, {
          ...write,
          ...(route.subresource ? { subresource: route.subresource } : {}),
        });
        return respond(200, updated, accept, type, q);
      }
      case "patch": {
        const patched = await patch(req, type, ns, route, q, user, dryRun);
        return respond(200, route.subresource === "scale" ? toScale(patched) : patched, accept, type, q);
      }
      case "delete": {
        const body = req.body ? await readOptionalObject(req) : undefined;
        const result = await objects.delete(type, ns, route.name!, { ...write, ...deleteOptionsOf(body, q) });
        if (result.deleted) {
          return json(
            200,
            successStatus({
              name: route.name!,
              group: type.group,
              kind: type.plural,
              uid: result.object.metadata.uid ?? "",
            }),
          );
        }
        return respond(200, result.object, accept, type, q);
      }
      case "deletecollection": {
        const body = req.body ? await readOptionalObject(req) : undefined;
        const all = await list(type, route.namespace, q);
        for (const item of all.items) {
          try {
            await objects.delete(type, item.metadata.namespace, item.metadata.name!, {
              ...write,
              ...deleteOptionsOf(body, q),
            });
          } catch (err) {
            if (!(err instanceof NotFoundError)) throw err;
          }
        }
        return respond(200, all, accept, type, q);
      }
    }
    throw new MethodNotAllowedError(`${req.method} is not supported on ${url.pathname}`);
  }

  function list(type: ServedType, namespace: string | undefined, q: URLSearchParams) {
    const filter = compileSelectors(type, q.get("labelSelector"), q.get("fieldSelector"));
    const limit = q.has("limit") ? intParam(q, "limit", 0) : 0;
    const rv = q.get("resourceVersion") ?? "";
    return objects.list(type, namespace, {
      ...(filter ? { filter } : {}),
      ...(limit ? { limit } : {}),
      ...(q.get("continue") ? { continue: q.get("continue")! } : {}),
      ...(rv && rv !== "0" && q.get("resourceVersionMatch") === "Exact" ? { resourceVersion: rv } : {}),
    }).catch((err) => {
      if (err instanceof CompactedError) {
        throw new CompactedError(
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
          { compactRevision: err.compactRevision, cause: err },
        );
      }
      throw err;
    });
  }

  async function watch(
    type: ServedType,
    namespace: string | undefined,
    q: URLSearchParams,
    accept: Accepted,
    signal: AbortSignal,
  ) {
    const filter = compileSelectors(type, q.get("labelSelector"), q.get("fieldSelector"));
    const rv = q.get("resourceVersion") ?? "";
    const timeoutSeconds = q.has("timeoutSeconds") ? intParam(q, "timeoutSeconds", 0) : 0;
    const timeoutMs = (timeoutSeconds > 0 ? timeoutSeconds : 1800 + Math.floor(Math.random() * 1800)) * 1000;
    const controller = new AbortController();
    signal.addEventListener("abort", () => controller.abort(), { once: true });
    let initial: KubeObject[] = [];
    let afterRevision: number | undefined;
    if (rv === "" || rv === "0") {
      const current = await objects.list(type, namespace, filter ? { filter } : {});
      initial = current.items;
      afterRevision = Number(current.metadata.resourceVersion);
    } else {
      afterRevision = parseResourceVersion(rv);
    }
    const headers = { "content-type": "application/json", "cache-control": "no-cache", "transfer-encoding": "chunked" };
    let stream;
    try {
      stream = objects.watch(type, namespace, {
        afterRevision,
        ...(filter ? { filter } : {}),
        signal: controller.signal,
      });
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err;
      return new Response(goneEvent(tooOld(err, rv).message), { status: 200, headers });
    }
    watches.add(controller);
    let firstTable = true;
    const body = watchStream({
      watcher: stream.watcher,
      events: stream.events,
      initial,
      render: (object) => {
        if (!accept.table) return object;
        const table = options.tables.toTable(type, [object], { includeObject: q.get("includeObject") ?? "Object" });
        if (!firstTable) table.columnDefinitions = [];
        firstTable = false;
        return table;
      },
      bookmark: isTrue(q.get("allowWatchBookmarks")) ? { apiVersion: apiVersionOf(type), kind: type.kind } : undefined,
      revision: () => options.store.currentRevision(),
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
      timeoutMs,
      onClose: () => watches.delete(controller),
    });
    return new Response(body, { status: 200, headers });
  }

  async function patch(
    req: Request,
    type: ServedType,
    ns: string | undefined,
    route: ResourceRoute,
    q: URLSearchParams,
    user: User,
    dryRun: boolean,
  ): Promise<KubeObject> {
    const contentType = mediaType(req.headers.get("content-type"));
    bodyFormat(contentType, PATCH_TYPES);
    const bytes = await readBody(req);
    const name = route.name!;
    if (contentType === "application/apply-patch+yaml") {
      return await serverSideApply(type, ns, name, bytes, {
        user,
        dryRun,
        fieldManager: q.get("fieldManager") ?? "",
        force: isTrue(q.get("force")),
        subresource: route.subresource,
      });
    }
    const patchBody = contentType === "application/json-patch+json"
      ? decodeJsonPatch(bytes)
      : decodeObject(bytes, "json");
    const pinned = contentType !== "application/json-patch+json"
      ? ((patchBody as { metadata?: { resourceVersion?: unknown } }).metadata?.resourceVersion)
      : undefined;
    const apply = (current: KubeObject): KubeObject => {
      const source = route.subresource === "scale" ? toScale(current) : current;
      let patched: unknown;
      switch (contentType) {
        case "application/json-patch+json":
          patched = applyJsonPatch(source, patchBody);
          break;
        case "application/merge-patch+json":
          patched = applyMergePatch(source, patchBody);
          break;
        default:
          patched = applyStrategicMergePatch(source as Record<string, unknown>, patchBody as Record<string, unknown>);
      }
      if (typeof patched !== "object" || patched === null || Array.isArray(patched)) {
        throw new BadRequestError("The patch turned the object into something that is not an object");
      }
      const result = patched as KubeObject;
      if (typeof result.metadata !== "object" || result.metadata === null) {
        throw new BadRequestError("The patch removed the object's metadata");
      }
      if (route.subresource === "scale") return fromScale(current, result);
      return result;
    };
    return await objects.guaranteedUpdate(type, ns, name, apply, {
      user,
      dryRun,
      ...(route.subresource && route.subresource !== "scale" ? { subresource: route.subresource } : {}),
      ...(typeof pinned === "string" && pinned !== "" ? { expected: parseResourceVersion(pinned) } : {}),
    });
  }

  async function serverSideApply(
    type: ServedType,
    ns: string | undefined,
    name: string,
    bytes: Uint8Array,
    opts: { user: User; dryRun: boolean; fieldManager: string; force: boolean; subresource: string | undefined },
  ): Promise<KubeObject> {
    if (!opts.fieldManager) {
      throw new BadRequestError("PATCH with application/apply-patch+yaml requires the fieldManager query parameter");
    }
    const config = decodeObject(bytes, "yaml");
    checkTypeMeta(type, config);
    const meta = config.metadata as { name?: unknown; namespace?: unknown };
    if (meta.name !== undefined && meta.name !== name) {
      throw new BadRequestError(
        `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`,
      );
    }
    if (type.namespaced) checkBodyNamespace(type, ns, config);
    const applyOptions = {
      manager: opts.fieldManager,
      force: opts.force,
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
      ...(!opts.subresource && hasSubresource(type, "status") ? { ignoredFields: ["status"] } : {}),
    };
    const write = { user: opts.user, dryRun: opts.dryRun };
    for (let attempt = 0;; attempt++) {
      const current = await objects.find(type, ns, name);
      if (!current) {
        if (opts.subresource) throw objects.notFound(type, name);
        try {
          const created = applyServerSide(undefined, config, applyOptions);
          created.metadata.name = name;
          return await objects.create(type, ns, created, write);
        } catch (err) {
          if (err instanceof AlreadyExistsError && attempt < 3) continue;
          throw err;
        }
      }
      return await objects.guaranteedUpdate(
        type,
        ns,
        name,
        (live) => applyServerSide(live, config, applyOptions),
        { ...write, ...(opts.subresource ? { subresource: opts.subresource } : {}) },
      );
    }
  }

  async function bind(
    type: ServedType,
    ns: string,
    name: string,
    body: Record<string, unknown>,
    user: User,
    dryRun: boolean,
  ) {
    const target = (body as { target?: { name?: unknown; kind?: unknown } }).target;
    if (!target || typeof target.name !== "string" || target.name === "") {
      throw new InvalidError("Binding", name, [{
        field: "target.name",
        type: "FieldValueRequired",
        message: "Required value",
      }]);
    }
    const nodeName = target.name;
    await objects.guaranteedUpdate(type, ns, name, (pod) => {
      const spec = (pod.spec ?? {}) as Record<string, unknown>;
      if (spec.nodeName) {
        throw new ApiError(
          409,
          "Conflict",
          `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${spec.nodeName}"`,
        );
      }
      if (pod.metadata.deletionTimestamp) {
        throw new ApiError(
          409,
          "Conflict",
          `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is being deleted, cannot be assigned to a host`,
        );
      }
      spec.nodeName = nodeName;
      pod.spec = spec;
      const status = (pod.status ?? {}) as { conditions?: Record<string, unknown>[] };
      const conditions = (status.conditions ?? []).filter((c) => c.type !== "PodScheduled");
      conditions.push({
        type: "PodScheduled",
        status: "True",
        lastProbeTime: null,
        lastTransitionTime: timestamp(clock.now()),
      });
      status.conditions = conditions;
      pod.status = status;
      return pod;
    }, { user, dryRun, subresource: "binding" });
    return json(201, successStatus());
  }

  async function scale(
    type: ServedType,
    ns: string | undefined,
    name: string,
    body: Record<string, unknown>,
    write: { user: User; dryRun: boolean },
  ) {
    const rv = (body.metadata as { resourceVersion?: unknown } | undefined)?.resourceVersion;
    const updated = await objects.guaranteedUpdate(
      type,
      ns,
      name,
      (current) => fromScale(current, body as KubeObject),
      {
        ...write,
        ...(typeof rv === "string" && rv !== "" ? { expected: parseResourceVersion(rv) } : {}),
      },
    );
    return toScale(updated);
  }

  function respond(status: number, body: unknown, accept: Accepted, type: ServedType, q: URLSearchParams): Response {
    if (accept.table && isTable(body, type)) {
      const items = isList(body) ? body.items : [body as KubeObject];
      const table = options.tables.toTable(type, items, { includeObject: q.get("includeObject") ?? "Object" });
      if (isList(body)) table.metadata = body.metadata;
      else table.metadata = { resourceVersion: (body as KubeObject).metadata.resourceVersion ?? "" };
      return json(status, table);
    }
    if (accept.yaml) {
      return new Response(YAML.stringify(body), { status, headers: { "content-type": "application/yaml" } });
    }
    return json(status, body);
  }

  function isTable(body: unknown, type: ServedType): boolean {
    const kind = (body as { kind?: string }).kind;
    return kind === type.kind || kind === `${type.kind}List`;
  }

  return handler;
}

function isList(body: unknown): body is { items: KubeObject[]; metadata: Record<string, unknown> } {
  return Array.isArray((body as { items?: unknown }).items);
}

function verbOf(method: string, route: ResourceRoute, watching: boolean): string {
  switch (method) {
    case "GET":
    case "HEAD":
      if (route.name) return watching ? "watch" : "get";
      return watching ? "watch" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return route.name ? "delete" : "deletecollection";
  }
  throw new MethodNotAllowedError(`${method} is not supported`);
}

function isTrue(value: string | null): boolean {
  return value === "true" || value === "1";
}

function intParam(q: URLSearchParams, name: string, min: number): number {
  const raw = q.get(name) ?? "";
  if (!/^-?[0-9]{1,15}$/.test(raw) || Number(raw) < min) {
    throw new BadRequestError(`Invalid ${name} "${raw}": must be a whole number of at least ${min}`);
  }
  return Number(raw);
}

async function readObject(req: Request, allowed: readonly string[]): Promise<Record<string, unknown>> {
  const contentType = mediaType(req.headers.get("content-type")) || "application/json";
  const format = bodyFormat(contentType, allowed);
  return decodeObject(await readBody(req), format);
}

async function readOptionalObject(req: Request): Promise<Record<string, unknown> | undefined> {
  const bytes = await readBody(req);
  if (bytes.byteLength === 0) return undefined;
  const contentType = mediaType(req.headers.get("content-type")) || "application/json";
  return decodeObject(bytes, bodyFormat(contentType, JSON_TYPES));
}

function decodeJsonPatch(bytes: Uint8Array): unknown {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new BadRequestError(`The JSON patch is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (!Array.isArray(value)) throw new BadRequestError("A JSON patch must be an array of operations");
  return value;
}

function checkTypeMeta(type: ServedType, body: Record<string, unknown>): void {
  const apiVersion = apiVersionOf(type);
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
    throw new BadRequestError(
      `The API version in the data (${
        String(body.apiVersion)
      }) does not match the expected API version (${apiVersion})`,
    );
  }
  if (body.kind !== undefined && body.kind !== type.kind) {
    throw new BadRequestError(
      `The kind in the data (${String(body.kind)}) does not match the expected kind (${type.kind})`,
    );
  }
  if (
    body.metadata !== undefined &&
    (typeof body.metadata !== "object" || body.metadata === null || Array.isArray(body.metadata))
  ) {
    throw new InvalidError(type.kind, "", [{
      field: "metadata",
      type: "FieldValueTypeInvalid",
      message: "Invalid value: must be an object",
    }], { group: type.group });
  }
  body.apiVersion = apiVersion;
  body.kind = type.kind;
  body.metadata ??= {};
}

function checkBodyNamespace(type: ServedType, namespace: string | undefined, body: Record<string, unknown>): void {
  if (!type.namespaced) return;
  const meta = body.metadata as { namespace?: unknown };
  if (namespace === undefined) {
    throw new BadRequestError(`${type.plural} are namespaced: create them under /namespaces/{namespace}/`);
  }
  if (meta.namespace !== undefined && meta.namespace !== "" && meta.namespace !== namespace) {
    throw new BadRequestError("the namespace of the provided object does not match the namespace sent on the request");
  }
}

function deleteOptionsOf(body: Record<string, unknown> | undefined, q: URLSearchParams) {
  const out: {
    gracePeriodSeconds?: number;
    propagationPolicy?: string;
    preconditions?: { uid?: string; resourceVersion?: string };
  } = {};
  const grace = body?.gracePeriodSeconds ??
    (q.has("gracePeriodSeconds") ? intParam(q, "gracePeriodSeconds", 0) : undefined);
  if (grace !== undefined && grace !== null) {
    if (typeof grace !== "number" || !Number.isInteger(grace) || grace < 0) {
      throw new BadRequestError(
        `Invalid gracePeriodSeconds ${JSON.stringify(grace)}: must be a whole number of at least 0`,
      );
    }
    out.gracePeriodSeconds = grace;
  }
  const policy = body?.propagationPolicy ?? q.get("propagationPolicy") ??
    ((body?.orphanDependents ?? q.get("orphanDependents")) === true || q.get("orphanDependents") === "true"
      ? "Orphan"
      : undefined);
  if (policy !== undefined && policy !== null) {
    if (typeof policy !== "string") throw new BadRequestError("Invalid propagationPolicy: must be a string");
    out.propagationPolicy = policy;
  }
  const pre = body?.preconditions as { uid?: unknown; resourceVersion?: unknown } | undefined;
  if (pre && typeof pre === "object") {
    out.preconditions = {};
    if (typeof pre.uid === "string") out.preconditions.uid = pre.uid;
    if (typeof pre.resourceVersion === "string") out.preconditions.resourceVersion = pre.resourceVersion;
  }
  return out;
}

function toScale(obj: KubeObject): KubeObject {
  const spec = (obj.spec ?? {}) as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  const status = (obj.status ?? {}) as { replicas?: number };
  const selector = Object.entries(spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: obj.metadata.name!,
      namespace: obj.metadata.namespace!,
      uid: obj.metadata.uid!,
      resourceVersion: obj.metadata.resourceVersion!,
      creationTimestamp: obj.metadata.creationTimestamp!,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector },
  };
}

function fromScale(current: KubeObject, scale: KubeObject): KubeObject {
  const replicas = (scale.spec as { replicas?: unknown } | undefined)?.replicas;
  if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
    throw new InvalidError("Scale", current.metadata.name ?? "", [{
      field: "spec.replicas",
      type: "FieldValueInvalid",
      message: `Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`,
    }], { group: "autoscaling" });
  }
  const next = structuredClone(current);
  (next.spec as Record<string, unknown>).replicas = replicas;
  return next;
}

function successStatus(details?: Record<string, string>) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", ...(details ? { details } : {}) };
}

function notFoundPath(path: string): NotFoundError {
  return new NotFoundError(`the server could not find the requested resource: ${path}`);
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** Turns any thrown value into a Kubernetes Status response; unknown errors become 500 with a clear message. */
export function errorResponse(err: unknown): Response {
  if (err instanceof ApiError) return json(err.code, err.toStatus());
  if (err instanceof RangeError || err instanceof TypeError || err instanceof SyntaxError) {
    return json(400, new BadRequestError(err.message).toStatus());
  }
  console.error("API server: unexpected error:", err);
  return json(
    500,
    new ApiError(500, "InternalError", `Internal error: ${err instanceof Error ? err.message : String(err)}`)
      .toStatus(),
  );
}
