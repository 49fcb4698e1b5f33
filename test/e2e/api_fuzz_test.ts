/**
 * Thousands of malformed and hostile requests over real HTTPS to a started
 * control plane (its own process): the server must answer every one with a
 * Kubernetes Status (never a 5xx, never silence), and still work afterwards.
 *
 * Randomness is seeded: the seed is printed, and `SKIFF_FUZZ_SEED=<seed>`
 * replays a run; `SKIFF_FUZZ_COUNT` sets how many requests (default 3000).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadKubeconfig } from "@skiff/client";
import { createTempDir } from "../support/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHILD = `
import { startControlPlane } from "@skiff/control-plane";
const plane = await startControlPlane({ dataDir: Deno.args[0], port: 0, bind: "127.0.0.1", log: () => {} });
console.log(JSON.stringify({ url: plane.url }));
Deno.addSignalListener("SIGTERM", () => plane.stop().then(() => Deno.exit(0)));
`;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

const WEIRD_STRINGS = [
  "",
  " ",
  "..",
  ".",
  "../../etc/passwd",
  "%2e%2e%2f",
  "a/b",
  "a%2Fb",
  "\u0000",
  "nul\u0000byte",
  "\u202eevil",
  "\ufeffbom",
  "😀",
  "名前",
  "İ",
  "a".repeat(254),
  "a".repeat(5000),
  "-leading",
  "trailing-",
  "UPPER",
  "with space",
  "tab\there",
  "new\nline",
  "semi;colon",
  "$(rm -rf /)",
  "'; DROP TABLE log; --",
  "\\",
  '"quoted"',
  "__proto__",
  "constructor",
  "toString",
  "\ud800",
  "\udfff",
  "𝕏".repeat(100),
];
const WEIRD_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  2 ** 53 + 1,
  Number.MAX_SAFE_INTEGER,
  [],
  {},
  [null],
  { "": "" },
  "string",
  "1e3",
  "500m",
  "-1Gi",
  JSON.parse('{"__proto__": {"polluted": true}}'),
];
const NUMBER_LITERALS = [
  "1e400",
  "-1e400",
  "18446744073709551616",
  "-0",
  "1e-400",
  "0.0000000001",
  "123456789012345678901234567890",
];

const TYPES = [
  ["/api/v1", "pods", "Pod", "v1"],
  ["/api/v1", "configmaps", "ConfigMap", "v1"],
  ["/api/v1", "secrets", "Secret", "v1"],
  ["/api/v1", "services", "Service", "v1"],
  ["/api/v1", "events", "Event", "v1"],
  ["/api/v1", "endpoints", "Endpoints", "v1"],
  ["/api/v1", "persistentvolumeclaims", "PersistentVolumeClaim", "v1"],
  ["/api/v1", "bindings", "Binding", "v1"],
  ["/apis/apps/v1", "deployments", "Deployment", "apps/v1"],
  ["/apis/apps/v1", "statefulsets", "StatefulSet", "apps/v1"],
  ["/apis/apps/v1", "daemonsets", "DaemonSet", "apps/v1"],
  ["/apis/apps/v1", "replicasets", "ReplicaSet", "apps/v1"],
  ["/apis/coordination.k8s.io/v1", "leases", "Lease", "coordination.k8s.io/v1"],
  ["/apis/discovery.k8s.io/v1", "endpointslices", "EndpointSlice", "discovery.k8s.io/v1"],
] as const;
const CLUSTER_TYPES = [
  ["/api/v1", "namespaces", "Namespace", "v1"],
  ["/api/v1", "nodes", "Node", "v1"],
  ["/api/v1", "persistentvolumes", "PersistentVolume", "v1"],
  ["/apis/storage.k8s.io/v1", "storageclasses", "StorageClass", "storage.k8s.io/v1"],
] as const;

/** A plausible object of a kind, for mutation into implausible ones. */
function sample(kind: string, apiVersion: string, name: string): Record<string, unknown> {
  const containers = [{ name: "c", image: "busybox:latest", ports: [{ containerPort: 80 }] }];
  const template = { metadata: { labels: { app: name } }, spec: { containers } };
  const specs: Record<string, unknown> = {
    Pod: { containers },
    Deployment: { replicas: 1, selector: { matchLabels: { app: name } }, template },
    StatefulSet: { replicas: 1, serviceName: name, selector: { matchLabels: { app: name } }, template },
    DaemonSet: { selector: { matchLabels: { app: name } }, template },
    ReplicaSet: { replicas: 1, selector: { matchLabels: { app: name } }, template },
    Service: { selector: { app: name }, ports: [{ port: 80 }] },
    PersistentVolumeClaim: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    Lease: { holderIdentity: name, leaseDurationSeconds: 40 },
  };
  const obj: Record<string, unknown> = { apiVersion, kind, metadata: { name, labels: { app: name } } };
  if (specs[kind]) obj.spec = specs[kind];
  if (kind === "ConfigMap" || kind === "Secret") obj.data = { key: kind === "Secret" ? "dmFsdWU=" : "value" };
  if (kind === "Binding") obj.target = { kind: "Node", name: "node-1" };
  if (kind === "StorageClass") obj.provisioner = "local.csi.skiff.dev";
  if (kind === "Event") obj.involvedObject = { kind: "Pod", name };
  if (kind === "EndpointSlice") Object.assign(obj, { addressType: "IPv4", endpoints: [] });
  return obj;
}

