/**
 * The node's cluster DNS server. Every node agent runs one, listening on
 * its pod-bridge gateway address (UDP and TCP, port 53), and its pods use
 * it as their only name server: names in the cluster domain are answered
 * from the Service and EndpointSlice informers' caches
 * ({@linkcode ClusterRecords}), anything else is forwarded to the node's
 * upstream name servers ({@linkcode Forwarder}). Queries never leave the
 * node for cluster names, and no Service address is needed for DNS.
 *
 * Malformed packets are answered with FORMERR when they carry a header,
 * ignored otherwise; the server never stops answering because of what a
 * client sent.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import dgram from "node:dgram";
import net from "node:net";
import { type Clock, type EndpointSlice, type Service, systemClock } from "@skiff/api";
import { type ApiClient, type Informer, SharedInformers } from "@skiff/client";
import { LogLimiter } from "./_log_limiter.ts";
import {
  type Answer,
  bareResponse,
  type DecodedPacket,
  dnsPacket,
  frame,
  FrameReader,
  type Header,
  HEADER_BYTES,
  MAX_UDP_SIZE,
  optRecord,
  type Packet,
  type Question,
  RCODE,
  readHeader,
  responseFlags,
  udpLimit,
} from "./_packet.ts";
import { type ClusterAnswer, ClusterRecords } from "./cluster_records.ts";
import { Forwarder, type ForwarderOptions } from "./forwarder.ts";
import { ResponseCache } from "./response_cache.ts";

/** The standard DNS port. */
export const DNS_PORT = 53;

/** Options of {@linkcode ClusterDns}. */
export interface ClusterDnsOptions {
  /**
   * Where Services and EndpointSlices come from: a client (the server
   * makes and stops its own informers) or the process's shared informers
   * (the server starts them but leaves stopping them to their owner).
   */
  source: { client: ApiClient } | { informers: SharedInformers };
  /** The address to listen on: the node's pod-bridge gateway, e.g. `10.42.3.1`. */
  address: string;
  /** The port, UDP and TCP (default 53; 0 picks a free one, the same for both). */
  port?: number;
  /** The cluster domain (default `cluster.local`). */
  clusterDomain?: string;
  /** How names outside the cluster are forwarded (resolv.conf path, timeouts, cache). */
  forwarder?: Omit<ForwarderOptions, "clock" | "log">;
  /** While the address does not exist yet (the bridge is not up), try to bind again this often (default 1 s). */
  bindRetryMs?: number;
  /** Most TCP connections open at once (default 128). */
  maxTcpConnections?: number;
  /** Close a TCP connection idle this long (default 10 s). */
  tcpIdleMs?: number;
  /** Time source. */
  clock?: Clock;
  /** Where progress and problems are reported (problems rate-limited; default: stderr). */
  log?: (line: string) => void;
}

/** Most queries one TCP connection may have waiting for answers at once. */
const MAX_PIPELINED = 32;
/** How many CNAMEs within the cluster are followed for one answer. */
const MAX_ALIAS_DEPTH = 8;

/** A name the server can echo safely: printable ASCII labels of 1-63 characters. */
function isPlainName(name: string): boolean {
  if (name === ".") return true;
  return name.length <= 253 && name.split(".").every((label) => /^[\x21-\x7e]{1,63}$/.test(label));
}

/**
 * The cluster DNS server of one node.
 *
 * @example
 * ```ts
 * const dns = new ClusterDns({ source: { informers }, address: "10.42.3.1" });
 * await dns.start(); // answering on 10.42.3.1:53, UDP and TCP
 * await dns.stop();
 * ```
 */
export class ClusterDns {
  #options: ClusterDnsOptions;
  #clock: Clock;
  #log: (line: string) => void;
  #logs: LogLimiter;
  #records: ClusterRecords;
  #forwarder: Forwarder;
  #informers: SharedInformers;
  #ownInformers: boolean;
  #services: Informer<Service>;
  #slices: Informer<EndpointSlice>;
  #synced = false;
  #stopped = false;
  #stopSignal = new AbortController();
  #udp: dgram.Socket | undefined;
  #tcp: net.Server | undefined;
  #connections = new Set<net.Socket>();
  #port = 0;

