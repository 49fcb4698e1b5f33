/**
 * Serves a fetch-shaped handler over HTTPS.
 *
 * Built on `node:https` rather than `Deno.serve`: in Deno 2.9, `Deno.serve`
 * over TLS does not set TCP_NODELAY, and every response of more than a few
 * hundred bytes waits ~40 ms for the client's delayed ACK (measured: 43 ms
 * per 2 KB response, against 0.5 ms here). The handler itself stays
 * `(Request) => Response`, so nothing else depends on this choice.
 *
 * Connection upgrades (`pods/exec` over WebSocket) go through the same
 * handler: the request (without a body) is handed to it, and a Response
 * made by `upgradeResponse` takes the connection over; any other answer
 * (a Status refusing the request) is written as plain HTTP and the
 * connection closed.
 *
 * @module
 */

import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type Duplex, Readable } from "node:stream";
import { takeoverOf, writeHttpAnswer } from "./_upgrade.ts";
import { MAX_BODY_BYTES } from "./_body.ts";

/** Options of {@linkcode serveHttps}. */
export interface ServeOptions {
  /** Address to bind (default 0.0.0.0). */
  hostname?: string;
  /** Port (0 picks a free one). */
  port: number;
  /** Serving certificate (PEM). */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /**
   * Called once shutdown has stopped accepting connections, before it waits
   * for in-flight requests: end long-running responses here (watches).
   */
  onShutdown?: () => void;
}

/** A running server. */
export interface Server {
  /** The bound port. */
  port: number;
  /** The bound address. */
  hostname: string;
  /**
   * Stops accepting connections, calls `onShutdown`, lets in-flight
   * requests finish (up to `graceMs`, default 10 s; responses sent
   * meanwhile close their connection), then closes what is left.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/** Serves `handler` over HTTPS. */
export function serveHttps(handler: (req: Request) => Promise<Response>, options: ServeOptions): Promise<Server> {
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let idle: (() => void) | undefined;
  let stopping: Promise<void> | undefined;
  const server = https.createServer(
    // requestTimeout bounds receiving a request (headers and body), not answering it: watches stay open, while a
    // client that never finishes sending its body gets 408 instead of holding a connection forever.
    { cert: options.cert, key: options.key, noDelay: true, keepAlive: true, requestTimeout: 60_000 },
    (req: IncomingMessage, res: ServerResponse) => {
      inFlight++;
      if (stopping) res.shouldKeepAlive = false;
      bridge(handler, req, res).finally(() => {
        inFlight--;
        if (inFlight === 0) idle?.();
      });
    },
  );
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 30_000;
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Uint8Array) => {
    upgrade(handler, req, socket, head).catch(() => socket.destroy());
  });
  server.on("tlsClientError", () => {
    // A client that failed the handshake (wrong CA, plain HTTP): nothing to answer.
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname ?? "0.0.0.0", () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      resolve({
        port: address.port,
        hostname: address.address,
        shutdown: (graceMs = 10_000) =>
          stopping ??= (async () => {
            const closed = new Promise<void>((done) => server.close(() => done()));
            server.closeIdleConnections();
            options.onShutdown?.();
            if (inFlight > 0) {
              let timer: ReturnType<typeof setTimeout> | undefined;
              await Promise.race([
                new Promise<void>((done) => idle = done),
                new Promise<void>((done) => timer = setTimeout(done, graceMs)),
              ]);
              clearTimeout(timer);
            }
            for (const socket of sockets) socket.destroy();
            await closed;
          })(),
      });
    });
  });
}

/**
 * How much of an unread request body is read and dropped before answering
 * (larger: the connection closes): as much as a body may hold, so a client
 * refused early still reads its answer instead of a connection reset.
 */
const DRAIN_LIMIT_BYTES = MAX_BODY_BYTES;
/** How long that may take: a client that stalls gets its answer and a closed connection after this. */
const DRAIN_LIMIT_MS = 5_000;

