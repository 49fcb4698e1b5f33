import assert from "node:assert/strict";
import { type KubeObject, ManualClock } from "@skiff/api";
import { startHarness } from "./_test_harness.ts";
import { volumePinnedNode } from "./storage_admission.ts";

const PVS = "/api/v1/persistentvolumes";
const PVCS = "/api/v1/namespaces/default/persistentvolumeclaims";
const CLASSES = "/apis/storage.k8s.io/v1/storageclasses";

function claim(name: string, extra: Record<string, unknown> = {}, annotations?: Record<string, string>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, ...(annotations ? { annotations } : {}) },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, ...extra },
  };
}

function volume(name: string, node: string | undefined): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadWriteOnce"],
      storageClassName: "local",
      csi: { driver: "local.csi.skiff.dev", volumeHandle: name },
      ...(node
        ? {
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [{
                matchExpressions: [
                  { key: "topology.local.csi.skiff.dev/node", operator: "In", values: [node] },
                  { key: "kubernetes.io/hostname", operator: "In", values: [node] },
                ],
              }],
            },
          },
        }
        : {}),
    },
  };
}

Deno.test("createApi() creates the default StorageClass local once, WaitForFirstConsumer with Delete", async () => {
  await using h = await startHarness();
  const list = await h.call("GET", CLASSES);
  assert.equal(list.status, 200);
  assert.equal(list.body.items.length, 1);
  const local = list.body.items[0];
  assert.equal(local.metadata.name, "local");
  assert.equal(local.metadata.annotations["storageclass.kubernetes.io/is-default-class"], "true");
  assert.equal(local.provisioner, "local.csi.skiff.dev");
  assert.equal(local.volumeBindingMode, "WaitForFirstConsumer");
  assert.equal(local.reclaimPolicy, "Delete");
});

Deno.test("DefaultStorageClass admission gives a claim without storageClassName the default class, and keeps an empty one", async () => {
  await using h = await startHarness();
  const defaulted = await h.call("POST", PVCS, { body: claim("data") });
  assert.equal(defaulted.status, 201);
  assert.equal(defaulted.body.spec.storageClassName, "local");
  const none = await h.call("POST", PVCS, { body: claim("static", { storageClassName: "" }) });
  assert.equal(none.body.spec.storageClassName, "");
  const explicit = await h.call("POST", PVCS, { body: claim("fast", { storageClassName: "fast" }) });
  assert.equal(explicit.body.spec.storageClassName, "fast");
});

Deno.test("DefaultStorageClass admission picks the newest of several default classes, and none when none is default", async () => {
  const clock = new ManualClock(Date.now());
  await using h = await startHarness({ clock });
  await h.call("POST", CLASSES, {
    body: {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "newer", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "example.com/nfs",
    },
  });
  await clock.advance(2000);
  await h.call("POST", CLASSES, {
    body: {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "newest", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "example.com/nfs",
    },
  });
  assert.equal((await h.call("POST", PVCS, { body: claim("a") })).body.spec.storageClassName, "newest");
  for (const name of ["local", "newer", "newest"]) await h.call("DELETE", `${CLASSES}/${name}`);
  const bare = await h.call("POST", PVCS, { body: claim("b") });
  assert.equal(bare.status, 201);
  assert.equal(bare.body.spec.storageClassName, undefined);
});

Deno.test("StorageObjectInUseProtection admission puts the protection finalizers on new claims and volumes", async () => {
  await using h = await startHarness();
  const pvc = await h.call("POST", PVCS, { body: claim("data") });
  assert.deepEqual(pvc.body.metadata.finalizers, ["kubernetes.io/pvc-protection"]);
  const pv = await h.call("POST", PVS, { body: volume("pv-1", undefined) });
  assert.deepEqual(pv.body.metadata.finalizers, ["kubernetes.io/pv-protection"]);
});

Deno.test("NodeRestriction lets a node write only persistent volumes pinned to it by hostname", async () => {
  await using h = await startHarness();
  const asA = { token: h.tokens.nodeA };
  const unpinned = await h.call("POST", PVS, { ...asA, body: volume("pv-free", undefined) });
  assert.equal(unpinned.status, 403);
  assert.match(unpinned.body.message, /may write only persistent volumes whose node affinity pins them to it/);
  assert.equal((await h.call("POST", PVS, { ...asA, body: volume("pv-b", "node-b") })).status, 403);
  assert.equal((await h.call("POST", PVS, { ...asA, body: volume("pv-a", "node-a") })).status, 201);
  await h.call("POST", PVS, { body: volume("pv-b", "node-b") });
  const patch = { body: { metadata: { labels: { x: "y" } } }, contentType: "application/merge-patch+json" };
  assert.equal((await h.call("PATCH", `${PVS}/pv-a`, { ...asA, ...patch })).status, 200);
  assert.equal((await h.call("PATCH", `${PVS}/pv-b`, { ...asA, ...patch })).status, 403);
  assert.equal((await h.call("DELETE", `${PVS}/pv-b`, asA)).status, 403);
  assert.equal((await h.call("DELETE", `${PVS}/pv-a`, asA)).status, 200);
});

Deno.test("NodeRestriction lets a node take its selection away from a claim selected for it, and nothing more", async () => {
  await using h = await startHarness();
  const selected = { "volume.kubernetes.io/selected-node": "node-a" };
  await h.call("POST", PVCS, { body: claim("mine", {}, selected) });
  await h.call("POST", PVCS, { body: claim("theirs", {}, { "volume.kubernetes.io/selected-node": "node-b" }) });
  const merge = "application/merge-patch+json";
  const asA = { token: h.tokens.nodeA, contentType: merge };
  const giveBack = { metadata: { annotations: { "volume.kubernetes.io/selected-node": null } } };
  assert.equal((await h.call("PATCH", `${PVCS}/theirs`, { ...asA, body: giveBack })).status, 403);
  const reselect = { metadata: { annotations: { "volume.kubernetes.io/selected-node": "node-b" } } };
  const moved = await h.call("PATCH", `${PVCS}/mine`, { ...asA, body: reselect });
  assert.equal(moved.status, 403);
  assert.match(moved.body.message, /may not select another node/);
  const grown = await h.call("PATCH", `${PVCS}/mine`, {
    ...asA,
    body: { spec: { resources: { requests: { storage: "2Gi" } } } },
  });
  assert.equal(grown.status, 403);
  assert.match(grown.body.message, /only the annotations and status/);
  const given = await h.call("PATCH", `${PVCS}/mine`, { ...asA, body: giveBack });
  assert.equal(given.status, 200);
  assert.equal(given.body.metadata.annotations?.["volume.kubernetes.io/selected-node"], undefined);
  assert.equal((await h.call("DELETE", `${PVCS}/mine`, { token: h.tokens.nodeA })).status, 403);
});

Deno.test("volumePinnedNode() names the node only when every term pins the same one", () => {
  const pinned = volume("v", "pi-1");
  assert.equal(volumePinnedNode(pinned), "pi-1");
  assert.equal(volumePinnedNode(volume("v", undefined)), undefined);
  const terms = (pinned.spec as { nodeAffinity: { required: { nodeSelectorTerms: unknown[] } } }).nodeAffinity.required
    .nodeSelectorTerms;
  terms.push({ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["pi-2"] }] });
  assert.equal(volumePinnedNode(pinned), undefined);
  terms.splice(1, 1, {
    matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["pi-1", "pi-2"] }],
  });
  assert.equal(volumePinnedNode(pinned), undefined);
});
