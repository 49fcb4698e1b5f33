import assert from "node:assert/strict";
import YAML from "yaml";
import type { KubeObject } from "@skiff/api";
import { at, HOUR, NOW, type TestCluster, withHomelab } from "./_test_harness.ts";

const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

function event(name: string, namespace: string, fields: Record<string, unknown>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name, namespace },
    count: 1,
    source: { component: "skiff-agent" },
    ...fields,
  };
}

async function record(cluster: TestCluster) {
  const events = cluster.admin.kind("v1", "Event");
  await events.create(event("web-2.b", "default", {
    involvedObject: { kind: "Pod", name: "web-2", namespace: "default" },
    type: "Warning",
    reason: "BackOff",
    message: "Back-off restarting failed container web",
    firstTimestamp: iso(NOW - HOUR),
    lastTimestamp: iso(NOW - 60_000),
    count: 7,
  }));
  await events.create(event("web-1.a", "default", {
    involvedObject: { kind: "Pod", name: "web-1", namespace: "default" },
    type: "Normal",
    reason: "Started",
    message: "Started container web",
    lastTimestamp: iso(NOW - 2 * HOUR),
  }));
  await events.create(event("backup.c", "kube-system", {
    involvedObject: { kind: "Pod", name: "backup-28912", namespace: "kube-system" },
    type: "Normal",
    reason: "Completed",
    message: "Backup finished",
    lastTimestamp: iso(NOW - 30 * 60_000),
  }));
}

Deno.test("events lists a namespace's events oldest first, or all, or those about one object", async () => {
  await withHomelab(async (cluster, clock) => {
    await record(cluster);
    const result = await cluster.run(["events"], at(clock));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      [
        "LAST SEEN           TYPE      REASON    OBJECT      MESSAGE",
        "120m                Normal    Started   pod/web-1   Started container web",
        "60s (x7 over 60m)   Warning   BackOff   pod/web-2   Back-off restarting failed container web",
        "",
      ].join("\n"),
    );
    const all = await cluster.run(["events", "-A", "--no-headers"], at(clock));
    assert.deepEqual(all.stdout.trimEnd().split("\n").map((l) => l.split(/ +/)[0]), [
      "default",
      "kube-system",
      "default",
    ]);
    const forOne = await cluster.run(["events", "--for", "pod/web-2"], at(clock));
    assert.equal(forOne.stdout.trimEnd().split("\n").length, 2);
    assert.match(forOne.stdout, /BackOff/);
    const warnings = await cluster.run(["events", "-A", "--types", "warning", "-o", "yaml"], at(clock));
    const list = YAML.parse(warnings.stdout) as { items: KubeObject[] };
    assert.deepEqual(list.items.map((e) => e.metadata.name), ["web-2.b"]);
    const none = await cluster.run(["events", "-n", "kube-public"], at(clock));
    assert.equal(none.stderr, "No events found in kube-public namespace.\n");
    const badType = await cluster.run(["events", "--types", "Fatal"], at(clock));
    assert.equal(badType.code, 2);
  });
});

Deno.test("events -w prints new events as they come", async () => {
  await withHomelab(async (cluster, clock) => {
    await record(cluster);
    const watching = cluster.start(["events", "-w", "--for", "pod/web-1"], at(clock));
    await watching.waitFor("Started container web\n"); // listed; new events from here on are watched
    await cluster.admin.kind("v1", "Event").create(event("web-1.z", "default", {
      involvedObject: { kind: "Pod", name: "web-1", namespace: "default" },
      type: "Normal",
      reason: "Killing",
      message: "Stopping container web",
      lastTimestamp: iso(NOW),
    }));
    await watching.waitFor("Stopping container web\n");
    watching.abort();
    const result = await watching.result;
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[2]!, /^0s +Normal +Killing +pod\/web-1 +Stopping container web$/);
  });
});
