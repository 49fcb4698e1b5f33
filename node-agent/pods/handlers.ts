/**
 * Runs a probe or lifecycle hook action against a container, as the
 * kubelet does: `exec` through the runtime, `httpGet` and `tcpSocket` to
 * the pod's address (the agent runs in the node's network namespace, where
 * pod addresses are routed), `grpc` with the standard health-checking
 * protocol, `sleep` on the agent's clock. Each gives success or failure and
 * the output the kubelet would put in its event.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import type { Container, IntOrString, LifecycleHandler, Probe } from "@skiff/api";
import type { Runtime } from "../runtime/mod.ts";

/** What an action runs against. */
export interface HandlerTarget {
  /** The runtime, for `exec`. */
  runtime: Runtime;
  /** The container's id in the runtime. */
  containerId: string;
  /** The container's spec, for named ports. */
  container: Container;
  /** The pod's address, the default host of `httpGet`, `tcpSocket` and `grpc`. */
  podIP: string | undefined;
  /** How long the action may take, in ms. */
  timeoutMs: number;
  /** Waits `ms` (for `sleep`), on the agent's clock. */
  sleep?: (ms: number) => Promise<void>;
}

/** The outcome of an action. */
export interface HandlerResult {
  /** Whether it succeeded. */
  success: boolean;
  /** What it said (command output, HTTP status, error), for events. */
  output: string;
}

/** The User-Agent of HTTP probes, as the kubelet's `kube-probe/<version>`. */
export const PROBE_USER_AGENT = "kube-probe/1.32";

/**
 * Resolves a probe port: a number, or the name of one of the container's ports.
 *
 * @throws {TypeError} for a name the container does not declare or a number out of range.
 */
export function resolvePort(port: IntOrString, container: Container): number {
  if (typeof port === "number" || /^\d+$/.test(port)) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new TypeError(`Invalid port ${port}: expected 1 to 65535`);
    return n;
  }
  const found = container.ports?.find((p) => p.name === port);
  if (!found) throw new TypeError(`Port name "${port}" is not one of container "${container.name}"'s ports`);
  return found.containerPort;
}

function hostOf(host: string | undefined, target: HandlerTarget): string {
  const chosen = host || target.podIP;
  if (!chosen) throw new TypeError("The pod has no address yet");
  return chosen;
}

/** Runs `action` against the target. Never throws: a problem is a failure with its message. */
export async function runHandler(action: Probe | LifecycleHandler, target: HandlerTarget): Promise<HandlerResult> {
  try {
    if (action.exec) return await runExec(action.exec.command ?? [], target);
    if (action.httpGet) return await runHttpGet(action.httpGet, target);
    if (action.tcpSocket) return await runTcp(hostOf(action.tcpSocket.host, target), action.tcpSocket.port, target);
    if ("grpc" in action && action.grpc) return await runGrpc(action.grpc, target);
    if ("sleep" in action && action.sleep) {
      const ms = Math.max(0, action.sleep.seconds) * 1000;
      await (target.sleep ?? ((t) => new Promise((resolve) => setTimeout(resolve, t))))(ms);
      return { success: true, output: "" };
    }
    return { success: false, output: "the action has none of exec, httpGet, tcpSocket, grpc or sleep" };
  } catch (error) {
    return { success: false, output: error instanceof Error ? error.message : String(error) };
  }
}

async function runExec(command: string[], target: HandlerTarget): Promise<HandlerResult> {
  if (command.length === 0) return { success: false, output: "exec has an empty command" };
  const result = await target.runtime.exec(target.containerId, command, { timeoutMs: target.timeoutMs });
  if (result.timedOut) {
    return { success: false, output: `command "${command.join(" ")}" timed out after ${target.timeoutMs / 1000}s` };
  }
  const output = (result.stdout + result.stderr).trim();
  return { success: result.exitCode === 0, output };
}

