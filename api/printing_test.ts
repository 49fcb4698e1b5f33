import assert from "node:assert/strict";
import { age, humanDuration, nodeRoles, nodeStatus, podReady, podRestarts, podStatus } from "./printing.ts";
import type { Node } from "./types_core.ts";
import type { Pod } from "./types_pod.ts";

Deno.test("humanDuration() prints durations as kubectl's AGE column does", () => {
  assert.equal(humanDuration(45_000), "45s");
  assert.equal(humanDuration(310_000), "5m10s");
  assert.equal(humanDuration(3 * 3_600_000), "3h");
  assert.equal(humanDuration(52 * 3_600_000), "2d4h");
  assert.equal(humanDuration(400 * 86_400_000), "400d");
  assert.equal(humanDuration(-5_000), "<invalid>");
  assert.equal(age(undefined, 0), "<unknown>");
  assert.equal(age("2026-01-01T00:00:00Z", Date.UTC(2026, 0, 1, 0, 2)), "2m");
});

Deno.test("podStatus() names what holds a pod, as kubectl's STATUS column", () => {
  const pod = (status: Pod["status"], extra: Partial<Pod> = {}): Pod => ({
    metadata: {},
    spec: { containers: [{ name: "a", image: "x" }] },
    status,
    ...extra,
  });
  assert.equal(podStatus(pod({ phase: "Pending" })), "Pending");
  assert.equal(
    podStatus(pod({
      phase: "Running",
      containerStatuses: [{
        name: "a",
        ready: false,
        restartCount: 3,
        image: "x",
        imageID: "",
        state: { waiting: { reason: "CrashLoopBackOff" } },
      }],
    })),
    "CrashLoopBackOff",
  );
  assert.equal(
    podStatus(pod({
      phase: "Pending",
      initContainerStatuses: [{
        name: "init",
        ready: false,
        restartCount: 0,
        image: "x",
        imageID: "",
        state: { running: {} },
      }],
    }, { spec: { containers: [], initContainers: [{ name: "init", image: "x" }] } })),
    "Init:0/1",
  );
  assert.equal(
    podStatus(pod({ phase: "Running" }, { metadata: { deletionTimestamp: "2026-01-01T00:00:00Z" } })),
    "Terminating",
  );
});

Deno.test("podReady() and podRestarts() count containers and restarts", () => {
  const pod: Pod = {
    metadata: {},
    spec: { containers: [{ name: "a", image: "x" }, { name: "b", image: "x" }] },
    status: {
      containerStatuses: [
        { name: "a", ready: true, restartCount: 0, image: "x", imageID: "" },
        {
          name: "b",
          ready: false,
          restartCount: 2,
          image: "x",
          imageID: "",
          lastState: { terminated: { exitCode: 1, finishedAt: "2026-01-01T00:00:00Z" } },
        },
      ],
    },
  };
  assert.equal(podReady(pod), "1/2");
  assert.equal(podRestarts(pod, Date.UTC(2026, 0, 1, 0, 5)), "2 (5m ago)");
});

Deno.test("nodeStatus() and nodeRoles() read conditions, cordons, power state and role labels", () => {
  const node: Node = {
    metadata: { labels: { "node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "" } },
    spec: { unschedulable: true },
    status: { conditions: [{ type: "Ready", status: "True" }] },
  };
  assert.equal(nodeStatus(node), "Ready,SchedulingDisabled");
  assert.equal(nodeRoles(node), "control-plane,worker");
  assert.equal(nodeStatus({ metadata: { annotations: { "power.skiff.dev/state": "Sleeping" } } }), "Sleeping");
  assert.equal(nodeRoles({ metadata: {} }), "<none>");
});
