import assert from "node:assert/strict";
import { type Event, NotFoundError, type PersistentVolume, type PersistentVolumeClaim, type Pod } from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import { PersistentVolumeController } from "./persistent_volume.ts";
import { PvProtectionController } from "./pv_protection.ts";
import { PvcProtectionController } from "./pvc_protection.ts";
import { forceDelete, runPod, startTestCluster, waitFor } from "./_testing.ts";

const pvcs = (client: ApiClient) => client.kind<PersistentVolumeClaim>("v1", "PersistentVolumeClaim");
const pvs = (client: ApiClient) => client.kind<PersistentVolume>("v1", "PersistentVolume");

function claim(name: string): PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: "default" },
    spec: { accessModes: ["ReadWriteOnce"], storageClassName: "", resources: { requests: { storage: "1Gi" } } },
  };
}

function podUsing(name: string, claimName: string): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      containers: [{ name: "c", image: "busybox" }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName } }],
    },
  };
}

async function gone(what: string, read: () => Promise<unknown>): Promise<void> {
  await waitFor(what, async () => {
    try {
      await read();
      return false;
    } catch (err) {
      if (err instanceof NotFoundError) return true;
      throw err;
    }
  });
}

Deno.test("PvcProtectionController holds a claim's deletion while a running pod uses it, and lets it go once the pod is gone", async () => {
  await using c = await startTestCluster([new PvcProtectionController()]);
  await pvcs(c.client).create(claim("data"));
  const pod = await c.client.kind<Pod>("v1", "Pod").create(podUsing("db", "data"));
  await runPod(c.client, pod);
  await pvcs(c.client).delete("data", { namespace: "default" });
  const event = await waitFor("a ClaimInUse event", async () => {
    const events = (await c.client.kind<Event>("v1", "Event").list({ namespace: "default" })).items;
    return events.find((e) => e.involvedObject.name === "data" && e.reason === "ClaimInUse");
  });
  assert.match(event.message ?? "", /Deletion is held while pod\(s\) db use this claim/);
  const held = await pvcs(c.client).get("data", { namespace: "default" });
  assert.ok(held.metadata.deletionTimestamp);
  assert.deepEqual(held.metadata.finalizers, ["kubernetes.io/pvc-protection"]);
  await forceDelete(c.client, pod);
  await gone("the claim to go", () => pvcs(c.client).get("data", { namespace: "default" }));
});

Deno.test("PvcProtectionController lets a claim go when its only pod has finished, or was never scheduled", async () => {
  await using c = await startTestCluster([new PvcProtectionController()]);
  await pvcs(c.client).create(claim("done"));
  const finished = await c.client.kind<Pod>("v1", "Pod").create(podUsing("job", "done"));
  await runPod(c.client, finished, { phase: "Succeeded" });
  await pvcs(c.client).delete("done", { namespace: "default" });
  await gone("the finished pod's claim to go", () => pvcs(c.client).get("done", { namespace: "default" }));
  await pvcs(c.client).create(claim("later"));
  await c.client.kind<Pod>("v1", "Pod").create(podUsing("pending", "later"));
  await pvcs(c.client).delete("later", { namespace: "default" });
  await gone("the pending pod's claim to go", () => pvcs(c.client).get("later", { namespace: "default" }));
});

Deno.test("PvcProtectionController puts the finalizer back on a claim that lacks it", async () => {
  await using c = await startTestCluster([new PvcProtectionController()]);
  await pvcs(c.client).create(claim("data"));
  await pvcs(c.client).patch("data", { metadata: { finalizers: null } }, { namespace: "default" });
  await waitFor("the finalizer to come back", async () => {
    const current = await pvcs(c.client).get("data", { namespace: "default" });
    return current.metadata.finalizers?.includes("kubernetes.io/pvc-protection");
  });
});

Deno.test("PvProtectionController holds a bound volume's deletion until its claim is deleted", async () => {
  await using c = await startTestCluster([
    new PersistentVolumeController(),
    new PvcProtectionController(),
    new PvProtectionController(),
  ]);
  await pvs(c.client).create({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: "disk" },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadWriteOnce"],
      hostPath: { path: "/srv/disk" },
    },
  });
  await pvcs(c.client).create(claim("data"));
  await waitFor("the volume to be Bound", async () => (await pvs(c.client).get("disk")).status?.phase === "Bound");
  await pvs(c.client).delete("disk");
  await waitFor("a VolumeInUse event", async () => {
    const events = (await c.client.kind<Event>("v1", "Event").list({ namespace: "default" })).items;
    return events.some((e) => e.involvedObject.name === "disk" && e.reason === "VolumeInUse");
  });
  assert.ok((await pvs(c.client).get("disk")).metadata.deletionTimestamp);
  await pvcs(c.client).delete("data", { namespace: "default" });
  await gone("the volume to go", () => pvs(c.client).get("disk"));
});
