/**
 * `pods/log` and `pods/exec`: the API server checks the request (who may,
 * which pod, which container, which options), then proxies it to the agent
 * of the pod's node, as kube-apiserver does to the kubelet:
 *
 * - `GET …/pods/<name>/log` becomes `GET https://<node>:<port>/containerLogs/<ns>/<pod>/<container>?…`
 *   and the agent's answer is streamed back (`follow` stays open until the
 *   container ends or the client goes);
 * - `GET …/pods/<name>/exec` with a WebSocket upgrade becomes the same
 *   upgrade request to `/exec/<ns>/<pod>/<container>?…`; once the agent
 *   switches protocols the two connections are spliced byte for byte
 *   (the agent speaks `v5.channel.k8s.io` and `v4.channel.k8s.io`). SPDY,
 *   kubectl's older transport, is not served: kubectl 1.30 and later use
 *   WebSocket by default.
 *
 * The node is reached at its InternalIP (else ExternalIP) and
 * `status.daemonEndpoints.kubeletEndpoint.Port`. The API server presents a
 * client certificate (common name `skiff-apiserver`, signed by the cluster
 * CA, renewed 30 days before it expires) and trusts only an agent whose
 * certificate the cluster CA signed for that address and that node's name.
 * Errors before the upgrade are Kubernetes Status objects.
 *
 * @module
 */

import https from "node:https";
import type { IncomingMessage } from "node:http";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { type Duplex, Readable } from "node:stream";
import {
  ApiError,
  APISERVER_CLIENT_COMMON_NAME,
  BadRequestError,
  type Node,
  type Pod,
  ServiceUnavailableError,
} from "@skiff/api";
import { type CertificateAuthority, issueCertificate } from "../pki/mod.ts";
import type { SubresourceHandler } from "./handler.ts";
import type { ObjectStore } from "./object_store.ts";
import type { ServedType } from "./served_type.ts";
import { isWebSocketUpgrade, upgradeResponse, writeHttpAnswer } from "./_upgrade.ts";

/** The agent port when a Node does not report one (the kubelet's). */
const DEFAULT_AGENT_PORT = 10250;
/** How long the API server's client certificate is valid, in days. */
const CLIENT_CERT_DAYS = 365;
/** It is renewed once fewer than this many days remain. */
const CLIENT_RENEW_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
/** How much of an agent's refusal is relayed. */
const REFUSAL_LIMIT_BYTES = 64 * 1024;

/** Options of {@linkcode NodeProxy}. */
export interface NodeProxyOptions {
  /** The cluster CA: it issues the API server's client certificate and is the only CA agents are trusted by. */
  ca: CertificateAuthority;
  /** The Node type, to look nodes up. */
  nodeType: ServedType;
  /** How long to wait for an agent to answer, in ms (default 10000). */
  connectTimeoutMs?: number;
}

/** Where a pod's agent is. */
interface AgentTarget {
  nodeName: string;
  host: string;
  port: number;
}

/** The TLS settings of requests to agents. */
interface ClientTls {
  agent: https.Agent;
  certPem: string;
  keyPem: string;
  renewAt: number;
}

/** Proxies `pods/log` and `pods/exec` to node agents. */
export class NodeProxy {
  readonly #options: NodeProxyOptions;
  readonly #streams = new Set<{ destroy(error?: Error): void }>();
  #tls: Promise<ClientTls> | undefined;

  /** A proxy trusting and presenting certificates of `options.ca`. */
  constructor(options: NodeProxyOptions) {
    this.#options = options;
  }

  /** The subresource handlers, keyed `pods/log` and `pods/exec`. */
  handlers(): Record<string, SubresourceHandler> {
    return {
      "pods/log": (req, { route, type, objects }) => this.#log(req, objects, type, route),
      "pods/exec": (req, { route, type, objects }) => this.#exec(req, objects, type, route),
    };
  }

