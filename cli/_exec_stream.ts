/**
 * The client side of Kubernetes' WebSocket streaming protocol
 * `v5.channel.k8s.io`, as `kubectl exec` speaks it to
 * `/api/v1/namespaces/<ns>/pods/<name>/exec`.
 *
 * Every binary message starts with a channel byte: 0 stdin, 1 stdout,
 * 2 stderr, 3 error (a `Status` object once the command ends: `Success`, or
 * `Failure` with reason `NonZeroExitCode` and the exit code as a cause),
 * 4 resize (`{"Width":…,"Height":…}`), and 255 close (`[255, channel]`:
 * the client has no more stdin, which v5 added).
 *
 * @module
 */

// @ts-types="@types/ws"
import WebSocket from "ws";
import type { IncomingMessage } from "node:http";
import { ApiError, errorFromStatus, ServiceUnavailableError, type Status } from "@skiff/api";

/** The subprotocol spoken. */
export const EXEC_PROTOCOL = "v5.channel.k8s.io";

/** Channel numbers of the protocol. */
export const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** Options of {@linkcode execStream}. */
export interface ExecStreamOptions {
  /** The `wss://…/exec?command=…` URL. */
  url: string;
  /** Bearer token. */
  token?: string;
  /** The only CA to trust. */
  caPem?: string;
  /** Skip verifying the server's certificate. */
  insecure?: boolean;
  /** Standard input to send (with `-i`). */
  stdin?: ReadableStream<Uint8Array>;
  /** Receives standard output. */
  stdout(data: Uint8Array): void;
  /** Receives standard error. */
  stderr(data: Uint8Array): void;
  /** The terminal size to send first and on every change (with `-t`). */
  terminalSize?: () => { columns: number; rows: number } | undefined;
  /** Subscribes to terminal resizes; returns an unsubscribe function. */
  onResize?: (fn: () => void) => () => void;
  /** User-Agent header. */
  userAgent?: string;
}

/** The exit code of the remote command, from the error channel's Status. */
export function exitCodeFromStatus(status: Partial<Status>): number {
  if (status.status === "Success") return 0;
  if (status.reason === "NonZeroExitCode") {
    const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
    const code = Number(cause?.message);
    return Number.isInteger(code) ? code : 1;
  }
  throw errorFromStatus({ code: status.code ?? 500, ...status });
}

function frame(channel: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 1);
  out[0] = channel;
  out.set(data, 1);
  return out;
}

async function failedUpgrade(res: IncomingMessage): Promise<Error> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of res) chunks.push(chunk as Uint8Array);
  const text = new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
  try {
    const status = JSON.parse(text);
    if (status?.kind === "Status") return errorFromStatus({ code: res.statusCode ?? 500, ...status });
  } catch {
    // Not a Status: described below.
  }
  return new ApiError(
    res.statusCode ?? 500,
    "InternalError",
    `exec was refused with HTTP ${res.statusCode}: ${text.slice(0, 200) || res.statusMessage}`,
  );
}

/**
 * Runs the exec session to its end and resolves with the remote command's
 * exit code.
 *
 * @throws {ApiError} when the server refuses the session (the pod or
 * container does not exist, forbidden…) or reports a failure other than
 * an exit code
 */
export function execStream(options: ExecStreamOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const socket = new WebSocket(options.url, [EXEC_PROTOCOL], {
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.userAgent ? { "user-agent": options.userAgent } : {}),
      },
      ...(options.caPem ? { ca: options.caPem } : {}),
      ...(options.insecure ? { rejectUnauthorized: false } : {}),
    });
    let exitCode: number | undefined;
    let failure: unknown;
    let settled = false;
    let stopResize: (() => void) | undefined;
    let stdinReader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      stopResize?.();
      stdinReader?.cancel().catch(() => {});
      if (err !== undefined) reject(err);
      else if (failure !== undefined) reject(failure);
      else resolve(exitCode ?? 0);
    };
    const sendResize = () => {
      const size = options.terminalSize?.();
      if (!size || socket.readyState !== WebSocket.OPEN) return;
      const body = new TextEncoder().encode(JSON.stringify({ Width: size.columns, Height: size.rows }));
      socket.send(frame(Channel.resize, body));
    };
    socket.on("unexpected-response", (_req, res) => {
      failedUpgrade(res).then(finish, finish);
    });
    socket.on("open", () => {
      if (socket.protocol !== EXEC_PROTOCOL) {
        socket.terminate();
        finish(
          new Error(`the server does not speak the exec protocol ${EXEC_PROTOCOL} (it chose "${socket.protocol}")`),
        );
        return;
      }
      if (options.terminalSize) {
        sendResize();
        stopResize = options.onResize?.(sendResize);
      }
      if (options.stdin) {
        const reader = options.stdin.getReader();
        stdinReader = reader;
        (async () => {
          for (;;) {
            const chunk = await reader.read();
            if (chunk.done || socket.readyState !== WebSocket.OPEN) break;
            socket.send(frame(Channel.stdin, chunk.value));
          }
          if (socket.readyState === WebSocket.OPEN) socket.send(new Uint8Array([Channel.close, Channel.stdin]));
        })().catch(() => {});
      }
    });
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (!isBinary || bytes.length === 0) return;
      const payload = bytes.subarray(1);
      switch (bytes[0]) {
        case Channel.stdout:
          if (payload.length > 0) options.stdout(payload);
          break;
        case Channel.stderr:
          if (payload.length > 0) options.stderr(payload);
          break;
        case Channel.error: {
          if (payload.length === 0) break;
          try {
            exitCode = exitCodeFromStatus(JSON.parse(new TextDecoder().decode(payload)));
          } catch (err) {
            failure = err;
          }
          break;
        }
      }
    });
    let opened = false;
    socket.on("open", () => opened = true);
    socket.on("error", (err: Error) => {
      if (settled) return;
      const server = new URL(options.url).origin.replace(/^ws/, "http");
      finish(
        opened
          ? new Error(`the exec session broke: ${err.message}`, { cause: err })
          : new ServiceUnavailableError(`Cannot reach the API server at ${server}: ${err.message}`, { cause: err }),
      );
    });
    socket.on("close", () => finish());
  });
}
