import assert from "node:assert/strict";
import { configMap, deployment, pod, startHarness } from "./_test_harness.ts";

const CM = "/api/v1/namespaces/default/configmaps";
const PODS = "/api/v1/namespaces/default/pods";
const DEPLOY = "/apis/apps/v1/namespaces/default/deployments";
const MERGE = "application/merge-patch+json";
const JSON_PATCH = "application/json-patch+json";
const STRATEGIC = "application/strategic-merge-patch+json";
const APPLY = "application/apply-patch+yaml";

Deno.test("create fills uid, creationTimestamp, generation and a name from generateName", async () => {
  await using h = await startHarness();
  const res = await h.call("POST", DEPLOY, {
    body: { ...deployment("x"), metadata: { generateName: "web-", namespace: "default", labels: { app: "x" } } },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.match(res.body.metadata.name, /^web-[a-z0-9]{5}$/);
  assert.equal(res.body.metadata.generation, 1);
  assert.ok(res.body.metadata.uid);
  assert.equal(res.body.spec.strategy.type, "RollingUpdate");
  const again = await h.call("POST", DEPLOY, {
    body: { ...deployment("x"), metadata: { generateName: "web-", labels: { app: "x" } } },
  });
  assert.notEqual(again.body.metadata.name, res.body.metadata.name);
});

Deno.test("create ignores a client's uid, resourceVersion and deletionTimestamp", async () => {
  await using h = await startHarness();
  const body = configMap("c");
  body.metadata.uid = "11111111-1111-1111-1111-111111111111";
  body.metadata.resourceVersion = "999";
  body.metadata.deletionTimestamp = "2020-01-01T00:00:00Z";
  const res = await h.call("POST", CM, { body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.notEqual(res.body.metadata.uid, body.metadata.uid);
  assert.notEqual(res.body.metadata.resourceVersion, "999");
  assert.equal(res.body.metadata.deletionTimestamp, undefined);
});

Deno.test("create in a namespace that does not exist is 404, in a terminating one 403", async () => {
  await using h = await startHarness();
  const missing = await h.call("POST", "/api/v1/namespaces/ghost/configmaps", { body: configMap("c", "ghost") });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.reason, "NotFound");
  assert.match(missing.body.message, /namespaces "ghost" not found/);
  await h.call("POST", "/api/v1/namespaces", {
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name: "bye" } },
  });
  const del = await h.call("DELETE", "/api/v1/namespaces/bye");
  assert.equal(del.status, 200);
  assert.equal(del.body.status.phase, "Terminating");
  assert.ok(del.body.metadata.deletionTimestamp);
  const refused = await h.call("POST", "/api/v1/namespaces/bye/configmaps", { body: configMap("c", "bye") });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.reason, "Forbidden");
  assert.match(refused.body.message, /being terminated/);
});

Deno.test("create refuses a body whose kind, apiVersion or namespace do not match the URL", async () => {
  await using h = await startHarness();
  const kind = await h.call("POST", CM, { body: { ...configMap("c"), kind: "Secret" } });
  assert.equal(kind.status, 400);
  assert.match(kind.body.message, /kind in the data \(Secret\) does not match the expected kind \(ConfigMap\)/);
  const version = await h.call("POST", CM, { body: { ...configMap("c"), apiVersion: "apps/v1" } });
  assert.equal(version.status, 400);
  assert.match(version.body.message, /API version/);
  const ns = await h.call("POST", CM, { body: configMap("c", "kube-system") });
  assert.equal(ns.status, 400);
  assert.match(ns.body.message, /namespace of the provided object does not match/);
  const noNs = await h.call("POST", "/api/v1/configmaps", { body: configMap("c") });
  assert.equal(noNs.status, 400);
  const notObject = await h.call("POST", CM, { body: [configMap("c")] });
  assert.equal(notObject.status, 400);
  const metadataString = await h.call("POST", CM, { body: { ...configMap("c"), metadata: "x" } });
  assert.equal(metadataString.status, 422);
});

Deno.test("create of an invalid object is 422 Invalid with field paths in details.causes", async () => {
  await using h = await startHarness();
  const bad = pod("Bad_Name");
  const spec = bad.spec as { containers: Record<string, unknown>[] };
  spec.containers[0]!.image = "";
  spec.containers[0]!.ports = [{ containerPort: 70000 }];
  spec.containers[0]!.resources = { limits: { cpu: "lots" } };
  const res = await h.call("POST", PODS, { body: bad });
  assert.equal(res.status, 422);
  assert.equal(res.body.kind, "Status");
  assert.equal(res.body.reason, "Invalid");
  assert.equal(res.body.details.kind, "Pod");
  assert.equal(res.body.details.name, "Bad_Name");
  const fields = res.body.details.causes.map((c: { field: string }) => c.field);
  for (
    const field of [
      "metadata.name",
      "spec.containers[0].image",
      "spec.containers[0].ports[0].containerPort",
      "spec.containers[0].resources.limits[cpu]",
    ]
  ) {
    assert.ok(fields.includes(field), `${field} in ${fields.join(", ")}`);
  }
  assert.match(res.body.message, /^Pod "Bad_Name" is invalid: /);
  const wrongType = await h.call("POST", DEPLOY, { body: { ...deployment("d"), spec: { replicas: "three" } } });
  assert.equal(wrongType.status, 422);
  assert.ok(wrongType.body.details.causes.some((c: { field: string }) => c.field === "spec.replicas"));
});

