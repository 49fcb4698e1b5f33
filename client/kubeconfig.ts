/**
 * Kubeconfig files, read the way kubectl reads them and written the way
 * Skiff hands out credentials (`<data-dir>/admin.kubeconfig`).
 *
 * @module
 */

import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse, stringify } from "yaml";

/**
 * A kubeconfig that cannot be found, read or used. The message names the
 * file and what is missing or wrong.
 */
export class KubeconfigError extends Error {
  /** The kubeconfig file at fault, when there is one. */
  readonly path: string | undefined;

  /** Creates the error. */
  constructor(
    message: string,
    options: { path?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "KubeconfigError";
    this.path = options.path;
  }
}

/** Options of {@linkcode loadKubeconfig}, mirroring kubectl's flags. */
export interface LoadKubeconfigOptions {
  /** `--kubeconfig`: read only this file. */
  kubeconfig?: string;
  /** `--context`: use this context instead of the current one. */
  context?: string;
  /** `--namespace`: wins over the context's namespace. */
  namespace?: string;
  /** The environment to read `KUBECONFIG` and `HOME` from. Default: the process's. */
  env?: Record<string, string | undefined>;
  /** The home folder holding `.kube/config`. Default: `env.HOME`, else the user's. */
  home?: string;
}

/** Everything needed to talk to the API server, resolved from a kubeconfig. */
export interface ResolvedKubeconfig {
  /** The files that were read, first (winning) first. */
  files: string[];
  /** The context used. */
  contextName: string;
  /** The context's cluster. */
  clusterName: string;
  /** The context's user; empty when the context names none. */
  userName: string;
  /** The API server URL, e.g. `https://192.168.1.10:6443`. */
  server: string;
  /** The CA to trust, PEM, when the cluster names one. */
  caPem?: string;
  /** Whether the cluster says to skip verifying the server's certificate. */
  insecureSkipTlsVerify: boolean;
  /** The bearer token, from `token` or `tokenFile`. */
  token?: string;
  /** The user's client certificate, PEM, when it has one. */
  clientCertificatePem?: string;
  /** The user's client key, PEM, when it has one. */
  clientKeyPem?: string;
  /** The namespace: `--namespace`, else the context's, else `default`. */
  namespace: string;
}

/** A named entry of one of the three lists, with the file it came from. */
interface Entry {
  name: string;
  body: Record<string, unknown>;
  file: string;
}

/** The merged view of one or more kubeconfig files. */
interface Merged {
  files: string[];
  currentContext?: string;
  clusters: Map<string, Entry>;
  contexts: Map<string, Entry>;
  users: Map<string, Entry>;
}

const NO_CONFIG_ADVICE =
  "run `skiff up` to start a cluster (it writes <data-dir>/admin.kubeconfig), or pass --kubeconfig <file>";

/**
 * Loads the kubeconfig kubectl would use and resolves its context: the file
 * given as `kubeconfig`; else every file of the colon-separated
 * `KUBECONFIG` list (missing ones skipped) merged so the first file to name
 * a cluster, context or user wins, with the first `current-context` set;
 * else `~/.kube/config`.
 *
 * Relative `certificate-authority`, `client-certificate`, `client-key` and
 * `tokenFile` paths are relative to the folder of the file that names them.
 *
 * @throws {KubeconfigError} naming the file and what is missing or wrong
 *
 * @example
 * ```ts
 * const config = await loadKubeconfig({ namespace: "kube-system" });
 * using tlsFetch = createTlsFetch(
 *   config.insecureSkipTlsVerify ? { insecure: true } : { caPem: config.caPem },
 * );
 * const res = await tlsFetch(`${config.server}/api/v1/namespaces/${config.namespace}/pods`, {
 *   headers: { authorization: `Bearer ${config.token}` },
 * });
 * ```
 */
export async function loadKubeconfig(
  options: LoadKubeconfigOptions = {},
): Promise<ResolvedKubeconfig> {
  const merged = await readMerged(options);
  const where = describeFiles(merged.files);
  const contextNames = [...merged.contexts.keys()];
  const available = contextNames.length > 0
    ? `available contexts: ${contextNames.map((n) => `"${n}"`).join(", ")}`
    : "it defines no contexts";

  const contextName = options.context ?? merged.currentContext;
  if (contextName === undefined || contextName === "") {
    throw new KubeconfigError(
      `No context to use: ${where} sets no current-context: pass --context (${available})`,
      { path: merged.files[0] },
    );
  }
  const context = merged.contexts.get(contextName);
  if (context === undefined) {
    throw new KubeconfigError(
      `Context "${contextName}" is not defined in ${where}: ${available}`,
      { path: merged.files[0] },
    );
  }

  const clusterName = optionalString(context, "cluster");
  if (clusterName === undefined || clusterName === "") {
    throw new KubeconfigError(
      `Context "${contextName}" in "${context.file}" names no cluster: add context.cluster`,
      { path: context.file },
    );
  }
  const cluster = merged.clusters.get(clusterName);
  if (cluster === undefined) {
    throw new KubeconfigError(
      `Context "${contextName}" in "${context.file}" uses cluster "${clusterName}", which ${where} does not define`,
      { path: context.file },
    );
  }
  const userName = optionalString(context, "user") ?? "";
  const user = userName === "" ? undefined : merged.users.get(userName);
  if (userName !== "" && user === undefined) {
    throw new KubeconfigError(
      `Context "${contextName}" in "${context.file}" uses user "${userName}", which ${where} does not define`,
      { path: context.file },
    );
  }

  if (options.namespace !== undefined && options.namespace.trim() === "") {
    throw new KubeconfigError("Invalid namespace: it is empty");
  }
  const namespace = options.namespace ??
    (optionalString(context, "namespace") || "default");

  const resolved: ResolvedKubeconfig = {
    files: merged.files,
    contextName,
    clusterName,
    userName,
    ...await resolveCluster(cluster),
    namespace,
  };
  if (user !== undefined) Object.assign(resolved, await resolveUser(user));
  return resolved;
}

/** Reads the files kubectl's precedence picks and merges them. */
async function readMerged(options: LoadKubeconfigOptions): Promise<Merged> {
  const env = options.env ?? {
    KUBECONFIG: Deno.env.get("KUBECONFIG"),
    HOME: Deno.env.get("HOME"),
  };
  const merged: Merged = {
    files: [],
    clusters: new Map(),
    contexts: new Map(),
    users: new Map(),
  };

  if (options.kubeconfig !== undefined && options.kubeconfig !== "") {
    const path = resolve(options.kubeconfig);
    const text = await readConfigFile(path);
    if (text === undefined) {
      throw new KubeconfigError(
        `Kubeconfig "${path}" (from --kubeconfig) does not exist: ${NO_CONFIG_ADVICE}`,
        { path },
      );
    }
    mergeFile(merged, path, text);
    return merged;
  }

  const list = env.KUBECONFIG ?? "";
  if (list !== "") {
    const paths = [
      ...new Set(list.split(":").filter((p) => p !== "").map((p) => resolve(p))),
    ];
    for (const path of paths) {
      const text = await readConfigFile(path);
      if (text !== undefined) mergeFile(merged, path, text);
    }
    if (merged.files.length === 0) {
      throw new KubeconfigError(
        `None of the kubeconfig files in KUBECONFIG exist (${
          paths.map((p) => `"${p}"`).join(", ")
        }): ${NO_CONFIG_ADVICE}`,
        { path: paths[0] },
      );
    }
    return merged;
  }

  const home = options.home ?? env.HOME ?? homedir();
  const path = join(home, ".kube", "config");
  const text = await readConfigFile(path);
  if (text === undefined) {
    throw new KubeconfigError(
      `No kubeconfig found: "${path}" does not exist and KUBECONFIG is not set: ${NO_CONFIG_ADVICE}`,
      { path },
    );
  }
  mergeFile(merged, path, text);
  return merged;
}

/** Reads a kubeconfig, or undefined when it does not exist. */
async function readConfigFile(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new KubeconfigError(
      `Cannot read kubeconfig "${path}": ${(error as Error).message}`,
      { path, cause: error },
    );
  }
}

