/**
 * What `skiff token create|list|delete` do, through the API with the admin
 * kubeconfig: a token is a Secret of type `skiff.dev/token` in kube-system
 * holding the SHA-256 of its secret, so a token's secret is printed once,
 * when it is created, and never again.
 *
 * A join token is printed as `K10<CA hash>::<id>.<secret>`: the hash of the
 * CA in the kubeconfig, which the joining agent checks the server's CA
 * against. Also here: the join token and command `skiff up` prints, kept in
 * `<data-dir>/join-token` so a second `up` prints the same one.
 *
 * @module
 */

import { dirname } from "node:path";
import type { Command } from "commander";
import { humanDuration, type KubeObject, NotFoundError } from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import {
  ANNOTATION_JOIN_LAST_NODE,
  ANNOTATION_JOIN_LAST_USED,
  ANNOTATION_JOIN_USAGES,
  newToken,
  TOKEN_NAMESPACE,
  type TokenRecord,
  tokenRecordOf,
} from "@skiff/control-plane";
import { caHashOfPem, formatJoinToken, isJoinToken, parseJoinToken } from "@skiff/node-agent";
import type { CliContext } from "./_context.ts";
import { errorLine, ExitError, isFatal, UsageError } from "./_errors.ts";
import { renderTable } from "./_table.ts";

/** Options of {@linkcode runTokenCreate}. */
export interface TokenCreateOptions {
  /** `--ttl` in ms; 0: never expires. */
  ttlMs: number;
  /** `--description`. */
  description?: string;
}

/** A join token just created. */
export interface CreatedJoinToken {
  /** `K10<CA hash>::<id>.<secret>`. */
  joinToken: string;
  /** The token's id. */
  id: string;
  /** When it expires (ms since the epoch); absent: never. */
  expiresAt?: number;
}

/** The ttl `skiff token create` and `skiff up` give a join token: 24 hours. */
export const DEFAULT_JOIN_TTL_MS = 24 * 3_600_000;

const TOKEN_ID = /^[a-z0-9]{6}$/;

/** `2026-01-02T00:00:00Z`: RFC 3339 to the second. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * This machine's address for other machines: the IPv4 address of the
 * default route's interface, else of any interface that is not loopback or
 * link-local; undefined when there is none.
 */
export function primaryAddress(): string | undefined {
  let defaultInterface: string | undefined;
  try {
    for (const line of Deno.readTextFileSync("/proc/net/route").split("\n").slice(1)) {
      const [name, destination, , , , , , mask] = line.trim().split(/\s+/);
      if (destination === "00000000" && mask === "00000000") {
        defaultInterface = name;
        break;
      }
    }
  } catch {
    // No /proc/net/route (not Linux): any interface will do.
  }
  const usable = Deno.networkInterfaces().filter((i) =>
    i.family === "IPv4" && !i.address.startsWith("127.") && !i.address.startsWith("169.254.")
  );
  return (usable.find((i) => i.name === defaultInterface) ?? usable[0])?.address;
}

/**
 * The server URL to give other machines: `server` itself, unless its host
 * is loopback or unspecified (`127.0.0.1`, `localhost`, `::1`, `0.0.0.0`),
 * which only this machine can use; then `address` (this machine's
 * {@linkcode primaryAddress}) in its place, when there is one.
 */
export function advertisedServer(server: string, address: string | undefined): string {
  const url = new URL(server);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const local = host === "localhost" || host.startsWith("127.") || host === "::1" || host === "0.0.0.0" ||
    host === "::";
  if (!local || address === undefined) return server.replace(/\/+$/, "");
  url.hostname = address.includes(":") ? `[${address}]` : address;
  return url.toString().replace(/\/+$/, "");
}

/** The command that joins a machine: `skiff agent --server URL --token K10…`. */
export function joinCommand(server: string, joinToken: string): string {
  return `skiff agent --server ${server} --token ${joinToken}`;
}

/**
 * Creates a join token through the API: a Secret holding only the hash of
 * its secret, and the whole token (with `caHash`) returned once.
 */