Deno.test("create of a name that exists is 409 AlreadyExists", async () => {
  await using h = await startHarness();
  assert.equal((await h.call("POST", CM, { body: configMap("c") })).status, 201);
  const res = await h.call("POST", CM, { body: configMap("c") });
  assert.equal(res.status, 409);
  assert.equal(res.body.reason, "AlreadyExists");
  assert.equal(res.body.message, 'configmaps "c" already exists');
  assert.deepEqual(res.body.details, { name: "c", group: "", kind: "configmaps" });
});

Deno.test("create with dryRun=All validates and answers but stores nothing", async () => {
  await using h = await startHarness();
  const res = await h.call("POST", `${CM}?dryRun=All`, { body: configMap("c") });
  assert.equal(res.status, 201);
  assert.equal((await h.call("GET", `${CM}/c`)).status, 404);
  const bad = await h.call("POST", `${CM}?dryRun=Maybe`, { body: configMap("c") });
  assert.equal(bad.status, 400);
});

Deno.test("update with a stale resourceVersion is 409 Conflict, without one it overwrites", async () => {
  await using h = await startHarness();
  const created = await h.call("POST", CM, { body: configMap("c") });
  const first = structuredClone(created.body);
  first.data.key = "one";
  const ok = await h.call("PUT", `${CM}/c`, { body: first });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.data.key, "one");
  const stale = structuredClone(created.body);
  stale.data.key = "two";
  const conflict = await h.call("PUT", `${CM}/c`, { body: stale });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.reason, "Conflict");
  assert.match(conflict.body.message, /the object has been modified; please apply your changes to the latest version/);
  const unconditional = structuredClone(created.body);
  delete unconditional.metadata.resourceVersion;
  unconditional.data.key = "three";
  const over = await h.call("PUT", `${CM}/c`, { body: unconditional });
  assert.equal(over.status, 200);
  assert.equal(over.body.data.key, "three");
  const missing = await h.call("PUT", `${CM}/nope`, { body: configMap("nope") });
  assert.equal(missing.status, 404);
  const renamed = await h.call("PUT", `${CM}/c`, { body: configMap("other") });
  assert.equal(renamed.status, 400);
});

Deno.test("update keeps uid and creationTimestamp and bumps generation only on spec changes", async () => {
  await using h = await startHarness();
  const created = (await h.call("POST", DEPLOY, { body: deployment("d") })).body;
  const relabel = structuredClone(created);
  relabel.metadata.labels.extra = "yes";
  relabel.metadata.uid = undefined;
  relabel.metadata.creationTimestamp = "2000-01-01T00:00:00Z";
  const labelled = await h.call("PUT", `${DEPLOY}/d`, { body: relabel });
  assert.equal(labelled.status, 200, JSON.stringify(labelled.body));
  assert.equal(labelled.body.metadata.generation, 1);
  assert.equal(labelled.body.metadata.uid, created.metadata.uid);
  assert.equal(labelled.body.metadata.creationTimestamp, created.metadata.creationTimestamp);
  const rescale = structuredClone(labelled.body);
  rescale.spec.replicas = 5;
  const scaled = await h.call("PUT", `${DEPLOY}/d`, { body: rescale });
  assert.equal(scaled.body.metadata.generation, 2);
  const same = await h.call("PUT", `${DEPLOY}/d`, { body: scaled.body });
  assert.equal(same.body.metadata.generation, 2);
  assert.equal(same.body.metadata.resourceVersion, scaled.body.metadata.resourceVersion);
  const otherUid = structuredClone(scaled.body);
  otherUid.metadata.uid = "00000000-0000-0000-0000-000000000000";
  const refused = await h.call("PUT", `${DEPLOY}/d`, { body: otherUid });
  assert.equal(refused.status, 409);
});

