/**
 * Checks the patch engines against Kubernetes' own implementation, as
 * compiled into kubectl: `kubectl patch --local` applies strategic merge,
 * JSON merge and JSON patches with the same Go code as the API server.
 * Both results go through kubectl once more (an empty patch) so that the
 * comparison ignores field order and the defaults of the Go types.
 *
 * The cases hold for kubectl 1.20 (Debian's, the fallback of
 * `findKubectl()`) as well as 1.32. Directives inside a newly added value,
 * which 1.20 kept as data and later versions carry out, are left to the unit
 * tests.
 */

import assert from "node:assert/strict";
import { parse } from "yaml";
import { findKubectl } from "../../test/support/mod.ts";
import { applyJsonPatch } from "./json_patch.ts";
import { applyMergePatch } from "./merge_patch.ts";
import { applyStrategicMergePatch, createThreeWayPatch } from "./strategic_merge.ts";

const kubectl = await findKubectl();

async function kubectlPatch(
  document: unknown,
  type: "strategic" | "merge" | "json",
  patch: unknown,
): Promise<unknown> {
  const child = new Deno.Command(kubectl, {
    args: [
      "patch",
      "--local",
      "-f",
      "-",
      "--type",
      type,
      "-p",
      JSON.stringify(patch),
      "-o",
      "json",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(document)));
  await writer.close();
  const output = await child.output();
  if (!output.success) {
    throw new Error(
      `kubectl patch --type ${type} failed: ${new TextDecoder().decode(output.stderr).trim()}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

const canonical = (document: unknown) => kubectlPatch(document, "merge", {});

const deployment = parse(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  finalizers: [a/x, b/y, c/z]
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations: [{key: a, operator: Exists}]
      volumes:
      - {name: data, emptyDir: {}}
      - {name: cfg, configMap: {name: cfg}}
      containers:
      - {name: first, image: busybox}
      - name: web
        image: nginx:1.25
        env:
        - {name: A, value: "1"}
        - {name: B, value: "2"}
        - {name: C, value: "3"}
        ports:
        - {containerPort: 80, name: http, protocol: TCP}
        - {containerPort: 443, name: https, protocol: TCP}
        volumeMounts:
        - {name: data, mountPath: /data}
      - {name: proxy, image: envoy}
`);

const podSpec = (spec: unknown) => ({ spec: { template: { spec } } });

const strategicCases: Array<[string, unknown]> = [
  ["changes an image", podSpec({ containers: [{ name: "web", image: "nginx:1.27" }] })],
  ["adds a container without an order", podSpec({ containers: [{ name: "new", image: "x" }] })],
  [
    "deletes and adds env vars in order",
    podSpec({
      containers: [{
        name: "web",
        "$setElementOrder/env": [{ name: "A" }, { name: "D" }],
        env: [{ name: "D", value: "4" }, { name: "B", $patch: "delete" }],
      }],
    }),
  ],
  [
    "deletes and adds containers around a server-only one",
    podSpec({
      "$setElementOrder/containers": [{ name: "web" }, { name: "z" }],
      containers: [{ name: "z", image: "z" }, { name: "first", $patch: "delete" }],
    }),
  ],
  [
    "deletes two containers and adds two",
    podSpec({
      "$setElementOrder/containers": [{ name: "y" }, { name: "web" }, { name: "z" }],
      containers: [
        { name: "y", image: "y" },
        { name: "z", image: "z" },
        { name: "first", $patch: "delete" },
        { name: "proxy", $patch: "delete" },
      ],
    }),
  ],
  ["reorders containers", podSpec({ "$setElementOrder/containers": [{ name: "proxy" }, { name: "web" }] })],
  [
    "switches a volume source with $retainKeys",
    podSpec({
      volumes: [{ name: "data", $retainKeys: ["configMap", "name"], configMap: { name: "x" } }],
    }),
  ],
  ["switches the strategy with $retainKeys", { spec: { strategy: { $retainKeys: ["type"], type: "Recreate" } } }],
  ["deletes and orders finalizers", {
    metadata: {
      "$setElementOrder/finalizers": ["c/z", "a/x", "d/w"],
      finalizers: ["d/w"],
      "$deleteFromPrimitiveList/finalizers": ["b/y"],
    },
  }],
  ["adds finalizers", { metadata: { finalizers: ["d/w", "a/x"] } }],
  ["adds a port", podSpec({ containers: [{ name: "web", ports: [{ containerPort: 8080, name: "alt" }] }] })],
  [
    "orders ports",
    podSpec({
      containers: [{
        name: "web",
        "$setElementOrder/ports": [{ containerPort: 443 }, { containerPort: 8080 }, { containerPort: 80 }],
        ports: [{ containerPort: 8080 }],
      }],
    }),
  ],
  ["replaces tolerations", podSpec({ tolerations: [{ key: "b", operator: "Exists" }] })],
  ["deletes a label with null", { metadata: { labels: { tier: null, x: "y" } } }],
  [
    "replaces a list with $patch: replace",
    podSpec({
      containers: [{ name: "web", env: [{ $patch: "replace" }, { name: "Z", value: "9" }] }],
    }),
  ],
  ["replaces an object with $patch: replace", { spec: { strategy: { $patch: "replace", type: "Recreate" } } }],
  ["empties an object with $patch: delete", { spec: { template: { metadata: { labels: { $patch: "delete" } } } } }],
  [
    "merges volume mounts by mount path",
    podSpec({
      containers: [{
        name: "web",
        volumeMounts: [{ name: "cfg", mountPath: "/cfg" }, { name: "data2", mountPath: "/data" }],
      }],
    }),
  ],
  ["deletes a container that is not there", podSpec({ containers: [{ name: "nope", $patch: "delete" }] })],
];

for (const [what, patch] of strategicCases) {
  Deno.test(`applyStrategicMergePatch() matches kubectl when it ${what}`, async () => {
    const mine = applyStrategicMergePatch(deployment, patch as Record<string, unknown>);
    assert.deepEqual(
      await canonical(mine),
      await kubectlPatch(deployment, "strategic", patch),
    );
  });
}

Deno.test("createThreeWayPatch() gives a patch kubectl applies as Skiff does", async () => {
  const lastApplied = parse(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      volumes: [{name: data, emptyDir: {}}]
      containers:
      - {name: web, image: "nginx:1.25", env: [{name: A, value: "1"}, {name: B, value: "2"}]}
      - {name: old, image: old}
`);
  const modified = parse(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web, v: "2"}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {type: Recreate}
  template:
    metadata: {labels: {app: web}}
    spec:
      volumes: [{name: data, configMap: {name: c}}]
      containers:
      - {name: new, image: new}
      - name: web
        image: nginx:1.27
        env: [{name: A, value: "1"}, {name: E, value: "5"}]
        ports: [{containerPort: 9090, name: metrics}]
`);
  const current = structuredClone(deployment);
  current.spec.template.spec.containers.push({ name: "old", image: "old" });
  const patch = createThreeWayPatch({ lastApplied, modified, current });
  const mine = applyStrategicMergePatch(current, patch);
  assert.deepEqual(
    await canonical(mine),
    await kubectlPatch(current, "strategic", patch),
  );
  const web = (mine as typeof current).spec.template.spec.containers
    .find((c: { name: string }) => c.name === "web");
  // C, set only on the server, stays before E: Kubernetes sorts it against
  // the live list as compacted by the deletion of B and refilled by E.
  assert.deepEqual(web.env.map((e: { name: string }) => e.name), ["A", "C", "E"]);
});

const configMap = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c", labels: { a: "1", b: "2" } },
  data: { x: "1", y: "2" },
};

for (
  const patch of [
    { data: { x: null, z: "3" } },
    { metadata: { labels: null, finalizers: ["f/1"] } },
  ]
) {
  Deno.test(`applyMergePatch() matches kubectl for ${JSON.stringify(patch)}`, async () => {
    assert.deepEqual(
      await canonical(applyMergePatch(configMap, patch)),
      await kubectlPatch(configMap, "merge", patch),
    );
  });
}

for (
  const patch of [
    [{ op: "add", path: "/data/z", value: "3" }, { op: "remove", path: "/data/x" }],
    [
      { op: "move", from: "/data/x", path: "/data/w" },
      { op: "copy", from: "/metadata/labels", path: "/metadata/annotations" },
    ],
    [
      { op: "add", path: "/metadata/finalizers", value: ["a/b"] },
      { op: "add", path: "/metadata/finalizers/0", value: "c/d" },
      { op: "test", path: "/metadata/finalizers/1", value: "a/b" },
    ],
  ]
) {
  Deno.test(`applyJsonPatch() matches kubectl for ${JSON.stringify(patch)}`, async () => {
    assert.deepEqual(
      await canonical(applyJsonPatch(configMap, patch)),
      await kubectlPatch(configMap, "json", patch),
    );
  });
}
