import assert from "node:assert/strict";
import { parse } from "yaml";
import { BadRequestError, ConflictError } from "../errors.ts";
import type { KubeObject } from "../meta.ts";
import { applyServerSide, recordUpdate } from "./server_side_apply.ts";

const t0 = new Date("2025-01-01T00:00:00.123Z");
const t1 = new Date("2025-01-01T00:01:00Z");
const t2 = new Date("2025-01-01T00:02:00Z");

const config = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        env:
        - {name: MODE, value: production}
        ports:
        - {containerPort: 80}
`;

type Deployment = ReturnType<typeof deployment>;
function deployment() {
  return parse(config) as {
    apiVersion: string;
    kind: string;
    metadata: Record<string, unknown> & {
      labels: Record<string, string>;
      managedFields?: Array<Record<string, unknown>>;
    };
    spec: {
      replicas?: number;
      template: {
        spec: {
          containers: Array<
            Record<string, unknown> & {
              env?: Array<Record<string, string>>;
              ports: Array<Record<string, unknown>>;
            }
          >;
        };
      };
    };
  };
}

function managed(object: KubeObject) {
  return object.metadata.managedFields ?? [];
}

Deno.test("applyServerSide() creates the object and records the applier's fields in FieldsV1", () => {
  const created = applyServerSide(undefined, config, { manager: "kubectl", now: t0 });
  const { metadata, ...rest } = created;
  const { managedFields, ...meta } = metadata;
  const expected = deployment();
  assert.deepEqual({ ...rest, metadata: meta }, expected);
  assert.deepEqual(managedFields, [{
    manager: "kubectl",
    operation: "Apply",
    apiVersion: "apps/v1",
    time: "2025-01-01T00:00:00Z",
    fieldsType: "FieldsV1",
    fieldsV1: {
      "f:metadata": { "f:labels": { "f:app": {} } },
      "f:spec": {
        "f:replicas": {},
        "f:selector": {},
        "f:template": {
          "f:metadata": { "f:labels": { "f:app": {} } },
          "f:spec": {
            "f:containers": {
              'k:{"name":"web"}': {
                ".": {},
                "f:env": {
                  'k:{"name":"MODE"}': { ".": {}, "f:name": {}, "f:value": {} },
                },
                "f:image": {},
                "f:name": {},
                "f:ports": {
                  'k:{"containerPort":80,"protocol":"TCP"}': {
                    ".": {},
                    "f:containerPort": {},
                  },
                },
              },
            },
          },
        },
      },
    },
  }]);
});

Deno.test("applyServerSide() accepts JSON text and objects as well as YAML", () => {
  const fromJson = applyServerSide(undefined, JSON.stringify(deployment()), {
    manager: "kubectl",
    now: t0,
  });
  const fromObject = applyServerSide(undefined, deployment(), {
    manager: "kubectl",
    now: t0,
  });
  const fromYaml = applyServerSide(undefined, config, { manager: "kubectl", now: t0 });
  assert.deepEqual(fromJson, fromYaml);
  assert.deepEqual(fromObject, fromYaml);
});

Deno.test("applyServerSide() of an unchanged configuration changes nothing, not even the time", () => {
  const created = applyServerSide(undefined, config, { manager: "kubectl", now: t0 });
  const again = applyServerSide(created, config, { manager: "kubectl", now: t1 });
  assert.deepEqual(again, created);
});

Deno.test("applyServerSide() merges into the live object and keeps fields others set", () => {
  const created = applyServerSide(undefined, config, { manager: "kubectl", now: t0 });
  const live = structuredClone(created) as unknown as Deployment;
  live.metadata.uid = "1b4e28ba";
  live.metadata.resourceVersion = "7";
  live.spec.template.spec.containers[0]!.imagePullPolicy = "IfNotPresent";
  const changed = deployment();
  changed.spec.template.spec.containers[0]!.image = "nginx:1.27";
  const applied = applyServerSide(live, changed, { manager: "kubectl", now: t1 }) as unknown as Deployment;
  assert.equal(applied.metadata.uid, "1b4e28ba");
  assert.equal(applied.spec.template.spec.containers[0]!.image, "nginx:1.27");
  assert.equal(applied.spec.template.spec.containers[0]!.imagePullPolicy, "IfNotPresent");
  assert.equal(applied.metadata.managedFields?.[0]?.time, "2025-01-01T00:01:00Z");
});

Deno.test("applyServerSide() removes fields the same manager applied before and dropped now", () => {
  const first = deployment();
  first.metadata.labels.tier = "front";
  first.spec.template.spec.containers[0]!.env!.push({ name: "DEBUG", value: "1" });
  first.spec.template.spec.containers.push({ name: "sidecar", image: "envoy", ports: [] });
  const created = applyServerSide(undefined, first, { manager: "kubectl", now: t0 });
  const second = applyServerSide(created, config, { manager: "kubectl", now: t1 });
  const { managedFields, ...meta } = second.metadata;
  assert.deepEqual({ ...second, metadata: meta }, deployment());
  assert.deepEqual(
    managedFields,
    applyServerSide(undefined, config, { manager: "kubectl", now: t1 }).metadata
      .managedFields,
  );
});

Deno.test("applyServerSide() keeps a dropped field that another manager also owns", () => {
  const first = deployment();
  first.metadata.labels.tier = "front";
  const created = applyServerSide(undefined, first, { manager: "kubectl", now: t0 });
  const shared = applyServerSide(created, first, { manager: "helm", now: t1 });
  const second = applyServerSide(shared, config, { manager: "kubectl", now: t2 });
  assert.deepEqual(second.metadata.labels, { app: "web", tier: "front" });
});

Deno.test("applyServerSide() conflicts on a field another manager set to another value", () => {
  const created = recordUpdate(undefined, deployment(), {
    manager: "kubectl-client-side-apply",
    now: t0,
  });
  const scaled = deployment();
  scaled.spec.replicas = 5;
  let error: unknown;
  try {
    applyServerSide(created, scaled, { manager: "kubectl", now: t1 });
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof ConflictError);
  assert.equal(error.code, 409);
  assert.equal(
    error.message,
    'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas',
  );
  assert.deepEqual(error.details?.causes, [{
    reason: "FieldManagerConflict",
    message: 'conflict with "kubectl-client-side-apply" using apps/v1',
    field: ".spec.replicas",
  }]);
  assert.equal(error.toStatus().reason, "Conflict");
});

Deno.test("applyServerSide() lists every conflict by manager", () => {
  const created = recordUpdate(undefined, deployment(), { manager: "kubectl-create", now: t0 });
  const edited = structuredClone(created) as unknown as Deployment;
  edited.spec.replicas = 3;
  const scaled = recordUpdate(created, edited, { manager: "hpa", now: t1 });
  const changed = deployment();
  changed.spec.replicas = 5;
  changed.spec.template.spec.containers[0]!.image = "nginx:1.27";
  changed.metadata.labels.app = "api";
  assert.throws(
    () => applyServerSide(scaled, changed, { manager: "kubectl", now: t2 }),
    (error: unknown) => {
      assert.ok(error instanceof ConflictError);
      assert.equal(
        error.message,
        "Apply failed with 3 conflicts: " + [
          'conflicts with "hpa" using apps/v1:',
          "- .spec.replicas",
          'conflicts with "kubectl-create" using apps/v1:',
          "- .metadata.labels.app",
          '- .spec.template.spec.containers[name="web"].image',
        ].join("\n"),
      );
      assert.equal(error.details?.causes?.length, 3);
      return true;
    },
  );
});

Deno.test("applyServerSide() shares ownership of fields set to the same value", () => {
  const created = recordUpdate(undefined, deployment(), {
    manager: "kubectl-client-side-apply",
    now: t0,
  });
  const applied = applyServerSide(created, config, { manager: "kubectl", now: t1 });
  assert.deepEqual(managed(applied).map((m) => [m.manager, m.operation]), [
    ["kubectl", "Apply"],
    ["kubectl-client-side-apply", "Update"],
  ]);
  for (const entry of managed(applied)) {
    assert.deepEqual(
      (entry.fieldsV1 as { "f:spec": Record<string, unknown> })["f:spec"]["f:replicas"],
      {},
    );
  }
});

Deno.test("applyServerSide() with force takes the conflicting fields over", () => {
  const created = recordUpdate(undefined, deployment(), {
    manager: "kubectl-client-side-apply",
    now: t0,
  });
  const scaled = deployment();
  scaled.spec.replicas = 5;
  const applied = applyServerSide(created, scaled, {
    manager: "kubectl",
    force: true,
    now: t1,
  }) as unknown as Deployment;
  assert.equal(applied.spec.replicas, 5);
  const csa = applied.metadata.managedFields?.find((m) => m.manager === "kubectl-client-side-apply");
  assert.equal(
    (csa?.fieldsV1 as { "f:spec": Record<string, unknown> })["f:spec"]["f:replicas"],
    undefined,
  );
});

Deno.test("applyServerSide() leaves a field alone once another writer took it", () => {
  const created = applyServerSide(undefined, config, { manager: "kubectl", now: t0 });
  const edited = structuredClone(created) as unknown as Deployment;
  edited.spec.replicas = 7;
  const scaled = recordUpdate(created, edited, { manager: "hpa", now: t1 });
  const withoutReplicas = deployment();
  delete withoutReplicas.spec.replicas;
  const applied = applyServerSide(scaled, withoutReplicas, { manager: "kubectl", now: t2 }) as unknown as Deployment;
  assert.equal(applied.spec.replicas, 7);
});

Deno.test("applyServerSide() merges keyed lists by key and keeps live-only items in place", () => {
  const live = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", finalizers: ["x/a"] },
    spec: {
      containers: [
        { name: "injected", image: "proxy" },
        { name: "web", image: "nginx:1.25", env: [{ name: "A", value: "1" }] },
      ],
    },
  };
  const applied = applyServerSide(live, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", finalizers: ["x/b"] },
    spec: {
      containers: [{ name: "web", image: "nginx:1.27", env: [{ name: "B", value: "2" }] }],
    },
  }, { manager: "kubectl", now: t0 });
  assert.deepEqual(applied.metadata.finalizers, ["x/a", "x/b"]);
  assert.deepEqual((applied.spec as typeof live.spec).containers, [
    { name: "injected", image: "proxy" },
    {
      name: "web",
      image: "nginx:1.27",
      env: [{ name: "A", value: "1" }, { name: "B", value: "2" }],
    },
  ]);
});

Deno.test("recordUpdate() records a create as an Update owning every field", () => {
  const created = recordUpdate(undefined, deployment(), { manager: "kubectl-create", now: t0 });
  const [entry] = managed(created);
  assert.equal(managed(created).length, 1);
  assert.deepEqual(
    { ...entry, fieldsV1: undefined },
    {
      manager: "kubectl-create",
      operation: "Update",
      apiVersion: "apps/v1",
      time: "2025-01-01T00:00:00Z",
      fieldsType: "FieldsV1",
      fieldsV1: undefined,
    },
  );
  assert.deepEqual(
    Object.keys((entry?.fieldsV1 as Record<string, Record<string, unknown>>)["f:spec"] ?? {}),
    ["f:replicas", "f:selector", "f:template"],
  );
});

Deno.test("recordUpdate() moves changed fields to the writer and drops removed ones", () => {
  const created = recordUpdate(undefined, deployment(), { manager: "kubectl-create", now: t0 });
  const edited = structuredClone(created) as unknown as Deployment;
  edited.spec.replicas = 3;
  delete edited.spec.template.spec.containers[0]!.env;
  const updated = recordUpdate(created, edited, { manager: "kubectl-edit", now: t1 });
  const [create, edit] = managed(updated);
  assert.equal(create?.manager, "kubectl-create");
  assert.deepEqual(edit?.fieldsV1, { "f:spec": { "f:replicas": {} } });
  const createSpec = (create?.fieldsV1 as Record<string, Record<string, unknown>>)["f:spec"] ?? {};
  assert.equal(createSpec["f:replicas"], undefined);
  assert.ok(!JSON.stringify(create?.fieldsV1).includes("f:env"));
});

Deno.test("recordUpdate() of a write that changes nothing adds no entry", () => {
  const created = recordUpdate(undefined, deployment(), { manager: "kubectl-create", now: t0 });
  const same = recordUpdate(created, created, { manager: "controller", now: t1 });
  assert.deepEqual(same, created);
});

Deno.test("recordUpdate() takes managed fields rewritten by the client, and resets on [{}]", () => {
  const created = recordUpdate(undefined, deployment(), {
    manager: "kubectl-client-side-apply",
    now: t0,
  });
  const [entry] = managed(created);
  const moved = structuredClone(created);
  moved.metadata.managedFields = [{ ...entry, manager: "kubectl", operation: "Apply" }];
  const upgraded = recordUpdate(created, moved, { manager: "kubectl", now: t1 });
  assert.deepEqual(managed(upgraded).map((m) => [m.manager, m.operation]), [["kubectl", "Apply"]]);
  const reset = structuredClone(created);
  reset.metadata.managedFields = [{}];
  assert.equal(recordUpdate(created, reset, { manager: "x", now: t1 }).metadata.managedFields, undefined);
  const garbage = structuredClone(created);
  (garbage.metadata as Record<string, unknown>).managedFields = [{ operation: "Bogus" }];
  assert.deepEqual(recordUpdate(created, garbage, { manager: "x", now: t1 }), created);
});

Deno.test("recordUpdate() records a status write under its subresource and ignores what it must not own", () => {
  const created = recordUpdate(undefined, deployment(), { manager: "kubectl-create", now: t0 });
  const withStatus = structuredClone(created) as unknown as Deployment & { status: unknown };
  withStatus.status = { replicas: 2, conditions: [{ type: "Available", status: "True" }] };
  const updated = recordUpdate(created, withStatus, {
    manager: "deployment-controller",
    subresource: "status",
    now: t1,
  });
  const entry = managed(updated).find((m) => m.manager === "deployment-controller");
  assert.equal(entry?.subresource, "status");
  assert.deepEqual(entry?.fieldsV1, {
    "f:status": {
      "f:conditions": {
        'k:{"type":"Available"}': { ".": {}, "f:status": {}, "f:type": {} },
      },
      "f:replicas": {},
    },
  });
  const ignored = recordUpdate(created, withStatus, {
    manager: "kubectl",
    ignoredFields: ["status"],
    now: t1,
  });
  assert.deepEqual(managed(ignored), managed(created));
});

Deno.test("applyServerSide() and recordUpdate() never modify their arguments", () => {
  const live = recordUpdate(undefined, deployment(), { manager: "a", now: t0 });
  const liveBefore = structuredClone(live);
  const changed = deployment();
  changed.spec.template.spec.containers[0]!.image = "nginx:1.27";
  const changedBefore = structuredClone(changed);
  const applied = applyServerSide(live, changed, { manager: "b", force: true, now: t1 }) as unknown as Deployment;
  applied.spec.template.spec.containers[0]!.ports.push({ containerPort: 1 });
  recordUpdate(live, applied, { manager: "c", now: t2 });
  assert.deepEqual(live, liveBefore);
  assert.deepEqual(changed, changedBefore);
});

const badRequests: Array<[string, () => unknown, RegExp]> = [
  ["an empty field manager", () => applyServerSide(undefined, config, { manager: "" }), /field manager is required/],
  [
    "a field manager with control characters",
    () => applyServerSide(undefined, config, { manager: "a\nb" }),
    /printable characters/,
  ],
  ["text that is not YAML", () => applyServerSide(undefined, "a: [1", { manager: "k" }), /not valid YAML or JSON/],
  [
    "several YAML documents",
    () => applyServerSide(undefined, "a: 1\n---\nb: 2\n", { manager: "k" }),
    /not valid YAML or JSON/,
  ],
  ["a YAML list", () => applyServerSide(undefined, "- a\n", { manager: "k" }), /expected an object, got list/],
  [
    "a configuration without apiVersion",
    () => applyServerSide(undefined, "kind: Pod\n", { manager: "k" }),
    /"apiVersion" must be set/,
  ],
  [
    "a configuration with managedFields",
    () => applyServerSide(undefined, "apiVersion: v1\nkind: Pod\nmetadata: {managedFields: []}\n", { manager: "k" }),
    /metadata.managedFields must be nil/,
  ],
  [
    "a configuration of another kind",
    () => applyServerSide({ kind: "Service", metadata: {} }, "apiVersion: v1\nkind: Pod\n", { manager: "k" }),
    /does not match the live object's kind "Service"/,
  ],
  [
    "duplicate keys in a keyed list",
    () =>
      applyServerSide(undefined, "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a}, {name: a}]}\n", {
        manager: "k",
      }),
    /\.spec\.containers: duplicate entries/,
  ],
  [
    "an item without its key",
    () => applyServerSide(undefined, "apiVersion: v1\nkind: Pod\nspec: {containers: [{image: a}]}\n", { manager: "k" }),
    /lacks its key "name"/,
  ],
  [
    "a __proto__ key",
    () =>
      applyServerSide(undefined, 'apiVersion: v1\nkind: Pod\nmetadata: {"__proto__": {polluted: true}}\n', {
        manager: "k",
      }),
    /"__proto__" is not allowed/,
  ],
  [
    "NaN from YAML",
    () => applyServerSide(undefined, "apiVersion: v1\nkind: Pod\nspec: {x: .nan}\n", { manager: "k" }),
    /not valid JSON/,
  ],
  [
    "a live object that is a list",
    () => recordUpdate([] as unknown as KubeObject, deployment(), { manager: "k" }),
    /expected an object, got list/,
  ],
  [
    "metadata that is a string",
    () => recordUpdate(undefined, { kind: "Pod", metadata: "x" }, { manager: "k" }),
    /metadata: expected an object/,
  ],
];

for (const [what, run, message] of badRequests) {
  Deno.test(`server-side apply refuses ${what} with BadRequestError`, () => {
    assert.throws(run, (error: unknown) => {
      assert.ok(error instanceof BadRequestError, String(error));
      assert.match(error.message, message);
      return true;
    });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
}

Deno.test("applyServerSide() refuses a YAML alias bomb instead of expanding it", () => {
  const bomb = [
    "apiVersion: v1",
    "kind: ConfigMap",
    "a: &a [x, x, x, x, x, x, x, x, x, x]",
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
    "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
  ].join("\n");
  assert.throws(
    () => applyServerSide(undefined, bomb, { manager: "k" }),
    BadRequestError,
  );
});
