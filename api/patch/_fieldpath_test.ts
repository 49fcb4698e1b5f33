import assert from "node:assert/strict";
import { BadRequestError } from "../errors.ts";
import {
  collectFields,
  compareFields,
  FieldSet,
  formatFieldsV1,
  formatPath,
  ITEM,
  parseFieldsV1,
  pathsOf,
} from "./_fieldpath.ts";
import { patchSchemaFor } from "./schema.ts";

const pod = patchSchemaFor("Pod");

Deno.test("collectFields() lists leaves, keyed items and set items like Kubernetes' ToFieldSet", () => {
  const fields = collectFields({
    metadata: { labels: { app: "web" }, finalizers: ["a/b"], annotations: {} },
    spec: {
      containers: [{
        name: "web",
        ports: [{ containerPort: 80 }],
        args: ["-v"],
        env: [],
      }],
      nodeSelector: { disk: "ssd" },
    },
  }, pod);
  assert.deepEqual(
    [...fields.values()].map((f) => [formatPath(f.path), f.value]),
    [
      [".metadata.labels.app", "web"],
      ['.metadata.finalizers[="a/b"]', ITEM],
      [".metadata.annotations", {}],
      ['.spec.containers[name="web"]', ITEM],
      ['.spec.containers[name="web"].name', "web"],
      ['.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"]', ITEM],
      ['.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].containerPort', 80],
      ['.spec.containers[name="web"].args', ["-v"]],
      [".spec.nodeSelector", { disk: "ssd" }],
    ],
  );
});

Deno.test("collectFields() in strict mode refuses duplicate keys and missing keys", () => {
  const strict = { strict: { what: "apply configuration" } };
  assert.throws(
    () => collectFields({ spec: { containers: [{ name: "a" }, { name: "a" }] } }, pod, strict),
    (error: unknown) =>
      error instanceof BadRequestError &&
      error.message ===
        'Invalid apply configuration: .spec.containers: duplicate entries for {"name":"a"}',
  );
  assert.throws(
    () => collectFields({ spec: { containers: [{ image: "x" }] } }, pod, strict),
    /\.spec\.containers: list item lacks its key "name"/,
  );
  assert.throws(
    () => collectFields({ metadata: { finalizers: [{ a: 1 }] } }, pod, strict),
    /set item is object, not a scalar/,
  );
});

Deno.test("collectFields() treats a malformed live list as atomic when not strict", () => {
  const list = [{ name: "a" }, { name: "a" }];
  const fields = collectFields({ spec: { containers: list } }, pod);
  assert.deepEqual([...fields.values()].map((f) => f.value), [list]);
});

Deno.test("formatFieldsV1() and parseFieldsV1() round-trip in Kubernetes' layout", () => {
  const set = new FieldSet([
    ["f:spec", "f:replicas"],
    ["f:spec", "f:containers", 'k:{"name":"web"}'],
    ["f:spec", "f:containers", 'k:{"name":"web"}', "f:image"],
    ["f:metadata", "f:finalizers", 'v:"b"'],
    ["f:metadata", "f:finalizers", 'v:"a"'],
  ]);
  const fields = formatFieldsV1(set);
  assert.deepEqual(fields, {
    "f:metadata": { "f:finalizers": { 'v:"a"': {}, 'v:"b"': {} } },
    "f:spec": {
      "f:containers": { 'k:{"name":"web"}': { ".": {}, "f:image": {} } },
      "f:replicas": {},
    },
  });
  assert.deepEqual(Object.keys(fields["f:spec"] as object), ["f:containers", "f:replicas"]);
  const parsed = parseFieldsV1(fields);
  assert.ok(parsed?.equals(set));
});

Deno.test("formatFieldsV1() sorts fields before keys, values and indices, and numbers by value", () => {
  const set = new FieldSet([
    ["f:ports", 'k:{"port":10000}'],
    ["f:ports", 'k:{"port":9000}'],
    ["f:ports", "f:x"],
  ]);
  assert.deepEqual(Object.keys(formatFieldsV1(set)["f:ports"] as object), [
    "f:x",
    'k:{"port":9000}',
    'k:{"port":10000}',
  ]);
});

Deno.test("parseFieldsV1() refuses malformed input instead of throwing", () => {
  for (
    const bad of [
      [],
      { spec: {} },
      { "f:spec": 1 },
      { "k:notjson": {} },
      { "k:[1]": {} },
      { "v:{}": {} },
      { "i:x": {} },
      { ".": {} },
      { "f:a": { ".": { "f:b": {} } } },
    ]
  ) {
    assert.equal(parseFieldsV1(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("compareFields() tells modified, added and removed paths apart", () => {
  const before = collectFields({ spec: { replicas: 1, paused: true, containers: [{ name: "a" }] } }, pod);
  const after = collectFields({ spec: { replicas: 2, containers: [{ name: "a" }, { name: "b" }] } }, pod);
  const { modified, added, removed } = compareFields(before, after);
  assert.deepEqual([...modified].map(formatPath), [".spec.replicas"]);
  assert.deepEqual([...added].map(formatPath), ['.spec.containers[name="b"]', '.spec.containers[name="b"].name']);
  assert.deepEqual([...removed].map(formatPath), [".spec.paused"]);
  assert.equal(pathsOf(after).size, 5);
});

Deno.test("FieldSet set operations compare paths by value", () => {
  const a = new FieldSet([["f:a"], ["f:b"]]);
  const b = new FieldSet([["f:b"], ["f:c"]]);
  assert.deepEqual([...a.union(b)], [["f:a"], ["f:b"], ["f:c"]]);
  assert.deepEqual([...a.difference(b)], [["f:a"]]);
  assert.deepEqual([...a.intersection(b)], [["f:b"]]);
  assert.ok(a.has(["f:a"]));
  assert.ok(!a.equals(b));
});
