/**
 * Join tokens: `K10<ca-hash>::<id>.<secret>`, as k3s writes them. The part
 * after `K10` is the hex SHA-256 of the cluster CA certificate (DER), so a
 * joining node can check the CA a server hands it before it trusts that
 * server or sends it anything; the part after `::` is a bearer token of
 * role `join`, which the server exchanges for a node token.
 *
 * @module
 */

/** What every join token starts with. */
export const JOIN_TOKEN_PREFIX = "K10";

/** A join token, taken apart. */
export interface JoinToken {
  /** The CA's hash, `sha256:<64 hex>`. */
  caHash: string;
  /** The bearer token sent to the join exchange, `<id>.<secret>`. */
  token: string;
  /** The token's public id (the part before the dot). */
  id: string;
}

const JOIN_TOKEN = /^K10([0-9a-f]{64})::([a-z0-9]{6})\.([a-z0-9]{16,64})$/;
const HASH = /^(?:sha256:)?([0-9a-f]{64})$/;

/**
 * Whether `text` is meant as a join token rather than a plain bearer token:
 * it starts with `K10`, which no bearer token does (their ids are lower
 * case), so a join token cut short is still taken for one and
 * {@linkcode parseJoinToken} says what is wrong with it.
 */
export function isJoinToken(text: string): boolean {
  return text.trim().startsWith(JOIN_TOKEN_PREFIX);
}

/**
 * Takes a join token apart.
 *
 * @throws {TypeError} when it is not `K10<64 hex>::<id>.<secret>`
 *
 * @example
 * ```ts
 * const { caHash, token } = parseJoinToken(Deno.args[0]!);
 * ```
 */
export function parseJoinToken(text: string): JoinToken {
  const match = JOIN_TOKEN.exec(text.trim());
  if (!match) {
    throw new TypeError(
      "Invalid join token: expected K10<64 hex digits of the CA hash>::<id>.<secret>, as `skiff token create` prints it; copy it whole",
    );
  }
  return { caHash: `sha256:${match[1]}`, token: `${match[2]}.${match[3]}`, id: match[2]! };
}

/**
 * Writes a join token from the CA's hash (`sha256:<hex>` or bare hex) and a
 * bearer token of role `join`.
 *
 * @throws {TypeError} when the hash is not 64 hex digits or the token not `<id>.<secret>`
 */
export function formatJoinToken(caHash: string, token: string): string {
  const hash = HASH.exec(caHash)?.[1];
  if (!hash) throw new TypeError(`Invalid CA hash "${caHash}": expected sha256:<64 hex digits>`);
  const joined = `${JOIN_TOKEN_PREFIX}${hash}::${token}`;
  parseJoinToken(joined);
  return joined;
}

/**
 * `sha256:<hex>` of the DER encoding of the first certificate in `pem`:
 * the hash a join token carries.
 *
 * @throws {TypeError} when `pem` holds no PEM certificate
 */
export async function caHashOfPem(pem: string): Promise<string> {
  const match = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  let der: Uint8Array<ArrayBuffer> | undefined;
  try {
    der = match ? Uint8Array.from(atob(match[1]!.replace(/\s+/g, "")), (c) => c.charCodeAt(0)) : undefined;
  } catch {
    der = undefined;
  }
  if (!der || der.length === 0) {
    throw new TypeError("Cannot hash the CA: it holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return `sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