Deno.test("status changes only through /status, and /status does not change spec or labels", async () => {
  await using h = await startHarness();
  const created = (await h.call("POST", DEPLOY, { body: deployment("d") })).body;
  assert.equal(created.status, undefined);
  const viaMain = structuredClone(created);
  viaMain.status = { replicas: 9 };
  viaMain.spec.replicas = 3;
  const main = await h.call("PUT", `${DEPLOY}/d`, { body: viaMain });
  assert.equal(main.status, 200);
  assert.equal(main.body.status, undefined);
  assert.equal(main.body.spec.replicas, 3);
  const viaStatus = structuredClone(main.body);
  viaStatus.status = { replicas: 2, observedGeneration: 2 };
  viaStatus.spec.replicas = 7;
  viaStatus.metadata.labels = { hijacked: "yes" };
  const status = await h.call("PUT", `${DEPLOY}/d/status`, { body: viaStatus });
  assert.equal(status.status, 200, JSON.stringify(status.body));
  assert.deepEqual(status.body.status, { replicas: 2, observedGeneration: 2 });
  assert.equal(status.body.spec.replicas, 3);
  assert.deepEqual(status.body.metadata.labels, { app: "d" });
  assert.equal(status.body.metadata.generation, 2);
  const got = await h.call("GET", `${DEPLOY}/d/status`);
  assert.equal(got.body.kind, "Deployment");
  assert.equal(got.body.status.replicas, 2);
  const patched = await h.call("PATCH", `${DEPLOY}/d/status`, {
    body: { status: { replicas: 3 }, spec: { replicas: 1 } },
    contentType: MERGE,
  });
  assert.equal(patched.body.status.replicas, 3);
  assert.equal(patched.body.spec.replicas, 3);
  const stale = await h.call("PUT", `${DEPLOY}/d/status`, { body: viaStatus });
  assert.equal(stale.status, 409);
});

Deno.test("patch applies merge, JSON and strategic merge patches as kubectl sends them", async () => {
  await using h = await startHarness();
  await h.call("POST", DEPLOY, { body: deployment("d") });
  const merge = await h.call("PATCH", `${DEPLOY}/d`, {
    body: { metadata: { labels: { tier: "web" } }, spec: { replicas: 4 } },
    contentType: MERGE,
  });
  assert.equal(merge.status, 200, JSON.stringify(merge.body));
  assert.equal(merge.body.spec.replicas, 4);
  assert.equal(merge.body.metadata.labels.tier, "web");
  assert.equal(merge.body.metadata.generation, 2);

  const json = await h.call("PATCH", `${DEPLOY}/d`, {
    body: [
      { op: "test", path: "/spec/replicas", value: 4 },
      { op: "replace", path: "/spec/replicas", value: 1 },
      { op: "remove", path: "/metadata/labels/tier" },
    ],
    contentType: JSON_PATCH,
  });
  assert.equal(json.status, 200, JSON.stringify(json.body));
  assert.equal(json.body.spec.replicas, 1);
  assert.equal(json.body.metadata.labels.tier, undefined);
  const failedTest = await h.call("PATCH", `${DEPLOY}/d`, {
    body: [{ op: "test", path: "/spec/replicas", value: 99 }],
    contentType: JSON_PATCH,
  });
  assert.ok(failedTest.status === 422 || failedTest.status === 400, String(failedTest.status));
  assert.equal(failedTest.body.kind, "Status");

  // What `kubectl set image` / `kubectl apply` send: a keyed list merge with $setElementOrder.
  const strategic = await h.call("PATCH", `${DEPLOY}/d`, {
    body: {
      spec: {
        template: {
          spec: {
            "$setElementOrder/containers": [{ name: "sidecar" }, { name: "web" }],
            containers: [{ name: "sidecar", image: "busybox:latest" }, { name: "web", image: "busybox:1.36" }],
          },
        },
      },
    },
    contentType: STRATEGIC,
  });
  assert.equal(strategic.status, 200, JSON.stringify(strategic.body));
  const containers = strategic.body.spec.template.spec.containers;
  assert.deepEqual(containers.map((c: { name: string }) => c.name), ["sidecar", "web"]);
  assert.equal(containers[1].image, "busybox:1.36");
  assert.deepEqual(containers[1].ports, [{ containerPort: 80, protocol: "TCP" }]);
  const deleteDirective = await h.call("PATCH", `${DEPLOY}/d`, {
    body: { spec: { template: { spec: { containers: [{ name: "sidecar", $patch: "delete" }] } } } },
    contentType: STRATEGIC,
  });
  assert.deepEqual(
    deleteDirective.body.spec.template.spec.containers.map((c: { name: string }) => c.name),
    ["web"],
  );
});

