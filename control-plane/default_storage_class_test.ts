import assert from "node:assert/strict";
import { startHarness } from "./apiserver/_test_harness.ts";
import { SYSTEM_USER } from "./control_plane.ts";
import { ensureDefaultStorageClass } from "./default_storage_class.ts";

const CLASSES = "/apis/storage.k8s.io/v1/storageclasses";

Deno.test("ensureDefaultStorageClass() leaves a cluster with classes of its own alone, and fills an empty one", async () => {
  await using h = await startHarness();
  const type = h.type("StorageClass");
  await h.call("DELETE", `${CLASSES}/local`);
  await h.call("POST", CLASSES, {
    body: {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "nas" },
      provisioner: "nfs.example.com",
    },
  });
  assert.equal(await ensureDefaultStorageClass(h.api.handler.objects, type, SYSTEM_USER), false);
  assert.deepEqual(
    (await h.call("GET", CLASSES)).body.items.map((c: { metadata: { name: string } }) => c.metadata.name),
    ["nas"],
  );
  await h.call("DELETE", `${CLASSES}/nas`);
  assert.equal(await ensureDefaultStorageClass(h.api.handler.objects, type, SYSTEM_USER), true);
  assert.deepEqual(
    (await h.call("GET", CLASSES)).body.items.map((c: { metadata: { name: string } }) => c.metadata.name),
    ["local"],
  );
});
