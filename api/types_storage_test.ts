import assert from "node:assert/strict";
import { claim, localVolume, storageClass } from "./_test_manifests.ts";
import { resolveResource } from "./registry.ts";
import type { PersistentVolumeClaim } from "./types_storage.ts";

Deno.test("storage types validate as served and get their defaults", () => {
  const pv = localVolume();
  const pvc = claim();
  const sc = storageClass();
  for (const [name, obj] of [["pv", pv], ["pvc", pvc], ["sc", sc]] as const) {
    const type = resolveResource(name);
    type.defaults(obj);
    assert.deepEqual(type.validate(obj), [], name);
  }
  assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Retain");
  assert.equal(pvc.status?.phase, "Pending");
  assert.equal(sc.reclaimPolicy, "Delete");
});

Deno.test("PersistentVolumeClaim types read a bound claim", () => {
  const bound: PersistentVolumeClaim = JSON.parse(
    `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"default"},
      "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"5Gi"}},"volumeName":"pv-1",
      "storageClassName":"local","volumeMode":"Filesystem"},
      "status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"10Gi"}}}`,
  );
  assert.deepEqual(resolveResource("pvc").validate(bound), []);
  assert.equal(bound.status?.capacity?.storage, "10Gi");
});
