import assert from "node:assert/strict";
import { withCluster } from "./_test_harness.ts";

Deno.test("label adds, refuses to overwrite without --overwrite, changes and removes labels", async () => {
  await withCluster(async (cluster) => {
    const cms = cluster.admin.kind("v1", "ConfigMap");
    for (const name of ["a", "b"]) {
      await cms.create({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name, namespace: "default", labels: { app: "web" } },
      });
    }
    const added = await cluster.run(["label", "cm", "a", "tier=front", "team=home"]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, "configmap/a labeled\n");
    const refused = await cluster.run(["label", "cm/a", "tier=back"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /'tier' already has a value \(front\), and --overwrite is false: pass --overwrite to change it/,
    );
    const same = await cluster.run(["label", "cm/a", "tier=front"]);
    assert.equal(same.stdout, "configmap/a not labeled\n");
    const overwritten = await cluster.run(["label", "cm/a", "tier=back", "team-", "--overwrite"]);
    assert.equal(overwritten.stdout, "configmap/a labeled\n");
    const live = await cms.get("a", { namespace: "default" });
    assert.deepEqual(live.metadata.labels, { app: "web", tier: "back" });
    const listed = await cluster.run(["label", "cm", "a", "--list"]);
    assert.equal(listed.stdout, "app=web\ntier=back\n");
    const selected = await cluster.run(["label", "cm", "-l", "app=web", "env=lab"]);
    assert.equal(selected.stdout, "configmap/a labeled\nconfigmap/b labeled\n");
    const dry = await cluster.run(["label", "cm", "b", "x=y", "--dry-run"]);
    assert.equal(dry.stdout, "configmap/b labeled (dry run)\n");
    assert.equal((await cms.get("b", { namespace: "default" })).metadata.labels?.x, undefined);
    const invalid = await cluster.run(["label", "cm", "b", "bad key=v"]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /metadata\.labels: Invalid value: "bad key"/);
    const noChange = await cluster.run(["label", "cm", "b"]);
    assert.equal(noChange.code, 2);
  });
});

Deno.test("annotate adds and removes annotations", async () => {
  await withCluster(async (cluster) => {
    const ns = cluster.admin.kind("v1", "Namespace");
    const added = await cluster.run(["annotate", "ns", "default", "owner=me", "description=the default namespace"]);
    assert.equal(added.stdout, "namespace/default annotated\n", added.stderr);
    assert.equal((await ns.get("default")).metadata.annotations?.description, "the default namespace");
    const removed = await cluster.run(["annotate", "namespace/default", "owner-"]);
    assert.equal(removed.stdout, "namespace/default annotated\n");
    assert.deepEqual((await ns.get("default")).metadata.annotations, { description: "the default namespace" });
    const missing = await cluster.run(["annotate", "ns/default", "owner-"]);
    assert.match(missing.stderr, /annotation "owner" not found/);
    assert.equal(missing.stdout, "namespace/default not annotated\n");
  });
});
