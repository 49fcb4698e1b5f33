import assert from "node:assert/strict";
import { claim, localVolume, storageClass } from "./_test_manifests.ts";
import { defaultPersistentVolume, defaultPersistentVolumeClaim } from "./defaults.ts";
import type { FieldError } from "./errors.ts";
import {
  validatePersistentVolume,
  validatePersistentVolumeClaim,
  validatePersistentVolumeClaimSpec,
  validateStorageClass,
} from "./validate_storage.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const show = (errors: FieldError[]) => errors.map((e) => `${e.field}: ${e.message}`);

function pvc(mutate: (c: Any) => void = () => {}): Any {
  const c = claim();
  defaultPersistentVolumeClaim(c);
  mutate(c);
  return c;
}

Deno.test("validatePersistentVolumeClaimSpec() requires access modes and a positive storage request", () => {
  assert.deepEqual(validatePersistentVolumeClaimSpec(pvc().spec), []);
  assert.deepEqual(show(validatePersistentVolumeClaimSpec({})), [
    "spec.accessModes: Required value: at least 1 access mode is required",
    "spec.resources[storage]: Required value",
  ]);
  assert.deepEqual(
    show(
      validatePersistentVolumeClaimSpec({
        accessModes: ["ReadWriteSometimes"],
        resources: { requests: { storage: "-1Gi" } },
      }),
    ),
    [
      'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
      'spec.resources[storage]: Invalid value: "-1Gi": must be greater than zero',
    ],
  );
  assert.deepEqual(
    show(validatePersistentVolumeClaimSpec({ ...pvc().spec, volumeMode: "Raw", storageClassName: "Fast_SSD" }))
      .map((l) => l.slice(0, 40)),
    ['spec.storageClassName: Invalid value: "F', 'spec.volumeMode: Unsupported value: "Raw'],
  );
});

Deno.test("validatePersistentVolumeClaim() with old allows growth and binding only", () => {
  const before = pvc();
  assert.deepEqual(validatePersistentVolumeClaim(pvc((c) => c.spec.resources.requests.storage = "10Gi"), before), []);
  assert.deepEqual(validatePersistentVolumeClaim(pvc((c) => c.spec.volumeName = "pv-pi-3-a"), before), []);
  assert.deepEqual(show(validatePersistentVolumeClaim(pvc((c) => c.spec.resources.requests.storage = "1Gi"), before)), [
    "spec.resources.requests.storage: Forbidden: field can not be less than previous value",
  ]);
  const bound = pvc((c) => c.spec.volumeName = "pv-a");
  const errors = show(validatePersistentVolumeClaim(
    pvc((c) => {
      c.spec.volumeName = "pv-b";
      c.spec.accessModes = ["ReadWriteMany"];
    }),
    bound,
  ));
  assert.equal(errors.length, 1);
  assert.match(
    errors[0] as string,
    /^spec: Forbidden: spec is immutable after creation except resources.requests .*; changed: spec.accessModes\[0\], spec.volumeName$/,
  );
});

Deno.test("validatePersistentVolume() checks capacity, modes and exactly one source", () => {
  const pv: Any = localVolume();
  defaultPersistentVolume(pv);
  assert.deepEqual(validatePersistentVolume(pv), []);
  assert.deepEqual(show(validatePersistentVolume({ spec: {} })), [
    "spec.capacity: Required value",
    "spec.accessModes: Required value",
    "spec: Required value: must specify a volume type",
  ]);
  const two: Any = localVolume();
  two.spec.hostPath = { path: "/x" };
  two.spec.capacity = { storage: "1Gi", cpu: "1" };
  assert.deepEqual(show(validatePersistentVolume(two)), [
    'spec.capacity: Unsupported value: map[string]string{"cpu":"1", "storage":"1Gi"}: supported values: "storage"',
    "spec.local: Forbidden: may not specify more than 1 volume type",
  ]);
  const noAffinity: Any = localVolume();
  delete noAffinity.spec.nodeAffinity;
  assert.deepEqual(show(validatePersistentVolume(noAffinity)), [
    "spec.nodeAffinity: Required value: Local volume requires node affinity",
  ]);
  const csi = {
    spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], csi: { driver: "local.csi.skiff.dev" } },
  };
  assert.deepEqual(show(validatePersistentVolume(csi)), ["spec.csi.volumeHandle: Required value"]);
});

Deno.test("validatePersistentVolume() with old keeps the source", () => {
  const before: Any = localVolume();
  const after: Any = localVolume();
  after.spec.local.path = "/mnt/disks/b";
  assert.deepEqual(show(validatePersistentVolume(after, before)), [
    "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation",
  ]);
});

Deno.test("validateStorageClass() requires a provisioner and freezes it", () => {
  assert.deepEqual(validateStorageClass(storageClass()), []);
  assert.deepEqual(show(validateStorageClass({ reclaimPolicy: "Recycle", volumeBindingMode: "Later" })), [
    "provisioner: Required value",
    'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
    'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"',
  ]);
  const changed = { ...storageClass(), provisioner: "other.csi", parameters: { fsType: "xfs" } };
  assert.deepEqual(show(validateStorageClass(changed, storageClass())), [
    "provisioner: Forbidden: updates to provisioner are forbidden.",
    "parameters: Forbidden: updates to parameters are forbidden.",
  ]);
});

Deno.test("storage validators never throw on junk", () => {
  for (const validate of [validatePersistentVolume, validatePersistentVolumeClaim, validateStorageClass]) {
    for (
      const junk of [null, 0, "x", { spec: "x" }, { spec: { capacity: [1], accessModes: "RWO", resources: 1 } }, {
        provisioner: {},
      }]
    ) {
      assert.ok(Array.isArray(validate(junk, junk)), validate.name);
    }
  }
});
