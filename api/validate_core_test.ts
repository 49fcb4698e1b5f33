import assert from "node:assert/strict";
import {
  binding,
  configMap,
  namespace,
  nodeLease,
  schedulerEvent,
  stringDataSecret,
  workerNode,
} from "./_test_manifests.ts";
import { defaultNode, defaultSecret } from "./defaults.ts";
import type { FieldError } from "./errors.ts";
import {
  base64Error,
  validateBinding,
  validateConfigMap,
  validateEvent,
  validateEviction,
  validateLease,
  validateNamespace,
  validateNode,
  validateSecret,
} from "./validate_core.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const show = (errors: FieldError[]) => errors.map((e) => `${e.field}: ${e.message}`);

Deno.test("base64Error() accepts standard padded base64 and locates errors", () => {
  assert.equal(base64Error("YWRtaW4="), undefined);
  assert.equal(base64Error(""), undefined);
  assert.equal(base64Error("YWRt\naW4="), undefined);
  assert.equal(base64Error("YW!t"), "illegal base64 data at input byte 2");
  assert.equal(base64Error("YWRtaW4"), "illegal base64 data at input byte 4");
  assert.equal(base64Error("YW=t"), "illegal base64 data at input byte 2");
});

Deno.test("validateConfigMap() checks keys, binary data, overlap and size", () => {
  assert.deepEqual(validateConfigMap(configMap()), []);
  const cm: Any = configMap();
  cm.data["bad/key"] = "x";
  cm.binaryData["log.level"] = "!!";
  assert.deepEqual(show(validateConfigMap(cm)).map((l) => l.replace(/ \(e\.g\..*/, "")), [
    `data[bad/key]: Invalid value: "bad/key": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`,
    'binaryData[log.level]: Invalid value: "!!": illegal base64 data at input byte 0',
    'data[log.level]: Invalid value: "log.level": duplicate of key present in binaryData',
  ]);
  assert.deepEqual(show(validateConfigMap({ data: { big: "x".repeat(1024 * 1024 + 1) } })), [
    "data: Too long: may not be more than 1048576 bytes",
  ]);
  assert.deepEqual(show(validateConfigMap({ data: { n: 1 } })), ["data[n]: Invalid value: 1: must be a string"]);
});

Deno.test("validateConfigMap() with old keeps immutable ConfigMaps frozen", () => {
  const before: Any = { ...configMap(), immutable: true };
  const after: Any = { ...configMap(), immutable: true, data: { "log.level": "debug" } };
  assert.deepEqual(show(validateConfigMap(after, before)), [
    "data: Forbidden: field is immutable when `immutable` is set",
  ]);
  assert.deepEqual(show(validateConfigMap({ ...configMap(), immutable: false }, before)), [
    "immutable: Forbidden: field is immutable when `immutable` is set",
  ]);
  assert.deepEqual(validateConfigMap({ ...configMap(), immutable: true }, configMap()), []);
});

Deno.test("validateSecret() redacts contents and requires the keys of its type", () => {
  const secret: Any = stringDataSecret();
  defaultSecret(secret);
  assert.deepEqual(validateSecret(secret), []);
  secret.data.password = "not base64!";
  assert.deepEqual(show(validateSecret(secret)), [
    'data[password]: Invalid value: "<secret contents redacted>": illegal base64 data at input byte 3',
  ]);
  assert.deepEqual(show(validateSecret({ type: "kubernetes.io/tls", data: { "tls.crt": "" } })), [
    "data[tls.key]: Required value",
  ]);
  assert.deepEqual(show(validateSecret({ type: "kubernetes.io/basic-auth", data: {} })), [
    "data[username]: Required value",
    "data[password]: Required value",
  ]);
  assert.deepEqual(
    show(validateSecret({ type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": btoa("{") } }))
      .map((l) => l.split(": ").slice(0, 2).join(": ")),
    ["data[.dockerconfigjson]: Invalid value"],
  );
  assert.deepEqual(show(validateSecret({ type: "kubernetes.io/service-account-token", metadata: {} })), [
    "metadata.annotations[kubernetes.io/service-account.name]: Required value",
  ]);
});

Deno.test("validateSecret() with old keeps the type", () => {
  assert.deepEqual(
    show(validateSecret({ type: "kubernetes.io/tls", data: { "tls.crt": "", "tls.key": "" } }, { type: "Opaque" })),
    [
      'type: Invalid value: "kubernetes.io/tls": field is immutable',
    ],
  );
});

Deno.test("validateNamespace() checks finalizers and phase", () => {
  assert.deepEqual(validateNamespace(namespace()), []);
  assert.deepEqual(show(validateNamespace({ spec: { finalizers: ["custom"] }, status: { phase: "Gone" } })), [
    'spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
    'status.phase: Unsupported value: "Gone": supported values: "Active", "Terminating"',
  ]);
});

Deno.test("validateNode() checks CIDRs, taints and capacity", () => {
  const node: Any = workerNode();
  defaultNode(node);
  assert.deepEqual(validateNode(node), []);
  node.spec.podCIDR = "10.42.3.0/33";
  node.spec.taints.push({ key: "gpu", value: "false", effect: "NoSchedule" }, { key: "x" });
  node.status.capacity.memory = "lots";
  const errors = show(validateNode(node));
  assert.deepEqual(errors, [
    'spec.podCIDR: Invalid value: "10.42.3.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    'spec.podCIDRs[0]: Invalid value: "10.42.3.0/24": must match spec.podCIDR',
    'spec.taints[1]: Duplicate value: map[string]string{"effect":"NoSchedule", "key":"gpu", "value":"false"}: taints must be unique by key and effect pair',
    "spec.taints[2].effect: Required value",
    `status.capacity[memory]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
  ]);
});

Deno.test("validateNode() with old lets podCIDR be set once", () => {
  const before: Any = workerNode();
  const moved: Any = workerNode();
  moved.spec.podCIDR = "10.42.4.0/24";
  moved.spec.podCIDRs = ["10.42.4.0/24"];
  assert.deepEqual(show(validateNode(moved, before)), [
    'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
  ]);
  const fresh: Any = workerNode();
  delete fresh.spec.podCIDR;
  assert.deepEqual(validateNode(workerNode(), fresh), []);
});

Deno.test("validateEvent() keeps events in their object's namespace", () => {
  assert.deepEqual(validateEvent(schedulerEvent()), []);
  const event: Any = schedulerEvent();
  event.involvedObject.namespace = "other";
  event.type = "Info";
  event.count = -1;
  assert.deepEqual(show(validateEvent(event)), [
    'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
    'type: Unsupported value: "Info": supported values: "Normal", "Warning"',
    "count: Invalid value: -1: must be greater than or equal to 0",
  ]);
  assert.deepEqual(show(validateEvent({ metadata: {} })), ["involvedObject: Required value"]);
});

Deno.test("validateBinding() and validateEviction() check their bodies", () => {
  assert.deepEqual(validateBinding(binding()), []);
  assert.deepEqual(show(validateBinding({ target: {} })), ["target.name: Required value"]);
  assert.deepEqual(show(validateBinding({})), ["target: Required value"]);
  assert.deepEqual(validateEviction({ deleteOptions: { gracePeriodSeconds: 30 } }), []);
  assert.deepEqual(show(validateEviction({ deleteOptions: { propagationPolicy: "Now", dryRun: ["Some"] } })), [
    'deleteOptions.propagationPolicy: Unsupported value: "Now": supported values: "Background", "Foreground", "Orphan"',
    'deleteOptions.dryRun: Unsupported value: "Some": supported values: "All"',
  ]);
});

Deno.test("validateLease() checks duration and times", () => {
  assert.deepEqual(validateLease(nodeLease()), []);
  assert.deepEqual(
    show(validateLease({ spec: { leaseDurationSeconds: 0, renewTime: "yesterday", leaseTransitions: -1 } })),
    [
      "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
      "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
      'spec.renewTime: Invalid value: "yesterday": must be an RFC 3339 time',
    ],
  );
});

Deno.test("core validators never throw on junk", () => {
  const validators = [
    validateConfigMap,
    validateSecret,
    validateNamespace,
    validateNode,
    validateEvent,
    validateBinding,
    validateEviction,
    validateLease,
  ];
  for (const validate of validators) {
    for (
      const junk of [null, "x", [], { data: [], spec: "x", status: 1, target: [], deleteOptions: "x" }, {
        data: { a: {} },
      }]
    ) {
      assert.ok(Array.isArray(validate(junk)), validate.name);
      assert.ok(Array.isArray((validate as (a: unknown, b: unknown) => FieldError[])(junk, junk)), validate.name);
    }
  }
});
