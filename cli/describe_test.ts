import assert from "node:assert/strict";
import { join } from "node:path";
import type { KubeObject } from "@skiff/api";
import {
  assertGolden,
  at,
  HOUR,
  NOW,
  type SetClock,
  type TestCluster,
  TESTDATA,
  withHomelab,
} from "./_test_harness.ts";

/** Records events about `obj` as the agent and scheduler would. */
async function recordEvents(cluster: TestCluster, obj: KubeObject, namespace: string) {
  const events = cluster.admin.kind("v1", "Event");
  const involvedObject = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name,
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
    uid: obj.metadata.uid,
  };
  const at = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");
  await events.create({
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${obj.metadata.name}.1`, namespace },
    involvedObject,
    type: "Normal",
    reason: "Scheduled",
    message: `Successfully assigned ${obj.metadata.name}`,
    source: { component: "default-scheduler" },
    firstTimestamp: at(NOW - 2 * HOUR),
    lastTimestamp: at(NOW - 2 * HOUR),
    count: 1,
  });
  await events.create({
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${obj.metadata.name}.2`, namespace },
    involvedObject,
    type: "Warning",
    reason: "BackOff",
    message: "Back-off restarting failed container web",
    source: { component: "skiff-agent", host: "pi-2" },
    firstTimestamp: at(NOW - 90 * 60_000),
    lastTimestamp: at(NOW - 30_000),
    count: 12,
  });
}

Deno.test("describe pod shows containers, conditions and the pod's events, oldest first", async () => {
  await withHomelab(async (cluster, clock) => {
    const pod = await cluster.admin.kind("v1", "Pod").get("web-2", { namespace: "default" });
    await recordEvents(cluster, { apiVersion: "v1", kind: "Pod", ...pod }, "default");
    const result = await cluster.run(["describe", "pod", "web-2"], at(clock));
    assert.equal(result.code, 0, result.stderr);
    await assertGolden("describe_pod.txt", result.stdout);
  });
});

Deno.test("describe node shows hardware at a glance, the node's pods and its events", async () => {
  await withHomelab(async (cluster, clock) => {
    const node = await cluster.admin.kind("v1", "Node").get("pi-1");
    await recordEvents(cluster, { apiVersion: "v1", kind: "Node", ...node }, "default");
    const result = await cluster.run(["describe", "no/pi-1"], at(clock));
    assert.equal(result.code, 0, result.stderr);
    await assertGolden("describe_node.txt", result.stdout);
  });
});

Deno.test("describe deployment, secret and config map; missing objects are reported", async () => {
  await withHomelab(async (cluster: TestCluster, clock: SetClock) => {
    clock.time = NOW - 3 * HOUR;
    await cluster.run(["apply", "-f", join(TESTDATA, "webapp")], at(clock));
    clock.time = NOW;
    const deploy = await cluster.run(["describe", "deployments.apps", "web", "-n", "webapp"], at(clock));
    assert.equal(deploy.code, 0, deploy.stderr);
    await assertGolden("describe_deployment.txt", deploy.stdout);
    const other = await cluster.run(["describe", "secret/web-db", "cm/web-config", "-n", "webapp"], at(clock));
    assert.equal(other.code, 0, other.stderr);
    await assertGolden("describe_secret_configmap.txt", other.stdout);
    const missing = await cluster.run(["describe", "pod", "nope"], at(clock));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /pods "nope" not found/);
  });
});