  /** Creates the server; {@linkcode ClusterDns.start} binds it. */
  constructor(options: ClusterDnsOptions) {
    const source = options.source as { client?: ApiClient; informers?: SharedInformers } | undefined;
    if (!source || (!source.client && !source.informers)) {
      throw new TypeError('Invalid option "source": expected { client } or { informers }');
    }
    if (!net.isIP(options.address)) {
      throw new TypeError(`Invalid option "address": "${options.address}" is not an IP address`);
    }
    const port = options.port ?? DNS_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`Invalid option "port": expected 0-65535, got ${port}`);
    }
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? ((line: string) => console.error(line));
    this.#logs = new LogLimiter(this.#log, { clock: this.#clock });
    const published = net.isIPv4(options.address) && options.address !== "0.0.0.0" ? options.address : undefined;
    this.#records = new ClusterRecords({
      ...(options.clusterDomain !== undefined ? { clusterDomain: options.clusterDomain } : {}),
      ...(published ? { nameserver: published } : {}),
    });
    this.#forwarder = new Forwarder({
      ...options.forwarder,
      isSelf: (upstream) =>
        (upstream.address === options.address && upstream.port === this.#port) ||
        (options.forwarder?.isSelf?.(upstream) ?? false),
      clock: this.#clock,
      log: this.#log,
    });
    this.#informers = source.informers ?? new SharedInformers(source.client!, { clock: this.#clock });
    this.#ownInformers = source.informers === undefined;
    this.#services = this.#informers.for<Service>("v1", "Service");
    this.#slices = this.#informers.for<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice");
    this.#watch();
  }

  /** Feeds the informers' events (and what they already hold) into the records. */
  #watch(): void {
    const live = <T>(fn: (obj: T) => void) => (obj: T) => {
      if (!this.#stopped) fn(obj);
    };
    this.#services.on({
      add: live((svc) => this.#records.setService(svc)),
      update: (_, svc) => live((s: Service) => this.#records.setService(s))(svc),
      delete: live((svc) => this.#records.deleteService(svc)),
    });
    this.#slices.on({
      add: live((slice) => this.#records.setSlice(slice)),
      update: (_, slice) => live((s: EndpointSlice) => this.#records.setSlice(s))(slice),
      delete: live((slice) => this.#records.deleteSlice(slice)),
    });
    for (const svc of this.#services.list()) this.#records.setService(svc);
    for (const slice of this.#slices.list()) this.#records.setSlice(slice);
  }

  /** The cluster's records as the server sees them. */
  get records(): ClusterRecords {
    return this.#records;
  }

  /** The forwarder (its cache and upstreams). */
  get forwarder(): Forwarder {
    return this.#forwarder;
  }

  /** The port the server listens on (known once started). */
  get port(): number {
    return this.#port;
  }

  /** True once the informers have listed everything: until then cluster names get SERVFAIL. */
  get synced(): boolean {
    return this.#synced;
  }

  /**
   * Binds UDP and TCP (waiting, with retries, while the address does not
   * exist yet), then waits until the informers have synced. Fails when the
   * port is taken or not allowed.
   */
  async start(): Promise<void> {
    await this.#bind();
    if (this.#stopped) return;
    this.#log(
      `Cluster DNS listening on ${this.#options.address}:${this.#port} (UDP and TCP) for ${this.#records.domain}`,
    );
    if (this.#ownInformers) await this.#informers.start();
    else await Promise.all([this.#services.start(), this.#slices.start()]);
    this.#synced = true;
  }

  async #bind(): Promise<void> {
    const retryMs = this.#options.bindRetryMs ?? 1000;
    let waited = false;
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        this.#udp = await this.#bindUdp(this.#options.port ?? DNS_PORT);
        const port = this.#udp.address().port;
        this.#tcp = await this.#listenTcp(port);
        this.#port = port;
        return;
      } catch (err) {
        this.#udp?.close();
        this.#udp = undefined;
        const code = (err as { code?: string }).code;
        if (code === "EADDRINUSE" && this.#options.port === 0 && attempt < 10) continue;
        if (code !== "EADDRNOTAVAIL") {
          throw new Error(
            `Cannot listen on ${this.#options.address}:${this.#options.port ?? DNS_PORT} for DNS: ${
              (err as Error).message
            }`,
            { cause: err },
          );
        }
        if (!waited) {
          this.#log(
            `Cluster DNS waits for address ${this.#options.address} to exist on this node (the pod bridge is not up yet)`,
          );
          waited = true;
        }
        await new Promise<void>((resolve) => {
          const timer = this.#clock.setTimeout(resolve, retryMs);
          this.#stopSignal.signal.addEventListener("abort", () => {
            this.#clock.clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
    }
  }

  #bindUdp(port: number): Promise<dgram.Socket> {
    const socket = dgram.createSocket(net.isIPv6(this.#options.address) ? "udp6" : "udp4");
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        socket.close();
        reject(err);
      };
      socket.once("error", fail);
      socket.bind({ port, address: this.#options.address }, () => {
        socket.off("error", fail);
        socket.on("error", (err) => this.#logs.log("udp-error", `Cluster DNS UDP socket error: ${err.message}`));
        socket.on("message", (message, remote) => void this.#onUdp(socket, message, remote));
        resolve(socket);
      });
    });
  }

  #listenTcp(port: number): Promise<net.Server> {
    const server = net.createServer((socket) => this.#onTcp(socket));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host: this.#options.address }, () => {
        server.off("error", reject);
        server.on("error", (err) => this.#logs.log("tcp-error", `Cluster DNS TCP server error: ${err.message}`));
        resolve(server);
      });
    });
  }

  async #onUdp(socket: dgram.Socket, message: Buffer, remote: dgram.RemoteInfo): Promise<void> {
    try {
      const response = await this.answer(message, { udp: true });
      if (response && !this.#stopped) socket.send(response, remote.port, remote.address);
    } catch (err) {
      this.#logs.log("answer", `Cluster DNS failed to answer a query: ${(err as Error).message}`);
    }
  }

  #onTcp(socket: net.Socket): void {
    if (this.#stopped || this.#connections.size >= (this.#options.maxTcpConnections ?? 128)) {
      this.#logs.log("tcp-full", "Cluster DNS refused a TCP connection: too many are open");
      socket.destroy();
      return;
    }
    this.#connections.add(socket);
    socket.setTimeout(this.#options.tcpIdleMs ?? 10_000, () => socket.destroy());
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.#connections.delete(socket));
    const reader = new FrameReader();
    let waiting = 0;
    socket.on("data", (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        if (message.length < HEADER_BYTES || waiting >= MAX_PIPELINED) {
          socket.destroy();
          return;
        }
        waiting++;
        this.answer(message, { udp: false }).then((response) => {
          if (response && !socket.destroyed) socket.write(frame(response));
        }).catch((err) => {
          this.#logs.log("answer", `Cluster DNS failed to answer a query: ${(err as Error).message}`);
        }).finally(() => waiting--);
      }
    });
  }

  /**
   * The raw response to a raw query, or undefined when it deserves none
   * (shorter than a header, or itself a response). `udp`: the answer must
   * fit the client's UDP size and is truncated (TC) otherwise.
   */
  async answer(raw: Buffer, transport: { udp: boolean }): Promise<Buffer | undefined> {
    const header = readHeader(raw);
    if (!header || header.response) return undefined;
    if (header.opcode !== 0) return bareResponse(header, { rcode: RCODE.NOTIMP });
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(raw);
    } catch {
      return bareResponse(header, { rcode: RCODE.FORMERR });
    }
    const question = query.questions?.[0];
    if (!question || query.questions!.length !== 1) return bareResponse(header, { rcode: RCODE.FORMERR });
    const limit = transport.udp ? udpLimit(query) : 65535;
    const lower = question.name.toLowerCase();
    const ours = this.#records.inZone(lower) || (lower.endsWith(".in-addr.arpa") && question.type === "PTR");
    if (ours && !isPlainName(question.name)) return bareResponse(header, { rcode: RCODE.FORMERR });
    const klass = question.class ?? "IN";
    if (ours && klass !== "IN" && klass !== "ANY") {
      return bareResponse(header, { rcode: RCODE.REFUSED, question });
    }
    if (ours && (question.type === "AXFR" || question.type === "IXFR")) {
      return bareResponse(header, { rcode: RCODE.REFUSED, question });
    }
    const local = ours ? this.#records.resolve(question.name, question.type) : undefined;
    if (!local) return await this.#forward(raw, query, limit, transport.udp);
    if (!this.#synced) {
      this.#logs.log("unsynced", "Cluster DNS answered SERVFAIL: its Service caches have not synced with the API yet");
      return bareResponse(header, { rcode: RCODE.SERVFAIL, question });
    }
    const answers = [...local.answers];
    if (local.alias !== undefined && question.type !== "CNAME") {
      answers.push(...await this.#chase(local.alias, question.type, 1));
    }
    return this.#encode(header, query, { ...local, answers }, limit);
  }

  #forward(raw: Buffer, query: DecodedPacket, limit: number, udp: boolean): Promise<Buffer> {
    const opt = optRecord(query);
    const cacheKey = ResponseCache.keyOf(raw, {
      dnssecOk: opt?.type === "OPT" && opt.flag_do,
      checkingDisabled: query.flag_cd,
    });
    return this.#forwarder.forward(raw, { cacheKey, ...(udp ? { udpLimit: limit } : {}) });
  }

  /** The records `alias` resolves to for `type`: from the cluster, else from upstream. */
  async #chase(alias: string, type: string, depth: number): Promise<Answer[]> {
    if (this.#records.inZone(alias.toLowerCase())) {
      const local = this.#records.resolve(alias, type);
      if (!local) return [];
      if (local.alias !== undefined && depth < MAX_ALIAS_DEPTH) {
        return [...local.answers, ...await this.#chase(local.alias, type, depth + 1)];
      }
      return local.answers;
    }
    const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
    const raw = dnsPacket.encode({
      type: "query",
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: alias, type: type as Question["type"], class: "IN" }],
    });
    try {
      const response = await this.#forwarder.forward(raw, { cacheKey: ResponseCache.keyOf(raw) });
      return readHeader(response)?.rcode === RCODE.NOERROR ? (dnsPacket.decode(response).answers ?? []) : [];
    } catch {
      return [];
    }
  }

  /** Encodes a cluster answer, cut to `limit` bytes: additionals first, then answers (with TC set). */
  #encode(header: Header, query: DecodedPacket, local: ClusterAnswer, limit: number): Buffer {
    const question = query.questions![0]!;
    const edns = optRecord(query) !== undefined;
    const opt: Answer[] = edns
      ? [{
        type: "OPT",
        name: ".",
        udpPayloadSize: MAX_UDP_SIZE,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      }]
      : [];
    const packet = (answers: Answer[], withAdditionals: boolean, truncated: boolean): Packet => ({
      type: "response",
      id: header.id,
      flags: responseFlags(header, { rcode: local.rcode, authoritative: true, truncated }),
      questions: [question],
      answers,
      authorities: truncated ? [] : local.authorities,
      additionals: [...(withAdditionals ? local.additionals : []), ...opt],
    });
    try {
      let candidate = packet(local.answers, true, false);
      if (dnsPacket.encodingLength(candidate) > limit) candidate = packet(local.answers, false, false);
      if (dnsPacket.encodingLength(candidate) > limit) {
        let low = 0;
        let high = local.answers.length;
        while (low < high) {
          const mid = Math.ceil((low + high) / 2);
          if (dnsPacket.encodingLength(packet(local.answers.slice(0, mid), false, true)) <= limit) low = mid;
          else high = mid - 1;
        }
        candidate = packet(local.answers.slice(0, low), false, true);
      }
      return dnsPacket.encode(candidate);
    } catch (err) {
      this.#logs.log(
        "encode",
        `Cluster DNS could not encode an answer for "${question.name}": ${(err as Error).message}`,
      );
      return bareResponse(header, { rcode: RCODE.SERVFAIL });
    }
  }

  /** Stops answering, closes the sockets and connections, and stops informers the server made. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopSignal.abort();
    this.#forwarder.close();
    if (this.#ownInformers) this.#informers.stop();
    for (const socket of this.#connections) socket.destroy();
    const udp = this.#udp;
    const tcp = this.#tcp;
    await Promise.all([
      udp ? new Promise<void>((resolve) => udp.close(() => resolve())) : undefined,
      tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : undefined,
    ]);
  }
}
