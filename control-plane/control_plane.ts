/**
 * Starts the control plane in order: data dir -> PKI -> store -> bootstrap
 * objects -> tokens -> API server -> admin kubeconfig. Later parts
 * (scheduler, controllers) start here too, talking to the API in process.
 *
 * @module
 */

import { join } from "node:path";
import { API_PORT, type Clock, INITIAL_NAMESPACES, type KubeObject, systemClock } from "@skiff/api";
import { KubeconfigError, loadKubeconfig, writeKubeconfig } from "@skiff/client";
import { ensurePki, type Pki } from "./pki/mod.ts";
import { openStore, type Store } from "./store/mod.ts";
import {
  type ApiHandler,
  authorize,
  createApiHandler,
  createTableConverter,
  Discovery,
  namespaceLifecycle,
  newToken,
  nodeRestriction,
  type ServedType,
  servedTypes,
  serveHttps,
  type Server,
  TOKEN_NAMESPACE,
  TokenAuthenticator,
  type User,
} from "./apiserver/mod.ts";

/** Skiff's version. */
export const SKIFF_VERSION = "0.1.0";

/** The user the control plane's own components act as. */
export const SYSTEM_USER: User = { name: "system:control-plane", role: "admin" };

/** Options of {@linkcode startControlPlane}. */
export interface ControlPlaneOptions {
  /** Where state, certificates and credentials live. */
  dataDir: string;
  /** API port (default 6443; 0 picks a free one). */
  port?: number;
  /** Address to bind (default 0.0.0.0). */
  bind?: string;
  /** Extra names and addresses for the serving certificate. */
  tlsSans?: string[];
  /** Time source. */
  clock?: Clock;
  /** Where progress lines go (default: stderr). */
  log?: (line: string) => void;
  /** Milliseconds between watch bookmarks. */
  bookmarkIntervalMs?: number;
}

/** A running control plane. */
export interface ControlPlane {
  /** The API server URL clients should use. */
  url: string;
  /** The admin kubeconfig written on start. */
  kubeconfigPath: string;
  /** The PKI (CA, serving certificate). */
  pki: Pki;
  /** The store. */
  store: Store;
  /** The API handler (for in-process clients: `handler.as(SYSTEM_USER)`). */
  handler: ApiHandler;
  /** The types served. */
  types: ServedType[];
  /** The HTTPS server. */
  server: Server;
  /** The token authenticator. */
  tokens: TokenAuthenticator;
  /** Shuts down gracefully: in-flight writes finish, watches end, the store closes. */
  stop(): Promise<void>;
}

/** Starts a control plane. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const log = options.log ?? ((line: string) => console.error(line));
  const clock = options.clock ?? systemClock;
  await Deno.mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const pki = await ensurePki(join(options.dataDir, "pki"), { sans: options.tlsSans ?? [] });
  for (const change of pki.changes) log(change);
  const store = openStore(`sqlite://${join(options.dataDir, "state.db")}`, { clock });
  const types = servedTypes();
  const byKind = new Map(types.map((t) => [t.kind, t]));
  const namespaceType = byKind.get("Namespace")!;
  const tokens = await TokenAuthenticator.start(store, () => clock.now());
  const handler = createApiHandler({
    store,
    types,
    authenticate: (req) => tokens.authenticate(req),
    authorize,
    admission: [namespaceLifecycle(namespaceType), nodeRestriction],
    discovery: new Discovery(types, SKIFF_VERSION),
    tables: createTableConverter(clock),
    clock,
    ...(options.bookmarkIntervalMs ? { bookmarkIntervalMs: options.bookmarkIntervalMs } : {}),
  });
  const objects = handler.objects;
  for (const name of INITIAL_NAMESPACES) {
    if (await objects.find(namespaceType, undefined, name)) continue;
    await objects.create(namespaceType, undefined, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name, labels: { "kubernetes.io/metadata.name": name } },
    }, { user: SYSTEM_USER });
  }
  let server: Server;
  try {
    server = await serveHttps(handler, {
      port: options.port ?? API_PORT,
      hostname: options.bind ?? "0.0.0.0",
      cert: pki.certPem,
      key: pki.keyPem,
    });
  } catch (err) {
    tokens.close();
    await store.close();
    const port = options.port ?? API_PORT;
    if ((err as { code?: string }).code === "EADDRINUSE") {
      throw new Error(`Cannot listen on port ${port}: it is in use; stop what uses it or pass --port`, { cause: err });
    }
    throw err;
  }
  const host = !options.bind || options.bind === "0.0.0.0" || options.bind === "::" ? "127.0.0.1" : options.bind;
  const url = `https://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
  const kubeconfigPath = join(options.dataDir, "admin.kubeconfig");
  await ensureAdminKubeconfig({ path: kubeconfigPath, url, pki, tokens, objects, secretType: byKind.get("Secret")! });

  let stopping: Promise<void> | undefined;
  return {
    url,
    kubeconfigPath,
    pki,
    store,
    handler,
    types,
    server,
    tokens,
    stop() {
      stopping ??= (async () => {
        handler.closeWatches();
        await server.shutdown();
        tokens.close();
        await store.close();
      })();
      return stopping;
    },
  };
}

/**
 * Keeps `admin.kubeconfig` valid: reuses its token when it still
 * authenticates as admin, otherwise creates a new admin token. The server
 * URL and CA are rewritten on every start (the port may have changed).
 */
async function ensureAdminKubeconfig(args: {
  path: string;
  url: string;
  pki: Pki;
  tokens: TokenAuthenticator;
  objects: ApiHandler["objects"];
  secretType: ServedType;
}): Promise<void> {
  let token: string | undefined;
  const present = await Deno.stat(args.path).then(() => true, () => false);
  if (present) {
    try {
      const existing = await loadKubeconfig({ kubeconfig: args.path });
      const record = existing.token ? await args.tokens.verify(existing.token) : undefined;
      if (record?.role === "admin") token = existing.token;
    } catch (err) {
      if (!(err instanceof KubeconfigError)) throw err;
    }
  }
  if (!token) {
    const created = await newToken({ role: "admin", description: "admin kubeconfig written by skiff up" });
    await args.objects.create(args.secretType, TOKEN_NAMESPACE, created.secret as KubeObject, { user: SYSTEM_USER });
    token = created.token;
    for (let i = 0; i < 50 && !(await args.tokens.verify(token)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  await writeKubeconfig(args.path, {
    server: args.url,
    caPem: args.pki.caPem,
    token,
    clusterName: "skiff",
    userName: "skiff-admin",
    contextName: "skiff",
  });
}
