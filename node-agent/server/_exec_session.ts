/**
 * `/exec/<namespace>/<pod>/<container>?command=…&stdin=&stdout=&stderr=&tty=`
 * over WebSocket, in Kubernetes' streaming protocol `v5.channel.k8s.io`
 * (or `v4.channel.k8s.io`), as the kubelet serves it.
 *
 * Every binary message starts with a channel byte: 0 standard input (from
 * the client), 1 standard output, 2 standard error, 3 error (once the
 * command has ended: a `Status`, `Success`, or `Failure` with reason
 * `NonZeroExitCode` and the exit code as cause `ExitCode`, or a failure to
 * run it), 4 resize (`{"Width":…,"Height":…}`), and, in v5 only, 255 close
 * (`[255, 0]`: the client has no more input). With a terminal the command
 * starts once the client has sent its size (kubectl sends it at once), or
 * after a second with 80 × 24.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
// @ts-types="@types/ws"
import { type WebSocket, WebSocketServer } from "ws";
import { BadRequestError, NotFoundError } from "@skiff/api";
import type { ExecSession, Runtime, TerminalSize } from "../runtime/mod.ts";
import { containerRuns } from "./_container_runs.ts";
import type { ContainerPath } from "./_logs.ts";
import { boolParam } from "./_query.ts";

/** The subprotocols served, the preferred first. */
export const EXEC_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"] as const;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

/** How long a terminal session waits for the client's first size before it starts. */
const FIRST_SIZE_WAIT_MS = 1000;

/** What an exec request asks for. */
interface ExecRequest {
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  protocol: (typeof EXEC_PROTOCOLS)[number];
}

/** Reads and checks an exec request; throws an ApiError (answered as a Status) when it is not one. */
function execRequest(req: IncomingMessage): ExecRequest {
  const q = new URL(req.url ?? "/", "https://agent").searchParams;
  const command = q.getAll("command");
  if (command.length === 0 || command.every((arg) => arg === "")) {
    throw new BadRequestError("you must specify at least one command for the container");
  }
  const stdin = boolParam(q, "stdin");
  const stdout = boolParam(q, "stdout");
  const stderr = boolParam(q, "stderr");
  const tty = boolParam(q, "tty");
  if (!stdin && !stdout && !stderr) throw new BadRequestError("you must specify at least 1 of stdin, stdout, stderr");
  if (tty && stderr) throw new BadRequestError("tty and stderr cannot both be true: a terminal has one output stream");
  const header = req.headers["sec-websocket-protocol"];
  const offered = (Array.isArray(header) ? header.join(",") : header ?? "").split(",").map((p) => p.trim());
  const protocol = EXEC_PROTOCOLS.find((p) => offered.includes(p));
  if (!protocol) {
    throw new BadRequestError(
      `exec speaks the WebSocket subprotocols ${EXEC_PROTOCOLS.join(" and ")}; the client offered ${
        offered.filter(Boolean).map((p) => `"${p}"`).join(", ") || "none"
      }`,
    );
  }
  return { command, stdin, stdout, stderr, tty, protocol };
}

/** The `Status` sent on the error channel when the command has ended. */
function exitStatus(code: number): Record<string, unknown> {
  if (code === 0) return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" };
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: exit status ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  };
}

function frame(channel: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.byteLength + 1);
  out[0] = channel;
  out.set(data, 1);
  return out;
}

/** Serves exec upgrades: checks each request, then runs one session per connection. */
export class ExecServer {
  readonly #runtime: Runtime;
  readonly #wss: WebSocketServer;
  readonly #sessions = new Set<WebSocket>();

  /** Serves execs in containers of `runtime`. */
  constructor(runtime: Runtime) {
    this.#runtime = runtime;
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      handleProtocols: (offered: Set<string>) => EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
  }

  /**
   * Takes an upgrade request for `where`: throws an ApiError (to be answered
   * as a Status) when it is not a valid exec or the container is not running;
   * otherwise completes the upgrade and runs the session.
   */
  async upgrade(where: ContainerPath, req: IncomingMessage, socket: Duplex, head: Uint8Array): Promise<void> {
    const request = execRequest(req);
    const runs = await containerRuns(this.#runtime, where);
    const what = `container "${where.container}" in pod "${where.pod}"`;
    const latest = runs[0];
    if (!latest) throw new NotFoundError(`${what} is not available: it has not run on this node`);
    if (latest.info.state !== "running") {
      throw new BadRequestError(`cannot exec in ${what}: it is ${latest.info.state}, not running`);
    }
    this.#wss.handleUpgrade(req, socket, head as Buffer, (ws: WebSocket) => {
      this.#sessions.add(ws);
      ws.once("close", () => this.#sessions.delete(ws));
      this.#run(ws, latest.info.id, request).catch(() => ws.terminate());
    });
  }

