/**
 * Authentication with bearer tokens and authorization by role.
 *
 * A token is `<id>.<secret>`. Each is a Secret of type `skiff.dev/token` in
 * kube-system holding the id, the SHA-256 of the secret, the role, an
 * optional node name and expiry: the plain secret is never stored, and a
 * presented secret is compared in constant time. Roles: `admin` (everything),
 * `viewer` (reads, but not Secrets or exec), `node` (what a node agent needs,
 * narrowed further by the NodeRestriction admission plugin), `join` (only
 * the join exchange).
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { ForbiddenError, type KubeObject, LB_LEASE_PREFIX, UnauthorizedError } from "@skiff/api";
import type { Store } from "../store/mod.ts";
import type { Authorizer, RequestAttributes } from "./handler.ts";
import type { User } from "./object_store.ts";

/** The Secret type that holds tokens. */
export const TOKEN_SECRET_TYPE = "skiff.dev/token";
/** Where token Secrets live. */
export const TOKEN_NAMESPACE = "kube-system";
/** The key prefix of token Secrets in the store. */
const TOKEN_PREFIX = `/registry/core/secrets/${TOKEN_NAMESPACE}/skiff-token-`;

/** Roles a token can carry. */
export type TokenRole = "admin" | "viewer" | "node" | "join";

/** What a token Secret says. */
export interface TokenRecord {
  /** The public id (6 lowercase letters and digits). */
  id: string;
  /** The role. */
  role: TokenRole;
  /** For node tokens: the node's name. */
  nodeName?: string;
  /** Expiry (ms since epoch), if any. */
  expiresAt?: number;
  /** What the token is for. */
  description?: string;
  /** SHA-256 of the secret part. */
  secretHash: Uint8Array;
}

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

