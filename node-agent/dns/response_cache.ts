/**
 * A bounded cache of forwarded answers that honours their TTLs: an entry
 * lives as long as the smallest TTL in it (capped), every hit is served
 * with its TTLs lowered by the time spent in the cache, and the least
 * recently used entry makes room for a new one.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { type Clock, systemClock } from "@skiff/api";
import { ageTtls, minimumTtl, questionBytes, RCODE, readHeader, setId } from "./_packet.ts";

/** Options of {@linkcode ResponseCache}. */
export interface ResponseCacheOptions {
  /** Most entries kept (default 2,000). */
  maxEntries?: number;
  /** Longest time an answer is kept, in seconds, whatever its TTL (default 3,600). */
  maxTtlSeconds?: number;
  /** Time source. */
  clock?: Clock;
}

interface Entry {
  response: Buffer;
  storedAt: number;
  expiresAt: number;
}

/** What, beyond the question, makes two queries want different answers. */
export interface CacheKeyFlags {
  /** The EDNS DO bit (DNSSEC records wanted). */
  dnssecOk?: boolean;
  /** The CD bit (checking disabled). */
  checkingDisabled?: boolean;
}

/** Cached answers of forwarded queries. */
export class ResponseCache {
  #entries = new Map<string, Entry>();
  #maxEntries: number;
  #maxTtlSeconds: number;
  #clock: Clock;

  /** Creates an empty cache. */
  constructor(options: ResponseCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 2000;
    this.#maxTtlSeconds = options.maxTtlSeconds ?? 3600;
    this.#clock = options.clock ?? systemClock;
    if (!Number.isInteger(this.#maxEntries) || this.#maxEntries < 0) {
      throw new RangeError(`Invalid option "maxEntries": expected a whole number >= 0, got ${this.#maxEntries}`);
    }
  }

  /** The key of a raw query: its question (name in lower case), and `flags`. Throws when the query is malformed. */
  static keyOf(query: Buffer, flags: CacheKeyFlags = {}): string {
    const question = questionBytes(query).toString("latin1").toLowerCase();
    return `${flags.dnssecOk ? "D" : "-"}${flags.checkingDisabled ? "C" : "-"}${question}`;
  }

  /** How many answers are cached. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Stores a raw response under `key` when it may be cached: NOERROR or
   * NXDOMAIN, not truncated, with at least one record and a TTL above 0
   * (RFC 2308: a negative answer without its SOA is not cached).
   */
  set(key: string, response: Buffer): void {
    if (this.#maxEntries === 0) return;
    const header = readHeader(response);
    if (!header || header.tc || (header.rcode !== RCODE.NOERROR && header.rcode !== RCODE.NXDOMAIN)) return;
    let ttl: number | undefined;
    try {
      ttl = minimumTtl(response);
    } catch {
      return;
    }
    if (ttl === undefined || ttl <= 0) return;
    const now = this.#clock.now();
    this.#entries.delete(key);
    this.#entries.set(key, {
      response: Buffer.from(response),
      storedAt: now,
      expiresAt: now + Math.min(ttl, this.#maxTtlSeconds) * 1000,
    });
    while (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  /**
   * The cached answer to `query` (which has `key`), with the query's ID,
   * its spelling of the name, and TTLs lowered by the time spent in the
   * cache; undefined when there is none or it has expired.
   */
  get(key: string, query: Buffer): Buffer | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const now = this.#clock.now();
    if (now >= entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    const response = Buffer.from(entry.response);
    ageTtls(response, Math.floor((now - entry.storedAt) / 1000));
    setId(response, readHeader(query)!.id);
    const asked = questionBytes(query);
    const answered = questionBytes(response);
    if (asked.length === answered.length) answered.set(asked);
    return response;
  }
}
