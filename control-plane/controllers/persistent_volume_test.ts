import assert from "node:assert/strict";
import type { Event, PersistentVolume, PersistentVolumeClaim, StorageClass } from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import { PersistentVolumeController } from "./persistent_volume.ts";
import { createNode, startTestCluster, waitFor } from "./_testing.ts";

function storageClass(name: string, extra: Partial<StorageClass> = {}): StorageClass {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name },
    provisioner: "kubernetes.io/no-provisioner",
    volumeBindingMode: "Immediate",
    ...extra,
  };
}

function volume(name: string, size: string, extra: Partial<PersistentVolume["spec"] & object> = {}): PersistentVolume {
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name },
    spec: {
      capacity: { storage: size },
      accessModes: ["ReadWriteOnce"],
      storageClassName: "manual",
      hostPath: { path: `/srv/${name}` },
      ...extra,
    },
  };
}

function pinned(name: string, size: string, node: string, extra: Partial<PersistentVolume["spec"] & object> = {}) {
  return volume(name, size, {
    nodeAffinity: {
      required: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }] }],
      },
    },
    ...extra,
  });
}

function claim(name: string, size: string, extra: Partial<PersistentVolumeClaim["spec"] & object> = {}) {
  return {
    apiVersion: "v1" as const,
    kind: "PersistentVolumeClaim" as const,
    metadata: { name, namespace: "default" },
    spec: { accessModes: ["ReadWriteOnce" as const], resources: { requests: { storage: size } }, ...extra },
  };
}

const pvs = (client: ApiClient) => client.kind<PersistentVolume>("v1", "PersistentVolume");
const pvcs = (client: ApiClient) => client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");

async function boundClaim(client: ApiClient, name: string): Promise<PersistentVolumeClaim> {
  return await waitFor(`claim ${name} Bound`, async () => {
    const c = await pvcs(client).get(name, { namespace: "default" });
    return c.status?.phase === "Bound" && c;
  });
}

async function volumePhase(client: ApiClient, name: string, phase: string): Promise<PersistentVolume> {
  return await waitFor(`volume ${name} ${phase}`, async () => {
    const v = await pvs(client).get(name);
    return v.status?.phase === phase && v;
  });
}

async function eventAbout(client: ApiClient, name: string, reason: string): Promise<Event> {
  return await waitFor(`a ${reason} event about ${name}`, async () => {
    const events = (await client.kind<Event>("v1", "Event").list()).items;
    return events.find((e) => e.involvedObject.name === name && e.reason === reason);
  });
}

Deno.test("PersistentVolumeController binds a claim to the smallest Available volume that fits, both ways", async () => {
  await using c = await startTestCluster([new PersistentVolumeController()]);
  await c.client.kind<StorageClass>("storage.k8s.io/v1", "StorageClass").create(storageClass("manual"));
  await pvs(c.client).create(volume("big", "10Gi"));
  await pvs(c.client).create(volume("small", "2Gi"));
  await pvs(c.client).create(volume("tiny", "512Mi"));
  await pvs(c.client).create(volume("rox", "2Gi", { accessModes: ["ReadOnlyMany"] }));
  await volumePhase(c.client, "tiny", "Available");
  await pvcs(c.client).create(claim("data", "1Gi", { storageClassName: "manual" }));
  const bound = await boundClaim(c.client, "data");
  assert.equal(bound.spec?.volumeName, "small");
  assert.deepEqual(bound.status?.capacity, { storage: "2Gi" });
  assert.deepEqual(bound.status?.accessModes, ["ReadWriteOnce"]);
  assert.equal(bound.metadata.annotations?.["pv.kubernetes.io/bind-completed"], "yes");
  assert.equal(bound.metadata.annotations?.["pv.kubernetes.io/bound-by-controller"], "yes");
  const pv = await volumePhase(c.client, "small", "Bound");
  assert.equal(pv.spec?.claimRef?.name, "data");
  assert.equal(pv.spec?.claimRef?.uid, bound.metadata.uid);
  assert.equal((await pvs(c.client).get("big")).status?.phase, "Available");
});

Deno.test("PersistentVolumeController holds a WaitForFirstConsumer claim until a node is selected, then binds a volume that node reaches", async () => {
  await using c = await startTestCluster([new PersistentVolumeController()]);
  await createNode(c.client, "node-a");
  await createNode(c.client, "node-b");
  await c.client.kind<StorageClass>("storage.k8s.io/v1", "StorageClass").create(
    storageClass("manual", { volumeBindingMode: "WaitForFirstConsumer" }),
  );
  await pvs(c.client).create(pinned("on-a", "1Gi", "node-a"));
  await pvs(c.client).create(pinned("on-b", "1Gi", "node-b"));
  await pvcs(c.client).create(claim("data", "1Gi", { storageClassName: "manual" }));
  const waiting = await eventAbout(c.client, "data", "WaitForFirstConsumer");
  assert.equal(waiting.message, "waiting for first consumer to be created before binding");
  assert.equal((await pvcs(c.client).get("data", { namespace: "default" })).spec?.volumeName, undefined);
  await pvcs(c.client).patch(
    "data",
    { metadata: { annotations: { "volume.kubernetes.io/selected-node": "node-b" } } },
    {
      namespace: "default",
    },
  );
  assert.equal((await boundClaim(c.client, "data")).spec?.volumeName, "on-b");
});

