import assert from "node:assert/strict";
import { allManifests, nginxDeployment } from "./_test_manifests.ts";
import { NotFoundError } from "./errors.ts";
import { findResource, resolveResource, RESOURCE_TYPES, resourceFor, resourceForKind } from "./registry.ts";

function typeOf(obj: Record<string, unknown>) {
  const type = resourceForKind(String(obj.apiVersion), String(obj.kind));
  assert.ok(type, `no resource type for ${obj.apiVersion} ${obj.kind}`);
  return type;
}

Deno.test("registry validate() accepts every real-world manifest after defaults()", () => {
  for (const manifest of allManifests()) {
    const type = typeOf(manifest);
    type.defaults(manifest);
    assert.deepEqual(type.validate(manifest), [], `${manifest.kind} should be valid`);
    assert.deepEqual(type.validate(manifest, structuredClone(manifest)), [], `${manifest.kind} unchanged update`);
  }
});

Deno.test("registry defaults() is idempotent", () => {
  for (const manifest of allManifests()) {
    const type = typeOf(manifest);
    type.defaults(manifest);
    const once = structuredClone(manifest);
    type.defaults(manifest);
    assert.deepEqual(manifest, once, `${manifest.kind} defaults twice`);
  }
});

Deno.test("findResource() resolves names the way kubectl does", () => {
  const cases: [string, string, string][] = [
    ["po", "", "pods"],
    ["pods", "", "pods"],
    ["pod", "", "pods"],
    ["Pod", "", "pods"],
    ["PODS", "", "pods"],
    ["svc", "", "services"],
    ["deploy", "apps", "deployments"],
    ["Deployment", "apps", "deployments"],
    ["deployments.apps", "apps", "deployments"],
    ["deploy.apps", "apps", "deployments"],
    ["deployment.v1.apps", "apps", "deployments"],
    ["rs", "apps", "replicasets"],
    ["ds", "apps", "daemonsets"],
    ["sts", "apps", "statefulsets"],
    ["cm", "", "configmaps"],
    ["ns", "", "namespaces"],
    ["no", "", "nodes"],
    ["nodes", "", "nodes"],
    ["pvc", "", "persistentvolumeclaims"],
    ["pv", "", "persistentvolumes"],
    ["ep", "", "endpoints"],
    ["sc", "storage.k8s.io", "storageclasses"],
    ["ev", "", "events"],
    ["lease", "coordination.k8s.io", "leases"],
    ["endpointslices.discovery.k8s.io", "discovery.k8s.io", "endpointslices"],
    ["nodes.metrics.k8s.io", "metrics.k8s.io", "nodes"],
    ["pods.v1beta1.metrics.k8s.io", "metrics.k8s.io", "pods"],
    ["nodemetrics", "metrics.k8s.io", "nodes"],
    [" secret ", "", "secrets"],
  ];
  for (const [input, group, plural] of cases) {
    const type = findResource(input);
    assert.equal(type?.group, group, input);
    assert.equal(type?.plural, plural, input);
  }
  assert.equal(findResource("deploy.core"), undefined);
  assert.equal(findResource("deployments.v2.apps"), undefined);
  assert.equal(findResource(""), undefined);
});

Deno.test("resolveResource() throws NotFoundError for unknown types", () => {
  assert.throws(
    () => resolveResource("foo"),
    (e: unknown) => e instanceof NotFoundError && e.message === `The server doesn't have a resource type "foo"`,
  );
});

Deno.test("RESOURCE_TYPES lists subresources, verbs and categories as kubectl expects", () => {
  const sub = (plural: string, group = "") =>
    resourceFor(group, group === "apps" ? "v1" : "v1", plural)?.subresources.map((s) => s.name);
  assert.deepEqual(sub("pods"), ["status", "binding", "log", "exec", "eviction"]);
  assert.deepEqual(sub("nodes"), ["status", "certificate"]);
  assert.deepEqual(sub("persistentvolumeclaims"), ["status"]);
  assert.deepEqual(sub("services"), ["status"]);
  assert.deepEqual(sub("deployments", "apps"), ["status", "scale"]);
  assert.deepEqual(sub("replicasets", "apps"), ["status", "scale"]);
  assert.deepEqual(sub("statefulsets", "apps"), ["status", "scale"]);
  assert.deepEqual(sub("daemonsets", "apps"), ["status"]);
  const all = RESOURCE_TYPES.filter((t) => t.categories.includes("all")).map((t) => t.plural);
  assert.deepEqual(all, ["pods", "services", "deployments", "replicasets", "daemonsets", "statefulsets"]);
  const metrics = RESOURCE_TYPES.filter((t) => t.group === "metrics.k8s.io");
  assert.deepEqual(metrics.map((t) => [t.kind, t.verbs]), [["NodeMetrics", ["get", "list"]], ["PodMetrics", [
    "get",
    "list",
  ]]]);
  const scale = resourceFor("apps", "v1", "deployments")?.subresources.find((s) => s.name === "scale");
  assert.deepEqual([scale?.group, scale?.version, scale?.kind], ["autoscaling", "v1", "Scale"]);
  const eviction = resourceFor("", "v1", "pods")?.subresources.find((s) => s.name === "eviction");
  assert.deepEqual([eviction?.group, eviction?.kind, eviction?.verbs], ["policy", "Eviction", ["create"]]);
  const deploy = resolveResource("deploy");
  assert.equal(deploy.listKind, "DeploymentList");
  assert.equal(deploy.apiVersion, "apps/v1");
  assert.ok(deploy.tracksGeneration);
  assert.ok(!resolveResource("cm").tracksGeneration);
  assert.ok(!resolveResource("ns").namespaced);
});

