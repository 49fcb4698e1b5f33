/**
 * Joining a cluster with a join token (`K10<ca-hash>::<id>.<secret>`):
 *
 * 1. fetch the server's CA from `GET /cacerts` without trusting the server
 *    yet (or take the one given with `--ca-cert`), and refuse, before
 *    anything secret is sent, when its SHA-256 is not the hash in the token;
 * 2. over TLS that trusts exactly that CA, exchange the token's
 *    `<id>.<secret>` at `POST /v1-skiff/join` for a node token bound to the
 *    node's name (the server replaces any older node token of that name);
 * 3. store server, CA and node token in the credentials file, as a node
 *    given a node token would.
 *
 * When credentials for the same server, node name and CA are already
 * stored and the server still accepts their node token, they are kept and
 * the join token is not used: an agent whose unit passes the join token on
 * every start keeps its identity after the token expires. A refused stored
 * token (the node was retired with `skiff node delete`) is replaced by a new
 * exchange.
 *
 * The paths and bodies are the control plane's (control-plane/apiserver/join.ts);
 * the agent does not import control-plane code, so they are repeated here.
 *
 * @module
 */

import {
  type ApiError,
  ForbiddenError,
  NotFoundError,
  ServiceUnavailableError,
  type StatusCause,
  UnauthorizedError,
} from "@skiff/api";
import { ApiClient, createTlsFetch, type TlsFetch } from "@skiff/client";
import { checkCredentials, credentialsPath, type NodeCredentials, saveCredentials } from "./credentials.ts";
import { caHashOfPem, parseJoinToken } from "./join_token.ts";
import { checkNodeName } from "./node_name.ts";

/** Where the control plane serves its CA, without authentication. */
export const CA_CERTS_PATH = "/cacerts";
/** Where the control plane exchanges a join token for a node token. */
export const JOIN_PATH = "/v1-skiff/join";

/** Why a join failed. */
export type JoinFailure =
  | "ca-mismatch"
  | "unreachable"
  | "no-ca"
  | "expired"
  | "unknown-token"
  | "wrong-secret"
  | "not-a-join-token"
  | "refused";

/** Joining failed; the message says why and what to do, `reason` says which for programs. */
export class JoinError extends Error {
  /** Which failure. */
  readonly reason: JoinFailure;

  /** Creates the error. */
  constructor(reason: JoinFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "JoinError";
    this.reason = reason;
  }
}

/** Options of {@linkcode joinCluster}. */
export interface JoinClusterOptions {
  /** The join token, `K10<ca-hash>::<id>.<secret>`. */
  token: string;
  /** The API server's URL (default: the stored one). */
  server?: string;
  /** A CA given with `--ca-cert`: checked against the token's hash instead of fetching the server's. */
  caPem?: string;
  /** The node's name (default: the stored one, else `defaultNodeName`). */
  nodeName?: string;
  /** The credentials stored before, if any. */
  stored?: NodeCredentials | undefined;
  /** The agent's data directory, where the credentials are stored. */
  dataDir: string;
  /** The name a node gets when given none (the hostname in lower case). */
  defaultNodeName: string;
  /** Where progress is told. */
  log?: (line: string) => void;
  /** Milliseconds each request may take (default 15 000). */
  timeoutMs?: number;
}

/** The CA is a few kilobytes; refuse to read more from a server not yet trusted. */
const MAX_CA_BYTES = 64 * 1024;

const REASONS: Record<string, JoinFailure> = {
  TokenNotFound: "unknown-token",
  TokenSecretMismatch: "wrong-secret",
  TokenExpired: "expired",
  NotAJoinToken: "not-a-join-token",
};

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The innermost cause's message: `connect ECONNREFUSED 127.0.0.1:6443`. */
function rootMessage(error: unknown): string {
  let current = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return message(current);
}

function unreachable(server: string, error: unknown): JoinError {
  const reason = rootMessage(error);
  if (/altnames|certificate.*(name|match)/i.test(reason)) {
    const host = new URL(server).hostname;
    return new JoinError(
      "unreachable",
      `The API server at ${server} has a certificate that does not name "${host}" (${reason}): restart \`skiff up\` with --tls-san ${host}, or join with an address the certificate names`,
      { cause: error },
    );
  }
  return new JoinError(
    "unreachable",
    `Cannot reach the API server at ${server} to join: ${reason}; check the URL (https://HOST:6443), that \`skiff up\` runs there, and that this machine reaches it`,
    { cause: error },
  );
}

