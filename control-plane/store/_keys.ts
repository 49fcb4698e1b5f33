/**
 * Key ranges and continue tokens shared by store backends.
 *
 * @module
 */

import { BadRequestError } from "@skiff/api";

/**
 * The exclusive upper bound of the keys that start with `prefix`, or
 * undefined when there is none (the empty prefix matches every key).
 */
export function prefixEnd(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const code = prefix.charCodeAt(i);
    if (code < 0xffff) {
      return prefix.slice(0, i) + String.fromCharCode(code + 1);
    }
  }
  return undefined;
}

/** What a continue token carries: the list's revision and the last key sent. */
export interface ContinueState {
  /** The revision the whole list is read at. */
  revision: number;
  /** The last key of the previous page; the next page starts after it. */
  lastKey: string;
  /** The prefix the list was started with. */
  prefix: string;
}

/** Encodes a continue token (opaque to clients). */
export function encodeContinue(state: ContinueState): string {
  const json = JSON.stringify({
    v: 1,
    r: state.revision,
    k: state.lastKey,
    p: state.prefix,
  });
  const bytes = new TextEncoder().encode(json);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

/**
 * Decodes a continue token made by {@linkcode encodeContinue} for a list of
 * `prefix`; a malformed token or one from another list fails with
 * `BadRequestError`.
 */
export function decodeContinue(token: string, prefix: string): ContinueState {
  let parsed: unknown;
  try {
    const binary = atob(token.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    parsed = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes),
    );
  } catch (cause) {
    throw new BadRequestError(
      `Invalid continue token: "${truncate(token)}" is not a token this server issued`,
      {
        cause,
      },
    );
  }
  const p = parsed as Record<string, unknown> | null;
  if (
    p === null || typeof p !== "object" || p.v !== 1 ||
    !Number.isSafeInteger(p.r) ||
    (p.r as number) < 0 || typeof p.k !== "string" || typeof p.p !== "string"
  ) {
    throw new BadRequestError(
      `Invalid continue token: "${truncate(token)}" is not a token this server issued`,
    );
  }
  if (p.p !== prefix) {
    throw new BadRequestError(
      "Invalid continue token: it belongs to a different list",
    );
  }
  return { revision: p.r as number, lastKey: p.k, prefix: p.p };
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
