import assert from "node:assert/strict";
import { fluentdDaemonSet, nginxDeployment, webStatefulSet } from "./_test_manifests.ts";
import { defaultDaemonSet, defaultDeployment, defaultReplicaSet, defaultStatefulSet } from "./defaults.ts";
import type { FieldError } from "./errors.ts";
import {
  validateDaemonSet,
  validateDeployment,
  validateReplicaSet,
  validateScale,
  validateStatefulSet,
} from "./validate_apps.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const show = (errors: FieldError[]) => errors.map((e) => `${e.field}: ${e.message}`);

function deployment(mutate: (d: Any) => void = () => {}): Any {
  const d = nginxDeployment();
  defaultDeployment(d);
  mutate(d);
  return d;
}

function statefulSet(mutate: (s: Any) => void = () => {}): Any {
  const s = webStatefulSet();
  defaultStatefulSet(s);
  mutate(s);
  return s;
}

function expectError(errors: FieldError[], expected: string): void {
  const lines = show(errors);
  assert.ok(lines.some((l) => l.includes(expected)), `expected "${expected}" in\n${lines.join("\n")}`);
}

Deno.test("validateDeployment() checks selector, template labels and restart policy", () => {
  assert.deepEqual(show(validateDeployment(deployment())), []);
  expectError(validateDeployment(deployment((d) => delete d.spec.selector)), "spec.selector: Required value");
  expectError(
    validateDeployment(deployment((d) => d.spec.selector = {})),
    "spec.selector: Invalid value: map[string]string{}: empty selector is invalid for deployment",
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.template.metadata.labels = { app: "web" })),
    'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.template.spec.restartPolicy = "Never")),
    'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.template.spec.activeDeadlineSeconds = 5)),
    "spec.template.spec.activeDeadlineSeconds: Invalid value: 5: activeDeadlineSeconds in Deployment is not Supported",
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.selector.matchExpressions = [{ key: "a", operator: "In" }])),
    "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.template.spec.containers[0].image = "")),
    "spec.template.spec.containers[0].image: Required value",
  );
});

Deno.test("validateDeployment() checks replicas, strategy and deadlines", () => {
  expectError(
    validateDeployment(deployment((d) => d.spec.replicas = -1)),
    "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.replicas = 1.5)),
    "spec.replicas: Invalid value: 1.5: must be an integer",
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.replicas = 2 ** 40)),
    "spec.replicas: Invalid value: 1099511627776: must be a 32-bit integer",
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.strategy = { type: "Recreate", rollingUpdate: {} })),
    "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.strategy.rollingUpdate = { maxSurge: 0, maxUnavailable: "0%" })),
    'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0',
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.strategy.rollingUpdate.maxSurge = "lots")),
    `spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": a valid percent string must be a numeric string followed by an ending '%'`,
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.strategy.rollingUpdate.maxUnavailable = "150%")),
    'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%',
  );
  expectError(
    validateDeployment(deployment((d) => d.spec.strategy.type = "BlueGreen")),
    'spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"',
  );
  expectError(
    validateDeployment(deployment((d) => Object.assign(d.spec, { minReadySeconds: 700 }))),
    "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
  );
});

Deno.test("validateDeployment() with old forbids selector changes", () => {
  const before = deployment();
  const after = deployment((d) => {
    d.spec.selector.matchLabels.tier = "web";
    d.spec.template.metadata.labels.tier = "web";
  });
  assert.deepEqual(show(validateDeployment(after, before)), [
    'spec.selector: Invalid value: map[string]interface {}{"matchLabels":map[string]string{"app":"nginx", "tier":"web"}}: field is immutable',
  ]);
  assert.deepEqual(show(validateDeployment(deployment((d) => d.spec.replicas = 10), before)), []);
});

Deno.test("validateReplicaSet() shares the workload rules", () => {
  const rs: Any = { metadata: {}, spec: structuredClone(nginxDeployment().spec) };
  delete rs.spec.strategy;
  defaultReplicaSet(rs);
  assert.deepEqual(show(validateReplicaSet(rs)), []);
  rs.spec.selector = { matchLabels: {} };
  expectError(validateReplicaSet(rs), "empty selector is invalid for deployment");
  delete rs.spec.template;
  expectError(validateReplicaSet(rs), "spec.template: Required value");
});