/** Replaces random nodes of a JSON value with values of the wrong type, each with probability `rate`. */
function mutate(rng: Rng, value: unknown, rate: number, depth = 0): unknown {
  if (depth > 0 && rng.chance(rate)) return rng.chance(0.5) ? rng.pick(WEIRD_VALUES) : rng.pick(WEIRD_STRINGS);
  if (Array.isArray(value)) return value.map((v) => mutate(rng, v, rate, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (rng.chance(rate / 3)) continue;
      out[rng.chance(rate / 5) ? rng.pick(WEIRD_STRINGS) : k] = mutate(rng, v, rate, depth + 1);
    }
    if (rng.chance(0.1)) out[rng.pick(WEIRD_STRINGS)] = rng.pick(WEIRD_VALUES);
    return out;
  }
  return value;
}

function nested(rng: Rng, depth: number): string {
  const open = rng.chance(0.5) ? "[" : '{"a":';
  const close = open === "[" ? "]" : "}";
  return open.repeat(depth) + "1" + close.repeat(depth);
}

function yamlBomb(rng: Rng): string {
  const width = 5 + rng.int(6);
  let text = `a: &a [${Array(width).fill('"lol"').join(",")}]\n`;
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    text += `${cur}: &${cur} [${Array(width).fill(`*${prev}`).join(",")}]\n`;
  }
  return text;
}