/** Reads at most `limit` bytes of a body as text; undefined when it is longer. */
async function readLimited(res: Response, limit: number): Promise<string | undefined> {
  if (!res.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
}

/** Fetches the server's CA without trusting the server. */
async function fetchServerCa(server: string, timeoutMs: number): Promise<string> {
  using insecure = createTlsFetch({ insecure: true });
  let res: Response;
  let text: string | undefined;
  try {
    res = await insecure(`${server}${CA_CERTS_PATH}`, { signal: AbortSignal.timeout(timeoutMs) });
    text = await readLimited(res, MAX_CA_BYTES);
  } catch (error) {
    throw unreachable(server, error);
  }
  if (!res.ok || text === undefined || !text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new JoinError(
      "no-ca",
      `The server at ${server} did not hand out its CA (GET ${CA_CERTS_PATH} answered ${res.status}${
        res.ok ? " without a PEM certificate" : ""
      }): is it a Skiff API server, and is this its URL?`,
    );
  }
  return text;
}

/** Whether the server still accepts a stored node token (a 401 says no). */
async function storedTokenWorks(stored: NodeCredentials, timeoutMs: number): Promise<boolean> {
  using tls = createTlsFetch({ caPem: stored.caPem! });
  const client = new ApiClient({ server: stored.server, token: stored.token, transport: tls });
  try {
    await client.request("GET", `/api/v1/nodes/${encodeURIComponent(stored.nodeName)}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return true;
  } catch (error) {
    if (error instanceof UnauthorizedError) return false;
    if (error instanceof ServiceUnavailableError || error instanceof DOMException) {
      throw unreachable(stored.server, error);
    }
    return true;
  }
}

/** Exchanges the bearer part of a join token for a node token. */
async function exchange(
  tls: TlsFetch,
  args: { server: string; token: string; nodeName: string; timeoutMs: number },
): Promise<string> {
  const client = new ApiClient({ server: args.server, token: args.token, transport: tls });
  let answer: { status?: { token?: unknown } };
  try {
    answer = await client.json("POST", JOIN_PATH, {
      body: { apiVersion: "skiff.dev/v1", kind: "NodeJoin", spec: { nodeName: args.nodeName } },
      signal: AbortSignal.timeout(args.timeoutMs),
    });
  } catch (error) {
    if (error instanceof UnauthorizedError || error instanceof ForbiddenError) {
      const cause: StatusCause | undefined = (error as ApiError).details?.causes?.[0];
      const why = error.message.replace(/^(Unauthorized|Forbidden): /, "");
      throw new JoinError(
        REASONS[cause?.reason ?? ""] ?? "refused",
        `Cannot join the cluster at ${args.server}: ${why}`,
        {
          cause: error,
        },
      );
    }
    if (error instanceof NotFoundError) {
      throw new JoinError(
        "refused",
        `Cannot join the cluster at ${args.server}: the server does not serve ${JOIN_PATH}; is it a Skiff control plane of this version?`,
        { cause: error },
      );
    }
    if (error instanceof ServiceUnavailableError || error instanceof DOMException) {
      throw unreachable(args.server, error);
    }
    throw new JoinError("refused", `Cannot join the cluster at ${args.server}: ${message(error)}`, { cause: error });
  }
  const token = answer.status?.token;
  if (typeof token !== "string") {
    throw new JoinError("refused", `Cannot join the cluster at ${args.server}: its answer holds no node token`);
  }
  return token;
}

/**
 * Joins the cluster with a join token and returns the node's credentials,
 * already stored in the data directory (see the module documentation).
 *
 * @throws {TypeError} when the token, server or node name is not valid, naming which
 * @throws {JoinError} when the join fails: the CA does not match, the server is unreachable, the token is unknown,
 *   deleted, expired or has the wrong secret
 *
 * @example
 * ```ts
 * const credentials = await joinCluster({
 *   server: "https://192.168.1.10:6443",
 *   token: "K10…::abc123.…",
 *   dataDir: "/var/lib/skiff",
 *   defaultNodeName: "pi-3",
 * });
 * ```
 */
export async function joinCluster(options: JoinClusterOptions): Promise<NodeCredentials> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 15_000;
  const join = parseJoinToken(options.token);
  const { stored } = options;
  const server = (options.server ?? stored?.server)?.replace(/\/+$/, "");
  if (server === undefined) {
    throw new TypeError(
      `No server to join: pass --server https://HOST:6443 with the join token (the address \`skiff token create\` prints)`,
    );
  }
  const nodeName = checkNodeName(options.nodeName ?? stored?.nodeName ?? options.defaultNodeName);
  // Validates the URL (https) and the name before anything goes on the wire.
  checkCredentials({ server, token: join.token, nodeName });

  if (
    stored?.caPem !== undefined && stored.server.replace(/\/+$/, "") === server && stored.nodeName === nodeName &&
    await caHashOfPem(stored.caPem) === join.caHash
  ) {
    if (await storedTokenWorks(stored, timeoutMs)) {
      log(
        `Joined before as node "${nodeName}": keeping the node credential stored in ${
          credentialsPath(options.dataDir)
        }; the join token is not used`,
      );
      return stored;
    }
    log(`The stored node credential of "${nodeName}" was refused (the node was deleted?): joining again`);
  }

  let caPem: string;
  if (options.caPem !== undefined) {
    caPem = options.caPem;
    const found = await caHashOfPem(caPem);
    if (found !== join.caHash) {
      throw new JoinError(
        "ca-mismatch",
        `The CA given with --ca-cert does not match the join token: ${join.caHash} expected, ${found} found — pass the cluster's ca.crt, or leave --ca-cert out to fetch it from the server`,
      );
    }
  } else {
    caPem = await fetchServerCa(server, timeoutMs);
    const found = await caHashOfPem(caPem);
    if (found !== join.caHash) {
      throw new JoinError(
        "ca-mismatch",
        `The server's CA does not match the join token: ${join.caHash} expected, ${found} found — check the server URL, or the token is from another cluster`,
      );
    }
  }

  using tls = createTlsFetch({ caPem });
  const nodeToken = await exchange(tls, { server, token: join.token, nodeName, timeoutMs });
  const credentials = checkCredentials({ server, token: nodeToken, caPem, nodeName });
  await saveCredentials(options.dataDir, credentials);
  log(
    `Joined the cluster at ${server} as node "${nodeName}" with join token "${join.id}": its node credential is stored in ${
      credentialsPath(options.dataDir)
    }`,
  );
  return credentials;
}
