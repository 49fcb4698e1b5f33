/**
 * The agent's HTTPS server (the kubelet's port 10250): container logs and
 * exec, for the API server only.
 *
 * - `GET /containerLogs/<namespace>/<pod>/<container>?follow=&tailLines=&timestamps=&previous=&sinceSeconds=&sinceTime=&limitBytes=`
 *   (text/plain, streamed with `follow`);
 * - `/exec/<namespace>/<pod>/<container>?command=…&stdin=&stdout=&stderr=&tty=`
 *   upgraded to WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`).
 *
 * Mutual TLS: the server presents the node's serving certificate (signed by
 * the cluster CA, see `serving_certificate.ts`) and accepts only a client
 * certificate signed by the cluster CA with common name `skiff-apiserver`
 * (the API server's); the handshake of any other client fails. Errors are
 * Kubernetes `Status` objects.
 *
 * Built on `node:https`, as the API server is (`Deno.serve` over TLS
 * delays small responses by the client's delayed ACK, and cannot ask for a
 * client certificate). The server listens at once, so its port is known
 * before the node registers; it completes handshakes only once it has a
 * certificate ({@linkcode AgentServer.setCertificate}).
 *
 * @module
 */

import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { ApiError, APISERVER_CLIENT_COMMON_NAME, BadRequestError, ForbiddenError, NotFoundError } from "@skiff/api";
import type { Runtime } from "../runtime/mod.ts";
import { ExecServer } from "./_exec_session.ts";
import { type ContainerPath, serveLogs } from "./_logs.ts";
import { answerError, refuseUpgrade } from "./_status.ts";
import type { ServingCertificate } from "./serving_certificate.ts";

/** Options of {@linkcode startAgentServer}. */
export interface AgentServerOptions {
  /** The runtime whose containers are served. */
  runtime: Runtime;
  /** Port to listen on (default 10250; 0 picks a free one). */
  port: number;
  /** Address to bind (default 0.0.0.0). */
  hostname?: string;
  /** Where unexpected failures are told (default: standard error). */
  log?: (line: string) => void;
}

/** A running agent server. */
export interface AgentServer {
  /** The bound port. */
  readonly port: number;
  /** The bound address. */
  readonly hostname: string;
  /** Serves with `certificate` (and trusts its CA for clients) from the next connection on. */
  setCertificate(certificate: ServingCertificate): void;
  /** Stops listening and ends every connection: followed logs end, exec sessions' commands are killed. */
  close(): Promise<void>;
}

/** The container a path names, after `prefix` (`containerLogs`, `exec`); undefined when it names none. */
function containerPath(url: string | undefined, prefix: string): ContainerPath | undefined {
  const path = new URL(url ?? "/", "https://agent").pathname;
  let parts: string[];
  try {
    parts = path.split("/").slice(1).map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
  if (parts.length !== 4 || parts[0] !== prefix || parts.slice(1).some((p) => p === "")) return undefined;
  return { namespace: parts[1]!, pod: parts[2]!, container: parts[3]! };
}

/** Throws unless the connection's client certificate is the API server's. */
function checkClient(socket: Socket | Duplex): void {
  const tls = socket as TLSSocket;
  const name = tls.authorized ? tls.getPeerCertificate?.()?.subject?.CN : undefined;
  if (name !== APISERVER_CLIENT_COMMON_NAME) {
    throw new ForbiddenError(
      `Only the API server may use this endpoint: the client certificate is ${
        name ? `"${name}"'s` : "missing or not signed by the cluster CA"
      }`,
    );
  }
}

function notFound(url: string | undefined): NotFoundError {
  return new NotFoundError(
    `The agent serves /containerLogs/<namespace>/<pod>/<container> and /exec/<namespace>/<pod>/<container>, not "${
      new URL(url ?? "/", "https://agent").pathname.slice(0, 200)
    }"`,
  );
}

/**
 * Starts the agent server: it listens at once and serves once it has a
 * certificate.
 *
 * @throws {Error} when the port cannot be bound (the message names it)
 *
 * @example
 * ```ts
 * const server = await startAgentServer({ runtime, port: 10250 });
 * server.setCertificate(await keeper.start());
 * ```
 */
export async function startAgentServer(options: AgentServerOptions): Promise<AgentServer> {
  const { runtime } = options;
  const log = options.log ?? ((line: string) => console.error(line));
  const exec = new ExecServer(runtime);
  const sockets = new Set<Socket>();
  const server = https.createServer(
    { requestCert: true, rejectUnauthorized: true, noDelay: true, keepAlive: true },
    (req: IncomingMessage, res: ServerResponse) => {
      handle(req, res).catch((error) => {
        if (!(error instanceof ApiError)) {
          log(`Agent server: ${req.method} ${req.url?.slice(0, 200)} failed: ${(error as Error).message}`);
        }
        answerError(res, error);
      });
    },
  );
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkClient(req.socket);
    const logs = containerPath(req.url, "containerLogs");
    if (logs) {
      if (req.method !== "GET") throw new BadRequestError(`containerLogs takes GET, not ${req.method}`);
      await serveLogs(runtime, logs, req, res);
      return;
    }
    if (containerPath(req.url, "exec")) {
      throw new BadRequestError(
        "exec needs a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket, Sec-WebSocket-Protocol: v5.channel.k8s.io)",
      );
    }
    throw notFound(req.url);
  }
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Uint8Array) => {
    (async () => {
      checkClient(socket);
      const where = containerPath(req.url, "exec");
      if (!where) throw notFound(req.url);
      await exec.upgrade(where, req, socket, head);
    })().catch((error) => refuseUpgrade(socket, error));
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {
    // A client without the API server's certificate, or a connection before the certificate: nothing to answer.
  });
  const hostname = options.hostname ?? "0.0.0.0";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch((error) => {
    const code = (error as { code?: string }).code;
    throw new Error(
      `Cannot listen on ${hostname}:${options.port}: ${
        code === "EADDRINUSE" ? "the port is in use (another agent or kubelet?)" : (error as Error).message
      }`,
      { cause: error },
    );
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    hostname: address.address,
    setCertificate(certificate) {
      server.setSecureContext({ cert: certificate.certPem, key: certificate.keyPem, ca: certificate.caPem });
    },
    close: () =>
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        exec.close();
        for (const socket of sockets) socket.destroy();
      }),
  };
}