function randomString(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join("");
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

const b64 = (text: string) => btoa(text);
const unb64 = (text: unknown) => {
  try {
    return typeof text === "string" ? atob(text) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * A new token and the Secret that stores it.
 *
 * @example
 * ```ts
 * const { token, secret } = await newToken({ role: "admin", description: "admin" });
 * ```
 */
export async function newToken(options: {
  role: TokenRole;
  nodeName?: string;
  expiresAt?: number;
  description?: string;
}): Promise<{ token: string; id: string; secret: KubeObject }> {
  const id = randomString(6);
  const secretPart = randomString(32);
  const hash = await sha256(secretPart);
  const data: Record<string, string> = {
    "token-id": b64(id),
    "secret-sha256": btoa(String.fromCharCode(...hash)),
    role: b64(options.role),
  };
  if (options.nodeName) data["node-name"] = b64(options.nodeName);
  if (options.expiresAt !== undefined) data.expiration = b64(new Date(options.expiresAt).toISOString());
  if (options.description) data.description = b64(options.description);
  return {
    token: `${id}.${secretPart}`,
    id,
    secret: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: `skiff-token-${id}`,
        namespace: TOKEN_NAMESPACE,
        labels: { "skiff.dev/token-role": options.role },
      },
      type: TOKEN_SECRET_TYPE,
      data,
    },
  };
}

/** Reads a token Secret; undefined if it is not a well-formed one. */
export function tokenRecordOf(secret: KubeObject): TokenRecord | undefined {
  if (secret.type !== TOKEN_SECRET_TYPE) return undefined;
  const data = (secret.data ?? {}) as Record<string, unknown>;
  const id = unb64(data["token-id"]);
  const role = unb64(data.role) as TokenRole | undefined;
  const hash = unb64(data["secret-sha256"]);
  if (!id || !role || !hash || !["admin", "viewer", "node", "join"].includes(role)) return undefined;
  const record: TokenRecord = { id, role, secretHash: Uint8Array.from(hash, (c) => c.charCodeAt(0)) };
  const nodeName = unb64(data["node-name"]);
  if (nodeName) record.nodeName = nodeName;
  const expiration = unb64(data.expiration);
  if (expiration) record.expiresAt = Date.parse(expiration);
  const description = unb64(data.description);
  if (description) record.description = description;
  return record;
}

/** What {@linkcode TokenAuthenticator.check} found. */
export type TokenCheck =
  | { ok: true; record: TokenRecord }
  | { ok: false; problem: "malformed" | "unknown" | "wrong-secret" }
  | { ok: false; problem: "expired"; record: TokenRecord };

/**
 * The bearer-token authenticator: keeps every token Secret in memory,
 * following the store's watch, and checks presented tokens against them.
 */
export class TokenAuthenticator {
  #tokens = new Map<string, TokenRecord>();
  /** Tokens already checked, so requests skip hashing; emptied whenever any token Secret changes. */
  #verified = new Map<string, TokenRecord>();
  #store: Store;
  #now: () => number;
  #abort = new AbortController();

  /** Loads the tokens and follows changes until {@linkcode TokenAuthenticator.close}. */
  static async start(store: Store, now: () => number = Date.now): Promise<TokenAuthenticator> {
    const auth = new TokenAuthenticator(store, now);
    await auth.#load();
    return auth;
  }

  private constructor(store: Store, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  async #load(): Promise<void> {
    const page = await this.#store.list(TOKEN_PREFIX);
    for (const kv of page.items) this.#apply(kv.key, kv.value);
    const watcher = this.#store.watch(TOKEN_PREFIX, { afterRevision: page.revision, signal: this.#abort.signal });
    (async () => {
      for await (const batch of watcher) {
        for (const ev of batch) {
          this.#verified.clear();
          if (ev.type === "delete") this.#tokens.delete(ev.kv.key);
          else this.#apply(ev.kv.key, ev.kv.value);
        }
      }
      if (!this.#abort.signal.aborted) await this.#load();
    })().catch((err) => console.error(`Token watch failed: ${err instanceof Error ? err.message : err}`));
  }

  #apply(key: string, value: string): void {
    const record = tokenRecordOf(JSON.parse(value));
    if (record) this.#tokens.set(key, record);
    else this.#tokens.delete(key);
  }

  /** Stops following the store. */
  close(): void {
    this.#abort.abort();
  }

  /** The record of a valid token, or undefined. */
  async verify(token: string): Promise<TokenRecord | undefined> {
    const cached = this.#verified.get(token);
    if (cached && (cached.expiresAt === undefined || cached.expiresAt > this.#now())) return cached;
    const record = await this.#verify(token);
    if (record) {
      if (this.#verified.size >= 4096) this.#verified.clear();
      this.#verified.set(token, record);
    }
    return record;
  }

  async #verify(token: string): Promise<TokenRecord | undefined> {
    const checked = await this.check(token);
    return checked.ok ? checked.record : undefined;
  }

  /**
   * Checks a token and says why it fails: `malformed` (not `<id>.<secret>`),
   * `unknown` (no token has this id: never created, or deleted),
   * `wrong-secret`, or `expired` (the record is given, for its expiry). The
   * secret is compared in constant time, and an expired token is reported
   * only when its secret is right.
   */
  async check(token: string): Promise<TokenCheck> {
    const dot = token.indexOf(".");
    if (dot <= 0) return { ok: false, problem: "malformed" };
    const id = token.slice(0, dot);
    let record = this.#tokens.get(`${TOKEN_PREFIX}${id}`);
    if (!record && /^[a-z0-9]{6}$/.test(id)) record = await this.#read(`${TOKEN_PREFIX}${id}`);
    const presented = await sha256(token.slice(dot + 1));
    const expected = record?.secretHash ?? new Uint8Array(32);
    const same = expected.length === presented.length && timingSafeEqual(expected, presented);
    if (!record) return { ok: false, problem: "unknown" };
    if (!same) return { ok: false, problem: "wrong-secret" };
    if (record.expiresAt !== undefined && record.expiresAt <= this.#now()) {
      return { ok: false, problem: "expired", record };
    }
    return { ok: true, record };
  }

  /**
   * Reads a token Secret the watch has not delivered yet, so that a token is
   * valid as soon as its Secret is written (read-your-writes).
   */
  async #read(key: string): Promise<TokenRecord | undefined> {
    const kv = await this.#store.get(key);
    if (!kv) return undefined;
    const record = tokenRecordOf(JSON.parse(kv.value));
    if (record) this.#tokens.set(key, record);
    return record;
  }

  /** Authenticates a request by its `Authorization: Bearer` header. */
  async authenticate(req: Request): Promise<User> {
    const header = req.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new UnauthorizedError("Unauthorized: send a bearer token (the token in your kubeconfig)");
    }
    const record = await this.verify(match[1]!);
    if (!record) {
      throw new UnauthorizedError("Unauthorized: the token is wrong, expired or deleted");
    }
    return userOf(record);
  }
}

/** The user a token record stands for. */
export function userOf(record: TokenRecord): User {
  switch (record.role) {
    case "node":
      return { name: `node:${record.nodeName}`, role: "node", nodeName: record.nodeName ?? "" };
    case "join":
      return { name: `join:${record.id}`, role: "join" as User["role"] };
    default:
      return { name: `${record.role}:${record.id}`, role: record.role };
  }
}

const READ = new Set(["get", "list", "watch"]);
const NODE_READABLE = new Set([
  "nodes",
  "pods",
  "services",
  "endpoints",
  "endpointslices",
  "configmaps",
  "persistentvolumes",
  "persistentvolumeclaims",
  "storageclasses",
  "namespaces",
  "leases",
  "csinodes",
]);

/** Whether the request creates a review every user may ask about themselves (`kubectl auth can-i`), as in Kubernetes. */
function isSelfReview(a: RequestAttributes): boolean {
  return a.group === "authorization.k8s.io" && a.verb === "create" &&
    (a.resource === "selfsubjectaccessreviews" || a.resource === "selfsubjectrulesreviews");
}

/** Role-based authorization, Kubernetes' default roles reduced to Skiff's three. */
export const authorize: Authorizer = (user: User, a: RequestAttributes) => {
  const deny = (why: string): never => {
    const what = `${a.resource}${a.subresource ? `/${a.subresource}` : ""}`;
    throw new ForbiddenError(
      `${what}${a.name ? ` "${a.name}"` : ""} is forbidden: User "${user.name}" cannot ${a.verb} resource "${what}"` +
        `${a.group ? ` in API group "${a.group}"` : ""}${
          a.namespace ? ` in the namespace "${a.namespace}"` : ""
        }: ${why}`,
    );
  };
  switch (user.role) {
    case "admin":
      return;
    case "viewer":
      if (isSelfReview(a)) return;
      if (!READ.has(a.verb)) deny("viewers may only read");
      if (a.resource === "secrets") deny("viewers may not read secrets");
      if (a.subresource === "exec") deny("viewers may not exec into pods");
      return;
    case "node":
      if (isSelfReview(a)) return;
      return authorizeNode(user, a, deny);
    default:
      deny("this token may only join a node; use the node credential it was exchanged for");
  }
};

function authorizeNode(user: User, a: RequestAttributes, deny: (why: string) => never): void {
  const own = a.name === user.nodeName;
  if (a.resource === "secrets") {
    if (a.verb === "get" && a.name) return;
    deny("nodes may only get secrets by name");
  }
  if (READ.has(a.verb) && (NODE_READABLE.has(a.resource) || a.resource === "events")) return;
  if (a.group === "metrics.k8s.io" && a.verb === "update" && (a.resource === "pods" || own)) return;
  switch (a.resource) {
    case "nodes":
      if (a.verb === "create") return;
      if ((a.verb === "update" || a.verb === "patch") && own) return;
      return deny(`a node may change only its own Node "${user.nodeName}"`);
    case "leases":
      if (
        a.namespace === "kube-node-lease" &&
        (a.verb === "create" || ((a.verb === "update" || a.verb === "patch") && own))
      ) return;
      // LoadBalancer address leases: the node holding one answers for that address.
      if (a.namespace === "kube-system" && ["create", "update", "patch"].includes(a.verb)) {
        if (a.verb === "create" || a.name?.startsWith(LB_LEASE_PREFIX)) return;
      }
      return deny(
        `a node may change only its own Lease "kube-node-lease/${user.nodeName}" and LoadBalancer address leases "kube-system/${LB_LEASE_PREFIX}*"`,
      );
    case "pods":
      if (a.subresource === "status" && (a.verb === "update" || a.verb === "patch")) return;
      if (a.verb === "delete" && !a.subresource) return;
      return deny("a node may only update the status of, and delete, pods bound to it");
    case "events":
      if (a.verb === "create" || a.verb === "update" || a.verb === "patch") return;
      return deny("a node may only record events");
    case "persistentvolumes":
      if (["create", "update", "patch", "delete"].includes(a.verb)) return;
      return deny("a node may only create, change and delete persistent volumes pinned to it");
    case "persistentvolumeclaims":
      if (a.verb === "update" || a.verb === "patch") return;
      return deny("a node may only change the annotations and status of claims selected for it");
  }
  deny("nodes may not do this");
}