  /** Ends every session (their commands are killed). */
  close(): void {
    for (const ws of this.#sessions) ws.terminate();
    this.#wss.close();
  }

  async #run(ws: WebSocket, containerId: string, request: ExecRequest): Promise<void> {
    const v5 = request.protocol === "v5.channel.k8s.io";
    const send = (channel: number, data: Uint8Array) =>
      new Promise<void>((resolve) => {
        if (ws.readyState !== ws.OPEN) return resolve();
        ws.send(frame(channel, data), { binary: true }, () => resolve());
      });
    let session: ExecSession | undefined;
    /** The command's standard input, once it runs; writes and the close are chained in order. */
    const input: { writer?: WritableStreamDefaultWriter<Uint8Array>; chain: Promise<void>; closed: boolean } = {
      chain: Promise.resolve(),
      closed: false,
    };
    let closed = false;
    const early: { channel: number; data: Uint8Array }[] = [];
    const firstSize = Promise.withResolvers<TerminalSize | undefined>();

    const onFrame = (channel: number, data: Uint8Array) => {
      if (!session) {
        if (channel === RESIZE) firstSize.resolve(parseSize(data));
        early.push({ channel, data });
        return;
      }
      switch (channel) {
        case STDIN:
          if (input.writer && !input.closed && data.byteLength > 0) {
            const writer = input.writer;
            input.chain = input.chain.then(() => writer.write(data)).catch(() => {});
          }
          break;
        case CLOSE:
          if (v5 && data[0] === STDIN && input.writer && !input.closed) {
            input.closed = true;
            const writer = input.writer;
            input.chain = input.chain.then(() => writer.close()).catch(() => {});
          }
          break;
        case RESIZE: {
          const size = parseSize(data);
          if (size) session.resize(size).catch(() => {});
          break;
        }
      }
    };
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.byteLength === 0) return;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      onFrame(bytes[0]!, bytes.subarray(1));
    });
    ws.once("close", () => {
      closed = true;
      firstSize.resolve(undefined);
      session?.kill().catch(() => {});
    });

    let size: TerminalSize | undefined;
    if (request.tty) {
      const timer = setTimeout(() => firstSize.resolve(undefined), FIRST_SIZE_WAIT_MS);
      size = await firstSize.promise;
      clearTimeout(timer);
    }
    if (closed) return;
    try {
      session = await this.#runtime.execStream(containerId, request.command, {
        stdin: request.stdin,
        tty: request.tty,
        ...(size ? { terminalSize: size } : {}),
      });
    } catch (error) {
      await send(ERROR, statusBytes(failure(error)));
      ws.close(1000);
      return;
    }
    if (closed) {
      await session.kill();
      return;
    }
    input.writer = session.stdin?.getWriter();
    for (const { channel, data } of early.splice(0)) onFrame(channel, data);

    const pump = async (stream: ReadableStream<Uint8Array>, channel: number, wanted: boolean) => {
      for await (const chunk of stream) {
        if (wanted && chunk.byteLength > 0) await send(channel, chunk);
      }
    };
    const [code] = await Promise.all([
      session.exitCode.then(exitStatus, failure),
      pump(session.stdout, STDOUT, request.stdout || request.tty),
      pump(session.stderr, STDERR, request.stderr),
    ]);
    if (!input.closed) {
      input.closed = true;
      input.writer?.close().catch(() => {});
    }
    await send(ERROR, statusBytes(code));
    if (ws.readyState === ws.OPEN) ws.close(1000);
  }
}

function parseSize(data: Uint8Array): TerminalSize | undefined {
  try {
    const { Width, Height } = JSON.parse(new TextDecoder().decode(data));
    if (Number.isInteger(Width) && Number.isInteger(Height) && Width > 0 && Height > 0) {
      return { width: Math.min(Width, 65535), height: Math.min(Height, 65535) };
    }
  } catch {
    // Not a size: ignored, as the kubelet does.
  }
  return undefined;
}

function failure(error: unknown): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: error instanceof Error ? error.message : String(error),
    reason: "InternalError",
    code: 500,
  };
}

function statusBytes(status: Record<string, unknown>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(status));
}