Deno.test("patch refuses stale resourceVersions, bad bodies and unknown patch types", async () => {
  await using h = await startHarness();
  const created = (await h.call("POST", CM, { body: configMap("c") })).body;
  await h.call("PATCH", `${CM}/c`, { body: { data: { key: "v2" } }, contentType: MERGE });
  const stale = await h.call("PATCH", `${CM}/c`, {
    body: { metadata: { resourceVersion: created.metadata.resourceVersion }, data: { key: "v3" } },
    contentType: MERGE,
  });
  assert.equal(stale.status, 409);
  const staleJson = await h.call("PATCH", `${CM}/c`, {
    body: [{ op: "replace", path: "/metadata/resourceVersion", value: created.metadata.resourceVersion }],
    contentType: JSON_PATCH,
  });
  assert.equal(staleJson.status, 409);
  const notArray = await h.call("PATCH", `${CM}/c`, { body: { op: "add" }, contentType: JSON_PATCH });
  assert.equal(notArray.status, 400);
  const invalidJson = await h.call("PATCH", `${CM}/c`, { body: "{", contentType: MERGE });
  assert.equal(invalidJson.status, 400);
  const form = await h.call("PATCH", `${CM}/c`, { body: "a=b", contentType: "application/x-www-form-urlencoded" });
  assert.equal(form.status, 415);
  assert.equal(form.body.reason, "UnsupportedMediaType");
  const missing = await h.call("PATCH", `${CM}/nope`, { body: {}, contentType: MERGE });
  assert.equal(missing.status, 404);
  const invalid = await h.call("PATCH", `${CM}/c`, {
    body: { metadata: { labels: { "bad key!": "x" } } },
    contentType: MERGE,
  });
  assert.equal(invalid.status, 422);
  const removeMeta = await h.call("PATCH", `${CM}/c`, { body: { metadata: null }, contentType: MERGE });
  assert.equal(removeMeta.status, 400);
  const rename = await h.call("PATCH", `${CM}/c`, { body: { metadata: { name: "d" } }, contentType: MERGE });
  assert.equal(rename.status, 400);
});