  /** Ends the log streams being proxied (followed logs end as if the container had stopped). */
  endStreams(): void {
    for (const stream of this.#streams) stream.destroy();
    this.#streams.clear();
  }

  /** Ends the log streams and closes idle connections to agents. */
  close(): void {
    this.endStreams();
    this.#tls?.then((tls) => tls.agent.destroy()).catch(() => {});
  }

  async #log(
    req: Request,
    objects: ObjectStore,
    podType: ServedType,
    route: { namespace: string | undefined; name: string | undefined },
  ): Promise<Response> {
    const pod = await objects.get(podType, route.namespace, route.name!) as Pod;
    const q = new URL(req.url).searchParams;
    const container = containerOf(pod, q.get("container"));
    const query = logQuery(q);
    const previous = query.get("previous") === "true";
    checkLogStatus(pod, container, previous);
    // A container waiting to restart has no run after its last one: that last run is the previous one.
    if (previous && waitingToRestart(pod, container)) query.delete("previous");
    const target = await this.#target(objects, pod);
    return await this.#get(target, `/containerLogs/${agentPath(pod, container)}?${query}`, req.signal);
  }

  async #exec(
    req: Request,
    objects: ObjectStore,
    podType: ServedType,
    route: { namespace: string | undefined; name: string | undefined },
  ): Promise<Response> {
    // The request is checked first, whatever its transport: kubectl falls back to SPDY when the WebSocket upgrade
    // is refused, and then shows the answer to that second request.
    const pod = await objects.get(podType, route.namespace, route.name!) as Pod;
    const q = new URL(req.url).searchParams;
    const container = containerOf(pod, q.get("container"));
    const query = execQuery(q);
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") {
      throw new BadRequestError(`cannot exec into a container in a completed pod; current phase is ${phase}`);
    }
    checkExecStatus(pod, container);
    if (!isWebSocketUpgrade(req)) {
      const upgrade = req.headers.get("upgrade");
      throw new BadRequestError(
        upgrade && /spdy/i.test(upgrade)
          ? "Upgrading to SPDY is not supported: exec is served over WebSocket (v5.channel.k8s.io, v4.channel.k8s.io), which kubectl 1.30 and later use by default"
          : "pods/exec needs a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket, Sec-WebSocket-Protocol: v5.channel.k8s.io)",
      );
    }
    const target = await this.#target(objects, pod);
    const tls = await this.#clientTls();
    const headers: Record<string, string> = {};
    for (const name of ["upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol"]) {
      const value = req.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    headers.connection = "Upgrade";
    const path = `/exec/${agentPath(pod, container)}?${query}`;
    return upgradeResponse((socket, head) => this.#splice(target, tls, { path, headers }, socket, head));
  }

  /** The node agent of `pod`'s node. */
  async #target(objects: ObjectStore, pod: Pod): Promise<AgentTarget> {
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) throw new BadRequestError(`pod ${pod.metadata.name} does not have a host assigned`);
    const node = await objects.find(this.#options.nodeType, undefined, nodeName) as Node | undefined;
    if (!node) {
      throw new ServiceUnavailableError(`Cannot reach the agent of node "${nodeName}": the node is not registered`);
    }
    const addresses = node.status?.addresses ?? [];
    const host = (addresses.find((a) => a.type === "InternalIP") ?? addresses.find((a) => a.type === "ExternalIP"))
      ?.address;
    if (!host) {
      throw new ServiceUnavailableError(
        `Cannot reach the agent of node "${nodeName}": the node reports no InternalIP or ExternalIP address`,
      );
    }
    const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? DEFAULT_AGENT_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ServiceUnavailableError(
        `Cannot reach the agent of node "${nodeName}": it reports port ${port}, not a TCP port`,
      );
    }
    return { nodeName, host, port };
  }

  /**
   * The client certificate and connection pool, issued on first use and
   * renewed before expiry (by the real time: TLS peers check certificates
   * against it, whatever clock the control plane runs on).
   */
  #clientTls(): Promise<ClientTls> {
    const current = this.#tls;
    if (current) {
      return current.then((tls) => {
        if (Date.now() < tls.renewAt || this.#tls !== current) return this.#tls!;
        tls.agent.destroy();
        this.#tls = undefined;
        return this.#clientTls();
      });
    }
    const issued = (async () => {
      const now = Date.now();
      const { certPem, keyPem } = await issueCertificate(this.#options.ca, {
        commonName: APISERVER_CLIENT_COMMON_NAME,
        usages: "client",
        days: CLIENT_CERT_DAYS,
        now: new Date(now),
      });
      const agent = new https.Agent({ keepAlive: true, ca: this.#options.ca.certPem, cert: certPem, key: keyPem });
      return { agent, certPem, keyPem, renewAt: now + (CLIENT_CERT_DAYS - CLIENT_RENEW_DAYS) * DAY_MS };
    })();
    this.#tls = issued;
    issued.catch(() => {
      if (this.#tls === issued) this.#tls = undefined;
    });
    return issued;
  }

  /** TLS options of a request to `target`: the cluster CA, our certificate, the node's address and name. */
  #requestOptions(target: AgentTarget, tls: ClientTls, path: string): https.RequestOptions {
    return {
      host: target.host,
      port: target.port,
      path,
      method: "GET",
      ca: this.#options.ca.certPem,
      cert: tls.certPem,
      key: tls.keyPem,
      checkServerIdentity: (host: string, cert: PeerCertificate) => {
        const wrong = checkServerIdentity(host, cert);
        if (wrong) return wrong;
        const name = cert.subject?.CN;
        if (name !== undefined && name !== target.nodeName) {
          return new Error(`the certificate is node "${name}"'s, not node "${target.nodeName}"'s`);
        }
        return undefined;
      },
    };
  }

  /** GETs `path` from the agent and streams its answer back. */
  async #get(target: AgentTarget, path: string, signal: AbortSignal): Promise<Response> {
    const tls = await this.#clientTls();
    const timeoutMs = this.#options.connectTimeoutMs ?? 10_000;
    return await new Promise<Response>((resolve, reject) => {
      const upstream = https.request({ ...this.#requestOptions(target, tls, path), agent: tls.agent }, (res) => {
        this.#streams.add(res);
        res.once("close", () => this.#streams.delete(res));
        clearTimeout(timer);
        const status = res.statusCode ?? 502;
        if (status >= 400) {
          refusal(res).then((answer) => resolve(answer), reject);
          return;
        }
        resolve(
          new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, {
            status,
            headers: { "content-type": String(res.headers["content-type"] ?? "text/plain") },
          }),
        );
      });
      const timer = setTimeout(() => {
        upstream.destroy(new Error(`no answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      upstream.on("error", (error) => {
        clearTimeout(timer);
        reject(unreachable(target, error));
      });
      const abort = () => upstream.destroy(new Error("the client went away"));
      if (signal.aborted) abort();
      signal.addEventListener("abort", abort, { once: true });
      upstream.on("close", () => signal.removeEventListener("abort", abort));
      upstream.end();
    });
  }

  /**
   * Sends the upgrade request to the agent; once it switches protocols,
   * relays its answer to the client and splices the two connections; a
   * refusal or a failure is written to the client as a Status.
   */
  #splice(
    target: AgentTarget,
    tls: ClientTls,
    request: { path: string; headers: Record<string, string> },
    client: Duplex,
    head: Uint8Array,
  ): void {
    const timeoutMs = this.#options.connectTimeoutMs ?? 10_000;
    const upstream = https.request({
      ...this.#requestOptions(target, tls, request.path),
      headers: request.headers,
      agent: false,
    });
    let settled = false;
    const timer = setTimeout(() => upstream.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    const clientGone = () => {
      if (!settled) upstream.destroy();
    };
    client.on("error", clientGone);
    client.once("close", clientGone);
    upstream.on("upgrade", (res: IncomingMessage, agentSocket: Duplex, agentHead: Uint8Array) => {
      settled = true;
      clearTimeout(timer);
      client.off("close", clientGone);
      let text = "HTTP/1.1 101 Switching Protocols\r\n";
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
        text += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      }
      client.write(`${text}\r\n`);
      if (agentHead.byteLength > 0) client.write(agentHead);
      if (head.byteLength > 0) agentSocket.write(head);
      agentSocket.on("error", () => client.destroy());
      client.on("error", () => agentSocket.destroy());
      agentSocket.once("close", () => client.destroy());
      client.once("close", () => agentSocket.destroy());
      agentSocket.pipe(client);
      client.pipe(agentSocket);
    });
    upstream.on("response", (res: IncomingMessage) => {
      settled = true;
      clearTimeout(timer);
      refusal(res).then(async (answer) => {
        const body = new Uint8Array(await answer.arrayBuffer());
        writeHttpAnswer(client, answer.status, answer.headers, body);
      }).catch(() => client.destroy());
    });
    upstream.on("error", (error) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      const status = unreachable(target, error);
      writeHttpAnswer(
        client,
        status.code,
        [["content-type", "application/json"]],
        new TextEncoder().encode(JSON.stringify(status.toStatus())),
      );
    });
    upstream.end();
  }
}

/** `<ns>/<pod>/<container>`, each part escaped. */
function agentPath(pod: Pod, container: string): string {
  return [pod.metadata.namespace ?? "default", pod.metadata.name ?? "", container].map((part) =>
    encodeURIComponent(part)
  )
    .join("/");
}

/** The container a request is for: the one named, or the pod's only one. */
export function containerOf(pod: Pod, requested: string | null): string {
  const name = pod.metadata.name;
  const containers = (pod.spec?.containers ?? []).map((c) => c.name);
  const init = (pod.spec?.initContainers ?? []).map((c) => c.name);
  if (requested !== null && requested !== "") {
    if (containers.includes(requested) || init.includes(requested)) return requested;
    throw new BadRequestError(`container ${requested} is not valid for pod ${name}`);
  }
  if (containers.length === 1) return containers[0]!;
  throw new BadRequestError(
    `a container name must be specified for pod ${name}, choose one of: [${containers.join(" ")}]${
      init.length > 0 ? ` or one of the init containers: [${init.join(" ")}]` : ""
    }`,
  );
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** A boolean query parameter as Go's strconv.ParseBool reads it; absent is false. */
function boolParam(q: URLSearchParams, name: string): boolean {
  const value = q.get(name);
  if (value === null || value === "") return false;
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new BadRequestError(`Invalid ${name} "${value.slice(0, 50)}": expected true or false`);
}

/** An integer query parameter of at least `min`; absent is undefined. */
function intParam(q: URLSearchParams, name: string, min: number): number | undefined {
  const value = q.get(name);
  if (value === null || value === "") return undefined;
  if (!/^-?\d{1,15}$/.test(value) || Number(value) < min) {
    throw new BadRequestError(`Invalid ${name} "${value.slice(0, 50)}": expected a whole number of at least ${min}`);
  }
  return Number(value);
}

/** The query of a log request to the agent, checked as Kubernetes checks PodLogOptions. */
export function logQuery(q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  for (const name of ["follow", "previous", "timestamps"]) {
    if (boolParam(q, name)) out.set(name, "true");
  }
  const tailLines = intParam(q, "tailLines", 0);
  if (tailLines !== undefined) out.set("tailLines", String(tailLines));
  const limitBytes = intParam(q, "limitBytes", 1);
  if (limitBytes !== undefined) out.set("limitBytes", String(limitBytes));
  const sinceSeconds = intParam(q, "sinceSeconds", 1);
  const sinceTime = q.get("sinceTime");
  if (sinceSeconds !== undefined && sinceTime) {
    throw new BadRequestError("Invalid log options: at most one of sinceTime or sinceSeconds may be specified");
  }
  if (sinceSeconds !== undefined) out.set("sinceSeconds", String(sinceSeconds));
  if (sinceTime) {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(sinceTime) || isNaN(Date.parse(sinceTime))) {
      throw new BadRequestError(`Invalid sinceTime "${sinceTime.slice(0, 50)}": expected an RFC 3339 time`);
    }
    out.set("sinceTime", sinceTime);
  }
  return out;
}

/** The query of an exec request to the agent, checked as Kubernetes checks PodExecOptions. */
export function execQuery(q: URLSearchParams): URLSearchParams {
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
  const out = new URLSearchParams();
  for (const arg of command) out.append("command", arg);
  out.set("stdin", String(stdin));
  out.set("stdout", String(stdout));
  out.set("stderr", String(stderr));
  out.set("tty", String(tty));
  return out;
}

/** Refuses, as the kubelet does, logs of a container that never ran, or a previous run that does not exist. */
function checkLogStatus(pod: Pod, container: string, previous: boolean): void {
  const statuses = [...pod.status?.containerStatuses ?? [], ...pod.status?.initContainerStatuses ?? []];
  const status = statuses.find((s) => s.name === container);
  const name = pod.metadata.name;
  if (!status) return;
  const lastTerminated = status.lastState?.terminated;
  if (previous) {
    if (!lastTerminated) {
      throw new BadRequestError(`previous terminated container "${container}" in pod "${name}" not found`);
    }
    return;
  }
  const waiting = status.state?.waiting;
  if (waiting && !lastTerminated && !status.state?.running && !status.state?.terminated) {
    const reason = waiting.reason ?? "ContainerCreating";
    const why = reason === "ErrImagePull"
      ? "image can't be pulled"
      : reason === "ImagePullBackOff"
      ? "trying and failing to pull image"
      : reason;
    throw new BadRequestError(`container "${container}" in pod "${name}" is waiting to start: ${why}`);
  }
}

/**
 * Refuses an exec in a container that the pod's status says is not
 * running: the agent would refuse it too, but kubectl, once the WebSocket
 * upgrade is refused, retries over SPDY and shows that answer instead.
 */
function checkExecStatus(pod: Pod, container: string): void {
  const statuses = [...pod.status?.containerStatuses ?? [], ...pod.status?.initContainerStatuses ?? []];
  const state = statuses.find((s) => s.name === container)?.state;
  if (!state || state.running) return;
  const why = state.waiting
    ? `it is waiting (${state.waiting.reason ?? "ContainerCreating"})`
    : `it has terminated (${state.terminated?.reason ?? "Completed"})`;
  throw new BadRequestError(`cannot exec in container "${container}" of pod "${pod.metadata.name}": ${why}`);
}

/** Whether the container is waiting to start again after a run that ended (CrashLoopBackOff). */
function waitingToRestart(pod: Pod, container: string): boolean {
  const statuses = [...pod.status?.containerStatuses ?? [], ...pod.status?.initContainerStatuses ?? []];
  const status = statuses.find((s) => s.name === container);
  return status?.state?.waiting !== undefined && status.lastState?.terminated !== undefined;
}

/** An agent's error answer as a Response: its Status when it sent one, else one saying what it said. */
async function refusal(res: IncomingMessage): Promise<Response> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res) {
    const bytes = chunk as Uint8Array;
    if (size < REFUSAL_LIMIT_BYTES) chunks.push(bytes);
    size += bytes.byteLength;
  }
  const text = new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
  const status = res.statusCode ?? 502;
  try {
    const parsed = JSON.parse(text);
    if (parsed?.kind === "Status") {
      return new Response(JSON.stringify(parsed), { status, headers: { "content-type": "application/json" } });
    }
  } catch {
    // Not a Status: wrapped below.
  }
  const error = new ApiError(
    status,
    status === 404 ? "NotFound" : status < 500 ? "BadRequest" : "InternalError",
    `The node agent answered HTTP ${status}: ${text.trim().slice(0, 500) || res.statusMessage}`,
  );
  return new Response(JSON.stringify(error.toStatus()), { status, headers: { "content-type": "application/json" } });
}

/** Why an agent could not be reached, as a 503 naming the node, its address and what to check. */
function unreachable(target: AgentTarget, error: Error): ApiError {
  const code = (error as { code?: string }).code;
  const where = `the agent of node "${target.nodeName}" at https://${
    target.host.includes(":") ? `[${target.host}]` : target.host
  }:${target.port}`;
  let why = error.message;
  if (code === "ECONNREFUSED") why = "connection refused; check that the agent runs and serves on that port";
  else if (
    /certificate|self.signed|issuer|CertNotValidForName|UnknownIssuer|altnames|node ".*"'s/i.test(error.message)
  ) {
    why = `its certificate is not trusted: ${error.message}; the agent gets one from the API server at start`;
  }
  return new ServiceUnavailableError(`Cannot reach ${where}: ${why}`, { cause: error });
}
