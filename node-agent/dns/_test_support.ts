/**
 * Test support for the DNS server: the upstream name server process
 * (`_upstream_server.ts`) and a small DNS client over UDP and TCP.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import net from "node:net";
import { type DecodedPacket, dnsPacket, frame, FrameReader, type Question } from "./_packet.ts";

/** The upstream test name server, running as its own process. */
export interface TestUpstream extends AsyncDisposable {
  /** Its address. */
  address: string;
  /** Its port (UDP and TCP). */
  port: number;
  /** How many queries for `name` it has received. */
  count(name: string): Promise<number>;
}

/** Starts `_upstream_server.ts` on 127.0.0.1 (or `address`) and waits for its port. */
export async function startUpstream(address = "127.0.0.1"): Promise<TestUpstream> {
  const script = new URL("./_upstream_server.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, address],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The upstream test name server exited before printing its port");
    text += value;
  }
  reader.releaseLock();
  const { port } = JSON.parse(text.split("\n")[0]!) as { port: number };
  return {
    address,
    port,
    async count(name: string) {
      const response = await query(port, `count.${name}`, "TXT", { address });
      const data = response.answers?.[0];
      return data?.type === "TXT" ? Number(Buffer.from((data.data as Buffer[])[0]!).toString()) : NaN;
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.stdout.cancel().catch(() => {});
      await child.status;
    },
  };
}

/** Options of {@linkcode query}. */
export interface QueryOptions {
  /** The server's address (default 127.0.0.1). */
  address?: string;
  /** Ask over TCP. */
  tcp?: boolean;
  /** Add an EDNS OPT record advertising this UDP size. */
  ednsSize?: number;
  /** Give up after this long (default 3 s). */
  timeoutMs?: number;
}

/** A response with its size on the wire. */
export type QueryResult = DecodedPacket & { bytes: number; rcodeName: string };

/** Asks a DNS server one question and decodes the answer. */
export async function query(
  port: number,
  name: string,
  type: Question["type"],
  options: QueryOptions = {},
): Promise<QueryResult> {
  const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
  const packet = dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
    ...(options.ednsSize
      ? {
        additionals: [{
          type: "OPT",
          name: ".",
          udpPayloadSize: options.ednsSize,
          extendedRcode: 0,
          ednsVersion: 0,
          flags: 0,
          flag_do: false,
          options: [],
        }],
      }
      : {}),
  });
  const raw = options.tcp ? await exchangeTcp(port, packet, options) : await exchangeUdp(port, packet, options);
  if (!raw) throw new Error(`No answer to ${name} ${type} from port ${port}`);
  const decoded = dnsPacket.decode(raw);
  if (decoded.id !== id) throw new Error(`Answer to ${name} has ID ${decoded.id}, expected ${id}`);
  return Object.assign(decoded, {
    bytes: raw.length,
    rcodeName: (decoded as unknown as { rcode: string }).rcode,
  });
}

/** Sends raw bytes over UDP and returns the first datagram back, or undefined after the timeout. */
export function exchangeUdp(port: number, bytes: Uint8Array, options: QueryOptions = {}): Promise<Buffer | undefined> {
  const socket = dgram.createSocket("udp4");
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(undefined), options.timeoutMs ?? 3000);
    const finish = (result: Buffer | undefined) => {
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    socket.on("message", (message) => finish(message));
    socket.send(bytes, port, options.address ?? "127.0.0.1");
  });
}

/** Sends one length-prefixed message over TCP and returns the first message back (undefined if none). */
export function exchangeTcp(port: number, bytes: Uint8Array, options: QueryOptions = {}): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: options.address ?? "127.0.0.1" });
    const reader = new FrameReader();
    const timer = setTimeout(() => finish(undefined), options.timeoutMs ?? 3000);
    const finish = (result: Buffer | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    socket.on("error", () => finish(undefined));
    socket.on("close", () => finish(undefined));
    socket.on("data", (chunk: Buffer) => {
      const [message] = reader.push(chunk);
      if (message) finish(Buffer.from(message));
    });
    socket.on("connect", () => socket.write(frame(bytes)));
  });
}