Deno.test("registry validate() checks metadata by scope and name rule", () => {
  const svc = resolveResource("svc");
  const errors = svc.validate({ metadata: { name: "1web" }, spec: { ports: [{ port: 80 }] } });
  assert.deepEqual(errors.map((e) => e.field), ["metadata.name", "metadata.namespace"]);
  assert.match(errors[0]?.message ?? "", /DNS-1035/);
  const ns = resolveResource("ns");
  assert.deepEqual(ns.validate({ metadata: { name: "a.b" } }).map((e) => e.message), [
    'Invalid value: "a.b": must not contain dots',
  ]);
  const node = resolveResource("node");
  assert.deepEqual(node.validate({ metadata: { name: "n", namespace: "x" } }).map((e) => e.message), [
    "Forbidden: not allowed on this type",
  ]);
  assert.deepEqual(node.validate("nope").map((e) => e.type), ["FieldValueTypeInvalid"]);
});

Deno.test("registry subresource validators check binding, eviction and scale bodies", () => {
  const pods = resolveResource("pods");
  const binding = pods.subresources.find((s) => s.name === "binding");
  assert.deepEqual(binding?.validate?.({ metadata: { name: "a", namespace: "d" }, target: { name: "pi-3" } }), []);
  assert.deepEqual(
    binding?.validate?.({ metadata: { name: "a", namespace: "d" }, target: { kind: "Pod", name: "x" } }).map((e) =>
      e.field
    ),
    ["target.kind"],
  );
  const scale = resolveResource("deploy").subresources.find((s) => s.name === "scale");
  assert.deepEqual(scale?.validate?.({ spec: { replicas: -1 } }).map((e) => e.message), [
    "Invalid value: -1: must be greater than or equal to 0",
  ]);
});

const HOSTILE: unknown[] = [
  null,
  "x",
  "",
  -1,
  1e308,
  2 ** 53 + 2,
  0.5,
  true,
  [],
  {},
  [1, "a", null, {}],
  { a: { b: [{}] } },
  "9".repeat(500),
];

/** Every path (as a list of keys) of a JSON value, breadth-first. */
function paths(value: unknown): (string | number)[][] {
  const out: (string | number)[][] = [];
  const queue: [unknown, (string | number)[]][] = [[value, []]];
  while (queue.length > 0) {
    const [v, p] = queue.shift() as [unknown, (string | number)[]];
    if (p.length > 0) out.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => queue.push([x, [...p, i]]));
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) queue.push([x, [...p, k]]);
    }
  }
  return out;
}

function setAt(obj: unknown, path: (string | number)[], value: unknown): void {
  let cur = obj as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) cur = cur[key] as Record<string | number, unknown>;
  cur[path[path.length - 1] as string | number] = value;
}

Deno.test("registry defaults() and validate() never throw on hostile values anywhere", () => {
  let runs = 0;
  for (const manifest of allManifests()) {
    const type = typeOf(manifest);
    type.defaults(manifest);
    for (const path of paths(manifest)) {
      for (const hostile of HOSTILE) {
        const copy = structuredClone(manifest);
        setAt(copy, path, structuredClone(hostile));
        const snapshot = structuredClone(copy);
        type.defaults(copy);
        const errors = type.validate(copy);
        assert.ok(Array.isArray(errors));
        const updateErrors = type.validate(snapshot, manifest);
        assert.ok(Array.isArray(updateErrors));
        assert.ok(Array.isArray(type.validate(manifest, snapshot)));
        for (const e of [...errors, ...updateErrors]) {
          assert.equal(typeof e.field, "string");
          assert.ok(e.message.length < 4000, `${e.field}: message too long`);
        }
        const lines = errors.map((e) => `${e.field}: ${e.message}`);
        const repeated = lines.filter((l, i) => lines.indexOf(l) !== i);
        assert.deepEqual(repeated, [], `${type.kind} ${path.join(".")} = ${JSON.stringify(hostile)}`);
        runs++;
      }
    }
  }
  assert.ok(runs > 1000);
});

Deno.test("registry validate() reports wrong types with the field and the bad value", () => {
  const deploy = resolveResource("deploy");
  const d = nginxDeployment() as unknown as Record<string, Record<string, unknown>>;
  d.spec!.replicas = "x";
  assert.deepEqual(deploy.validate(d), [{
    field: "spec.replicas",
    type: "FieldValueTypeInvalid",
    message: 'Invalid value: "x": must be an integer',
  }]);
  for (const value of [null, "spec", 7, []]) {
    const broken = { ...nginxDeployment(), spec: value };
    assert.ok(deploy.validate(broken).length > 0, `spec: ${JSON.stringify(value)}`);
  }
});

Deno.test("registry validate() survives deeply nested input", () => {
  let deep: unknown = "leaf";
  for (let i = 0; i < 200_000; i++) deep = [deep];
  for (const type of RESOURCE_TYPES) {
    const obj = { metadata: { name: "x", namespace: "d" }, spec: { deep, template: { spec: { deep } } }, deep };
    const old = { metadata: { name: "x", namespace: "d" }, spec: { deep: [deep] }, deep: [deep] };
    type.defaults(obj);
    for (const errors of [type.validate(obj, old), type.validate(old, obj)]) {
      for (const e of errors) assert.ok(e.message.length < 4000, `${type.kind} ${e.field}: message too long`);
    }
  }
});
