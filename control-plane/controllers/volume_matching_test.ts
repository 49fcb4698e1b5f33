import assert from "node:assert/strict";
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from "@skiff/api";
import { findMatchingVolume, pickDefaultStorageClass, volumeMismatch } from "./volume_matching.ts";

function pv(name: string, size: string, extra: Partial<PersistentVolume> = {}): PersistentVolume {
  return {
    metadata: { name, labels: { tier: "fast" } },
    spec: { capacity: { storage: size }, accessModes: ["ReadWriteOnce", "ReadOnlyMany"], storageClassName: "manual" },
    status: { phase: "Available" },
    ...extra,
  };
}

const claim: PersistentVolumeClaim = {
  metadata: { name: "data", namespace: "default", uid: "u1" },
  spec: { accessModes: ["ReadWriteOnce"], storageClassName: "manual", resources: { requests: { storage: "1Gi" } } },
};

Deno.test("findMatchingVolume() picks the smallest Available volume that fits", () => {
  const volumes = [
    pv("big", "10Gi"),
    pv("small", "2Gi"),
    pv("tiny", "512Mi"),
    pv("taken", "1Gi", {
      spec: { ...pv("t", "1Gi").spec, claimRef: { name: "other", namespace: "default", uid: "u2" } },
    }),
  ];
  assert.equal(findMatchingVolume(claim, volumes)?.metadata.name, "small");
  assert.equal(findMatchingVolume(claim, volumes, { excluded: new Set(["small"]) })?.metadata.name, "big");
  assert.equal(findMatchingVolume(claim, volumes, { delayBinding: true }), undefined);
});

Deno.test("findMatchingVolume() prefers a volume reserved for the claim, unless the node cannot reach it", () => {
  const reserved = pv("mine", "1Gi", {
    spec: {
      ...pv("m", "1Gi").spec,
      claimRef: { name: "data", namespace: "default" },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["a"] }] }],
        },
      },
    },
  });
  const volumes = [pv("other", "1Gi"), reserved];
  assert.equal(findMatchingVolume(claim, volumes, { delayBinding: true })?.metadata.name, "mine");
  const nodeA = { metadata: { name: "a", labels: { "kubernetes.io/hostname": "a" } } };
  const nodeB = { metadata: { name: "b", labels: { "kubernetes.io/hostname": "b" } } };
  assert.equal(findMatchingVolume(claim, volumes, { node: nodeA })?.metadata.name, "mine");
  assert.equal(findMatchingVolume(claim, volumes, { node: nodeB }), undefined);
});

Deno.test("volumeMismatch() says which of class, access modes, volume mode, size or selector does not fit", () => {
  assert.equal(volumeMismatch(pv("ok", "1Gi"), claim), undefined);
  assert.match(
    volumeMismatch(pv("x", "1Gi", { spec: { ...pv("x", "1Gi").spec, storageClassName: "" } }), claim)!,
    /storageClassName/,
  );
  assert.match(
    volumeMismatch(pv("x", "1Gi", { spec: { ...pv("x", "1Gi").spec, accessModes: ["ReadOnlyMany"] } }), claim)!,
    /access modes/,
  );
  assert.match(
    volumeMismatch(pv("x", "1Gi", { spec: { ...pv("x", "1Gi").spec, volumeMode: "Block" } }), claim)!,
    /volumeMode/,
  );
  assert.match(volumeMismatch(pv("x", "100Mi"), claim)!, /capacity 100Mi is less than the claim's request 1Gi/);
  const picky = { ...claim, spec: { ...claim.spec, selector: { matchLabels: { tier: "slow" } } } };
  assert.match(volumeMismatch(pv("x", "1Gi"), picky)!, /selector/);
});

Deno.test("pickDefaultStorageClass() picks the newest class marked default", () => {
  const sc = (name: string, created: string, isDefault: boolean): StorageClass => ({
    metadata: {
      name,
      creationTimestamp: created,
      ...(isDefault ? { annotations: { "storageclass.kubernetes.io/is-default-class": "true" } } : {}),
    },
    provisioner: "x",
  });
  const classes = [
    sc("old", "2026-01-01T00:00:00Z", true),
    sc("new", "2026-02-01T00:00:00Z", true),
    sc("newest", "2026-03-01T00:00:00Z", false),
  ];
  assert.equal(pickDefaultStorageClass(classes)?.metadata.name, "new");
  assert.equal(pickDefaultStorageClass([classes[2]!]), undefined);
});
