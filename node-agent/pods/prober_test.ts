import assert from "node:assert/strict";
import { type Container, ManualClock, type Pod } from "@skiff/api";
import { type ContainerInfo, FakeRuntime } from "../runtime/mod.ts";
import { type EventSink, ProbeManager } from "./prober.ts";

const pod: Pod = { metadata: { name: "web", namespace: "default", uid: "pod-1" }, spec: { containers: [] } };

async function setup(container: Container) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const answers: Record<string, number[]> = {};
  const calls: string[] = [];
  const runtime = new FakeRuntime({
    clock,
    images: ["busybox"],
    exec: (_id, command) => {
      const name = command[0]!;
      calls.push(name);
      const code = answers[name]?.shift() ?? 0;
      return { exitCode: code, stdout: code === 0 ? "" : `${name} says no`, stderr: "" };
    },
  });
  await runtime.createContainer({ id: "c1", image: "busybox", labels: {} });
  await runtime.startContainer("c1");
  const info: ContainerInfo = await runtime.inspectContainer("c1");
  const events: string[] = [];
  const recorder: EventSink = { event: (_obj, type, reason, message) => events.push(`${type} ${reason} ${message}`) };
  const changes: string[] = [];
  const manager = new ProbeManager({ runtime, recorder, clock, onChange: (uid) => changes.push(uid) });
  manager.add(pod, container, info, "127.0.0.1");
  return { clock, answers, calls, events, changes, manager };
}

const probe = (name: string, fields: Record<string, number> = {}) => ({
  exec: { command: [name] },
  periodSeconds: 10,
  failureThreshold: 3,
  ...fields,
});

Deno.test("ProbeManager: readiness starts not ready, turns ready on success and unready after failureThreshold failures", async () => {
  const t = await setup({ name: "app", readinessProbe: probe("ready", { initialDelaySeconds: 5 }) });
  try {
    assert.equal(t.manager.ready("c1"), false);
    await t.clock.advance(4_000);
    assert.deepEqual(t.calls, [], "nothing before the initial delay");
    await t.clock.advance(1_000);
    assert.equal(t.manager.ready("c1"), true);
    assert.deepEqual(t.changes, ["pod-1"]);
    t.answers.ready = [1, 1, 1];
    await t.clock.advance(20_000);
    assert.equal(t.manager.ready("c1"), true, "two failures are below the threshold");
    await t.clock.advance(10_000);
    assert.equal(t.manager.ready("c1"), false);
    assert.deepEqual(t.changes, ["pod-1", "pod-1"]);
    assert.deepEqual(t.events, [
      "Warning Unhealthy Readiness probe failed: ready says no",
      "Warning Unhealthy Readiness probe failed: ready says no",
      "Warning Unhealthy Readiness probe failed: ready says no",
    ]);
    assert.deepEqual(t.manager.readyMap("pod-1"), new Map([["c1", false]]));
  } finally {
    t.manager.stop();
  }
});

Deno.test("ProbeManager: a liveness probe failing failureThreshold times asks for a restart and stops probing", async () => {
  const t = await setup({ name: "app", livenessProbe: probe("alive") });
  try {
    t.answers.alive = [1, 1, 1];
    await t.clock.advance(0);
    await t.clock.advance(20_000);
    assert.deepEqual(t.manager.failure("c1"), { kind: "liveness", output: "alive says no" });
    const probes = t.calls.length;
    await t.clock.advance(60_000);
    assert.equal(t.calls.length, probes, "no more probes once failed");
    assert.equal(t.manager.ready("c1"), undefined, "no readiness probe");
  } finally {
    t.manager.stop();
  }
});

Deno.test("ProbeManager: the startup probe holds liveness and readiness until it succeeds", async () => {
  const t = await setup({
    name: "app",
    startupProbe: probe("started", { failureThreshold: 10 }),
    livenessProbe: probe("alive"),
    readinessProbe: probe("ready"),
  });
  try {
    t.answers.started = [1, 1];
    await t.clock.advance(0);
    await t.clock.advance(10_000);
    assert.deepEqual(t.calls, ["started", "started"]);
    assert.equal(t.manager.started("c1"), false);
    assert.equal(t.manager.failure("c1"), undefined, "two failures of ten");
    await t.clock.advance(10_000);
    assert.equal(t.manager.started("c1"), true);
    await t.clock.advance(10_000);
    const others = t.calls.filter((c) => c !== "started");
    assert.ok(others.includes("alive") && others.includes("ready"), "probed once started");
    assert.equal(t.manager.ready("c1"), true);
    assert.deepEqual(t.manager.startedMap("pod-1"), new Map([["c1", true]]));
  } finally {
    t.manager.stop();
  }
});

Deno.test("ProbeManager: a startup probe that keeps failing asks for a restart", async () => {
  const t = await setup({ name: "app", startupProbe: probe("started", { failureThreshold: 2 }) });
  try {
    t.answers.started = [1, 1];
    await t.clock.advance(0);
    await t.clock.advance(10_000);
    assert.deepEqual(t.manager.failure("c1"), { kind: "startup", output: "started says no" });
  } finally {
    t.manager.stop();
  }
});

Deno.test("ProbeManager.seed() keeps an adopted container ready and started; retain() stops the others", async () => {
  const t = await setup({ name: "app", readinessProbe: probe("ready"), startupProbe: probe("started") });
  try {
    t.manager.seed("c1", { ready: true, started: true });
    assert.equal(t.manager.ready("c1"), true);
    assert.equal(t.manager.started("c1"), true);
    t.manager.retain("pod-1", new Set());
    assert.equal(t.manager.ready("c1"), undefined);
    await t.clock.advance(30_000);
    assert.deepEqual(t.calls, []);
  } finally {
    t.manager.stop();
  }
});
