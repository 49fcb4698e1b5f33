import assert from "node:assert/strict";
import { binding, namespace, schedulerEvent, stringDataSecret, workerNode } from "./_test_manifests.ts";
import { resolveResource } from "./registry.ts";
import type { ConfigMap, Eviction, Node, Secret } from "./types_core.ts";

Deno.test("Secret types take stringData and end with base64 data only", () => {
  const secret: Secret = stringDataSecret();
  const type = resolveResource("secrets");
  type.defaults(secret);
  assert.deepEqual(type.validate(secret), []);
  assert.equal(secret.stringData, undefined);
  assert.equal(atob(secret.data?.username ?? ""), "administrator");
});

Deno.test("Node types read a registered node with capacity, conditions and addresses", () => {
  const node: Node = workerNode();
  const type = resolveResource("no");
  type.defaults(node);
  assert.deepEqual(type.validate(node), []);
  assert.equal(node.status?.allocatable?.cpu, "4");
  assert.equal(node.status?.addresses?.find((a) => a.type === "InternalIP")?.address, "192.168.1.23");
  assert.equal(node.status?.nodeInfo?.architecture, "arm64");
  assert.equal(node.spec?.taints?.[0]?.effect, "NoSchedule");
});

Deno.test("Namespace, Event, Binding, Eviction and ConfigMap types validate as served", () => {
  for (const obj of [namespace(), schedulerEvent(), binding()]) {
    const type = resolveResource(String(obj.kind));
    type.defaults(obj);
    assert.deepEqual(type.validate(obj), [], String(obj.kind));
  }
  const eviction: Eviction = {
    apiVersion: "policy/v1",
    kind: "Eviction",
    metadata: { name: "web-0", namespace: "default" },
    deleteOptions: { gracePeriodSeconds: 30 },
  };
  const evictions = resolveResource("pods").subresources.find((s) => s.name === "eviction");
  assert.deepEqual(evictions?.validate?.(eviction), []);
  const cm: ConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", namespace: "d" },
    data: { k: "v" },
    immutable: true,
  };
  assert.deepEqual(resolveResource("cm").validate(cm), []);
});
