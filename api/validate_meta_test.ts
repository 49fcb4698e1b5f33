import assert from "node:assert/strict";
import type { FieldError } from "./errors.ts";
import { dns1123LabelErrors } from "./names.ts";
import {
  validateAnnotations,
  validateLabels,
  validateLabelSelector,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from "./validate_meta.ts";

const show = (errors: FieldError[]) => errors.map((e) => `${e.field}: ${e.message}`);
const strip = (lines: string[]) => lines.map((l) => l.replace(/ \(e\.g\..*$/, ""));

Deno.test("validateObjectMeta() requires a name or generateName", () => {
  assert.deepEqual(show(validateObjectMeta({ namespace: "d" }, { namespaced: true })), [
    "metadata.name: Required value: name or generateName is required",
  ]);
  assert.deepEqual(validateObjectMeta({ generateName: "web-", namespace: "d" }, { namespaced: true }), []);
  assert.deepEqual(show(validateObjectMeta(undefined, { namespaced: false })), [
    "metadata.name: Required value: name or generateName is required",
  ]);
  assert.deepEqual(strip(show(validateObjectMeta({ generateName: "Web-", namespace: "d" }, { namespaced: true }))), [
    `metadata.generateName: Invalid value: "Weba": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
  ]);
});

Deno.test("validateObjectMeta() applies the kind's name rule and scope", () => {
  assert.deepEqual(strip(show(validateObjectMeta({ name: "My_Pod", namespace: "default" }, { namespaced: true }))), [
    `metadata.name: Invalid value: "My_Pod": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
  ]);
  assert.deepEqual(show(validateObjectMeta({ name: "a.b" }, { namespaced: false, nameRule: dns1123LabelErrors })), [
    'metadata.name: Invalid value: "a.b": must not contain dots',
  ]);
  assert.deepEqual(show(validateObjectMeta({ name: "a" }, { namespaced: true })), [
    "metadata.namespace: Required value",
  ]);
  assert.deepEqual(show(validateObjectMeta({ name: "a", namespace: "x" }, { namespaced: false })), [
    "metadata.namespace: Forbidden: not allowed on this type",
  ]);
  assert.deepEqual(strip(show(validateObjectMeta({ name: "a", namespace: "Prod" }, { namespaced: true }))), [
    `metadata.namespace: Invalid value: "Prod": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
  ]);
});

Deno.test("validateObjectMeta() checks owner references and finalizers", () => {
  const meta = {
    name: "a",
    ownerReferences: [
      { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs1", uid: "u1", controller: true },
      { apiVersion: "apps/", kind: "", name: "rs2", uid: "", controller: true },
    ],
    finalizers: ["kubernetes", "example.com/cleanup", "custom", "orphan", "foregroundDeletion"],
  };
  assert.deepEqual(show(validateObjectMeta(meta, { namespaced: false })), [
    'metadata.ownerReferences[1].apiVersion: Invalid value: "apps/": version must not be empty',
    'metadata.ownerReferences[1].kind: Invalid value: "": kind must not be empty',
    'metadata.ownerReferences[1].uid: Invalid value: "": uid must not be empty',
    `metadata.ownerReferences: Invalid value: []interface {}{map[string]interface {}{"apiVersion":"apps/v1", "controller":true, "kind":"ReplicaSet", "name":"rs1", "uid":"u1"}, map[string]interface {}{"apiVersion":"apps/", "controller":true, "kind":"", "name":"rs2", "uid":""}}: Only one reference can have Controller set to true. Found "true" in references for rs1 and rs2`,
    'metadata.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
    'metadata.finalizers: Invalid value: []string{"kubernetes", "example.com/cleanup", "custom", "orphan", "foregroundDeletion"}: finalizer orphan and foregroundDeletion cannot be both set',
  ]);
});

Deno.test("validateObjectMeta() reports wrong types without throwing", () => {
  const errors = show(validateObjectMeta({ name: 5, labels: [], annotations: "x", generation: -1, finalizers: [1] }, {
    namespaced: false,
  }));
  assert.deepEqual(errors, [
    "metadata.name: Invalid value: 5: must be a string",
    "metadata.labels: Invalid value: []interface {}{}: must be an object",
    'metadata.annotations: Invalid value: "x": must be an object',
    "metadata.finalizers[0]: Invalid value: 1: must be a string",
    "metadata.generation: Invalid value: -1: must be greater than or equal to 0",
  ]);
  assert.deepEqual(show(validateObjectMeta("meta", { namespaced: false })), [
    'metadata: Invalid value: "meta": must be an object',
  ]);
});

Deno.test("validateLabels() and validateAnnotations() check keys, values and total size", () => {
  assert.deepEqual(validateLabels({ "app.kubernetes.io/name": "web", tier: "" }, "metadata.labels"), []);
  assert.deepEqual(strip(show(validateLabels({ "-bad": "x", ok: "a b" }, "metadata.labels"))), [
    `metadata.labels: Invalid value: "-bad": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    `metadata.labels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
  ]);
  assert.deepEqual(validateAnnotations({ "Example.com/Note": "x".repeat(1000) }, "metadata.annotations"), []);
  assert.deepEqual(show(validateAnnotations({ a: "x".repeat(256 * 1024) }, "metadata.annotations")), [
    "metadata.annotations: Too long: may not be more than 262144 bytes",
  ]);
});

Deno.test("validateLabelSelector() checks operators and values", () => {
  assert.deepEqual(
    show(validateLabelSelector({
      matchExpressions: [
        { key: "a", operator: "In", values: [] },
        { key: "b", operator: "Exists", values: ["x"] },
        { key: "c", operator: "Near" },
        { key: "d", operator: "NotIn", values: ["-x"] },
      ],
    }, "spec.selector")).map((l) => l.replace(/ \(e\.g\..*$/, "")),
    [
      "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
      "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
      'spec.selector.matchExpressions[2].operator: Invalid value: "Near": not a valid selector operator',
      `spec.selector.matchExpressions[3].values[0]: Invalid value: "-x": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    ],
  );
});

Deno.test("validateObjectMetaUpdate() freezes identity and finalizers during deletion", () => {
  const old = {
    name: "a",
    namespace: "d",
    uid: "u1",
    creationTimestamp: "t",
    deletionTimestamp: "t2",
    finalizers: ["x/y"],
  };
  assert.deepEqual(validateObjectMetaUpdate({ name: "a", namespace: "d", finalizers: ["x/y"] }, old), []);
  assert.deepEqual(
    show(validateObjectMetaUpdate({ name: "b", namespace: "e", uid: "u2", finalizers: ["x/y", "x/z"] }, old)),
    [
      'metadata.name: Invalid value: "b": field is immutable',
      'metadata.namespace: Invalid value: "e": field is immutable',
      'metadata.uid: Invalid value: "u2": field is immutable',
      'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers "x/z"',
    ],
  );
  assert.deepEqual(validateObjectMetaUpdate(null, old), []);
});