Deno.test("PersistentVolumeController hands a claim no volume fits to its class's provisioner", async () => {
  await using c = await startTestCluster([new PersistentVolumeController()]);
  await pvcs(c.client).create(claim("data", "1Gi"));
  const waiting = await eventAbout(c.client, "data", "WaitForFirstConsumer");
  assert.ok(waiting);
  await pvcs(c.client).patch(
    "data",
    { metadata: { annotations: { "volume.kubernetes.io/selected-node": "node-a" } } },
    {
      namespace: "default",
    },
  );
  const event = await eventAbout(c.client, "data", "ExternalProvisioning");
  assert.match(event.message ?? "", /external provisioner 'local\.csi\.skiff\.dev'/);
  const handed = await pvcs(c.client).get("data", { namespace: "default" });
  assert.equal(handed.metadata.annotations?.["volume.kubernetes.io/storage-provisioner"], "local.csi.skiff.dev");
  assert.equal(handed.metadata.annotations?.["volume.beta.kubernetes.io/storage-provisioner"], "local.csi.skiff.dev");
  assert.equal(handed.status?.phase, "Pending");
});

Deno.test("PersistentVolumeController binds a claim to the volume a provisioner reserved for it", async () => {
  await using c = await startTestCluster([new PersistentVolumeController()]);
  const created = await pvcs(c.client).create(claim("data", "1Gi"));
  await pvs(c.client).create(
    pinned(`pvc-${created.metadata.uid}`, "1Gi", "node-a", {
      storageClassName: "local",
      persistentVolumeReclaimPolicy: "Delete",
      hostPath: undefined,
      csi: { driver: "local.csi.skiff.dev", volumeHandle: "abc" },
      claimRef: {
        kind: "PersistentVolumeClaim",
        apiVersion: "v1",
        namespace: "default",
        name: "data",
        uid: created.metadata.uid!,
      },
    }),
  );
  const bound = await boundClaim(c.client, "data");
  assert.equal(bound.spec?.volumeName, `pvc-${created.metadata.uid}`);
  assert.equal(bound.metadata.annotations?.["pv.kubernetes.io/bind-completed"], "yes");
  const pv = await volumePhase(c.client, `pvc-${created.metadata.uid}`, "Bound");
  assert.equal(pv.metadata.annotations?.["pv.kubernetes.io/bound-by-controller"], undefined);
});

Deno.test("PersistentVolumeController releases a Retain volume whose claim is deleted, keeps it, and offers it again once its claimRef is cleared", async () => {
  await using c = await startTestCluster([new PersistentVolumeController()]);
  await c.client.kind<StorageClass>("storage.k8s.io/v1", "StorageClass").create(storageClass("manual"));
  await pvs(c.client).create(volume("kept", "1Gi"));
  await pvcs(c.client).create(claim("data", "1Gi", { storageClassName: "manual" }));
  await boundClaim(c.client, "data");
  await pvcs(c.client).patch("data", { metadata: { finalizers: null } }, { namespace: "default" });
  await pvcs(c.client).delete("data", { namespace: "default" });
  const released = await volumePhase(c.client, "kept", "Released");
  assert.equal(released.spec?.claimRef?.name, "data");
  await pvcs(c.client).create(claim("data", "1Gi", { storageClassName: "manual" }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal((await pvcs(c.client).get("data", { namespace: "default" })).status?.phase, "Pending");
  await pvs(c.client).patch("kept", { spec: { claimRef: null } });
  assert.equal((await boundClaim(c.client, "data")).spec?.volumeName, "kept");
});

Deno.test("PersistentVolumeController fails a Delete volume no provisioner can delete, saying why", async () => {
  await using c = await startTestCluster([new PersistentVolumeController()]);
  await c.client.kind<StorageClass>("storage.k8s.io/v1", "StorageClass").create(storageClass("manual"));
  await pvs(c.client).create(volume("host", "1Gi", { persistentVolumeReclaimPolicy: "Delete" }));
  await pvcs(c.client).create(claim("data", "1Gi", { storageClassName: "manual" }));
  await boundClaim(c.client, "data");
  await pvcs(c.client).patch("data", { metadata: { finalizers: null } }, { namespace: "default" });
  await pvcs(c.client).delete("data", { namespace: "default" });
  const failed = await volumePhase(c.client, "host", "Failed");
  assert.equal(
    failed.status?.message,
    'error getting deleter volume plugin for volume "host": no deletable volume plugin matched',
  );
  await eventAbout(c.client, "host", "VolumeFailedDelete");
});

Deno.test("PersistentVolumeController gives a claim without a class the default class once one appears", async () => {
  await using c = await startTestCluster([new PersistentVolumeController()]);
  const classes = c.client.kind<StorageClass>("storage.k8s.io/v1", "StorageClass");
  await classes.delete("local");
  await pvcs(c.client).create(claim("data", "1Gi"));
  await eventAbout(c.client, "data", "FailedBinding");
  await classes.create(
    storageClass("slow", {
      metadata: { name: "slow", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
    }),
  );
  await waitFor(
    "the claim to get the default class",
    async () => (await pvcs(c.client).get("data", { namespace: "default" })).spec?.storageClassName === "slow",
  );
});

Deno.test("PersistentVolumeController binds a claim pre-bound to a volume by volumeName, and refuses one that does not fit", async () => {
  await using c = await startTestCluster([new PersistentVolumeController()]);
  await c.client.kind<StorageClass>("storage.k8s.io/v1", "StorageClass").create(storageClass("manual"));
  await pvs(c.client).create(volume("chosen", "5Gi"));
  await pvs(c.client).create(volume("too-small", "1Gi"));
  await pvcs(c.client).create(claim("data", "2Gi", { storageClassName: "manual", volumeName: "chosen" }));
  assert.equal((await boundClaim(c.client, "data")).spec?.volumeName, "chosen");
  await pvcs(c.client).create(claim("big", "2Gi", { storageClassName: "manual", volumeName: "too-small" }));
  const refused = await eventAbout(c.client, "big", "VolumeMismatch");
  assert.match(refused.message ?? "", /Cannot bind to requested volume "too-small": capacity 1Gi is less than/);
});
