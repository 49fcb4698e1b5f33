/**
 * What the handler tests share: the API assembled exactly as the control
 * plane assembles it ({@linkcode createApi}) over a SQLite store in a temp
 * directory, tokens for each role, and a `call` helper that sends a
 * `Request` straight to the handler (no socket).
 *
 * @module
 */

import { join } from "node:path";
import type { Clock, KubeObject } from "@skiff/api";
import { type Api, createApi } from "../control_plane.ts";
import { openStore, type Store } from "../store/mod.ts";
import { newToken, TOKEN_NAMESPACE, type TokenRole } from "./auth.ts";
import type { ServedType } from "./served_type.ts";

/** A response, decoded. */
export interface Reply {
  /** HTTP status. */
  status: number;
  /** The JSON body (or the text when it is not JSON). */
  // deno-lint-ignore no-explicit-any
  body: any;
  /** Response headers. */
  headers: Headers;
}

/** Options of {@linkcode Harness.call}. */
export interface CallOptions {
  /** A JSON value (sent as JSON), or a string / bytes sent as they are. */
  body?: unknown;
  /** Content-Type (default application/json when there is a body). */
  contentType?: string;
  /** Accept header. */
  accept?: string;
  /** The bearer token; `null` sends none. Default: the admin token. */
  token?: string | null;
  /** Extra headers. */
  headers?: Record<string, string>;
}

/** The API under test. */
export interface Harness extends AsyncDisposable {
  /** The assembled API. */
  api: Api;
  /** The store behind it. */
  store: Store;
  /** Tokens by role: admin, viewer, and node tokens for `node-a` and `node-b`. */
  tokens: { admin: string; viewer: string; nodeA: string; nodeB: string };
  /** A served type by kind. */
  type(kind: string): ServedType;
  /** Sends a request to the handler and decodes the answer. */
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  /** Sends a request and returns the raw response. */
  fetch(method: string, path: string, options?: CallOptions): Promise<Response>;
  /** Creates a token of `role` and returns it. */
  token(role: TokenRole, options?: { nodeName?: string; expiresAt?: number }): Promise<string>;
  /** Closes the API and the store and removes the directory. */
  close(): Promise<void>;
}

/** Options of {@linkcode startHarness}. */
export interface HarnessOptions {
  /** Time source for the store and the API. */
  clock?: Clock;
  /** Milliseconds between watch bookmarks. */
  bookmarkIntervalMs?: number;
  /** Store compaction (default off, so tests decide when history goes). */
  compaction?: false;
}

/** Starts the API over a fresh store. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-apiserver-test-" });
  const store = openStore(`sqlite://${join(dir, "state.db")}`, {
    compaction: false,
    durable: false,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const api = await createApi(store, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.bookmarkIntervalMs ? { bookmarkIntervalMs: options.bookmarkIntervalMs } : {}),
  });
  const secrets = api.types.find((t) => t.kind === "Secret")!;
  const token = async (role: TokenRole, extra: { nodeName?: string; expiresAt?: number } = {}) => {
    const created = await newToken({ role, ...extra });
    await api.handler.objects.create(secrets, TOKEN_NAMESPACE, created.secret, {
      user: { name: "test", role: "admin" },
    });
    return created.token;
  };
  const tokens = {
    admin: await token("admin"),
    viewer: await token("viewer"),
    nodeA: await token("node", { nodeName: "node-a" }),
    nodeB: await token("node", { nodeName: "node-b" }),
  };
  const fetch = (method: string, path: string, o: CallOptions = {}) => {
    const headers = new Headers(o.headers);
    const token = o.token === undefined ? tokens.admin : o.token;
    if (token !== null) headers.set("authorization", `Bearer ${token}`);
    if (o.accept) headers.set("accept", o.accept);
    let body: BodyInit | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === "string" || o.body instanceof Uint8Array ? o.body as BodyInit : JSON.stringify(o.body);
      headers.set("content-type", o.contentType ?? "application/json");
    } else if (o.contentType) {
      headers.set("content-type", o.contentType);
    }
    return api.handler(new Request(`https://skiff.test${path}`, { method, headers, ...(body ? { body } : {}) }));
  };
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      api.close();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    })();
  return {
    api,
    store,
    tokens,
    type: (kind) => {
      const found = api.types.find((t) => t.kind === kind);
      if (!found) throw new Error(`No served type ${kind}`);
      return found;
    },
    fetch,
    async call(method, path, o = {}) {
      const res = await fetch(method, path, o);
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Not JSON (YAML, plain text): keep the text.
      }
      return { status: res.status, body, headers: res.headers };
    },
    token,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A ConfigMap manifest. */
export function configMap(name: string, namespace = "default", extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace },
    data: { key: "value" },
    ...extra,
  };
}

/** A Pod manifest with one busybox container. */
export function pod(
  name: string,
  options: { namespace?: string; labels?: Record<string, string>; nodeName?: string } = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: options.namespace ?? "default",
      ...(options.labels ? { labels: options.labels } : {}),
    },
    spec: {
      containers: [{ name: "main", image: "busybox:latest", command: ["sleep", "3600"] }],
      ...(options.nodeName ? { nodeName: options.nodeName } : {}),
    },
  };
}

/** A Deployment manifest. */
export function deployment(name: string, replicas = 2, namespace = "default"): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "web", image: "busybox:latest", ports: [{ containerPort: 80 }] }] },
      },
    },
  };
}

/** A Node manifest. */
export function node(name: string): KubeObject {
  return { apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name } } };
}

/**
 * Reads newline-delimited JSON watch events from a response body. `next()`
 * resolves with the next event, or rejects after `timeoutMs` so a missing
 * event fails the test instead of hanging it; `done()` resolves true when
 * the stream has ended.
 */
export function watchEvents(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let ended = false;
  // deno-lint-ignore no-explicit-any
  const queue: any[] = [];
  const pull = async (timeoutMs: number): Promise<boolean> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), timeoutMs));
    try {
      const result = await Promise.race([reader.read(), timeout]);
      if (result === "timeout") throw new Error(`No watch event within ${timeoutMs} ms`);
      if (result.done) {
        ended = true;
        return false;
      }
      buffer += result.value;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        queue.push(JSON.parse(buffer.slice(0, newline)));
        buffer = buffer.slice(newline + 1);
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    // deno-lint-ignore no-explicit-any
    async next(timeoutMs = 5000): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0) {
        if (ended) throw new Error("The watch ended before the next event");
        await pull(Math.max(1, deadline - Date.now()));
      }
      return queue.shift();
    },
    /** Resolves true once the stream ends (events still queued are dropped). */
    async done(timeoutMs = 5000): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      while (!ended) {
        queue.length = 0;
        await pull(Math.max(1, deadline - Date.now()));
      }
      return true;
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}
