import assert from "node:assert/strict";
import { startHarness } from "./_test_harness.ts";

const SVC = "/api/v1/namespaces/default/services";

function service(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }], ...spec },
  };
}

async function waitFor<T>(what: string, fn: () => Promise<T | false | undefined>): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("Service ClusterIPs: allocated from 10.43.0.0/16, never twice under concurrent creates", async () => {
  await using h = await startHarness();
  const replies = await Promise.all(
    Array.from({ length: 40 }, (_, i) => h.call("POST", SVC, { body: service(`s${i}`) })),
  );
  assert.deepEqual(replies.map((r) => r.status), replies.map(() => 201));
  const ips = replies.map((r) => r.body.spec.clusterIP as string);
  assert.equal(new Set(ips).size, 40);
  for (const ip of ips) assert.match(ip, /^10\.43\.\d+\.\d+$/);
  assert.deepEqual(replies[0]!.body.spec.clusterIPs, [ips[0]]);
  assert.deepEqual(replies[0]!.body.spec.ipFamilies, ["IPv4"]);
});

Deno.test("Service ClusterIPs: a requested address is honoured once, refused clearly when taken or out of range", async () => {
  await using h = await startHarness();
  const first = await h.call("POST", SVC, { body: service("a", { clusterIP: "10.43.7.7" }) });
  assert.equal(first.status, 201);
  assert.equal(first.body.spec.clusterIP, "10.43.7.7");
  const taken = await h.call("POST", SVC, { body: service("b", { clusterIP: "10.43.7.7" }) });
  assert.equal(taken.status, 422);
  assert.match(taken.body.message, /spec\.clusterIP: Invalid value: "10\.43\.7\.7".*provided IP is already allocated/);
  const outside = await h.call("POST", SVC, { body: service("c", { clusterIP: "192.168.1.5" }) });
  assert.equal(outside.status, 422);
  assert.match(outside.body.message, /not in the valid range\. The range of valid IPs is 10\.43\.0\.0\/16/);
  const headless = await h.call("POST", SVC, { body: service("d", { clusterIP: "None" }) });
  assert.equal(headless.status, 201);
  assert.equal(headless.body.spec.clusterIP, "None");
});

Deno.test("Service ClusterIPs: released on delete, kept across updates that omit them", async () => {
  await using h = await startHarness();
  const created = await h.call("POST", SVC, { body: service("a", { clusterIP: "10.43.1.1" }) });
  const put = await h.call("PUT", `${SVC}/a`, {
    body: { ...service("a"), metadata: { name: "a", resourceVersion: created.body.metadata.resourceVersion } },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.spec.clusterIP, "10.43.1.1");
  await h.call("DELETE", `${SVC}/a`);
  const reused = await waitFor("the address to be free again", async () => {
    const r = await h.call("POST", SVC, { body: service("b", { clusterIP: "10.43.1.1" }) });
    return r.status === 201 && r;
  });
  assert.equal(reused.body.spec.clusterIP, "10.43.1.1");
});

Deno.test("Service NodePorts: allocated in 30000-32767, requested ones honoured or refused, released on type change", async () => {
  await using h = await startHarness();
  const auto = await h.call("POST", SVC, { body: service("auto", { type: "NodePort" }) });
  assert.equal(auto.status, 201);
  const port = auto.body.spec.ports[0].nodePort;
  assert.ok(port >= 30000 && port <= 32767, String(port));
  const fixed = await h.call("POST", SVC, {
    body: service("fixed", { type: "NodePort", ports: [{ port: 80, targetPort: 80, nodePort: 30080 }] }),
  });
  assert.equal(fixed.body.spec.ports[0].nodePort, 30080);
  const clash = await h.call("POST", SVC, {
    body: service("clash", { type: "NodePort", ports: [{ port: 81, nodePort: 30080 }] }),
  });
  assert.equal(clash.status, 422);
  assert.match(
    clash.body.message,
    /spec\.ports\[0\]\.nodePort: Invalid value: 30080: provided port is already allocated/,
  );
  const toClusterIP = await h.call("PATCH", `${SVC}/fixed`, {
    body: { spec: { type: "ClusterIP" } },
    contentType: "application/merge-patch+json",
  });
  assert.equal(toClusterIP.status, 200, JSON.stringify(toClusterIP.body));
  await waitFor("port 30080 to be free", async () => {
    const r = await h.call("POST", SVC, {
      body: service("again", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }),
    });
    return r.status === 201;
  });
});
