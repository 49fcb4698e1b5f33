import assert from "node:assert/strict";
import { join } from "node:path";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { KubeObject, Node, NodeAddress, Pod } from "@skiff/api";
import { type Api, createApi } from "../control_plane.ts";
import { createCertificateAuthority } from "../pki/mod.ts";
import { openStore, type Store } from "../store/mod.ts";
import { newToken, TOKEN_NAMESPACE } from "./auth.ts";
import { containerOf, execQuery, logQuery } from "./node_proxy.ts";
import { nodeCertificateSans } from "./node_certificate.ts";

const ca = await createCertificateAuthority();
const ADMIN = { name: "test", role: "admin" as const };

interface Setup extends AsyncDisposable {
  api: Api;
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<
    { status: number; body: Record<string, unknown> }
  >;
  token(role: "admin" | "viewer" | "node", nodeName?: string): Promise<string>;
  create(kind: string, object: KubeObject): Promise<void>;
}

async function setup(): Promise<Setup> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-node-proxy-" });
  const store: Store = openStore(`sqlite://${join(dir, "state.db")}`, { compaction: false, durable: false });
  const api = await createApi(store, { ca });
  const type = (kind: string) => api.types.find((t) => t.kind === kind)!;
  const token = async (role: "admin" | "viewer" | "node", nodeName?: string) => {
    const created = await newToken({ role, ...(nodeName ? { nodeName } : {}) });
    await api.handler.objects.create(type("Secret"), TOKEN_NAMESPACE, created.secret, { user: ADMIN });
    return created.token;
  };
  const admin = await token("admin");
  return {
    api,
    token,
    async create(kind, object) {
      await api.handler.objects.create(type(kind), object.metadata.namespace, object, { user: ADMIN });
    },
    async call(method, path, options = {}) {
      const headers = new Headers(options.headers);
      headers.set("authorization", `Bearer ${options.token ?? admin}`);
      if (options.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
      const res = await api.handler(
        new Request(`https://skiff.test${path}`, {
          method,
          headers,
          ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        }),
      );
      return { status: res.status, body: await res.json() };
    },
    async [Symbol.asyncDispose]() {
      api.close();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const node = (name: string, addresses: NodeAddress[], port = 10250): Node => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name },
  status: { addresses, daemonEndpoints: { kubeletEndpoint: { Port: port } } },
});

const pod = (name: string, containers: string[], extra: Partial<Pod["spec"]> = {}): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default" },
  spec: { containers: containers.map((c) => ({ name: c, image: "busybox" })), ...extra },
});

async function csr(commonName: string): Promise<string> {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const request = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "ip", value: "10.9.9.9" }])],
  });
  return request.toString("pem");
}

const certificateBody = (request: string) => ({ apiVersion: "v1", kind: "NodeCertificate", spec: { request } });

Deno.test("nodes/certificate signs a node's own request for its name and Node addresses, whatever it asks for", async () => {
  await using s = await setup();
  await s.create(
    "Node",
    node("pi-3", [{ type: "InternalIP", address: "192.168.1.23" }, { type: "Hostname", address: "pi-3" }]),
  );
  const token = await s.token("node", "pi-3");
  const res = await s.call("POST", "/api/v1/nodes/pi-3/certificate", {
    token,
    body: certificateBody(await csr("evil")),
  });
  assert.equal(res.status, 201);
  const status = res.body.status as { certificate: string; ca: string; notAfter: string };
  assert.equal(status.ca, ca.certPem);
  const cert = new x509.X509Certificate(status.certificate);
  assert.equal(cert.subject, "CN=pi-3");
  assert.deepEqual(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(), [
    { type: "dns", value: "pi-3" },
    { type: "ip", value: "192.168.1.23" },
  ]);
  const days = (cert.notAfter.getTime() - Date.now()) / 86_400_000;
  assert.ok(days > 364 && days <= 365, `valid for ${days} days`);
  assert.equal(status.notAfter, cert.notAfter.toISOString());
  assert.ok(await cert.verify({ publicKey: new x509.X509Certificate(ca.certPem).publicKey }));
});

