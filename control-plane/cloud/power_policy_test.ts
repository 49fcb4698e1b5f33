import assert from "node:assert/strict";
import type { Node, Pod } from "@skiff/api";
import { decidePower, type PowerSettings, type PowerSnapshot } from "./power_policy.ts";

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);
const settings: PowerSettings = { idleMs: 30 * MIN, wakeTimeoutMs: 5 * MIN };

function node(
  name: string,
  options: { state?: string; ready?: boolean; cpu?: string; labels?: Record<string, string> } = {},
): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: { "power.skiff.dev/wake-on-lan": "true", "kubernetes.io/hostname": name, ...options.labels },
      annotations: {
        "power.skiff.dev/mac": "dc:a6:32:00:00:01",
        ...(options.state ? { "power.skiff.dev/state": options.state } : {}),
        ...(options.state === "Sleeping" ? { "power.skiff.dev/sleep-request": new Date(T0).toISOString() } : {}),
      },
    },
    spec: options.state ? { unschedulable: true } : {},
    status: {
      allocatable: { cpu: options.cpu ?? "4", memory: "8Gi", pods: "110" },
      conditions: [{ type: "Ready", status: options.ready === false ? "False" : "True" }],
    },
  };
}

function pod(
  name: string,
  options: { node?: string; daemonSet?: boolean; cpu?: string; pending?: boolean; selector?: Record<string, string> } =
    {},
): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: "default",
      ...(options.daemonSet
        ? { ownerReferences: [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "ds", uid: "u", controller: true }] }
        : {}),
    },
    spec: {
      ...(options.node ? { nodeName: options.node } : {}),
      ...(options.selector ? { nodeSelector: options.selector } : {}),
      containers: [{ name: "c", image: "busybox", resources: { requests: { cpu: options.cpu ?? "100m" } } }],
    },
    status: options.pending
      ? { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }] }
      : { phase: "Running" },
  };
}

function snapshot(now: number, nodes: Node[], pods: Pod[], extra: Partial<PowerSnapshot> = {}): PowerSnapshot {
  return {
    now,
    nodes,
    pods,
    heartbeats: new Map(nodes.map((n) => [n.metadata.name!, now])),
    idleSince: new Map(),
    wokenAt: new Map(),
    canSleep: (n) => n.metadata.labels?.["power.skiff.dev/wake-on-lan"] === "true",
    ...extra,
  };
}

const summary = (decisions: ReturnType<typeof decidePower>) =>
  decisions.map((d) => `${d.action} ${d.node.metadata.name} ${d.reason}`);

Deno.test("decidePower() puts a node to sleep only after it ran nothing but DaemonSet pods for the idle time", () => {
  const nodes = [node("a"), node("b")];
  const pods = [pod("busy", { node: "a" }), pod("agent-ds", { node: "b", daemonSet: true })];
  const idleSince = new Map<string, number>();
  assert.deepEqual(summary(decidePower(snapshot(T0, nodes, pods, { idleSince }), settings)), []);
  assert.deepEqual(summary(decidePower(snapshot(T0 + 29 * MIN, nodes, pods, { idleSince }), settings)), []);
  const decisions = decidePower(snapshot(T0 + 30 * MIN, nodes, pods, { idleSince }), settings);
  assert.deepEqual(summary(decisions), ["sleep b NodeIdle"]);
  assert.match(decisions[0]!.message, /no pods but DaemonSet pods for 30 min/);
  assert.ok(!idleSince.has("a"), "a busy node is not idle");
});