/** Parses one file and adds what it defines that earlier files did not. */
function mergeFile(merged: Merged, path: string, text: string): void {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new KubeconfigError(
      `Kubeconfig "${path}" is not valid YAML: ${(error as Error).message}`,
      { path, cause: error },
    );
  }
  merged.files.push(path);
  if (doc === null || doc === undefined) return;
  if (!isRecord(doc)) {
    throw new KubeconfigError(
      `Kubeconfig "${path}" is not a kubeconfig: its top level is not a mapping`,
      { path },
    );
  }
  const current = doc["current-context"];
  if (current !== undefined && current !== null && typeof current !== "string") {
    throw new KubeconfigError(
      `Kubeconfig "${path}": current-context must be a string`,
      { path },
    );
  }
  if (merged.currentContext === undefined && current) {
    merged.currentContext = current;
  }
  mergeList(merged.clusters, doc, { path, list: "clusters", item: "cluster" });
  mergeList(merged.contexts, doc, { path, list: "contexts", item: "context" });
  mergeList(merged.users, doc, { path, list: "users", item: "user" });
}

/** Adds the named entries of one list (`clusters`, …) that are new. */
function mergeList(
  into: Map<string, Entry>,
  doc: Record<string, unknown>,
  where: { path: string; list: string; item: string },
): void {
  const { path, list, item } = where;
  const entries = doc[list];
  if (entries === undefined || entries === null) return;
  if (!Array.isArray(entries)) {
    throw new KubeconfigError(
      `Kubeconfig "${path}": ${list} must be a list`,
      { path },
    );
  }
  entries.forEach((entry: unknown, index) => {
    const name = isRecord(entry) ? entry.name : undefined;
    if (typeof name !== "string" || name === "") {
      throw new KubeconfigError(
        `Kubeconfig "${path}": ${list}[${index}] has no name`,
        { path },
      );
    }
    const body = (entry as Record<string, unknown>)[item] ?? {};
    if (!isRecord(body)) {
      throw new KubeconfigError(
        `Kubeconfig "${path}": ${list}[${index}] ("${name}"): ${item} must be a mapping`,
        { path },
      );
    }
    if (!into.has(name)) into.set(name, { name, body, file: path });
  });
}