async function drain(body: ReadableStream<Uint8Array> | null, limitBytes: number, limitMs: number): Promise<void> {
  if (!body || body.locked) return;
  const reader = body.getReader();
  const deadline = Date.now() + limitMs;
  let read = 0;
  try {
    while (read <= limitBytes) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = await Promise.race([
        reader.read(),
        new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), Math.max(0, deadline - Date.now()))),
      ]);
      clearTimeout(timer);
      if (next === "late" || next.done) return;
      read += next.value.byteLength;
    }
  } catch {
    // The client went away: nothing to drain.
  }
}

/** The fetch Request for a node request (with its body streamed when `withBody`). */
function toRequest(req: IncomingMessage, signal: AbortSignal, withBody: boolean): Request {
  const url = `https://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) { for (const v of value) headers.append(name, v); }
    else if (value !== undefined) headers.set(name, value);
  }
  return new Request(url, {
    method: req.method ?? "GET",
    headers,
    signal,
    ...(withBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {}),
  } as RequestInit);
}

/** How much of a refusal to an upgrade request is written back (a Status object is far smaller). */
const REFUSAL_LIMIT_BYTES = 64 * 1024;

/**
 * Serves an upgrade request: the handler accepts it (a takeover gets the
 * socket) or refuses it (its answer is written as HTTP/1.1 and the
 * connection closed).
 */
async function upgrade(
  handler: (req: Request) => Promise<Response>,
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
): Promise<void> {
  const abort = new AbortController();
  const aborted = () => abort.abort();
  socket.once("close", aborted);
  let response: Response;
  try {
    response = await handler(toRequest(req, abort.signal, false));
  } catch (err) {
    response = Response.json({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `Bad request: ${err instanceof Error ? err.message : String(err)}`,
      reason: "BadRequest",
      code: 400,
    }, { status: 400 });
  }
  socket.off("close", aborted);
  if (socket.destroyed) return;
  const takeover = takeoverOf(response);
  if (takeover) {
    takeover(socket, head);
    return;
  }
  const body = new Uint8Array(await response.arrayBuffer()).subarray(0, REFUSAL_LIMIT_BYTES);
  writeHttpAnswer(socket, response.status, response.headers, body);
}

async function bridge(
  handler: (req: Request) => Promise<Response>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  let response: Response;
  try {
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = toRequest(req, abort.signal, hasBody);
    response = await handler(request);
    // A request refused before its body was read (401, 404, 415...): read the rest of a small body, as Go's
    // server does, so the client gets to read the answer instead of a reset connection.
    // A body declared larger than that is not waited for: the connection closes after the answer.
    const declared = Number(req.headers["content-length"] ?? 0);
    if (hasBody && !req.complete && !(declared > DRAIN_LIMIT_BYTES)) {
      await drain(request.body, DRAIN_LIMIT_BYTES, DRAIN_LIMIT_MS);
    }
  } catch (err) {
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `Bad request: ${err instanceof Error ? err.message : String(err)}`,
      reason: "BadRequest",
      code: 400,
    }));
    return;
  }
  // A request body the handler did not read to the end (refused early: 413, 415, 404...) would stall the
  // connection's next request behind it: answer, then close the connection instead of keeping it alive.
  if (!req.complete) res.shouldKeepAlive = false;
  const outHeaders: Record<string, string> = {};
  response.headers.forEach((value, name) => outHeaders[name] = value);
  res.writeHead(response.status, outHeaders);
  if (!response.body || req.method === "HEAD") {
    res.end();
    return;
  }
  // Node sends headers with the first body chunk; a stream of unknown length (a watch) may have none for long.
  if (!response.headers.has("content-length")) res.flushHeaders();
  const reader = response.body.getReader();
  abort.signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise<void>((drain) => res.once("drain", drain));
    }
  } catch {
    // The client went away or the body failed mid-stream: nothing more to send.
  } finally {
    res.end();
  }
}
