/**
 * How a fetch-shaped handler accepts a connection upgrade (`pods/exec`
 * over WebSocket): it returns {@linkcode upgradeResponse}, a Response that
 * carries a function taking over the raw connection. `serveHttps` finds it
 * with {@linkcode takeoverOf} and hands the socket over; any other Response
 * to an upgrade request is written as a plain HTTP answer and the
 * connection closed. A caller with no connection to hand over (an
 * in-process client) sees the Response itself: a 400 Status saying the
 * request needs a connection.
 *
 * @module
 */

import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { BadRequestError } from "@skiff/api";

/** Takes over an upgraded connection: the socket, and bytes the client sent after its request head. */
export type UpgradeTakeover = (socket: Duplex, head: Uint8Array) => void;

const takeovers = new WeakMap<Response, UpgradeTakeover>();

/** A Response that, served over a connection, hands the connection to `takeover`. */
export function upgradeResponse(takeover: UpgradeTakeover): Response {
  const status = new BadRequestError(
    "This request upgrades its connection (WebSocket): send it over HTTPS, not through an in-process transport",
  ).toStatus();
  const response = new Response(JSON.stringify(status), {
    status: 400,
    headers: { "content-type": "application/json" },
  });
  takeovers.set(response, takeover);
  return response;
}

/** The takeover a Response carries, if it is an {@linkcode upgradeResponse}. */
export function takeoverOf(response: Response): UpgradeTakeover | undefined {
  return takeovers.get(response);
}

/** Whether a request asks to upgrade to WebSocket (`Connection: Upgrade`, `Upgrade: websocket`). */
export function isWebSocketUpgrade(req: Request): boolean {
  const connection = (req.headers.get("connection") ?? "").toLowerCase().split(",").map((s) => s.trim());
  return connection.includes("upgrade") && (req.headers.get("upgrade") ?? "").toLowerCase() === "websocket";
}

/**
 * Writes an HTTP/1.1 answer on a connection that is not upgraded (a
 * refusal) and closes it.
 */
export function writeHttpAnswer(
  socket: Duplex,
  status: number,
  headers: Iterable<[string, string]>,
  body: Uint8Array,
): void {
  let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n`;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower !== "content-length" && lower !== "connection" && lower !== "transfer-encoding") {
      text += `${name}: ${value}\r\n`;
    }
  }
  text += `content-length: ${body.byteLength}\r\nconnection: close\r\n\r\n`;
  socket.write(text);
  socket.end(body);
}
