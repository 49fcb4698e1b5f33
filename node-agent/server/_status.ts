/**
 * Kubernetes `Status` answers of the agent's server, written on a node
 * response or on a raw connection that was not upgraded.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { ApiError } from "@skiff/api";

/** The Status JSON of `error` (an {@linkcode ApiError}, or any error as a 500). */
export function statusOf(error: unknown): { code: number; body: string } {
  const apiError = error instanceof ApiError
    ? error
    : new ApiError(500, "InternalError", `Internal error: ${error instanceof Error ? error.message : String(error)}`);
  return { code: apiError.code, body: JSON.stringify(apiError.toStatus()) };
}

/** Answers a request with the Status of `error`. */
export function answerError(res: ServerResponse, error: unknown): void {
  const { code, body } = statusOf(error);
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** Answers an upgrade request with the Status of `error` and closes the connection. */
export function refuseUpgrade(socket: Duplex, error: unknown): void {
  const { code, body } = statusOf(error);
  socket.end(
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? "Error"}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
