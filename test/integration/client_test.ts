import assert from "node:assert/strict";
import { AlreadyExistsError, ConflictError, type KubeObject, NotFoundError } from "@skiff/api";
import { ApiClient, Informer, objectKey } from "@skiff/client";
import { startControlPlane, SYSTEM_USER } from "@skiff/control-plane";
import { createTempDir } from "../support/mod.ts";

async function withPlane(
  fn: (ctx: { inProcess: ApiClient; https: ApiClient; compact: () => Promise<void> }) => Promise<void>,
) {
  await using dir = await createTempDir({ prefix: "skiff-client-" });
  const plane = await startControlPlane({ dataDir: dir.path, port: 0, bind: "127.0.0.1", log: () => {} });
  const inProcess = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  const { client: https } = await ApiClient.fromKubeconfig({ kubeconfig: plane.kubeconfigPath });
  try {
    await fn({
      inProcess,
      https,
      compact: () => plane.store.compact(plane.store.currentRevision()),
    });
  } finally {
    https.close();
    await plane.stop();
  }
}

const cm = (name: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default" },
  data,
});

Deno.test("ApiClient over HTTPS and in process creates, reads, patches and deletes with typed errors", async () => {
  await withPlane(async ({ inProcess, https }) => {
    for (const client of [inProcess, https]) {
      const configMaps = client.kind("v1", "ConfigMap");
      const name = `c-${client === https ? "https" : "local"}`;
      const created = await configMaps.create(cm(name, { a: "1" }));
      await assert.rejects(configMaps.create(cm(name)), AlreadyExistsError);
      const patched = await configMaps.patch(name, { data: { b: "2" } }, { namespace: "default" });
      assert.deepEqual(patched.data, { a: "1", b: "2" });
      await assert.rejects(configMaps.update({ ...created, data: { stale: "x" } }), ConflictError);
      const listed = await configMaps.list({ namespace: "default", fieldSelector: `metadata.name=${name}` });
      assert.deepEqual(listed.items.map(objectKey), [`default/${name}`]);
      await configMaps.delete(name, { namespace: "default" });
      await assert.rejects(configMaps.get(name, { namespace: "default" }), NotFoundError);
    }
  });
});

Deno.test("ApiClient.watch() streams events after a resourceVersion", async () => {
  await withPlane(async ({ https }) => {
    const configMaps = https.kind("v1", "ConfigMap");
    const list = await configMaps.list({ namespace: "default" });
    const ac = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (
        const ev of configMaps.watch({
          namespace: "default",
          resourceVersion: list.metadata.resourceVersion!,
          signal: ac.signal,
        })
      ) {
        seen.push(`${ev.type} ${ev.object.metadata.name}`);
        if (seen.length === 3) ac.abort();
      }
    })();
    await configMaps.create(cm("w1"));
    await configMaps.patch("w1", { data: { x: "y" } }, { namespace: "default" });
    await configMaps.delete("w1", { namespace: "default" });
    await watching;
    assert.deepEqual(seen, ["ADDED w1", "MODIFIED w1", "DELETED w1"]);
  });
});

Deno.test("Informer lists, follows changes, and relists after its revision is compacted", async () => {
  await using dir = await createTempDir({ prefix: "skiff-client-" });
  const plane = await startControlPlane({ dataDir: dir.path, port: 0, bind: "127.0.0.1", log: () => {} });
  const direct = plane.handler.as(SYSTEM_USER);
  let gate: PromiseWithResolvers<void> | undefined;
  const breaks = new Set<AbortController>();
  const transport = async (req: Request) => {
    if (!new URL(req.url).searchParams.has("watch")) return direct(req);
    await gate?.promise;
    const ac = new AbortController();
    breaks.add(ac);
    return direct(new Request(req, { signal: AbortSignal.any([req.signal, ac.signal]) }));
  };
  const client = new ApiClient({ server: "https://in-process", transport });
  const configMaps = client.kind("v1", "ConfigMap");
  try {
    await configMaps.create(cm("before"));
    const events: string[] = [];
    const informer = new Informer(configMaps, { namespace: "default", retryMs: 10 }).on({
      add: (o) => events.push(`add ${o.metadata.name}`),
      update: (_, o) => events.push(`update ${o.metadata.name}`),
      delete: (o) => events.push(`delete ${o.metadata.name}`),
    });
    await informer.start();
    assert.ok(informer.get("default/before"));
    await configMaps.create(cm("after"));
    await waitFor(() => events.includes("add after"));

    gate = Promise.withResolvers<void>();
    for (const ac of breaks) ac.abort();
    await configMaps.delete("before", { namespace: "default" });
    await configMaps.create(cm("created-while-cut-off"));
    await plane.store.compact(plane.store.currentRevision());
    gate.resolve();
    await waitFor(() => events.includes("delete before") && events.includes("add created-while-cut-off"));
    assert.deepEqual(informer.list().map(objectKey).sort(), ["default/after", "default/created-while-cut-off"]);
    informer.stop();
  } finally {
    await plane.stop();
  }
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