Deno.test("nodes/certificate refuses another node's name, viewers, bad requests and unregistered nodes", async () => {
  await using s = await setup();
  await s.create("Node", node("pi-3", [{ type: "InternalIP", address: "192.168.1.23" }]));
  const other = await s.token("node", "pi-4");
  const request = certificateBody(await csr("pi-3"));
  const stolen = await s.call("POST", "/api/v1/nodes/pi-3/certificate", { token: other, body: request });
  assert.equal(stolen.status, 403);
  assert.match(String(stolen.body.message), /may get a certificate only for its own Node "pi-4"/);
  const viewer = await s.call("POST", "/api/v1/nodes/pi-3/certificate", {
    token: await s.token("viewer"),
    body: request,
  });
  assert.equal(viewer.status, 403);
  const garbage = await s.call("POST", "/api/v1/nodes/pi-3/certificate", { body: certificateBody("hello") });
  assert.equal(garbage.status, 400);
  assert.match(String(garbage.body.message), /expected a PEM PKCS#10 request/);
  const missing = await s.call("POST", "/api/v1/nodes/pi-3/certificate", { body: { kind: "NodeCertificate" } });
  assert.equal(missing.status, 400);
  assert.match(String(missing.body.message), /spec\.request is required/);
  const unknown = await s.call("POST", "/api/v1/nodes/pi-9/certificate", { body: request });
  assert.equal(unknown.status, 404);
  assert.match(String(unknown.body.message), /register the node before asking for its certificate/);
});

Deno.test("nodeCertificateSans() keeps the name and the addresses that can be names", () => {
  assert.deepEqual(
    nodeCertificateSans(node("pi-3", [
      { type: "InternalIP", address: "192.168.1.23" },
      { type: "ExternalIP", address: "fd00::23" },
      { type: "Hostname", address: "Pi-3" },
      { type: "InternalDNS", address: "not_a_name" },
    ])),
    ["pi-3", "192.168.1.23", "fd00::23"],
  );
});

Deno.test("containerOf() picks the only container, or asks for one by name as Kubernetes does", () => {
  assert.equal(containerOf(pod("web", ["app"]), null), "app");
  assert.equal(containerOf(pod("web", ["app", "side"]), "side"), "side");
  assert.equal(
    containerOf(pod("web", ["app"], { initContainers: [{ name: "setup", image: "busybox" }] }), "setup"),
    "setup",
  );
  assert.throws(
    () => containerOf(pod("web", ["app", "side"], { initContainers: [{ name: "setup", image: "busybox" }] }), null),
    /a container name must be specified for pod web, choose one of: \[app side\] or one of the init containers: \[setup\]/,
  );
  assert.throws(() => containerOf(pod("web", ["app"]), "db"), /container db is not valid for pod web/);
});

Deno.test("logQuery() and execQuery() pass checked options on and name the one that is wrong", () => {
  assert.equal(
    logQuery(new URLSearchParams("follow=true&tailLines=10&timestamps=1&container=app&limitBytes=5")).toString(),
    "follow=true&timestamps=true&tailLines=10&limitBytes=5",
  );
  assert.throws(() => logQuery(new URLSearchParams("tailLines=-1")), /Invalid tailLines "-1"/);
  assert.throws(() => logQuery(new URLSearchParams("follow=yes")), /Invalid follow "yes": expected true or false/);
  assert.throws(
    () => logQuery(new URLSearchParams("sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z")),
    /at most one of sinceTime or sinceSeconds/,
  );
  assert.equal(
    execQuery(new URLSearchParams("command=sh&command=-c&command=echo hi&stdout=true&stderr=true")).toString(),
    "command=sh&command=-c&command=echo+hi&stdin=false&stdout=true&stderr=true&tty=false",
  );
  assert.throws(() => execQuery(new URLSearchParams("stdout=true")), /at least one command/);
  assert.throws(() => execQuery(new URLSearchParams("command=ls")), /at least 1 of stdin, stdout, stderr/);
  assert.throws(() => execQuery(new URLSearchParams("command=ls&stdout=1&stderr=1&tty=1")), /tty and stderr/);
});

Deno.test("pods/log and pods/exec refuse, as Status objects, what cannot reach an agent", async () => {
  await using s = await setup();
  await s.create("Pod", pod("pending", ["app"]));
  await s.create("Pod", pod("lost", ["app"], { nodeName: "gone" }));
  await s.create("Node", node("closed", [{ type: "InternalIP", address: "127.0.0.1" }], 1));
  await s.create("Pod", pod("web", ["app"], { nodeName: "closed" }));

  const unbound = await s.call("GET", "/api/v1/namespaces/default/pods/pending/log");
  assert.equal(unbound.status, 400);
  assert.equal(unbound.body.message, "pod pending does not have a host assigned");
  const lost = await s.call("GET", "/api/v1/namespaces/default/pods/lost/log");
  assert.equal(lost.status, 503);
  assert.match(String(lost.body.message), /agent of node "gone": the node is not registered/);
  const refused = await s.call("GET", "/api/v1/namespaces/default/pods/web/log?follow=true");
  assert.equal(refused.status, 503);
  assert.match(String(refused.body.message), /Cannot reach the agent of node "closed" at https:\/\/127\.0\.0\.1:1: /);
  const missing = await s.call("GET", "/api/v1/namespaces/default/pods/nope/log");
  assert.equal(missing.status, 404);

  const plain = await s.call("GET", "/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true");
  assert.equal(plain.status, 400);
  assert.match(String(plain.body.message), /needs a WebSocket upgrade/);
  const spdy = await s.call("POST", "/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true", {
    headers: { connection: "Upgrade", upgrade: "SPDY/3.1" },
  });
  assert.equal(spdy.status, 400);
  assert.match(String(spdy.body.message), /Upgrading to SPDY is not supported/);
  const noCommand = await s.call("GET", "/api/v1/namespaces/default/pods/web/exec?stdout=true", {
    headers: { connection: "Upgrade", upgrade: "websocket" },
  });
  assert.equal(noCommand.status, 400);
  assert.match(String(noCommand.body.message), /at least one command/);
  const viewer = await s.call("GET", "/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true", {
    token: await s.token("viewer"),
    headers: { connection: "Upgrade", upgrade: "websocket" },
  });
  assert.equal(viewer.status, 403);
  const nodeUser = await s.call("GET", "/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true", {
    token: await s.token("node", "closed"),
    headers: { connection: "Upgrade", upgrade: "websocket" },
  });
  assert.equal(nodeUser.status, 403, "exec over WebSocket is authorized as create, which nodes may not");

  await s.create("Pod", pod("crash", ["app"], { nodeName: "closed" }));
  const status = await s.call("PATCH", "/api/v1/namespaces/default/pods/crash/status", {
    headers: { "content-type": "application/merge-patch+json" },
    body: {
      status: {
        phase: "Running",
        containerStatuses: [{
          name: "app",
          ready: false,
          restartCount: 3,
          image: "busybox",
          imageID: "",
          state: { waiting: { reason: "CrashLoopBackOff" } },
        }],
      },
    },
  });
  assert.equal(status.status, 200, JSON.stringify(status.body));
  const crashing = await s.call("GET", "/api/v1/namespaces/default/pods/crash/exec?command=ls&stdout=true", {
    headers: { connection: "Upgrade", upgrade: "websocket" },
  });
  assert.equal(crashing.status, 400);
  assert.equal(
    crashing.body.message,
    'cannot exec in container "app" of pod "crash": it is waiting (CrashLoopBackOff)',
  );
  const waiting = await s.call("GET", "/api/v1/namespaces/default/pods/crash/log");
  assert.equal(waiting.status, 400);
  assert.equal(waiting.body.message, 'container "app" in pod "crash" is waiting to start: CrashLoopBackOff');
});