Deno.test("decidePower() keeps the last Ready node, control-plane and cordoned nodes awake, and sleeps none while pods wait", () => {
  const idle = (now: number, nodes: Node[], pods: Pod[] = []) => {
    const idleSince = new Map(nodes.map((n) => [n.metadata.name!, T0]));
    return summary(decidePower(snapshot(now, nodes, pods, { idleSince }), settings));
  };
  const later = T0 + 31 * MIN;
  assert.deepEqual(idle(later, [node("only")]), []);
  assert.deepEqual(idle(later, [node("cp", { labels: { "node-role.kubernetes.io/control-plane": "" } }), node("w")]), [
    "sleep w NodeIdle",
  ]);
  const cordoned = { ...node("c"), spec: { unschedulable: true } };
  assert.deepEqual(idle(later, [cordoned, node("w2")]), ["sleep w2 NodeIdle"]);
  assert.deepEqual(idle(later, [node("a"), node("b")], [pod("waits", { pending: true, cpu: "64" })]), []);
  const optedOut = node("x", { labels: { "power.skiff.dev/wake-on-lan": "false" } });
  assert.deepEqual(idle(later, [optedOut, node("y")]), ["sleep y NodeIdle"]);
});

Deno.test("decidePower() wakes a sleeping node for a pending pod that fits it and nowhere else", () => {
  const nodes = [
    node("awake", { cpu: "1" }),
    node("big", { state: "Sleeping", cpu: "8" }),
    node("small", { state: "Sleeping", cpu: "1" }),
  ];
  const waiting = pod("job", { pending: true, cpu: "4" });
  const decisions = decidePower(snapshot(T0 + MIN, nodes, [waiting]), settings);
  assert.deepEqual(summary(decisions), ["wake big WakingForPods"]);
  assert.match(decisions[0]!.message, /1 pending pod \(default\/job\) fit nowhere else/);

  // A pod no sleeping node can take (node selector) wakes nothing; nor does a pod not yet found unschedulable.
  const picky = pod("picky", { pending: true, selector: { disk: "ssd" } });
  assert.deepEqual(summary(decidePower(snapshot(T0 + MIN, nodes, [picky]), settings)), []);
  const fresh = { ...waiting, status: { phase: "Pending" as const } };
  assert.deepEqual(summary(decidePower(snapshot(T0 + MIN, nodes, [fresh]), settings)), []);

  // While a node already waking would take the pod, no other is woken.
  const withWaking = [
    node("awake", { cpu: "1" }),
    node("big", { state: "Waking", cpu: "8" }),
    node("other", { state: "Sleeping", cpu: "8" }),
  ];
  const wokenAt = new Map([["big", T0 + MIN]]);
  const heartbeats = new Map([["awake", T0 + 2 * MIN], ["big", T0]]);
  assert.deepEqual(
    summary(decidePower(snapshot(T0 + 2 * MIN, withWaking, [waiting], { wokenAt, heartbeats }), settings)),
    [],
  );
});

Deno.test("decidePower() sees a woken node awake once it heartbeats, and sends the packet again after the wake timeout", () => {
  const nodes = [node("a"), node("b", { state: "Waking" })];
  const wokenAt = new Map([["b", T0]]);
  const stale = new Map([["a", T0 + MIN], ["b", T0 - MIN]]);
  assert.deepEqual(summary(decidePower(snapshot(T0 + MIN, nodes, [], { wokenAt, heartbeats: stale }), settings)), []);
  assert.deepEqual(
    summary(decidePower(snapshot(T0 + 5 * MIN, nodes, [], { wokenAt, heartbeats: stale }), settings)),
    ["wake b WakeTimedOut"],
  );
  const fresh = new Map([["a", T0 + MIN], ["b", T0 + 40_000]]);
  assert.deepEqual(summary(decidePower(snapshot(T0 + MIN, nodes, [], { wokenAt, heartbeats: fresh }), settings)), [
    "awake b NodeAwake",
  ]);

  // A sleeping node that heartbeats well after its sleep request was woken by hand.
  const byHand = [node("a"), node("c", { state: "Sleeping" })];
  const beats = new Map([["a", T0 + 10 * MIN], ["c", T0 + 10 * MIN]]);
  assert.deepEqual(summary(decidePower(snapshot(T0 + 10 * MIN, byHand, [], { heartbeats: beats }), settings)), [
    "awake c NodeReturned",
  ]);
  const justAsked = new Map([["a", T0 + 10_000], ["c", T0 + 10_000]]);
  assert.deepEqual(summary(decidePower(snapshot(T0 + 10_000, byHand, [], { heartbeats: justAsked }), settings)), []);
});
