import assert from "node:assert/strict";
import type { Deployment } from "@skiff/api";
import { withCluster } from "./_test_harness.ts";

Deno.test("scale sets replicas through the scale subresource, honouring --current-replicas", async () => {
  await withCluster(async (cluster) => {
    const deployments = cluster.admin.kind<Deployment>("apps/v1", "Deployment");
    await deployments.create({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } },
      },
    });
    const replicas = async () => (await deployments.get("web", { namespace: "default" })).spec!.replicas;
    const scaled = await cluster.run(["scale", "deploy/web", "--replicas=3"]);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.equal(scaled.stdout, "deployment.apps/web scaled\n");
    assert.equal(await replicas(), 3);
    const mismatch = await cluster.run(["scale", "deployment", "web", "--replicas", "5", "--current-replicas", "2"]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /deployment\.apps\/web: expected replicas to be 2, was 3: nothing was changed/);
    assert.equal(await replicas(), 3);
    const matched = await cluster.run(["scale", "deployment", "web", "--replicas", "0", "--current-replicas", "3"]);
    assert.equal(matched.stdout, "deployment.apps/web scaled\n");
    assert.equal(await replicas(), 0);
    const pods = await cluster.run(["scale", "pods/web", "--replicas=2"]);
    assert.equal(pods.code, 2);
    assert.match(pods.stderr, /pods cannot be scaled: only deployments, replicasets and statefulsets can/);
    const missing = await cluster.run(["scale", "deploy/web"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--replicas <count>' not specified/);
    const absent = await cluster.run(["scale", "deploy/nope", "--replicas=1"]);
    assert.equal(absent.code, 1);
    assert.match(absent.stderr, /deployments\.apps "nope" not found/);
  });
});