const YAML_ODDITIES = [
  "!!binary aGVsbG8=",
  "key: !!js/function 'function(){}'",
  "? [complex, key]\n: value",
  "a: *undefined_alias",
  "%YAML 1.1\n---\na: b",
  "a: 1\n---\nb: 2",
  "---\n...\n---\n",
  "a:\n\t- tab indent",
  "a: 'unterminated",
  "<<: {merge: key}",
  "a: 0x1F\nb: 0o17\nc: .inf\nd: .nan\ne: ~",
  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n  name: z",
];

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/yaml",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/json-patch+json",
  "application/apply-patch+yaml",
  "application/vnd.kubernetes.protobuf",
  "text/plain",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "",
  ";;;",
  "application/json; charset=latin1",
  "APPLICATION/JSON",
  "*/*",
];
const ACCEPTS = [
  "application/json",
  "application/yaml",
  "application/json;as=Table;v=v1;g=meta.k8s.io",
  "application/json;as=Table;v=v1;g=evil.io",
  "application/vnd.kubernetes.protobuf",
  "text/html",
  "*/*",
  ";q=;;as=",
  "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
];
const QUERY_KEYS = [
  "labelSelector",
  "fieldSelector",
  "limit",
  "continue",
  "resourceVersion",
  "resourceVersionMatch",
  "timeoutSeconds",
  "watch",
  "dryRun",
  "fieldManager",
  "fieldValidation",
  "force",
  "gracePeriodSeconds",
  "propagationPolicy",
  "orphanDependents",
  "includeObject",
  "allowWatchBookmarks",
  "pretty",
  "sendInitialEvents",
  "__proto__",
];
const QUERY_VALUES = [
  "",
  "0",
  "-1",
  "1",
  "99999999999999999999",
  "NaN",
  "true",
  "All",
  "Strict",
  "Exact",
  "a=b,c!=d,e in (f,g),!h",
  "((((",
  "a in",
  "=",
  "!",
  "metadata.name=x",
  "spec.bogus=1",
  "status.phase==Running,metadata.namespace!=",
  "eyJhbGciOiJub25lIn0",
  btoa('{"prefix":"/registry/","revision":1,"lastKey":"../../x"}'),
  "%00",
  "\u0000",
  "😀",
  "x".repeat(3000),
];
// TRACE and CONNECT, which fetch refuses to send, and headers past Node's limit, after which Node answers 431 and
// closes the connection under the request, go over raw sockets below.
const METHODS = ["GET", "GET", "GET", "POST", "POST", "PUT", "PATCH", "PATCH", "DELETE", "HEAD", "OPTIONS", "PURGE"];

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Without a token, to exercise authentication. */
  anonymous: boolean;
}

