import assert from "node:assert/strict";
import {
  BUILTIN_PATCH_SCHEMAS,
  fieldSchema,
  listMapKeysOf,
  listTypeOf,
  mergesList,
  type PatchSchema,
  patchSchemaFor,
  retainsKeys,
} from "./schema.ts";

function at(kind: string, path: string): PatchSchema | undefined {
  let schema = patchSchemaFor(kind);
  for (const key of path.split(".")) schema = fieldSchema(schema, key);
  return schema;
}

const podSpecPaths: Record<string, string> = {
  Pod: "spec",
  Deployment: "spec.template.spec",
  ReplicaSet: "spec.template.spec",
  DaemonSet: "spec.template.spec",
  StatefulSet: "spec.template.spec",
  Job: "spec.template.spec",
  CronJob: "spec.jobTemplate.spec.template.spec",
  ReplicationController: "spec.template.spec",
  PodTemplate: "template.spec",
};

// Merge keys as in the Go struct tags of k8s.io/api (kubectl 1.32).
const podSpecKeys: Array<[string, string, PatchSchema["patchStrategy"]]> = [
  ["containers", "name", "merge"],
  ["initContainers", "name", "merge"],
  ["ephemeralContainers", "name", "merge"],
  ["containers.ports", "containerPort", "merge"],
  ["containers.env", "name", "merge"],
  ["containers.volumeMounts", "mountPath", "merge"],
  ["containers.volumeDevices", "devicePath", "merge"],
  ["initContainers.env", "name", "merge"],
  ["volumes", "name", "merge,retainKeys"],
  ["imagePullSecrets", "name", "merge"],
  ["hostAliases", "ip", "merge"],
  ["topologySpreadConstraints", "topologyKey", "merge"],
  ["schedulingGates", "name", "merge"],
  ["resourceClaims", "name", "merge,retainKeys"],
];

for (const [kind, specPath] of Object.entries(podSpecPaths)) {
  Deno.test(`patchSchemaFor("${kind}") reaches the pod spec's merge keys through ${specPath}`, () => {
    for (const [field, key, strategy] of podSpecKeys) {
      const schema = at(kind, `${specPath}.${field}`);
      assert.equal(schema?.patchMergeKey, key, field);
      assert.equal(schema?.patchStrategy, strategy, field);
    }
    const tolerations = at(kind, `${specPath}.tolerations`);
    assert.equal(mergesList(tolerations), false);
    assert.equal(listTypeOf(tolerations), "atomic");
  });
}

const otherKeys: Array<[string, string, string | undefined, string]> = [
  ["Pod", "metadata.ownerReferences", "uid", "merge"],
  ["Pod", "status.conditions", "type", "merge"],
  ["Pod", "status.podIPs", "ip", "merge"],
  ["Node", "status.conditions", "type", "merge"],
  ["Node", "status.addresses", "type", "merge"],
  ["Node", "spec.podCIDRs", undefined, "merge"],
  ["Deployment", "status.conditions", "type", "merge"],
  ["Deployment", "spec.template.metadata.finalizers", undefined, "merge"],
  ["Deployment", "spec.strategy", undefined, "retainKeys"],
  ["StatefulSet", "status.conditions", "type", "merge"],
  ["Service", "spec.ports", "port", "merge"],
  ["ServiceAccount", "secrets", "name", "merge"],
  ["ConfigMap", "metadata.finalizers", undefined, "merge"],
  ["Namespace", "status.conditions", "type", "merge"],
  ["PersistentVolumeClaim", "status.conditions", "type", "merge"],
  ["PodDisruptionBudget", "spec.selector", undefined, "replace"],
  ["CSINode", "spec.drivers", "name", "merge"],
];

for (const [kind, path, key, strategy] of otherKeys) {
  Deno.test(`patchSchemaFor("${kind}") has ${path} with strategy ${strategy}${key ? ` and key ${key}` : ""}`, () => {
    const schema = at(kind, path);
    assert.equal(schema?.patchMergeKey, key);
    assert.equal(schema?.patchStrategy, strategy);
  });
}

Deno.test("patchSchemaFor() lists have no patch strategy where Kubernetes replaces them", () => {
  for (
    const [kind, path] of [
      ["Endpoints", "subsets"],
      ["EndpointSlice", "endpoints"],
      ["Node", "spec.taints"],
      ["StatefulSet", "spec.volumeClaimTemplates"],
      ["Service", "spec.externalIPs"],
      ["Deployment", "spec.template.spec.containers.args"],
    ]
  ) {
    const schema = at(kind as string, path as string);
    assert.equal(mergesList(schema), false, `${kind} ${path}`);
  }
});

Deno.test("listTypeOf() follows Kubernetes' list markers and patch tags", () => {
  assert.equal(listTypeOf(at("Pod", "spec.containers")), "map");
  assert.equal(listTypeOf(at("Pod", "metadata.finalizers")), "set");
  assert.equal(listTypeOf(at("Pod", "status.podIPs")), "atomic");
  assert.equal(listTypeOf(at("Node", "status.addresses")), "atomic");
  assert.equal(listTypeOf(at("Pod", "spec.containers.resources.claims")), "map");
  assert.equal(listTypeOf(undefined), "atomic");
  assert.deepEqual(listMapKeysOf(at("Pod", "spec.containers.ports")), [
    "containerPort",
    "protocol",
  ]);
  assert.deepEqual(listMapKeysOf(at("Service", "spec.ports")), ["port", "protocol"]);
  assert.deepEqual(listMapKeysOf(at("Pod", "spec.containers.env")), ["name"]);
  assert.equal(at("Service", "spec.ports")?.listMapKeyDefaults?.protocol, "TCP");
});

Deno.test("retainsKeys() is true for volumes and a Deployment's strategy only", () => {
  assert.equal(retainsKeys(at("Pod", "spec.volumes")), true);
  assert.equal(retainsKeys(at("Deployment", "spec.strategy")), true);
  assert.equal(retainsKeys(at("Pod", "spec.containers")), false);
  assert.equal(retainsKeys(at("DaemonSet", "spec.updateStrategy")), false);
});

Deno.test("patchSchemaFor() knows no custom kinds and no inherited names", () => {
  for (const kind of ["Widget", "constructor", "__proto__", "toString", ""]) {
    assert.equal(patchSchemaFor(kind), undefined, kind);
  }
  assert.equal(fieldSchema(patchSchemaFor("Pod"), "constructor"), undefined);
  assert.equal(fieldSchema(patchSchemaFor("Pod"), "hasOwnProperty"), undefined);
});

Deno.test("BUILTIN_PATCH_SCHEMAS is frozen all the way down", () => {
  const containers = at("Deployment", "spec.template.spec.containers");
  assert.ok(Object.isFrozen(containers));
  assert.ok(Object.isFrozen(containers?.fields));
  assert.ok(Object.isFrozen(at("Pod", "spec.containers.ports")?.listMapKeys));
  assert.throws(() => {
    (BUILTIN_PATCH_SCHEMAS.get("Pod")?.fields as Record<string, unknown>)
      .spec = {};
  }, TypeError);
});
