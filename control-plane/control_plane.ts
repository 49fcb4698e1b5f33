/**
 * Starts the control plane in order: data dir -> PKI -> store -> bootstrap
 * objects -> tokens -> API server -> admin kubeconfig. Later parts
 * (scheduler, controllers) start here too, talking to the API in process.
 *
 * @module
 */

import { join } from "node:path";
import { API_PORT, type Clock, INITIAL_NAMESPACES, type KubeObject, systemClock } from "@skiff/api";
import { ApiClient, KubeconfigError, loadKubeconfig, writeKubeconfig } from "@skiff/client";
import { type CloudControllerOptions, cloudControllers, parseAddressPool } from "./cloud/mod.ts";
import { ControllerManager, defaultControllers } from "./controllers/mod.ts";
import { Scheduler } from "./scheduler/mod.ts";
import { ensureDefaultStorageClass } from "./default_storage_class.ts";
import { type CertificateAuthority, ensurePki, type Pki } from "./pki/mod.ts";
import { openStore, type Store } from "./store/mod.ts";
import {
  accessReviewHandlers,
  type ApiHandler,
  authorize,
  createApiHandler,
  createTableConverter,
  defaultStorageClassAdmission,
  Discovery,
  MetricsApi,
  namespaceLifecycle,
  newToken,
  nodeCertificateHandler,
  NodeProxy,
  nodeRestriction,
  type ServedType,
  servedTypes,
  serveHttps,
  type Server,
  ServiceAllocator,
  storageObjectInUseProtection,
  TOKEN_NAMESPACE,
  TokenAuthenticator,
  type User,
  withJoinEndpoints,
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
  /**
   * Run the scheduler and controllers (under leader election) in this
   * process, talking to the API in process. Default false: API only.
   */
  controllers?: boolean;
  /**
   * The cloud controller's settings (with `controllers`): the LoadBalancer
   * pool (`--lb-pool`; the ConfigMap kube-system/skiff-lb-pool overrides it
   * at run time) and power on demand (`--power-management`; off when absent).
   */
  cloud?: CloudControllerOptions;
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
  if (options.cloud?.lbPool) parseAddressPool(options.cloud.lbPool, "--lb-pool");
  await Deno.mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const pki = await ensurePki(join(options.dataDir, "pki"), { sans: options.tlsSans ?? [] });
  for (const change of pki.changes) log(change);
  const store = openStore(`sqlite://${join(options.dataDir, "state.db")}`, { clock });
  let api: Api;
  try {
    api = await createApi(store, {
      clock,
      ca: pki.ca,
      ...(options.bookmarkIntervalMs ? { bookmarkIntervalMs: options.bookmarkIntervalMs } : {}),
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const { handler, tokens, types } = api;
  const objects = handler.objects;
  const byKind = new Map(types.map((t) => [t.kind, t]));
  let server: Server;
  try {
    server = await serveHttps(handler, {
      port: options.port ?? API_PORT,
      hostname: options.bind ?? "0.0.0.0",
      cert: pki.certPem,
      key: pki.keyPem,
      onShutdown: () => api.endStreams(),
    });
  } catch (err) {
    api.close();
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
  let manager: ControllerManager | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      // Controllers first: their informers would otherwise retry against a server that refuses watches.
      await manager?.stop();
      // Stop accepting connections and end watches, let in-flight requests (writes) finish, then close the
      // store: it commits what is queued and checkpoints its WAL, so the next start has nothing to recover.
      await server.shutdown();
      api.close();
      await store.close();
    })();
  try {
    await ensureAdminKubeconfig({ path: kubeconfigPath, url, pki, tokens, objects, secretType: byKind.get("Secret")! });
  } catch (err) {
    await stop();
    throw err;
  }

  if (options.controllers) {
    const client = new ApiClient({
      server: "https://in-process",
      transport: handler.as(SYSTEM_USER),
      userAgent: "skiff-controller-manager",
    });
    manager = new ControllerManager({
      client,
      controllers: [new Scheduler({ clock }), ...defaultControllers(), ...cloudControllers(client, options.cloud)],
      identity: `${Deno.hostname()}-${Deno.pid}`,
      clock,
      log,
    });
    manager.start();
  }

  return {
    url,
    kubeconfigPath,
    pki,
    store,
    handler,
    types,
    server,
    tokens,
    stop,
  };
}

/** The API without a listener: what {@linkcode startControlPlane} serves, and what handler tests call. */
export interface Api {
  /** The request handler. */
  handler: ApiHandler;
  /** The token authenticator (follows token Secrets in the store). */
  tokens: TokenAuthenticator;
  /** The types served. */
  types: ServedType[];
  /** Stops following the store: ends watches and the token watch. */
  close(): void;
  /** Ends open watches and followed container logs (at shutdown, before in-flight requests are waited for). */
  endStreams(): void;
}

/** Options of {@linkcode createApi}. */
export interface CreateApiOptions {
  /** Time source. */
  clock?: Clock;
  /** Milliseconds between watch bookmarks. */
  bookmarkIntervalMs?: number;
  /**
   * The cluster CA: with it the API signs node serving certificates
   * (`nodes/certificate`) and proxies `pods/log` and `pods/exec` to node
   * agents, and serves the CA and the join exchange (`/cacerts`,
   * `/v1-skiff/join`); without it those answer 404.
   */
  ca?: CertificateAuthority;
}

/**
 * Assembles the API over `store` as the control plane serves it: token
 * authentication, role authorization, NamespaceLifecycle and
 * NodeRestriction admission, DefaultStorageClass and storage protection
 * admission, discovery, Table output, and (given the CA) node certificates
 * and the `pods/log` and `pods/exec` proxy to node agents; and creates the
 * initial namespaces and, in a cluster without StorageClasses, the default one.
 */
export async function createApi(store: Store, options: CreateApiOptions = {}): Promise<Api> {
  const clock = options.clock ?? systemClock;
  const types = servedTypes();
  const namespaceType = types.find((t) => t.kind === "Namespace")!;
  const storageClassType = types.find((t) => t.kind === "StorageClass")!;
  const tokens = await TokenAuthenticator.start(store, () => clock.now());
  const metrics = new MetricsApi(types.find((t) => t.kind === "Pod")!, clock);
  const services = new ServiceAllocator(store);
  await services.start();
  const nodeType = types.find((t) => t.kind === "Node")!;
  const proxy = options.ca ? new NodeProxy({ ca: options.ca, nodeType }) : undefined;
  const api = createApiHandler({
    store,
    types,
    authenticate: (req) => tokens.authenticate(req),
    authorize,
    admission: [
      namespaceLifecycle(namespaceType),
      nodeRestriction,
      services.admission,
      defaultStorageClassAdmission(storageClassType),
      storageObjectInUseProtection,
    ],
    resources: { ...metrics.handlers(), ...accessReviewHandlers({ authorize, types }) },
    ...(proxy
      ? { subresources: { ...proxy.handlers(), "nodes/certificate": nodeCertificateHandler(options.ca!) } }
      : {}),
    discovery: new Discovery(types, SKIFF_VERSION),
    tables: createTableConverter(clock),
    clock,
    ...(options.bookmarkIntervalMs ? { bookmarkIntervalMs: options.bookmarkIntervalMs } : {}),
  });
  const secretType = types.find((t) => t.kind === "Secret")!;
  const handler = options.ca ? withJoinEndpoints(api, { caPem: options.ca.certPem, tokens, secretType, clock }) : api;
  try {
    for (const name of INITIAL_NAMESPACES) {
      if (await handler.objects.find(namespaceType, undefined, name)) continue;
      await handler.objects.create(namespaceType, undefined, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, labels: { "kubernetes.io/metadata.name": name } },
      }, { user: SYSTEM_USER });
    }
    await ensureDefaultStorageClass(handler.objects, storageClassType, SYSTEM_USER);
  } catch (err) {
    tokens.close();
    throw err;
  }
  return {
    handler,
    tokens,
    types,
    endStreams() {
      handler.closeWatches();
      proxy?.endStreams();
    },
    close() {
      handler.closeWatches();
      tokens.close();
      services.stop();
      proxy?.close();
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
