import assert from "node:assert/strict";
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from "@skiff/api";
import { Framework } from "../find_node.ts";
import type { VolumeLister } from "../framework.ts";
import { cluster, info, node } from "../_testing.ts";
import {
  noDriverReason,
  REASON_NOT_ENOUGH_STORAGE,
  REASON_UNBOUND_IMMEDIATE,
  REASON_VOLUME_BIND_CONFLICT,
  REASON_VOLUME_MISSING,
  REASON_VOLUME_NODE_CONFLICT,
  volumeBinding,
} from "./volume_binding.ts";

/** Claims, volumes and classes held in maps, as the scheduler's informers would hold them. */
function lister(objects: { claims?: PersistentVolumeClaim[]; volumes?: PersistentVolume[]; classes?: StorageClass[] }) {
  const claims = new Map((objects.claims ?? []).map((c) => [`${c.metadata.namespace}/${c.metadata.name}`, c]));
  const volumes = new Map((objects.volumes ?? []).map((v) => [v.metadata.name!, v]));
  const classes = new Map((objects.classes ?? []).map((s) => [s.metadata.name!, s]));
  const result: VolumeLister = {
    claim: (ns, name) => claims.get(`${ns}/${name}`),
    volume: (name) => volumes.get(name),
    storageClass: (name) => classes.get(name),
    volumes: () => volumes.values(),
  };
  return result;
}

function sc(name: string, mode: "Immediate" | "WaitForFirstConsumer", provisioner: string): StorageClass {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name },
    provisioner,
    volumeBindingMode: mode,
  };
}

function pvc(name: string, extra: Partial<PersistentVolumeClaim["spec"] & object> = {}, annotations = {}) {
  const claim: PersistentVolumeClaim = {
    metadata: { name, namespace: "default", uid: `uid-${name}`, annotations },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, ...extra },
  };
  return claim;
}

function pinnedPv(name: string, nodeName: string, extra: Partial<PersistentVolume["spec"] & object> = {}) {
  const volume: PersistentVolume = {
    metadata: { name },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadWriteOnce"],
      storageClassName: "manual",
      local: { path: `/mnt/${name}` },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{
            matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [nodeName] }],
          }],
        },
      },
      ...extra,
    },
    status: { phase: "Available" },
  };
  return volume;
}

function podWith(...claims: string[]) {
  return info("p", {
    spec: { volumes: claims.map((claimName, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName } })) },
  });
}

const nodes = cluster([
  node("pi-1", { labels: { "csi.skiff.dev/local.csi.skiff.dev": "true" } }),
  node("pi-2", {
    labels: { "csi.skiff.dev/local.csi.skiff.dev": "true" },
    annotations: { "capacity.csi.skiff.dev/local.csi.skiff.dev": String(512 * 1024 * 1024) },
  }),
  node("nuc"),
]);

function place(volumes: VolumeLister, ...claims: string[]) {
  return new Framework([volumeBinding({ maxTemperatureCelsius: 75, volumes })]).findNode(podWith(...claims), nodes);
}

Deno.test("VolumeBinding skips pods without claims", () => {
  const plugin = volumeBinding({ maxTemperatureCelsius: 75, volumes: lister({}) });
  assert.equal(plugin.prepare!(info("p"), nodes), undefined);
});

Deno.test("VolumeBinding keeps a pod with a bound node-local volume on that volume's node", () => {
  const volumes = lister({
    claims: [pvc("data", { volumeName: "pv-1" })],
    volumes: [pinnedPv("pv-1", "pi-2", { claimRef: { name: "data", namespace: "default" } })],
  });
  const result = place(volumes, "data");
  assert.equal(result.node?.name, "pi-2");
  const missing = place(lister({ claims: [pvc("data", { volumeName: "gone" })] }), "data");
  assert.equal(
    missing.node === undefined && missing.message,
    `0/3 nodes are available: 3 ${REASON_VOLUME_MISSING}.`,
  );
});