export async function createJoinToken(
  client: ApiClient,
  options: { caHash: string; ttlMs: number; now: number; description?: string },
): Promise<CreatedJoinToken> {
  if (!Number.isFinite(options.ttlMs) || options.ttlMs < 0) {
    throw new RangeError(`Invalid ttl ${options.ttlMs}: must be a duration of at least 0 (0: never expires)`);
  }
  const expiresAt = options.ttlMs > 0 ? options.now + options.ttlMs : undefined;
  const { token, id, secret } = await newToken({
    role: "join",
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    ...(options.description ? { description: options.description } : {}),
  });
  await client.kind("v1", "Secret").create(secret as KubeObject);
  return { joinToken: formatJoinToken(options.caHash, token), id, ...(expiresAt !== undefined ? { expiresAt } : {}) };
}

/** Options of {@linkcode ensureJoinToken}. */
export interface EnsureJoinTokenOptions {
  /** An admin client of the cluster. */
  client: ApiClient;
  /** The cluster CA's hash, `sha256:<hex>`. */
  caHash: string;
  /** Where the token is kept between runs (mode 0600). */
  file: string;
  /** The record of a valid token, or undefined (the control plane's token check). */
  verify: (token: string) => Promise<Pick<TokenRecord, "role" | "expiresAt"> | undefined>;
  /** The time now. */
  now: number;
}

/** A join token kept for `skiff up`. */
export interface KeptJoinToken extends CreatedJoinToken {
  /** True when it was created now, false when the kept one was still good. */
  created: boolean;
}

/** A kept join token is reused while it stays valid at least this long. */
const REUSE_MIN_REMAINING_MS = 3_600_000;

/**
 * The join token `skiff up` prints: the one kept in `file` while it is a
 * valid join token of this CA for at least another hour; else a new one
 * (valid 24 hours), written to `file`.
 */
export async function ensureJoinToken(options: EnsureJoinTokenOptions): Promise<KeptJoinToken> {
  let kept: string | undefined;
  try {
    kept = (await Deno.readTextFile(options.file)).trim();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (kept && isJoinToken(kept)) {
    try {
      const parsed = parseJoinToken(kept);
      const record = parsed.caHash === options.caHash ? await options.verify(parsed.token) : undefined;
      if (
        record?.role === "join" &&
        (record.expiresAt === undefined || record.expiresAt - options.now >= REUSE_MIN_REMAINING_MS)
      ) {
        return {
          joinToken: kept,
          id: parsed.id,
          ...(record.expiresAt !== undefined ? { expiresAt: record.expiresAt } : {}),
          created: false,
        };
      }
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
    }
  }
  const created = await createJoinToken(options.client, {
    caHash: options.caHash,
    ttlMs: DEFAULT_JOIN_TTL_MS,
    now: options.now,
    description: "printed by skiff up",
  });
  await Deno.mkdir(dirname(options.file), { recursive: true, mode: 0o700 });
  const temp = `${options.file}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(temp, `${created.joinToken}\n`, { createNew: true, mode: 0o600 });
    await Deno.rename(temp, options.file);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  return { ...created, created: true };
}

/** Runs `skiff token create`. */
export async function runTokenCreate(ctx: CliContext, command: Command, options: TokenCreateOptions): Promise<void> {
  const conn = await ctx.connect(command);
  if (conn.config.caPem === undefined) {
    throw new Error(
      `The kubeconfig${
        conn.config.files.length ? ` ${conn.config.files.map((f) => `"${f}"`).join(", ")}` : ""
      } holds no CA certificate, and a join token carries the CA's hash: use the admin kubeconfig that \`skiff up\` writes (<data-dir>/admin.kubeconfig)`,
    );
  }
  const caHash = await caHashOfPem(conn.config.caPem);
  const now = ctx.io.now();
  const created = await createJoinToken(conn.client, {
    caHash,
    ttlMs: options.ttlMs,
    now,
    ...(options.description !== undefined ? { description: options.description } : {}),
  });
  const server = advertisedServer(conn.config.server, primaryAddress());
  const validity = created.expiresAt === undefined
    ? "never expires"
    : `is valid for ${humanDuration(created.expiresAt - now)}, until ${rfc3339(created.expiresAt)}`;
  ctx.print(
    `${created.joinToken}\n\n` +
      `This join token ${validity}, for any number of machines; \`skiff token delete ${created.id}\` revokes it.\n` +
      `To join a machine, run as root on it:\n\n  ${joinCommand(server, created.joinToken)}\n`,
  );
}

