/**
 * Joining nodes with a join token, served beside the Kubernetes API paths
 * (as k3s serves `/cacerts` and `/v1-k3s/…` beside its API):
 *
 * - `GET /cacerts`, without authentication: the cluster CA, PEM. A joining
 *   agent fetches it before it trusts the server, checks its SHA-256
 *   against the hash its join token carries (`K10<hash>::<id>.<secret>`),
 *   and from then on trusts exactly that CA.
 * - `POST /v1-skiff/join` with `Authorization: Bearer <id>.<secret>` (a
 *   token of role `join`) and the body
 *   `{"apiVersion": "skiff.dev/v1", "kind": "NodeJoin", "spec": {"nodeName": "pi-3"}}`:
 *   creates a node token bound to that name, deletes every older node token
 *   of the same name (so a machine reinstalled under the same name rejoins
 *   without anyone deleting secrets by hand, and its old credential stops
 *   working), records the use on the join token, and answers 201 with the
 *   same object plus `status: {token, tokenId, replacedTokens}`.
 *
 * A join token stays usable, by any number of nodes, until it expires or is
 * deleted; each use is counted in its Secret's annotations
 * ({@linkcode ANNOTATION_JOIN_USAGES}, {@linkcode ANNOTATION_JOIN_LAST_USED},
 * {@linkcode ANNOTATION_JOIN_LAST_NODE}). Whoever holds one can claim any
 * node name: hand it out as you would the admin kubeconfig, with a short
 * TTL. A refused join answers 401 whose message says which problem it is
 * (unknown or deleted token, wrong secret, expired, and when), and whose
 * `details.causes[0].reason` is {@linkcode JoinRefusal} for programs.
 *
 * @module
 */

import {
  BadRequestError,
  type Clock,
  dns1123SubdomainErrors,
  ForbiddenError,
  type KubeObject,
  MethodNotAllowedError,
  NotFoundError,
  systemClock,
  UnauthorizedError,
} from "@skiff/api";
import { bodyFormat, decodeObject, mediaType, readBody } from "./_body.ts";
import { newToken, TOKEN_NAMESPACE, type TokenAuthenticator, tokenRecordOf } from "./auth.ts";
import { type ApiHandler, errorResponse } from "./handler.ts";
import type { User } from "./object_store.ts";
import type { ServedType } from "./served_type.ts";

/** Where the cluster CA is served, without authentication. */
export const CA_CERTS_PATH = "/cacerts";
/** Where a join token is exchanged for a node token. */
export const JOIN_PATH = "/v1-skiff/join";
/** The apiVersion of the join request and answer. */
export const NODE_JOIN_API_VERSION = "skiff.dev/v1";
/** The kind of the join request and answer. */
export const NODE_JOIN_KIND = "NodeJoin";

/** Join token annotation: how many nodes joined with it. */
export const ANNOTATION_JOIN_USAGES = "skiff.dev/join-usages";
/** Join token annotation: when it was last used (RFC 3339). */
export const ANNOTATION_JOIN_LAST_USED = "skiff.dev/join-last-used";
/** Join token annotation: the node that last joined with it. */
export const ANNOTATION_JOIN_LAST_NODE = "skiff.dev/join-last-node";
/** Node token annotation: the id of the join token it was exchanged for. */
export const ANNOTATION_JOINED_WITH = "skiff.dev/joined-with";

/** Why a join was refused, in `details.causes[0].reason` of the 401 or 403. */
export type JoinRefusal = "TokenMalformed" | "TokenNotFound" | "TokenSecretMismatch" | "TokenExpired" | "NotAJoinToken";

/** Who the exchange writes as. */
const JOIN_USER: User = { name: "system:node-join", role: "admin" };

/** A join request is a few hundred bytes. */
const MAX_REQUEST_BYTES = 16 * 1024;

/** Options of {@linkcode withJoinEndpoints}. */
export interface JoinEndpointsOptions {
  /** The cluster CA, PEM, served at {@linkcode CA_CERTS_PATH}. */
  caPem: string;
  /** The token authenticator that checks join tokens. */
  tokens: TokenAuthenticator;
  /** The served Secret type (tokens are Secrets). */
  secretType: ServedType;
  /** Time source (usage timestamps). */
  clock?: Clock;
}

function refused(
  error: typeof UnauthorizedError | typeof ForbiddenError,
  reason: JoinRefusal,
  message: string,
  name?: string,
): Error {
  return new error(message, {
    details: { ...(name ? { name } : {}), kind: "jointokens", causes: [{ reason, message }] },
  });
}

/**
 * Wraps the API handler so it also serves {@linkcode CA_CERTS_PATH} and
 * {@linkcode JOIN_PATH}; every other request goes to `handler` unchanged.
 * The result is an {@linkcode ApiHandler} with the same objects, `as` and
 * `closeWatches`.
 */