async function runHttpGet(action: NonNullable<Probe["httpGet"]>, target: HandlerTarget): Promise<HandlerResult> {
  const scheme = (action.scheme ?? "HTTP").toUpperCase();
  const host = hostOf(action.host, target);
  const port = resolvePort(action.port, target.container);
  const path = action.path ? (action.path.startsWith("/") ? action.path : `/${action.path}`) : "/";
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const url = `${scheme.toLowerCase()}://${hostPart}:${port}${path}`;
  const headers: Record<string, string> = { "User-Agent": PROBE_USER_AGENT, Accept: "*/*" };
  for (const header of action.httpHeaders ?? []) headers[header.name] = header.value;
  const send = scheme === "HTTPS" ? httpsRequest : httpRequest;
  return await new Promise<HandlerResult>((resolve) => {
    const req = send(url, {
      method: "GET",
      headers,
      agent: false,
      timeout: target.timeoutMs,
      ...(scheme === "HTTPS" ? { rejectUnauthorized: false } : {}),
    }, (res) => {
      const code = res.statusCode ?? 0;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < 10240) body += chunk;
      });
      res.on("end", () => {
        if (code >= 200 && code < 400) resolve({ success: true, output: body.slice(0, 10240) });
        else resolve({ success: false, output: `HTTP probe failed with statuscode: ${code}` });
      });
      res.on("error", (error) => resolve({ success: false, output: `Get "${url}": ${error.message}` }));
    });
    req.on("timeout", () => {
      req.destroy(new Error(`context deadline exceeded (Client.Timeout exceeded while awaiting headers)`));
    });
    req.on("error", (error) => resolve({ success: false, output: `Get "${url}": ${error.message}` }));
    req.end();
  });
}

async function runTcp(host: string, portSpec: IntOrString, target: HandlerTarget): Promise<HandlerResult> {
  const port = resolvePort(portSpec, target.container);
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connecting = Deno.connect({ hostname: host, port });
  const timeout = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), target.timeoutMs));
  try {
    const outcome = await Promise.race([connecting, timeout]);
    if (outcome === "timeout") {
      connecting.then((conn) => conn.close(), () => {});
      return { success: false, output: `dial tcp ${address}: i/o timeout` };
    }
    outcome.close();
    return { success: true, output: "" };
  } catch (error) {
    return { success: false, output: `dial tcp ${address}: ${error instanceof Error ? error.message : error}` };
  } finally {
    clearTimeout(timer);
  }
}

/** `grpc.health.v1.HealthCheckResponse.ServingStatus` names. */
const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

function encodeHealthCheckRequest(service: string): Buffer {
  const bytes = new TextEncoder().encode(service);
  if (bytes.length === 0) return Buffer.alloc(0);
  const length: number[] = [];
  let n = bytes.length;
  while (n > 0x7f) {
    length.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  length.push(n);
  return Buffer.from([0x0a, ...length, ...bytes]);
}

function decodeServingStatus(buffer: Buffer): number {
  let i = 0;
  while (i < buffer.length) {
    const tag = buffer[i++]!;
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = buffer[i++] ?? 0;
      value |= (byte & 0x7f) << shift;
      shift += 7;
      if (!(byte & 0x80) || i >= buffer.length) break;
    }
    if (tag === 0x08) return value;
  }
  return 0;
}

async function runGrpc(action: NonNullable<Probe["grpc"]>, target: HandlerTarget): Promise<HandlerResult> {
  const host = hostOf(undefined, target);
  const address = `${host.includes(":") ? `[${host}]` : host}:${action.port}`;
  const client = new Client(address, credentials.createInsecure());
  try {
    return await new Promise<HandlerResult>((resolve) => {
      client.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        encodeHealthCheckRequest,
        decodeServingStatus,
        action.service ?? "",
        new Metadata(),
        { deadline: Date.now() + target.timeoutMs },
        (error, status) => {
          if (error) {
            resolve({ success: false, output: `failed to call health check of "${address}": ${error.details}` });
          } else if (status === 1) {
            resolve({ success: true, output: "" });
          } else {
            resolve({
              success: false,
              output: `service unhealthy (responded with "${SERVING_STATUS[status ?? 0] ?? status}")`,
            });
          }
        },
      );
    });
  } finally {
    client.close();
  }
}
