import assert from "node:assert/strict";
import { fullPod } from "./_test_manifests.ts";
import { defaultPod } from "./defaults.ts";
import type { FieldError } from "./errors.ts";
import type { Pod } from "./types_pod.ts";
import { validateNodeSelector, validatePod, validatePodSpec, validatePodTemplateSpec } from "./validate_pod.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

function pod(mutate: (p: Any) => void): Pod {
  const p = fullPod();
  defaultPod(p);
  mutate(p);
  return p;
}

const show = (errors: FieldError[]) => errors.map((e) => `${e.field}: ${e.message}`);

Deno.test("validatePod() accepts a full pod", () => {
  assert.deepEqual(show(validatePod(pod(() => {}))), []);
});

Deno.test("validatePod() reports each problem with its Kubernetes field path", () => {
  const cases: [string, (p: Any) => void, string][] = [
    ["no containers", (p) => p.spec.containers = [], "spec.containers: Required value"],
    ["missing image", (p) => delete p.spec.containers[0].image, "spec.containers[0].image: Required value"],
    [
      "image whitespace",
      (p) => p.spec.containers[0].image = " nginx",
      'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace',
    ],
    [
      "bad image",
      (p) => p.spec.containers[0].image = "Nginx",
      'spec.containers[0].image: Invalid value: "Nginx": invalid reference format: repository name (library/Nginx) must be lowercase',
    ],
    [
      "duplicate container name",
      (p) => p.spec.containers.push({ ...p.spec.containers[0], ports: [] }),
      'spec.containers[1].name: Duplicate value: "app"',
    ],
    [
      "init and app container share a name",
      (p) => p.spec.initContainers[0].name = "app",
      'spec.containers[0].name: Duplicate value: "app"',
    ],
    ["bad container name", (p) => p.spec.containers[0].name = "App", 'spec.containers[0].name: Invalid value: "App"'],
    [
      "port 0",
      (p) => p.spec.containers[0].ports[0].containerPort = 0,
      "spec.containers[0].ports[0].containerPort: Required value",
    ],
    [
      "port out of range",
      (p) => p.spec.containers[0].ports[0].containerPort = 70000,
      "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ],
    [
      "bad protocol",
      (p) => p.spec.containers[0].ports[0].protocol = "HTTP",
      'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    ],
    [
      "duplicate port name",
      (p) => p.spec.containers[0].ports[1].name = "http",
      'spec.containers[0].ports[1].name: Duplicate value: "http"',
    ],
    [
      "duplicate volume",
      (p) => p.spec.volumes.push({ name: "work", emptyDir: {} }),
      'spec.volumes[7].name: Duplicate value: "work"',
    ],
    [
      "mount of an undeclared volume",
      (p) => p.spec.containers[0].volumeMounts[0].name = "missing",
      'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
    ],
    [
      "duplicate mount path",
      (p) => p.spec.containers[0].volumeMounts[1].mountPath = "/work",
      'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/work": must be unique',
    ],
    [
      "escaping subPath",
      (p) => p.spec.containers[0].volumeMounts[6].subPath = "../etc",
      `spec.containers[0].volumeMounts[6].subPath: Invalid value: "../etc": must not contain '..'`,
    ],
    [
      "two volume sources",
      (p) => p.spec.volumes[0].hostPath = { path: "/x" },
      "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
    ],
    [
      "configMap without name",
      (p) => delete p.spec.volumes[1].configMap.name,
      "spec.volumes[1].configMap.name: Required value",
    ],
    [
      "bad defaultMode",
      (p) => p.spec.volumes[2].secret.defaultMode = 0o1000,
      "spec.volumes[2].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
    ],
    [
      "bad env name",
      (p) => p.spec.containers[0].env[0].name = "1X",
      'spec.containers[0].env[0].name: Invalid value: "1X": a valid environment variable name',
    ],
    [
      "env with value and valueFrom",
      (p) => p.spec.containers[0].env[1].value = "x",
      'spec.containers[0].env[1].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
    ],
    [
      "env valueFrom with two sources",
      (p) => p.spec.containers[0].env[1].valueFrom.secretKeyRef = { name: "a", key: "b" },
      'spec.containers[0].env[1].valueFrom: Invalid value: "": may not have more than one field specified at a time',
    ],
    [
      "bad fieldPath",
      (p) => p.spec.containers[0].env[1].valueFrom.fieldRef.fieldPath = "spec.containers",
      'spec.containers[0].env[1].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.containers"',
    ],
    [
      "bad divisor",
      (p) => p.spec.containers[0].env[3].valueFrom.resourceFieldRef.divisor = "3Mi",
      "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
    ],
    [
      "envFrom without source",
      (p) => p.spec.containers[0].envFrom[0] = { prefix: "X_" },
      "spec.containers[0].envFrom[0]: Required value: must specify one of: `configMapRef` or `secretRef`",
    ],
    [
      "request above limit",
      (p) => p.spec.containers[0].resources.requests.cpu = "2",
      'spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1',
    ],
    [
      "bad quantity",
      (p) => p.spec.containers[0].resources.limits.memory = "1 Mi",
      `spec.containers[0].resources.limits[memory]: Invalid value: "1 Mi": quantities must match the regular expression`,
    ],
    [
      "negative quantity",
      (p) => p.spec.containers[0].resources.requests.memory = "-1Mi",
      'spec.containers[0].resources.requests[memory]: Invalid value: "-1Mi": must be greater than or equal to 0',
    ],
    [
      "unknown resource",
      (p) => p.spec.containers[0].resources.limits.gpu = "1",
      'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers',
    ],
    [
      "extended resource request without limit",
      (p) => p.spec.containers[0].resources.requests["example.com/gpu"] = "1",
      "spec.containers[0].resources.requests[example.com/gpu]: Forbidden: Limit must be set for non overcommitable resources",
    ],
    [
      "probe without handler",
      (p) => p.spec.containers[0].livenessProbe = { periodSeconds: 5 },
      "spec.containers[0].livenessProbe: Required value: must specify a handler type",
    ],
    [
      "probe with two handlers",
      (p) => p.spec.containers[0].readinessProbe.exec = { command: ["true"] },
      "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
    ],
    [
      "liveness successThreshold",
      (p) => p.spec.containers[0].livenessProbe.successThreshold = 3,
      "spec.containers[0].livenessProbe.successThreshold: Invalid value: 3: must be 1",
    ],
    [
      "probe port name",
      (p) => p.spec.containers[0].livenessProbe.httpGet.port = "Http_",
      'spec.containers[0].livenessProbe.httpGet.port: Invalid value: "Http_"',
    ],
    [
      "probe on an init container",
      (p) => p.spec.initContainers[0].readinessProbe = { exec: { command: ["true"] } },
      "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
    ],
    [
      "privileged without escalation",
      (p) => Object.assign(p.spec.containers[0].securityContext, { privileged: true, allowPrivilegeEscalation: false }),
      "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
    ],
    [
      "bad restartPolicy",
      (p) => p.spec.restartPolicy = "Sometimes",
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ],
    [
      "dnsPolicy None without config",
      (p) => p.spec.dnsPolicy = "None",
      "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
    ],
    [
      "bad nodeSelector",
      (p) => p.spec.nodeSelector = { "a b": "c" },
      'spec.nodeSelector: Invalid value: "a b"',
    ],
    [
      "node affinity operator",
      (p) =>
        p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]
          .matchExpressions[0].operator = "Is",
      'matchExpressions[0].operator: Invalid value: "Is": not a valid selector operator',
    ],
    [
      "Exists with values",
      (p) =>
        p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]
          .matchExpressions[0].operator = "Exists",
      "matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
    ],
    [
      "affinity weight",
      (p) => p.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight = 101,
      "weight: Invalid value: 101: must be in the range 1-100",
    ],
    [
      "affinity without topologyKey",
      (p) =>
        delete p.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm
          .topologyKey,
      "podAffinityTerm.topologyKey: Required value: can not be empty",
    ],
    [
      "toleration Exists with value",
      (p) => p.spec.tolerations[0].operator = "Exists",
      "value must be empty when `operator` is 'Exists'",
    ],
    [
      "tolerationSeconds without NoExecute",
      (p) => p.spec.tolerations[0].tolerationSeconds = 10,
      `spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be 'NoExecute' when \`tolerationSeconds\` is set`,
    ],
    [
      "topology spread skew",
      (p) => p.spec.topologySpreadConstraints[0].maxSkew = 0,
      "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
    ],
    [
      "duplicate spread constraint",
      (p) => p.spec.topologySpreadConstraints.push({ ...p.spec.topologySpreadConstraints[0] }),
      'spec.topologySpreadConstraints[1]: Duplicate value: "{topology.kubernetes.io/zone, ScheduleAnyway}"',
    ],
    [
      "hostNetwork port mismatch",
      (p) => {
        p.spec.hostNetwork = true;
        p.spec.containers[0].ports[0].hostPort = 80;
      },
      "spec.containers[0].ports[0].containerPort: Invalid value: 8080: must match `hostPort` when `hostNetwork` is true",
    ],
    [
      "activeDeadlineSeconds 0",
      (p) => p.spec.activeDeadlineSeconds = 0,
      "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
    ],
    [
      "terminationGracePeriodSeconds type",
      (p) => p.spec.terminationGracePeriodSeconds = "30",
      'Invalid value: "30": must be an integer',
    ],
    [
      "bad pod IP",
      (p) => p.status.podIP = "10.42.0.300",
      'status.podIP: Invalid value: "10.42.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ],
    [
      "bad phase",
      (p) => p.status.phase = "Done",
      'status.phase: Unsupported value: "Done"',
    ],
  ];
  for (const [name, mutate, expected] of cases) {
    const errors = show(validatePod(pod(mutate)));
    assert.ok(errors.some((e) => e.includes(expected)), `${name}: expected "${expected}" in\n${errors.join("\n")}`);
  }
});

Deno.test("validatePod() with old allows image, deadline and toleration changes only", () => {
  const before = pod(() => {});
  before.spec!.activeDeadlineSeconds = 600;
  const ok = pod((p) => {
    p.spec.activeDeadlineSeconds = 300;
    p.spec.containers[0].image = "ghcr.io/example/app:v1.2.4";
    p.spec.initContainers[0].image = "busybox:1.36";
    p.spec.tolerations.push({ key: "x", operator: "Exists" });
  });
  assert.deepEqual(show(validatePod(ok, before)), []);

  const moved = pod((p) => {
    p.spec.activeDeadlineSeconds = 600;
    p.spec.nodeName = "pi-4";
  });
  assert.deepEqual(show(validatePod(moved, before)).map((e) => e.replace(/`.*\)/, "…")), [
    "spec: Forbidden: pod updates may not change fields other than …; changed: spec.nodeName",
  ]);

  const longer = pod((p) => p.spec.activeDeadlineSeconds = 900);
  assert.deepEqual(show(validatePod(longer, before)), [
    "spec.activeDeadlineSeconds: Invalid value: 900: must be less than or equal to previous value",
  ]);

  const dropped = pod((p) => {
    p.spec.activeDeadlineSeconds = 600;
    p.spec.tolerations = p.spec.tolerations.slice(1);
  });
  assert.deepEqual(show(validatePod(dropped, before)), [
    "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
  ]);
});

Deno.test("validatePodSpec() accepts volumes declared by a StatefulSet's claim templates", () => {
  const spec = { containers: [{ name: "a", image: "busybox", volumeMounts: [{ name: "www", mountPath: "/www" }] }] };
  assert.equal(validatePodSpec(spec).length, 1);
  assert.deepEqual(validatePodSpec(spec, "spec", { extraVolumes: ["www"] }), []);
});

Deno.test("validatePodTemplateSpec() requires a template and checks its labels", () => {
  assert.deepEqual(show(validatePodTemplateSpec(undefined, "spec.template")), ["spec.template: Required value"]);
  const errors = show(
    validatePodTemplateSpec({ metadata: { labels: { a: "-" } }, spec: { containers: [] } }, "spec.template"),
  );
  assert.equal(errors.length, 2);
  assert.ok(errors[0]?.startsWith('spec.template.metadata.labels: Invalid value: "-"'));
  assert.equal(errors[1], "spec.template.spec.containers: Required value");
});

Deno.test("validateNodeSelector() requires terms and checks matchFields", () => {
  assert.deepEqual(show(validateNodeSelector({}, "x")), [
    "x.nodeSelectorTerms: Required value: must have at least one node selector term",
  ]);
  assert.deepEqual(
    show(
      validateNodeSelector({
        nodeSelectorTerms: [{ matchFields: [{ key: "metadata.uid", operator: "In", values: ["a"] }] }],
      }, "x"),
    ),
    ['x.nodeSelectorTerms[0].matchFields[0].key: Invalid value: "metadata.uid": not a valid field selector key'],
  );
  assert.deepEqual(
    show(
      validateNodeSelector(
        { nodeSelectorTerms: [{ matchExpressions: [{ key: "c", operator: "Gt", values: ["x"] }] }] },
        "x",
      ),
    ),
    ['x.nodeSelectorTerms[0].matchExpressions[0].values[0]: Invalid value: "x": must be an integer'],
  );
});

Deno.test("validatePod() never throws on junk", () => {
  for (
    const junk of [null, undefined, 1, "pod", [], { spec: 1 }, { spec: { containers: "x" } }, {
      spec: { containers: [null, 1, "a"] },
    }]
  ) {
    const errors = validatePod(junk);
    assert.ok(Array.isArray(errors) && errors.length > 0, JSON.stringify(junk));
  }
});