/** The server, CA and verification settings of a cluster entry. */
async function resolveCluster(cluster: Entry): Promise<
  Pick<ResolvedKubeconfig, "server" | "caPem" | "insecureSkipTlsVerify">
> {
  const label = `Cluster "${cluster.name}" in "${cluster.file}"`;
  const server = optionalString(cluster, "server");
  if (server === undefined || server === "") {
    throw new KubeconfigError(`${label} has no server URL: add cluster.server`, {
      path: cluster.file,
    });
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch (cause) {
    throw new KubeconfigError(`${label} has an invalid server URL "${server}"`, {
      path: cluster.file,
      cause,
    });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new KubeconfigError(
      `${label} has server "${server}": only https:// and http:// URLs are supported`,
      { path: cluster.file },
    );
  }
  const insecure = cluster.body["insecure-skip-tls-verify"] ?? false;
  if (typeof insecure !== "boolean") {
    throw new KubeconfigError(
      `${label}: insecure-skip-tls-verify must be true or false`,
      { path: cluster.file },
    );
  }
  const caPem = await readPem(cluster, {
    dataKey: "certificate-authority-data",
    fileKey: "certificate-authority",
    label,
    marker: "CERTIFICATE",
  });
  if (insecure && caPem !== undefined) {
    throw new KubeconfigError(
      `${label} sets both insecure-skip-tls-verify and a certificate authority: remove one of them`,
      { path: cluster.file },
    );
  }
  const result: Pick<
    ResolvedKubeconfig,
    "server" | "caPem" | "insecureSkipTlsVerify"
  > = { server: server.replace(/\/+$/, ""), insecureSkipTlsVerify: insecure };
  if (caPem !== undefined) result.caPem = caPem;
  return result;
}

/** The credentials of a user entry. */
async function resolveUser(user: Entry): Promise<
  Pick<ResolvedKubeconfig, "token" | "clientCertificatePem" | "clientKeyPem">
> {
  const label = `User "${user.name}" in "${user.file}"`;
  const result: Pick<
    ResolvedKubeconfig,
    "token" | "clientCertificatePem" | "clientKeyPem"
  > = {};

  const tokenFile = optionalString(user, "tokenFile");
  if (tokenFile !== undefined && tokenFile !== "") {
    const path = resolvePath(user.file, tokenFile);
    const text = await readReferenced(path, `${label}: tokenFile`, user.file);
    const token = text.trim();
    if (token === "") {
      throw new KubeconfigError(`${label}: tokenFile "${path}" is empty`, {
        path: user.file,
      });
    }
    result.token = token;
  } else {
    const token = optionalString(user, "token");
    if (token !== undefined && token !== "") result.token = token;
  }

  const cert = await readPem(user, {
    dataKey: "client-certificate-data",
    fileKey: "client-certificate",
    label,
    marker: "CERTIFICATE",
  });
  const key = await readPem(user, {
    dataKey: "client-key-data",
    fileKey: "client-key",
    label,
    marker: "PRIVATE KEY",
  });
  if (cert !== undefined) result.clientCertificatePem = cert;
  if (key !== undefined) result.clientKeyPem = key;

  if (result.token === undefined) {
    if (cert !== undefined || key !== undefined) {
      throw new KubeconfigError(
        `${label} has only a client certificate: Skiff's API server authenticates with bearer tokens, so add a "token" or "tokenFile" to this user (the admin token is in <data-dir>/admin.kubeconfig)`,
        { path: user.file },
      );
    }
    for (const plugin of ["exec", "auth-provider"]) {
      if (user.body[plugin] !== undefined) {
        throw new KubeconfigError(
          `${label} gets its credentials from an ${plugin} plugin, which Skiff does not run: add a "token" or "tokenFile" to this user`,
          { path: user.file },
        );
      }
    }
    if (user.body.username !== undefined) {
      throw new KubeconfigError(
        `${label} has a username and password: Skiff's API server authenticates with bearer tokens, so add a "token" or "tokenFile" to this user`,
        { path: user.file },
      );
    }
  }
  return result;
}

/**
 * Reads PEM given inline as base64 (`*-data`, which wins) or as a file
 * path, and checks it holds the expected PEM block.
 */
async function readPem(
  entry: Entry,
  keys: { dataKey: string; fileKey: string; label: string; marker: string },
): Promise<string | undefined> {
  const { dataKey, fileKey, label, marker } = keys;
  const data = optionalString(entry, dataKey);
  const file = optionalString(entry, fileKey);
  let pem: string;
  let source: string;
  if (data !== undefined && data !== "") {
    source = dataKey;
    try {
      const binary = atob(data.replace(/\s+/g, ""));
      pem = new TextDecoder().decode(
        Uint8Array.from(binary, (c) => c.charCodeAt(0)),
      );
    } catch (cause) {
      throw new KubeconfigError(`${label}: ${dataKey} is not valid base64`, {
        path: entry.file,
        cause,
      });
    }
  } else if (file !== undefined && file !== "") {
    const path = resolvePath(entry.file, file);
    source = `${fileKey} "${path}"`;
    pem = await readReferenced(path, `${label}: ${fileKey}`, entry.file);
  } else {
    return undefined;
  }
  if (!new RegExp(`-----BEGIN [A-Z ]*${marker}-----`).test(pem)) {
    throw new KubeconfigError(
      `${label}: ${source} holds no PEM ${marker.toLowerCase()}`,
      { path: entry.file },
    );
  }
  return pem;
}

/** Reads a file a kubeconfig points to, with an error naming both. */
async function readReferenced(
  path: string,
  what: string,
  kubeconfig: string,
): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "no such file" : (error as Error).message;
    throw new KubeconfigError(`${what} "${path}" cannot be read: ${reason}`, {
      path: kubeconfig,
      cause: error,
    });
  }
}

