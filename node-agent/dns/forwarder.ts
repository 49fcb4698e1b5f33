/**
 * Forwarding of names outside the cluster to the node's upstream name
 * servers (from its resolv.conf, re-read when it may have changed): over
 * UDP with a timeout and one retry (on the next server when there are
 * several), over TCP when the UDP answer is truncated, SERVFAIL when every
 * attempt fails. Answers are cached as their TTLs allow, identical queries
 * in flight share one upstream exchange, and the number of exchanges in
 * flight is bounded (beyond it queries are REFUSED, as CoreDNS does).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import net from "node:net";
import { type Clock, systemClock } from "@skiff/api";
import { LogLimiter } from "./_log_limiter.ts";
import {
  bareResponse,
  dnsPacket,
  frame,
  FrameReader,
  type Header,
  questionBytes,
  RCODE,
  readHeader,
  setId,
} from "./_packet.ts";
import { parseResolvConf } from "./resolv_conf.ts";
import { ResponseCache, type ResponseCacheOptions } from "./response_cache.ts";

/** One upstream name server. */
export interface Upstream {
  /** Its address. */
  address: string;
  /** Its port. */
  port: number;
}

/** Options of {@linkcode Forwarder}. */
export interface ForwarderOptions {
  /** The node's resolver configuration, whose `nameserver`s are the upstreams (default `/etc/resolv.conf`). */
  resolvConfPath?: string;
  /** The port of the upstreams named in resolv.conf (default 53). */
  upstreamPort?: number;
  /** True for an upstream never to forward to: the cluster DNS itself, which would loop. */
  isSelf?: (upstream: Upstream) => boolean;
  /** How long to wait for one upstream answer (default 2,000 ms). */
  timeoutMs?: number;
  /** Most upstream exchanges in flight at once (default 256). */
  maxConcurrent?: number;
  /** Re-read resolv.conf when it was read longer ago than this (default 5,000 ms). */
  reloadMs?: number;
  /** The answer cache's options, or false for no cache. */
  cache?: ResponseCacheOptions | false;
  /** Time source (cache ages and resolv.conf reloads). */
  clock?: Clock;
  /** Where problems are reported (rate-limited; default: stderr). */
  log?: (line: string) => void;
}

/** How a forwarded answer will be sent to the client. */
export interface ForwardOptions {
  /** The largest UDP answer the client takes; undefined: the client asked over TCP. */
  udpLimit?: number;
  /** The query's cache key ({@linkcode ResponseCache.keyOf}). */
  cacheKey: string;
}

/** One try and one retry (on the next server when there are several). */
const ATTEMPTS = 2;

/** Why one exchange with an upstream failed. */
class ExchangeError extends Error {
  override name = "ExchangeError";
}

/** Forwards queries to the node's upstream name servers. */
export class Forwarder {
  #path: string;
  #port: number;
  #isSelf: (upstream: Upstream) => boolean;
  #timeoutMs: number;
  #maxConcurrent: number;
  #reloadMs: number;
  #clock: Clock;
  #logs: LogLimiter;
  #cache: ResponseCache | undefined;
  #upstreams: { servers: Upstream[]; readAt: number; text: string } | undefined;
  #reading: Promise<Upstream[]> | undefined;
  #inFlight = new Map<string, Promise<Buffer | undefined>>();
  #exchanges = 0;
  #closed = false;
  #sockets = new Set<dgram.Socket | net.Socket>();

