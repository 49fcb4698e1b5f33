import assert from "node:assert/strict";
import { type KubeObject, ManualClock } from "@skiff/api";
import { configMap, deployment, startHarness } from "./_test_harness.ts";

const EVENTS = "/api/v1/namespaces/default/events";
const MERGE = "application/merge-patch+json";

function event(name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name, namespace: "default" },
    involvedObject: { kind: "Pod", namespace: "default", name: "web-1" },
    reason: "Scheduled",
    message: "Successfully assigned default/web-1 to node-a",
    type: "Normal",
    source: { component: "default-scheduler" },
  };
}

Deno.test("events are attached to a shared lease per minute and expire an hour after their last write", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 10));
  await using h = await startHarness({ clock });
  const key = (name: string) => `/registry/core/events/default/${name}`;
  assert.equal((await h.call("POST", EVENTS, { body: event("a") })).status, 201);
  assert.equal((await h.call("POST", EVENTS, { body: event("b") })).status, 201);
  const a = await h.store.get(key("a"));
  const b = await h.store.get(key("b"));
  assert.ok(a!.lease > 0);
  assert.equal(a!.lease, b!.lease);
  const cm = await h.call("POST", "/api/v1/namespaces/default/configmaps", { body: configMap("c") });
  assert.equal(cm.status, 201);
  assert.equal((await h.store.get("/registry/core/configmaps/default/c"))!.lease, 0);

  await clock.advance(30 * 60_000);
  const updated = await h.call("PATCH", `${EVENTS}/b`, { body: { count: 2 }, contentType: MERGE });
  assert.equal(updated.status, 200, JSON.stringify(updated.body));
  const renewed = await h.store.get(key("b"));
  assert.ok(renewed!.lease > 0);
  assert.notEqual(renewed!.lease, a!.lease);

  const watch = h.store.watch("/registry/core/events/");
  const iterator = watch[Symbol.asyncIterator]();
  await clock.advance(31 * 60_000);
  const first = await withTimeout(iterator.next(), 5000);
  assert.equal(first.value[0].type, "delete");
  assert.equal(first.value[0].kv.key, key("a"));
  assert.equal((await h.call("GET", `${EVENTS}/a`)).status, 404);
  assert.equal((await h.call("GET", `${EVENTS}/b`)).status, 200);
  await clock.advance(31 * 60_000);
  const second = await withTimeout(iterator.next(), 5000);
  assert.equal(second.value[0].kv.key, key("b"));
  assert.equal((await h.call("GET", "/api/v1/namespaces/default/configmaps/c")).status, 200);
  watch.close();
});

Deno.test("ordinary writes are recorded in managedFields under the manager Kubernetes would name", async () => {
  await using h = await startHarness();
  const DEPLOY = "/apis/apps/v1/namespaces/default/deployments";
  const created = await h.call("POST", `${DEPLOY}?fieldManager=kubectl-client-side-apply`, {
    body: deployment("d"),
  });
  const entry = created.body.metadata.managedFields[0];
  assert.equal(entry.manager, "kubectl-client-side-apply");
  assert.equal(entry.operation, "Update");
  assert.equal(entry.apiVersion, "apps/v1");
  assert.equal(entry.fieldsType, "FieldsV1");
  assert.ok(entry.fieldsV1["f:spec"]["f:replicas"]);
  const edited = await h.call("PATCH", `${DEPLOY}/d`, {
    body: { spec: { replicas: 7 } },
    contentType: MERGE,
    headers: { "user-agent": "kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd" },
  });
  const byManager = Object.fromEntries(
    edited.body.metadata.managedFields.map((m: { manager: string; fieldsV1: unknown }) => [m.manager, m.fieldsV1]),
  );
  assert.ok(byManager.kubectl["f:spec"]["f:replicas"]);
  assert.equal(byManager["kubectl-client-side-apply"]["f:spec"]["f:replicas"], undefined);
  const status = await h.call("PATCH", `${DEPLOY}/d/status`, {
    body: { status: { replicas: 7 } },
    contentType: MERGE,
    headers: { "user-agent": "kube-controller-manager/v1.32.0 (linux/amd64) kubernetes/abc/deployment-controller" },
  });
  const statusEntry = status.body.metadata.managedFields.find((m: { manager: string }) =>
    m.manager === "kube-controller-manager"
  );
  assert.equal(statusEntry.subresource, "status");
  assert.ok(statusEntry.fieldsV1["f:status"]["f:replicas"]);
  const tooLong = await h.call("PATCH", `${DEPLOY}/d?fieldManager=${"m".repeat(200)}`, {
    body: { spec: { replicas: 1 } },
    contentType: MERGE,
  });
  assert.equal(tooLong.status, 400);
});

Deno.test("a JSON patch that only rewrites managedFields is stored (kubectl's upgrade to server-side apply)", async () => {
  await using h = await startHarness();
  const CM = "/api/v1/namespaces/default/configmaps";
  const created = await h.call("POST", `${CM}?fieldManager=kubectl-client-side-apply`, { body: configMap("c") });
  const managed = created.body.metadata.managedFields;
  managed[0].manager = "kubectl";
  managed[0].operation = "Apply";
  const patched = await h.call("PATCH", `${CM}/c`, {
    body: [
      { op: "test", path: "/metadata/resourceVersion", value: created.body.metadata.resourceVersion },
      { op: "replace", path: "/metadata/managedFields", value: managed },
    ],
    contentType: "application/json-patch+json",
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.deepEqual(
    patched.body.metadata.managedFields.map((m: { manager: string; operation: string }) => [m.manager, m.operation]),
    [["kubectl", "Apply"]],
  );
  assert.notEqual(patched.body.metadata.resourceVersion, created.body.metadata.resourceVersion);
});

Deno.test("writes made in process through handler.as are not recorded in managedFields", async () => {
  await using h = await startHarness();
  const call = h.api.handler.as({ name: "system:control-plane", role: "admin" });
  const res = await call(
    new Request("https://skiff.test/api/v1/namespaces/default/configmaps", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(configMap("internal")),
    }),
  );
  assert.equal(res.status, 201);
  assert.equal((await res.json()).metadata.managedFields, undefined);
});

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(`Nothing within ${ms} ms`)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
