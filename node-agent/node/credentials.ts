/**
 * The node's identity: the API server it belongs to, the CA it trusts, its
 * bearer token and its name, kept in `<data-dir>/agent/credentials.json`
 * (mode 0600) so that a restarted agent needs no flags. Flags given on a
 * later start override what is stored.
 *
 * @module
 */

import { dirname, join } from "node:path";

/** What identifies a node to its control plane. */
export interface NodeCredentials {
  /** The API server's URL, e.g. `https://192.168.1.10:6443`. */
  server: string;
  /** The bearer token, `<id>.<secret>`: a node token (or an admin token). */
  token: string;
  /** The cluster CA, PEM; absent: the system's trusted roots. */
  caPem?: string;
  /** The node's name. */
  nodeName: string;
}

/** Credentials given on the command line, each overriding the stored one. */
export type GivenCredentials = Partial<NodeCredentials>;

/** The credentials file is there but unusable. */
export class CredentialsError extends Error {
  /** The file at fault. */
  readonly path: string;

  /** Creates the error for the file at `path`. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CredentialsError";
    this.path = path;
  }
}

const KIND = "NodeCredentials";
const API_VERSION = "skiff.dev/v1";
const TOKEN = /^[A-Za-z0-9]{1,64}\.[A-Za-z0-9]{1,256}$/;

/** Path of the credentials file under `dataDir`. */
export function credentialsPath(dataDir: string): string {
  return join(dataDir, "agent", "credentials.json");
}

/**
 * Checks one set of credentials.
 *
 * @throws {TypeError} naming the field (`server`, `token`, `caPem`, `nodeName`) that is not valid
 */
export function checkCredentials(credentials: NodeCredentials): NodeCredentials {
  const { server, token, caPem, nodeName } = credentials;
  let url: URL;
  try {
    url = new URL(server);
  } catch (cause) {
    throw new TypeError(`Invalid server "${server}": not a URL; give it as https://HOST:6443`, { cause });
  }
  if (url.protocol !== "https:") {
    throw new TypeError(
      `Invalid server "${server}": the API server is served over HTTPS; give it as https://HOST:6443`,
    );
  }
  if (typeof token !== "string" || !TOKEN.test(token)) {
    throw new TypeError(
      'Invalid token: expected "<id>.<secret>" (letters and digits around one dot), a node or admin bearer token',
    );
  }
  if (caPem !== undefined && !caPem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new TypeError("Invalid CA certificate: it holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  if (typeof nodeName !== "string" || nodeName === "") throw new TypeError("Invalid node name: it is empty");
  return credentials;
}

/**
 * Reads the stored credentials; `undefined` when there are none yet.
 *
 * @throws {CredentialsError} when the file cannot be read or is not valid, naming the field at fault
 */
export async function loadCredentials(dataDir: string): Promise<NodeCredentials | undefined> {
  const path = credentialsPath(dataDir);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new CredentialsError(path, `Cannot read the node credentials "${path}": ${message(error)}`, {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CredentialsError(
      path,
      `Cannot read the node credentials "${path}": not JSON (${
        message(error)
      }); delete it and start the agent with --server and --token`,
      { cause: error },
    );
  }
  const record = (parsed ?? {}) as Record<string, unknown>;
  if (record.kind !== KIND) {
    throw new CredentialsError(path, `Cannot read the node credentials "${path}": "kind" is not "${KIND}"`);
  }
  for (const field of ["server", "token", "nodeName"] as const) {
    if (typeof record[field] !== "string" || record[field] === "") {
      throw new CredentialsError(path, `Cannot read the node credentials "${path}": "${field}" is missing`);
    }
  }
  if (record.caPem !== undefined && typeof record.caPem !== "string") {
    throw new CredentialsError(path, `Cannot read the node credentials "${path}": "caPem" is not a string`);
  }
  const credentials: NodeCredentials = {
    server: record.server as string,
    token: record.token as string,
    nodeName: record.nodeName as string,
    ...(typeof record.caPem === "string" ? { caPem: record.caPem } : {}),
  };
  try {
    return checkCredentials(credentials);
  } catch (error) {
    throw new CredentialsError(path, `Cannot use the node credentials "${path}": ${message(error)}`, {
      cause: error,
    });
  }
}

/**
 * Stores the credentials atomically with mode 0600 (the folder 0700).
 *
 * @throws {TypeError} when the credentials are not valid
 */
export async function saveCredentials(dataDir: string, credentials: NodeCredentials): Promise<void> {
  checkCredentials(credentials);
  const path = credentialsPath(dataDir);
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const text = `${
    JSON.stringify(
      {
        apiVersion: API_VERSION,
        kind: KIND,
        server: credentials.server,
        nodeName: credentials.nodeName,
        token: credentials.token,
        ...(credentials.caPem !== undefined ? { caPem: credentials.caPem } : {}),
      },
      null,
      2,
    )
  }\n`;
  const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    try {
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
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

/**
 * The credentials to use: each given field over the stored one; the node
 * name falls back to `defaultNodeName`.
 *
 * @throws {TypeError} naming the flag to pass when the server or token is known from neither
 */
export function mergeCredentials(
  stored: NodeCredentials | undefined,
  given: GivenCredentials,
  options: { defaultNodeName: string; path: string },
): NodeCredentials {
  const server = given.server ?? stored?.server;
  const token = given.token ?? stored?.token;
  if (server === undefined || token === undefined) {
    const missing = [server === undefined ? "--server URL" : "", token === undefined ? "--token TOKEN" : ""]
      .filter(Boolean).join(" and ");
    throw new TypeError(
      `No node credentials in "${options.path}": pass ${missing} the first time; later starts reuse them`,
    );
  }
  const sameServer = stored !== undefined && stored.server === server;
  const caPem = given.caPem ?? (sameServer ? stored.caPem : undefined);
  return checkCredentials({
    server,
    token,
    nodeName: given.nodeName ?? stored?.nodeName ?? options.defaultNodeName,
    ...(caPem !== undefined ? { caPem } : {}),
  });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
