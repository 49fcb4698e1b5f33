import assert from "node:assert/strict";
import { at, seed, withCluster, withHomelab } from "./_test_harness.ts";

Deno.test("top nodes prints CPU and memory use against allocatable, and the temperature", async () => {
  await withHomelab(async (cluster, clock) => {
    const result = await cluster.run(["top", "nodes"], at(clock));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      [
        "NAME   CPU(cores)   CPU(%)      MEMORY(bytes)   MEMORY(%)   TEMP",
        "pi-1   1000m        25%         2048Mi          25%         52°C",
        "pi-2   3200m        80%         6144Mi          75%         63°C",
        "nuc    <unknown>    <unknown>   <unknown>       <unknown>   <unknown>",
        "",
      ].join("\n"),
    );
    const sorted = await cluster.run(["top", "no", "--sort-by", "cpu", "--no-headers"], at(clock));
    assert.match(sorted.stdout, /^pi-2 .*\npi-1 /);
    const one = await cluster.run(["top", "node", "pi-1"], at(clock));
    assert.equal(one.stdout.split("\n").length, 3);
  });
});

Deno.test("top pods prints per pod and per container usage", async () => {
  await withHomelab(async (cluster, clock) => {
    await seed(cluster, [
      {
        apiVersion: "metrics.k8s.io/v1beta1",
        kind: "PodMetrics",
        metadata: { name: "web-2", namespace: "default" },
        timestamp: "2026-01-04T00:00:00Z",
        window: "10s",
        containers: [
          { name: "web", usage: { cpu: "250m", memory: "64Mi" } },
          { name: "sidecar", usage: { cpu: "5m", memory: "12Mi" } },
        ],
      },
      {
        apiVersion: "metrics.k8s.io/v1beta1",
        kind: "PodMetrics",
        metadata: { name: "web-1", namespace: "default" },
        timestamp: "2026-01-04T00:00:00Z",
        window: "10s",
        containers: [{ name: "web", usage: { cpu: "12m", memory: "20Mi" } }],
      },
    ]);
    const pods = await cluster.run(["top", "pods", "--sort-by=memory"], at(clock));
    assert.equal(pods.code, 0, pods.stderr);
    assert.equal(
      pods.stdout,
      "NAME    CPU(cores)   MEMORY(bytes)\nweb-2   255m         76Mi\nweb-1   12m          20Mi\n",
    );
    const containers = await cluster.run(["top", "pod", "web-2", "--containers", "-A"], at(clock));
    assert.equal(
      containers.stdout,
      "NAMESPACE   POD     NAME      CPU(cores)   MEMORY(bytes)\ndefault     web-2   web       250m         64Mi\ndefault     web-2   sidecar   5m           12Mi\n",
    );
  });
});

Deno.test("top without metrics says they are not available yet and why", async () => {
  await withCluster(async (cluster) => {
    const nodes = await cluster.run(["top", "nodes"]);
    assert.equal(nodes.code, 1);
    assert.match(
      nodes.stderr,
      /^error: metrics not available yet for any node: the node agents publish usage to metrics\.k8s\.io/,
    );
    const pods = await cluster.run(["top", "pods"]);
    assert.equal(pods.code, 1);
    assert.match(pods.stderr, /metrics not available yet for any pod in namespace "default"/);
  });
});