/** Resolves a path named in `kubeconfig` against that file's folder. */
function resolvePath(kubeconfig: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dirname(kubeconfig), path);
}

/** A string field of an entry's body, or undefined; wrong types are errors. */
function optionalString(entry: Entry, key: string): string | undefined {
  const value = entry.body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    throw new KubeconfigError(
      `Kubeconfig "${entry.file}": "${entry.name}": ${key} must be a string`,
      { path: entry.file },
    );
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeFiles(files: readonly string[]): string {
  return files.length === 1 ? `"${files[0]}"` : `the kubeconfig files ${files.map((f) => `"${f}"`).join(", ")}`;
}

/** What {@linkcode renderKubeconfig} writes. */
export interface RenderKubeconfigOptions {
  /** The API server URL, `https://…`. */
  server: string;
  /** The cluster CA, PEM; embedded as `certificate-authority-data`. */
  caPem: string;
  /** The bearer token. */
  token: string;
  /** The cluster entry's name. */
  clusterName: string;
  /** The user entry's name. */
  userName: string;
  /** The context's name; it becomes the current context. */
  contextName: string;
  /** The context's namespace. Default: none (kubectl then uses `default`). */
  namespace?: string;
}

/**
 * Returns the text of a kubeconfig with one cluster, one user and one
 * context, the current one.
 *
 * @throws {TypeError} naming the option that is missing or malformed
 *
 * @example
 * ```ts
 * const yaml = renderKubeconfig({
 *   server: "https://192.168.1.10:6443",
 *   caPem,
 *   token,
 *   clusterName: "skiff",
 *   userName: "admin",
 *   contextName: "skiff",
 * });
 * ```
 */
export function renderKubeconfig(options: RenderKubeconfigOptions): string {
  const { server, caPem, token, clusterName, userName, contextName } = options;
  for (const key of ["clusterName", "userName", "contextName"] as const) {
    if (typeof options[key] !== "string" || options[key].trim() === "") {
      throw new TypeError(`Invalid kubeconfig: ${key} must not be empty`);
    }
  }
  let url: URL | undefined;
  try {
    url = new URL(server);
  } catch {
    url = undefined;
  }
  if (url === undefined || url.protocol !== "https:") {
    throw new TypeError(
      `Invalid kubeconfig: server must be an https:// URL, got "${server}"`,
    );
  }
  if (typeof caPem !== "string" || !caPem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new TypeError("Invalid kubeconfig: caPem holds no PEM certificate");
  }
  if (typeof token !== "string" || token === "" || /\s/.test(token)) {
    throw new TypeError(
      "Invalid kubeconfig: token must be non-empty and contain no whitespace",
    );
  }
  if (options.namespace !== undefined && options.namespace.trim() === "") {
    throw new TypeError("Invalid kubeconfig: namespace must not be empty");
  }
  const caData = btoa(
    String.fromCharCode(...new TextEncoder().encode(caPem)),
  );
  const context: Record<string, string> = {
    cluster: clusterName,
    user: userName,
  };
  if (options.namespace !== undefined) context.namespace = options.namespace;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: clusterName,
      cluster: { server, "certificate-authority-data": caData },
    }],
    users: [{ name: userName, user: { token } }],
    contexts: [{ name: contextName, context }],
    "current-context": contextName,
    preferences: {},
  }, { lineWidth: 0 });
}

/**
 * Writes {@linkcode renderKubeconfig}'s text to `path` with mode 0600,
 * atomically (a temporary file renamed over it), creating its folder (mode
 * 0700) if needed.
 *
 * @throws {TypeError} when an option is malformed
 */
export async function writeKubeconfig(
  path: string,
  options: RenderKubeconfigOptions,
): Promise<void> {
  const text = renderKubeconfig(options);
  await Deno.mkdir(dirname(resolve(path)), { recursive: true, mode: 0o700 });
  const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    const file = await Deno.open(temp, {
      write: true,
      createNew: true,
      mode: 0o600,
    });
    try {
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) {
        written += await file.write(bytes.subarray(written));
      }
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.chmod(temp, 0o600);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
