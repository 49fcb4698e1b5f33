import assert from "node:assert/strict";
import YAML from "yaml";
import type { KubeObject } from "@skiff/api";
import { assertGolden, at, recordRequests, withHomelab } from "./_test_harness.ts";

Deno.test("get pods prints Skiff's columns READY, STATUS, RESTARTS, AGE, IP, NODE", async () => {
  await withHomelab(async (cluster, clock) => {
    const result = await cluster.run(["get", "pods"], at(clock));
    assert.equal(result.code, 0, result.stderr);
    await assertGolden("get_pods.txt", result.stdout);
    const wide = await cluster.run(["get", "pods", "-o", "wide"], at(clock));
    await assertGolden("get_pods_wide.txt", wide.stdout);
    const all = await cluster.run(["get", "po", "-A", "--sort-by", ".metadata.name"], at(clock));
    await assertGolden("get_pods_all_namespaces.txt", all.stdout);
  });
});

Deno.test("get nodes prints STATUS, ROLES, ARCH, CPU%, MEM%, TEMP and AGE, with <unknown> where no metrics exist", async () => {
  await withHomelab(async (cluster, clock) => {
    const result = await cluster.run(["get", "nodes"], at(clock));
    assert.equal(result.code, 0, result.stderr);
    await assertGolden("get_nodes.txt", result.stdout);
    const wide = await cluster.run(["get", "no", "-o", "wide", "--show-labels"], at(clock));
    await assertGolden("get_nodes_wide.txt", wide.stdout);
  });
});

Deno.test("get of other kinds prints the server's columns; several types print kind-qualified names", async () => {
  await withHomelab(async (cluster, clock) => {
    const applied = await cluster.run(["apply", "-f", "cli/testdata/webapp"], at(clock));
    assert.equal(applied.code, 0, applied.stderr);
    const result = await cluster.run(["get", "deploy,svc,cm,secret,pvc", "-n", "webapp"], at(clock));
    assert.equal(result.code, 0, result.stderr);
    await assertGolden("get_webapp.txt", result.stdout);
    const namespaces = await cluster.run(["get", "namespaces", "-L", "app.kubernetes.io/part-of"], at(clock));
    await assertGolden("get_namespaces.txt", namespaces.stdout);
  });
});

Deno.test("get -o yaml prints one object by name and a List otherwise; json, name, jsonpath and custom-columns work", async () => {
  await withHomelab(async (cluster, clock) => {
    const one = await cluster.run(["get", "pod", "web-1", "-o", "yaml"], at(clock));
    const pod = YAML.parse(one.stdout) as KubeObject;
    assert.equal(pod.kind, "Pod");
    assert.equal(pod.metadata.name, "web-1");
    const list = await cluster.run(["get", "pods", "-l", "app=web", "-o", "json"], at(clock));
    const parsed = JSON.parse(list.stdout) as { kind: string; items: KubeObject[] };
    assert.equal(parsed.kind, "List");
    assert.deepEqual(parsed.items.map((i) => i.metadata.name), ["web-1", "web-2"]);
    assert.ok(list.stdout.startsWith('{\n    "apiVersion": "v1",'), "four-space JSON, as kubectl");
    const names = await cluster.run(
      ["get", "pods,nodes", "-o", "name", "--field-selector", "metadata.name=web-1"],
      at(clock),
    );
    assert.equal(names.stdout, "pod/web-1\n");
    const jsonpath = await cluster.run([
      "get",
      "pods",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.spec.nodeName}{"\\n"}{end}',
    ], at(clock));
    assert.equal(jsonpath.stdout, "db-0\t\nweb-1\tpi-1\nweb-2\tpi-2\n");
    const labels = await cluster.run([
      "get",
      "node",
      "pi-1",
      "-o",
      "jsonpath={.metadata.labels.kubernetes\\.io/arch}",
    ], at(clock));
    assert.equal(labels.stdout, "arm64");
    const columns = await cluster.run([
      "get",
      "pods",
      "-o",
      "custom-columns=NAME:.metadata.name,PHASE:.status.phase,NODE:.spec.nodeName",
      "--sort-by",
      "{.status.phase}",
    ], at(clock));
    await assertGolden("get_custom_columns.txt", columns.stdout);
  });
});

Deno.test("get reports missing objects and empty lists, and accepts every way of naming a type", async () => {
  await withHomelab(async (cluster, clock) => {
    const missing = await cluster.run(["get", "pods", "web-1", "nope"], at(clock));
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /^NAME +READY/);
    assert.match(missing.stderr, /^error: pods "nope" not found: check the name and the namespace \(-n\)/);
    const ignored = await cluster.run(["get", "pods", "nope", "--ignore-not-found"], at(clock));
    assert.equal(ignored.code, 0);
    assert.equal(ignored.stderr, "");
    const empty = await cluster.run(["get", "deployments", "-n", "kube-public"], at(clock));
    assert.equal(empty.code, 0);
    assert.equal(empty.stderr, "No resources found in kube-public namespace.\n");
    for (const name of ["po/web-1", "pod/web-1", "pods/web-1", "Pod/web-1"]) {
      const result = await cluster.run(["get", name, "-o", "name"], at(clock));
      assert.equal(result.stdout, "pod/web-1\n", name);
    }
    const grouped = await cluster.run(["get", "deployments.apps", "-n", "kube-system", "-o", "name"], at(clock));
    assert.equal(grouped.code, 0, grouped.stderr);
    const unknown = await cluster.run(["get", "gizmos"], at(clock));
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /the server doesn't have a resource type "gizmos": run `skiff api-resources`/);
    const badFormat = await cluster.run(["get", "pods", "-o", "xml"], at(clock));
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.stderr, /unknown output format "xml"/);
  });
});

Deno.test("get -w prints the list, then each change until interrupted", async () => {
  await withHomelab(async (cluster, clock) => {
    const watching = cluster.start(["get", "pods", "-w", "-l", "app=web"], at(clock));
    const pods = cluster.admin.kind("v1", "Pod");
    await watching.waitFor(/^web-2 /m); // listed; changes from here on are watched
    await pods.patch("web-1", { metadata: { labels: { tier: "front" } } }, { namespace: "default" });
    await pods.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web-3", namespace: "default", labels: { app: "web" } },
      spec: { containers: [{ name: "web", image: "nginx:1.27-alpine" }] },
    });
    await watching.waitFor(/^web-3 /m);
    watching.abort();
    const result = await watching.result;
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^NAME +READY +STATUS +RESTARTS +AGE +IP +NODE$/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/ +/)[0]), ["web-1", "web-2", "web-1", "web-3"]);
    assert.match(lines[4]!, /^web-3 +0\/1 +Pending +0 +0s +<none> +<none>$/);
    // --watch-only prints nothing until a change: the watch request (sent
    // once the list has given its resourceVersion) says it is watching.
    const log = await recordRequests(cluster);
    const tables = cluster.start(["get", "ns", "-w", "--watch-only"], {
      ...at(clock),
      env: { KUBECONFIG: log.kubeconfig },
    });
    try {
      await log.waitFor(/^\/api\/v1\/namespaces\?(.*&)?watch=true(&|$)/);
      await cluster.admin.kind("v1", "Namespace").create({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: "media" },
      });
      await tables.waitFor(/^media /m);
      tables.abort();
      const nsResult = await tables.result;
      assert.equal(nsResult.code, 0, nsResult.stderr);
      assert.match(nsResult.stdout, /^NAME +STATUS +AGE\nmedia +Active +0s\n$/);
    } finally {
      tables.abort();
      await log.stop();
    }
  });
});