export function withJoinEndpoints(handler: ApiHandler, options: JoinEndpointsOptions): ApiHandler {
  const clock = options.clock ?? systemClock;
  const { objects } = handler;
  const secrets = options.secretType;
  /** One exchange per node name at a time, so two joins of one name cannot delete each other's token. */
  const busy = new Map<string, Promise<unknown>>();

  const serveCa = (req: Request): Response => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new MethodNotAllowedError(`${CA_CERTS_PATH} takes GET, not ${req.method}`);
    }
    return new Response(req.method === "HEAD" ? null : options.caPem, {
      status: 200,
      headers: { "content-type": "application/x-pem-file", "cache-control": "no-store" },
    });
  };

  const authenticate = async (req: Request): Promise<string> => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "");
    if (!match) {
      throw refused(
        UnauthorizedError,
        "TokenMalformed",
        "Unauthorized: send the join token's <id>.<secret> as a bearer token",
      );
    }
    const token = match[1]!;
    const id = token.slice(0, Math.max(0, token.indexOf(".")));
    const checked = await options.tokens.check(token);
    const create = "create a new one on the control plane with `skiff token create`";
    if (!checked.ok) {
      switch (checked.problem) {
        case "malformed":
          throw refused(
            UnauthorizedError,
            "TokenMalformed",
            "Unauthorized: the join token is malformed: expected K10<CA hash>::<id>.<secret>",
          );
        case "unknown":
          throw refused(
            UnauthorizedError,
            "TokenNotFound",
            `Unauthorized: the join token "${id}" does not exist on this cluster: it was deleted, or was never created here; ${create}`,
            id,
          );
        case "wrong-secret":
          throw refused(
            UnauthorizedError,
            "TokenSecretMismatch",
            `Unauthorized: the secret of join token "${id}" is wrong: copy the whole token again, or ${create}`,
            id,
          );
        case "expired":
          throw refused(
            UnauthorizedError,
            "TokenExpired",
            `Unauthorized: the join token "${id}" expired at ${
              new Date(checked.record.expiresAt!).toISOString()
            }; ${create}`,
            id,
          );
      }
    }
    if (checked.record.role !== "join") {
      throw refused(
        ForbiddenError,
        "NotAJoinToken",
        `Forbidden: token "${id}" has the role "${checked.record.role}", not "join": pass a ${checked.record.role} token as a plain bearer token with --ca-cert, or ${create}`,
        id,
      );
    }
    return id;
  };

  const exchange = async (joinId: string, nodeName: string): Promise<KubeObject> => {
    const { token, id, secret } = await newToken({
      role: "node",
      nodeName,
      description: `node credential of "${nodeName}", from join token ${joinId}`,
    });
    secret.metadata.annotations = { [ANNOTATION_JOINED_WITH]: joinId };
    await objects.create(secrets, TOKEN_NAMESPACE, secret, { user: JOIN_USER });
    const previous = await objects.list(secrets, TOKEN_NAMESPACE, {
      filter: (obj) => {
        const record = tokenRecordOf(obj);
        return record?.role === "node" && record.nodeName === nodeName && record.id !== id;
      },
    });
    for (const old of previous.items) {
      await objects.delete(secrets, TOKEN_NAMESPACE, old.metadata.name!, { user: JOIN_USER }).catch((error) => {
        if (!(error instanceof NotFoundError)) throw error;
      });
    }
    await objects.guaranteedUpdate(secrets, TOKEN_NAMESPACE, `skiff-token-${joinId}`, (current) => {
      const annotations = current.metadata.annotations ??= {};
      annotations[ANNOTATION_JOIN_USAGES] = String((Number(annotations[ANNOTATION_JOIN_USAGES]) || 0) + 1);
      annotations[ANNOTATION_JOIN_LAST_USED] = new Date(clock.now()).toISOString();
      annotations[ANNOTATION_JOIN_LAST_NODE] = nodeName;
      return current;
    }, { user: JOIN_USER }).catch((error) => {
      // Deleted meanwhile: the node token stands, only the count is lost.
      if (!(error instanceof NotFoundError)) throw error;
    });
    return {
      apiVersion: NODE_JOIN_API_VERSION,
      kind: NODE_JOIN_KIND,
      metadata: {},
      spec: { nodeName },
      status: { token, tokenId: id, replacedTokens: previous.items.length },
    };
  };

  const join = async (req: Request): Promise<Response> => {
    if (req.method !== "POST") {
      throw new MethodNotAllowedError(`${JOIN_PATH} takes POST with a ${NODE_JOIN_KIND}, not ${req.method}`);
    }
    const joinId = await authenticate(req);
    const format = bodyFormat(mediaType(req.headers.get("content-type")), ["application/json"]);
    const body = decodeObject(await readBody(req, MAX_REQUEST_BYTES), format);
    if (body.kind !== NODE_JOIN_KIND) {
      throw new BadRequestError(`Invalid body: kind is ${JSON.stringify(body.kind)}, expected "${NODE_JOIN_KIND}"`);
    }
    const nodeName = (body.spec as { nodeName?: unknown } | undefined)?.nodeName;
    if (typeof nodeName !== "string" || nodeName === "") {
      throw new BadRequestError("Invalid body: spec.nodeName is required: the name of the joining node");
    }
    const problems = dns1123SubdomainErrors(nodeName);
    if (problems.length > 0) {
      throw new BadRequestError(`Invalid spec.nodeName "${nodeName.slice(0, 300)}": ${problems.join("; ")}`);
    }
    const before = busy.get(nodeName) ?? Promise.resolve();
    const run = before.catch(() => {}).then(() => exchange(joinId, nodeName));
    busy.set(nodeName, run);
    try {
      const answer = await run;
      return new Response(JSON.stringify(answer), {
        status: 201,
        headers: { "content-type": "application/json", "cache-control": "no-store" },
      });
    } finally {
      if (busy.get(nodeName) === run) busy.delete(nodeName);
    }
  };

  const wrapped = (async (req: Request): Promise<Response> => {
    const path = URL.parse(req.url)?.pathname;
    if (path !== CA_CERTS_PATH && path !== JOIN_PATH) return await handler(req);
    try {
      return path === CA_CERTS_PATH ? serveCa(req) : await join(req);
    } catch (error) {
      return errorResponse(error);
    }
  }) as ApiHandler;
  wrapped.objects = handler.objects;
  wrapped.as = handler.as;
  wrapped.closeWatches = handler.closeWatches;
  return wrapped;
}
