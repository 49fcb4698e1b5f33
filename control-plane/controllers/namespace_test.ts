import assert from "node:assert/strict";
import type { ApiClient } from "@skiff/client";
import type { ConfigMap, Namespace, Pod } from "@skiff/api";
import { findKubectl } from "../../test/support/mod.ts";
import { NamespaceController, NAMESPACED_TYPES } from "./namespace.ts";
import { forceDelete, runPod, startTestCluster, waitFor } from "./_testing.ts";

const namespaces = (client: ApiClient) => client.kind<Namespace>("v1", "Namespace");
const gone = (client: ApiClient, name: string) => namespaces(client).get(name).then(() => false, () => true);
const condition = (ns: Namespace, type: string) => ns.status?.conditions?.find((c) => c.type === type);

async function fill(client: ApiClient, namespace: string): Promise<void> {
  await namespaces(client).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  await client.kind("v1", "ConfigMap").create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings", namespace },
    data: { a: "b" },
  });
  await client.kind("v1", "Secret").create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "password", namespace },
    stringData: { p: "q" },
  });
  await client.kind("v1", "Service").create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace },
    spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
  });
  await client.kind("apps/v1", "Deployment").create({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace },
    spec: {
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "w", image: "busybox:1.36" }] } },
    },
  });
}

Deno.test("NAMESPACED_TYPES holds every deletable namespaced type and nothing cluster-scoped", () => {
  const kinds = NAMESPACED_TYPES.map((t) => t.kind);
  for (const kind of ["Pod", "Service", "Endpoints", "ConfigMap", "Secret", "Event", "Deployment", "Lease"]) {
    assert.ok(kinds.includes(kind), kind);
  }
  for (const kind of ["Node", "Namespace", "PersistentVolume", "Binding", "PodMetrics"]) {
    assert.ok(!kinds.includes(kind), kind);
  }
});

Deno.test("NamespaceController deletes a namespace's content, waits for what remains, then finalizes it", async () => {
  await using cluster = await startTestCluster([new NamespaceController()]);
  const { client } = cluster;
  await fill(client, "team");
  const pod = await client.kind<Pod>("v1", "Pod").create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "worker", namespace: "team" },
    spec: { containers: [{ name: "w", image: "busybox:1.36" }] },
  });
  await runPod(client, pod, { node: "pi-1" });
  await client.kind<ConfigMap>("v1", "ConfigMap").create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "held", namespace: "team", finalizers: ["example.com/hold"] },
  });

  await namespaces(client).delete("team");
  const waiting = await waitFor("the namespace reporting what remains", async () => {
    const ns = await namespaces(client).get("team");
    return condition(ns, "NamespaceFinalizersRemaining")?.status === "True" &&
      condition(ns, "NamespaceContentRemaining")?.message?.includes("pods has 1") && ns;
  });
  assert.equal(waiting.status?.phase, "Terminating");
  assert.equal(
    condition(waiting, "NamespaceContentRemaining")?.message,
    "Some resources are remaining: configmaps has 1 resource instances, pods has 1 resource instances",
  );
  assert.equal(
    condition(waiting, "NamespaceFinalizersRemaining")?.message,
    "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
  );
  for (const [apiVersion, kind] of [["v1", "Secret"], ["v1", "Service"], ["apps/v1", "Deployment"]] as const) {
    assert.equal((await client.kind(apiVersion, kind).list({ namespace: "team" })).items.length, 0, kind);
  }

  await forceDelete(client, await client.kind<Pod>("v1", "Pod").get("worker", { namespace: "team" }));
  await client.kind("v1", "ConfigMap").patch("held", { metadata: { finalizers: null } }, { namespace: "team" });
  await waitFor("the namespace gone", () => gone(client, "team"));
});

Deno.test("NamespaceController lets `kubectl delete namespace` complete", async () => {
  await using cluster = await startTestCluster([new NamespaceController()]);
  const { client, plane } = cluster;
  await fill(client, "lab");
  const kubectl = await findKubectl();
  const out = await new Deno.Command(kubectl, {
    args: ["--kubeconfig", plane.kubeconfigPath, "delete", "namespace", "lab", "--timeout=30s"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, text);
  assert.match(text, /namespace "lab" deleted/);
  assert.ok(await gone(client, "lab"));
});
