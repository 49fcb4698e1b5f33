import assert from "node:assert/strict";
import { ManualClock } from "@skiff/api";
import { pod, startHarness } from "./_test_harness.ts";

const nodeMetrics = (name: string, cpu: string) => ({
  apiVersion: "metrics.k8s.io/v1beta1",
  kind: "NodeMetrics",
  metadata: { name, labels: { "kubernetes.io/hostname": name } },
  timestamp: "2026-01-01T00:00:00Z",
  window: "10s",
  usage: { cpu, memory: "512Mi" },
});

Deno.test("metrics API: a node reports its own NodeMetrics, viewers list them, and they expire", async () => {
  const clock = new ManualClock();
  await using h = await startHarness({ clock });
  const put = await h.call("PUT", "/apis/metrics.k8s.io/v1beta1/nodes/node-a", {
    body: nodeMetrics("node-a", "250m"),
    token: h.tokens.nodeA,
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const other = await h.call("PUT", "/apis/metrics.k8s.io/v1beta1/nodes/node-b", {
    body: nodeMetrics("node-b", "1"),
    token: h.tokens.nodeA,
  });
  assert.equal(other.status, 403);
  const list = await h.call("GET", "/apis/metrics.k8s.io/v1beta1/nodes", { token: h.tokens.viewer });
  assert.equal(list.status, 200);
  assert.equal(list.body.kind, "NodeMetricsList");
  assert.deepEqual(list.body.items.map((m: { usage: { cpu: string } }) => m.usage.cpu), ["250m"]);
  const one = await h.call("GET", "/apis/metrics.k8s.io/v1beta1/nodes/node-a");
  assert.equal(one.body.usage.memory, "512Mi");
  await clock.advance(121_000);
  assert.equal((await h.call("GET", "/apis/metrics.k8s.io/v1beta1/nodes/node-a")).status, 404);
  const bad = await h.call("PUT", "/apis/metrics.k8s.io/v1beta1/nodes/node-a", {
    body: { kind: "Pod" },
    token: h.tokens.nodeA,
  });
  assert.equal(bad.status, 400);
});

Deno.test("metrics API: a node reports PodMetrics only for pods bound to it", async () => {
  await using h = await startHarness();
  await h.call("POST", "/api/v1/namespaces/default/pods", { body: pod("p") });
  await h.call("POST", "/api/v1/namespaces/default/pods/p/binding", {
    body: { apiVersion: "v1", kind: "Binding", metadata: { name: "p" }, target: { kind: "Node", name: "node-a" } },
  });
  const body = {
    apiVersion: "metrics.k8s.io/v1beta1",
    kind: "PodMetrics",
    metadata: { name: "p", namespace: "default" },
    timestamp: "2026-01-01T00:00:00Z",
    window: "10s",
    containers: [{ name: "c", usage: { cpu: "5m", memory: "12Mi" } }],
  };
  const path = "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/p";
  assert.equal((await h.call("PUT", path, { body, token: h.tokens.nodeB })).status, 403);
  assert.equal((await h.call("PUT", path, { body, token: h.tokens.nodeA })).status, 200);
  const list = await h.call("GET", "/apis/metrics.k8s.io/v1beta1/pods");
  assert.equal(list.body.items[0].containers[0].usage.cpu, "5m");
  const ns = await h.call("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/other/pods");
  assert.equal(ns.body.items.length, 0);
});

Deno.test("metrics API: the PodMetrics of a deleted pod are no longer listed or served", async () => {
  await using h = await startHarness();
  for (const name of ["gone", "kept"]) {
    await h.call("POST", "/api/v1/namespaces/default/pods", { body: pod(name) });
    await h.call("POST", `/api/v1/namespaces/default/pods/${name}/binding`, {
      body: { apiVersion: "v1", kind: "Binding", metadata: { name }, target: { kind: "Node", name: "node-a" } },
    });
    const put = await h.call("PUT", `/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/${name}`, {
      body: {
        apiVersion: "metrics.k8s.io/v1beta1",
        kind: "PodMetrics",
        metadata: { name, namespace: "default" },
        timestamp: "2026-01-01T00:00:00Z",
        window: "10s",
        containers: [{ name: "c", usage: { cpu: "5m", memory: "12Mi" } }],
      },
      token: h.tokens.nodeA,
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  }
  const del = await h.call("DELETE", "/api/v1/namespaces/default/pods/gone?gracePeriodSeconds=0");
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.equal((await h.call("GET", "/api/v1/namespaces/default/pods/gone")).status, 404);
  const list = await h.call("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods");
  assert.deepEqual(list.body.items.map((m: { metadata: { name: string } }) => m.metadata.name), ["kept"]);
  assert.equal((await h.call("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/gone")).status, 404);
});