Deno.test("server-side apply creates, re-applies removing dropped fields, and reports conflicts unless forced", async () => {
  await using h = await startHarness();
  const config = (extra: string) =>
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  namespace: default
data:
  a: "1"
${extra}`;
  const created = await h.call("PATCH", `${CM}/applied?fieldManager=alice`, {
    body: config('  b: "2"\n'),
    contentType: APPLY,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(created.body.data, { a: "1", b: "2" });
  assert.equal(created.body.metadata.managedFields[0].manager, "alice");
  assert.equal(created.body.metadata.managedFields[0].operation, "Apply");
  const reapplied = await h.call("PATCH", `${CM}/applied?fieldManager=alice`, { body: config(""), contentType: APPLY });
  assert.equal(reapplied.status, 200);
  assert.deepEqual(reapplied.body.data, { a: "1" });
  assert.equal(reapplied.body.metadata.uid, created.body.metadata.uid);

  const conflict = await h.call("PATCH", `${CM}/applied?fieldManager=bob`, {
    body: config("").replace('a: "1"', 'a: "9"'),
    contentType: APPLY,
  });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.reason, "Conflict");
  assert.match(conflict.body.message, /Apply failed with 1 conflict: conflict with "alice": \.data\.a/);
  assert.equal(conflict.body.details.causes[0].field, ".data.a");
  const forced = await h.call("PATCH", `${CM}/applied?fieldManager=bob&force=true`, {
    body: config("").replace('a: "1"', 'a: "9"'),
    contentType: APPLY,
  });
  assert.equal(forced.status, 200);
  assert.equal(forced.body.data.a, "9");
  const noManager = await h.call("PATCH", `${CM}/applied`, { body: config(""), contentType: APPLY });
  assert.equal(noManager.status, 400);
  const badYaml = await h.call("PATCH", `${CM}/applied?fieldManager=x`, { body: "a: [", contentType: APPLY });
  assert.equal(badYaml.status, 400);
  const wrongName = await h.call("PATCH", `${CM}/other?fieldManager=x`, { body: config(""), contentType: APPLY });
  assert.equal(wrongName.status, 400);
});

Deno.test("server-side apply after a client-side update conflicts with that manager like Kubernetes", async () => {
  await using h = await startHarness();
  await h.call("POST", `${DEPLOY}?fieldManager=kubectl-client-side-apply`, { body: deployment("d", 2) });
  const edited = await h.call("PATCH", `${DEPLOY}/d`, {
    body: { spec: { replicas: 5 } },
    contentType: MERGE,
    headers: { "user-agent": "kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd" },
  });
  const managers = edited.body.metadata.managedFields.map((m: { manager: string; operation: string }) =>
    `${m.manager}/${m.operation}`
  );
  assert.deepEqual(managers.sort(), ["kubectl-client-side-apply/Update", "kubectl/Update"]);
  const apply = await h.call("PATCH", `${DEPLOY}/d?fieldManager=kubectl&force=false`, {
    body: JSON.stringify({ ...deployment("d", 3), metadata: { name: "d", labels: { app: "d" } } }),
    contentType: APPLY,
  });
  assert.equal(apply.status, 409, JSON.stringify(apply.body));
  assert.match(apply.body.message, /conflict with "kubectl" using apps\/v1: \.spec\.replicas/);
});

Deno.test("delete removes an object at once and answers a Success Status with its uid", async () => {
  await using h = await startHarness();
  const created = (await h.call("POST", CM, { body: configMap("c") })).body;
  const res = await h.call("DELETE", `${CM}/c`);
  assert.equal(res.status, 200);
  assert.equal(res.body.kind, "Status");
  assert.equal(res.body.status, "Success");
  assert.equal(res.body.details.uid, created.metadata.uid);
  assert.equal((await h.call("GET", `${CM}/c`)).status, 404);
  assert.equal((await h.call("DELETE", `${CM}/c`)).status, 404);
});

Deno.test("delete honours preconditions, dryRun and refuses a bad propagationPolicy", async () => {
  await using h = await startHarness();
  const created = (await h.call("POST", CM, { body: configMap("c") })).body;
  const body = (extra: Record<string, unknown>) => ({ kind: "DeleteOptions", apiVersion: "v1", ...extra });
  const wrongUid = await h.call("DELETE", `${CM}/c`, { body: body({ preconditions: { uid: "nope" } }) });
  assert.equal(wrongUid.status, 409);
  assert.match(wrongUid.body.message, /Precondition failed: UID in precondition: nope/);
  const wrongRv = await h.call("DELETE", `${CM}/c`, { body: body({ preconditions: { resourceVersion: "1" } }) });
  assert.equal(wrongRv.status, 409);
  const badPolicy = await h.call("DELETE", `${CM}/c`, { body: body({ propagationPolicy: "Sideways" }) });
  assert.equal(badPolicy.status, 400);
  const badGrace = await h.call("DELETE", `${CM}/c?gracePeriodSeconds=-5`);
  assert.equal(badGrace.status, 400);
  const dry = await h.call("DELETE", `${CM}/c`, { body: body({ dryRun: ["All"] }) });
  assert.equal(dry.status, 200);
  assert.equal((await h.call("GET", `${CM}/c`)).status, 200);
  const dryQuery = await h.call("DELETE", `${CM}/c?dryRun=All`);
  assert.equal(dryQuery.status, 200);
  assert.equal((await h.call("GET", `${CM}/c`)).status, 200);
  const right = await h.call("DELETE", `${CM}/c`, {
    body: body({ preconditions: { uid: created.metadata.uid, resourceVersion: created.metadata.resourceVersion } }),
  });
  assert.equal(right.status, 200);
  assert.equal((await h.call("GET", `${CM}/c`)).status, 404);
});

Deno.test("delete of an object with finalizers keeps it until an update removes the last one", async () => {
  await using h = await startHarness();
  const body = configMap("c");
  body.metadata.finalizers = ["example.com/a", "example.com/b"];
  await h.call("POST", CM, { body });
  const del = await h.call("DELETE", `${CM}/c`);
  assert.equal(del.status, 200);
  assert.equal(del.body.kind, "ConfigMap");
  assert.ok(del.body.metadata.deletionTimestamp);
  assert.equal(del.body.metadata.deletionGracePeriodSeconds, 0);
  const still = await h.call("GET", `${CM}/c`);
  assert.equal(still.status, 200);
  assert.equal(still.body.metadata.deletionTimestamp, del.body.metadata.deletionTimestamp);
  const again = await h.call("DELETE", `${CM}/c`);
  assert.equal(again.status, 200);
  assert.equal(again.body.metadata.deletionTimestamp, del.body.metadata.deletionTimestamp);
  const clearTimestamp = await h.call("PATCH", `${CM}/c`, {
    body: { metadata: { deletionTimestamp: null, finalizers: ["example.com/b"] } },
    contentType: MERGE,
  });
  assert.equal(clearTimestamp.status, 200);
  assert.equal(clearTimestamp.body.metadata.deletionTimestamp, del.body.metadata.deletionTimestamp);
  const addFinalizer = await h.call("PATCH", `${CM}/c`, {
    body: { metadata: { finalizers: ["example.com/b", "example.com/new"] } },
    contentType: MERGE,
  });
  assert.equal(addFinalizer.status, 422);
  const last = await h.call("PATCH", `${CM}/c`, { body: { metadata: { finalizers: null } }, contentType: MERGE });
  assert.equal(last.status, 200);
  assert.equal((await h.call("GET", `${CM}/c`)).status, 404);
});

Deno.test("delete with propagationPolicy Orphan or Foreground leaves the object to the garbage collector", async () => {
  await using h = await startHarness();
  await h.call("POST", DEPLOY, { body: deployment("orphan") });
  await h.call("POST", DEPLOY, { body: deployment("fore") });
  await h.call("POST", DEPLOY, { body: deployment("back") });
  const orphan = await h.call("DELETE", `${DEPLOY}/orphan?propagationPolicy=Orphan`);
  assert.deepEqual(orphan.body.metadata.finalizers, ["orphan"]);
  assert.ok(orphan.body.metadata.deletionTimestamp);
  const fore = await h.call("DELETE", `${DEPLOY}/fore`, {
    body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Foreground" },
  });
  assert.deepEqual(fore.body.metadata.finalizers, ["foregroundDeletion"]);
  assert.equal(fore.body.metadata.generation, 2);
  const back = await h.call("DELETE", `${DEPLOY}/back`, {
    body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" },
  });
  assert.equal(back.body.kind, "Status");
  const legacy = await h.call("POST", DEPLOY, { body: deployment("legacy") });
  assert.equal(legacy.status, 201);
  const orphanDependents = await h.call("DELETE", `${DEPLOY}/legacy`, {
    body: { kind: "DeleteOptions", apiVersion: "v1", orphanDependents: true },
  });
  assert.deepEqual(orphanDependents.body.metadata.finalizers, ["orphan"]);
});

Deno.test("delete of a pod bound to a node is graceful until the node deletes it with grace 0", async () => {
  await using h = await startHarness();
  await h.call("POST", PODS, { body: pod("bound", { nodeName: "node-a" }) });
  await h.call("POST", PODS, { body: pod("unbound") });
  const unbound = await h.call("DELETE", `${PODS}/unbound`);
  assert.equal(unbound.body.kind, "Status");
  const graceful = await h.call("DELETE", `${PODS}/bound`);
  assert.equal(graceful.status, 200);
  assert.equal(graceful.body.kind, "Pod");
  assert.equal(graceful.body.metadata.deletionGracePeriodSeconds, 30);
  const ts = Date.parse(graceful.body.metadata.deletionTimestamp);
  assert.ok(ts > Date.now() + 25_000, graceful.body.metadata.deletionTimestamp);
  const shorter = await h.call("DELETE", `${PODS}/bound?gracePeriodSeconds=10`);
  assert.equal(shorter.body.metadata.deletionGracePeriodSeconds, 10);
  const longer = await h.call("DELETE", `${PODS}/bound?gracePeriodSeconds=60`);
  assert.equal(longer.body.metadata.deletionGracePeriodSeconds, 10);
  const status = await h.call("PATCH", `${PODS}/bound/status`, {
    body: { status: { phase: "Running" } },
    contentType: MERGE,
    token: h.tokens.nodeA,
  });
  assert.equal(status.status, 200);
  assert.equal((await h.call("GET", `${PODS}/bound`)).status, 200);
  const final = await h.call("DELETE", `${PODS}/bound`, {
    body: { kind: "DeleteOptions", apiVersion: "v1", gracePeriodSeconds: 0 },
    token: h.tokens.nodeA,
  });
  assert.equal(final.status, 200, JSON.stringify(final.body));
  assert.equal(final.body.kind, "Status");
  assert.equal((await h.call("GET", `${PODS}/bound`)).status, 404);
});

Deno.test("a forced delete (grace 0) of a bound pod removes it at once", async () => {
  await using h = await startHarness();
  await h.call("POST", PODS, { body: pod("bound", { nodeName: "node-a" }) });
  const res = await h.call("DELETE", `${PODS}/bound?gracePeriodSeconds=0`);
  assert.equal(res.body.kind, "Status");
  assert.equal((await h.call("GET", `${PODS}/bound`)).status, 404);
});

Deno.test("deletecollection deletes what the selectors match in one namespace, and is refused across all", async () => {
  await using h = await startHarness();
  await h.call("POST", "/api/v1/namespaces", {
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name: "ns2" } },
  });
  for (const [name, ns, app] of [["a", "default", "x"], ["b", "default", "y"], ["c", "ns2", "x"]]) {
    await h.call("POST", `/api/v1/namespaces/${ns}/configmaps`, {
      body: configMap(name!, ns, { metadata: { name, labels: { app: app! } } }),
    });
  }
  const res = await h.call("DELETE", `${CM}?labelSelector=app%3Dx`);
  assert.equal(res.status, 200);
  assert.equal(res.body.kind, "ConfigMapList");
  assert.deepEqual(res.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ["a"]);
  const left = await h.call("GET", "/api/v1/configmaps");
  assert.deepEqual(left.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ["b", "c"]);
  const dry = await h.call("DELETE", `${CM}?dryRun=All`);
  assert.equal(dry.status, 200);
  assert.equal((await h.call("GET", "/api/v1/configmaps")).body.items.length, 2);
  // Across namespaces it would also take kube-system's Secrets, the tokens among them: Kubernetes refuses it too.
  for (const path of ["/api/v1/configmaps", "/api/v1/secrets", "/api/v1/namespaces/../secrets"]) {
    const across = await h.call("DELETE", path);
    assert.equal(across.status, 405, `${path}: ${JSON.stringify(across.body)}`);
    assert.match(across.body.message, /across all namespaces/);
  }
  assert.equal((await h.call("GET", "/api/v1/configmaps")).body.items.length, 2);
  assert.ok((await h.call("GET", "/api/v1/namespaces/kube-system/secrets")).body.items.length > 0);
  await h.call("DELETE", CM);
  await h.call("DELETE", "/api/v1/namespaces/ns2/configmaps");
  assert.equal((await h.call("GET", "/api/v1/configmaps")).body.items.length, 0);
});

Deno.test("scale get, put and patch speak autoscaling/v1 Scale", async () => {
  await using h = await startHarness();
  await h.call("POST", DEPLOY, { body: deployment("d", 2) });
  const got = await h.call("GET", `${DEPLOY}/d/scale`);
  assert.equal(got.status, 200);
  assert.equal(got.body.apiVersion, "autoscaling/v1");
  assert.equal(got.body.kind, "Scale");
  assert.equal(got.body.spec.replicas, 2);
  assert.equal(got.body.status.selector, "app=d");
  const put = await h.call("PUT", `${DEPLOY}/d/scale`, { body: { ...got.body, spec: { replicas: 4 } } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.kind, "Scale");
  assert.equal(put.body.spec.replicas, 4);
  const stale = await h.call("PUT", `${DEPLOY}/d/scale`, { body: { ...got.body, spec: { replicas: 1 } } });
  assert.equal(stale.status, 409);
  const patched = await h.call("PATCH", `${DEPLOY}/d/scale`, { body: { spec: { replicas: 6 } }, contentType: MERGE });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.kind, "Scale");
  assert.equal(patched.body.spec.replicas, 6);
  const deploy = await h.call("GET", `${DEPLOY}/d`);
  assert.equal(deploy.body.spec.replicas, 6);
  assert.equal(deploy.body.metadata.generation, 3);
  const negative = await h.call("PATCH", `${DEPLOY}/d/scale`, { body: { spec: { replicas: -1 } }, contentType: MERGE });
  assert.equal(negative.status, 422);
  assert.equal(negative.body.details.causes[0].field, "spec.replicas");
  const cm = await h.call("GET", `${CM}/x/scale`);
  assert.equal(cm.status, 404);
});

Deno.test("binding assigns a pod to a node once; a second binding is 409", async () => {
  await using h = await startHarness();
  await h.call("POST", PODS, { body: pod("p") });
  const binding = {
    apiVersion: "v1",
    kind: "Binding",
    metadata: { name: "p" },
    target: { kind: "Node", name: "node-a" },
  };
  const res = await h.call("POST", `${PODS}/p/binding`, { body: binding });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.status, "Success");
  const bound = await h.call("GET", `${PODS}/p`);
  assert.equal(bound.body.spec.nodeName, "node-a");
  assert.equal(
    bound.body.status.conditions.find((c: { type: string }) => c.type === "PodScheduled").status,
    "True",
  );
  const again = await h.call("POST", `${PODS}/p/binding`, { body: { ...binding, target: { name: "node-b" } } });
  assert.equal(again.status, 409);
  assert.equal(again.body.reason, "Conflict");
  assert.match(again.body.message, /already assigned to node "node-a"/);
  const noTarget = await h.call("POST", `${PODS}/p/binding`, { body: { apiVersion: "v1", kind: "Binding" } });
  assert.equal(noTarget.status, 422);
  const missing = await h.call("POST", `${PODS}/nope/binding`, { body: { ...binding, metadata: { name: "nope" } } });
  assert.equal(missing.status, 404);
  const wrongKind = await h.call("POST", `${PODS}/p/binding`, {
    body: { ...binding, target: { kind: "Pod", name: "x" } },
  });
  assert.equal(wrongKind.status, 422);
});

Deno.test("the bindings resource binds the pod its metadata names", async () => {
  await using h = await startHarness();
  await h.call("POST", PODS, { body: pod("p") });
  const res = await h.call("POST", "/api/v1/namespaces/default/bindings", {
    body: { apiVersion: "v1", kind: "Binding", metadata: { name: "p" }, target: { kind: "Node", name: "node-b" } },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal((await h.call("GET", `${PODS}/p`)).body.spec.nodeName, "node-b");
  const missing = await h.call("POST", "/api/v1/namespaces/default/bindings", {
    body: { apiVersion: "v1", kind: "Binding", metadata: { name: "ghost" }, target: { name: "node-b" } },
  });
  assert.equal(missing.status, 404);
});

Deno.test("eviction deletes the pod with the eviction's delete options", async () => {
  await using h = await startHarness();
  await h.call("POST", PODS, { body: pod("p", { nodeName: "node-a" }) });
  const eviction = {
    apiVersion: "policy/v1",
    kind: "Eviction",
    metadata: { name: "p", namespace: "default" },
    deleteOptions: { gracePeriodSeconds: 0 },
  };
  const res = await h.call("POST", `${PODS}/p/eviction`, { body: eviction });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.status, "Success");
  assert.equal((await h.call("GET", `${PODS}/p`)).status, 404);
  const missing = await h.call("POST", `${PODS}/p/eviction`, { body: eviction });
  assert.equal(missing.status, 404);
  const bad = await h.call("POST", `${PODS}/p/eviction`, {
    body: { ...eviction, deleteOptions: { gracePeriodSeconds: "soon" } },
  });
  assert.equal(bad.status, 422);
});

Deno.test("a terminating namespace goes once /finalize clears its spec.finalizers", async () => {
  await using h = await startHarness();
  await h.call("POST", "/api/v1/namespaces", {
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name: "tmp" } },
  });
  const terminating = await h.call("DELETE", "/api/v1/namespaces/tmp");
  assert.deepEqual(terminating.body.spec.finalizers, ["kubernetes"]);
  const sneaky = await h.call("PUT", "/api/v1/namespaces/tmp", {
    body: { ...terminating.body, spec: { finalizers: [] } },
  });
  assert.equal(sneaky.status, 200);
  assert.deepEqual(sneaky.body.spec.finalizers, ["kubernetes"]);
  const finalized = await h.call("PUT", "/api/v1/namespaces/tmp/finalize", {
    body: { ...sneaky.body, spec: { finalizers: [] } },
  });
  assert.equal(finalized.status, 200, JSON.stringify(finalized.body));
  assert.equal((await h.call("GET", "/api/v1/namespaces/tmp")).status, 404);
});

Deno.test("the namespaces the cluster creates for itself may not be deleted", async () => {
  await using h = await startHarness();
  for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
    const res = await h.call("DELETE", `/api/v1/namespaces/${name}`);
    assert.equal(res.status, 403, name);
    assert.equal(res.body.message, `namespaces "${name}" is forbidden: this namespace may not be deleted`);
  }
  const all = await h.call("DELETE", "/api/v1/namespaces");
  assert.equal(all.status, 403);
  const left = await h.call("GET", "/api/v1/namespaces");
  assert.ok(
    left.body.items.every((ns: { metadata: { deletionTimestamp?: string } }) => !ns.metadata.deletionTimestamp),
  );
});

Deno.test("verbs a resource does not serve are 405 MethodNotAllowed", async () => {
  await using h = await startHarness();
  const res = await h.call("PUT", `${PODS}/p/binding`, { body: {} });
  assert.equal(res.status, 405);
  assert.equal(res.body.reason, "MethodNotAllowed");
  const options = await h.call("OPTIONS", PODS);
  assert.equal(options.status, 405);
  const metrics = await h.call("POST", "/apis/metrics.k8s.io/v1beta1/nodes", { body: {} });
  assert.equal(metrics.status, 405);
});

Deno.test("concurrent patches without a resourceVersion all apply; one carrying a stale resourceVersion is 409", async () => {
  await using h = await startHarness();
  const path = "/api/v1/namespaces/default/configmaps";
  const created = await h.call("POST", path, { body: configMap("shared") });
  const stale = created.body.metadata.resourceVersion;
  const replies = await Promise.all([
    ...Array.from(
      { length: 10 },
      (_, i) => h.call("PATCH", `${path}/shared`, { body: { data: { [`merge${i}`]: "v" } }, contentType: MERGE }),
    ),
    ...Array.from({ length: 10 }, (_, i) =>
      h.call("PATCH", `${path}/shared`, {
        body: { data: { [`strategic${i}`]: "v" } },
        contentType: "application/strategic-merge-patch+json",
      })),
    ...Array.from({ length: 5 }, (_, i) =>
      h.call("PATCH", `${path}/shared`, {
        body: [{ op: "add", path: `/data/json${i}`, value: "v" }],
        contentType: JSON_PATCH,
      })),
  ]);
  assert.deepEqual(replies.map((r) => r.status), replies.map(() => 200));
  const final = await h.call("GET", `${path}/shared`);
  const keys = Object.keys(final.body.data);
  for (const prefix of ["merge", "strategic", "json"]) {
    assert.equal(keys.filter((k) => k.startsWith(prefix)).length, prefix === "json" ? 5 : 10, keys.join(","));
  }
  const pinned = await h.call("PATCH", `${path}/shared`, {
    body: { metadata: { resourceVersion: stale }, data: { late: "v" } },
    contentType: MERGE,
  });
  assert.equal(pinned.status, 409);
});
