import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestCluster, withCluster } from "./_test_harness.ts";

/** Writes an executable editor script and returns its path. */
async function editor(cluster: TestCluster, name: string, body: string): Promise<string> {
  const path = join(cluster.dir, name);
  await Deno.writeTextFile(path, `#!/bin/sh\nset -e\n${body}\n`, { mode: 0o755 });
  return path;
}

async function settings(cluster: TestCluster) {
  return await cluster.admin.kind("v1", "ConfigMap").create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings", namespace: "default" },
    data: { LOG_LEVEL: "info" },
  });
}

Deno.test("edit opens $EDITOR on the object and saves what changed", async () => {
  await withCluster(async (cluster) => {
    await settings(cluster);
    const sed = await editor(cluster, "sed.sh", `sed -i 's/LOG_LEVEL: info/LOG_LEVEL: debug/' "$1"`);
    const result = await cluster.run(["edit", "cm", "settings"], { env: { EDITOR: sed } });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "configmap/settings edited\n");
    const live = await cluster.admin.kind("v1", "ConfigMap").get("settings", { namespace: "default" });
    assert.deepEqual(live.data, { LOG_LEVEL: "debug" });
    const unchanged = await cluster.run(["edit", "configmap/settings"], { env: { EDITOR: "true" } });
    assert.equal(unchanged.stdout, "Edit cancelled, no changes made.\n");
    const kubeEditor = await cluster.run(["edit", "cm/settings", "-o", "json"], {
      env: { EDITOR: "false", KUBE_EDITOR: await editor(cluster, "json.sh", `sed -i 's/"debug"/"warn"/' "$1"`) },
    });
    assert.equal(kubeEditor.stdout, "configmap/settings edited\n", kubeEditor.stderr);
  });
});

Deno.test("edit reopens the file with the server's errors on top, and gives up when saved unchanged", async () => {
  await withCluster(async (cluster) => {
    await cluster.admin.kind("apps/v1", "Deployment").create({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } },
      },
    });
    const log = join(cluster.dir, "seen.txt");
    const fixing = await editor(
      cluster,
      "fix.sh",
      `if grep -q '^# error:' "$1"; then grep '^# error:' "$1" > ${log}; sed -i 's/replicas: -1/replicas: 3/' "$1"; else sed -i 's/replicas: 1$/replicas: -1/' "$1"; fi`,
    );
    const fixed = await cluster.run(["edit", "deploy", "web"], { env: { EDITOR: fixing } });
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal(fixed.stdout, "deployment.apps/web edited\n");
    assert.match(
      await Deno.readTextFile(log),
      /^# error: Deployment\.apps "web" is invalid: spec\.replicas: Invalid value: -1/,
    );
    const live = await cluster.admin.kind("apps/v1", "Deployment").get("web", { namespace: "default" });
    assert.equal((live.spec as { replicas: number }).replicas, 3);

    const stubborn = await editor(
      cluster,
      "stubborn.sh",
      `grep -q '^# error:' "$1" || sed -i 's/replicas: 3$/replicas: -2/' "$1"`,
    );
    const gaveUp = await cluster.run(["edit", "deploy", "web"], { env: { EDITOR: stubborn } });
    assert.equal(gaveUp.code, 1);
    const kept = /a copy of your changes is in "(.+)"/.exec(gaveUp.stderr)?.[1];
    assert.ok(kept, gaveUp.stderr);
    assert.match(await Deno.readTextFile(kept), /replicas: -2/);
    await Deno.remove(kept);
  }, { apiOnly: true });
});

Deno.test("edit of an object changed meanwhile fails with a conflict and keeps the changes", async () => {
  await withCluster(async (cluster) => {
    await settings(cluster);
    const opened = join(cluster.dir, "opened");
    const go = join(cluster.dir, "go");
    const slow = await editor(
      cluster,
      "slow.sh",
      `touch ${opened}; while [ ! -f ${go} ]; do sleep 0.05; done; sed -i 's/info/trace/' "$1"`,
    );
    const running = cluster.run(["edit", "cm", "settings"], { env: { EDITOR: slow } });
    while (!(await Deno.stat(opened).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 20));
    await cluster.admin.kind("v1", "ConfigMap").patch("settings", { data: { OTHER: "x" } }, { namespace: "default" });
    await Deno.writeTextFile(go, "");
    const result = await running;
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: Operation cannot be fulfilled on configmaps "settings": the object changed on the server since it was read: run the command again to retry against the latest version \(your changes are kept in ".+"\)\n$/,
    );
    const kept = /kept in "(.+)"/.exec(result.stderr)![1]!;
    assert.match(await Deno.readTextFile(kept), /LOG_LEVEL: trace/);
    await Deno.remove(kept);
  });
});