Deno.test("validateDaemonSet() checks the update strategy", () => {
  const ds: Any = fluentdDaemonSet();
  defaultDaemonSet(ds);
  assert.deepEqual(show(validateDaemonSet(ds)), []);
  ds.spec.updateStrategy = { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } };
  expectError(
    validateDaemonSet(ds),
    "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
  );
  ds.spec.updateStrategy = { type: "Sometimes" };
  expectError(validateDaemonSet(ds), 'spec.updateStrategy.type: Unsupported value: "Sometimes"');
  ds.spec.selector = {};
  expectError(validateDaemonSet(ds), "empty selector is invalid for daemonset");
});

Deno.test("validateStatefulSet() checks claim templates and policies", () => {
  assert.deepEqual(show(validateStatefulSet(statefulSet())), []);
  expectError(
    validateStatefulSet(statefulSet((s) => s.spec.volumeClaimTemplates[0].metadata.name = "other")),
    'spec.template.spec.containers[0].volumeMounts[0].name: Not found: "www"',
  );
  expectError(
    validateStatefulSet(statefulSet((s) => s.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "0")),
    'spec.volumeClaimTemplates[0].spec.resources[storage]: Invalid value: "0": must be greater than zero',
  );
  expectError(
    validateStatefulSet(statefulSet((s) => s.spec.podManagementPolicy = "Random")),
    `spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`,
  );
  expectError(
    validateStatefulSet(
      statefulSet((s) => s.spec.updateStrategy = { type: "OnDelete", rollingUpdate: { partition: 1 } }),
    ),
    "spec.updateStrategy.rollingUpdate: Invalid value: map[string]interface {}{\"partition\":1}: only allowed for updateStrategy 'RollingUpdate'",
  );
  expectError(
    validateStatefulSet(statefulSet((s) => s.spec.updateStrategy.rollingUpdate.partition = -1)),
    "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0",
  );
  expectError(
    validateStatefulSet(statefulSet((s) => s.spec.serviceName = "Nginx")),
    'spec.serviceName: Invalid value: "Nginx"',
  );
});

Deno.test("validateStatefulSet() with old allows only replicas, template, strategy and friends", () => {
  const before = statefulSet();
  const scaled = statefulSet((s) => {
    s.spec.replicas = 5;
    s.spec.template.spec.containers[0].image = "registry.k8s.io/nginx-slim:0.25";
    s.spec.minReadySeconds = 0;
  });
  assert.deepEqual(show(validateStatefulSet(scaled, before)), []);
  const renamed = statefulSet((s) => s.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "2Gi");
  const errors = show(validateStatefulSet(renamed, before));
  assert.equal(errors.length, 1);
  assert.match(
    errors[0] as string,
    /^spec: Forbidden: updates to statefulset spec for fields other than 'replicas'.*changed: spec\.volumeClaimTemplates\[0\]\.spec\.resources\.requests\.storage$/,
  );
});

Deno.test("validateScale() requires non-negative replicas", () => {
  assert.deepEqual(validateScale({ spec: { replicas: 3 } }), []);
  assert.deepEqual(show(validateScale({ spec: { replicas: "3" } })), [
    'spec.replicas: Invalid value: "3": must be an integer',
  ]);
  assert.deepEqual(show(validateScale(null)), ["null: must be an object"].map((m) => `: Invalid value: ${m}`));
});

Deno.test("workload validators never throw on junk", () => {
  for (const validate of [validateDeployment, validateReplicaSet, validateDaemonSet, validateStatefulSet]) {
    for (
      const junk of [
        null,
        7,
        { spec: [] },
        { spec: { selector: "app=x", template: [] } },
        { spec: { selector: { matchLabels: [1] }, template: { metadata: { labels: "x" }, spec: { containers: {} } } } },
        { spec: { selector: { matchExpressions: [{ operator: {} }] }, volumeClaimTemplates: [null, { spec: 1 }] } },
      ]
    ) {
      assert.ok(validate(junk).length > 0, `${validate.name}(${JSON.stringify(junk)})`);
      assert.ok(Array.isArray(validate(junk, junk)));
    }
  }
});