/** What `skiff token list` shows of one token. */
function tokenRow(record: TokenRecord, secret: KubeObject, now: number): string[] {
  const ttl = record.expiresAt === undefined
    ? "<forever>"
    : record.expiresAt <= now
    ? "<expired>"
    : humanDuration(record.expiresAt - now);
  const annotations = secret.metadata.annotations ?? {};
  let usages = "<none>";
  if (record.role === "join") {
    const count = Number(annotations[ANNOTATION_JOIN_USAGES]) || 0;
    const last = Date.parse(annotations[ANNOTATION_JOIN_LAST_USED] ?? "");
    const lastNode = annotations[ANNOTATION_JOIN_LAST_NODE];
    usages = count > 0 && !Number.isNaN(last)
      ? `${count} (last: ${lastNode ?? "?"}, ${humanDuration(now - last)} ago)`
      : String(count);
  }
  return [
    record.id,
    record.role,
    record.nodeName ?? "<none>",
    ttl,
    record.expiresAt === undefined ? "<never>" : rfc3339(record.expiresAt),
    usages,
    record.description ?? "<none>",
  ];
}

/** Runs `skiff token list`. */
export async function runTokenList(ctx: CliContext, command: Command): Promise<void> {
  const conn = await ctx.connect(command);
  const secrets = await conn.client.kind("v1", "Secret").listAll({ namespace: TOKEN_NAMESPACE });
  const now = ctx.io.now();
  const tokens = secrets.items
    .map((secret) => ({ secret, record: tokenRecordOf(secret) }))
    .filter((t): t is { secret: KubeObject; record: TokenRecord } => t.record !== undefined)
    .sort((a, b) =>
      (a.secret.metadata.creationTimestamp ?? "").localeCompare(b.secret.metadata.creationTimestamp ?? "") ||
      a.record.id.localeCompare(b.record.id)
    );
  if (tokens.length === 0) {
    ctx.io.stderr.write("No tokens found: create a join token with `skiff token create`\n");
    return;
  }
  ctx.print(renderTable([
    ["ID", "ROLE", "NODE", "TTL", "EXPIRES", "USAGES", "DESCRIPTION"],
    ...tokens.map(({ record, secret }) => tokenRow(record, secret, now)),
  ]));
}

/** The id in `arg`: an id, `<id>.<secret>`, or a whole join token. */
function tokenIdOf(arg: string): string {
  const id = isJoinToken(arg) ? parseJoinToken(arg).id : arg.split(".")[0]!;
  if (!TOKEN_ID.test(id)) {
    throw new UsageError(
      `Invalid token id "${arg.slice(0, 80)}": an id is 6 lower-case letters and digits, as \`skiff token list\` shows`,
    );
  }
  return id;
}

/** Runs `skiff token delete`. */
export async function runTokenDelete(ctx: CliContext, command: Command, args: string[]): Promise<void> {
  let ids: string[];
  try {
    ids = args.map(tokenIdOf);
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }
  const conn = await ctx.connect(command);
  const own = conn.config.token?.split(".")[0];
  const secrets = conn.client.kind("v1", "Secret");
  let failures = 0;
  for (const id of ids) {
    try {
      if (id === own) {
        throw new Error(
          `token "${id}" is the one this kubeconfig uses: deleting it would lock you out; use another admin kubeconfig to delete it`,
        );
      }
      const name = `skiff-token-${id}`;
      let secret: KubeObject;
      try {
        secret = await secrets.get(name, { namespace: TOKEN_NAMESPACE });
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        throw new Error(`token "${id}" not found: it was deleted already, or never existed; see \`skiff token list\``);
      }
      const record = tokenRecordOf(secret);
      if (!record) throw new Error(`secret "${TOKEN_NAMESPACE}/${name}" is not a token; it was left alone`);
      await secrets.delete(name, { namespace: TOKEN_NAMESPACE, preconditions: { uid: secret.metadata.uid! } });
      ctx.print(`${record.role} token "${id}" deleted\n`);
    } catch (error) {
      if (isFatal(error)) throw error;
      ctx.error(errorLine(error, ctx.hint));
      failures++;
    }
  }
  if (failures > 0) throw new ExitError(1);
}