  /** Creates a forwarder; it reads resolv.conf on first use. */
  constructor(options: ForwarderOptions = {}) {
    this.#path = options.resolvConfPath ?? "/etc/resolv.conf";
    this.#port = options.upstreamPort ?? 53;
    this.#isSelf = options.isSelf ?? (() => false);
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#maxConcurrent = options.maxConcurrent ?? 256;
    this.#reloadMs = options.reloadMs ?? 5000;
    this.#clock = options.clock ?? systemClock;
    const log = options.log ?? ((line: string) => console.error(line));
    this.#logs = new LogLimiter(log, { clock: this.#clock });
    this.#cache = options.cache === false ? undefined : new ResponseCache({ clock: this.#clock, ...options.cache });
    if (!Number.isInteger(this.#port) || this.#port < 1 || this.#port > 65535) {
      throw new RangeError(`Invalid option "upstreamPort": expected 1-65535, got ${this.#port}`);
    }
  }

  /** The answer cache (undefined when disabled). */
  get cache(): ResponseCache | undefined {
    return this.#cache;
  }

  /** Upstream exchanges in flight now. */
  get inFlight(): number {
    return this.#exchanges;
  }

  /** The upstream servers, from resolv.conf (re-read when older than `reloadMs`). */
  async upstreams(): Promise<Upstream[]> {
    const now = this.#clock.now();
    const servers = this.#upstreams && now - this.#upstreams.readAt < this.#reloadMs
      ? this.#upstreams.servers
      : await (this.#reading ??= this.#readUpstreams().finally(() => this.#reading = undefined));
    return servers.filter((server) => !this.#isSelf(server));
  }

  async #readUpstreams(): Promise<Upstream[]> {
    let text = "";
    try {
      text = await Deno.readTextFile(this.#path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        this.#logs.log(
          "resolv-conf",
          `Cannot read "${this.#path}": ${(err as Error).message}; names outside the cluster fail`,
        );
      }
    }
    if (this.#upstreams?.text === text) {
      this.#upstreams.readAt = this.#clock.now();
      return this.#upstreams.servers;
    }
    const servers = parseResolvConf(text).nameservers
      .filter((address) => net.isIP(address) !== 0)
      .map((address) => ({ address, port: this.#port }));
    if (servers.filter((server) => !this.#isSelf(server)).length === 0) {
      this.#logs.log(
        "no-upstream",
        `No usable nameserver in "${this.#path}": names outside the cluster get SERVFAIL until one is added`,
      );
    }
    this.#upstreams = { servers, readAt: this.#clock.now(), text };
    return servers;
  }

  /**
   * Forwards a raw query (already parsed by the caller) and returns the raw
   * answer to send back: the query's ID, the client's spelling of the name,
   * and truncated (TC, no records) when it does not fit `udpLimit`.
   */
  async forward(query: Buffer, options: ForwardOptions): Promise<Buffer> {
    const header = readHeader(query)!;
    const question = questionBytes(query);
    const fit = (response: Buffer) => {
      const out = Buffer.from(response);
      setId(out, header.id);
      const answered = questionBytes(out);
      if (answered.length === question.length) answered.set(question);
      if (options.udpLimit !== undefined && out.length > options.udpLimit) return this.#truncated(query, header);
      return out;
    };
    const cached = this.#cache?.get(options.cacheKey, query);
    if (cached) return fit(cached);
    let pending = this.#inFlight.get(options.cacheKey);
    if (!pending) {
      if (this.#exchanges >= this.#maxConcurrent) {
        this.#logs.log(
          "busy",
          `Refusing forwarded queries: ${this.#maxConcurrent} are already waiting for upstream answers`,
        );
        return bareResponse(header, { rcode: RCODE.REFUSED });
      }
      pending = this.#exchange(query, options.udpLimit === undefined).then((response) => {
        if (response) this.#cache?.set(options.cacheKey, response);
        return response;
      }).finally(() => this.#inFlight.delete(options.cacheKey));
      this.#inFlight.set(options.cacheKey, pending);
    }
    const response = await pending;
    if (!response) return bareResponse(header, { rcode: RCODE.SERVFAIL });
    return fit(response);
  }

  /** A truncated answer carrying the question: the client asks again over TCP. */
  #truncated(query: Buffer, header: Header): Buffer {
    const decoded = dnsPacket.decode(query);
    const question = decoded.questions?.[0];
    return bareResponse(header, { rcode: RCODE.NOERROR, truncated: true, ...(question ? { question } : {}) });
  }

  /**
   * Asks the upstreams, first over UDP (then TCP when truncated, unless
   * the client itself used UDP and the truncated answer is what it gets).
   * Undefined when every attempt failed.
   */
  async #exchange(query: Buffer, wantFull: boolean): Promise<Buffer | undefined> {
    const servers = await this.upstreams();
    if (servers.length === 0 || this.#closed) return undefined;
    this.#exchanges++;
    try {
      let fallback: Buffer | undefined;
      for (let attempt = 0; attempt < ATTEMPTS && !this.#closed; attempt++) {
        const server = servers[attempt % servers.length]!;
        try {
          let response = await this.#udp(server, query);
          if (readHeader(response)!.tc) {
            try {
              response = await this.#tcp(server, query);
            } catch (err) {
              if (wantFull) throw err;
              this.#logs.log("tcp", `Upstream ${describe(server)} failed over TCP: ${(err as Error).message}`);
            }
          }
          const rcode = readHeader(response)!.rcode;
          if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) {
            fallback = response;
            continue;
          }
          return response;
        } catch (err) {
          this.#logs.log(
            `upstream ${describe(server)}`,
            `Upstream name server ${describe(server)} did not answer: ${(err as Error).message}; ` +
              `check the nameserver lines of "${this.#path}"`,
          );
        }
      }
      return fallback;
    } finally {
      this.#exchanges--;
    }
  }

  /** The query as sent upstream: the same bytes under a fresh random ID. */
  #outgoing(query: Buffer): { bytes: Buffer; id: number } {
    const bytes = Buffer.from(query);
    const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
    setId(bytes, id);
    return { bytes, id };
  }

  /** True when `response` answers `sent` (same ID and question, a response). */
  #matches(response: Buffer, sent: Buffer, id: number): boolean {
    const header = readHeader(response);
    if (!header || !header.response || header.id !== id) return false;
    try {
      return questionBytes(response).toString("latin1").toLowerCase() ===
        questionBytes(sent).toString("latin1").toLowerCase();
    } catch {
      return false;
    }
  }

  #udp(server: Upstream, query: Buffer): Promise<Buffer> {
    const { bytes, id } = this.#outgoing(query);
    const socket = dgram.createSocket(net.isIPv6(server.address) ? "udp6" : "udp4");
    this.#sockets.add(socket);
    return new Promise<Buffer>((resolve, reject) => {
      let done = false;
      const timer = this.#clock.setTimeout(
        () => finish(new ExchangeError(`no UDP answer in ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      const finish = (result: Buffer | Error) => {
        if (done) return;
        done = true;
        this.#clock.clearTimeout(timer);
        if (this.#sockets.delete(socket)) socket.close();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      socket.on("error", (err) => finish(err));
      socket.on("close", () => finish(new ExchangeError("the forwarder was closed")));
      socket.on("message", (message, remote) => {
        if (remote.port !== server.port || !sameAddress(remote.address, server.address)) return;
        if (this.#matches(message, bytes, id)) finish(message);
      });
      socket.send(bytes, server.port, server.address, (err) => {
        if (err) finish(err);
      });
    });
  }

  #tcp(server: Upstream, query: Buffer): Promise<Buffer> {
    const { bytes, id } = this.#outgoing(query);
    return new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect({ host: server.address, port: server.port });
      this.#sockets.add(socket);
      const reader = new FrameReader();
      let done = false;
      const timer = this.#clock.setTimeout(
        () => finish(new ExchangeError(`no TCP answer in ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      const finish = (result: Buffer | Error) => {
        if (done) return;
        done = true;
        this.#clock.clearTimeout(timer);
        this.#sockets.delete(socket);
        socket.destroy();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      socket.on("error", (err) => finish(err));
      socket.on("close", () => finish(new ExchangeError("the TCP connection closed before an answer")));
      socket.on("data", (chunk: Buffer) => {
        for (const message of reader.push(chunk)) {
          if (this.#matches(message, bytes, id)) return finish(Buffer.from(message));
        }
      });
      socket.on("connect", () => socket.write(frame(bytes)));
    });
  }

  /** Cancels every exchange in flight (they fail with SERVFAIL) and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const socket of this.#sockets) {
      if (socket instanceof net.Socket) socket.destroy();
      else socket.close();
    }
    this.#sockets.clear();
  }
}

function describe(server: Upstream): string {
  return server.address.includes(":") ? `[${server.address}]:${server.port}` : `${server.address}:${server.port}`;
}

/** Compares addresses, treating `::ffff:1.2.3.4` as `1.2.3.4`. */
function sameAddress(a: string, b: string): boolean {
  const plain = (s: string) => s.replace(/^::ffff:/i, "").toLowerCase();
  return plain(a) === plain(b);
}