function makeRequest(rng: Rng, made: string[]): FuzzRequest {
  const namespaced = rng.chance(0.75);
  const [root, plural, kind, apiVersion] = namespaced ? rng.pick(TYPES) : rng.pick(CLUSTER_TYPES);
  // Not kube-system: an admin may delete every Secret there, the admin token's too, and the health check needs it.
  const ns = rng.chance(0.7) ? rng.pick(["default", "fuzz"]) : rng.pick(WEIRD_STRINGS);
  const name = rng.chance(0.5)
    ? `fz-${rng.int(50)}`
    : rng.chance(0.5)
    ? rng.pick(made) ?? "x"
    : rng.pick(WEIRD_STRINGS);
  const segment = (s: string) => {
    if (rng.chance(0.2)) return s.replace(/[\s#?]/g, "");
    try {
      return encodeURIComponent(s);
    } catch {
      return "%ED%A0%80"; // A lone surrogate: percent-encoded bytes that are not UTF-8.
    }
  };
  let path = namespaced ? `${root}/namespaces/${segment(ns)}/${plural}` : `${root}/${plural}`;
  // Half the requests are plausible writes (a fitting method, path and content type), so that their bodies get
  // past routing and decoding into defaulting, validation, admission and the patch engines.
  const plausible = rng.chance(0.5);
  const method = plausible ? rng.pick(["POST", "PUT", "PATCH", "PATCH"]) : rng.pick(METHODS);
  const named = plausible ? method !== "POST" : rng.chance(0.6);
  if (named) path += `/${segment(name)}`;
  if (named && rng.chance(plausible ? 0.1 : 0.2)) {
    path += `/${rng.pick(["status", "scale", "binding", "eviction", "log", "exec", "finalize", "proxy", "..", "x/y"])}`;
  }
  if (!plausible && rng.chance(0.05)) {
    path = rng.pick([
      "/",
      "/api",
      "/apis/apps",
      "/openapi/v3/apis/x/y",
      "/../../etc",
      "/api/v1/../../x",
      "/healthz/../api/v1/secrets",
      "/%2e%2e/api",
      "/api/v1/namespaces/default/pods/..%2f..%2fsecrets",
    ]);
  }
  const query = new URLSearchParams();
  for (let i = rng.int(4); i > 0; i--) query.append(rng.pick(QUERY_KEYS), rng.pick(QUERY_VALUES));
  if (query.get("watch") === "true" || query.get("watch") === "1") query.set("timeoutSeconds", "1");
  const qs = query.toString();
  const headers: Record<string, string> = {};
  if (plausible) {
    headers["content-type"] = method === "PATCH"
      ? rng.pick(CONTENT_TYPES.filter((t) => t.includes("patch")))
      : rng.pick(["application/json", "application/yaml"]);
  } else if (rng.chance(0.7)) headers["content-type"] = rng.pick(CONTENT_TYPES);
  if (rng.chance(0.5)) headers.accept = rng.pick(ACCEPTS);
  if (rng.chance(0.03)) headers["x-large"] = "h".repeat(1000 + rng.int(10_000));
  if (rng.chance(0.05)) headers["user-agent"] = rng.pick(WEIRD_STRINGS).replace(/[^\x20-\x7e]/g, "?");
  let body: string | Uint8Array | undefined;
  if (method !== "GET" && method !== "HEAD" && rng.chance(0.9)) {
    const doc = sample(kind, apiVersion, named ? name : `fz-${rng.int(50)}`);
    switch (plausible && rng.chance(0.6) ? 11 : rng.int(12)) {
      case 0:
        body = JSON.stringify(doc).slice(0, 1 + rng.int(JSON.stringify(doc).length - 1));
        break;
      case 1:
        body = nested(rng, rng.pick([50, 101, 500, 5000, 100_000]));
        break;
      case 2:
        body = yamlBomb(rng);
        headers["content-type"] = rng.pick(["application/yaml", "application/apply-patch+yaml"]);
        break;
      case 3:
        body = rng.pick(YAML_ODDITIES);
        break;
      case 4:
        body = JSON.stringify(doc).replace(/\d+/, rng.pick(NUMBER_LITERALS));
        break;
      case 5:
        body = new Uint8Array(Array.from({ length: 1 + rng.int(200) }, () => rng.int(256)));
        break;
      case 6:
        body = JSON.stringify([{
          op: rng.pick(["add", "remove", "replace", "move", "copy", "test", "nope"]),
          path: rng.pick([
            "/metadata/name",
            "/spec/replicas",
            "/a/b/c",
            "",
            "/",
            "/~2",
            "/metadata/labels/x~1y",
            "/__proto__/x",
          ]),
          value: rng.pick(WEIRD_VALUES),
          from: rng.pick(WEIRD_STRINGS),
        }]);
        break;
      case 7:
        body = '{"metadata":{"name":"a","name":"b"},"kind":"' + kind + '","kind":"Pod"}';
        break;
      default:
        body = JSON.stringify(mutate(rng, doc, rng.pick([0.02, 0.05, 0.15, 0.3])));
    }
  }
  return {
    method,
    path: qs ? `${path}?${qs}` : path,
    headers,
    ...(body !== undefined ? { body } : {}),
    anonymous: rng.chance(0.05),
  };
}

/** Raw HTTP/1.1 over TLS, for what fetch cannot send: truncated bodies, broken framing, bad request lines. */
async function raw(
  host: string,
  port: number,
  caPem: string,
  request: Uint8Array,
  halfClose: boolean,
): Promise<string> {
  const conn = await Deno.connectTls({ hostname: host, port, caCerts: [caPem] });
  try {
    try {
      await conn.write(request);
      if (halfClose) await conn.closeWrite();
    } catch {
      // The server answered and closed before reading everything (headers past its limit): read the answer.
    }
    const buffer = new Uint8Array(4096);
    let text = "";
    const deadline = Date.now() + 15_000;
    while (!text.includes("\r\n\r\n")) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("No answer within 15 s");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        // The server may close without a TLS close_notify (it destroys the socket after an error): that is an end.
        conn.read(buffer).catch((err: Error) => err),
        new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (n === "timeout") continue;
      if (n === null || n instanceof Error) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return text;
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed by the server.
    }
  }
}

Deno.test({
  name: "the API server answers thousands of hostile requests with 4xx Status objects and stays healthy",
  sanitizeResources: false,
  fn: async () => {
    const seed = Number(Deno.env.get("SKIFF_FUZZ_SEED") ?? crypto.getRandomValues(new Uint32Array(1))[0]);
    const count = Number(Deno.env.get("SKIFF_FUZZ_COUNT") ?? 3000);
    console.log(`fuzz seed ${seed} (replay: SKIFF_FUZZ_SEED=${seed}), ${count} requests`);
    const rng = prng(seed);
    await using tmp = await createTempDir({ prefix: "skiff-fuzz-" });
    const server = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--config", join(ROOT, "deno.json"), "--ext=ts", CHILD, tmp.join("data")],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderrText = new Response(server.stderr).text();
    const stdout = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let first = "";
    while (!first.includes("\n")) {
      const chunk = await stdout.read();
      if (chunk.done) throw new Error(`The control plane did not start: ${await stderrText}`);
      first += chunk.value;
    }
    const { url } = JSON.parse(first.split("\n")[0]!);
    const config = await loadKubeconfig({ kubeconfig: tmp.join("data", "admin.kubeconfig") });
    const client = Deno.createHttpClient({ caCerts: [config.caPem!] });
    const { hostname, port } = new URL(url);
    const statuses = new Map<number, number>();
    const problems: string[] = [];
    const made: string[] = ["fz-1"];
    try {
      const auth = { authorization: `Bearer ${config.token}` };
      await fetch(`${url}/api/v1/namespaces`, {
        method: "POST",
        client,
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "fuzz" } }),
      }).then((r) => r.body?.cancel());

      let index = 0;
      const worker = async () => {
        while (index < count) {
          const i = index++;
          const req = makeRequest(rng, made);
          const body = typeof req.body === "string" ? req.body : req.body ? `${req.body.byteLength} bytes` : "";
          const describe = `#${i} ${req.method} ${req.path.slice(0, 200)} ${
            JSON.stringify(req.headers).slice(0, 200)
          } ${JSON.stringify(body.slice(0, 600))}`;
          // Past Node's 16 KiB of request line and headers, it answers 431 and closes the connection, which fetch
          // may report as an error instead of the answer.
          const headerBytes = req.path.length + Object.values(req.headers).join("").length;
          try {
            const res = await fetch(`${url}${req.path}`, {
              method: req.method,
              client,
              headers: { ...(req.anonymous ? {} : auth), ...req.headers },
              ...(req.body !== undefined ? { body: req.body as BodyInit } : {}),
              signal: AbortSignal.timeout(20_000),
            });
            const text = await res.text();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            if (res.status === 201 && req.method === "POST") made.push(req.path.split("/").pop()!.split("?")[0]!);
            if (res.status >= 500) {
              const tooLarge = res.status === 504 && /ResourceVersionTooLarge/.test(text);
              if (!tooLarge) problems.push(`${describe}: HTTP ${res.status} ${text.slice(0, 300)}`);
            }
            if (res.status >= 400 && res.status !== 431 && req.method !== "HEAD") {
              let status: { kind?: string; code?: number; message?: string } = {};
              try {
                status = JSON.parse(text);
              } catch {
                problems.push(`${describe}: HTTP ${res.status} without a JSON Status: ${text.slice(0, 200)}`);
              }
              if (status.kind !== "Status" || status.code !== res.status) {
                problems.push(`${describe}: HTTP ${res.status} with body ${text.slice(0, 200)}`);
              }
              if (
                /Cannot read prop|is not a function|undefined is not|of undefined|of null/.test(status.message ?? "")
              ) {
                problems.push(`${describe}: an internal error leaked as ${res.status}: ${status.message}`);
              }
            }
          } catch (err) {
            if (headerBytes > 12_000 && err instanceof TypeError) continue;
            problems.push(`${describe}: ${err instanceof Error ? `${err.name}: ${err.message}` : err}`);
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, () => worker()));

      const encoder = new TextEncoder();
      const rawCases: [string, string, boolean, RegExp][] = [
        [
          "a truncated body, then end of input",
          `POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${config.token}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"apiVersion":"v1","kind":"Conf',
          true,
          /^(HTTP\/1\.1 4\d\d|$)/,
        ],
        ["a request line that is not HTTP", "HELLO /\r\n\r\n", false, /^HTTP\/1\.1 400/],
        [
          "a declared body over 3 MiB",
          `POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${config.token}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 4000000\r\n\r\n{"apiVersion":"v1",',
          false,
          /^HTTP\/1\.1 413 .*\r\n(.*\r\n)*connection: close\r\n/i,
        ],
        [
          "broken chunked framing",
          `POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${config.token}\r\n` +
          "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
          false,
          /^HTTP\/1\.1 4\d\d/,
        ],
        [
          "both Content-Length and chunked",
          "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n" +
          "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
          false,
          /^HTTP\/1\.1 4\d\d/,
        ],
        // Node answers 431, or closes the connection when the headers are still arriving: either is fine.
        [
          "headers past the limit",
          `GET /version HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(100_000)}\r\n\r\n`,
          false,
          /^(HTTP\/1\.1 431|$)/,
        ],
        [
          "thousands of headers",
          `GET /version HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-${i}: v\r\n`).join("")}\r\n`,
          false,
          /^HTTP\/1\.1 431/,
        ],
        ["TRACE", "TRACE /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n\r\n", false, /^HTTP\/1\.1 4\d\d/],
        [
          "CONNECT",
          `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\nAuthorization: Bearer ${config.token}\r\n\r\n`,
          false,
          /^(HTTP\/1\.1 4\d\d|$)/,
        ],
        [
          "a Host header that is not a host",
          "GET /version HTTP/1.1\r\nHost: [::zz\r\n\r\n",
          false,
          /^HTTP\/1\.1 4\d\d/,
        ],
        [
          "a NUL in the path",
          "GET /api/v1/namespaces/\u0000/pods HTTP/1.1\r\nHost: x\r\n\r\n",
          false,
          /^HTTP\/1\.1 4\d\d/,
        ],
      ];
      for (const [what, request, halfClose, expected] of rawCases) {
        try {
          const answer = await raw(hostname, Number(port), config.caPem!, encoder.encode(request), halfClose);
          if (!expected.test(answer)) problems.push(`raw ${what}: answered ${JSON.stringify(answer.slice(0, 120))}`);
        } catch (err) {
          problems.push(`raw ${what}: ${err instanceof Error ? err.message : err}`);
        }
      }

      const health = await fetch(`${url}/readyz`, { client });
      assert.equal(await health.text(), "ok");
      const created = await fetch(`${url}/api/v1/namespaces/default/configmaps`, {
        method: "POST",
        client,
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "after-fuzz" },
          data: { a: "b" },
        }),
      });
      assert.equal(created.status, 201, await created.text());
      const got = await fetch(`${url}/api/v1/namespaces/default/configmaps/after-fuzz`, { client, headers: auth });
      assert.equal(got.status, 200);
      assert.deepEqual((await got.json()).data, { a: "b" });
    } finally {
      client.close();
      server.kill("SIGTERM");
      await server.status;
    }
    const histogram = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(", ");
    console.log(`answers by status: ${histogram}`);
    const logged = await stderrText;
    if (/unexpected error/.test(logged)) problems.push(`the server logged: ${logged.slice(0, 2000)}`);
    assert.deepEqual(problems.slice(0, 30), [], `seed ${seed}: ${problems.length} problems`);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    const clientErrors = [...statuses].filter(([s]) => s >= 400 && s < 500).reduce((a, [, n]) => a + n, 0);
    assert.ok(clientErrors > total * 0.6, `only ${clientErrors} of ${total} hostile requests were refused`);
  },
});
