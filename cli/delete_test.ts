import assert from "node:assert/strict";
import { join } from "node:path";
import { TESTDATA, withCluster } from "./_test_harness.ts";

const configMap = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default", labels },
});

Deno.test("delete by name, selector, --all and -f prints each object and waits until it is gone", async () => {
  await withCluster(async (cluster) => {
    const cms = cluster.admin.kind("v1", "ConfigMap");
    for (const [name, tier] of [["a", "x"], ["b", "x"], ["c", "y"], ["d", "y"]]) {
      await cms.create(configMap(name!, { tier: tier! }));
    }
    const one = await cluster.run(["delete", "cm", "a"]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, 'configmap "a" deleted\n');
    const selected = await cluster.run(["delete", "configmaps", "-l", "tier=x"]);
    assert.equal(selected.stdout, 'configmap "b" deleted\n');
    const missing = await cluster.run(["delete", "cm/a", "cm/c"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, 'configmap "c" deleted\n');
    assert.match(missing.stderr, /^error: configmaps "a" not found/);
    const ignored = await cluster.run(["delete", "cm", "a", "--ignore-not-found"]);
    assert.equal(ignored.code, 0);
    const all = await cluster.run(["delete", "cm", "--all"]);
    assert.equal(all.stdout, 'configmap "d" deleted\n');
    const nothing = await cluster.run(["delete", "cm"]);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /no name was given for configmaps: name the objects, or pass -l <selector> or --all/);

    await cluster.run(["apply", "-f", join(TESTDATA, "webapp")]);
    const fromFiles = await cluster.run([
      "delete",
      "-f",
      join(TESTDATA, "webapp", "configmap.yaml"),
      "-f",
      join(TESTDATA, "webapp", "secret.yaml"),
    ]);
    assert.equal(fromFiles.stdout, 'configmap "web-config" deleted\nsecret "web-db" deleted\n');
  });
});

Deno.test("delete --wait of a pod still stopping on its node times out clearly; --force --grace-period=0 removes it", async () => {
  await withCluster(async (cluster) => {
    await cluster.admin.kind("v1", "Pod").create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web-1", namespace: "default" },
      spec: { nodeName: "pi-1", containers: [{ name: "web", image: "nginx" }] },
    });
    const waited = await cluster.run(["delete", "pod", "web-1", "--timeout", "1s"]);
    assert.equal(waited.code, 1);
    assert.equal(waited.stdout, 'pod "web-1" deleted\n');
    assert.match(
      waited.stderr,
      /^error: timed out after 1s waiting for pod "web-1" to be deleted: it is still stopping on node "pi-1" \(grace period 30s\): check that node's agent, or delete with --grace-period=0 --force; or pass --wait=false not to wait, or a longer --timeout\n$/,
    );
    const forced = await cluster.run(["delete", "pod", "web-1", "--grace-period=0", "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /^Warning: Immediate deletion does not wait for confirmation/);
    const gone = await cluster.run(["get", "pods", "-o", "name"]);
    assert.equal(gone.stdout, "");
  }, { apiOnly: true });
});

Deno.test("delete ns --wait times out clearly while the namespace is held by finalizers", async () => {
  await withCluster(async (cluster) => {
    await cluster.admin.kind("v1", "Namespace").create({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "media", finalizers: ["skiff.test/hold"] },
    });
    const started = performance.now();
    const result = await cluster.run(["delete", "ns", "media", "--timeout=1s"]);
    assert.ok(performance.now() - started < 15_000, "does not hang");
    assert.equal(result.code, 1);
    assert.equal(result.stdout, 'namespace "media" deleted\n');
    assert.match(
      result.stderr,
      /^error: timed out after 1s waiting for namespace "media" to be deleted: it is still Terminating with finalizers \[skiff\.test\/hold.*\], which the namespace controller removes once everything in it is deleted: check that the control plane runs its controllers \(`skiff up`\); or pass --wait=false not to wait, or a longer --timeout\n$/,
    );
    const noWait = await cluster.run(["delete", "ns", "media", "--wait=false"]);
    assert.equal(noWait.code, 0, noWait.stderr);
  });
});