Deno.test("VolumeBinding says a bound volume's node affinity conflict for every other node", () => {
  const volumes = lister({
    claims: [pvc("data", { volumeName: "pv-1" })],
    volumes: [pinnedPv("pv-1", "gone-node", { claimRef: { name: "data", namespace: "default" } })],
  });
  const result = place(volumes, "data");
  assert.equal(result.node, undefined);
  assert.equal(
    result.node === undefined && result.message,
    `0/3 nodes are available: 3 ${REASON_VOLUME_NODE_CONFLICT}.`,
  );
});

Deno.test("VolumeBinding rules a pod out at once for a missing, deleted or unbound Immediate claim", () => {
  const immediate = sc("fast", "Immediate", "example.com/nfs");
  const cases: [VolumeLister, string][] = [
    [lister({}), 'persistentvolumeclaim "data" not found'],
    [
      lister({
        claims: [{ ...pvc("data"), metadata: { ...pvc("data").metadata, deletionTimestamp: "2026-01-01T00:00:00Z" } }],
      }),
      'persistentvolumeclaim "data" is being deleted',
    ],
    [lister({ claims: [pvc("data", { storageClassName: "fast" })], classes: [immediate] }), REASON_UNBOUND_IMMEDIATE],
    [lister({ claims: [pvc("data", { storageClassName: "" })] }), REASON_UNBOUND_IMMEDIATE],
    [lister({ claims: [pvc("data", { storageClassName: "nope" })] }), 'storageclass.storage.k8s.io "nope" not found'],
  ];
  for (const [volumes, reason] of cases) {
    const result = place(volumes, "data");
    assert.equal(result.node === undefined && result.message, `0/3 nodes are available: ${reason}.`);
  }
});

Deno.test("VolumeBinding sends an unbound WaitForFirstConsumer claim to a node with a fitting volume or its provisioner", () => {
  const manual = sc("manual", "WaitForFirstConsumer", "kubernetes.io/no-provisioner");
  const statics = lister({
    claims: [pvc("data", { storageClassName: "manual" })],
    classes: [manual],
    volumes: [pinnedPv("pv-1", "nuc")],
  });
  assert.equal(place(statics, "data").node?.name, "nuc");
  const none = place(lister({ claims: [pvc("data", { storageClassName: "manual" })], classes: [manual] }), "data");
  assert.equal(none.node === undefined && none.message, `0/3 nodes are available: 3 ${REASON_VOLUME_BIND_CONFLICT}.`);

  const local = sc("local", "WaitForFirstConsumer", "local.csi.skiff.dev");
  const dynamic = lister({ claims: [pvc("data", { storageClassName: "local" })], classes: [local] });
  const result = place(dynamic, "data");
  assert.equal(result.node?.name, "pi-1");
  const framework = new Framework([volumeBinding({ maxTemperatureCelsius: 75, volumes: dynamic })]);
  const pi2 = cluster([nodes.node("pi-2")!.node, nodes.node("nuc")!.node]);
  const tooSmall = framework.findNode(podWith("data"), pi2);
  assert.equal(
    tooSmall.node === undefined && tooSmall.message,
    `0/2 nodes are available: 1 ${noDriverReason("local.csi.skiff.dev")}, 1 ${REASON_NOT_ENOUGH_STORAGE}.`,
  );
});

Deno.test("VolumeBinding keeps a claim already selected for a node on that node", () => {
  const local = sc("local", "WaitForFirstConsumer", "local.csi.skiff.dev");
  const selected = lister({
    claims: [pvc("data", { storageClassName: "local" }, { "volume.kubernetes.io/selected-node": "pi-2" })],
    classes: [local],
  });
  const result = place(selected, "data");
  assert.equal(
    result.node === undefined && result.message,
    `0/3 nodes are available: 1 ${REASON_NOT_ENOUGH_STORAGE}, 2 ${REASON_VOLUME_BIND_CONFLICT}.`,
  );
});

Deno.test("VolumeBinding leaves a provisioner that no node advertises to run anywhere", () => {
  const nfs = sc("nfs", "WaitForFirstConsumer", "nfs.csi.k8s.io");
  const result = place(lister({ claims: [pvc("data", { storageClassName: "nfs" })], classes: [nfs] }), "data");
  assert.ok(result.node);
});
